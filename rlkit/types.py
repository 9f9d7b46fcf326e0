"""Typed data passed between environments, workers, buffers and agents.

Shapes use N = number of parallel envs, T = rollout length, B = minibatch size.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np


class VecStep(NamedTuple):
    """One step of a vector env, the same for every backend (``envs.make_vec_env``).

    Autoreset follows Gymnasium's next-step mode: when env i ends at this step, ``obs[i]`` is its
    final observation, and the *next* step ignores the action of env i and returns its reset
    observation with reward 0 (the worker marks that transition invalid).
    """

    obs: np.ndarray  # [N, *obs_shape]
    rewards: np.ndarray  # float32 [N], the training reward (clipped on Atari)
    terminated: np.ndarray  # bool [N], a terminal state (life loss counts on Atari when training)
    truncated: np.ndarray  # bool [N], a time limit: the value of obs[i] is bootstrapped
    episode_done: np.ndarray  # bool [N], a full episode (full game on Atari) ended here
    episode_returns: np.ndarray  # float64 [N], its undiscounted, unclipped return (where episode_done)
    episode_lengths: np.ndarray  # int64 [N], its length in env steps (where episode_done)


class ActOut(NamedTuple):
    """What a ``Policy``'s ``explore`` returns for a batch of N observations, as NumPy
    (the envs and the rollout buffer live on the CPU; inference may have run on a GPU)."""

    actions: np.ndarray  # [N, *action_shape]; unclipped for Box spaces
    log_probs: np.ndarray  # float32 [N]
    values: np.ndarray  # float32 [N]
    dist_params: np.ndarray  # float32 [N, P]: logits (categorical) or mean ‖ log_std (Gaussian)


class RolloutBatch(NamedTuple):
    """T steps from N envs as NumPy arrays (views of the RolloutBuffer, valid until its next fill).

    Row t holds the transition obs[t] --actions[t]--> obs[t+1]; the value of obs[t+1] is values[t+1]
    (``last_values`` for the final row). ``valid`` is False on the step right after an episode end,
    whose action the env ignored (next-step autoreset); such rows carry no learning signal.
    Agents compute returns here and move what they train on to their device once per update.
    """

    obs: np.ndarray  # [T, N, *obs_shape], the env's dtype (uint8 frames stay uint8)
    actions: np.ndarray  # [T, N, *action_shape]
    log_probs: np.ndarray  # float32 [T, N]
    values: np.ndarray  # float32 [T, N]
    dist_params: np.ndarray  # float32 [T, N, P]
    rewards: np.ndarray  # float32 [T, N]
    terminated: np.ndarray  # float32 [T, N], 0/1
    truncated: np.ndarray  # float32 [T, N], 0/1
    valid: np.ndarray  # bool [T, N]
    last_values: np.ndarray  # float32 [N]
    last_obs: np.ndarray  # [N, *obs_shape], the observation after the last step

    def next_obs(self) -> np.ndarray:
        """[T, N, *obs_shape]: the observation each step led to. Where a step ended an episode it is
        the final observation (next-step autoreset keeps it in the following row)."""
        return np.concatenate([self.obs[1:], self.last_obs[None]], axis=0)


class ReplaySample(NamedTuple):
    """B transitions drawn from a ReplayBuffer, as NumPy (the agent moves them to its device).

    The target of transition i is rewards[i] + discounts[i] * (1 - terminated[i]) * V(next_obs[i]):
    rewards is the n-step return Σ_{k<m} γ^k r_{t+k} and discounts γ^m, where m ≤ n_step is cut
    short by an episode end (next_obs is then the final observation of a truncated episode).
    """

    obs: np.ndarray  # [B, *obs_shape]
    actions: np.ndarray  # [B, *action_shape]
    rewards: np.ndarray  # float32 [B], n-step discounted return
    next_obs: np.ndarray  # [B, *obs_shape]
    terminated: np.ndarray  # float32 [B], 1 where the episode terminated inside the window
    discounts: np.ndarray  # float32 [B], γ^m
    weights: np.ndarray  # float32 [B], importance-sampling weights (1 for uniform sampling)
    indices: np.ndarray  # int64 [B], buffer slots, for update_priorities


class LearnOut(NamedTuple):
    """What an agent's ``update`` returns: scalar metrics, logged as ``losses/<name>``."""

    metrics: dict[str, float]


RewardFn = Callable[[RolloutBatch], np.ndarray]
"""The reward seam of on-policy agents: the rewards [T, N] to train on for a rollout (a GAIL or
SeqGAN discriminator's, a learned reward model's) in place of the env's ``batch.rewards``."""


class EpisodeStats(NamedTuple):
    """Finished episodes reported by a RolloutWorker during one collection."""

    returns: list[float]
    lengths: list[int]
