"""What every agent shares that is not the loop: env set-up, seeding, act(), save() and load().

The loop lives in ``rlkit.trainer``; an agent's own file holds its config, networks, ``policy_step``
and ``update``.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch

from rlkit.checkpoint import load_checkpoint, save_checkpoint
from rlkit.config import AgentConfig, config_from_kwargs, config_to_dict
from rlkit.errors import CheckpointError, ConfigError
from rlkit.utils import resolve_device, set_seed

# Fields older checkpoints carry on config classes that no longer have them: dropped on load.
# numpy_inference was on every agent's config before it moved to the on-policy ones.
RETIRED_CONFIG_FIELDS = ("numpy_inference",)


class Agent:
    config_class: ClassVar[type[AgentConfig]] = AgentConfig
    loop: ClassVar[str] = "on_policy"

    def __init__(self, env: Any, **config: Any):
        from envs import make_vec_env

        self.config = config_from_kwargs(self.config_class, config)
        cfg = self.config
        set_seed(cfg.seed)
        # Rollout sampling done in NumPy (see rlkit.fast.numpy_mirror) draws from here.
        self.np_rng = np.random.default_rng(cfg.seed)
        self.device = resolve_device(cfg.device)
        # Kept for evaluation and checkpoints: an id or a factory can be rebuilt, an instance cannot.
        self.env_spec = None if isinstance(env, (gym.Env, gym.vector.VectorEnv)) else env
        self.envs = make_vec_env(
            env, cfg.num_envs, seed=cfg.seed, backend=cfg.env_backend, vectorization=cfg.vectorization,
            atari_protocol=cfg.atari_protocol or None,
        )
        self.observation_space = self.envs.single_observation_space
        self.action_space = self.envs.single_action_space
        self.num_steps = 0  # env steps taken in training, over all envs
        self.num_updates = 0

    # --- subclass hooks -------------------------------------------------------------------------
    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """Actions for a batch of observations (unclipped); ``act`` is the public wrapper."""
        raise NotImplementedError

    def start_rollouts(self) -> None:
        """Called when the trainer (re)starts the envs, before the first step of a run."""

    def end_episodes(self, done: np.ndarray) -> None:
        """Off-policy loop: called after each vector step with the envs whose episode just ended."""

    def state_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    def load_state_dict(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    # --- public API -----------------------------------------------------------------------------
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions for one observation or a batch; NumPy in, NumPy out (Box actions within bounds)."""
        obs = np.asarray(obs)
        single = obs.shape == self.observation_space.shape
        with torch.inference_mode():
            actions = self.predict(obs[None] if single else obs, deterministic)
        if isinstance(self.action_space, gym.spaces.Box):
            actions = np.clip(actions, self.action_space.low, self.action_space.high)
        return actions[0] if single else actions

    def learn(
        self,
        total_steps: int,
        log_dir: str | Path | None = None,
        *,
        resume: bool = False,
        checkpoint_freq: int | None = None,
        eval_freq: int = 0,
        eval_episodes: int = 20,
        progress: bool = True,
    ) -> "Agent":
        """Train until ``total_steps`` env steps (counted over all envs). Returns the agent."""
        from rlkit.trainer import train

        return train(
            self, total_steps, log_dir=log_dir, resume=resume, checkpoint_freq=checkpoint_freq,
            eval_freq=eval_freq, eval_episodes=eval_episodes, progress=progress,
        )

    def checkpoint_payload(self) -> dict[str, Any]:
        return {
            "agent": type(self).__name__,
            "env": self.env_spec if isinstance(self.env_spec, str) else None,
            "config": json.dumps(config_to_dict(self.config)),
            "counters": {"num_steps": self.num_steps, "num_updates": self.num_updates},
            "torch_rng": torch.get_rng_state(),
            "numpy_rng": json.dumps(self.np_rng.bit_generator.state),
            "state": self.state_dict(),
        }

    def save(self, path: str | Path) -> Path:
        """Atomic write of weights, optimiser, normalisers and counters."""
        return save_checkpoint(path, self.checkpoint_payload())

    def restore(self, payload: dict[str, Any]) -> None:
        """Load a checkpoint payload (from ``load_checkpoint``) into this agent."""
        if payload["agent"] != type(self).__name__:
            raise CheckpointError(f"the checkpoint holds a {payload['agent']}, not a {type(self).__name__}; load it with that class.")
        self.load_state_dict(payload["state"])
        self.num_steps = int(payload["counters"]["num_steps"])
        self.num_updates = int(payload["counters"]["num_updates"])
        torch.set_rng_state(payload["torch_rng"])
        if "numpy_rng" in payload:
            self.np_rng.bit_generator.state = json.loads(payload["numpy_rng"])

    @classmethod
    def load(cls, path: str | Path, env: Any = None, **overrides: Any) -> "Agent":
        """Rebuild an agent from ``save()``'s file (or a run folder). ``env`` is needed when the agent
        was trained on an Env instance or a factory; ``overrides`` change config fields (e.g. device)."""
        payload = load_checkpoint(path)
        env = env if env is not None else payload["env"]
        if env is None:
            raise ConfigError(f"{path} was trained on an env instance or factory; pass env= to load().")
        saved = json.loads(payload["config"])
        names = {f.name for f in dataclasses.fields(cls.config_class)}
        saved = {k: v for k, v in saved.items() if k in names or k not in RETIRED_CONFIG_FIELDS}
        config = {**saved, **overrides}
        if payload["agent"] != cls.__name__:
            raise CheckpointError(f"{path} holds a {payload['agent']}, not a {cls.__name__}; use {payload['agent']}.load().")
        agent = cls(env, **config)
        agent.restore(payload)
        return agent

    def close(self) -> None:
        self.envs.close()
