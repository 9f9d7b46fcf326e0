"""Rollouts on Ray actors (rlkit/ray_rollout.py): the same contract as local rollouts, every
on-policy agent, restarts, resume, stops, and the settings' errors.

One local Ray cluster of 2 CPUs serves the module (started by the fixture, which the agents then
join and leave running); the CLI test starts its own, through rlkit, in a subprocess.
"""
import functools
import importlib.util
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

ray = pytest.importorskip("ray")

from agents import A2C, A3C, GAIL, PPO, PPO2, Reinforce  # noqa: E402
from rlkit import evaluate  # noqa: E402
from rlkit.buffers.demonstrations import collect_demonstrations  # noqa: E402
from rlkit.checkpoint import load_checkpoint  # noqa: E402
from rlkit.errors import ConfigError, TrainingInterrupted  # noqa: E402
from rlkit.on_policy import make_rollout_worker  # noqa: E402
from rlkit.ray_rollout import RayRolloutWorkers  # noqa: E402
from run_files import CLI_ENV, csv_steps  # noqa: E402
from faulty_envs import cartpole_that_dies_once  # noqa: E402
from toy_experts import cartpole_expert  # noqa: E402

QUIET = dict(progress=False, eval_episodes=0)
ON_RAY = dict(num_envs=4, rollout="ray", ray_workers=2)  # 2 actors of 2 envs
SMALL = dict(ON_RAY, n_steps=32, batch_size=64, n_epochs=1)  # PPO2: 128 steps a rollout


@pytest.fixture(scope="module", autouse=True)
def ray_cluster():
    sigterm = signal.getsignal(signal.SIGTERM)
    # "local": a cluster of this module's own, never one another process left running on the machine
    # the tests folder on the workers' path too: env factories defined there (faulty_envs) unpickle in the actors
    tests = Path(__file__).resolve().parent
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join([str(tests.parent), str(tests)])}})
    yield
    ray.shutdown()
    signal.signal(signal.SIGTERM, sigterm)  # ray.init replaced it with one that exits at once


def _rollout(agent, seed):
    """One rollout through the worker the agent's config picks; the batch and its episodes."""
    buffer = agent.make_rollout_buffer()
    worker = make_rollout_worker(agent, buffer, seed=seed)
    try:
        episodes, last_values = worker.collect(buffer)
        return buffer.batch(last_values, worker.obs), episodes
    finally:
        worker.close()


def _cpus_free_again(expected=2.0, timeout=20.0):
    """Whether every actor was killed: their CPUs are back with the cluster (Ray frees them shortly after)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if ray.available_resources().get("CPU", 0) == expected:
            return True
        time.sleep(0.1)
    return False


# --- the batch contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_ray_rollouts_keep_the_local_batch_contract(env_id):
    # 200 steps: Pendulum's episodes (200 steps) end once, CartPole's (random policy) many times
    settings = dict(seed=3, num_envs=4, n_steps=200, batch_size=64, normalize_obs=True)
    local_agent, ray_agent = PPO2(env_id, **settings), PPO2(env_id, rollout="ray", ray_workers=2, **settings)
    # a learner whose weights and normaliser moved since the actors were built: they must use these
    with torch.no_grad():
        ray_agent.flat.param.add_(0.1 * torch.randn_like(ray_agent.flat.param))
    ray_agent.obs_rms.update(np.random.default_rng(0).normal(size=(50, *ray_agent.observation_space.shape)))
    local, local_episodes = _rollout(local_agent, seed=3)
    remote, remote_episodes = _rollout(ray_agent, seed=3)

    for name in local._fields:
        a, b = getattr(local, name), getattr(remote, name)
        assert (a.shape, a.dtype) == (b.shape, b.dtype), name
    # env k * N/K + j of the actors got the seed env k * N/K + j gets locally: the same first observations
    np.testing.assert_array_equal(local.obs[0], remote.obs[0])
    assert type(local_episodes) is type(remote_episodes) and local_episodes._fields == remote_episodes._fields
    assert remote_episodes.returns and all(isinstance(r, float) for r in remote_episodes.returns)
    assert all(isinstance(n, int) for n in remote_episodes.lengths)
    assert len(remote_episodes.returns) == len(remote_episodes.lengths)
    if env_id == "Pendulum-v1":  # no early ends: one 200-step episode per env, every row valid
        assert remote_episodes.lengths == local_episodes.lengths == [200] * 4
        assert remote.valid.all() and remote.truncated[-1].all()
    else:  # an episode end makes the next row an autoreset, as locally
        ends = np.flatnonzero(remote.terminated[:-1, 0] + remote.truncated[:-1, 0])
        assert len(ends) > 0 and not remote.valid[ends + 1, 0].any()
    # the actors acted with the learner's current weights and observation statistics
    flat_obs = remote.obs.reshape(-1, *remote.obs.shape[2:])
    np.testing.assert_allclose(remote.values.reshape(-1), ray_agent.policy.values(flat_obs), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(remote.last_values, ray_agent.policy.values(remote.last_obs), rtol=1e-4, atol=1e-5)


def test_ray_rollouts_with_the_same_seed_are_the_same():
    first, _ = _rollout(PPO2("CartPole-v1", seed=5, **SMALL), seed=5)
    again, _ = _rollout(PPO2("CartPole-v1", seed=5, **SMALL), seed=5)
    for name in first._fields:
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name), err_msg=name)


# --- every on-policy agent -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cartpole_demos(tmp_path_factory):
    demos = collect_demonstrations(cartpole_expert, "CartPole-v1", episodes=2, seed=0)
    return demos.save(tmp_path_factory.mktemp("demos") / "cartpole.npz")


@pytest.mark.parametrize("agent_class", [PPO, A2C, Reinforce, GAIL])
def test_every_on_policy_agent_trains_on_ray_rollouts(agent_class, cartpole_demos):
    extra = {A2C: dict(n_steps=32), Reinforce: dict(n_steps=64)}.get(agent_class, dict(n_steps=32, batch_size=64))
    if agent_class is GAIL:
        extra.update(demos=str(cartpole_demos), disc_batch_size=32)
    agent = agent_class("CartPole-v1", seed=0, **ON_RAY, **extra)
    before = agent.flat.param.detach().clone()
    steps = 2 * agent.config.n_steps * 4
    agent.learn(steps, **QUIET)
    assert agent.num_steps == steps and agent.num_updates == 2
    assert not torch.equal(before, agent.flat.param)
    assert ray.is_initialized() and _cpus_free_again()  # the actors are gone; the fixture's cluster is not


# --- failures, resume, stops -----------------------------------------------------------------------------


def test_a_killed_actor_is_restarted_and_the_learner_goes_on(monkeypatch):
    workers = []
    get = RayRolloutWorkers._get

    def get_after_killing_on_the_third_collect(self, refs, timeout=None):
        if not workers:
            workers.append(self)
        self.gets = getattr(self, "gets", 0) + 1
        if self.gets == 4:  # the first get waits for the actors to start; then collects 1, 2, 3
            ray.kill(self.actors[0], no_restart=False)  # its process dies; Ray starts it again
        return get(self, refs, timeout)

    monkeypatch.setattr(RayRolloutWorkers, "_get", get_after_killing_on_the_third_collect)
    # REINFORCE holds unfinished episodes back across rollouts: a restart must drop them
    agent = Reinforce("CartPole-v1", seed=0, n_steps=64, **ON_RAY)
    starts = []
    start_rollouts = agent.start_rollouts
    agent.start_rollouts = lambda: (starts.append(agent.num_steps), start_rollouts())
    with pytest.warns(RuntimeWarning, match=r"actor\(s\) \[0\] had died and were restarted"):
        agent.learn(6 * 64 * 4, **QUIET)
    assert agent.num_steps == 6 * 64 * 4 and agent.num_updates == 6
    assert workers[0].restarts == 1
    assert len(starts) == 2 and starts[0] == 0  # the loop's start, then the restart's
    assert all(np.isfinite(p).all() for p in agent.flat.param.detach().numpy())
    assert _cpus_free_again()


def test_a3c_on_ray_applies_each_workers_gradient_and_outlives_a_crashed_actor(tmp_path):
    """A3C's workers as Ray actors: one crashes its process at its 200th env step; Ray restarts it,
    runs its task again, and the run ends with every step counted and the parameters trained."""
    marker = tmp_path / "crashed"
    agent = A3C(functools.partial(cartpole_that_dies_once, str(marker)), seed=0, num_workers=2, num_envs=2, rollout="ray")
    start = agent.flat.param.detach().clone()
    agent.learn(4000, tmp_path / "run", **QUIET)
    assert marker.exists()  # the crash happened
    assert agent.num_steps >= 4000 and agent.num_updates == agent.num_steps // 10  # 2 envs x 5 steps a gradient
    assert not torch.equal(agent.flat.param.detach(), start) and torch.isfinite(agent.flat.param).all()
    assert float(agent.optimizer.state_dict()["state"][0]["step"]) == agent.num_updates  # one step per gradient
    assert csv_steps(tmp_path / "run")[-1] == agent.num_steps
    assert _cpus_free_again()


def test_a_run_on_ray_resumes_from_its_checkpoint(tmp_path):
    run = tmp_path / "r"
    PPO2("CartPole-v1", seed=0, **SMALL).learn(2 * 128, run, **QUIET)
    agent = PPO2.load(run).learn(4 * 128, run, resume=True, **QUIET)
    assert agent.config.rollout == "ray" and agent.num_steps == 4 * 128
    assert csv_steps(run) == [128, 256, 384, 512]


def test_an_error_in_the_update_still_kills_the_actors():
    agent = PPO2("CartPole-v1", seed=0, **SMALL)

    def broken_update(batch, progress):
        raise RuntimeError("update failed")

    agent.update = broken_update
    with pytest.raises(RuntimeError, match="update failed"):
        agent.learn(4 * 128, **QUIET)
    assert _cpus_free_again()


def test_sigterm_stops_a_ray_run_at_a_safe_point(tmp_path, monkeypatch):
    agent = PPO2("CartPole-v1", seed=0, **SMALL)
    update = agent.update

    def update_then_sigterm(batch, progress):
        out = update(batch, progress)
        if agent.num_updates == 1:
            signal.raise_signal(signal.SIGTERM)  # what a scheduler sends
        return out

    agent.update = update_then_sigterm
    with pytest.raises(TrainingInterrupted, match="SIGTERM: stopped at step 256"):
        agent.learn(10 * 128, tmp_path / "r", **QUIET)
    assert load_checkpoint(tmp_path / "r")["counters"]["num_steps"] == 256
    assert _cpus_free_again()


@pytest.mark.slow
def test_the_cli_starts_a_local_cluster_and_sigterm_still_saves(tmp_path):
    """rlkit's own ray.init (no cluster given) must not take train()'s SIGTERM handler away."""
    run = tmp_path / "r"
    train = [sys.executable, "-m", "rlkit.cli", "train", "ppo2", "--env", "CartPole-v1", "--preset", "none",
             "--rollout", "ray", "--ray-workers", "2", "--num-envs", "2", "--n-steps", "64", "--batch-size", "64",
             "--n-epochs", "1", "--total-steps", "10000000", "--checkpoint-freq", "10000000", "--eval-episodes", "0",
             "--no-progress", "--log-dir", str(run)]
    env = {k: v for k, v in CLI_ENV.items() if k != "RAY_ADDRESS"}
    proc = subprocess.Popen(train, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not ((run / "progress.csv").exists() and len(csv_steps(run)) > 5):
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, stderr
    assert json.loads((run / "summary.json").read_text())["stopped_by"] == "SIGTERM"
    assert load_checkpoint(run)["counters"]["num_steps"] > 0


# --- learning --------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ppo2_with_two_ray_workers_learns_cartpole(zoo_cartpole):
    agent = PPO2("CartPole-v1", seed=1, rollout="ray", ray_workers=2, **zoo_cartpole).learn(99_840, **QUIET)
    mean, _ = evaluate(agent, episodes=20, seed=123)
    assert mean >= 475


# --- settings ----------------------------------------------------------------------------------------------


def test_bad_ray_settings_raise_config_errors(monkeypatch):
    with pytest.raises(ConfigError, match="ray_workers must be >= 1"):
        PPO2("CartPole-v1", rollout="ray", ray_workers=0)
    with pytest.raises(ConfigError, match=r"num_envs \(3\) must divide evenly over ray_workers \(2\)"):
        PPO2("CartPole-v1", rollout="ray", ray_workers=2, num_envs=3)
    with pytest.raises(ConfigError, match="must be one of 'local', 'ray'"):
        PPO2("CartPole-v1", rollout="threads")
    with pytest.raises(ConfigError, match="Env or VectorEnv instance cannot travel"):
        PPO2(gym.make("CartPole-v1"), rollout="ray", ray_workers=1)
    A3C("CartPole-v1", rollout="ray", num_envs=1).close()  # A3C: num_envs per worker, not split
    PPO2("CartPole-v1", rollout="local", num_envs=3).close()  # ray_workers matters only on Ray

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else find_spec(name, *a))
    with pytest.raises(ConfigError, match=r"pip install rlkit\[ray\]"):
        PPO2("CartPole-v1", rollout="ray", num_envs=2)


def test_the_cli_takes_the_ray_flags(capsys):
    from rlkit.cli import main

    # every config field is a flag: the settings reach the config (and its checks) from the command line
    assert main(["train", "ppo2", "--env", "CartPole-v1", "--rollout", "ray", "--ray-workers", "3",
                 "--num-envs", "4", "--total-steps", "128", "--no-progress"]) == 2
    assert "num_envs (4) must divide evenly over ray_workers (3)" in capsys.readouterr().err
