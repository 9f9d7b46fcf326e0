"""RolloutBuffer: T steps from N envs, preallocated NumPy on the CPU where the envs run."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import torch

from rlkit.fast.cnn import is_channels_last
from rlkit.types import ActOut, RolloutBatch


def observation_dtype(space: Any) -> type:
    """How buffers store observations: uint8 frames as they are, everything else as float32."""
    return np.uint8 if space.dtype == np.uint8 else np.float32


# The [T, N, ...] arrays of a rollout, as RolloutBuffer and RolloutBatch name them.
ROLLOUT_ARRAYS = ("obs", "actions", "log_probs", "values", "dist_params", "rewards", "terminated", "truncated", "valid")


class RolloutBuffer:
    """Holds one on-policy rollout; observations keep their env dtype (uint8 frames stay uint8).

    Storage is NumPy: per-step writes cost about a microsecond each, where a write into a torch
    tensor costs several. ``batch()`` hands out views; the agent moves them to its device once.
    """

    def __init__(
        self,
        n_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        action_shape: tuple[int, ...],
        action_dtype: np.dtype,
        param_dim: int,
    ):
        T, N = n_steps, num_envs
        self.n_steps = n_steps
        self.obs = np.zeros((T, N, *obs_shape), dtype=obs_dtype)
        self.actions = np.zeros((T, N, *action_shape), dtype=action_dtype)
        self.log_probs = np.zeros((T, N), dtype=np.float32)
        self.values = np.zeros((T, N), dtype=np.float32)
        self.dist_params = np.zeros((T, N, param_dim), dtype=np.float32)
        self.rewards = np.zeros((T, N), dtype=np.float32)
        self.terminated = np.zeros((T, N), dtype=np.float32)
        self.truncated = np.zeros((T, N), dtype=np.float32)
        self.valid = np.zeros((T, N), dtype=bool)
        self.pos = 0

    def add(
        self,
        obs: np.ndarray,
        out: ActOut,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        t = self.pos
        self.obs[t] = obs
        self.actions[t] = out.actions
        self.log_probs[t] = out.log_probs
        self.values[t] = out.values
        self.dist_params[t] = out.dist_params
        self.rewards[t] = rewards
        self.terminated[t] = terminated
        self.truncated[t] = truncated
        self.valid[t] = valid
        self.pos += 1

    @property
    def full(self) -> bool:
        return self.pos == self.n_steps

    def layout(self, num_envs: int) -> dict[str, Any]:
        """The arguments that build an empty buffer like this one over ``num_envs`` envs: what a
        Ray rollout actor allocates for its share of the envs."""
        return dict(n_steps=self.n_steps, num_envs=num_envs, obs_shape=self.obs.shape[2:], obs_dtype=self.obs.dtype,
                    action_shape=self.actions.shape[2:], action_dtype=self.actions.dtype,
                    param_dim=self.dist_params.shape[2])

    def fill(self, parts: Sequence[RolloutBatch]) -> None:
        """Fill the buffer with rollouts collected elsewhere (Ray actors), each over a slice of the
        envs: ``parts`` in env order, concatenated along the env axis. ``batch()`` then hands it out."""
        for name in ROLLOUT_ARRAYS:
            np.concatenate([getattr(part, name) for part in parts], axis=1, out=getattr(self, name))
        self.pos = self.n_steps

    def batch(self, last_values: np.ndarray, last_obs: np.ndarray) -> RolloutBatch:
        """The rollout, with V and the observation after its last step."""
        if not self.full:
            raise RuntimeError(f"RolloutBuffer.batch() after {self.pos} of {self.n_steps} steps; fill it first.")
        self.pos = 0
        return RolloutBatch(
            self.obs, self.actions, self.log_probs, self.values, self.dist_params,
            self.rewards, self.terminated, self.truncated, self.valid, np.asarray(last_values, dtype=np.float32),
            np.asarray(last_obs),
        )


def valid_rows(valid: np.ndarray, device: torch.device, *arrays: np.ndarray) -> list[torch.Tensor]:
    """The rows of [T, N, ...] arrays where ``valid`` holds, flattened into one batch axis, as tensors
    on ``device``: the training inputs of an on-policy update, moved once."""
    rows = np.flatnonzero(valid.reshape(-1))
    return [torch.as_tensor(a.reshape(-1, *a.shape[2:])[rows], device=device) for a in arrays]


def take_rows(t: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """``t[rows]`` along the first axis, as ``index_select`` (advanced indexing is several times
    slower on the CPU). A channels-last image batch is gathered through its [B, H, W, C] view, so
    the rows come back channels-last too (``index_select`` on the [B, C, H, W] view would reorder
    them to channels-first, a slow copy)."""
    if is_channels_last(t):
        return t.permute(0, 2, 3, 1).index_select(0, rows).permute(0, 3, 1, 2)
    return t.index_select(0, rows)
