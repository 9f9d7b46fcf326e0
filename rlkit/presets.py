"""Presets: tuned settings for an agent on an env, with the budget they were tuned for and where
they come from.

``PPO2("CartPole-v1", preset="zoo")`` (or ``rlkit train ppo2 --env CartPole-v1 --preset zoo``)
starts from the preset's settings; keywords given beside it win. ``preset="auto"`` (the CLI's
default) takes the env's preset when there is one (Atari ids take the "atari" entry) and the
agent's defaults otherwise; ``preset=None`` (the Python default) is the agent's defaults. The table
of rlkit's own agents is ``agents.presets``; this module imports no torch.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any

from rlkit.env_ids import parse_atari_id
from rlkit.errors import ConfigError

ATARI = "atari"  # the env of a preset that every Atari id takes


@dataclass(frozen=True)
class Preset:
    agent: str  # the agent's class name: "PPO2"
    name: str  # "zoo": rl-baselines3-zoo's settings; "rlkit": measured here
    env: str  # a Gymnasium id, or ATARI for every Atari id
    total_steps: int  # the budget the settings were tuned for
    config: dict[str, Any]  # config fields; the rest keep the agent's defaults
    source: str  # where the settings come from (a file and commit, a paper, BENCHMARKS.md)
    notes: str = ""  # where rlkit's version differs from the source, and why
    tags: tuple[str, ...] = field(default=())  # "classic-control", "box2d", "mujoco", "atari"

    def describe(self) -> dict[str, Any]:
        """What a run records of the preset it used."""
        return {"name": self.name, "env": self.env, "total_steps": self.total_steps, "source": self.source}


def all_presets() -> list[Preset]:
    """Every preset rlkit ships (agents.presets), in the table's order."""
    return list(importlib.import_module("agents.presets").PRESETS)


def presets_for(agent: str, env_id: str | None = None) -> list[Preset]:
    """The presets of an agent (class name), on ``env_id`` when given."""
    found = [p for p in all_presets() if p.agent == agent]
    if env_id is None:
        return found
    key = ATARI if parse_atari_id(env_id) is not None else env_id
    return [p for p in found if p.env == key]


def choose_preset(agent: str, env: Any, preset: str | None) -> Preset | None:
    """The preset ``preset`` names for ``agent`` on ``env``: None for None, "none" or ("auto" with no
    preset for the env); a name with no entry for this agent and env raises, listing what exists."""
    if preset is None or preset == "none":
        return None
    if not isinstance(env, str):
        if preset == "auto":
            return None
        raise ConfigError(f"preset={preset!r} needs the env as a Gymnasium id (presets are per env id); "
                          "pass the id, or give the settings as keywords.")
    matching = presets_for(agent, env)
    if preset == "auto":
        return matching[0] if matching else None
    for candidate in matching:
        if candidate.name == preset:
            return candidate
    names = sorted({p.name for p in matching})
    envs = sorted({p.env for p in presets_for(agent) if p.name == preset})
    if names:
        hint = f"{agent} on {env} has the presets {', '.join(names)}"
    elif envs:
        hint = f"{agent}'s {preset!r} preset covers {', '.join(envs)}"
    else:
        hint = f"{agent} has no preset named {preset!r}; `rlkit presets` lists them all"
    raise ConfigError(f"no preset {preset!r} for {agent} on {env}: {hint}. Use preset='auto' (the env's preset if any) "
                      "or 'none' (the agent's defaults).")


def apply_preset(agent: str, env: Any, preset: str | None, config: dict[str, Any]) -> tuple[Preset | None, dict[str, Any]]:
    """The chosen preset, and ``config`` laid over its settings (what the caller gives wins)."""
    chosen = choose_preset(agent, env, preset)
    return chosen, ({**chosen.config, **config} if chosen else dict(config))
