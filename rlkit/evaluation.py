"""Policy evaluation on full, unclipped episodes."""
from __future__ import annotations

import numpy as np

from rlkit.errors import ConfigError


def evaluate(
    agent,
    env=None,
    episodes: int = 20,
    seed: int = 123,
    deterministic: bool = True,
    num_envs: int | None = None,
    backend: str = "gymnasium",
) -> tuple[float, float]:
    """Mean and std of the return over ``episodes`` episodes (full games on Atari, unclipped).

    ``env`` defaults to the agent's own env id. Episodes are spread evenly over the envs and each env
    stops counting at its quota, so short episodes are not over-represented.
    """
    from envs import make_vec_env

    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}.")
    env = agent.env_spec if env is None else env
    if env is None:
        raise ConfigError("the agent was built on a gymnasium.Env instance; pass env= (an id, Env or factory) to evaluate().")
    n = num_envs or (min(episodes, 8) if isinstance(env, str) else 1)
    envs = make_vec_env(env, n, backend=backend, training=False, atari_protocol=agent.config.atari_protocol or None)
    try:
        quota = np.full(n, episodes // n) + (np.arange(n) < episodes % n)
        returns: list[list[float]] = [[] for _ in range(n)]
        obs = envs.reset(seed=seed)
        while any(len(r) < q for r, q in zip(returns, quota)):
            step = envs.step(agent.act(obs, deterministic=deterministic))
            for i in np.flatnonzero(step.episode_done):
                if len(returns[i]) < quota[i]:
                    returns[i].append(float(step.episode_returns[i]))
            obs = step.obs
    finally:
        envs.close()
    flat = np.array([r for env_returns in returns for r in env_returns])
    return float(flat.mean()), float(flat.std())
