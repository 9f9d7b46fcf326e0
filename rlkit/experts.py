"""Loading an expert: a saved rlkit agent (a run folder or checkpoint) or a function from a batch of
observations to a batch of actions (``package.module:function``).

``rlkit collect`` records an expert's episodes with these, and DAgger's teacher is loaded through
them. A saved agent of rlkit's own is found by the class name its checkpoint records (the agents'
registry, read when a checkpoint is loaded); one from outside rlkit needs its class.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any, Callable

from rlkit.errors import ConfigError


def load_saved_agent(path: str | Path, agent_class: type | None = None, env: Any = None, device: str = "auto",
                     *, fallback_env: Any = None, **overrides: Any) -> Any:
    """A saved agent from a run folder or checkpoint, to act (its replay left out). ``agent_class``:
    the class of an agent from outside rlkit (default: the one the checkpoint names); ``env``: the env
    to build it on (default: the one it was trained on, else ``fallback_env``); ``overrides``: config
    fields the agent has (e.g. ``num_envs=1``; those it lacks are left out)."""
    from agents import REGISTRY
    from rlkit.agent import EnvAgent
    from rlkit.checkpoint import load_checkpoint

    payload = load_checkpoint(path)
    registry = {cls.__name__: cls for cls in REGISTRY.values()}
    if agent_class is not None:
        cls = agent_class
    elif payload["agent"] in registry:
        cls = registry[payload["agent"]]
    else:
        raise ConfigError(f"{payload['agent']!r} is not one of rlkit's agents; name its class with "
                          "--agent package.module:ClassName.")
    env = env if env is not None else (payload.get("env") or fallback_env)
    if issubclass(cls, EnvAgent) and env is None:
        raise ConfigError(f"{path} holds an agent trained on an env instance or factory (no env id is saved); "
                          "pass --env ID.")
    fields = cls.config_class.__dataclass_fields__
    # acting needs no replay (which may be large, or gone with its run folder)
    settings = {"save_replay": False} if "save_replay" in fields else {}
    settings.update({key: value for key, value in overrides.items() if key in fields})
    return cls.load(path, env=env, device=device, **settings)


def expert_function(name: str) -> Callable:
    """``package.module:function``, a function from a batch of observations to a batch of actions."""
    module_name, sep, attribute = name.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"--expert takes package.module:function, got {name!r}.")
    try:
        expert = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"cannot import expert {name!r} ({exc}); pass package.module:function of a function "
                          "from a batch of observations to a batch of actions (its module on PYTHONPATH).") from exc
    if not callable(expert):
        raise ConfigError(f"{name!r} is a {type(expert).__name__}, not a function from observations to actions.")
    return expert


def load_expert(spec: str, device: str = "auto", fallback_env: Any = None, **overrides: Any) -> Any:
    """The expert ``spec`` names: a run folder or checkpoint ``.pt`` of any rlkit agent (loaded to act,
    on the env it was trained on, else ``fallback_env``; ``overrides`` as for ``load_saved_agent``),
    or ``package.module:function``. A path that does not exist raises ``ConfigError``."""
    module_name, sep, _ = spec.partition(":")
    if Path(spec).exists():
        return load_saved_agent(spec, device=device, fallback_env=fallback_env, **overrides)
    if sep and module_name and "/" not in module_name and "\\" not in module_name and not module_name.endswith(".pt"):
        return expert_function(spec)
    raise ConfigError(f"no expert at {spec}: pass the run folder or checkpoint .pt of a trained rlkit agent "
                      "(e.g. runs/ppo2-CartPole-v1-s0), or package.module:function of a function from a batch of "
                      "observations to a batch of actions.")
