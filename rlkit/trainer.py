"""``train``: set-up, resume, the loop the agent names, the final evaluation, checkpoint and summary.

The loops themselves live with their families (``rlkit.on_policy``, ``rlkit.off_policy``, or an
agent's own file); they report to a ``rlkit.progress.Progress``. A new family needs no edit here.
"""
from __future__ import annotations

import contextlib
import json
import signal
import threading
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

from rlkit.checkpoint import load_checkpoint
from rlkit.config import config_to_dict
from rlkit.errors import ConfigError, RunFolderError, TrainingInterrupted
from rlkit.logger import Logger
from rlkit.progress import DEFAULT_EVAL_MAX_EPISODE_STEPS, Progress
from rlkit.run_folder import RunFolder

if TYPE_CHECKING:
    from rlkit.agent import Agent


def train(
    agent: "Agent",
    total_steps: int,
    *,
    log_dir: str | Path | None = None,
    resume: bool = False,
    overwrite: bool = False,
    checkpoint_freq: int | None = None,
    eval_freq: int = 0,
    eval_episodes: int = 20,
    eval_max_episode_steps: int = DEFAULT_EVAL_MAX_EPISODE_STEPS,
    progress: bool = True,
) -> "Agent":
    """Train ``agent`` for ``total_steps`` more steps through the loop it names (``agent.loop``).

    ``resume=True`` continues the run in ``log_dir`` from its checkpoint until it has ``total_steps``
    in all (a run killed before its first checkpoint starts again from step 0). With ``log_dir``:
    TensorBoard events, progress.csv, config.json, summary.json, a learning curve and
    ``checkpoint.pt`` (every ``checkpoint_freq`` steps, default a tenth of the run, at the end, and
    when SIGINT or SIGTERM stops the run at its next safe point). A folder that holds another run is
    only replaced with ``overwrite=True``; a second process writing into it is refused.
    ``progress=True`` draws a bar on stderr (phase, steps/s, recent return; "evaluation 7/20" while it
    evaluates); ``progress=False`` prints nothing (errors are raised, warnings go through ``warnings``).
    """
    _check_int("total_steps", total_steps, minimum=1)
    _check_int("eval_freq", eval_freq, minimum=0)
    _check_int("eval_episodes", eval_episodes, minimum=0)
    _check_int("eval_max_episode_steps", eval_max_episode_steps, minimum=1)
    if eval_freq > 0 and eval_episodes == 0:
        raise ConfigError("eval_freq > 0 evaluates during the run and needs eval_episodes >= 1; pass both, or eval_freq=0.")
    if checkpoint_freq is not None:
        _check_int("checkpoint_freq", checkpoint_freq, minimum=1)
    if resume and log_dir is None:
        raise ConfigError("resume=True needs the log_dir of the run to continue.")
    if resume and overwrite:
        raise ConfigError("resume=True continues the run in log_dir and overwrite=True replaces it; pass one of them.")

    run = RunFolder(log_dir) if log_dir is not None else None
    try:
        return _train_in(agent, run, total_steps, resume=resume, overwrite=overwrite, checkpoint_freq=checkpoint_freq,
                         eval_freq=eval_freq, eval_episodes=eval_episodes, eval_max_episode_steps=eval_max_episode_steps,
                         show_progress=progress)
    finally:
        if run is not None:
            agent.leave_run_folder()  # nothing of the agent writes into the folder once its lock is released
            run.close()


def _train_in(agent: "Agent", run: RunFolder | None, total_steps: int, *, resume: bool, overwrite: bool,
              checkpoint_freq: int | None, eval_freq: int, eval_episodes: int, eval_max_episode_steps: int,
              show_progress: bool) -> "Agent":
    if eval_freq > 0 and not _can_evaluate(agent, warn=False):
        raise ConfigError("eval_freq > 0 needs an agent that can be evaluated: this one was built on an Env instance; "
                          "pass an env id or a factory.")
    continuing = run is not None and agent.run_dir is not None and agent.run_dir.resolve() == run.path.resolve()
    if run is not None and run.holds_run() and (overwrite or not (resume or continuing)):
        if not overwrite:
            raise RunFolderError(
                f"{run.path} holds a run already; continue it with --resume (resume=True), replace it with "
                "--overwrite (overwrite=True), or pass another log_dir."
            )
        run.clear()
    restored = resume and run.checkpoint.exists()
    if resume:
        if restored:
            agent.restore(load_checkpoint(run.checkpoint))
            target = total_steps
            run_start = int(agent.run_info.get("run_start", 0))
        else:  # killed before its first checkpoint: nothing to continue, start the run again
            run.clear()
            target, run_start = total_steps, agent.num_steps
        if agent.num_steps >= target or agent.ended_early():  # a finished run: leave every file of it as it is
            summary_file = run.path / "summary.json"
            agent.last_summary = json.loads(summary_file.read_text()) if summary_file.exists() else {}
            how = "it ended early" if agent.num_steps < target else "all"
            warnings.warn(f"the run in {run.path} is already complete ({agent.num_steps} of {target} steps, {how}); "
                          "nothing was changed.", stacklevel=3)
            return agent
    else:
        run_start = agent.num_steps
        target = agent.num_steps + total_steps
    # the step the folder's curve starts from: kept by a resume and by a continued run
    kept = restored or (continuing and not overwrite)
    folder_start = int(agent.run_info.get("folder_start", run_start)) if kept else agent.num_steps
    checkpoint_freq = checkpoint_freq or max((target - run_start) // 10, 1)
    # the preset the run's settings came from; a resumed run's agent is built from the saved settings
    preset = agent.preset.describe() if agent.preset else (agent.run_info.get("preset") if kept else None)
    train_settings = {"total_steps": target, "run_start": run_start, "folder_start": folder_start,
                      "checkpoint_freq": checkpoint_freq, "eval_freq": eval_freq, "eval_episodes": eval_episodes,
                      "preset": preset}
    agent.run_info = train_settings
    if run is not None:
        agent.run_dir = run.path
        agent.use_run_folder(run.path)

    logger = Logger(run.path if run else None, target, start_step=agent.num_steps, progress=show_progress)
    try:  # from here on the bar (and its redraw thread) is closed whatever happens
        logger.write_json("config.json", {
            "agent": type(agent).__name__, "env": _env_name(agent), "config": config_to_dict(agent.config),
            "train": train_settings,
        })
        progress = Progress(agent, logger, target=target, run_start=run_start,
                            checkpoint_path=run.checkpoint if run else None, checkpoint_freq=checkpoint_freq,
                            eval_freq=eval_freq, eval_episodes=eval_episodes,
                            eval_max_episode_steps=eval_max_episode_steps)
        start_step = agent.num_steps
        with _stop_at_safe_point_on_signals(progress):
            agent.loop(progress)
        summary = _summary(agent, logger, folder_start)
        if progress.stop_signal is not None:
            return _stopped(agent, run, progress, logger, summary)
        progress.checkpoint()  # before the final evaluation: a kill there loses nothing trained
        if run is not None:
            summary["checkpoint"] = str(run.checkpoint)
        if eval_episodes > 0 and agent.num_steps > start_step and _can_evaluate(agent):
            # a signal here stops the evaluation, not the process: the summary is still written
            with _stop_at_safe_point_on_signals(progress):
                evaluated = progress.evaluate()
            if evaluated is not None:
                summary.update(eval_mean_return=evaluated[0], eval_std_return=evaluated[1], eval_episodes=eval_episodes)
            elif progress.stop_signal is not None:
                summary["evaluation_stopped_by"] = signal.Signals(progress.stop_signal).name
        logger.write_json("summary.json", summary)
        if progress.stop_signal is not None:
            where = f" and saved in {run.checkpoint}; evaluate it with `rlkit eval {run.path}`" if run is not None else ""
            raise TrainingInterrupted(f"{signal.Signals(progress.stop_signal).name} during the final evaluation: training "
                                      f"is complete{where}.", progress.stop_signal)
    finally:
        logger.close()
    if run is not None and (run.path / "progress.csv").exists():
        from rlkit.plotting import plot_runs

        plot_runs([run.path], run.path / "learning_curve.png")
    agent.last_summary = summary
    return agent


def _can_evaluate(agent: "Agent", warn: bool = True) -> bool:
    """An agent built on an Env instance has no env to rebuild for evaluation: say so, go on."""
    from rlkit.agent import EnvAgent

    if isinstance(agent, EnvAgent) and agent.env_spec is None:
        if warn:
            warnings.warn("no final evaluation: the agent was built on an Env instance, which cannot be rebuilt; pass "
                          "an env id or a factory, or call rlkit.evaluate(agent, env=...).", stacklevel=4)
        return False
    return True


def _env_name(agent: "Agent") -> str | None:
    return str(agent.env_spec) if agent.env_spec is not None else None


def _summary(agent: "Agent", logger: Logger, folder_start: int) -> dict:
    """Figures of the whole run: a resumed run's wall time goes on from its kept progress.csv rows."""
    seconds = logger.run_seconds
    return {"agent": type(agent).__name__, "env": _env_name(agent),
            "total_steps": agent.num_steps, "updates": agent.num_updates, "train_seconds": round(seconds, 2),
            "sps": round((agent.num_steps - folder_start) / seconds, 1) if seconds > 0 else 0.0,
            "recent_train_return": logger.mean_recent_return}


def _stopped(agent: "Agent", run: RunFolder | None, progress: Progress, logger: Logger, summary: dict) -> "Agent":
    """The loop returned at a safe point because of a signal: save there, then stop."""
    name = signal.Signals(progress.stop_signal).name
    progress.checkpoint()
    if run is not None:
        summary.update(stopped_by=name, checkpoint=str(run.checkpoint))
        logger.write_json("summary.json", summary)
        message = (f"{name}: stopped at step {agent.num_steps} and saved {run.checkpoint}; continue with "
                   f"--resume (resume=True) and log_dir {run.path}.")
    else:
        message = f"{name}: stopped at step {agent.num_steps}; nothing was saved (no log_dir)."
    logger.write(message)
    raise TrainingInterrupted(message, progress.stop_signal)


@contextlib.contextmanager
def _stop_at_safe_point_on_signals(progress: Progress) -> Iterator[None]:
    """SIGINT and SIGTERM (what schedulers send) ask the loop to stop at its next safe point; a
    second SIGINT stops at once, leaving the last checkpoint as it was."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be installed from the main thread
        return

    def request_stop(signum: int, frame: object) -> None:
        if progress.stop_signal is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt
        progress.stop_signal = signum
        progress.logger.write(f"{signal.Signals(signum).name}: stopping at the next safe point and saving "
                              "(press Ctrl-C again to stop at once without saving)")

    previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _check_int(name: str, value: object, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer >= {minimum}, got {value!r}.")


def read_run_settings(log_dir: Path) -> dict:
    """The settings a run was started with: config.json, or the checkpoint when config.json is gone."""
    config_file = log_dir / "config.json"
    if config_file.exists():
        return json.loads(config_file.read_text())
    payload = load_checkpoint(log_dir / "checkpoint.pt")
    return {"agent": payload["agent"], "env": payload["env"], "config": json.loads(payload["config"]),
            "train": json.loads(payload["run"]) if "run" in payload else {}}
