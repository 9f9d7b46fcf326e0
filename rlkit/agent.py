"""What every agent shares that is not a loop: config, seeding, device, counters, act(), save() and
load(). ``EnvAgent`` adds the envs for the families that step them.

An agent names its loop (``loop``, a function of the agent and a ``rlkit.progress.Progress``):
``rlkit.on_policy.on_policy_loop`` and ``rlkit.off_policy.off_policy_loop`` serve the env-stepping
families; a family with a loop of its own defines it in its own file. ``rlkit.trainer.train`` runs
whichever loop the agent names.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.checkpoint import load_checkpoint, save_checkpoint
from rlkit.config import AgentConfig, EnvConfig, config_from_kwargs, config_to_dict
from rlkit.errors import CheckpointError, ConfigError, NonFiniteError, UnsupportedSpaceError
from rlkit.presets import Preset, apply_preset
from rlkit.progress import DEFAULT_EVAL_MAX_EPISODE_STEPS
from rlkit.utils import resolve_device, set_seed
from rlkit.vec_env import make_vec_env

if TYPE_CHECKING:
    from rlkit.progress import Progress

# Fields older checkpoints carry on config classes that no longer have them: dropped on load.
# numpy_inference was on every agent's config before it moved to the on-policy ones.
RETIRED_CONFIG_FIELDS = ("numpy_inference",)


def without_retired_fields(config_class: type, saved: dict[str, Any]) -> dict[str, Any]:
    """A saved config without the fields this class no longer has because rlkit retired them, so
    older checkpoints load; any other unknown field still raises."""
    names = set(config_class.__dataclass_fields__)
    return {k: v for k, v in saved.items() if k in names or k not in RETIRED_CONFIG_FIELDS}


class Agent:
    """An agent without an env: config, randomness, device, counters and checkpoints.

    Subclasses provide ``loop`` (how training proceeds), ``predict`` (actions for a batch),
    ``state_dict`` / ``load_state_dict`` (everything a resume needs), and, for families that do not
    step envs, ``evaluate(episodes, seed)``.
    """

    config_class: ClassVar[type[AgentConfig]] = AgentConfig
    loop: ClassVar[Callable[["Agent", "Progress"], None]]
    env_spec: Any = None  # an env id or factory that evaluation and load() can rebuild; None without one
    preset: Preset | None = None  # the preset the settings started from (rlkit.presets)

    def __init__(self, **config: Any):
        self.config = config_from_kwargs(self.config_class, config)
        set_seed(self.config.seed)
        # Sampling done in NumPy (rollouts, exploration) draws from here; saved in checkpoints.
        self.np_rng = np.random.default_rng(self.config.seed)
        self.device = resolve_device(self.config.device)
        self.num_steps = 0  # steps of training experience (env steps over all envs, tokens, samples...)
        self.num_updates = 0
        self.run_dir: Path | None = None  # the run folder this agent last trained into
        self.run_info: dict[str, Any] = {}  # the train() settings of that run, kept in checkpoints
        self.restored_from: Path | None = None  # the folder of the checkpoint last restored (its files are there)

    # --- what a family provides -------------------------------------------------------------------
    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions for a batch of observations (unclipped); ``act`` is the public wrapper."""
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def default_total_steps(self) -> int:
        """The budget ``learn()`` and ``rlkit train`` take when none is given: the preset's."""
        if self.preset is None:
            raise ConfigError("total_steps is required: this agent has no preset whose budget it could take.")
        return self.preset.total_steps

    def ended_early(self) -> bool:
        """True when the agent's own loop ended its current run before the step target (BC's early
        stopping, read from a restored checkpoint): a resume then leaves the run folder as it is."""
        return False

    def use_run_folder(self, path: Path) -> None:
        """Called by ``train`` with the run folder before the loop starts (after a resume's restore):
        an agent keeps large state there (a replay buffer's storage) instead of in every checkpoint."""

    def leave_run_folder(self) -> None:
        """Called by ``train`` before it releases the run folder: stop writing anything there."""

    def check_fits(self, payload: dict[str, Any]) -> None:
        """Raise CheckpointError when ``payload`` cannot be this agent's (before its weights load)."""

    def non_finite_parameters(self) -> list[str]:
        """Names of the networks (torch modules, or float arrays such as a linear policy's weights)
        holding a NaN or an infinity: a checkpoint is never written then. A family that keeps its
        parameters elsewhere overrides this."""
        bad = []
        for name, value in vars(self).items():
            if isinstance(value, nn.Module):
                finite = all(bool(torch.isfinite(p).all()) for p in value.parameters())
            elif isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                finite = bool(np.isfinite(value).all())
            else:
                continue
            if not finite:
                bad.append(name)
        return bad

    # --- public API -----------------------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for one observation or a batch; NumPy in, NumPy out."""
        with torch.inference_mode():
            return self.predict(np.asarray(obs), deterministic)

    def learn(
        self,
        total_steps: int | None = None,
        log_dir: str | Path | None = None,
        *,
        resume: bool = False,
        overwrite: bool = False,
        checkpoint_freq: int | None = None,
        eval_freq: int = 0,
        eval_episodes: int = 20,
        eval_max_episode_steps: int = DEFAULT_EVAL_MAX_EPISODE_STEPS,
        progress: bool = True,
    ) -> "Agent":
        """Train for ``total_steps`` more steps (with ``resume=True``: continue the run in
        ``log_dir`` until it has ``total_steps`` in all); None takes the preset's budget. Returns the
        agent. See ``rlkit.trainer.train``."""
        from rlkit.trainer import train

        if total_steps is None:
            total_steps = self.default_total_steps()

        return train(
            self, total_steps, log_dir=log_dir, resume=resume, overwrite=overwrite, checkpoint_freq=checkpoint_freq,
            eval_freq=eval_freq, eval_episodes=eval_episodes, eval_max_episode_steps=eval_max_episode_steps,
            progress=progress,
        )

    def checkpoint_payload(self) -> dict[str, Any]:
        return {
            "agent": type(self).__name__,
            "env": self.env_spec if isinstance(self.env_spec, str) else None,
            "config": json.dumps(config_to_dict(self.config)),
            "counters": {"num_steps": self.num_steps, "num_updates": self.num_updates},
            "run": json.dumps(self.run_info),
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(self.np_rng.bit_generator.state),
            "state": self.state_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Atomic write of weights, optimiser, normalisers and counters; refused (NonFiniteError)
        when a network holds a NaN or an infinity, so a bad state never replaces a good file."""
        bad = self.non_finite_parameters()
        if bad:
            raise NonFiniteError(f"{', '.join(bad)} of {type(self).__name__} hold NaN or inf at step {self.num_steps}; "
                                 f"not saved to {path}. Lower learning_rate or max_grad_norm, or enable normalize_obs.")
        return save_checkpoint(path, self.checkpoint_payload())

    def restore(self, payload: dict[str, Any]) -> None:
        """Load a checkpoint payload (from ``load_checkpoint``) into this agent."""
        if payload["agent"] != type(self).__name__:
            raise CheckpointError(f"the checkpoint holds a {payload['agent']}, not a {type(self).__name__}; load it with that class.")
        self.check_fits(payload)
        self.restored_from = Path(payload["source"]).parent if "source" in payload else None
        try:
            self.load_state_dict(payload["state"])
        except (KeyError, RuntimeError, ValueError) as exc:
            saved = json.loads(payload["config"])
            differs = {k: (saved[k], v) for k, v in config_to_dict(self.config).items() if k in saved and saved[k] != v}
            raise CheckpointError(
                f"the checkpoint does not fit this {type(self).__name__} ({type(exc).__name__}: {str(exc)[:200]}). "
                f"Settings that differ from the checkpoint's (saved, now): {differs or 'none'}; resume with the "
                "checkpoint's network, replay and switch settings, or start a new run."
            ) from exc
        self.num_steps = int(payload["counters"]["num_steps"])
        self.num_updates = int(payload["counters"]["num_updates"])
        self.run_info = json.loads(payload["run"]) if "run" in payload else {}
        torch.set_rng_state(payload["torch_rng"])
        if "numpy_rng" in payload:
            self.np_rng.bit_generator.state = json.loads(payload["numpy_rng"])

    @classmethod
    def load(cls, path: str | Path, env: Any = None, **overrides: Any) -> "Agent":
        """Rebuild an agent from ``save()``'s file (or a run folder). ``env`` is needed when the agent
        was trained on an Env instance or a factory; ``overrides`` change config fields (e.g. device)."""
        return cls.from_payload(load_checkpoint(path), path, env, **overrides)

    @classmethod
    def from_payload(cls, payload: dict[str, Any], path: str | Path, env: Any = None, **overrides: Any) -> "Agent":
        """``load``'s work on a checkpoint already read (``path`` names it in messages)."""
        if payload["agent"] != cls.__name__:
            raise CheckpointError(f"{path} holds a {payload['agent']}, not a {cls.__name__}; use {payload['agent']}.load().")
        config = {**without_retired_fields(cls.config_class, json.loads(payload["config"])), **overrides}
        if issubclass(cls, EnvAgent):
            env = env if env is not None else payload["env"]
            if env is None:
                raise ConfigError(f"{path} was trained on an env instance or factory; pass env= to load().")
            agent = cls(env, **config)
        else:
            agent = cls(**config)
        agent.restore(payload)
        return agent

    def close(self) -> None:
        """Release what the agent holds open (envs, files)."""


class EnvAgent(Agent):
    """An agent that steps Gymnasium envs: ``num_envs`` copies of ``env`` on ``env_backend``.

    ``env`` is a Gymnasium id, a ``gymnasium.Env``, a ``VectorEnv`` or a zero-argument factory.
    """

    config_class: ClassVar[type[EnvConfig]] = EnvConfig

    def __init__(self, env: Any, preset: str | None = None, **config: Any):
        # A preset's settings first, the keywords given laid over them (rlkit.presets).
        self.preset, config = apply_preset(type(self).__name__, env, preset, config)
        super().__init__(**config)
        cfg = self.config
        # Kept for evaluation and checkpoints: an id or a factory can be rebuilt, an instance cannot.
        self.env_spec = None if isinstance(env, (gym.Env, gym.vector.VectorEnv)) else env
        self.envs = make_vec_env(
            env, cfg.num_envs, seed=cfg.seed, backend=cfg.env_backend, vectorization=cfg.vectorization,
            atari_protocol=cfg.atari_protocol or None,
        )
        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space

    def env_description(self) -> str:
        """'the env CartPole-v1' (or 'the env' for one built on an instance or factory), for messages."""
        return f"the env {self.env_spec}" if isinstance(self.env_spec, str) else "the env"

    def checkpoint_payload(self) -> dict[str, Any]:
        return {**super().checkpoint_payload(), "spaces": self._space_description()}

    def check_fits(self, payload: dict[str, Any]) -> None:
        # Before the weights: another env's spaces give networks of other sizes, and torch would
        # only report a size mismatch. Checkpoints written before the spaces were stored skip this.
        saved = payload.get("spaces")
        if saved is None:
            return
        current = self._space_description()
        trained_on = repr(payload["env"]) if payload.get("env") else "the env it was trained on"

        def text(space: dict[str, Any]) -> str:  # "type Box, shape [4], dtype float32"
            return ", ".join(f"{key} {value}" for key, value in space.items() if value is not None)

        for kind in ("observation", "action"):
            if saved[kind] != current[kind]:
                raise CheckpointError(
                    f"the checkpoint's {kind} space ({text(saved[kind])}) differs from this env's "
                    f"({text(current[kind])}), so its networks do not fit this env. Load it with "
                    f"{trained_on}, or train a new agent on this env."
                )

    def _space_description(self) -> dict[str, dict[str, Any]]:
        """The observation and action spaces as far as the networks depend on them (type, shape,
        dtype, number of choices), in primitives: checkpoints hold nothing else."""

        def describe(space: gym.Space) -> dict[str, Any]:
            n = space.n if isinstance(space, gym.spaces.Discrete) else getattr(space, "nvec", None)
            return {
                "type": type(space).__name__,
                "shape": None if space.shape is None else list(space.shape),
                "dtype": None if space.dtype is None else str(space.dtype),
                "n": None if n is None else np.asarray(n).tolist(),
            }

        return {"observation": describe(self.observation_space), "action": describe(self.action_space)}

    def start_rollouts(self) -> None:
        """Called when a loop (re)starts the envs, before the first step of a run."""

    def end_episodes(self, done: np.ndarray) -> None:
        """Off-policy loop: called after each vector step with the envs whose episode just ended."""

    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for one observation or a batch; NumPy in, NumPy out (Box actions within bounds)."""
        obs = np.asarray(obs)
        shape = self.observation_space.shape
        single = obs.shape == shape
        if not single and obs.shape[1:] != shape:
            raise UnsupportedSpaceError(
                f"act() takes one observation of shape {shape} or a batch of shape (N, {', '.join(map(str, shape))}), "
                f"got {obs.shape}; {type(self).__name__} was built for {self.observation_space}."
            )
        with torch.inference_mode():
            actions = self.predict(obs[None] if single else obs, deterministic)
        if isinstance(self.action_space, gym.spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        return actions[0] if single else actions

    def close(self) -> None:
        self.envs.close()
