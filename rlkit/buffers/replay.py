"""ReplayBuffer: circular NumPy storage that keeps each frame once, a per-env n-step accumulator,
and a uniform or prioritized sampler.

Storage: every env owns a ring of ``capacity // num_envs`` slots. A slot holds one frame (the whole
observation when ``frame_stack`` is 1, else the newest frame of the stack) and, when it is a
decision point, the action taken there and its n-step outcome. An episode starts by writing the
k frames of its first stacked observation; each step then appends one frame. A stack is the k
frames ending at its slot, so stacks never reach across an episode boundary, and next
observations (n slots later in the same episode, or the final observation of a truncated
episode) cost no extra memory: about one byte per pixel per transition on Atari.

n-step (per env): Σ_{k<m} γ^k r_{t+k} with m = n, or fewer when the episode ends inside the
window: at ``terminated`` there is no bootstrap; at ``truncated`` the target bootstraps from the
final observation, which the next-step autoreset hands over as the step's ``next_obs``.

Samplers: uniform, or prioritized (Schaul et al. 2016): P(i) ∝ p_i^α from a batch-operated sum
tree, new transitions at the current maximum priority, importance weights (N P(i))^-β divided by
their batch maximum, priorities set from the learner's TD errors.
"""
from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch

from rlkit.buffers.rollout import observation_dtype
from rlkit.buffers.sum_tree import SumTree
from rlkit.errors import ConfigError
from rlkit.networks.encoders import is_image_space
from rlkit.types import ReplaySample


class ReplayBuffer:
    @classmethod
    def for_spaces(cls, observation_space: Any, num_envs: int, capacity: int, action_shape: tuple[int, ...],
                   action_dtype: np.dtype, **options: Any) -> "ReplayBuffer":
        """A buffer for an agent's spaces: stacked uint8 frames ([k, H, W]) are stored one frame at a
        time, anything else as float32 observations."""
        shape = observation_space.shape
        frame_stack = shape[0] if is_image_space(observation_space) else 1
        return cls(capacity, num_envs, shape, observation_dtype(observation_space), action_shape, action_dtype,
                   frame_stack=frame_stack, **options)

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        action_shape: tuple[int, ...],
        action_dtype: np.dtype,
        gamma: float = 0.99,
        n_step: int = 1,
        frame_stack: int = 1,
        prioritized: bool = False,
        alpha: float = 0.6,
        priority_eps: float = 1e-6,
        seed: int = 0,
    ):
        if n_step < 1:
            raise ConfigError(f"n_step must be >= 1, got {n_step}.")
        if frame_stack > 1 and (len(obs_shape) < 2 or obs_shape[0] != frame_stack):
            raise ConfigError(f"frame_stack={frame_stack} needs observations shaped [{frame_stack}, ...], got {obs_shape}.")
        self.segment = capacity // num_envs
        if self.segment < 4 * (n_step + frame_stack):
            raise ConfigError(
                f"buffer_size {capacity} leaves {self.segment} slots per env; need at least "
                f"{4 * (n_step + frame_stack)} for n_step={n_step} and {frame_stack} stacked frames."
            )
        self.num_envs, self.gamma, self.n_step, self.k = num_envs, gamma, n_step, frame_stack
        self.obs_shape = tuple(obs_shape)
        frame_shape = self.obs_shape[1:] if frame_stack > 1 else self.obs_shape
        E, S = num_envs, self.segment
        self.frames = np.zeros((E, S, *frame_shape), dtype=obs_dtype)
        self.actions = np.zeros((E, S, *action_shape), dtype=action_dtype)
        self.returns = np.zeros((E, S), dtype=np.float32)
        self.discounts = np.zeros((E, S), dtype=np.float32)  # γ^m
        self.terminated = np.zeros((E, S), dtype=bool)
        self.next_offset = np.zeros((E, S), dtype=np.int16)  # m: the next observation's slot is i + m
        self.valid = np.zeros((E, S), dtype=bool)  # a complete transition whose frames are all present
        self.head = np.full(E, -1, dtype=np.int64)  # slot of each env's current observation
        self.next_slot = np.zeros(E, dtype=np.int64)
        self.frames_written = 0
        self._num_valid = 0  # == valid.sum(), kept up to date
        self._open: list[list[list]] = [[] for _ in range(E)]  # per env: [slot, return, age]
        self.rng = np.random.default_rng(seed)
        self.prioritized, self.alpha, self.priority_eps = prioritized, alpha, priority_eps
        self.tree = SumTree(E * S) if prioritized else None
        self.max_priority = 1.0

    # --- writing --------------------------------------------------------------------------------
    @property
    def num_transitions(self) -> int:
        return self._num_valid

    def start(self, obs: np.ndarray, envs: np.ndarray | None = None) -> None:
        """First observations of new episodes (after a reset) for ``envs`` (default: all)."""
        for i in range(self.num_envs) if envs is None else np.flatnonzero(envs):
            self._start_env(i, obs[i])

    def _start_env(self, env: int, obs: np.ndarray) -> None:
        for frame in obs if self.k > 1 else obs[None]:
            self._write_frame(env, frame)
        self._open[env] = []

    def add(
        self,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_obs: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """One vector-env step from the current observations. ``valid[i]`` False marks env i's
        autoreset step (action ignored; ``next_obs[i]`` is the first observation of a new episode)."""
        for i in range(self.num_envs):
            if not valid[i]:
                self._start_env(i, next_obs[i])
                continue
            slot = self.head[i]
            self.actions[i, slot] = actions[i]
            opened = self._open[i]
            opened.append([slot, 0.0, 0])
            self._write_frame(i, next_obs[i][-1] if self.k > 1 else next_obs[i])
            r = float(rewards[i])
            for window in opened:
                window[1] += self.gamma ** window[2] * r
                window[2] += 1
            if terminated[i] or truncated[i]:
                for window in opened:
                    self._close(i, window, bool(terminated[i]))
                opened.clear()
            elif opened[0][2] == self.n_step:
                self._close(i, opened.pop(0), False)

    def _write_frame(self, env: int, frame: np.ndarray) -> None:
        slot = self.next_slot[env]
        # the transitions whose stacks include this slot lose a frame
        stale = (slot + np.arange(self.k)) % self.segment
        self._invalidate(env, stale)
        self.frames[env, slot] = frame
        self.head[env] = slot
        self.next_slot[env] = (slot + 1) % self.segment
        self.frames_written += 1

    def _invalidate(self, env: int, slots: np.ndarray) -> None:
        was = self.valid[env, slots]
        if was.any():
            self.valid[env, slots] = False
            self._num_valid -= int(was.sum())
            if self.tree is not None:
                self.tree.update(env * self.segment + slots[was], np.zeros(int(was.sum())))

    def _close(self, env: int, window: list, terminated: bool) -> None:
        slot, ret, age = window
        self.returns[env, slot] = ret
        self.discounts[env, slot] = self.gamma ** age
        self.terminated[env, slot] = terminated
        self.next_offset[env, slot] = age
        self._num_valid += not self.valid[env, slot]
        self.valid[env, slot] = True
        if self.tree is not None:
            self.tree.update(np.array([env * self.segment + slot]), np.array([self.max_priority ** self.alpha]))

    # --- sampling -------------------------------------------------------------------------------
    def sample(self, batch_size: int, beta: float = 0.4) -> ReplaySample:
        """A batch of complete transitions (NumPy); ``weights`` are 1 unless prioritized."""
        total = self.num_transitions
        if total == 0:
            raise ConfigError("the replay buffer holds no complete transition yet; raise learning_starts.")
        if self.tree is not None:
            flat = self.tree.sample(batch_size, self.rng)
            probs = self.tree.get(flat) / self.tree.total
            weights = (total * probs) ** (-beta)
            weights = (weights / weights.max()).astype(np.float32)
        else:
            flat = self._uniform(batch_size)
            weights = np.ones(batch_size, dtype=np.float32)
        env, slot = np.divmod(flat, self.segment)
        offset = self.next_offset[env, slot].astype(np.int64)
        return ReplaySample(
            obs=self._stack(env, slot), actions=self.actions[env, slot], rewards=self.returns[env, slot],
            next_obs=self._stack(env, (slot + offset) % self.segment),
            terminated=self.terminated[env, slot].astype(np.float32), discounts=self.discounts[env, slot],
            weights=weights, indices=flat,
        )

    def _uniform(self, batch_size: int) -> np.ndarray:
        flat_valid = self.valid.reshape(-1)
        picks = self.rng.integers(0, flat_valid.size, size=4 * batch_size)
        picks = picks[flat_valid[picks]]
        if picks.size >= batch_size:
            return picks[:batch_size]
        return self.rng.choice(np.flatnonzero(flat_valid), size=batch_size)  # a sparse buffer: draw from the list

    def _stack(self, env: np.ndarray, slot: np.ndarray) -> np.ndarray:
        if self.k == 1:
            return self.frames[env, slot]
        slots = (slot[:, None] + np.arange(1 - self.k, 1)) % self.segment
        return self.frames[env[:, None], slots]

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """p_i = |δ_i| + ε; the tree holds p_i^α. Ignored by the uniform sampler."""
        if self.tree is None:
            return
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.priority_eps
        env, slot = np.divmod(np.asarray(indices), self.segment)
        still = self.valid[env, slot]  # a slot overwritten since it was sampled keeps priority 0
        self.tree.update(np.asarray(indices)[still], priorities[still] ** self.alpha)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    # --- checkpoints ----------------------------------------------------------------------------
    ARRAYS = ("frames", "actions", "returns", "discounts", "terminated", "next_offset", "valid", "head", "next_slot")

    def state_dict(self) -> dict[str, Any]:
        state: dict[str, Any] = {name: torch.from_numpy(getattr(self, name).copy()) for name in self.ARRAYS}
        state["open"] = [[(int(s), float(r), int(a)) for s, r, a in opened] for opened in self._open]
        state["frames_written"] = self.frames_written
        state["max_priority"] = self.max_priority
        state["rng"] = json.dumps(self.rng.bit_generator.state)  # a resumed run draws on, not from the seed again
        if self.tree is not None:
            state["tree"] = torch.from_numpy(self.tree.tree.copy())
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self.ARRAYS:
            value = state[name].numpy()
            if value.shape != getattr(self, name).shape:
                raise ConfigError(f"replay state {name} has shape {value.shape}, this buffer {getattr(self, name).shape}.")
            setattr(self, name, value.copy())
        self._open = [[list(w) for w in opened] for opened in state["open"]]
        self.frames_written = int(state["frames_written"])
        self.recount_transitions()
        self.max_priority = float(state["max_priority"])
        if "rng" in state:  # checkpoints from before it was saved restart the stream from the seed
            self.rng.bit_generator.state = json.loads(state["rng"])
        if self.tree is not None:
            self.tree.tree = state["tree"].numpy().copy()

    def recount_transitions(self) -> None:
        """Resynchronise the transition count with ``valid`` after its arrays were written directly
        (a loaded state, or a benchmark that fills the storage in bulk)."""
        self._num_valid = int(self.valid.sum())

    @property
    def nbytes(self) -> int:
        return sum(getattr(self, name).nbytes for name in self.ARRAYS) + (self.tree.tree.nbytes if self.tree else 0)
