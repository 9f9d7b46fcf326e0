"""RolloutWorker: steps a vector env with batched policy inference on the policy's device."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rlkit.buffers import RolloutBuffer
from rlkit.types import EpisodeStats

if TYPE_CHECKING:
    from rlkit.policy import Policy


class RolloutWorker:
    """Collects on-policy rollouts. Envs stay on the CPU; one forward pass serves all N envs.

    ``policy`` needs ``explore(obs) -> ActOut`` and ``values(obs)``, NumPy in and out (a
    ``rlkit.policy.Policy`` moves observations to its device and results back); ``envs`` is a
    ``VecEnv`` (``envs.make_vec_env``).
    """

    def __init__(self, envs, policy: "Policy", seed: int | None):
        self.envs, self.policy = envs, policy
        self.obs = envs.reset(seed=seed)
        # True where the last step ended an episode: the env's next step is its autoreset.
        self.resetting = np.zeros(envs.num_envs, dtype=bool)

    def collect(self, buffer: RolloutBuffer) -> tuple[EpisodeStats, np.ndarray]:
        """Fill ``buffer``; return the finished episodes and V(obs after the last step)."""
        returns: list[float] = []
        lengths: list[int] = []
        while not buffer.full:
            obs = self.obs
            out = self.policy.explore(obs)
            step = self.envs.step(out.actions)
            buffer.add(obs, out, step.rewards, step.terminated, step.truncated, ~self.resetting)
            if step.episode_done.any():
                returns += step.episode_returns[step.episode_done].tolist()
                lengths += step.episode_lengths[step.episode_done].tolist()
            self.resetting = step.terminated | step.truncated
            self.obs = step.obs
        return EpisodeStats(returns, lengths), self.policy.values(self.obs)

    def close(self) -> None:
        """Nothing to release: the envs are the agent's (``RayRolloutWorkers.close`` kills its actors)."""
