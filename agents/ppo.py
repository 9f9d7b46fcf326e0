"""PPO (KL penalty with adaptive beta) and PPO2 (clipped surrogate): one file, one switch.

Schulman et al. 2017, https://arxiv.org/abs/1707.06347; ALGORITHMS.md §3-4.

    r_t(θ)   = π_θ(a_t|s_t) / π_θk(a_t|s_t)
    PPO      maximise  E[r_t A_t] - β KL(π_θk(·|s) || π_θ(·|s))        β x2 if KL > kl_target·kl_tolerance,
                                                                      β /2 if KL < kl_target/kl_tolerance
    PPO2     maximise  E[min(r_t A_t, clip(r_t, 1-ε, 1+ε) A_t)]

Both: GAE(λ) advantages, per-minibatch advantage normalisation, value loss (optionally clipped),
entropy bonus, gradient clipping, optional learning-rate / clip-range annealing to 0.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.agent import Agent
from rlkit.buffers import RolloutBuffer
from rlkit.config import AgentConfig, check
from rlkit.networks.encoders import ACTIVATIONS
from rlkit.networks import TwinMLP, ValueHead, is_image_space, make_encoder, make_policy_head
from rlkit.normalize import RunningMeanStd
from rlkit.returns import compute_gae
from rlkit.types import ActOut, LearnOut, RolloutBatch
from rlkit.utils import configure_threads


@dataclass
class PPOConfig(AgentConfig):
    learning_rate: float = 3e-4
    n_steps: int = 2048  # steps per env per rollout
    batch_size: int = 64  # minibatch size
    n_epochs: int = 10
    gamma: float = 0.99
    gae_lambda: float = 0.95
    objective: str = "kl"  # "kl": penalty with adaptive β (PPO); "clip": clipped surrogate (PPO2)
    clip_range: float = 0.2
    clip_range_vf: Optional[float] = None  # clip the value update around the old value (None: off)
    kl_target: float = 0.01  # d_targ of the PPO paper
    kl_tolerance: float = 1.5  # β changes when the KL leaves [kl_target / tol, kl_target * tol]
    kl_beta_factor: float = 2.0
    kl_beta_init: float = 1.0
    target_kl: Optional[float] = None  # stop the epochs early when approx KL > 1.5 * target_kl (as SB3)
    normalize_advantage: bool = True
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    anneal_lr: bool = False  # linear decay to 0 over the run
    anneal_clip_range: bool = False
    normalize_obs: bool = False  # running mean/std of observations (stored in checkpoints)
    normalize_reward: bool = False  # scale rewards by the std of the discounted return
    policy: str = "auto"  # "auto", "mlp" or "cnn"
    net_arch: tuple[int, ...] = (64, 64)
    activation: str = "tanh"
    share_trunk: Optional[bool] = None  # one encoder for actor and critic; None: yes for CNN, no for MLP
    log_std_init: float = 0.0
    adam_eps: float = 1e-5

    def validate(self) -> None:
        super().validate()
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.n_steps >= 1 and self.batch_size >= 1 and self.n_epochs >= 1, "n_steps, batch_size and n_epochs must be >= 1")
        check(self.batch_size <= self.n_steps * self.num_envs,
              f"batch_size {self.batch_size} exceeds the rollout size n_steps * num_envs = {self.n_steps * self.num_envs}")
        check(0 < self.gamma <= 1 and 0 <= self.gae_lambda <= 1, "gamma must be in (0, 1] and gae_lambda in [0, 1]")
        check(self.objective in ("kl", "clip"), f"objective must be 'kl' (PPO) or 'clip' (PPO2), got {self.objective!r}")
        check(self.clip_range > 0, f"clip_range must be > 0, got {self.clip_range}")
        check(self.kl_target > 0 and self.kl_tolerance > 1 and self.kl_beta_factor > 1 and self.kl_beta_init >= 0,
              "need kl_target > 0, kl_tolerance > 1, kl_beta_factor > 1, kl_beta_init >= 0")
        check(self.max_grad_norm > 0, f"max_grad_norm must be > 0, got {self.max_grad_norm}")
        check(self.policy in ("auto", "mlp", "cnn"), f"policy must be 'auto', 'mlp' or 'cnn', got {self.policy!r}")
        check(self.activation in ACTIVATIONS, f"activation {self.activation!r} unknown; choose one of {sorted(ACTIVATIONS)}")


@dataclass
class PPO2Config(PPOConfig):
    objective: str = "clip"


class ActorCritic(nn.Module):
    """Encoder(s) -> policy head (distribution params) and value head.

    Separate actor and critic MLPs over vector observations run as one ``TwinMLP``; a CNN (or
    ``share_trunk=True``) is one encoder feeding both heads.
    """

    def __init__(self, obs_space, action_space, cfg: PPOConfig, agent_name: str):
        super().__init__()
        shared = cfg.share_trunk if cfg.share_trunk is not None else is_image_space(obs_space) and cfg.policy != "mlp"
        twin = not shared and cfg.policy != "cnn" and not is_image_space(obs_space) and isinstance(obs_space, gym.spaces.Box)
        if twin:
            self.encoder = TwinMLP(int(np.prod(obs_space.shape)), cfg.net_arch, cfg.activation)
        else:
            self.encoder = make_encoder(obs_space, cfg.policy, cfg.net_arch, cfg.activation)
        self.twin = twin
        self.critic_encoder = None if shared or twin else make_encoder(obs_space, cfg.policy, cfg.net_arch, cfg.activation)
        self.head = make_policy_head(action_space, self.encoder.out_dim, cfg.log_std_init, agent_name)
        self.value_head = ValueHead(self.encoder.out_dim)

    def _features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.twin:
            both = self.encoder(obs)
            return both[0], both[1]
        features = self.encoder(obs)
        return features, features if self.critic_encoder is None else self.critic_encoder(obs)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actor, critic = self._features(obs)
        return self.head(actor), self.value_head(critic)

    def params(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(obs)[0])

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value_head(self._features(obs)[1])


class PPO(Agent):
    """PPO with the KL-penalty objective and adaptive β. ``PPO2`` is the same with ``objective="clip"``."""

    config_class = PPOConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        self.net = ActorCritic(self.observation_space, self.action_space, cfg, type(self).__name__).to(self.device)
        self.head = self.net.head
        self.threads = configure_threads(cfg.torch_threads, uses_cnn=is_image_space(self.observation_space))
        # fused Adam: one kernel for all parameters instead of ~10 small ops per tensor.
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=cfg.learning_rate, eps=cfg.adam_eps, fused=True)
        self.beta = cfg.kl_beta_init
        shape = self.observation_space.shape
        self.obs_rms = RunningMeanStd(shape, self.device) if cfg.normalize_obs else None
        self.ret_rms = RunningMeanStd((), self.device) if cfg.normalize_reward else None
        self._running_return = torch.zeros(cfg.num_envs, device=self.device)

    # --- acting ---------------------------------------------------------------------------------
    def _normalize(self, obs: torch.Tensor) -> torch.Tensor:
        if self.obs_rms is None:
            return obs
        z = (obs.double() - self.obs_rms.mean) / torch.sqrt(self.obs_rms.var + 1e-8)
        return z.clamp(-10.0, 10.0).float()

    @torch.inference_mode()
    def policy_step(self, obs: torch.Tensor) -> ActOut:
        params, values = self.net(self._normalize(obs))
        actions = self.head.sample(params)
        return ActOut(actions, self.head.log_prob(params, actions), values, params)

    @torch.inference_mode()
    def predict_values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net.values(self._normalize(obs))

    def predict(self, obs: torch.Tensor, deterministic: bool) -> torch.Tensor:
        params = self.net.params(self._normalize(obs))
        return self.head.mode(params) if deterministic else self.head.sample(params)

    def make_rollout_buffer(self) -> RolloutBuffer:
        space = self.observation_space
        obs_dtype = torch.uint8 if space.dtype.name == "uint8" else torch.float32
        return RolloutBuffer(
            self.config.n_steps, self.config.num_envs, space.shape, obs_dtype,
            self.head.action_shape, self.head.action_dtype, self.head.param_dim, self.device,
        )

    # --- learning -------------------------------------------------------------------------------
    def _scale_rewards(self, batch: RolloutBatch) -> torch.Tensor:
        """Divide rewards by the running std of the discounted return (SB3's VecNormalize)."""
        returns = torch.empty_like(batch.rewards)
        running = self._running_return
        ends = torch.maximum(batch.terminated, batch.truncated)
        for t in range(batch.rewards.shape[0]):
            running = running * self.config.gamma + batch.rewards[t]
            returns[t] = running
            running = running * (1.0 - ends[t])
        self._running_return = running
        self.ret_rms.update(returns[batch.valid])
        return (batch.rewards / torch.sqrt(self.ret_rms.var.float() + 1e-8)).clamp(-10.0, 10.0)

    def update(self, batch: RolloutBatch, progress_remaining: float = 1.0) -> LearnOut:
        cfg = self.config
        lr = cfg.learning_rate * (progress_remaining if cfg.anneal_lr else 1.0)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        clip = cfg.clip_range * (progress_remaining if cfg.anneal_clip_range else 1.0)
        rewards = self._scale_rewards(batch) if self.ret_rms is not None else batch.rewards
        advantages, returns = compute_gae(
            rewards, batch.values, batch.last_values, batch.terminated, batch.truncated, cfg.gamma, cfg.gae_lambda
        )
        # Train only on valid rows: the step after an episode end was an autoreset, not a decision.
        keep = batch.valid.reshape(-1).nonzero().squeeze(-1)
        obs = self._normalize(batch.obs.reshape(-1, *batch.obs.shape[2:])[keep])
        actions = batch.actions.reshape(-1, *batch.actions.shape[2:])[keep]
        old_log_probs = batch.log_probs.reshape(-1)[keep]
        old_values = batch.values.reshape(-1)[keep]
        old_params = batch.dist_params.reshape(-1, batch.dist_params.shape[-1])[keep]
        advantages, returns = advantages.reshape(-1)[keep], returns.reshape(-1)[keep]

        n = keep.numel()
        sums = torch.zeros(6, device=self.device)  # policy, value, entropy, approx_kl, clip_frac, count
        stop = False
        for _ in range(cfg.n_epochs):
            for idx in torch.randperm(n, device=self.device).split(cfg.batch_size):
                params, values = self.net(obs[idx])
                log_probs = self.head.log_prob(params, actions[idx])
                log_ratio = log_probs - old_log_probs[idx]
                ratio = log_ratio.exp()
                adv = advantages[idx]
                if cfg.normalize_advantage and idx.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                if cfg.objective == "clip":
                    policy_loss = -torch.min(ratio * adv, ratio.clamp(1 - clip, 1 + clip) * adv).mean()
                else:
                    kl = self.head.kl(old_params[idx], params).mean()
                    policy_loss = -(ratio * adv).mean() + self.beta * kl
                if cfg.clip_range_vf is not None:
                    old_v = old_values[idx]
                    clipped = old_v + (values - old_v).clamp(-cfg.clip_range_vf, cfg.clip_range_vf)
                    value_loss = torch.max((values - returns[idx]).pow(2), (clipped - returns[idx]).pow(2)).mean()
                else:
                    value_loss = (values - returns[idx]).pow(2).mean()
                entropy = self.head.entropy(params).mean()
                loss = policy_loss + cfg.vf_coef * value_loss - cfg.ent_coef * entropy

                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
                self.optimizer.step()

                with torch.no_grad():
                    approx_kl = ((ratio - 1) - log_ratio).mean()  # Schulman's low-variance estimator
                    clip_frac = ((ratio - 1).abs() > clip).float().mean()
                    sums += torch.stack([policy_loss.detach(), value_loss.detach(), entropy.detach(), approx_kl, clip_frac,
                                         torch.ones((), device=self.device)])
                if cfg.target_kl is not None and approx_kl.item() > 1.5 * cfg.target_kl:
                    stop = True
                    break
            if stop:
                break

        metrics = dict(zip(("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"),
                           (sums[:5] / sums[5]).tolist()))
        if cfg.objective == "kl":
            metrics["kl"] = self._adapt_beta(obs, old_params)
            metrics["beta"] = self.beta
        var_returns = returns.var()
        metrics["explained_variance"] = (1 - (returns - old_values).var() / var_returns).item() if var_returns > 0 else 0.0
        metrics.update(learning_rate=lr, clip_range=clip, minibatches=float(sums[5].item()))
        if self.obs_rms is not None:
            self.obs_rms.update(batch.obs[batch.valid])
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
        state = {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(), "beta": self.beta,
                 "running_return": self._running_return.cpu()}
        if self.obs_rms is not None:
            state["obs_rms"] = self.obs_rms.state_dict()
        if self.ret_rms is not None:
            state["ret_rms"] = self.ret_rms.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.beta = float(state["beta"])
        self._running_return = state["running_return"].to(self.device)
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        if self.ret_rms is not None:
            self.ret_rms.load_state_dict(state["ret_rms"])


class PPO2(PPO):
    """PPO with the clipped surrogate objective (and optional value clipping, target-KL early stop)."""

    config_class = PPO2Config
