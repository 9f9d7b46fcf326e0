"""Vector envs behind one interface, ``VecEnv``, whatever the backend (Gymnasium or EnvPool).

Every backend returns a ``rlkit.types.VecStep`` and uses next-step autoreset, the mode Gymnasium
and EnvPool share: the step that ends an episode returns its final observation (so a truncated
episode bootstraps from it at no extra cost), and the following step returns the reset observation.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.types import VecStep


class VecEnv:
    """The interface every backend implements."""

    num_envs: int
    single_observation_space: gym.Space
    single_action_space: gym.Space
    backend: str

    def reset(self, seed: int | None = None) -> np.ndarray:
        raise NotImplementedError

    def step(self, actions: np.ndarray) -> VecStep:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError


def _prepare_actions(actions: np.ndarray, space: gym.Space) -> np.ndarray:
    """Policies sample unbounded Gaussians; the env gets them clipped to its bounds."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(actions, space.low, space.high).astype(space.dtype, copy=False)
    return actions


class GymnasiumVecEnv(VecEnv):
    """Adapter over a ``gymnasium.vector.VectorEnv`` whose sub-envs record episode statistics."""

    backend = "gymnasium"

    def __init__(self, envs: gym.vector.VectorEnv):
        mode = envs.metadata.get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "NextStep":
            from rlkit.errors import ConfigError

            raise ConfigError(
                f"the vector env uses autoreset mode {mode}; rlkit needs next-step autoreset "
                "(Gymnasium's default): build it with autoreset_mode=AutoresetMode.NEXT_STEP."
            )
        self.envs = envs
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, _ = self.envs.reset(seed=seed)
        if seed is not None:
            self.envs.action_space.seed(seed)
        return obs

    def step(self, actions: np.ndarray) -> VecStep:
        obs, rewards, terminated, truncated, infos = self.envs.step(
            _prepare_actions(actions, self.single_action_space)
        )
        episode_done = np.zeros(self.num_envs, dtype=bool)
        episode_returns = np.zeros(self.num_envs, dtype=np.float64)
        episode_lengths = np.zeros(self.num_envs, dtype=np.int64)
        if "episode" in infos:
            episode_done = np.asarray(infos["_episode"], dtype=bool)
            episode_returns = np.asarray(infos["episode"]["r"], dtype=np.float64)
            episode_lengths = np.asarray(infos["episode"]["l"], dtype=np.int64)
        return VecStep(
            obs,
            np.asarray(rewards, dtype=np.float32),
            np.asarray(terminated, dtype=bool),
            np.asarray(truncated, dtype=bool),
            episode_done,
            episode_returns,
            episode_lengths,
        )

    def close(self) -> None:
        self.envs.close()


class EnvPoolVecEnv(VecEnv):
    """Adapter over an EnvPool pool (C++ envs stepped on their own threads).

    Episode statistics are kept here: for Atari from EnvPool's raw (unclipped) reward and its
    game-over flag, so they match the Gymnasium backend's full-game returns.
    """

    backend = "envpool"

    def __init__(self, pool: Any, atari: bool):
        self.pool = pool
        self.atari = atari
        self.num_envs = pool.config["num_envs"]
        self.single_observation_space = pool.observation_space
        self.single_action_space = pool.action_space
        self._returns = np.zeros(self.num_envs, dtype=np.float64)
        self._lengths = np.zeros(self.num_envs, dtype=np.int64)
        self._resetting = np.zeros(self.num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        # EnvPool seeds its envs at construction (seed, seed+1, ...); make_vec_env passes the seed.
        obs, _ = self.pool.reset()
        self._returns[:] = 0
        self._lengths[:] = 0
        self._resetting[:] = False
        if seed is not None:
            self.single_action_space.seed(seed)
        return obs

    def step(self, actions: np.ndarray) -> VecStep:
        space = self.single_action_space
        if isinstance(space, gym.spaces.Discrete):
            actions = actions.astype(np.int32, copy=False)
        obs, rewards, terminated, truncated, info = self.pool.step(_prepare_actions(actions, space))
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        live = ~self._resetting  # the step after an end only resets that env
        raw_rewards = info["reward"] if self.atari else rewards
        self._returns += np.where(live, raw_rewards, 0.0)
        self._lengths += live
        game_over = (np.asarray(info["terminated"], dtype=bool) if self.atari else terminated) | truncated
        episode_done = game_over & live
        episode_returns = self._returns.copy()
        episode_lengths = self._lengths.copy()
        self._returns[episode_done] = 0
        self._lengths[episode_done] = 0
        self._resetting = terminated | truncated
        return VecStep(
            obs,
            np.asarray(rewards, dtype=np.float32),
            terminated,
            truncated,
            episode_done,
            episode_returns,
            episode_lengths,
        )

    def close(self) -> None:
        self.pool.close()
