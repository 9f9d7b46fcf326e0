"""Discounted returns and advantages (pure functions on [T, N] tensors)."""
from __future__ import annotations

import torch


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    last_values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generalised advantage estimation (Schulman et al. 2016) over a [T, N] rollout.

    Row t's next state is row t+1's obs (``last_values`` after the final row); after an episode end
    that obs is the final observation, so a truncated step bootstraps from V(final obs) while a
    terminated one does not. The recursion is cut at every end, terminated or truncated.
    Returns (advantages, returns = advantages + values).
    """
    next_values = torch.cat([values[1:], last_values.unsqueeze(0)], dim=0)
    deltas = rewards + gamma * next_values * (1.0 - terminated) - values
    carry = gamma * gae_lambda * (1.0 - torch.maximum(terminated, truncated))
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(last_values)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages, advantages + values


def discounted_returns(rewards: torch.Tensor, dones: torch.Tensor, gamma: float, last: torch.Tensor | None = None) -> torch.Tensor:
    """sum_k gamma^k r_{t+k} within each episode, for a [T, N] rollout (reward-to-go)."""
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0]) if last is None else last
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + gamma * (1.0 - dones[t]) * running
        out[t] = running
    return out
