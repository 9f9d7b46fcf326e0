"""Runs never lose finished work: one test per reproduced defect (numbered as found)."""
import csv
import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
import torch

from agents import DQN, PPO2
from rlkit import evaluate
from rlkit.checkpoint import load_checkpoint
from rlkit.cli import main
from rlkit.errors import CheckpointError, ConfigError, NonFiniteError, RunFolderError, TrainingInterrupted
from rlkit.run_folder import RunFolder
from run_files import csv_steps

ROOT = Path(__file__).resolve().parent.parent
CLI_ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
TINY_PPO = dict(n_steps=64, batch_size=64, n_epochs=2)
TINY_DQN = dict(learning_starts=50, buffer_size=2000, batch_size=16, train_freq=1, target_update_interval=100)



# 1. --normalize-reward made every checkpoint save crash
def test_reward_normalisation_saves_and_resumes(tmp_path):
    agent = PPO2("CartPole-v1", seed=0, normalize_reward=True, **TINY_PPO).learn(256, tmp_path / "r", progress=False,
                                                                                 eval_episodes=0)
    loaded = PPO2.load(tmp_path / "r")
    assert loaded.ret_rms.count == agent.ret_rms.count and loaded.ret_rms.var == pytest.approx(agent.ret_rms.var)
    agent.save(tmp_path / "again.pt")


# 2. DQN and DDPG wrote NaN weights over the last good checkpoint
def test_non_finite_weights_never_reach_a_checkpoint(tmp_path):
    agent = DQN("CartPole-v1", seed=0, **TINY_DQN)
    original = agent.update

    def update_then_break(sample):
        out = original(sample)
        if agent.num_steps >= 130:
            with torch.no_grad():
                agent.flat.param.fill_(float("nan"))
        return out

    agent.update = update_then_break
    with pytest.raises(NonFiniteError, match=r"last good checkpoint is .*checkpoint.pt \(step 100\)"):
        agent.learn(1000, tmp_path / "r", checkpoint_freq=50, progress=False, eval_episodes=0)
    saved = load_checkpoint(tmp_path / "r")
    assert saved["counters"]["num_steps"] == 100
    assert all(torch.isfinite(t).all() for t in saved["state"]["q_net"].values())
    with pytest.raises(NonFiniteError, match="not saved"):
        agent.save(tmp_path / "manual.pt")
    assert not (tmp_path / "manual.pt").exists()


# 3. training into an existing run folder silently replaced it; two writers corrupted it
def test_a_run_folder_is_never_replaced_silently(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)
    with pytest.raises(RunFolderError, match="--resume.*--overwrite"):
        PPO2("CartPole-v1", seed=1, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)
    assert load_checkpoint(run)["counters"]["num_steps"] == 128
    PPO2("CartPole-v1", seed=1, **TINY_PPO).learn(192, run, overwrite=True, progress=False, eval_episodes=0)
    assert csv_steps(run) == [64, 128, 192]  # one header, the new run's rows only
    assert len(list(run.glob("events.out.tfevents.*"))) == 1  # the old curve is gone, no fold


def test_a_second_writer_is_refused(tmp_path):
    holder = RunFolder(tmp_path / "r")  # another process training there holds the same lock
    try:
        with pytest.raises(RunFolderError, match="another process"):
            PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(64, tmp_path / "r", progress=False, eval_episodes=0)
        with pytest.raises(RunFolderError):
            DQN("CartPole-v1", seed=0, **TINY_DQN).learn(64, tmp_path / "r", resume=True, progress=False, eval_episodes=0)
    finally:
        holder.close()
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(64, tmp_path / "r", progress=False, eval_episodes=0)


# 4. SIGKILL during a checkpoint write left temp files that were never removed
def test_stale_temp_files_are_removed_when_the_run_continues(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)
    # the names a kill leaves: a checkpoint, config.json or progress.csv being written, the replay's counter
    stale = [run / ".checkpoint.pt.abc123.tmp", run / ".config.json.tmp", run / ".progress.csv.tmp",
             run / "replay" / ".replay_written.npy.tmp"]
    (run / "replay").mkdir()
    for path in stale:
        path.write_bytes(b"\0" * 100)
    other_run = run / "another-run"  # a folder of someone else's inside: not ours to clean
    other_run.mkdir()
    (other_run / ".checkpoint.pt.live.tmp").write_bytes(b"\0")
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(256, run, resume=True, progress=False, eval_episodes=0)
    assert not any(path.exists() for path in stale)
    assert (other_run / ".checkpoint.pt.live.tmp").exists()


# 5. an env whose episodes never end hung the final evaluation
class _Endless(gym.Env):
    observation_space = gym.spaces.Box(-1, 1, (2,), np.float32)
    action_space = gym.spaces.Discrete(2)

    def reset(self, seed=None, options=None):
        super().reset(seed=seed)
        return np.zeros(2, np.float32), {}

    def step(self, action):
        return np.zeros(2, np.float32), 1.0, False, False, {}


def test_evaluation_episodes_have_a_step_cap():
    agent = PPO2(_Endless, seed=0, **TINY_PPO)
    with pytest.warns(UserWarning, match="cut there"):
        mean, std = evaluate(agent, episodes=3, max_episode_steps=200)
    assert (mean, std) == (200.0, 0.0)


# 6. SIGTERM saved nothing; SIGINT saved in the middle of an update and the resumed CSV skipped steps
@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_at_a_safe_point_and_save(tmp_path, sig):
    run = tmp_path / "r"
    train = [sys.executable, "-m", "rlkit.cli", "train", "ppo2", "--env", "CartPole-v1", "--preset", "none", "--total-steps", "200000",
             "--n-steps", "64", "--batch-size", "64", "--n-epochs", "4", "--checkpoint-freq", "100000",
             "--eval-episodes", "0", "--no-progress", "--log-dir", str(run)]
    proc = subprocess.Popen(train, env=CLI_ENV, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "progress.csv").exists() and len(csv_steps(run)) > 20):
        time.sleep(0.05)
    proc.send_signal(sig)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, stderr
    assert "--resume" in stderr
    saved_step = load_checkpoint(run)["counters"]["num_steps"]
    assert 0 < saved_step < 100_000  # saved by the signal, not by the schedule
    assert csv_steps(run)[-1] == saved_step  # stopped after a whole update and its row
    assert json.loads((run / "summary.json").read_text())["stopped_by"] == signal.Signals(sig).name

    at = train.index("--total-steps") + 1
    resumed = subprocess.run([*train[:at], str(saved_step + 640), *train[at + 1:], "--resume"], env=CLI_ENV, cwd=tmp_path,
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert csv_steps(run) == list(range(64, saved_step + 640 + 1, 64))


# 7. a flipped byte in a checkpoint loaded silently
def test_sigterm_during_the_final_evaluation_still_writes_the_summary(tmp_path, monkeypatch):
    import rlkit.evaluation

    def interrupted_evaluation(agent, *, stop, **settings):
        os.kill(os.getpid(), signal.SIGTERM)  # what a scheduler sends while the evaluation runs
        assert stop()
        raise rlkit.evaluation.EvaluationStopped

    monkeypatch.setattr(rlkit.evaluation, "evaluate", interrupted_evaluation)
    handler_before = signal.getsignal(signal.SIGTERM)
    run = tmp_path / "r"
    agent = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=64, n_epochs=1)
    with pytest.raises(TrainingInterrupted, match="SIGTERM during the final evaluation: training is complete"):
        agent.learn(128, run, progress=False, eval_episodes=2)
    summary = json.loads((run / "summary.json").read_text())
    assert summary["evaluation_stopped_by"] == "SIGTERM" and summary["total_steps"] == 128
    assert "eval_mean_return" not in summary
    assert load_checkpoint(run)["counters"]["num_steps"] == 128  # saved before the evaluation began
    assert signal.getsignal(signal.SIGTERM) == handler_before  # the run's handler is gone with it


def test_a_flipped_byte_is_caught_or_harmless(tmp_path):
    path = PPO2("CartPole-v1", seed=0, **TINY_PPO).save(tmp_path / "a.pt")
    clean = path.read_bytes()
    reference = load_checkpoint(path)
    caught = 0
    for position in np.linspace(0, len(clean) - 1, 60).astype(int):
        damaged = bytearray(clean)
        damaged[position] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            payload = load_checkpoint(path)
        except CheckpointError:
            caught += 1
            continue
        # not caught: the byte was zip bookkeeping that changes nothing loaded
        for key, value in reference["state"]["net"].items():
            assert torch.equal(payload["state"]["net"][key], value)
        assert payload["config"] == reference["config"] and payload["counters"] == reference["counters"]
    assert caught >= 50


def test_a_flipped_byte_in_the_weights_names_the_checksum(tmp_path):
    path = PPO2("CartPole-v1", seed=0, **TINY_PPO).save(tmp_path / "a.pt")
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="checksum"):
        PPO2.load(path)


# 8. raw tracebacks where a typed error belongs (the rest are in test_user_errors.py)
def test_resume_works_from_the_checkpoint_alone(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)
    (run / "config.json").unlink()
    assert main(["train", "ppo2", "--log-dir", str(run), "--resume", "--total-steps", "256", "--eval-episodes", "0",
                 "--no-progress"]) == 0
    assert load_checkpoint(run)["counters"]["num_steps"] == 256


def test_resume_with_a_switch_the_checkpoint_lacks_is_a_checkpoint_error(tmp_path, capsys):
    run = tmp_path / "r"
    DQN("CartPole-v1", seed=0, **TINY_DQN).learn(200, run, progress=False, eval_episodes=0)
    assert main(["train", "dqn", "--log-dir", str(run), "--resume", "--total-steps", "400", "--prioritized", "true",
                 "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "does not fit" in err and "prioritized" in err


def test_disk_full_at_checkpoint_is_a_checkpoint_error_and_keeps_the_last_one(tmp_path, monkeypatch):
    run = tmp_path / "r"
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", full)
    with pytest.raises(CheckpointError, match="no space left.*intact"):
        agent.learn(128, run, progress=False, eval_episodes=0)
    monkeypatch.undo()
    assert load_checkpoint(run)["counters"]["num_steps"] == 128
    assert not list(run.glob(".*.tmp"))


def test_log_dir_naming_a_file_is_a_config_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        PPO2("CartPole-v1", **TINY_PPO).learn(64, tmp_path / "file", progress=False, eval_episodes=0)


def test_resume_of_a_run_killed_before_its_first_checkpoint_starts_it_again(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=0)
    (run / "checkpoint.pt").unlink()
    assert main(["train", "ppo2", "--log-dir", str(run), "--resume", "--eval-episodes", "0", "--no-progress"]) == 0
    assert csv_steps(run) == [64, 128] and len(list(run.glob("events.out.tfevents.*"))) == 1


# 9. learn(10) ran 2048 steps without saying so; a second learn() call did nothing
def test_learn_rounds_up_to_whole_rollouts_and_says_so():
    agent = PPO2("CartPole-v1", **TINY_PPO)
    with pytest.warns(UserWarning, match="whole rollouts of 64 steps"):
        agent.learn(10, progress=False, eval_episodes=0)
    assert agent.num_steps == 64


def test_a_second_learn_call_trains_more(tmp_path):
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO)
    agent.learn(128, tmp_path / "r", progress=False, eval_episodes=0)
    agent.learn(128, tmp_path / "r", progress=False, eval_episodes=0)  # the same run, continued
    assert agent.num_steps == 256 and agent.num_updates == 4
    assert csv_steps(tmp_path / "r") == [64, 128, 192, 256]


# 12. a run that ended before learning started crashed while plotting
def test_a_run_that_never_learned_ends_cleanly(tmp_path):
    agent = DQN("CartPole-v1", seed=0, learning_starts=10**9, buffer_size=5000, batch_size=16)
    agent.learn(300, tmp_path / "r", progress=False, eval_episodes=0)
    assert load_checkpoint(tmp_path / "r")["counters"]["num_steps"] == 300
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["updates"] == 0


# 10. every checkpoint of an Atari DQN wrote its whole replay (7.1 GB at 1M transitions)
def test_checkpoints_hold_the_replay_frames_by_reference_and_resume_restores_them(tmp_path):
    run = tmp_path / "r"
    agent = DQN("CartPole-v1", seed=0, **{**TINY_DQN, "buffer_size": 4000})
    agent.learn(600, run, checkpoint_freq=200, progress=False, eval_episodes=0)
    saved = load_checkpoint(run)
    assert "frames" not in saved["state"]["replay"] and saved["state"]["replay"]["frames_file"].endswith("replay_frames.npy")
    resumed = DQN("CartPole-v1", seed=0, **{**TINY_DQN, "buffer_size": 4000})
    resumed.restore(saved)
    for name in ("frames", "actions", "rewards", "valid", "terminated", "next_offset"):
        np.testing.assert_array_equal(getattr(resumed.replay, name), getattr(agent.replay, name))
    assert resumed.replay.rng.bit_generator.state == agent.replay.rng.bit_generator.state
    a, b = agent.replay.sample(64), resumed.replay.sample(64)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_a_loaded_agent_never_writes_another_runs_replay_file(tmp_path):
    run = tmp_path / "r"
    DQN("CartPole-v1", seed=0, **TINY_DQN).learn(300, run, progress=False, eval_episodes=0)
    frames_file = run / "replay" / "replay_frames.npy"
    before = frames_file.read_bytes()
    borrowed = DQN.load(run)
    borrowed.learn(300, progress=False, eval_episodes=0)  # no log_dir: its writes stay in memory
    assert frames_file.read_bytes() == before
    borrowed.learn(100, tmp_path / "mine", progress=False, eval_episodes=0)  # its own folder gets a copy
    assert (tmp_path / "mine" / "replay" / "replay_frames.npy").exists() and frames_file.read_bytes() == before
    DQN("CartPole-v1", seed=0, **TINY_DQN).learn(400, run, resume=True, progress=False, eval_episodes=0)
    assert load_checkpoint(run)["counters"]["num_steps"] == 400


# --- found in review -----------------------------------------------------------------------------
def test_an_agent_on_an_env_instance_finishes_its_run_without_an_evaluation(tmp_path):
    agent = PPO2(gym.make("CartPole-v1"), seed=0, **TINY_PPO)
    with pytest.warns(UserWarning, match="no final evaluation"):
        agent.learn(128, tmp_path / "r", progress=False)
    assert "eval_mean_return" not in agent.last_summary and (tmp_path / "r" / "summary.json").exists()
    with pytest.raises(ConfigError, match="eval_freq"):
        agent.learn(128, progress=False, eval_freq=64)


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, progress=False, eval_episodes=2)
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir() if p.is_file()}
    with pytest.warns(UserWarning, match="already complete"):
        agent = PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(128, run, resume=True, progress=False, eval_episodes=2)
    assert agent.last_summary["eval_episodes"] == 2
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in run.iterdir() if p.is_file()}
    assert after == before


def test_periodic_evaluation_needs_episodes_and_a_stop_request_cuts_it_short():
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO)
    with pytest.raises(ConfigError, match="eval_episodes"):
        agent.learn(128, progress=False, eval_freq=64, eval_episodes=0)
    from rlkit.evaluation import EvaluationStopped

    with pytest.raises(EvaluationStopped):
        evaluate(agent, episodes=5, stop=lambda: True)


def test_overwrite_replaces_a_run_the_agent_itself_wrote(tmp_path):
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO)
    agent.learn(128, tmp_path / "r", progress=False, eval_episodes=0)
    agent.learn(64, tmp_path / "r", overwrite=True, progress=False, eval_episodes=0)
    assert csv_steps(tmp_path / "r") == [192]  # the old rows are gone: a new run from where the agent is


def test_a_moved_run_folder_resumes_from_its_own_replay(tmp_path):
    DQN("CartPole-v1", seed=0, **TINY_DQN).learn(300, tmp_path / "r", progress=False, eval_episodes=0)
    (tmp_path / "r").rename(tmp_path / "moved")
    agent = DQN("CartPole-v1", seed=0, **TINY_DQN).learn(400, tmp_path / "moved", resume=True, progress=False,
                                                          eval_episodes=0)
    assert agent.replay.storage_path == (tmp_path / "moved" / "replay" / "replay_frames.npy").resolve()
    assert agent.replay.num_transitions > 300


def test_resuming_with_other_replay_settings_is_a_checkpoint_error(tmp_path):
    DQN("CartPole-v1", seed=0, **TINY_DQN).learn(200, tmp_path / "r", progress=False, eval_episodes=0)
    with pytest.raises(CheckpointError, match="n_step"):
        DQN("CartPole-v1", seed=0, n_step=3, **TINY_DQN).learn(400, tmp_path / "r", resume=True, progress=False,
                                                                 eval_episodes=0)


def test_a_replay_that_does_not_fit_on_the_disk_is_refused_at_the_start(tmp_path, monkeypatch):
    def full(fd, offset, length):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "posix_fallocate", full)
    with pytest.raises(ConfigError, match="needs .* GB .*save_replay=False"):
        DQN("CartPole-v1", seed=0, **TINY_DQN).learn(200, tmp_path / "r", progress=False, eval_episodes=0)


def test_an_agent_stops_writing_its_run_folder_when_the_run_ends(tmp_path):
    agent = DQN("CartPole-v1", seed=0, **TINY_DQN).learn(300, tmp_path / "r", progress=False, eval_episodes=0)
    frames_file = tmp_path / "r" / "replay" / "replay_frames.npy"
    before = frames_file.read_bytes()
    agent.learn(200, progress=False, eval_episodes=0)  # no log_dir: the folder's lock is not held
    assert frames_file.read_bytes() == before
    agent.learn(100, tmp_path / "r", progress=False, eval_episodes=0)  # the same run, continued
    assert load_checkpoint(tmp_path / "r")["counters"]["num_steps"] == 600
    assert DQN.load(tmp_path / "r").replay.num_transitions > 500


@pytest.mark.slow
def test_ctrl_c_stops_a_run_on_async_envs_at_a_safe_point(tmp_path):
    run = tmp_path / "r"
    train = [sys.executable, "-m", "rlkit.cli", "train", "ppo2", "--env", "CartPole-v1", "--preset", "none", "--total-steps", "200000",
             "--num-envs", "2", "--vectorization", "async", "--n-steps", "32", "--batch-size", "64",
             "--checkpoint-freq", "100000", "--eval-episodes", "0", "--no-progress", "--log-dir", str(run)]
    # its own process group, as a terminal's foreground job: Ctrl-C reaches the env workers too
    proc = subprocess.Popen(train, env=CLI_ENV, cwd=tmp_path, stderr=subprocess.PIPE, text=True, start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "progress.csv").exists() and len(csv_steps(run)) > 5):
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert load_checkpoint(run)["counters"]["num_steps"] == csv_steps(run)[-1]


def test_summary_json_is_strict_json_when_no_episode_finished(tmp_path):
    DQN("CartPole-v1", seed=0, learning_starts=10**9, buffer_size=5000, batch_size=16).learn(
        8, tmp_path / "r", progress=False, eval_episodes=0)
    text = (tmp_path / "r" / "summary.json").read_text()
    assert json.loads(text, parse_constant=lambda c: pytest.fail(f"{c} in summary.json"))["recent_train_return"] is None


def test_wall_time_and_speed_go_on_across_a_resume(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(256, run, progress=False, eval_episodes=0)
    with open(run / "progress.csv", newline="") as f:
        first = [float(row["time"]) for row in csv.DictReader(f)]
    agent = PPO2("CartPole-v1", seed=0, **TINY_PPO).learn(512, run, resume=True, progress=False, eval_episodes=0)
    with open(run / "progress.csv", newline="") as f:
        times = [float(row["time"]) for row in csv.DictReader(f)]
    assert times[:4] == first and times == sorted(times) and times[4] > first[-1]  # no restart at 0
    summary = agent.last_summary
    assert summary["train_seconds"] >= times[-1] - 0.01
    # steps over the whole run per second of the whole run (not the resumed 256); train_seconds is rounded
    assert summary["sps"] == pytest.approx(512 / summary["train_seconds"], rel=0.1)
