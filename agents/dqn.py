"""DQN and its extensions as independent switches; ``Rainbow`` is the preset with all of them on.

Mnih et al. 2015; double Q (van Hasselt et al. 2016), dueling (Wang et al. 2016), prioritized
replay (Schaul et al. 2016), n-step returns, noisy nets (Fortunato et al. 2018), distributional C51
(Bellemare et al. 2017), Rainbow (Hessel et al. 2018).

    target  y = R^(n) + γ^n (1 − terminated) Q_target(s', a*)     a* = argmax_a Q_target(s', a),
            or, with double, a* = argmax_a Q_online(s', a) (chosen online, valued by the target)
    loss    Huber(Q(s, a) − y) weighted by the importance weights (prioritized), or with
            distributional: the cross-entropy to the projected target distribution.

Exploration: ε-greedy on a linear schedule, Boltzmann as an option, or the noisy layers' own noise
(``noisy=True`` replaces ε). The replay buffer and the target network are saved with the agent.
"""
from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlkit.buffers import ReplayBuffer
from rlkit.errors import UnsupportedSpaceError
from rlkit.off_policy import ReplayAgent
from rlkit.networks import is_image_space, make_encoder
from rlkit.networks.heads import CategoricalHead
from rlkit.networks.q_head import QHead, project_distribution
from rlkit.optim import FlatParameters, TargetNetwork, set_learning_rate
from rlkit.types import LearnOut, ReplaySample
from rlkit.utils import configure_threads
from agents.configs import DQNConfig, RainbowConfig


class QNetwork(nn.Module):
    def __init__(self, obs_space: gym.Space, n_actions: int, cfg: DQNConfig):
        super().__init__()
        self.encoder = make_encoder(obs_space, cfg.policy, cfg.net_arch, cfg.activation)
        self.head = QHead(self.encoder.out_dim, n_actions, cfg.dueling, cfg.noisy, cfg.distributional,
                          cfg.atoms, cfg.v_min, cfg.v_max, cfg.noisy_sigma0)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values [B, n], or atom logits [B, n, atoms] when distributional."""
        return self.head(self.encoder(obs))

    def q_values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head.q_values(self(obs))


class DQN(ReplayAgent):
    """Deep Q-learning with double, dueling, prioritized, n-step, noisy and distributional switches."""

    config_class = DQNConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        if not isinstance(self.action_space, gym.spaces.Discrete):
            raise UnsupportedSpaceError(
                f"{type(self).__name__} needs a Discrete action space, got {self.action_space}. For Box "
                "actions use DDPG, PPO/PPO2, A2C or Reinforce."
            )
        image = is_image_space(self.observation_space)
        self.threads = configure_threads(cfg.torch_threads, compute_bound=image)
        self.n_actions = int(self.action_space.n)
        self.q_net = QNetwork(self.observation_space, self.n_actions, cfg).to(self.device)
        self.flat = FlatParameters(self.q_net)
        self.target = TargetNetwork(self.q_net)
        self.target_net = self.target.module
        self.optimizer = torch.optim.Adam([self.flat.param], lr=cfg.learning_rate, eps=cfg.adam_eps, fused=True)
        self.replay = ReplayBuffer.for_spaces(
            self.observation_space, cfg.num_envs, cfg.buffer_size, (), np.int64, gamma=cfg.gamma, n_step=cfg.n_step,
            prioritized=cfg.prioritized, alpha=cfg.prioritized_alpha, priority_eps=cfg.priority_eps, seed=cfg.seed,
        )
        self._last_train_step = 0
        self._last_target_update = 0

    # --- acting ---------------------------------------------------------------------------------
    def epsilon(self, progress: float) -> float:
        cfg = self.config
        if cfg.exploration_fraction == 0:
            return cfg.exploration_final_eps
        frac = min(1.0, progress / cfg.exploration_fraction)
        return cfg.exploration_initial_eps + frac * (cfg.exploration_final_eps - cfg.exploration_initial_eps)

    @torch.no_grad()
    def _q(self, obs: np.ndarray) -> torch.Tensor:
        return self.q_net.q_values(torch.as_tensor(obs, device=self.device))

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self._q(obs).argmax(-1).cpu().numpy()

    def explore(self, obs: np.ndarray, progress: float) -> np.ndarray:
        """Behaviour actions for a batch of observations (random before ``learning_starts``)."""
        cfg = self.config
        n = obs.shape[0]
        if self.num_steps < cfg.learning_starts:
            return self.np_rng.integers(0, self.n_actions, size=n)
        if cfg.noisy:
            self.q_net.head.reset_noise()
            return self._q(obs).argmax(-1).cpu().numpy()
        if cfg.exploration == "boltzmann":  # softmax(Q / T) is a categorical with logits Q / T
            return CategoricalHead.sample(self._q(obs) / cfg.boltzmann_temperature).cpu().numpy()
        actions = self.np_rng.integers(0, self.n_actions, size=n)
        greedy = self.np_rng.random(n) >= self.epsilon(progress)
        if greedy.any():  # the network only runs for the envs that act greedily
            actions[greedy] = self._q(obs[greedy]).argmax(-1).cpu().numpy()
        return actions

    # --- learning -------------------------------------------------------------------------------
    def train_step(self, progress: float) -> LearnOut | None:
        """Called after every vector step: learn every ``train_freq`` steps per env once
        ``learning_starts`` have passed, and update the target every ``target_update_interval``."""
        cfg = self.config
        if self.num_steps < cfg.learning_starts or self.replay.num_transitions < cfg.batch_size:
            return None
        out = None
        if self.num_steps - self._last_train_step >= cfg.train_freq * cfg.num_envs:
            self._last_train_step = self.num_steps
            if cfg.anneal_lr:
                set_learning_rate(self.optimizer, cfg.learning_rate * (1.0 - progress))
            for _ in range(cfg.gradient_steps):
                beta = cfg.prioritized_beta + (1.0 - cfg.prioritized_beta) * progress
                out = self.update(self.replay.sample(cfg.batch_size, beta))
                self.num_updates += 1
        if self.num_steps - self._last_target_update >= cfg.target_update_interval:
            self._last_target_update = self.num_steps
            self._update_target()
        return out

    def _update_target(self) -> None:
        """target ← τ online + (1 − τ) target: a copy at τ = 1, Polyak averaging below."""
        self.target.update(self.flat, self.config.tau)

    @torch.no_grad()
    def td_targets(self, next_obs: torch.Tensor, rewards: torch.Tensor, bootstrap: torch.Tensor) -> torch.Tensor:
        """y = R + bootstrap · Q_target(s', a*) [B], or the projected target distribution [B, atoms].
        ``bootstrap`` is γ^m (1 − terminated); a* comes from the online net with ``double``."""
        target_out = self.target_net(next_obs)
        target_q = self.target_net.head.q_values(target_out)
        next_actions = (self.q_net.q_values(next_obs) if self.config.double else target_q).argmax(-1)
        rows = torch.arange(next_actions.shape[0], device=next_actions.device)
        if self.config.distributional:
            next_probs = target_out[rows, next_actions].softmax(-1)
            return project_distribution(next_probs, rewards, bootstrap, self.q_net.head.support)
        return rewards + bootstrap * target_q[rows, next_actions]

    def update(self, sample: ReplaySample) -> LearnOut:
        cfg = self.config
        device = self.device
        obs, next_obs = (torch.as_tensor(a, device=device) for a in (sample.obs, sample.next_obs))
        actions = torch.as_tensor(sample.actions, device=device).long()
        rewards, terminated, discounts, weights = (
            torch.as_tensor(a, device=device) for a in (sample.rewards, sample.terminated, sample.discounts, sample.weights))
        bootstrap = discounts * (1.0 - terminated)
        if cfg.noisy:  # independent noise for the online net, the action choice and the target
            self.q_net.head.reset_noise()
            self.target_net.head.reset_noise()
        rows = torch.arange(actions.shape[0], device=device)
        out = self.q_net(obs)
        target = self.td_targets(next_obs, rewards, bootstrap)
        if cfg.distributional:
            log_probs = F.log_softmax(out[rows, actions], dim=-1)
            per_sample = -(target * log_probs).sum(-1)  # cross-entropy to the projected target
            td_errors = per_sample.detach()
            q_taken = (log_probs.exp() * self.q_net.head.support).sum(-1).detach()
        else:
            q = out[rows, actions]
            per_sample = F.smooth_l1_loss(q, target, reduction="none")
            td_errors = (target - q).detach()
            q_taken = q.detach()
        loss = (weights * per_sample).mean()
        self.flat.step(loss, self.optimizer, cfg.max_grad_norm)
        self.replay.update_priorities(sample.indices, td_errors.cpu().numpy())
        return LearnOut({"loss": loss.item(), "q_values": q_taken.mean().item(),
                         "td_error": td_errors.abs().mean().item()})

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"q_net": self.q_net.state_dict(), "target_net": self.target_net.state_dict(),
                 "optimizer": self.optimizer.state_dict(),
                 "schedule": torch.tensor([self._last_train_step, self._last_target_update])}
        return {**state, **self.replay_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.q_net.load_state_dict(state["q_net"])
        self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._last_train_step, self._last_target_update = (int(v) for v in state["schedule"])
        self.load_replay_state(state)


class Rainbow(DQN):
    """DQN with double, dueling, prioritized, 3-step, noisy and distributional all on (Hessel et al. 2018)."""

    config_class = RainbowConfig
