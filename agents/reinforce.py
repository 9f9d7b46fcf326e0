"""REINFORCE: Monte-Carlo policy gradient with a baseline (Williams 1992).

    ∇J ≈ (1/N) Σ_n Σ_t (G_t^n − b) ∇log π_θ(a_t^n | s_t^n)
    G_t = Σ_{t' ≥ t} γ^{t'−t} r_{t'}      (reward_to_go=True; else the whole discounted return R(τ))
    b   = 0 | a running mean of the returns | a learned state value V(s_t) (regressed on G_t)

The loss is the return-weighted log-likelihood of the sampled actions: classification with the
sampled action as the label and (G − b) as the example weight, one gradient step per update.

Whole episodes: the shared RolloutWorker fills n_steps per env; an episode still running at the
end of a rollout is held back and trained on in the update where it finishes. Its earlier steps
were sampled by the previous policy, a small lag that vanishes when n_steps is long against the
episodes. A time-limit truncation bootstraps from V(final obs) with the learned baseline and is
treated as the episode's end otherwise.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from rlkit.on_policy import OnPolicyAgent, explained_variance
from rlkit.returns import discounted_returns
from rlkit.types import LearnOut, RolloutBatch
from agents.configs import ReinforceConfig

_FIELDS = ("obs", "actions", "rewards", "terminated", "truncated", "next_values")


class Reinforce(OnPolicyAgent):
    """Monte-Carlo policy gradient over whole episodes with a running-mean or learned baseline."""

    config_class = ReinforceConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        self.baseline_mean: float | None = None  # "mean" baseline; None until the first update
        self.start_rollouts()

    def start_rollouts(self) -> None:
        """The envs were reset: partial episodes held back from earlier rollouts no longer continue."""
        self._pending: list[dict[str, np.ndarray] | None] = [None] * self.config.num_envs

    # --- whole episodes out of fixed-length rollouts --------------------------------------------
    def finished_episodes(self, batch: RolloutBatch) -> dict[str, np.ndarray]:
        """Rows of the episodes that end in this batch (with their held-back beginnings), in order,
        plus ``returns`` (the weights before the baseline). Steps of unfinished episodes are kept
        for the next call."""
        cfg = self.config
        next_values = np.concatenate([batch.values[1:], batch.last_values[None]], axis=0)
        rewards = self.training_rewards(batch)
        parts: list[dict[str, np.ndarray]] = []
        for i in range(cfg.num_envs):
            rows = np.flatnonzero(batch.valid[:, i])  # the autoreset steps carry no decision
            column = {"obs": batch.obs[rows, i], "actions": batch.actions[rows, i], "rewards": rewards[rows, i],
                      "terminated": batch.terminated[rows, i], "truncated": batch.truncated[rows, i],
                      "next_values": next_values[rows, i]}
            if self._pending[i] is not None:
                column = {k: np.concatenate([self._pending[i][k], column[k]]) for k in _FIELDS}
            ends = np.flatnonzero(np.maximum(column["terminated"], column["truncated"]))
            done = ends[-1] + 1 if ends.size else 0
            self._pending[i] = {k: v[done:].copy() for k, v in column.items()} if done < len(column["rewards"]) else None
            if done:
                parts.append({k: v[:done] for k, v in column.items()})
        if not parts:
            return {}
        episodes = {k: np.concatenate([p[k] for p in parts]) for k in _FIELDS}
        episodes["returns"] = self._returns(episodes)
        return episodes

    def _returns(self, ep: dict[str, np.ndarray]) -> np.ndarray:
        cfg = self.config
        rewards = ep["rewards"].astype(np.float64)
        if cfg.baseline == "value":  # a time limit is not the end of the task: bootstrap
            rewards = rewards + cfg.gamma * ep["truncated"] * ep["next_values"]
        ends = np.maximum(ep["terminated"], ep["truncated"])
        to_go = discounted_returns(rewards[:, None], ends[:, None], cfg.gamma)[:, 0]
        if cfg.reward_to_go:
            return to_go
        # every step weighted by its episode's discounted return from the start: G_0 of the episode
        starts = np.concatenate([[0], np.flatnonzero(ends)[:-1] + 1])
        return np.repeat(to_go[starts], np.diff(np.concatenate([starts, [len(ends)]]))).astype(np.float32)

    # --- the estimator ----------------------------------------------------------------------------
    def weights(self, returns: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        """(G − b) for each step: b is 0, the running mean of earlier returns, or V(s) (no gradient)."""
        cfg = self.config
        if cfg.baseline == "value":
            weights = returns - values.detach()
        elif cfg.baseline == "mean":
            # the first update has no history; it uses its own mean
            weights = returns - (self.baseline_mean if self.baseline_mean is not None else returns.mean())
        else:
            weights = returns
        if cfg.normalize_advantage and weights.shape[0] > 1:
            weights = (weights - weights.mean()) / (weights.std() + 1e-8)
        return weights

    def policy_loss(self, params: torch.Tensor, actions: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """−Σ_t w_t log π(a_t|s_t) over the given steps; ``update`` divides by the number of episodes."""
        return -(weights * self.head.log_prob(params, actions)).sum()

    def update(self, batch: RolloutBatch, progress: float = 0.0) -> LearnOut:
        cfg = self.config
        lr = self.set_learning_rate(progress)
        episodes = self.finished_episodes(batch)
        self.observe_batch(batch)
        if not episodes:
            return LearnOut({"episodes": 0.0, "learning_rate": lr})
        num_episodes = int(np.maximum(episodes["terminated"], episodes["truncated"]).sum())
        obs, actions, returns = (torch.as_tensor(a, device=self.device) for a in (
            self.normalize_obs(episodes["obs"]), episodes["actions"], episodes["returns"]))
        params, values = self.net(self.net.training_layout(obs))
        weights = self.weights(returns, values)
        policy_loss = self.policy_loss(params, actions, weights) / num_episodes
        loss = policy_loss
        metrics: dict[str, float] = {}
        if cfg.baseline == "value":
            value_loss = (returns - values).pow(2).mean()
            loss = loss + cfg.vf_coef * value_loss
            metrics["value_loss"] = value_loss.item()
            metrics["explained_variance"] = explained_variance(values.detach(), returns)
        entropy = self.head.entropy(params if cfg.ent_coef else params.detach()).mean()  # no graph at 0
        loss = loss - cfg.ent_coef * entropy
        self.flat.step(loss, self.optimizer, cfg.max_grad_norm)
        if cfg.baseline == "mean":
            batch_mean = returns.mean().item()
            m = cfg.baseline_momentum
            self.baseline_mean = batch_mean if self.baseline_mean is None else m * self.baseline_mean + (1 - m) * batch_mean
            metrics["baseline"] = self.baseline_mean
        metrics.update(policy_loss=policy_loss.item(), entropy=entropy.item(), episodes=float(num_episodes),
                       steps_trained=float(returns.shape[0]), mean_return_weight=returns.mean().item(), learning_rate=lr)
        return LearnOut(metrics)

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        state["baseline_mean"] = float("nan") if self.baseline_mean is None else self.baseline_mean
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        mean = float(state["baseline_mean"])
        self.baseline_mean = None if np.isnan(mean) else mean
