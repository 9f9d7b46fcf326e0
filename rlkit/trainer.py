"""The training loops. Agents act and update; this module steps, logs, evaluates and checkpoints."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rlkit.checkpoint import load_checkpoint
from rlkit.config import config_to_dict
from rlkit.errors import ConfigError, NonFiniteError
from rlkit.evaluation import evaluate
from rlkit.logger import Logger
from rlkit.rollout import RolloutWorker

if TYPE_CHECKING:
    from rlkit.agent import Agent

CHECKPOINT = "checkpoint.pt"


def train(
    agent: "Agent",
    total_steps: int,
    *,
    log_dir: str | Path | None = None,
    resume: bool = False,
    checkpoint_freq: int | None = None,
    eval_freq: int = 0,
    eval_episodes: int = 20,
    progress: bool = True,
) -> "Agent":
    """Run ``agent`` until ``total_steps`` env steps.

    With ``log_dir``: TensorBoard events, progress.csv, config.json, summary.json, a learning curve
    and ``checkpoint.pt`` (every ``checkpoint_freq`` steps, default a tenth of the run, and at the
    end). ``resume=True`` continues from that checkpoint with the same counters and curve.
    """
    if not isinstance(total_steps, int) or isinstance(total_steps, bool) or total_steps <= 0:
        raise ConfigError(f"total_steps must be a positive integer, got {total_steps!r}.")
    if eval_episodes < 0 or eval_freq < 0:
        raise ConfigError("eval_freq and eval_episodes must be >= 0.")
    if resume and log_dir is None:
        raise ConfigError("resume=True needs the log_dir of the run to continue.")
    log_dir = Path(log_dir) if log_dir is not None else None
    checkpoint_path = log_dir / CHECKPOINT if log_dir is not None else None
    if resume and checkpoint_path.exists():
        agent.restore(load_checkpoint(checkpoint_path))
    checkpoint_freq = checkpoint_freq or max(total_steps // 10, 1)

    logger = Logger(log_dir, total_steps, start_step=agent.num_steps, progress=progress)
    logger.write_json("config.json", {
        "agent": type(agent).__name__, "env": str(agent.env_spec), "config": config_to_dict(agent.config),
        "train": {"total_steps": total_steps, "checkpoint_freq": checkpoint_freq, "eval_freq": eval_freq,
                  "eval_episodes": eval_episodes},
    })
    start = time.perf_counter()
    progress_hooks = _Progress(agent, logger, checkpoint_path, checkpoint_freq, eval_freq, eval_episodes)
    loop = _off_policy_loop if agent.loop == "off_policy" else _on_policy_loop
    try:
        loop(agent, total_steps, logger, progress_hooks)
    except KeyboardInterrupt:
        if checkpoint_path is not None:
            agent.save(checkpoint_path)
            logger.bar.write(f"interrupted: checkpoint saved to {checkpoint_path}; continue with resume=True / --resume")
        logger.close()
        raise
    train_seconds = time.perf_counter() - start
    summary = {"agent": type(agent).__name__, "env": str(agent.env_spec), "total_steps": agent.num_steps,
               "updates": agent.num_updates, "train_seconds": round(train_seconds, 2), "sps": round(logger.sps, 1),
               "recent_train_return": logger.mean_recent_return}
    if eval_episodes > 0 and agent.env_spec is not None:
        mean, std = evaluate(agent, episodes=eval_episodes, seed=agent.config.seed + 10_000)
        logger.evaluation(agent.num_steps, mean, std)
        summary.update(eval_mean_return=mean, eval_std_return=std, eval_episodes=eval_episodes)
    if checkpoint_path is not None:
        agent.save(checkpoint_path)
        summary["checkpoint"] = str(checkpoint_path)
    logger.write_json("summary.json", summary)
    logger.close()
    if log_dir is not None:
        from rlkit.plotting import plot_runs

        plot_runs([log_dir], log_dir / "learning_curve.png")
    agent.last_summary = summary
    return agent


class _Progress:
    """What both loops do as steps accumulate: log updates (with the NaN guard), evaluate and
    checkpoint on schedule."""

    def __init__(self, agent: "Agent", logger: Logger, checkpoint_path: Path | None, checkpoint_freq: int,
                 eval_freq: int, eval_episodes: int):
        self.agent, self.logger, self.checkpoint_path = agent, logger, checkpoint_path
        self.checkpoint_freq, self.eval_freq, self.eval_episodes = checkpoint_freq, eval_freq, eval_episodes
        self.next_checkpoint = (agent.num_steps // checkpoint_freq + 1) * checkpoint_freq
        self.next_eval = (agent.num_steps // eval_freq + 1) * eval_freq if eval_freq else math.inf

    def learned(self, metrics: dict[str, float]) -> None:
        agent = self.agent
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteError(
                f"{', '.join(bad)} became non-finite at step {agent.num_steps}; the last good checkpoint "
                f"is {self.checkpoint_path}. Lower learning_rate or max_grad_norm, or enable normalize_obs."
            )
        self.logger.update(agent.num_steps, metrics)

    def stepped(self) -> None:
        agent = self.agent
        if agent.num_steps >= self.next_eval:
            self.logger.evaluation(agent.num_steps, *evaluate(agent, episodes=self.eval_episodes, seed=agent.config.seed + 10_000))
            self.next_eval += self.eval_freq
        if self.checkpoint_path is not None and agent.num_steps >= self.next_checkpoint:
            agent.save(self.checkpoint_path)
            self.next_checkpoint += self.checkpoint_freq


def _on_policy_loop(agent: "Agent", total_steps: int, logger: Logger, progress: _Progress) -> None:
    agent.start_rollouts()
    worker = RolloutWorker(agent.envs, agent, seed=agent.config.seed + agent.num_steps)
    buffer = agent.make_rollout_buffer()
    while agent.num_steps < total_steps:
        episodes, last_values = worker.collect(buffer)
        agent.num_steps += buffer.n_steps * agent.envs.num_envs
        logger.episodes(agent.num_steps, episodes.returns, episodes.lengths)
        out = agent.update(buffer.batch(last_values), progress_remaining=1.0 - agent.num_steps / total_steps)
        agent.num_updates += 1
        progress.learned(out.metrics)
        progress.stepped()


OFF_POLICY_LOG_EVERY = 1000  # env steps between logged rows of (averaged) update metrics


def _off_policy_loop(agent: "Agent", total_steps: int, logger: Logger, progress: _Progress) -> None:
    """Step the envs one vector step at a time; every step goes into the agent's replay buffer and
    the agent decides when to learn (``learning_starts``, ``train_freq``, ``gradient_steps``)."""
    envs = agent.envs
    obs = envs.reset(seed=agent.config.seed + agent.num_steps)
    agent.replay.start(obs)  # a resumed run starts new episodes; its replay keeps what it had
    resetting = np.zeros(envs.num_envs, dtype=bool)
    pending: list[dict[str, float]] = []
    next_log = agent.num_steps + OFF_POLICY_LOG_EVERY
    while agent.num_steps < total_steps:
        actions = agent.explore(obs, agent.num_steps / total_steps)
        step = envs.step(actions)
        agent.replay.add(actions, step.rewards, step.terminated, step.truncated, step.obs, ~resetting)
        resetting = step.terminated | step.truncated
        if resetting.any():
            agent.end_episodes(resetting)
        obs = step.obs
        agent.num_steps += envs.num_envs
        if step.episode_done.any():
            logger.episodes(agent.num_steps, step.episode_returns[step.episode_done].tolist(),
                            step.episode_lengths[step.episode_done].tolist())
        out = agent.train_step(agent.num_steps / total_steps)
        if out is not None:
            pending.append(out.metrics)
        if pending and (agent.num_steps >= next_log or agent.num_steps >= total_steps):
            progress.learned({k: float(np.mean([m[k] for m in pending])) for k in pending[-1]})
            pending.clear()
            next_log = agent.num_steps + OFF_POLICY_LOG_EVERY
        progress.stepped()
