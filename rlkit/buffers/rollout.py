"""RolloutBuffer: T steps from N envs, preallocated on the agent's device."""
from __future__ import annotations

import numpy as np
import torch

from rlkit.types import ActOut, RolloutBatch


class RolloutBuffer:
    """Holds one on-policy rollout; observations keep their env dtype (uint8 frames stay uint8)."""

    def __init__(
        self,
        n_steps: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: torch.dtype,
        action_shape: tuple[int, ...],
        action_dtype: torch.dtype,
        param_dim: int,
        device: torch.device,
    ):
        T, N = n_steps, num_envs
        self.n_steps, self.device = n_steps, device
        self.obs = torch.zeros((T, N, *obs_shape), dtype=obs_dtype, device=device)
        self.actions = torch.zeros((T, N, *action_shape), dtype=action_dtype, device=device)
        self.log_probs = torch.zeros((T, N), device=device)
        self.values = torch.zeros((T, N), device=device)
        self.dist_params = torch.zeros((T, N, param_dim), device=device)
        # Per-step env outputs arrive as NumPy; they are gathered on the CPU and moved once.
        self.rewards = np.zeros((T, N), dtype=np.float32)
        self.terminated = np.zeros((T, N), dtype=np.float32)
        self.truncated = np.zeros((T, N), dtype=np.float32)
        self.valid = np.zeros((T, N), dtype=bool)
        self.pos = 0

    def add(
        self,
        obs: torch.Tensor,
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

    def batch(self, last_values: torch.Tensor) -> RolloutBatch:
        assert self.full, "RolloutBuffer.batch() before n_steps were added"
        self.pos = 0

        def dev(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(a).to(self.device)

        return RolloutBatch(
            self.obs, self.actions, self.log_probs, self.values, self.dist_params,
            dev(self.rewards), dev(self.terminated), dev(self.truncated), dev(self.valid), last_values,
        )
