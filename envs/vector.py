"""Vector envs behind one interface, ``VecEnv``, whatever the backend (Gymnasium, EnvPool or ALE).

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


class _EpisodeTally:
    """Whole-episode returns and lengths, for backends that report neither: raw rewards summed over
    each env's steps, its autoreset steps left out."""

    def __init__(self, num_envs: int):
        self.returns = np.zeros(num_envs, dtype=np.float64)
        self.lengths = np.zeros(num_envs, dtype=np.int64)

    def clear(self) -> None:
        self.returns[:] = 0
        self.lengths[:] = 0

    def add(self, raw_rewards: np.ndarray, live: np.ndarray, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Count one step of the ``live`` envs; return the totals so far (whole episodes' where
        ``ended``) and start the ``ended`` envs' next episodes from zero."""
        self.returns += np.where(live, raw_rewards, 0.0)
        self.lengths += live
        totals = self.returns.copy(), self.lengths.copy()
        self.returns[ended] = 0
        self.lengths[ended] = 0
        return totals


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
        self._tally = _EpisodeTally(self.num_envs)
        self._resetting = np.zeros(self.num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        # EnvPool seeds its envs at construction (seed, seed+1, ...); make_vec_env passes the seed.
        obs, _ = self.pool.reset()
        self._tally.clear()
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
        game_over = (np.asarray(info["terminated"], dtype=bool) if self.atari else terminated) | truncated
        episode_done = game_over & live
        episode_returns, episode_lengths = self._tally.add(info["reward"] if self.atari else rewards, live, episode_done)
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


class AleVecEnv(VecEnv):
    """Adapter over ale-py's own vector env (``ale_py.vector_env.AtariVectorEnv``): the emulators,
    frame skip, max-pool, resize and frame stack run in C++ threads, like EnvPool's Atari, from the
    ALE maintainers and with no dependency beyond ale-py.

    Built with ``life_loss_info`` for training: a life loss comes as ``terminated`` while the game
    goes on. The step after it plays the part of the reset that the other backends' life-loss
    terminal gets: this adapter sends FIRE there for games that wait for it (NOOP for the others)
    whatever action it is given, and the trainers drop that step's transition as they drop every
    reset step. Rewards arrive raw and are clipped here when ``clip_rewards``, so the episode
    statistics are full games' unclipped returns, as on the other backends.
    """

    backend = "ale"

    def __init__(self, envs: Any, life_loss_terminals: bool, clip_rewards: bool, resume_action: int):
        self.envs = envs
        self.life_loss_terminals, self.clip_rewards = life_loss_terminals, clip_rewards
        self.resume_action = resume_action
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space
        self._tally = _EpisodeTally(self.num_envs)
        self._lives = np.zeros(self.num_envs, dtype=np.int64)
        self._game_restarting = np.zeros(self.num_envs, dtype=bool)  # the step after a game over resets it
        self._life_lost = np.zeros(self.num_envs, dtype=bool)

    def reset(self, seed: int | None = None) -> np.ndarray:
        obs, info = self.envs.reset(seed=seed)
        self._tally.clear()
        self._lives[:] = info["lives"]
        self._game_restarting[:] = False
        self._life_lost[:] = False
        if seed is not None:
            self.single_action_space.seed(seed)
        return obs

    def step(self, actions: np.ndarray) -> VecStep:
        actions = np.where(self._life_lost, self.resume_action, actions).astype(np.int32)
        obs, rewards, terminated, truncated, info = self.envs.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        lives = np.asarray(info["lives"], dtype=np.int64)
        live = ~self._game_restarting
        # a terminal is a life loss when lives dropped and some are left (ALE's own test); else a game over
        life_lost = terminated & live & (lives < self._lives) & (lives > 0) & self.life_loss_terminals
        game_over = ((terminated & ~life_lost) | truncated) & live
        episode_returns, episode_lengths = self._tally.add(rewards, live, game_over)
        self._lives = lives
        self._game_restarting = game_over
        self._life_lost = life_lost
        rewards = np.asarray(rewards, dtype=np.float32)
        return VecStep(
            obs,
            np.sign(rewards) if self.clip_rewards else rewards,
            terminated,
            truncated,
            game_over,
            episode_returns,
            episode_lengths,
        )

    def close(self) -> None:
        self.envs.close()
