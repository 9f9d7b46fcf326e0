"""rlkit agents, one module per family.

``CATALOG`` names every agent for the CLI with a one-line description, and imports nothing heavy,
so ``rlkit --help`` and ``rlkit list`` start without torch. The classes, their configs and
``REGISTRY`` (CLI name -> class) import on first use: ``from agents import PPO2``; the configs
(``from agents import PPO2Config``) import without torch.
"""
from __future__ import annotations

import importlib
from typing import Any

# CLI name -> (module, class, what it is)
CATALOG: dict[str, tuple[str, str, str]] = {
    "ppo": ("agents.ppo", "PPO", "PPO with the KL-penalty objective and adaptive beta (Schulman et al. 2017)"),
    "ppo2": ("agents.ppo", "PPO2", "PPO with the clipped surrogate objective"),
    "a2c": ("agents.a2c", "A2C", "synchronous advantage actor-critic, n-step returns or GAE"),
    "a3c": ("agents.a3c", "A3C", "asynchronous advantage actor-critic: worker processes, Hogwild updates (Mnih et al. 2016)"),
    "reinforce": ("agents.reinforce", "Reinforce", "Monte-Carlo policy gradient with a running-mean or learned baseline"),
    "dqn": ("agents.dqn", "DQN", "deep Q-learning; double, dueling, prioritized, n-step, noisy and C51 switches"),
    "rainbow": ("agents.dqn", "Rainbow", "DQN with all six switches on (Hessel et al. 2018)"),
    "ddpg": ("agents.ddpg", "DDPG", "deterministic policy gradient through a learned critic, for Box actions"),
    "bc": ("agents.bc", "BC", "behaviour cloning: supervised learning of an expert's actions from demonstrations"),
    "dagger": ("agents.dagger", "DAgger", "dataset aggregation: BC on the states the learner visits, labelled by an expert"),
    "gail": ("agents.gail", "GAIL", "adversarial imitation: PPO2 on a discriminator's reward (Ho & Ermon 2016)"),
    "seqgan": ("agents.seqgan", "SeqGAN", "text generation by policy gradient against a discriminator, Monte-Carlo rollouts (Yu et al. 2017)"),
}
# Configs live in agents.configs, apart from the agents, so that reading them imports no torch.
_MODULES = {**{cls: module for module, cls, _ in CATALOG.values()},
            **{f"{cls}Config": "agents.configs" for _, cls, _ in CATALOG.values()}}

__all__ = ["CATALOG", "REGISTRY", *sorted(_MODULES)]


def __getattr__(name: str) -> Any:
    if name == "REGISTRY":
        return {key: getattr(importlib.import_module(module), cls) for key, (module, cls, _) in CATALOG.items()}
    if name in _MODULES:
        return getattr(importlib.import_module(_MODULES[name]), name)
    raise AttributeError(f"module 'agents' has no attribute {name!r}")
