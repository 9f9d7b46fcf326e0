"""Discounted returns and advantages: pure functions on [T, N] NumPy arrays.

They run where the rollout was collected (the CPU) in float64 loops over T; agents move the
results to their device once per update.
"""
from __future__ import annotations

import numpy as np


def compute_gae(
    rewards: np.ndarray,
    values: np.ndarray,
    last_values: np.ndarray,
    terminated: np.ndarray,
    truncated: np.ndarray,
    gamma: float,
    gae_lambda: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimation (Schulman et al. 2016) over a [T, N] rollout.

    Row t's next state is row t+1's obs (``last_values`` after the final row); after an episode end
    that obs is the final observation, so a truncated step bootstraps from V(final obs) while a
    terminated one does not. The recursion is cut at every end, terminated or truncated.
    Returns float32 (advantages, returns = advantages + values).
    """
    values = np.asarray(values, dtype=np.float64)
    next_values = np.concatenate([values[1:], np.asarray(last_values, dtype=np.float64)[None]], axis=0)
    terminated = np.asarray(terminated, dtype=np.float64)
    deltas = rewards + gamma * next_values * (1.0 - terminated) - values
    carry = gamma * gae_lambda * (1.0 - np.maximum(terminated, truncated))
    advantages = np.empty_like(deltas)
    running = np.zeros_like(deltas[0])
    for t in range(deltas.shape[0] - 1, -1, -1):
        running = deltas[t] + carry[t] * running
        advantages[t] = running
    return advantages.astype(np.float32), (advantages + values).astype(np.float32)


def discounted_returns(
    rewards: np.ndarray, dones: np.ndarray, gamma: float, last: np.ndarray | None = None
) -> np.ndarray:
    """sum_k gamma^k r_{t+k} within each episode for a [T, N] rollout (reward-to-go), float32.

    ``dones[t]`` cuts the sum after row t; ``last`` is the value carried in after the final row.
    """
    rewards = np.asarray(rewards, dtype=np.float64)
    keep = gamma * (1.0 - np.asarray(dones, dtype=np.float64))
    out = np.empty_like(rewards)
    running = np.zeros_like(rewards[0]) if last is None else np.asarray(last, dtype=np.float64)
    for t in range(rewards.shape[0] - 1, -1, -1):
        running = rewards[t] + keep[t] * running
        out[t] = running
    return out.astype(np.float32)
