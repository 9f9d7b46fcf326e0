"""The progress bar tells the truth while a run is busy: it is redrawn by time (not only when a step is
counted), names the phase ("warm-up", "training", "evaluation 7/20", "checkpoint"), shows current
steps/s and the recent return, and prints nothing at all when it is off."""
import os
import subprocess
import sys
import threading
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest

import rlkit.logger
from agents import DQN, PPO2
from rlkit import evaluate
from rlkit.logger import Logger, StepRate
from rlkit.progress import Progress

ROOT = Path(__file__).resolve().parent.parent
TINY_PPO = dict(n_steps=64, batch_size=64, n_epochs=2)
TINY_DQN = dict(learning_starts=50, buffer_size=2000, batch_size=16, train_freq=1, target_update_interval=100)


def _bar_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "rlkit-progress-bar"]


@pytest.fixture
def phases(monkeypatch):
    """Every phase the run shows, with the step it was shown at."""
    seen: list[tuple[str, int]] = []
    original = Logger.phase

    def record(self, name):
        seen.append((name, self.last_step))
        original(self, name)

    monkeypatch.setattr(Logger, "phase", record)
    return seen


def test_bar_text_has_current_steps_per_second_and_the_recent_return():
    logger = Logger(None, 1000, progress=False)  # no redraw thread: only these calls sample the rate
    t0 = logger.start_time
    logger.advance(400)
    assert logger.bar_text(now=t0 + 2.0) == "200 steps/s"  # no episode has ended: no return yet
    # no step counted since: the rate is computed at redraw time and falls (it is not the last row's)
    assert logger.bar_text(now=t0 + 4.0) == "100 steps/s"
    assert logger.bar_text(now=t0 + 30.0) == "0 steps/s"  # the window has left the last steps behind
    logger.episodes(400, [0.0] * 50 + [10.0] * 100, [5] * 150)  # the mean is over the last 100 only
    assert logger.bar_text(now=t0 + 31.0) == "0 steps/s, return 10.0"
    logger.close()


def test_the_bar_line_shows_the_phase_and_the_status(capsys):
    logger = Logger(None, 1000)
    try:
        logger.advance(400)
        logger.episodes(400, [3.0, 5.0], [10, 10])
        logger.phase("evaluation 7/20")
    finally:
        logger.close()
    err = capsys.readouterr().err
    assert "evaluation 7/20:  40%|" in err and " 400/1000 [" in err
    assert "steps/s, return 4.0]" in err


def test_step_rate_follows_the_last_seconds_only():
    rate = StepRate(now=0.0, step=0, window=10.0)
    for second in range(1, 6):  # a burst of 1000 steps/s...
        burst = rate(float(second), 1000 * second)
    assert burst == 1000.0
    for second in range(6, 21):  # ...then 100 steps/s: after ten seconds the burst no longer counts
        now = rate(float(second), 5000 + 100 * (second - 5))
    assert now == 100.0


def test_bar_is_redrawn_during_a_checkpoint_that_counts_no_step(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(rlkit.logger, "REDRAW_SECONDS", 0.01)
    logger = Logger(None, 1000)
    redrawn = threading.Event()
    refresh, redraws = logger.bar.refresh, []

    def counted_refresh(*args, **kwargs):
        redraws.append(logger.phase_name)
        if redraws.count("checkpoint") >= 3:
            redrawn.set()
        return refresh(*args, **kwargs)

    def slow_save(path):  # returns once the bar has been redrawn three times while it runs
        assert redrawn.wait(timeout=10), "the bar was not redrawn during the checkpoint"

    logger.bar.refresh = counted_refresh
    agent = SimpleNamespace(num_steps=300, save=slow_save)
    progress = Progress(agent, logger, target=1000, checkpoint_path=tmp_path / "c.pt", checkpoint_freq=100)
    logger.advance(300)
    try:
        progress.checkpoint()
    finally:
        logger.close()
    assert redrawn.is_set() and logger.last_step == 300
    assert redraws[-1] == "training"  # the phase before the checkpoint is back
    assert "checkpoint: " in capsys.readouterr().err


def test_close_stops_the_redraw_thread_and_puts_warnings_back(monkeypatch):
    monkeypatch.setattr(rlkit.logger, "REDRAW_SECONDS", 0.01)
    shown_before = warnings.showwarning
    logger = Logger(None, 100)
    assert len(_bar_threads()) == 1
    logger.close()
    assert _bar_threads() == [] and warnings.showwarning is shown_before


def test_a_warning_mid_run_prints_above_the_bar(monkeypatch, capsys):
    def show(message, category, filename, lineno, file=None, line=None):
        sys.stderr.write(f"WARNING {message}\n")

    monkeypatch.setattr(warnings, "showwarning", show)
    logger = Logger(None, 100)
    try:
        logger.advance(10)
        logger.phase("evaluation 0/20")
        warnings.warn("an episode was cut")
    finally:
        logger.close()
    err = capsys.readouterr().err
    before, after = err.split("WARNING an episode was cut\n")
    assert before.endswith("\r")  # the bar's line was cleared first: the warning has a line of its own
    assert "evaluation 0/20:" in after  # and the bar is drawn again below it


def test_a_warning_mid_run_still_reaches_pytest_warns():
    logger = Logger(None, 100)
    try:
        with pytest.warns(UserWarning, match="cut"):
            warnings.warn("an episode was cut")
    finally:
        logger.close()


def test_interpreter_exit_is_clean_with_the_bar_open_or_closed():
    code = ("import time, rlkit.logger as L; L.REDRAW_SECONDS = 0.01\n"
            "a = L.Logger(None, 100); a.advance(5); time.sleep(0.2); a.close()\n"
            "b = L.Logger(None, 100); b.phase('evaluation 0/20'); time.sleep(0.2)\n"  # never closed
            "print('exiting', flush=True)\n")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "exiting\n", done.stderr
    assert "evaluation 0/20" in done.stderr and "Traceback" not in done.stderr and "Error" not in done.stderr


def test_evaluation_reports_episodes_done_and_prints_nothing(capfd):
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO)
    calls = []
    evaluate(agent, episodes=3, num_envs=2, on_episode=lambda done, episodes: calls.append((done, episodes)))
    assert calls[-1] == (3, 3)
    assert [d for d, _ in calls] == sorted(set(d for d, _ in calls))  # counts only go up, one call per change
    evaluate(agent, episodes=3)  # used alone it prints nothing
    assert capfd.readouterr() == ("", "")


def test_periodic_and_final_evaluations_show_their_episodes_on_the_bar(tmp_path, phases):
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO)
    agent.learn(128, tmp_path / "r", eval_freq=64, eval_episodes=3, checkpoint_freq=64, progress=False)
    shown = [name for name, _ in phases]
    evaluations = [i for i, name in enumerate(shown) if name == "evaluation 0/3"]
    # at steps 64 and 128; the final evaluation at 128 is that same one (same policy, same episodes), not a rerun
    assert [phases[i][1] for i in evaluations] == [64, 128]
    for start in evaluations:
        end = shown.index("evaluation 3/3", start)
        assert shown[end + 1] == "training"  # the phase before it comes back
    assert [step for name, step in phases if name == "checkpoint"] == [64, 128]  # the final one is not saved twice
    assert agent.last_summary["eval_episodes"] == 3 and "eval_mean_return" in agent.last_summary


def test_off_policy_warm_up_is_shown_until_learning_starts(phases):
    agent = DQN("CartPole-v1", seed=0, **TINY_DQN)
    update, updated_at = agent.update, []
    agent.update = lambda sample: (updated_at.append(agent.num_steps), update(sample))[1]
    agent.learn(100, progress=False, eval_episodes=0)
    assert phases[:2] == [("warm-up", 0), ("training", 50)]
    assert updated_at and min(updated_at) >= 50  # no update while "warm-up" was shown


def test_no_warm_up_without_learning_starts(phases):
    DQN("CartPole-v1", seed=0, **{**TINY_DQN, "learning_starts": 0}).learn(60, progress=False, eval_episodes=0)
    assert all(name != "warm-up" for name, _ in phases)


def test_a_quiet_run_prints_nothing(tmp_path, capfd):
    before = threading.active_count()
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, tmp_path / "r", eval_freq=64, eval_episodes=2, progress=False)
    assert capfd.readouterr() == ("", "")  # no bar, no "[eval] step ..." lines
    assert threading.active_count() == before and (tmp_path / "r" / "summary.json").exists()


def _stderr_of(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_ale_banner_is_not_printed_when_envs_are_built():
    # ALE's C++ writes the banner to file descriptor 2 at the first emulator of a process: only a
    # subprocess's captured stderr sees it. The control builds the env with gymnasium alone.
    control = _stderr_of("import ale_py, gymnasium as gym; gym.register_envs(ale_py); gym.make('ALE/Pong-v5').close()")
    assert "A.L.E: Arcade Learning Environment" in control and "[Powered by Stella]" in control
    # one process each: only a process's first emulator would print it
    for backend in ("gymnasium", "ale"):
        err = _stderr_of(f"from envs import make_vec_env; make_vec_env('ALE/Pong-v5', 1, backend='{backend}').close()")
        assert "A.L.E" not in err and "Stella" not in err, (backend, err)
