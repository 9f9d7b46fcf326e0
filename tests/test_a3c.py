"""A3C: the shared optimiser, the workers, learning, and every way a worker or the main process can die."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agents import A3C
from faulty_envs import cartpole_that_breaks
from rlkit.checkpoint import load_checkpoint
from rlkit.errors import ConfigError, NonFiniteError, WorkerError
from rlkit.hogwild import SharedOptimizerStep, share_optimizer_state
from run_files import CLI_ENV, csv_steps, run_cli


# --- the shared optimiser -----------------------------------------------------------------------
@pytest.mark.parametrize("make", [lambda p: torch.optim.RMSprop([p], lr=0.01, alpha=0.99, eps=1e-5),
                                  lambda p: torch.optim.Adam([p], lr=0.01)], ids=["rmsprop", "adam"])
def test_shared_step_is_the_optimisers_own_step(make):
    """State made up front and shared leaves θ as it was; a worker's step through the shared state
    moves θ exactly as the optimiser on a private copy would, twice, and refreshes the local copy."""
    torch.manual_seed(0)
    param = torch.nn.Parameter(torch.randn(7))
    optimizer = make(param)
    before = param.detach().clone()
    state = share_optimizer_state(optimizer)
    assert torch.equal(param.detach(), before)
    assert all(v.is_shared() for v in state.values() if torch.is_tensor(v))
    assert float(state["step"]) == 0
    param.data.share_memory_()

    reference = torch.nn.Parameter(before.clone())
    reference_optimizer = make(reference)
    local = torch.zeros(7, requires_grad=True)
    worker = SharedOptimizerStep(local, param.data, type(optimizer), optimizer.defaults, state)
    assert torch.equal(local.detach(), before)  # θ' ← θ at the start
    for grad in (torch.randn(7), torch.randn(7)):
        local.grad, reference.grad = grad.clone(), grad.clone()
        worker.step()
        reference_optimizer.step()
        assert torch.allclose(param.detach(), reference.detach())
        assert torch.equal(local.detach(), param.detach())
    assert float(state["step"]) == 2


def test_shared_step_refuses_a_non_finite_gradient():
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = torch.optim.RMSprop([param], lr=0.1)
    state = share_optimizer_state(optimizer)
    local = torch.zeros(3, requires_grad=True)
    worker = SharedOptimizerStep(local, param.data, type(optimizer), optimizer.defaults, state)
    local.grad = torch.tensor([1.0, float("nan"), 0.0])
    with pytest.raises(NonFiniteError, match="not applied"):
        worker.step()
    assert torch.equal(param.detach(), torch.ones(3)) and float(state["step"]) == 0


def test_settings_a3c_cannot_honour_are_refused():
    with pytest.raises(ConfigError, match="normalize_obs"):
        A3C("CartPole-v1", normalize_obs=True)
    with pytest.raises(ConfigError, match="num_workers"):
        A3C("CartPole-v1", num_workers=-1)
    with pytest.raises(ConfigError, match="CPU"):
        A3C("CartPole-v1", device="cuda")


# --- training -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_two_workers_train_one_shared_network_and_resume(tmp_path):
    agent = A3C("CartPole-v1", num_workers=2, num_envs=2, seed=0)
    start = agent.flat.param.detach().clone()
    agent.learn(6000, log_dir=tmp_path / "run", eval_episodes=2, progress=False)
    # up to one rollout (2 envs x 5 steps) per worker past the target: the workers check it without a lock
    assert 6000 <= agent.num_steps <= 6000 + 2 * 10 and agent.num_updates == agent.num_steps // 10
    assert not torch.equal(agent.flat.param.detach(), start)  # the workers stepped the main process's θ
    steps = csv_steps(tmp_path / "run")
    assert steps == sorted(steps) and steps[-1] == agent.num_steps
    loaded = A3C.load(tmp_path / "run")
    assert torch.equal(loaded.flat.param.detach(), agent.flat.param.detach())
    assert loaded.optimizer.state_dict()["state"][0]["step"] > 0  # the shared statistics were saved

    agent.learn(10_000, log_dir=tmp_path / "run", resume=True, eval_episodes=0, progress=False)
    assert 10_000 <= agent.num_steps <= 10_000 + 2 * 10
    steps = csv_steps(tmp_path / "run")
    assert steps == sorted(steps) and steps[-1] == agent.num_steps


@pytest.mark.slow
def test_a3c_learns_cartpole_with_its_preset():
    """The preset's settings and budget (2 workers of 4 envs, 500k steps, the learning rate decayed
    to 0). The workers interleave as the OS schedules them, so no two runs are the same; this
    budget ended at 500 in every run measured (BENCHMARKS.md), where 150k did not."""
    agent = A3C("CartPole-v1", preset="rlkit", seed=0)
    agent.learn(500_000, eval_episodes=10, progress=False)
    assert agent.last_summary["eval_mean_return"] >= 475


# --- failures -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_worker_whose_env_raises_stops_the_run_naming_it(tmp_path):
    agent = A3C(cartpole_that_breaks, num_workers=2, seed=0)
    with pytest.raises(WorkerError, match=r"A3C worker \d .*failed: RuntimeError: the simulator broke") as caught:
        agent.learn(50_000, log_dir=tmp_path / "run", eval_episodes=0, progress=False)
    assert "Traceback" in str(caught.value) and caught.value.rank in (0, 1)
    assert (tmp_path / "run" / "checkpoint.pt").exists()  # saved when the worker failed


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _workers(pid: int) -> list[int]:
    """The A3C worker processes of ``pid`` (not multiprocessing's resource tracker)."""
    workers = []
    for child in _children(pid):
        try:
            cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            workers.append(child)
    return workers


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _start_run(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen, Path]:
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "rlkit.cli", "train", "a3c", "--env", "CartPole-v1", "--num-workers", "2",
         "--log-dir", str(run), "--checkpoint-freq", "2000", "--eval-episodes", "0", "--quiet", *flags],
        env=CLI_ENV, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (run / "checkpoint.pt").exists() or len(_workers(process.pid)) < 2:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "no checkpoint within 120 s"
        time.sleep(0.2)
    return process, run


def _resume_and_finish(tmp_path: Path, run: Path) -> None:
    saved = int(load_checkpoint(run / "checkpoint.pt")["counters"]["num_steps"])
    done = run_cli("train", "a3c", "--log-dir", str(run), "--resume", "--total-steps", str(saved + 3000),
                   "--eval-episodes", "0", "--quiet", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert A3C.load(run).num_steps >= saved + 3000


@pytest.mark.slow
def test_a_sigkilled_worker_stops_the_run_with_a_clear_error_and_it_resumes(tmp_path):
    process, run = _start_run(tmp_path, "--total-steps", "5000000")
    victim = _workers(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "A3C worker" in stderr and "was killed by SIGKILL" in stderr and "--resume" in stderr
    assert not any(_alive(pid) for pid in _workers(process.pid))
    _resume_and_finish(tmp_path, run)


@pytest.mark.slow
def test_with_restart_workers_a_killed_worker_is_replaced_and_the_run_finishes(tmp_path):
    process, run = _start_run(tmp_path, "--total-steps", "60000", "--restart-workers", "true")
    victim = _workers(process.pid)[0]
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=240)
    assert process.returncode == 0, stderr
    assert "was killed by SIGKILL" in stderr and "restarting it" in stderr
    assert A3C.load(run).num_steps >= 60000


@pytest.mark.slow
def test_killing_the_main_process_leaves_no_worker_behind_and_the_run_resumes(tmp_path):
    process, run = _start_run(tmp_path, "--total-steps", "5000000")
    workers = _workers(process.pid)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(pid) for pid in workers):
        assert time.monotonic() < deadline, "worker processes outlived the main process"
        time.sleep(0.1)
    _resume_and_finish(tmp_path, run)


def test_the_preset_is_found_by_the_cli_name(tmp_path):
    agent = A3C("CartPole-v1", preset="rlkit")
    assert agent.config.num_workers == 2 and agent.config.num_envs == 4 and agent.config.anneal_lr
    assert np.isclose(agent.config.ent_coef, 0.0)
