"""A2C: synchronous advantage actor-critic (Mnih et al. 2016, without the asynchrony).

    A_t  = Σ_{k<n} γ^k r_{t+k} + γ^n V(s_{t+n}) − V(s_t)      n-step, per env, cut at episode ends
           (or GAE(λ) with gae_lambda < 1)
    loss = −E[A_t log π(a_t|s_t)] + vf_coef E[(R_t − V(s_t))²] − ent_coef E[H(π(·|s_t))]

One gradient step per rollout of n_steps x num_envs transitions. RMSprop is the classic optimiser
(the A3C paper, SB3's default); Adam is a switch. Actor and critic share their trunk for CNNs and
are separate MLPs for vector observations unless ``share_trunk`` says otherwise.
"""
from __future__ import annotations

from typing import Any

import torch

from rlkit.buffers import valid_rows
from rlkit.on_policy import OnPolicyAgent, explained_variance
from rlkit.returns import compute_gae
from rlkit.types import LearnOut, RolloutBatch
from agents.configs import A2CConfig


class A2C(OnPolicyAgent):
    """Synchronous advantage actor-critic over ``num_envs`` parallel envs."""

    config_class = A2CConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        # One gradient step per rollout, with the parameters that collected it: the rollout's
        # forward passes are the update's, so the network may keep them (see forward_rollout).
        self.net.record_rollouts(self.config.n_steps * self.config.num_envs)

    def make_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        cfg = self.config
        if cfg.use_rms_prop:
            return torch.optim.RMSprop(params, lr=cfg.learning_rate, alpha=cfg.rms_prop_alpha, eps=cfg.rms_prop_eps)
        return torch.optim.Adam(params, lr=cfg.learning_rate, fused=True)

    def update(self, batch: RolloutBatch, progress: float = 0.0) -> LearnOut:
        cfg = self.config
        lr = self.set_learning_rate(progress)
        advantages, returns = compute_gae(
            self.training_rewards(batch), batch.values, batch.last_values, batch.terminated, batch.truncated,
            cfg.gamma, cfg.gae_lambda,
        )
        # The step after an episode end was an autoreset, not a decision: it is left out.
        obs, actions, old_values, advantages, returns = valid_rows(
            batch.valid, self.device, self.normalize_obs(batch.obs), batch.actions, batch.values, advantages, returns
        )
        params, values = self.net.forward_rollout(obs, batch.valid)
        if cfg.normalize_advantage and advantages.shape[0] > 1:
            advantages = (advantages - advantages.mean()) / (advantages.std() + 1e-8)
        policy_loss = -(advantages * self.head.log_prob(params, actions)).mean()
        value_loss = (returns - values).pow(2).mean()
        entropy = self.head.entropy(params if cfg.ent_coef else params.detach()).mean()  # no graph at 0
        loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy
        self.flat.step(loss, self.optimizer, cfg.max_grad_norm)
        self.net.forget_rollout()  # the parameters moved: what the rollout recorded is stale

        metrics = dict(zip(("policy_loss", "value_loss", "entropy"),
                           torch.stack([policy_loss, value_loss, entropy]).tolist()))
        metrics.update(explained_variance=explained_variance(old_values, returns), learning_rate=lr)
        self.observe_batch(batch)
        return LearnOut(metrics)
