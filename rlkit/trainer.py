"""The training loops. Agents act and update; this module steps, logs, evaluates and checkpoints."""
from __future__ import annotations

import math
import time
from pathlib import Path
from typing import TYPE_CHECKING

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
    next_checkpoint = (agent.num_steps // checkpoint_freq + 1) * checkpoint_freq
    next_eval = (agent.num_steps // eval_freq + 1) * eval_freq if eval_freq else math.inf
    agent.start_rollouts()
    worker = RolloutWorker(agent.envs, agent, seed=agent.config.seed + agent.num_steps)
    buffer = agent.make_rollout_buffer()
    try:
        while agent.num_steps < total_steps:
            episodes, last_values = worker.collect(buffer)
            agent.num_steps += buffer.n_steps * agent.envs.num_envs
            logger.episodes(agent.num_steps, episodes.returns, episodes.lengths)
            out = agent.update(buffer.batch(last_values), progress_remaining=1.0 - agent.num_steps / total_steps)
            agent.num_updates += 1
            bad = [k for k, v in out.metrics.items() if not math.isfinite(v)]
            if bad:
                raise NonFiniteError(
                    f"{', '.join(bad)} became non-finite at step {agent.num_steps}; the last good checkpoint "
                    f"is {checkpoint_path}. Lower learning_rate or max_grad_norm, or enable normalize_obs."
                )
            logger.update(agent.num_steps, out.metrics)
            if agent.num_steps >= next_eval:
                logger.evaluation(agent.num_steps, *evaluate(agent, episodes=eval_episodes, seed=agent.config.seed + 10_000))
                next_eval += eval_freq
            if checkpoint_path is not None and agent.num_steps >= next_checkpoint:
                agent.save(checkpoint_path)
                next_checkpoint += checkpoint_freq
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
