"""Typed data passed between environments, workers, buffers and agents.

Shapes use N = number of parallel envs, T = rollout length, B = minibatch size.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch


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
    """What an on-policy agent's ``policy_step`` returns for a batch of N observations."""

    actions: torch.Tensor  # [N, *action_shape]; unclipped for Box spaces
    log_probs: torch.Tensor  # [N]
    values: torch.Tensor  # [N]
    dist_params: torch.Tensor  # [N, P]: logits (categorical) or mean ‖ log_std (Gaussian)


class RolloutBatch(NamedTuple):
    """T steps from N envs, all tensors on the agent's device.

    Row t holds the transition obs[t] --actions[t]--> obs[t+1]; the value of obs[t+1] is values[t+1]
    (``last_values`` for the final row). ``valid`` is False on the step right after an episode end,
    whose action the env ignored (next-step autoreset); such rows carry no learning signal.
    """

    obs: torch.Tensor  # [T, N, *obs_shape]
    actions: torch.Tensor  # [T, N, *action_shape]
    log_probs: torch.Tensor  # [T, N]
    values: torch.Tensor  # [T, N]
    dist_params: torch.Tensor  # [T, N, P]
    rewards: torch.Tensor  # [T, N]
    terminated: torch.Tensor  # [T, N] float 0/1
    truncated: torch.Tensor  # [T, N] float 0/1
    valid: torch.Tensor  # [T, N] bool
    last_values: torch.Tensor  # [N]


class LearnOut(NamedTuple):
    """What an agent's ``update`` returns: scalar metrics, logged as ``losses/<name>``."""

    metrics: dict[str, float]


class EpisodeStats(NamedTuple):
    """Finished episodes reported by a RolloutWorker during one collection."""

    returns: list[float]
    lengths: list[int]
