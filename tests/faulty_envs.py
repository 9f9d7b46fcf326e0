"""Env factories that fail on purpose, importable by spawned worker processes (tests/ is on their path)."""
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
