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

import numpy as np
import torch

from rlkit.agent import Agent
from rlkit.buffers import RolloutBuffer, valid_rows
from rlkit.config import AgentConfig, check
from rlkit.networks import ActorCritic, is_image_space
from rlkit.networks.encoders import ACTIVATIONS
from rlkit.normalize import RunningMeanStd
from rlkit.optim import FlatParameters
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


class PPO(Agent):
    """PPO with the KL-penalty objective and adaptive β. ``PPO2`` is the same with ``objective="clip"``."""

    config_class = PPOConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        self.net = ActorCritic(
            self.observation_space, self.action_space, cfg.policy, cfg.net_arch, cfg.activation, cfg.share_trunk,
            cfg.log_std_init, type(self).__name__,
        ).to(self.device)
        self.head = self.net.head
        self.threads = configure_threads(cfg.torch_threads, uses_cnn=is_image_space(self.observation_space))
        # One flat parameter tensor and fused Adam: the optimiser step is one kernel on one tensor.
        self.flat = FlatParameters(self.net)
        self.optimizer = torch.optim.Adam([self.flat.param], lr=cfg.learning_rate, eps=cfg.adam_eps, fused=True)
        if cfg.numpy_inference:  # after FlatParameters: the NumPy views must see the final storage
            self.net.use_numpy_rollouts(self.np_rng)
        self.beta = cfg.kl_beta_init
        self.obs_rms = RunningMeanStd(self.observation_space.shape) if cfg.normalize_obs else None
        self.ret_rms = RunningMeanStd(()) if cfg.normalize_reward else None
        self._running_return = np.zeros(cfg.num_envs)

    # --- acting: NumPy in, NumPy out ------------------------------------------------------------
    def _normalize(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.obs_rms is None else self.obs_rms.normalize(obs)

    def policy_step(self, obs: np.ndarray) -> ActOut:
        return self.net.rollout_step(self._normalize(obs))

    def predict_values(self, obs: np.ndarray) -> np.ndarray:
        return self.net.rollout_values(self._normalize(obs))

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        params = self.net.params(torch.as_tensor(self._normalize(obs), device=self.device))
        return (self.head.mode(params) if deterministic else self.head.sample(params)).cpu().numpy()

    def make_rollout_buffer(self) -> RolloutBuffer:
        space = self.observation_space
        obs_dtype = np.uint8 if space.dtype == np.uint8 else np.float32
        action_dtype = np.int64 if self.head.action_dtype == torch.long else np.float32
        return RolloutBuffer(
            self.config.n_steps, self.config.num_envs, space.shape, obs_dtype, self.head.action_shape, action_dtype,
            self.head.param_dim,
        )

    # --- learning -------------------------------------------------------------------------------
    def _scale_rewards(self, batch: RolloutBatch) -> np.ndarray:
        """Divide rewards by the running std of the discounted return (SB3's VecNormalize)."""
        returns = np.empty(batch.rewards.shape)
        running = self._running_return
        ends = np.maximum(batch.terminated, batch.truncated)
        for t in range(batch.rewards.shape[0]):
            running = running * self.config.gamma + batch.rewards[t]
            returns[t] = running
            running = running * (1.0 - ends[t])
        self._running_return = running
        self.ret_rms.update(returns[batch.valid])
        return np.clip(batch.rewards / np.sqrt(self.ret_rms.var + 1e-8), -10.0, 10.0).astype(np.float32)

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
        obs, actions, old_log_probs, old_values, old_params, advantages, returns = valid_rows(
            batch.valid, self.device, self._normalize(batch.obs), batch.actions, batch.log_probs, batch.values,
            batch.dist_params, advantages, returns,
        )

        n = obs.shape[0]
        losses, log_ratios = [], []  # per minibatch, reduced once at the end (fewer tiny ops per step)
        stop = False
        for _ in range(cfg.n_epochs):
            # Shuffle once per epoch, then take contiguous slices: one gather per tensor per epoch
            # instead of one per minibatch.
            perm = torch.randperm(n, device=self.device)
            epoch = [t[perm] for t in (obs, actions, old_log_probs, old_values, old_params, advantages, returns)]
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

                self.flat.zero_grad()
                loss.backward()
                self.flat.clip_grad_norm_(cfg.max_grad_norm)
                self.optimizer.step()

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
        var_returns = returns.var()
        metrics["explained_variance"] = (1 - (returns - old_values).var() / var_returns).item() if var_returns > 0 else 0.0
        metrics.update(learning_rate=lr, clip_range=clip, minibatches=float(len(losses)))
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
                 "running_return": torch.from_numpy(self._running_return.copy())}
        if self.obs_rms is not None:
            state["obs_rms"] = self.obs_rms.state_dict()
        if self.ret_rms is not None:
            state["ret_rms"] = self.ret_rms.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.beta = float(state["beta"])
        self._running_return = state["running_return"].numpy().copy()
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        if self.ret_rms is not None:
            self.ret_rms.load_state_dict(state["ret_rms"])


def _approx_kl(log_ratio: torch.Tensor) -> torch.Tensor:
    """Schulman's low-variance estimator of KL(old || new) from log(π_new / π_old) of the taken actions."""
    return (log_ratio.exp() - 1 - log_ratio).mean()


class PPO2(PPO):
    """PPO with the clipped surrogate objective (and optional value clipping, target-KL early stop)."""

    config_class = PPO2Config
