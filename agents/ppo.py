"""PPO (KL penalty with adaptive beta) and PPO2 (clipped surrogate): one file, one switch.

Schulman et al. 2017, https://arxiv.org/abs/1707.06347.

    r_t(θ)   = π_θ(a_t|s_t) / π_θk(a_t|s_t)
    PPO      maximise  E[r_t A_t] - β KL(π_θk(·|s) || π_θ(·|s))        β x2 if KL > kl_target·kl_tolerance,
                                                                      β /2 if KL < kl_target/kl_tolerance
    PPO2     maximise  E[min(r_t A_t, clip(r_t, 1-ε, 1+ε) A_t)]

Both: GAE(λ) advantages, per-minibatch advantage normalisation, value loss (optionally clipped),
entropy bonus, gradient clipping, optional learning-rate / clip-range annealing to 0.
"""
from __future__ import annotations

from typing import Any

import torch

from rlkit.buffers import take_rows, valid_rows
from rlkit.on_policy import OnPolicyAgent, explained_variance
from rlkit.returns import compute_gae
from rlkit.types import LearnOut, RolloutBatch
from agents.configs import PPO2Config, PPOConfig


class PPO(OnPolicyAgent):
    """PPO with the KL-penalty objective and adaptive β. ``PPO2`` is the same with ``objective="clip"``."""

    config_class = PPOConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        self.beta = self.config.kl_beta_init

    def make_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.config.learning_rate, eps=self.config.adam_eps, fused=True)

    def update(self, batch: RolloutBatch, progress: float = 0.0) -> LearnOut:
        """One PPO update on a rollout; ``progress`` is the fraction of the run done (schedules)."""
        cfg = self.config
        lr = self.set_learning_rate(progress)
        clip = cfg.clip_range * ((1.0 - progress) if cfg.anneal_clip_range else 1.0)
        advantages, returns = compute_gae(
            self.training_rewards(batch), batch.values, batch.last_values, batch.terminated, batch.truncated, cfg.gamma, cfg.gae_lambda
        )
        # Train only on valid rows: the step after an episode end was an autoreset, not a decision.
        obs, actions, old_log_probs, old_values, old_params, advantages, returns = valid_rows(
            batch.valid, self.device, self.normalize_obs(batch.obs), batch.actions, batch.log_probs, batch.values,
            batch.dist_params, advantages, returns,
        )

        obs = self.net.training_layout(obs)
        n = obs.shape[0]
        losses, log_ratios = [], []  # per minibatch, reduced once at the end (fewer tiny ops per step)
        stop = False
        for _ in range(cfg.n_epochs):
            # Shuffle once per epoch, then take contiguous slices: one gather per tensor per epoch
            # instead of one per minibatch.
            perm = torch.randperm(n, device=self.device)
            epoch = [take_rows(t, perm) for t in (obs, actions, old_log_probs, old_values, old_params, advantages, returns)]
            for start in range(0, n, cfg.batch_size):
                mb_obs, mb_actions, mb_old_log_probs, mb_old_values, mb_old_params, adv, mb_returns = (
                    t[start:start + cfg.batch_size] for t in epoch
                )
                params, values = self.net(mb_obs)
                log_ratio = self.head.log_prob(params, mb_actions) - mb_old_log_probs
                ratio = log_ratio.exp()
                if cfg.normalize_advantage and adv.shape[0] > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                if cfg.objective == "clip":
                    policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()
                else:
                    kl = self.head.kl(mb_old_params, params).mean()
                    policy_loss = -(ratio * adv).mean() + self.beta * kl
                if cfg.clip_range_vf is not None:
                    clipped = mb_old_values + (values - mb_old_values).clamp(-cfg.clip_range_vf, cfg.clip_range_vf)
                    value_loss = torch.max((values - mb_returns).pow(2), (clipped - mb_returns).pow(2)).mean()
                else:
                    value_loss = (values - mb_returns).pow(2).mean()
                loss = policy_loss + cfg.vf_coef * value_loss
                if cfg.ent_coef:  # skipped at 0: the bonus would only add nodes to the backward pass
                    loss = loss - cfg.ent_coef * self.head.entropy(params).mean()

                self.flat.step(loss, self.optimizer, cfg.max_grad_norm)

                losses.append(torch.stack([policy_loss, value_loss]).detach())
                log_ratios.append(log_ratio.detach())
                if cfg.target_kl is not None and _approx_kl(log_ratio.detach()).item() > 1.5 * cfg.target_kl:
                    stop = True
                    break
            if stop:
                break

        log_ratio = torch.cat(log_ratios)
        metrics = dict(zip(("policy_loss", "value_loss"), torch.stack(losses).mean(0).tolist()))
        metrics["entropy"] = self.head.entropy(old_params).mean().item()  # of the policy that collected the batch
        metrics["approx_kl"] = _approx_kl(log_ratio).item()
        metrics["clip_fraction"] = ((log_ratio.exp() - 1).abs() > clip).float().mean().item()
        if cfg.objective == "kl":
            metrics["kl"] = self._adapt_beta(obs, old_params)
            metrics["beta"] = self.beta
        metrics["explained_variance"] = explained_variance(old_values, returns)
        metrics.update(learning_rate=lr, clip_range=clip, minibatches=float(len(losses)))
        self.observe_batch(batch)
        return LearnOut(metrics)

    @torch.no_grad()
    def _adapt_beta(self, obs: torch.Tensor, old_params: torch.Tensor) -> float:
        """Measure KL(π_old || π_new) averaged over the batch's states; move β by the PPO-paper rule."""
        cfg = self.config
        kl = torch.cat([
            self.head.kl(old_params[i], self.net.params(obs[i]))
            for i in torch.arange(obs.shape[0], device=self.device).split(4096)
        ]).mean().item()
        if kl > cfg.kl_target * cfg.kl_tolerance:
            self.beta *= cfg.kl_beta_factor
        elif kl < cfg.kl_target / cfg.kl_tolerance:
            self.beta /= cfg.kl_beta_factor
        return kl

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "beta": self.beta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.beta = float(state["beta"])


def _approx_kl(log_ratio: torch.Tensor) -> torch.Tensor:
    """Schulman's low-variance estimator of KL(old || new) from log(π_new / π_old) of the taken actions."""
    return (log_ratio.exp() - 1 - log_ratio).mean()


class PPO2(PPO):
    """PPO with the clipped surrogate objective (and optional value clipping, target-KL early stop)."""

    config_class = PPO2Config
