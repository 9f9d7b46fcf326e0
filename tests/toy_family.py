"""A family that lives outside rlkit: basic random search over a linear policy (Mania et al. 2018,
"Simple random search provides a competitive approach to RL", the V1 update without the top-b
selection). It brings its own loop and trains through ``rlkit train toy_family:RandomSearch`` with
no edit to the trainer or the CLI; tests/test_spine.py drives it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from rlkit.agent import Agent, EnvAgent
from rlkit.config import AgentConfig, EnvConfig, check
from rlkit.progress import Progress


@dataclass
class RandomSearchConfig(EnvConfig):
    step_size: float = 0.02
    noise_std: float = 0.03

    def validate(self) -> None:
        super().validate()
        check(self.step_size > 0 and self.noise_std > 0, "step_size and noise_std must be > 0")
        check(self.num_envs == 1, "RandomSearch runs one env (num_envs=1)")


def random_search_loop(agent: "RandomSearch", progress: Progress) -> None:
    """Try W ± σδ for one episode each, move W along δ by the difference of their returns."""
    while not progress.done:
        delta = agent.np_rng.standard_normal(agent.weights.shape)
        plus, plus_steps = agent.episode(agent.weights + agent.config.noise_std * delta)
        minus, minus_steps = agent.episode(agent.weights - agent.config.noise_std * delta)
        agent.weights += agent.config.step_size * (plus - minus) * delta
        agent.num_updates += 1
        progress.advance(plus_steps + minus_steps)
        progress.episodes([plus, minus], [plus_steps, minus_steps])
        progress.learned({"return_plus": plus, "return_minus": minus})
        progress.safe_point()


class RandomSearch(EnvAgent):
    config_class = RandomSearchConfig
    loop = random_search_loop

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        self.weights = np.zeros((int(np.prod(self.observation_space.shape)), int(self.action_space.n)))

    def episode(self, weights: np.ndarray) -> tuple[float, int]:
        obs = self.envs.reset(seed=int(self.np_rng.integers(2**31 - 2)))
        while True:
            step = self.envs.step((obs.reshape(1, -1) @ weights).argmax(-1))
            obs = step.obs
            if step.episode_done[0]:
                return float(step.episode_returns[0]), int(step.episode_lengths[0])

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return (obs.reshape(obs.shape[0], -1) @ self.weights).argmax(-1)

    def state_dict(self) -> dict[str, Any]:
        return {"weights": torch.from_numpy(self.weights.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.weights = state["weights"].numpy().copy()


@dataclass
class BanditConfig(AgentConfig):
    arm_means: tuple[float, ...] = (0.1, 0.5, 0.9)
    learning_rate: float = 0.1
    batch_size: int = 16


def bandit_loop(agent: "Bandit", progress: Progress) -> None:
    """A family without a Gymnasium env: pull arms from a softmax policy, REINFORCE on the logits."""
    means = np.asarray(agent.config.arm_means)
    while not progress.done:
        probs = np.exp(agent.logits - agent.logits.max())
        probs /= probs.sum()
        arms = agent.np_rng.choice(len(means), size=agent.config.batch_size, p=probs)
        rewards = agent.np_rng.normal(means[arms], 0.1)
        grad = (np.eye(len(means))[arms] - probs) * (rewards - rewards.mean())[:, None]
        agent.logits += agent.config.learning_rate * grad.mean(0)
        agent.num_updates += 1
        progress.advance(agent.config.batch_size)
        progress.learned({"mean_reward": float(rewards.mean())})
        progress.safe_point()


class Bandit(Agent):
    config_class = BanditConfig
    loop = bandit_loop

    def __init__(self, **config: Any):
        super().__init__(**config)
        self.logits = np.zeros(len(self.config.arm_means))

    def evaluate(self, episodes: int, seed: int) -> tuple[float, float]:
        """The mean reward of the greedy arm (its noise is 0.1 whatever the seed)."""
        return float(self.config.arm_means[int(self.logits.argmax())]), 0.1

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return np.full(len(obs), self.logits.argmax())

    def state_dict(self) -> dict[str, Any]:
        return {"logits": torch.from_numpy(self.logits.copy())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.logits = state["logits"].numpy().copy()
