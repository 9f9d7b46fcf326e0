"""Experts that are plain functions from a batch of observations to a batch of actions, for the
demonstration tests and ``rlkit collect --expert toy_experts:cartpole_expert`` (no learning)."""
import numpy as np


def cartpole_expert(obs: np.ndarray) -> np.ndarray:
    """Push the way the pole leans and turns: deterministic, and it balances for all 500 steps."""
    return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype(np.int64)


def wobbly_expert(obs: np.ndarray) -> np.ndarray:
    """Push the way the pole leans, ignoring its velocity: episodes of 25 to 60 steps."""
    return (obs[:, 2] > 0).astype(np.int64)


def pendulum_expert(obs: np.ndarray) -> np.ndarray:
    """Torque against the angular velocity, past the bounds (the recording clips it to [-2, 2])."""
    return (-3.0 * obs[:, 2:3]).astype(np.float32)


not_a_function = 42
