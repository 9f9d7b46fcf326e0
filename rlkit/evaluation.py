"""Policy evaluation on full, unclipped episodes."""
from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np

from rlkit.errors import ConfigError
from rlkit.progress import DEFAULT_EVAL_MAX_EPISODE_STEPS
from rlkit.vec_env import make_vec_env


class EvaluationStopped(Exception):
    """``stop()`` asked to abandon an evaluation (a run stopping on SIGTERM)."""


def evaluate(
    agent: Any,
    env: Any = None,
    episodes: int = 20,
    seed: int = 123,
    deterministic: bool = True,
    num_envs: int | None = None,
    backend: str = "gymnasium",
    max_episode_steps: int = DEFAULT_EVAL_MAX_EPISODE_STEPS,
    stop: Callable[[], bool] | None = None,
    on_episode: Callable[[int, int], None] | None = None,
) -> tuple[float, float]:
    """Mean and std of the return over ``episodes`` episodes (full games on Atari, unclipped).

    An agent that steps envs is run on ``env`` (default: its own env id); an agent without an env
    (a text generator, a model trained from a file) evaluates itself: ``agent.evaluate(episodes,
    seed)``. Episodes are spread evenly over the envs and each env stops counting at its quota, so
    short episodes are not over-represented. An episode still running after ``max_episode_steps``
    steps is cut there and counts with its return so far (with a warning), so an env that never
    ends cannot hang an evaluation. ``stop``, checked every step, abandons it (``EvaluationStopped``).
    ``on_episode(done, episodes)`` is called each time counted episodes end (the trainer's progress
    bar shows "evaluation 7/20" from it); nothing is printed.
    """
    from rlkit.agent import EnvAgent

    if episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}.")
    if max_episode_steps < 1:
        raise ConfigError(f"max_episode_steps must be >= 1, got {max_episode_steps}.")
    if not isinstance(agent, EnvAgent) and env is None:
        if not hasattr(agent, "evaluate"):
            raise ConfigError(f"{type(agent).__name__} has no env and no evaluate(); pass env= to evaluate it on one.")
        mean, std = agent.evaluate(episodes=episodes, seed=seed)
        if on_episode is not None:
            on_episode(episodes, episodes)
        return mean, std
    env = agent.env_spec if env is None else env
    if env is None:
        raise ConfigError("the agent was built on a gymnasium.Env instance; pass env= (an id, Env or factory) to evaluate().")
    n = num_envs or (min(episodes, 8) if isinstance(env, str) else 1)
    protocol = getattr(agent.config, "atari_protocol", "") or None
    envs = make_vec_env(env, n, backend=backend, training=False, atari_protocol=protocol)
    try:
        quota = np.full(n, episodes // n) + (np.arange(n) < episodes % n)
        returns: list[list[float]] = [[] for _ in range(n)]
        running = np.zeros(n)  # this episode's return and length so far, for the step cap
        length = np.zeros(n, dtype=np.int64)
        counting = quota > 0
        resetting = np.zeros(n, dtype=bool)
        cut = 0
        obs = envs.reset(seed=seed)
        while counting.any():
            if stop is not None and stop():
                raise EvaluationStopped
            step = envs.step(agent.act(obs, deterministic=deterministic))
            live = ~resetting  # the step after an end is a reset: not part of any episode
            running += np.where(live, step.rewards, 0.0)
            length += live
            ended = np.flatnonzero(counting & (step.episode_done | (length >= max_episode_steps)))
            for i in ended:
                if step.episode_done[i]:
                    returns[i].append(float(step.episode_returns[i]))
                elif length[i] >= max_episode_steps:
                    returns[i].append(float(running[i]))  # an env that never ends: count what it has and stop it
                    cut += 1
                    counting[i] = False
                if len(returns[i]) >= quota[i]:
                    counting[i] = False
            if on_episode is not None and ended.size:
                on_episode(sum(map(len, returns)), episodes)
            resetting = step.terminated | step.truncated | step.episode_done
            running[resetting] = 0.0
            length[resetting] = 0
            obs = step.obs
    finally:
        envs.close()
    flat = np.array([r for env_returns in returns for r in env_returns])
    if cut:
        warnings.warn(f"{cut} evaluation episode(s) ran {max_episode_steps} steps without ending and were cut there "
                      f"(their envs stopped counting): the mean is over {flat.size} of {episodes} episodes. Pass "
                      "max_episode_steps (eval_max_episode_steps in learn/train) to change the cap.", stacklevel=2)
    return float(flat.mean()), float(flat.std())
