"""Policy and value heads.

A policy head maps features to flat distribution parameters (``params``, shape [B, P]); the
functions that sample, score and compare distributions take those params, so a rollout can store
them and PPO can compute the exact KL between the old and the new policy. torch.distributions is
avoided on purpose: its argument checks cost more than the maths at these sizes.
"""
from __future__ import annotations

import math

import gymnasium as gym
import torch
from torch import nn
from torch.nn import functional as F

from rlkit.errors import UnsupportedSpaceError
from rlkit.networks.encoders import layer_init

LOG_2PI = math.log(2 * math.pi)


class CategoricalHead(nn.Module):
    """Discrete actions; params are the logits [B, n]."""

    def __init__(self, in_dim: int, n: int):
        super().__init__()
        self.linear = layer_init(nn.Linear(in_dim, n), gain=0.01)
        self.param_dim, self.action_shape, self.action_dtype = n, (), torch.long

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.linear(features, self.linear.weight, self.linear.bias)

    @staticmethod
    def sample(params: torch.Tensor) -> torch.Tensor:
        # Inverse-CDF sampling: a few elementwise ops, cheaper than torch.multinomial per call.
        cdf = F.softmax(params, dim=-1).cumsum(-1)
        u = torch.rand(cdf.shape[:-1] + (1,), device=params.device, dtype=cdf.dtype)
        return (cdf < u).sum(-1).clamp_(max=params.shape[-1] - 1)

    @staticmethod
    def mode(params: torch.Tensor) -> torch.Tensor:
        return params.argmax(-1)

    @staticmethod
    def log_prob(params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(params, dim=-1).gather(-1, actions.long().unsqueeze(-1)).squeeze(-1)

    @staticmethod
    def entropy(params: torch.Tensor) -> torch.Tensor:
        logp = F.log_softmax(params, dim=-1)
        return -(logp.exp() * logp).sum(-1)

    @staticmethod
    def kl(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """KL(old || new) per row."""
        old_logp, new_logp = F.log_softmax(old, dim=-1), F.log_softmax(new, dim=-1)
        return (old_logp.exp() * (old_logp - new_logp)).sum(-1)


class DiagGaussianHead(nn.Module):
    """Box actions; params are mean ‖ log_std [B, 2d], log_std a state-independent parameter."""

    def __init__(self, in_dim: int, action_dim: int, log_std_init: float = 0.0):
        super().__init__()
        self.mean = layer_init(nn.Linear(in_dim, action_dim), gain=0.01)
        self.log_std = nn.Parameter(torch.full((action_dim,), float(log_std_init)))
        self.param_dim, self.action_shape, self.action_dtype = 2 * action_dim, (action_dim,), torch.float32

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        mean = F.linear(features, self.mean.weight, self.mean.bias)
        return torch.cat([mean, self.log_std.expand_as(mean)], dim=-1)

    @staticmethod
    def _split(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return params.chunk(2, dim=-1)

    @staticmethod
    def sample(params: torch.Tensor) -> torch.Tensor:
        mean, log_std = DiagGaussianHead._split(params)
        return mean + log_std.exp() * torch.randn_like(mean)

    @staticmethod
    def mode(params: torch.Tensor) -> torch.Tensor:
        return DiagGaussianHead._split(params)[0]

    @staticmethod
    def log_prob(params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        mean, log_std = DiagGaussianHead._split(params)
        z = (actions - mean) * torch.exp(-log_std)
        return (-0.5 * z.pow(2) - log_std - 0.5 * LOG_2PI).sum(-1)

    @staticmethod
    def entropy(params: torch.Tensor) -> torch.Tensor:
        _, log_std = DiagGaussianHead._split(params)
        return (log_std + 0.5 * (1.0 + LOG_2PI)).sum(-1)

    @staticmethod
    def kl(old: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        """KL(old || new) per row."""
        m0, ls0 = DiagGaussianHead._split(old)
        m1, ls1 = DiagGaussianHead._split(new)
        var0, var1 = (2 * ls0).exp(), (2 * ls1).exp()
        return (ls1 - ls0 + (var0 + (m0 - m1).pow(2)) / (2 * var1) - 0.5).sum(-1)


class ValueHead(nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.linear = layer_init(nn.Linear(in_dim, 1), gain=1.0)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return F.linear(features, self.linear.weight, self.linear.bias).squeeze(-1)


def make_policy_head(
    action_space: gym.Space, in_dim: int, log_std_init: float = 0.0, agent: str = "this agent"
) -> CategoricalHead | DiagGaussianHead:
    """The stochastic head for an action space, or a typed error that names what fits."""
    if isinstance(action_space, gym.spaces.Discrete):
        return CategoricalHead(in_dim, int(action_space.n))
    if isinstance(action_space, gym.spaces.Box) and len(action_space.shape) == 1:
        return DiagGaussianHead(in_dim, action_space.shape[0], log_std_init)
    raise UnsupportedSpaceError(
        f"{agent} does not support the action space {action_space}; it takes Discrete and 1-D Box "
        "actions. Flatten a multi-dimensional Box (gymnasium.wrappers.FlattenObservation does the "
        "same for observations), or wrap MultiDiscrete into Discrete."
    )
