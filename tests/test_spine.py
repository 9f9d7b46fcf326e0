"""The spine: loops an agent names, agents without an env, the Policy, the reward and data seams."""
import ast
import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from agents import PPO2
from rlkit import evaluate
from rlkit.checkpoint import load_checkpoint
from rlkit.rollout import RolloutWorker
from run_files import CLI_ENV, ROOT, csv_steps, run_cli





@pytest.mark.slow
def test_a_family_with_its_own_loop_trains_and_resumes_through_the_cli(tmp_path):
    run = tmp_path / "rs"
    first = run_cli("train", "toy_family:RandomSearch", "--env", "CartPole-v1", "--total-steps", "3000",
                 "--checkpoint-freq", "500", "--eval-episodes", "3", "--log-dir", str(run), "--no-progress", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    saved = load_checkpoint(run)
    assert saved["agent"] == "RandomSearch" and saved["counters"]["num_steps"] >= 3000
    summary = json.loads((run / "summary.json").read_text())
    assert summary["eval_episodes"] == 3

    resumed = run_cli("train", "toy_family:RandomSearch", "--log-dir", str(run), "--resume", "--total-steps", "6000",
                   "--eval-episodes", "0", "--no-progress", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert load_checkpoint(run)["counters"]["num_steps"] >= 6000
    steps = csv_steps(run)
    assert steps == sorted(set(steps)) and steps[-1] >= 6000  # one row per update, no fold
    evaluated = run_cli("eval", str(run), "--agent", "toy_family:RandomSearch", "--episodes", "2", cwd=tmp_path)
    assert evaluated.returncode == 0 and json.loads(evaluated.stdout)["episodes"] == 2, evaluated.stderr


def test_policy_copies_reseed_their_own_stream():
    agent = PPO2("CartPole-v1", seed=0, n_steps=32, batch_size=32)
    a, b = (pickle.loads(pickle.dumps(agent.policy)).reseed(s) for s in (1, 2))
    obs = np.zeros((64, 4), dtype=np.float32)
    assert not np.array_equal(a.explore(obs).actions, b.explore(obs).actions)


@pytest.mark.slow
def test_a_family_without_an_env_trains_without_env_flag_and_evaluates_itself(tmp_path):
    run = tmp_path / "bandit"
    done = run_cli("train", "toy_family:Bandit", "--total-steps", "3200", "--log-dir", str(run), "--no-progress", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    summary = json.loads((run / "summary.json").read_text())
    assert summary["env"] is None and summary["eval_mean_return"] == 0.9  # found the best arm
    again = run_cli("train", "toy_family:Bandit", "--log-dir", str(run), "--resume", "--total-steps", "4800",
                 "--no-progress", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert load_checkpoint(run)["counters"]["num_steps"] == 4800

    sys.path.insert(0, str(ROOT / "tests"))
    from toy_family import Bandit

    agent = Bandit.load(run)
    assert evaluate(agent) == (0.9, 0.1)  # rlkit.evaluate dispatches to the agent's own evaluation


def test_policy_pickles_small_and_acts_the_same():
    agent = PPO2("CartPole-v1", seed=0, n_steps=64, batch_size=64, normalize_obs=True)
    agent.learn(128, progress=False, eval_episodes=0)
    copy = pickle.loads(pickle.dumps(agent.policy))
    obs = np.random.default_rng(1).normal(size=(5, 4)).astype(np.float32)
    np.testing.assert_array_equal(copy.act(obs, deterministic=True), agent.policy.act(obs, deterministic=True))
    copy.rng = np.random.default_rng(7)
    agent.policy.rng = np.random.default_rng(7)
    a, b = copy.explore(obs), agent.policy.explore(obs)
    for x, y in zip(a, b):
        np.testing.assert_allclose(x, y, atol=1e-6)
    assert copy.net.uses_numpy_rollouts  # the copy's mirror views its own parameters
    assert len(pickle.dumps(agent.policy)) < 100_000  # no envs, optimiser or buffers inside


def test_a_pickled_policy_drives_a_rollout_worker():
    from envs import make_vec_env

    agent = PPO2("CartPole-v1", seed=0, n_steps=32, batch_size=32)
    policy = pickle.loads(pickle.dumps(agent.policy))
    worker = RolloutWorker(make_vec_env("CartPole-v1", 2, seed=3), policy, seed=3)
    buffer = agent.make_rollout_buffer()
    buffer.__init__(32, 2, (4,), np.float32, (), np.int64, 2)
    _, last_values = worker.collect(buffer)
    batch = buffer.batch(last_values, worker.obs)
    assert batch.obs.shape == (32, 2, 4) and batch.last_obs.shape == (2, 4)
    np.testing.assert_array_equal(batch.next_obs()[-1], worker.obs)
    np.testing.assert_array_equal(batch.next_obs()[:-1], batch.obs[1:])


def test_reward_fn_replaces_the_env_reward_before_normalisation():
    agent = PPO2("CartPole-v1", seed=0, n_steps=16, batch_size=16)
    seen = []

    def discriminator(batch):
        seen.append(batch.rewards.shape)
        return np.full(batch.rewards.shape, -2.0)

    agent.reward_fn = discriminator
    agent.learn(32, progress=False, eval_episodes=0)
    assert seen == [(16, 1), (16, 1)]
    buffer = agent.make_rollout_buffer()
    worker = RolloutWorker(agent.envs, agent.policy, seed=0)
    _, last_values = worker.collect(buffer)
    batch = buffer.batch(last_values, worker.obs)
    np.testing.assert_array_equal(agent.training_rewards(batch), np.full((16, 1), -2.0, dtype=np.float32))
    agent.reward_fn = lambda batch: np.zeros(3)
    with pytest.raises(ValueError, match="one reward per step"):
        agent.training_rewards(batch)


def test_schedules_read_one_progress_convention():
    # progress is read after each rollout, as SB3 does: the updates of a 4-rollout run see 1/4 ... 4/4
    # of the run done (so with anneal_lr the first update uses 3/4 of the rate and the last 0)
    agent = PPO2("CartPole-v1", seed=0, n_steps=32, batch_size=32, learning_rate=1e-3, anneal_lr=True)
    rates = []
    original = agent.update
    agent.update = lambda batch, progress: rates.append(progress) or original(batch, progress)
    agent.learn(128, progress=False, eval_episodes=0)
    assert rates == [0.25, 0.5, 0.75, 1.0]


def test_rlkit_never_imports_envs():
    for path in (ROOT / "rlkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert not any(n == "envs" or n.startswith("envs.") for n in names), f"{path} imports {names}"


def test_documents_cited_in_code_exist():
    cited = set()
    for folder in ("rlkit", "agents", "envs"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text()
            cited |= {word.strip("`'\"(),.;:") for word in text.split() if word.strip("`'\"(),.;:").endswith(".md")}
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    for name in cited:
        assert any(Path(t).name == Path(name).name for t in tracked), f"code cites {name}, which the project does not have"


def test_cli_help_list_presets_and_version_start_without_torch_and_unknown_commands_get_a_suggestion(tmp_path):
    code = ("import sys, io, contextlib\n"
            "from rlkit.cli import main\n"
            "for argv in (['--help'], ['list'], ['--version'], ['presets'], ['train', 'ppo2', '--help'],\n"
            "             ['train', 'dqn', '--env', 'CartPole-v1', '--help']):\n"
            "    out = io.StringIO()\n"
            "    with contextlib.redirect_stdout(out):\n"
            "        try:\n"
            "            assert main(argv) == 0, argv\n"
            "        except SystemExit as exc:  # argparse's --help\n"
            "            assert exc.code == 0, argv\n"
            "    print(out.getvalue())\n"
            "print('torch imported:', 'torch' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", code], env=CLI_ENV, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "torch imported: False" in done.stdout
    assert "ppo2" in done.stdout and "Rainbow: DQN with all six switches on" in done.stdout and "rlkit 0.1.0" in done.stdout
    assert "hyperparams/dqn.yml" in done.stdout  # rlkit presets
    words = " ".join(done.stdout.split())  # argparse wraps help to the terminal's width
    assert "--clip-range FLOAT ε of the clipped surrogate" in words  # a field's own documentation
    assert "--objective {kl,clip}" in words  # the allowed values
    assert "Adam step size; default (preset): 0.001" in words  # DQN's CartPole preset shown as the defaults
    wrong = run_cli("trian", cwd=tmp_path)
    assert wrong.returncode == 2 and "did you mean 'train'?" in wrong.stderr
