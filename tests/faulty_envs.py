"""Env factories that fail on purpose, importable by spawned worker processes (tests/ is on their path)."""
import os

import gymnasium as gym


class BreaksAfter(gym.Wrapper):
    """CartPole whose step raises after ``steps`` steps."""

    def __init__(self, env: gym.Env, steps: int):
        super().__init__(env)
        self.left = steps

    def step(self, action):
        self.left -= 1
        if self.left < 0:
            raise RuntimeError("the simulator broke")
        return self.env.step(action)


def cartpole_that_breaks() -> gym.Env:
    return BreaksAfter(gym.make("CartPole-v1"), steps=300)


class DiesOnce(gym.Wrapper):
    """CartPole whose process exits (as if it crashed) at its 200th step, the first time only:
    the first to get there leaves ``marker`` behind, which spares every later incarnation."""

    def __init__(self, env: gym.Env, marker: str):
        super().__init__(env)
        self.marker, self.steps = marker, 0

    def step(self, action):
        self.steps += 1
        if self.steps == 200:
            try:
                with open(self.marker, "x"):
                    pass
            except FileExistsError:
                pass
            else:
                os._exit(1)
        return self.env.step(action)


def cartpole_that_dies_once(marker: str) -> gym.Env:
    return DiesOnce(gym.make("CartPole-v1"), marker)
