"""Vector envs behind one interface, ``VecEnv``, whatever the backend (Gymnasium, EnvPool or ALE).

Every backend returns a ``rlkit.types.VecStep`` and uses next-step autoreset, the mode Gymnasium
and EnvPool share: the step that ends an episode returns its final observation (so a truncated
episode bootstraps from it at no extra cost), and the following step returns the reset observation.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rlkit.errors import ConfigError, UnsupportedSpaceError
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


SEED_MAX = 2**31 - 1  # EnvPool and ale-py seed each env with a C++ int


def as_seed(seed: int | np.integer | None, num_envs: int = 1) -> int | None:
    """Seeds as Python ints (Gymnasium, EnvPool and ale-py all refuse NumPy integers), small enough
    that every env's seed (seed, seed + 1, ...) fits the C++ backends' 32-bit ints."""
    if seed is None:
        return None
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or not 0 <= seed <= SEED_MAX - num_envs + 1:
        raise ConfigError(f"seed must be an integer in [0, {SEED_MAX - num_envs + 1}] for {num_envs} env(s), or None; got {seed!r}.")
    return int(seed)


def _prepare_actions(actions: np.ndarray, space: gym.Space) -> np.ndarray:
    """Policies sample unbounded Gaussians; the env gets them clipped to its bounds."""
    if isinstance(space, gym.spaces.Box):
        return np.clip(actions, space.low, space.high).astype(space.dtype, copy=False)
    return actions


def _shape_mismatch(space: gym.Space, actual: tuple[int, ...] | None, detail: str = "") -> UnsupportedSpaceError:
    got = f"observations of shape {actual}" if actual is not None else f"observations that do not fit it ({detail})"
    return UnsupportedSpaceError(
        f"the env declares observation_space {space} (shape {space.shape}) but returns {got}. "
        "Make its observation_space match what reset() and step() return, or wrap it with "
        "gymnasium.wrappers.ReshapeObservation / FlattenObservation."
    )


class GymnasiumVecEnv(VecEnv):
    """Adapter over a ``gymnasium.vector.VectorEnv`` whose sub-envs record episode statistics."""

    backend = "gymnasium"

    def __init__(self, envs: gym.vector.VectorEnv):
        mode = envs.metadata.get("autoreset_mode")
        if mode is not None and getattr(mode, "value", mode) != "NextStep":
            raise ConfigError(
                f"the vector env uses autoreset mode {mode}; rlkit needs next-step autoreset "
                "(Gymnasium's default): build it with autoreset_mode=AutoresetMode.NEXT_STEP."
            )
        self.envs = envs
        self.num_envs = envs.num_envs
        self.single_observation_space = envs.single_observation_space
        self.single_action_space = envs.single_action_space

    def reset(self, seed: int | None = None) -> np.ndarray:
        seed = as_seed(seed, self.num_envs)
        try:
            obs, _ = self.envs.reset(seed=seed)
        except ValueError as exc:
            # Sync/AsyncVectorEnv copy each env's observation into a batch of the declared shape, so
            # an env whose observations do not match its space fails there, with NumPy's message.
            error = self._observation_shape_error(seed, exc)
            if error is None:
                raise
            raise error from exc
        expected = self.single_observation_space.shape
        # Checked at reset only: steps stay free of it, and a reset is where a mismatch shows first.
        if expected is not None and np.shape(obs)[1:] != expected:
            raise _shape_mismatch(self.single_observation_space, np.shape(obs)[1:])
        if seed is not None:
            self.envs.action_space.seed(seed)
        return obs

    def _observation_shape_error(self, seed: int | None, cause: ValueError) -> UnsupportedSpaceError | None:
        """The typed error for a reset that failed on an observation of the wrong shape; None when
        the failure was something else."""
        base = self.envs.unwrapped
        if isinstance(base, gym.vector.SyncVectorEnv):
            # the sub-envs are in this process: reset them again to see the shape they return
            for i, env in enumerate(base.envs):
                try:
                    obs, _ = env.reset(seed=None if seed is None else seed + i)
                except Exception:
                    return None
                space = env.observation_space
                if space.shape is not None and np.shape(obs) != space.shape:
                    return _shape_mismatch(space, np.shape(obs))
            return None
        if "broadcast" in str(cause):  # AsyncVectorEnv: NumPy's message from the worker names both shapes
            return _shape_mismatch(self.single_observation_space, None, detail=str(cause))
        return None

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
        seed = as_seed(seed, self.num_envs)
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

    The C++ env is built to report only game overs and time limits; life losses are read here from
    the ``lives`` it reports on every step (when ``life_loss_terminals``, for training): a step on
    which lives dropped and some are left comes back ``terminated``, and unless the game also hit
    its time limit there, the game goes on. The step after it plays the part of the reset that the
    other backends' life-loss terminal gets: this adapter sends FIRE there for games that wait for
    it (NOOP for the others) whatever action it is given, returns reward 0 as every reset step does,
    and the trainers drop that step's transition as they drop every reset step. Rewards arrive raw
    and are clipped here when ``clip_rewards``, so the episode statistics are full games' unclipped
    returns, as on the other backends.

    The preprocessing is equivalent to ``envs.atari``'s, not identical: ale-py draws its reset
    no-ops from its own range and presses FIRE at reset in its own order (``envs.atari``: 1-30
    no-ops, then FIRE), pads the first frame stack with zeros, and its 108k-frame limit does not
    count the reset no-ops.
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
        self._resume_next = np.zeros(self.num_envs, dtype=bool)  # a life was lost: FIRE next step

    def reset(self, seed: int | None = None) -> np.ndarray:
        seed = as_seed(seed, self.num_envs)
        obs, info = self.envs.reset(seed=seed)
        self._tally.clear()
        self._lives[:] = info["lives"]
        self._game_restarting[:] = False
        self._resume_next[:] = False
        if seed is not None:
            self.single_action_space.seed(seed)
        return obs

    def step(self, actions: np.ndarray) -> VecStep:
        resuming = self._resume_next
        actions = np.where(resuming, self.resume_action, actions).astype(np.int32)
        obs, raw_rewards, terminated, truncated, info = self.envs.step(actions)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        lives = np.array(info["lives"], dtype=np.int64)  # copies: ale-py's arrays are its own
        live = ~self._game_restarting
        ended = terminated | truncated
        game_over = ended & live
        # a life lost with lives left is a terminal, also on a game's time-limit step (as the other
        # backends' EpisodicLife + TimeLimit report it); the game goes on, and FIRE resumes it, only
        # when the C++ env did not end it there: it restarts an ended game by itself next step
        lost_a_life = live & (lives < self._lives) & (lives > 0) & self.life_loss_terminals
        resume_next = lost_a_life & ~ended
        episode_returns, episode_lengths = self._tally.add(raw_rewards, live, game_over)
        self._lives = lives
        self._game_restarting = game_over
        self._resume_next = resume_next
        rewards = np.array(raw_rewards, dtype=np.float32)
        if self.clip_rewards:
            rewards = np.sign(rewards)
        rewards[resuming] = 0.0  # the stand-in reset step: its transition is dropped, its reward too
        return VecStep(
            obs,
            rewards,
            terminated | lost_a_life,
            truncated,
            game_over,
            episode_returns,
            episode_lengths,
        )

    def close(self) -> None:
        self.envs.close()
