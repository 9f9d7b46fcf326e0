"""Q-value heads for the DQN family: dueling, noisy and distributional (C51) as independent switches.

- dueling (Wang et al. 2016): Q = V + A − mean_a A, per atom when distributional.
- noisy (Fortunato et al. 2018): factorised-Gaussian ``NoisyLinear`` layers replace ε-greedy.
- distributional (Bellemare et al. 2017): a softmax over ``atoms`` fixed returns in [v_min, v_max];
  Q is its mean. ``project_distribution`` is the categorical projection of the target.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class NoisyLinear(nn.Module):
    """y = (μ_w + σ_w ⊙ ε_w) x + μ_b + σ_b ⊙ ε_b with factorised noise ε_w = f(ε_out) f(ε_in)ᵀ,
    f(x) = sign(x) √|x|; μ ~ U(±1/√in), σ = σ0/√in. ``reset_noise`` draws new ε."""

    def __init__(self, in_features: int, out_features: int, sigma0: float = 0.5):
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1 / math.sqrt(in_features)
        self.weight_mu = nn.Parameter(torch.empty(out_features, in_features).uniform_(-bound, bound))
        self.weight_sigma = nn.Parameter(torch.full((out_features, in_features), sigma0 * bound))
        self.bias_mu = nn.Parameter(torch.empty(out_features).uniform_(-bound, bound))
        self.bias_sigma = nn.Parameter(torch.full((out_features,), sigma0 * bound))
        self.register_buffer("eps_in", torch.zeros(in_features))
        self.register_buffer("eps_out", torch.zeros(out_features))
        self.reset_noise()

    @staticmethod
    def _f(x: torch.Tensor) -> torch.Tensor:
        return x.sign() * x.abs().sqrt()

    @torch.no_grad()
    def reset_noise(self) -> None:
        self.eps_in.copy_(self._f(torch.randn(self.in_features, device=self.eps_in.device)))
        self.eps_out.copy_(self._f(torch.randn(self.out_features, device=self.eps_out.device)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight_mu + self.weight_sigma * torch.outer(self.eps_out, self.eps_in)
        bias = self.bias_mu + self.bias_sigma * self.eps_out
        return F.linear(x, weight, bias)


class QHead(nn.Module):
    """Features [B, in_dim] -> Q-values [B, n] (``q_values``) or atom logits [B, n, atoms] (``forward``
    when distributional). Every combination of the three switches composes."""

    def __init__(
        self,
        in_dim: int,
        n_actions: int,
        dueling: bool = False,
        noisy: bool = False,
        distributional: bool = False,
        atoms: int = 51,
        v_min: float = -10.0,
        v_max: float = 10.0,
        noisy_sigma0: float = 0.5,
    ):
        super().__init__()
        self.n_actions, self.dueling, self.noisy, self.distributional = n_actions, dueling, noisy, distributional
        self.atoms = atoms if distributional else 1
        linear = (lambda i, o: NoisyLinear(i, o, noisy_sigma0)) if noisy else nn.Linear  # noqa: E731
        self.advantage = linear(in_dim, n_actions * self.atoms)
        self.value = linear(in_dim, self.atoms) if dueling else None
        self.register_buffer("support", torch.linspace(v_min, v_max, atoms) if distributional else torch.zeros(1))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Q-values [B, n], or atom logits [B, n, atoms] when distributional."""
        out = self.advantage(features).view(-1, self.n_actions, self.atoms)
        if self.value is not None:
            out = self.value(features).view(-1, 1, self.atoms) + out - out.mean(dim=1, keepdim=True)
        return out if self.distributional else out.squeeze(-1)

    def q_values(self, out: torch.Tensor) -> torch.Tensor:
        """Expected Q [B, n] from ``forward``'s output."""
        return (out.softmax(-1) * self.support).sum(-1) if self.distributional else out

    def reset_noise(self) -> None:
        for module in self.modules():
            if isinstance(module, NoisyLinear):
                module.reset_noise()


def project_distribution(
    next_probs: torch.Tensor, rewards: torch.Tensor, discounts: torch.Tensor, support: torch.Tensor
) -> torch.Tensor:
    """C51's categorical projection of r + γ^n z onto the fixed support (Bellemare et al. 2017, Alg. 1).

    next_probs [B, atoms] (the target distribution at the next state's chosen action), rewards [B],
    discounts [B] (γ^n, 0 where the episode terminated). Returns the projected probabilities [B, atoms].
    """
    atoms = support.numel()
    v_min, v_max = support[0].item(), support[-1].item()
    delta = (v_max - v_min) / (atoms - 1)
    tz = (rewards[:, None] + discounts[:, None] * support[None]).clamp(v_min, v_max)
    b = (tz - v_min) / delta
    lower, upper = b.floor().long(), b.ceil().long()
    # where b is an integer, lower == upper: give the whole mass to that atom
    lower_weight = upper.float() - b + (lower == upper).float()
    upper_weight = b - lower.float()
    projected = torch.zeros_like(next_probs)
    projected.scatter_add_(1, lower, next_probs * lower_weight)
    projected.scatter_add_(1, upper, next_probs * upper_weight)
    return projected
