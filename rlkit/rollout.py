"""RolloutWorker: steps a vector env with batched policy inference on the agent's device."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rlkit.buffers import RolloutBuffer
from rlkit.types import EpisodeStats

if TYPE_CHECKING:
    from envs.vector import VecEnv


class RolloutWorker:
    """Collects on-policy rollouts. Envs stay on the CPU; one forward pass serves all N envs.

    ``agent`` needs ``device``, ``policy_step(obs) -> ActOut`` and ``predict_values(obs)``.
    """

    def __init__(self, envs: "VecEnv", agent, seed: int | None):
        self.envs, self.agent = envs, agent
        self.obs = envs.reset(seed=seed)
        # True where the last step ended an episode: the env's next step is its autoreset.
        self.resetting = np.zeros(envs.num_envs, dtype=bool)

    def collect(self, buffer: RolloutBuffer) -> tuple[EpisodeStats, torch.Tensor]:
        """Fill ``buffer``; return the finished episodes and V(obs after the last step)."""
        returns: list[float] = []
        lengths: list[int] = []
        device = self.agent.device
        while not buffer.full:
            obs = torch.as_tensor(self.obs, device=device)
            out = self.agent.policy_step(obs)
            step = self.envs.step(out.actions.cpu().numpy())
            buffer.add(obs, out, step.rewards, step.terminated, step.truncated, ~self.resetting)
            if step.episode_done.any():
                returns += step.episode_returns[step.episode_done].tolist()
                lengths += step.episode_lengths[step.episode_done].tolist()
            self.resetting = step.terminated | step.truncated
            self.obs = step.obs
        last_values = self.agent.predict_values(torch.as_tensor(self.obs, device=device))
        return EpisodeStats(returns, lengths), last_values
