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


def pendulum_swingup_expert(obs: np.ndarray) -> np.ndarray:
    """Energy pumping (θ̈ = 15 sin θ + 3u, so E = θ̇²/2 + 15 cos θ is 15 upright at rest) far from the
    top, a PD controller near it; torques within [-2, 2]. Swings up and holds: about -150 a 200-step
    episode, where a random policy gets about -1200."""
    cos, sin, velocity = obs[:, 0], obs[:, 1], obs[:, 2]
    energy = 0.5 * velocity**2 + 15 * cos
    pump = np.clip(0.2 * (15 - energy) * velocity, -2, 2)
    hold = np.clip(-(10 * np.arctan2(sin, cos) + 2 * velocity), -2, 2)
    return np.where(cos > 0.85, hold, pump)[:, None].astype(np.float32)


not_a_function = 42
