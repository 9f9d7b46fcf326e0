"""rlkit agents. ``REGISTRY`` maps CLI names to classes."""

from agents.a2c import A2C, A2CConfig
from agents.ddpg import DDPG, DDPGConfig
from agents.dqn import DQN, DQNConfig, Rainbow, RainbowConfig
from agents.ppo import PPO, PPO2, PPO2Config, PPOConfig
from agents.reinforce import Reinforce, ReinforceConfig

REGISTRY = {"ppo": PPO, "ppo2": PPO2, "a2c": A2C, "reinforce": Reinforce, "dqn": DQN, "rainbow": Rainbow, "ddpg": DDPG}

__all__ = ["A2C", "A2CConfig", "DDPG", "DDPGConfig", "DQN", "DQNConfig", "PPO", "PPO2", "PPOConfig", "PPO2Config", "Rainbow",
           "RainbowConfig", "Reinforce", "ReinforceConfig", "REGISTRY"]
