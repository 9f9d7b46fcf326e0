"""``rlkit collect``: a saved agent (run folder or checkpoint, rlkit's or from outside) or an expert
function recorded as demonstrations; the summary it prints; the errors it ends in. In-process
through ``rlkit.cli.main``; the agents train for a few dozen steps only."""
import re
from pathlib import Path

import numpy as np
import pytest

from agents import PPO2
from rlkit.buffers.demonstrations import Demonstrations
from rlkit.cli import _usage, main
from toy_family import RandomSearch

SUMMARY = re.compile(r"expert return: (-?[\d.]+) \+/- ([\d.]+) over (\d+) episodes")


@pytest.fixture(scope="module")
def ppo_run(tmp_path_factory) -> Path:
    run = tmp_path_factory.mktemp("runs") / "ppo2"
    agent = PPO2("CartPole-v1", seed=0, n_steps=32, batch_size=32)
    agent.learn(64, log_dir=run, eval_episodes=0, progress=False)
    agent.close()
    return run


def collect(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["collect", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_collects_from_a_run_folder_with_a_bar_and_a_summary(ppo_run, tmp_path, capsys):
    out_file = tmp_path / "demos.npz"
    code, out, err = collect(capsys, ppo_run, "--episodes", 3, "--num-envs", 2, "-o", out_file)
    assert code == 0, err
    demos = Demonstrations.load(out_file)
    assert demos.num_episodes == 3 and demos.obs.shape[1:] == (4,) and demos.source == str(ppo_run)
    mean, std, episodes = SUMMARY.search(out).groups()
    returns = demos.episode_returns
    assert (float(mean), float(std), int(episodes)) == (round(returns.mean(), 2), round(returns.std(), 2), 3)
    assert f"demonstrations: {out_file}" in out
    assert "collect" in err and "3/3" in err and "episode" in err  # the tqdm bar, on stderr


def test_a_checkpoint_file_stochastic_actions_and_a_file_name_without_suffix(ppo_run, tmp_path, capsys):
    code, out, err = collect(capsys, ppo_run / "checkpoint.pt", "--episodes", 2, "--stochastic", "--seed", 5,
                             "--no-progress", "-o", tmp_path / "demos")
    assert code == 0, err
    assert err == "" and "stochastic actions" in out
    assert Demonstrations.load(tmp_path / "demos.npz").num_episodes == 2


def test_the_same_command_records_the_same_episodes(ppo_run, tmp_path, capsys):
    for name in ("a.npz", "b.npz"):
        assert collect(capsys, ppo_run, "--episodes", 3, "--quiet", "-o", tmp_path / name)[0] == 0
    a, b = (Demonstrations.load(tmp_path / n) for n in ("a.npz", "b.npz"))
    assert np.array_equal(a.obs, b.obs) and np.array_equal(a.actions, b.actions)


def test_an_expert_function_with_env(tmp_path, capsys):
    code, out, err = collect(capsys, "--expert", "toy_experts:cartpole_expert", "--env", "CartPole-v1",
                             "--episodes", 2, "-o", tmp_path / "e.npz")
    assert code == 0, err
    assert "expert return: 500.00 +/- 0.00 over 2 episodes" in out
    demos = Demonstrations.load(tmp_path / "e.npz")
    assert demos.source == "toy_experts:cartpole_expert" and demos.truncated.sum() == 2


def test_quiet_prints_nothing_and_replaces_the_file(tmp_path, capsys):
    out_file = tmp_path / "q.npz"
    out_file.write_bytes(b"an older file")
    code, out, err = collect(capsys, "--expert", "toy_experts:wobbly_expert", "--env", "CartPole-v1",
                             "--episodes", 4, "--quiet", "-o", out_file)
    assert (code, out, err) == (0, "", "")
    assert Demonstrations.load(out_file).num_episodes == 4
    assert [p.name for p in tmp_path.iterdir()] == ["q.npz"]  # no temp file left beside it


def test_an_agent_from_outside_rlkit(tmp_path, capsys):
    run = tmp_path / "rs"
    agent = RandomSearch("CartPole-v1", seed=0)
    agent.learn(200, log_dir=run, eval_episodes=0, progress=False)
    agent.close()
    code, out, err = collect(capsys, run, "--agent", "toy_family:RandomSearch", "--episodes", 2, "-o", tmp_path / "rs.npz")
    assert code == 0, err
    assert Demonstrations.load(tmp_path / "rs.npz").num_episodes == 2
    code, _, err = collect(capsys, run, "--episodes", 2, "-o", tmp_path / "x.npz")
    assert code == 2 and "--agent package.module:ClassName" in err


@pytest.mark.parametrize("args, expected", [
    (["runs/no-such-run", "--episodes", "2", "-o", "{out}"], "no checkpoint at runs/no-such-run"),
    (["{run}", "--episodes", "0", "-o", "{out}"], "--episodes must be >= 1"),
    (["{run}", "--episodes", "-3", "-o", "{out}"], "--episodes must be >= 1"),
    (["{run}", "--env", "NoSuchEnv-v0", "--episodes", "2", "-o", "{out}"], "no environment 'NoSuchEnv-v0'"),
    (["--expert", "toy_experts:cartpole_expert", "--env", "CartPoel-v1", "--episodes", "2", "-o", "{out}"],
     "Did you mean 'CartPole-v1'"),
    (["--expert", "toy_experts:cartpole_expert", "--episodes", "2", "-o", "{out}"], "--expert needs the env"),
    (["--expert", "toy_experts:no_such", "--env", "CartPole-v1", "--episodes", "2", "-o", "{out}"], "cannot import expert"),
    (["--expert", "toy_experts", "--env", "CartPole-v1", "--episodes", "2", "-o", "{out}"], "package.module:function"),
    (["--expert", "toy_experts:not_a_function", "--env", "CartPole-v1", "--episodes", "2", "-o", "{out}"], "not a function"),
    (["--episodes", "2", "-o", "{out}"], "pass either a run folder"),
    (["{run}", "--expert", "toy_experts:cartpole_expert", "--episodes", "2", "-o", "{out}"], "not both"),
    (["--expert", "toy_experts:cartpole_expert", "--env", "CartPole-v1", "--stochastic", "--episodes", "2", "-o",
      "{out}"], "chooses its actions itself"),
    (["{run}", "--episodes", "2"], "-o demos.npz"),
    (["{run}", "--episodes", "2", "--num-envs", "0", "-o", "{out}"], "--num-envs must be >= 1"),
], ids=["missing-run", "zero-episodes", "negative-episodes", "unknown-env", "misspelt-env", "expert-without-env",
        "expert-missing", "expert-no-colon", "expert-not-callable", "no-expert", "run-and-expert", "expert-stochastic",
        "no-output",
        "zero-envs"])
def test_mistakes_end_in_an_rlkit_error_and_write_nothing(ppo_run, tmp_path, capsys, args, expected):
    out_file = tmp_path / "never.npz"
    code, out, err = collect(capsys, *[a.format(run=ppo_run, out=out_file) for a in args])
    last = err.split("\r")[-1]  # a bar drawn before the env failed is erased: the error is what stays on screen
    assert code == 2 and last.startswith("rlkit: error: ") and expected in last, err
    assert "Traceback" not in err and not out_file.exists()


def test_an_interrupted_collection_writes_nothing(ppo_run, tmp_path, capsys, monkeypatch):
    import rlkit.buffers.demonstrations as demonstrations

    def interrupted(*args, on_episode, **kwargs):
        on_episode(1, 10.0)
        raise KeyboardInterrupt

    monkeypatch.setattr(demonstrations, "collect_demonstrations", interrupted)
    code, out, err = collect(capsys, ppo_run, "--episodes", 5, "-o", tmp_path / "i.npz")
    assert code == 130 and "stopped after 1 of 5 episodes; nothing was written" in err
    assert not (tmp_path / "i.npz").exists()


def test_usage_and_help_name_collect(capsys):
    assert "rlkit collect runs/<name> --episodes" in _usage()
    with pytest.raises(SystemExit):
        main(["collect", "--help"])
    out = capsys.readouterr().out
    for flag in ("--episodes", "--expert", "--agent", "--env", "--seed", "--stochastic", "--num-envs", "--quiet", "--minari"):
        assert flag in out


def test_minari_export_holds_the_same_episodes(tmp_path, capsys, monkeypatch):
    pytest.importorskip("minari")
    from rlkit.buffers.minari_io import from_minari

    monkeypatch.setenv("MINARI_DATASETS_PATH", str(tmp_path / "minari"))
    code, out, err = collect(capsys, "--expert", "toy_experts:wobbly_expert", "--env", "CartPole-v1", "--episodes", 3,
                             "-o", tmp_path / "m.npz", "--minari", "rlkit/cartpole/wobbly-v0")
    assert code == 0, err
    assert "Minari dataset: rlkit/cartpole/wobbly-v0" in out
    npz, exported = Demonstrations.load(tmp_path / "m.npz"), from_minari("rlkit/cartpole/wobbly-v0")
    for name in ("obs", "actions", "rewards", "terminated", "truncated", "episode_lengths"):
        assert np.array_equal(getattr(npz, name), getattr(exported, name))
    # the id is taken now: refused before anything is recorded
    code, _, err = collect(capsys, "--expert", "toy_experts:wobbly_expert", "--env", "CartPole-v1", "--episodes", 3,
                           "--minari", "rlkit/cartpole/wobbly-v0")
    assert code == 2 and "already exists" in err
