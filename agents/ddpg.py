"""DDPG: deterministic policy gradient through a learned critic (Lillicrap et al. 2016).

    critic  y = R^(n) + γ^n (1 − terminated) Q̂(s', π̂(s'))      Q̂, π̂: Polyak-averaged target copies
            loss = (Q(s, a) − y)²
    actor   loss = −Q(s, π(s)), the critic frozen for this step (only the actor moves)

Actions live in two units. The networks work in *unit* actions: each bounded dimension of the Box
is mapped affinely onto [−1, 1] and the actor ends in tanh there; an unbounded dimension is left
as it is. The env receives *env* actions. Exploration noise (Gaussian, or Ornstein-Uhlenbeck) is
added in unit space, so ``action_noise_std`` means the same for every bound, and the result is
clipped back to the bounds. The first ``learning_starts`` steps act uniformly at random.
The replay buffer holds env actions; the critic sees them in unit space.
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
from rlkit.networks import is_image_space, make_encoder
from rlkit.off_policy import ReplayAgent
from rlkit.networks.encoders import ACTIVATIONS
from rlkit.optim import FlatParameters, TargetNetwork
from rlkit.types import LearnOut, ReplaySample
from rlkit.utils import configure_threads
from agents.configs import DDPGConfig


class ActionScale(nn.Module):
    """The affine map between unit and env actions, per dimension; identity where unbounded."""

    def __init__(self, space: gym.spaces.Box):
        super().__init__()
        low, high = space.low.astype(np.float64), space.high.astype(np.float64)
        bounded = np.isfinite(low) & np.isfinite(high)
        low, high = np.where(bounded, low, -1.0), np.where(bounded, high, 1.0)  # unbounded: identity
        center, half = (high + low) / 2, (high - low) / 2
        self.bounded = bounded
        self.register_buffer("center", torch.as_tensor(center, dtype=torch.float32))
        self.register_buffer("half_range", torch.as_tensor(half, dtype=torch.float32))
        self.register_buffer("bounded_mask", torch.as_tensor(bounded))
        self.np_center, self.np_half = center.astype(np.float32), half.astype(np.float32)
        self.env_low = np.where(bounded, space.low, -np.inf).astype(np.float32)
        self.env_high = np.where(bounded, space.high, np.inf).astype(np.float32)

    def to_env(self, unit: np.ndarray) -> np.ndarray:
        """Unit actions to env units; clipped to the bounds so float rounding never steps past them."""
        return np.clip(self.np_center + self.np_half * unit, self.env_low, self.env_high).astype(np.float32)

    def to_unit(self, actions: torch.Tensor) -> torch.Tensor:
        return (actions - self.center) / self.half_range

    def squash(self, pre_activation: torch.Tensor) -> torch.Tensor:
        """tanh on bounded dimensions, identity on unbounded ones."""
        if bool(self.bounded.all()):
            return torch.tanh(pre_activation)
        return torch.where(self.bounded_mask, torch.tanh(pre_activation), pre_activation)


def _hidden_layers(in_dim: int, sizes: tuple[int, ...], activation: str) -> list[nn.Module]:
    # PyTorch's default Linear initialisation, as in SB3's DDPG, so the two start alike
    layers: list[nn.Module] = []
    for size in sizes:
        layers += [nn.Linear(in_dim, size), ACTIVATIONS[activation]()]
        in_dim = size
    return layers


class Actor(nn.Module):
    """obs -> features -> hidden -> unit actions (tanh on bounded dimensions)."""

    def __init__(self, obs_space: gym.spaces.Box, scale: ActionScale, cfg: DDPGConfig):
        super().__init__()
        self.features, dim = _features(obs_space)
        act_dim = scale.center.shape[0]
        self.net = nn.Sequential(*_hidden_layers(dim, cfg.net_arch, cfg.activation), nn.Linear(cfg.net_arch[-1], act_dim))
        self.scale = scale

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.scale.squash(self.net(self.features(obs)))


class Critic(nn.Module):
    """Q(obs, unit action): features of obs, concatenated with the action, -> hidden -> 1."""

    def __init__(self, obs_space: gym.spaces.Box, act_dim: int, cfg: DDPGConfig):
        super().__init__()
        self.features, dim = _features(obs_space)
        self.net = nn.Sequential(*_hidden_layers(dim + act_dim, cfg.net_arch, cfg.activation), nn.Linear(cfg.net_arch[-1], 1))

    def forward(self, obs: torch.Tensor, unit_actions: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([self.features(obs), unit_actions], dim=-1)).squeeze(-1)


def _features(obs_space: gym.spaces.Box) -> tuple[nn.Module, int]:
    """NatureCNN for [C, H, W] frames (a typed error for channels-last images), otherwise the
    flattened float observation (an MLP encoder with no hidden layers)."""
    encoder = make_encoder(obs_space, hidden_sizes=())
    return encoder, encoder.out_dim


class DDPG(ReplayAgent):
    """Deep deterministic policy gradient for Box action spaces."""

    config_class = DDPGConfig

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        if not isinstance(self.action_space, gym.spaces.Box):
            raise UnsupportedSpaceError(
                f"DDPG needs a Box (continuous) action space, got {self.action_space}. For Discrete actions "
                "use DQN or Rainbow, PPO/PPO2, A2C or Reinforce."
            )
        if not isinstance(self.observation_space, gym.spaces.Box):
            raise UnsupportedSpaceError(
                f"DDPG takes Box observations, got {self.observation_space}; wrap the env with "
                "gymnasium.wrappers.FlattenObservation (Dict/Tuple) or one-hot encode Discrete observations."
            )
        # One thread for vector observations, as the other agents and the README say: on a few cores
        # shared with env stepping, more threads slow the per-step forward passes more than they
        # speed up the batch-256 updates.
        self.threads = configure_threads(cfg.torch_threads, compute_bound=is_image_space(self.observation_space))
        self.scale = ActionScale(self.action_space).to(self.device)
        self.act_dim = int(np.prod(self.action_space.shape))
        self.actor = Actor(self.observation_space, self.scale, cfg).to(self.device)
        self.critic = Critic(self.observation_space, self.act_dim, cfg).to(self.device)
        self.actor_flat, self.critic_flat = FlatParameters(self.actor), FlatParameters(self.critic)
        self.actor_target, self.critic_target = TargetNetwork(self.actor), TargetNetwork(self.critic)
        self.actor_optimizer = torch.optim.Adam([self.actor_flat.param], lr=cfg.learning_rate, fused=True)
        self.critic_optimizer = torch.optim.Adam([self.critic_flat.param], lr=cfg.critic_learning_rate or cfg.learning_rate,
                                                 fused=True)
        self.replay = ReplayBuffer.for_spaces(self.observation_space, cfg.num_envs, cfg.buffer_size, (self.act_dim,),
                                              np.float32, gamma=cfg.gamma, n_step=cfg.n_step, seed=cfg.seed)
        self.noise_state = np.zeros((cfg.num_envs, self.act_dim), dtype=np.float32)  # Ornstein-Uhlenbeck
        self._last_train_step = 0

    # --- acting ---------------------------------------------------------------------------------
    @torch.no_grad()
    def _unit_actions(self, obs: np.ndarray) -> np.ndarray:
        return self.actor(torch.as_tensor(obs, device=self.device)).cpu().numpy()

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        """The actor's actions in env units (DDPG's policy is deterministic either way)."""
        return self.scale.to_env(self._unit_actions(obs))

    def explore(self, obs: np.ndarray, progress: float) -> np.ndarray:
        """Behaviour actions in env units: random before ``learning_starts``, then actor + noise."""
        cfg, n = self.config, obs.shape[0]
        if self.num_steps < cfg.learning_starts:
            unit = np.where(self.scale.bounded, self.np_rng.uniform(-1.0, 1.0, (n, self.act_dim)),
                            self.np_rng.standard_normal((n, self.act_dim)))
            return self.scale.to_env(unit)
        return self.scale.to_env(self._unit_actions(obs) + self._noise(n))  # clipped to the bounds there

    def _noise(self, n: int) -> np.ndarray:
        cfg = self.config
        if cfg.action_noise == "none" or cfg.action_noise_std == 0:
            return np.zeros((n, self.act_dim), dtype=np.float32)
        white = self.np_rng.standard_normal((n, self.act_dim)).astype(np.float32)
        if cfg.action_noise == "normal":
            return cfg.action_noise_std * white
        # dx = θ (0 − x) dt + σ √dt N(0, 1), one process per env, restarted with each episode
        self.noise_state += -cfg.ou_theta * self.noise_state * cfg.ou_dt + cfg.action_noise_std * np.sqrt(cfg.ou_dt) * white
        return self.noise_state.copy()

    def end_episodes(self, done: np.ndarray) -> None:
        self.noise_state[done] = 0.0

    # --- learning -------------------------------------------------------------------------------
    def train_step(self, progress: float) -> LearnOut | None:
        """Called after every vector step: ``gradient_steps`` updates every ``train_freq`` steps per
        env once ``learning_starts`` have passed."""
        cfg = self.config
        if self.num_steps < cfg.learning_starts or self.replay.num_transitions < cfg.batch_size:
            return None
        if self.num_steps - self._last_train_step < cfg.train_freq * cfg.num_envs:
            return None
        self._last_train_step = self.num_steps
        out = None
        for _ in range(cfg.gradient_steps):
            out = self.update(self.replay.sample(cfg.batch_size))
            self.num_updates += 1
        return out

    @torch.no_grad()
    def td_targets(self, next_obs: torch.Tensor, rewards: torch.Tensor, bootstrap: torch.Tensor) -> torch.Tensor:
        """y = R + bootstrap · Q̂(s', π̂(s')) [B]; ``bootstrap`` is γ^m (1 − terminated)."""
        return rewards + bootstrap * self.critic_target.module(next_obs, self.actor_target.module(next_obs))

    def update(self, sample: ReplaySample) -> LearnOut:
        cfg, device = self.config, self.device
        obs, next_obs = (torch.as_tensor(a, device=device) for a in (sample.obs, sample.next_obs))
        unit_actions = self.scale.to_unit(torch.as_tensor(sample.actions, device=device))
        rewards, terminated, discounts = (torch.as_tensor(a, device=device)
                                          for a in (sample.rewards, sample.terminated, sample.discounts))
        target = self.td_targets(next_obs, rewards, discounts * (1.0 - terminated))

        q = self.critic(obs, unit_actions)
        critic_loss = F.mse_loss(q, target)
        self.critic_flat.step(critic_loss, self.critic_optimizer, cfg.max_grad_norm)

        # Ascend Q(s, π(s)) in the actor's parameters only: the critic takes no gradient here.
        self.critic.requires_grad_(False)
        actor_loss = -self.critic(obs, self.actor(obs)).mean()
        self.actor_flat.step(actor_loss, self.actor_optimizer, cfg.max_grad_norm)
        self.critic.requires_grad_(True)

        self.critic_target.update(self.critic_flat, cfg.tau)
        self.actor_target.update(self.actor_flat, cfg.tau)
        return LearnOut({"critic_loss": critic_loss.item(), "actor_loss": actor_loss.item(), "q_values": q.mean().item()})

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"actor": self.actor.state_dict(), "critic": self.critic.state_dict(),
                 "actor_target": self.actor_target.module.state_dict(), "critic_target": self.critic_target.module.state_dict(),
                 "actor_optimizer": self.actor_optimizer.state_dict(), "critic_optimizer": self.critic_optimizer.state_dict(),
                 "noise_state": torch.from_numpy(self.noise_state.copy()),
                 "schedule": torch.tensor([self._last_train_step])}
        return {**state, **self.replay_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.actor.load_state_dict(state["actor"])
        self.critic.load_state_dict(state["critic"])
        self.actor_target.module.load_state_dict(state["actor_target"])
        self.critic_target.module.load_state_dict(state["critic_target"])
        self.actor_optimizer.load_state_dict(state["actor_optimizer"])
        self.critic_optimizer.load_state_dict(state["critic_optimizer"])
        self.noise_state[:] = state["noise_state"].numpy()
        self._last_train_step = int(state["schedule"][0])
        self.load_replay_state(state)
