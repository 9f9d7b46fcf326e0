"""rlkit agents. ``REGISTRY`` maps CLI names to classes."""
from agents.ppo import PPO, PPO2, PPO2Config, PPOConfig

REGISTRY = {"ppo": PPO, "ppo2": PPO2}

__all__ = ["PPO", "PPO2", "PPOConfig", "PPO2Config", "REGISTRY"]
