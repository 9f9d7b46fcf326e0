"""``Progress``: what every training loop calls as it goes.

A loop is a plain function ``loop(agent, progress)``. It does the family's work (step envs, fill
buffers, update) and tells ``progress`` what happened; ``progress`` counts steps, logs, guards
against non-finite values, and evaluates and checkpoints on schedule. The loop stops when
``progress.done``: the step target is reached, or SIGINT/SIGTERM asked to stop. Checking ``done``
only where the agent's state is whole (after an update, between env steps) is what makes every
stop a safe point: ``train`` then saves and the run resumes exactly there.

One progress convention everywhere: ``progress.fraction`` is the fraction of the run done, from 0
at its first step to 1 at its last; schedules (learning-rate decay, ε, β) read it.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from rlkit.errors import NonFiniteError

if TYPE_CHECKING:
    from rlkit.agent import Agent
    from rlkit.logger import Logger

DEFAULT_EVAL_MAX_EPISODE_STEPS = 27_000  # ALE v5's 108k-frame limit in agent steps


class Progress:
    def __init__(
        self,
        agent: "Agent",
        logger: "Logger",
        *,
        target: int,
        run_start: int = 0,
        checkpoint_path: Path | None = None,
        checkpoint_freq: int = 0,
        eval_freq: int = 0,
        eval_episodes: int = 0,
        eval_max_episode_steps: int = DEFAULT_EVAL_MAX_EPISODE_STEPS,
    ):
        self.agent, self.logger = agent, logger
        self.target, self.run_start = target, run_start
        self.checkpoint_path = checkpoint_path
        self.checkpoint_freq, self.eval_freq, self.eval_episodes = checkpoint_freq, eval_freq, eval_episodes
        self.eval_max_episode_steps = eval_max_episode_steps
        step = agent.num_steps
        self.next_checkpoint = (step // checkpoint_freq + 1) * checkpoint_freq if checkpoint_freq else math.inf
        self.next_eval = (step // eval_freq + 1) * eval_freq if eval_freq else math.inf
        self.stop_signal: int | None = None  # set by train()'s signal handler
        self._last_checkpoint: tuple[int, int] | None = None  # (steps, updates) of the last one written
        self.last_evaluation: tuple[int, tuple[float, float]] | None = None  # (step, (mean, std))

    # --- what a loop reads -----------------------------------------------------------------------
    @property
    def done(self) -> bool:
        """True when the loop should return: the target is reached or a stop was requested."""
        return self.agent.num_steps >= self.target or self.stop_signal is not None

    @property
    def fraction(self) -> float:
        """Fraction of the run done, in [0, 1]."""
        span = self.target - self.run_start
        return min(max((self.agent.num_steps - self.run_start) / span, 0.0), 1.0) if span > 0 else 1.0

    # --- what a loop reports ---------------------------------------------------------------------
    def advance(self, steps: int) -> None:
        """Count ``steps`` more steps of experience (env steps over all envs)."""
        self.agent.num_steps += steps
        self.logger.advance(self.agent.num_steps)

    def phase(self, name: str) -> None:
        """What the loop is doing, for the progress bar: "warm-up" while it only collects random
        experience, "training" (the default) once it learns."""
        self.logger.phase(name)

    def episodes(self, returns: list[float], lengths: list[int]) -> None:
        """Finished episodes (whole games on Atari, unclipped returns)."""
        if returns:
            self.logger.episodes(self.agent.num_steps, returns, lengths)

    def learned(self, metrics: dict[str, float]) -> None:
        """One logged row of update metrics; a NaN or an infinity stops the run before any save."""
        bad = [k for k, v in metrics.items() if not math.isfinite(v)]
        if bad:
            raise NonFiniteError(
                f"{', '.join(bad)} became non-finite at step {self.agent.num_steps}; {self._last_good()} "
                "Lower learning_rate or max_grad_norm, or enable normalize_obs."
            )
        self.logger.update(self.agent.num_steps, metrics)

    def safe_point(self) -> None:
        """The agent's state is whole here: evaluate and checkpoint when they are due."""
        step = self.agent.num_steps
        if step >= self.next_eval:
            self.evaluate()
            self.next_eval = (step // self.eval_freq + 1) * self.eval_freq
        if step >= self.next_checkpoint:
            self.checkpoint()
            self.next_checkpoint = (step // self.checkpoint_freq + 1) * self.checkpoint_freq

    # --- what progress does ----------------------------------------------------------------------
    def evaluate(self) -> tuple[float, float] | None:
        """Mean and std over ``eval_episodes``, logged; None when a stop request cut it short (a
        scheduler's grace period is no time for 20 Atari games: the checkpoint comes first)."""
        from rlkit.evaluation import EvaluationStopped, evaluate

        if self.last_evaluation is not None and self.last_evaluation[0] == self.agent.num_steps:
            return self.last_evaluation[1]  # the same policy on the same episodes: the final one after a periodic one

        def show_episodes_done(done: int, episodes: int) -> None:
            self.logger.phase(f"evaluation {done}/{episodes}")

        try:
            with self.logger.in_phase(f"evaluation 0/{self.eval_episodes}"):
                mean, std = evaluate(self.agent, episodes=self.eval_episodes, seed=self.agent.config.seed + 10_000,
                                     max_episode_steps=self.eval_max_episode_steps,
                                     stop=lambda: self.stop_signal is not None, on_episode=show_episodes_done)
        except EvaluationStopped:
            return None
        self.logger.evaluation(self.agent.num_steps, mean, std)
        self.last_evaluation = (self.agent.num_steps, (mean, std))
        return mean, std

    def checkpoint(self) -> None:
        """Save the agent to the run's checkpoint (nothing without a run folder). ``Agent.save``
        refuses a network holding NaN or inf, so the file on disk is always the last good state;
        the error then says which state that is."""
        if self.checkpoint_path is None or self._last_checkpoint == self._position():
            return  # nothing changed since the last checkpoint (a periodic one at the last step)
        try:
            with self.logger.in_phase("checkpoint"):
                self.agent.save(self.checkpoint_path)
        except NonFiniteError as exc:
            raise NonFiniteError(f"{exc} {self._last_good()}") from None
        self._last_checkpoint = self._position()

    def _position(self) -> tuple[int, int]:
        """Steps and updates: a loop that updates without counting steps (SeqGAN's discriminator
        pre-training between its epochs) still has something new to save."""
        return self.agent.num_steps, getattr(self.agent, "num_updates", 0)

    @property
    def last_checkpoint_step(self) -> int | None:
        """The step of the last checkpoint this run wrote; None before the first."""
        return None if self._last_checkpoint is None else self._last_checkpoint[0]

    def _last_good(self) -> str:
        if self.checkpoint_path is None:
            return "no checkpoint was written (no log_dir)."
        if self.last_checkpoint_step is None and not self.checkpoint_path.exists():
            return "no checkpoint was written yet."
        at = f" (step {self.last_checkpoint_step})" if self.last_checkpoint_step is not None else ""
        return f"the last good checkpoint is {self.checkpoint_path}{at}."
