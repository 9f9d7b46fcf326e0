import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from agents import PPO2
from rlkit.checkpoint import load_checkpoint
from run_files import csv_steps

ROOT = Path(__file__).resolve().parent.parent
TRAIN = [sys.executable, "-m", "rlkit.cli", "train", "ppo2", "--env", "CartPole-v1", "--preset", "none", "--total-steps", "16384",
         "--n-steps", "64", "--batch-size", "64", "--n-epochs", "4", "--checkpoint-freq", "1024",
         "--eval-episodes", "0", "--no-progress"]



@pytest.mark.slow
def test_sigkill_then_resume_continues_counter_and_curve(tmp_path):
    run = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([*TRAIN, "--log-dir", str(run)], env=env, cwd=tmp_path)
    deadline = time.time() + 120
    while time.time() < deadline:
        if (run / "checkpoint.pt").exists() and (run / "progress.csv").exists() and csv_steps(run)[-1] >= 4096:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = csv_steps(run)[-1]
    saved_step = load_checkpoint(run / "checkpoint.pt")["counters"]["num_steps"]
    assert 0 < saved_step <= killed_at < 16384

    subprocess.run([*TRAIN, "--log-dir", str(run), "--resume"], env=env, cwd=tmp_path, check=True, timeout=300)
    assert load_checkpoint(run / "checkpoint.pt")["counters"]["num_steps"] == 16384
    steps = csv_steps(run)
    assert steps == list(range(64, 16384 + 1, 64))  # one row per update, no gap, no repeat

    events = EventAccumulator(str(run))
    events.Reload()
    sps_steps = [e.step for e in events.Scalars("time/sps")]
    assert sps_steps == sorted(set(sps_steps)) and sps_steps[0] == 64 and sps_steps[-1] == 16384
    assert len(sps_steps) == 16384 // 64  # the events written after the checkpoint were purged


def _run(seed: int, log_dir: Path) -> list[dict]:
    PPO2("CartPole-v1", seed=seed, num_envs=2, n_steps=128, batch_size=64, n_epochs=4).learn(
        4096, log_dir, progress=False, eval_episodes=0)
    with open(log_dir / "progress.csv", newline="") as f:
        return [{k: v for k, v in row.items() if k not in ("time", "sps")} for row in csv.DictReader(f)]


def test_same_seed_same_returns_and_losses_on_cpu(tmp_path):
    first, second = _run(5, tmp_path / "a"), _run(5, tmp_path / "b")
    assert len(first) == 4096 // 256
    assert first == second
    assert _run(6, tmp_path / "c") != first


def test_resumed_agent_loads_exact_weights(tmp_path):
    agent = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=64).learn(512, tmp_path / "r", progress=False, eval_episodes=0)
    again = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=64)
    again.restore(load_checkpoint(tmp_path / "r"))
    for a, b in zip(agent.net.state_dict().values(), again.net.state_dict().values()):
        torch.testing.assert_close(a, b)


def test_same_seed_same_weights_whatever_threads_were_set_before():
    # the orthogonal init is a QR that rounds differently on 1 and 2 threads; agents fix the count first
    torch.set_num_threads(2)
    first = PPO2("CartPole-v1", seed=3)
    torch.set_num_threads(1)
    second = PPO2("CartPole-v1", seed=3)
    assert torch.equal(first.flat.param, second.flat.param)
