"""rlkit bench and rlkit report: the grid (flags and suites), its errors, skip-finished and resume,
the dry run's estimate and disk, the report on a synthetic bench folder, rliable's numbers, videos."""
import argparse
import csv
import json
import signal
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest

from rlkit import bench
from rlkit.bench import BenchRun, plan_from_args, plan_grid, run_state
from rlkit.cli import main
from rlkit.errors import ConfigError, UnknownEnvError
from run_files import CLI_ENV, csv_steps

# the shipped table the estimates read when --out holds no finished run
with open(Path(__file__).resolve().parent.parent / "rlkit" / "data" / "atari_steps_per_second.toml", "rb") as _f:
    SHIPPED_SPEEDS = {agent: row["steps_per_second"] for agent, row in tomllib.load(_f)["agents"].items()}


# --- the grid ------------------------------------------------------------------------------------
def test_grid_from_flags(tmp_path):
    plan = plan_grid(agents=["ppo2", "DQN"], games=["Pong", "breakout"], seeds=[0, 1], out=tmp_path, total_steps=1000,
                     parallel=2, cores=2)
    assert len(plan.runs) == 8
    assert [(r.agent, r.game, r.seed) for r in plan.runs[:3]] == [("ppo2", "Pong", 0), ("ppo2", "Pong", 1),
                                                                  ("ppo2", "Breakout", 0)]
    run = plan.runs[-1]
    assert (run.agent, run.env_id, run.total_steps) == ("dqn", "ALE/Breakout-v5", 1000)
    assert run.run_dir == tmp_path / "dqn" / "Breakout" / "seed1"
    assert plan.threads == 1  # 2 cores over 2 runs at once
    assert plan_grid(agents=["ppo2"], games=["Pong"], seeds=[0], out=tmp_path, total_steps=10, parallel=1,
                     cores=2).threads == 2
    assert plan_grid(agents=["ppo2"], games=["Pong"], seeds=[0], out=tmp_path, total_steps=10, parallel=4,
                     cores=2).threads == 1  # at least one


def test_grid_protocol_budget_and_plain_env_ids(tmp_path):
    plan = plan_grid(agents=["ppo2"], games=["Pong", "CartPole-v1"], seeds=[3], out=tmp_path, total_steps=500,
                     atari_protocol="noframeskip")
    assert [r.env_id for r in plan.runs] == ["PongNoFrameskip-v4", "CartPole-v1"]
    assert plan.runs[1].run_dir == tmp_path / "ppo2" / "CartPole-v1" / "seed3"
    # without --total-steps each run takes its preset's budget
    budgets = plan_grid(agents=["ppo2", "dqn"], games=["Pong"], seeds=[0], out=tmp_path)
    assert [r.total_steps for r in budgets.runs] == [9_999_360, 10_000_000]


def test_grid_from_suites(tmp_path):
    assert {"atari5", "atari57"} <= set(bench.available_suites())
    atari5 = bench.load_suite("atari5")
    assert atari5["games"] == ["Pong", "Breakout", "BeamRider", "Qbert", "SpaceInvaders"]
    atari57 = bench.load_suite("atari57")
    from rlkit.report import reference_scores

    references, _ = reference_scores()
    assert len(atari57["games"]) == 57 and set(atari57["games"]) == set(references)
    suite = tmp_path / "mine.toml"
    suite.write_text('games = ["Pong", "Qbert"]\nagents = ["a2c"]\nseeds = [4, 5]\ntotal_steps = 2000\n'
                     'extra_args = ["--num-envs", "4"]\n')
    args = argparse.Namespace(suite=str(suite), games=None, agents=None, seeds=None, total_steps=None, out=tmp_path,
                              preset=None, atari_protocol=None, eval_episodes=None, parallel=1, extra=[])
    plan = plan_from_args(args)
    assert [(r.agent, r.game, r.seed, r.total_steps) for r in plan.runs] == [
        ("a2c", "Pong", 4, 2000), ("a2c", "Pong", 5, 2000), ("a2c", "Qbert", 4, 2000), ("a2c", "Qbert", 5, 2000)]
    assert plan.extra_args == ["--num-envs", "4"] and plan.suite == "mine"
    # flags win over the suite's values
    args.agents, args.seeds, args.total_steps = "ppo2", "0-2", 100
    plan = plan_from_args(args)
    assert {r.agent for r in plan.runs} == {"ppo2"} and plan.seeds == [0, 1, 2] and plan.runs[0].total_steps == 100


@pytest.mark.parametrize("kwargs, error, words", [
    (dict(games=["Pongg"]), UnknownEnvError, "Did you mean Pong"),
    (dict(games=["NotAnEnv-v9"]), UnknownEnvError, "Gymnasium id"),
    (dict(agents=["ppo3"]), ConfigError, "did you mean 'ppo'"),
    (dict(agents=[]), ConfigError, "the grid is empty: no agents"),
    (dict(games=[], seeds=[]), ConfigError, "no games and no seeds"),
    (dict(seeds=[0, 0]), ConfigError, "repeat a seed"),
    (dict(seeds=[-1]), ConfigError, ">= 0"),
    (dict(total_steps=0), ConfigError, "--total-steps"),
    (dict(parallel=0), ConfigError, "--parallel"),
    (dict(extra_args=["--num-envz", "4"]), ConfigError, "not a flag of `rlkit train ppo2`"),
    (dict(extra_args=["--seed", "4"]), ConfigError, "set by the bench itself"),
    (dict(agents=["ddpg"], total_steps=None), ConfigError, "pass --total-steps"),
])
def test_bad_grids_raise_typed_errors(tmp_path, kwargs, error, words):
    settings = {**dict(agents=["ppo2"], games=["Pong"], seeds=[0], out=tmp_path, total_steps=100), **kwargs}
    with pytest.raises(error, match=words):
        plan_grid(**settings)


@pytest.mark.parametrize("text, words", [("1,x", "cannot read 'x'"), ("3-1", "runs backwards"), ("0,0", "repeat"),
                                         ("", None)])
def test_bad_seed_lists(text, words):
    if words is None:
        assert bench.parse_seeds(text) == []  # then the grid is empty, which plan_grid refuses
        return
    with pytest.raises(ConfigError, match=words):
        bench.parse_seeds(text)
    assert bench.parse_seeds("0-2,7") == [0, 1, 2, 7]


def test_bad_suites_and_command_lines(tmp_path, capsys):
    with pytest.raises(ConfigError, match="did you mean 'atari5'"):
        bench.load_suite("atari6")
    bad = tmp_path / "bad.toml"
    bad.write_text('games = ["Pong"]\ngame_count = 3\n')
    with pytest.raises(ConfigError, match="unknown keys"):
        bench.load_suite(str(bad))
    no_agents = tmp_path / "no_agents.toml"
    no_agents.write_text('games = ["Pong"]\n')
    # through the CLI: typed errors print as `rlkit: error: ...` with exit code 2
    for argv, words in [(["--suite", str(no_agents)], "grid is empty"), (["--suite", "atari5", "--games", "Pong"], "not both"),
                        (["--agents", "ppo2"], "say which games")]:
        assert main(["bench", *argv, "--out", str(tmp_path), "--dry-run"]) == 2
        assert words in capsys.readouterr().err


# --- run folders: finished, interrupted, new -------------------------------------------------------


def _fake_run_folder(run: BenchRun, steps: int, checkpoint: bool = True, stopped: bool = False, env: str | None = None):
    run.run_dir.mkdir(parents=True, exist_ok=True)
    (run.run_dir / "config.json").write_text(json.dumps({"agent": "PPO2", "env": env or run.env_id,
                                                         "config": {"seed": run.seed}, "train": {"total_steps": steps}}))
    summary = {"agent": "PPO2", "total_steps": steps, "sps": 321.0}
    if stopped:
        summary["stopped_by"] = "SIGTERM"
    (run.run_dir / "summary.json").write_text(json.dumps(summary))
    if checkpoint:
        (run.run_dir / "checkpoint.pt").write_bytes(b"")


def test_run_states(tmp_path):
    plan = plan_grid(agents=["ppo2"], games=["CartPole-v1"], seeds=[0, 1, 2, 3, 4], out=tmp_path, total_steps=1000)
    new, finished, stopped, shorter, other = plan.runs
    _fake_run_folder(finished, 1000)
    _fake_run_folder(stopped, 400, stopped=True)
    _fake_run_folder(shorter, 500)  # finished at a smaller budget: continued to the new one
    _fake_run_folder(other, 1000, env="Acrobot-v1")
    assert run_state(new) == ("new", "")
    assert run_state(finished)[0] == "finished"
    assert run_state(stopped) == ("resume", "from step 400")
    assert run_state(shorter) == ("resume", "from step 500")
    assert run_state(other)[0] == "conflict" and "Acrobot-v1" in run_state(other)[1]


def test_train_command_threads_and_passed_flags(tmp_path):
    plan = plan_grid(agents=["ppo2", "a3c"], games=["CartPole-v1"], seeds=[0], out=tmp_path, total_steps=1000,
                     parallel=1, cores=2, extra_args=["--num-envs", "4"], eval_episodes=3)
    ppo2, a3c = plan.runs
    command = bench.train_command(ppo2, plan, resume=False)
    assert command[:5] == [sys.executable, "-m", "rlkit.cli", "train", "ppo2"]
    def flag(name):
        return command[command.index(name) + 1]

    assert flag("--torch-threads") == "2" and flag("--eval-episodes") == "3" and flag("--seed") == "0"
    assert "--resume" not in command and command[-2:] == ["--num-envs", "4"]  # passed-through flags last: they win
    assert "--resume" in bench.train_command(ppo2, plan, resume=True)
    a3c_command = bench.train_command(a3c, plan, resume=False)
    assert a3c_command[a3c_command.index("--num-workers") + 1] == "2"  # its workers use the cores
    assert bench.thread_env(2)["OMP_NUM_THREADS"] == "2"


# --- runs through the same code path: CartPole, a few hundred steps ---------------------------------


def _cartpole_plan(out, total_steps, seeds=(0,), extra=()):
    return plan_grid(agents=["ppo2"], games=["CartPole-v1"], seeds=list(seeds), out=out, total_steps=total_steps,
                     eval_episodes=2, extra_args=["--num-envs", "2", "--n-steps", "64", "--batch-size", "64",
                                                  "--checkpoint-freq", "128", *extra])


def test_grid_runs_skips_finished_and_resumes(tmp_path):  # ~8 s: three short CartPole runs
    lines = []
    plan = _cartpole_plan(tmp_path, 256)
    (outcome,) = bench.run_grid(plan, say=lines.append)
    run = plan.runs[0]
    assert outcome.status == "finished", (outcome.message, run.log_path.read_text())
    assert json.loads((run.run_dir / "summary.json").read_text())["total_steps"] == 256
    assert (run.log_path).exists() and "rlkit.cli train ppo2" in run.log_path.read_text()
    # the same command again: nothing to do
    (again,) = bench.run_grid(plan, say=lines.append)
    assert again.status == "skipped"
    # a bigger budget: the run continues from its checkpoint (--resume), its curve goes on
    bigger = _cartpole_plan(tmp_path, 512)
    assert run_state(bigger.runs[0])[0] == "resume"
    (resumed,) = bench.run_grid(bigger, say=lines.append)
    assert resumed.status == "finished", resumed.message
    assert json.loads((run.run_dir / "summary.json").read_text())["total_steps"] == 512
    steps = csv_steps(run.run_dir)
    assert steps == sorted(steps) and steps[-1] == 512 and steps[0] <= 256
    assert "--resume" in run.log_path.read_text()


def test_a_failed_run_is_reported_with_its_log_and_the_grid_goes_on(tmp_path):
    plan = _cartpole_plan(tmp_path, 128, seeds=(0, 1))
    broken = bench.BenchPlan(**{**plan.__dict__, "extra_args": plan.extra_args + ["--learning-rate", "-1"]})
    outcomes = bench.run_grid(broken, say=lambda line: None)
    assert [o.status for o in outcomes] == ["failed", "failed"]
    assert "learning_rate" in outcomes[0].message and "exit code 2" in outcomes[0].message
    text = "\n".join(bench.summary_lines(outcomes))
    assert "2 failed" in text and str(plan.runs[0].log_path) in text


@pytest.mark.slow
def test_killing_the_bench_saves_the_runs_and_a_restart_resumes_them(tmp_path):
    """SIGTERM to `rlkit bench`: its runs stop at a safe point and save; the same command finishes them."""
    argv = [sys.executable, "-m", "rlkit.cli", "bench", "--games", "CartPole-v1", "--agents", "ppo2", "--seeds", "0",
            "--total-steps", "6144", "--eval-episodes", "1", "--out", str(tmp_path), "--", "--num-envs", "2",
            "--n-steps", "64", "--batch-size", "128", "--n-epochs", "1", "--checkpoint-freq", "512"]
    proc = subprocess.Popen(argv, env=CLI_ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    checkpoint = tmp_path / "ppo2" / "CartPole-v1" / "seed0" / "checkpoint.pt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert checkpoint.exists(), proc.communicate()
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, (out, err)
    assert "1 stopped" in out
    summary = json.loads((checkpoint.parent / "summary.json").read_text())
    assert summary["stopped_by"] == "SIGTERM" and summary["total_steps"] < 6144
    again = subprocess.run(argv[:argv.index("--total-steps")] + ["--total-steps", "6400", *argv[argv.index("--total-steps") + 2:]],
                           env=CLI_ENV, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert "1 to resume" in again.stdout and "1 finished" in again.stdout
    steps = csv_steps(checkpoint.parent)
    assert steps == sorted(steps) and steps[-1] == 6400


@pytest.mark.slow
def test_grid_on_ray_tasks(tmp_path):
    pytest.importorskip("ray")
    plan = _cartpole_plan(tmp_path, 128, seeds=(0, 1))
    outcomes = bench.run_grid(plan, ray_address="local", say=lambda line: None)
    assert sorted(o.status for o in outcomes) == ["finished", "finished"], [o.message for o in outcomes]
    for run in plan.runs:
        assert json.loads((run.run_dir / "summary.json").read_text())["total_steps"] == 128


# --- the dry run -----------------------------------------------------------------------------------


def test_dry_run_prints_grid_estimate_and_disk(tmp_path, capsys):
    argv = ["bench", "--games", "Pong,Breakout", "--agents", "ppo2,dqn", "--seeds", "0,1", "--total-steps", "1000",
            "--out", str(tmp_path), "--parallel", "2", "--dry-run"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "2 agent(s) x 2 game(s) x 2 seed(s) = 8 runs of 1,000 steps (4,000 Atari frames)" in out
    assert str(tmp_path / "dqn" / "Breakout" / "seed1") in out and out.count(" new ") >= 8
    assert "1 torch thread(s) each" in out
    assert "estimated wall clock" in out and f"ppo2: {SHIPPED_SPEEDS['ppo2']} steps/s" in out
    assert "dqn: 10,000 transitions x 7,056 B" in out  # the zoo's atari buffer: one 84x84 frame a transition
    assert not any(tmp_path.iterdir())  # nothing was started or written


def test_estimate_model(tmp_path):
    plan = plan_grid(agents=["ppo2", "dqn"], games=["Pong"], seeds=[0, 1], out=tmp_path, total_steps=1000, parallel=2)
    speeds = bench.agent_speeds(plan)
    seconds, unknown = bench.estimate_seconds(plan, speeds)
    ppo2, dqn = 1000 / (SHIPPED_SPEEDS["ppo2"] / 2), 1000 / (SHIPPED_SPEEDS["dqn"] / 2)  # each of 2 runs at once gets half the machine's speed
    assert not unknown and seconds == pytest.approx(dqn + ppo2)  # longest first: dqn | dqn, then ppo2 | ppo2
    # finished runs in --out: their own measured speed, as they ran; and they need no more time
    _fake_run_folder(plan.runs[0], 1000)
    _fake_run_folder(plan.runs[1], 500, stopped=True)
    speeds = bench.agent_speeds(plan)
    assert speeds["ppo2"].steps_per_second == 321.0 and speeds["ppo2"].per_run
    seconds, _ = bench.estimate_seconds(plan, speeds)
    assert seconds == pytest.approx(dqn + 500 / 321.0)


def test_replay_disk_matches_the_buffer_rlkit_builds(tmp_path):
    """The dry run's figure for DQN's replay against a real ReplayBuffer of the same config on Pong."""
    import envs
    from rlkit.buffers import ReplayBuffer

    env = envs.make_env("ALE/Pong-v5")
    assert env.observation_space.shape[1:] == bench.ATARI_FRAME_SHAPE and env.observation_space.dtype == np.uint8
    for agent, extra in [("dqn", ["--buffer-size", "1000", "--num-envs", "3"]), ("rainbow", ["--buffer-size", "1000"])]:
        plan = plan_grid(agents=[agent], games=["Pong"], seeds=[0], out=tmp_path, total_steps=100, extra_args=extra)
        config = bench.run_config(plan.runs[0], plan)
        footprint = bench.replay_footprint(plan.runs[0], plan)
        buffer = ReplayBuffer.for_spaces(env.observation_space, config.num_envs, config.buffer_size, (), np.int64,
                                         n_step=config.n_step, prioritized=config.prioritized)
        assert footprint.frames_file == buffer.frames.nbytes + 128  # + the .npy header
        small = sum(getattr(buffer, name).nbytes for name in ("actions", "rewards", "terminated", "next_offset", "valid"))
        tree = buffer.tree.tree.nbytes if buffer.tree is not None else 0
        assert footprint.checkpoint == small + tree
    env.close()
    plan = plan_grid(agents=["ppo2"], games=["Pong"], seeds=[0], out=tmp_path, total_steps=100)
    assert bench.replay_footprint(plan.runs[0], plan) is None


# --- the report --------------------------------------------------------------------------------------


def _synthetic_run(root: Path, agent_cli: str, agent: str, game: str, seed: int, final: float, steps: int = 100_000,
                   eval_score: bool = True):
    run = root / agent_cli / game / f"seed{seed}"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"agent": agent, "env": f"ALE/{game}-v5",
                                                 "config": {"seed": seed, "atari_protocol": ""},
                                                 "train": {"total_steps": steps}}))
    with open(run / "progress.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["step", "time", "sps", "episodic_return"])
        for i in range(1, 11):
            writer.writerow([i * steps // 10, i, 100.0, final * i / 10 + seed])
    summary = {"agent": agent, "total_steps": steps, "sps": 100.0, "recent_train_return": final}
    if eval_score:
        summary["eval_mean_return"] = final
    (run / "summary.json").write_text(json.dumps(summary))
    return run


def test_report_on_a_synthetic_bench(tmp_path):
    from rlkit.report import write_report

    root = tmp_path / "bench"
    for seed in range(3):
        for game, base in [("Pong", -20.0), ("Breakout", 5.0), ("Qbert", 400.0)]:
            _synthetic_run(root, "ppo2", "PPO2", game, seed, base + 3 * seed + 2)
            _synthetic_run(root, "dqn", "DQN", game, seed, base + 2 * seed, eval_score=seed != 2)
    pong = root / "ppo2" / "Pong" / "seed2" / "videos"
    pong.mkdir()
    (pong / "eval-seed123.mp4").write_bytes(b"not really a video")
    breakout = root / "dqn" / "Breakout" / "seed0" / "videos"
    breakout.mkdir()
    (breakout / "eval-seed123.gif").write_bytes(b"GIF89a")
    md_path, html_path = write_report(root, reps=200, seed=0)
    md, page = md_path.read_text(), html_path.read_text()
    for figure in ["curve_Pong.png", "curve_Breakout.png", "curve_Qbert.png", "aggregates.png", "performance_profiles.png"]:
        assert (md_path.parent / "figures" / figure).stat().st_size > 1000
        assert f"figures/{figure}" in md and f"figures/{figure}" in page
    assert "| Pong | -18.0 ± 1.6 (3, ET) | -15.0 ± 2.4 (3, E) |" in md  # DQN's seed 2 has no evaluation: T
    assert "## Human-normalised scores" in md and "IQM [95% CI]" in md
    assert "## Published scores beside ours" in md and "no: protocol, budget" in md and "sticky actions" in md
    assert "../ppo2/Pong/seed2/videos/eval-seed123.mp4" in md and '<video controls' in page
    assert "![Breakout evaluation video](../dqn/Breakout/seed0/videos/eval-seed123.gif)" in md
    assert "<table>" in page and "No video yet" in md  # Qbert has none


def test_report_needs_runs(tmp_path):
    from rlkit.report import write_report

    with pytest.raises(ConfigError, match="holds no run folders"):
        write_report(tmp_path)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # arch, on rliable's random_state argument
def test_aggregates_match_rliable_on_the_same_matrix():
    """IQM, median and mean and their stratified-bootstrap CIs are rliable's, for the same seed."""
    from rliable import library as rly
    from rliable import metrics

    from rlkit.report import aggregate_scores

    rng = np.random.default_rng(7)
    scores = {"a": rng.normal(1.0, 0.5, size=(5, 8)), "b": rng.normal(0.5, 0.3, size=(5, 8))}
    before = np.random.get_state()[1].copy()
    points, intervals = aggregate_scores(scores, reps=300, seed=11)
    assert np.array_equal(np.random.get_state()[1], before)  # the global stream is put back

    def theirs_fn(x):
        return np.array([metrics.aggregate_iqm(x), metrics.aggregate_median(x), metrics.aggregate_mean(x)])

    np.random.seed(11)
    their_points, their_intervals = rly.get_interval_estimates(scores, theirs_fn, reps=300,
                                                               random_state=np.random.RandomState(11))
    for agent in scores:
        np.testing.assert_allclose(points[agent], their_points[agent])
        np.testing.assert_allclose(intervals[agent], their_intervals[agent])
        assert points[agent][0] == pytest.approx(metrics.aggregate_iqm(scores[agent]))
        assert intervals[agent][0][0] < points[agent][0] < intervals[agent][1][0]
    again, _ = aggregate_scores(scores, reps=300, seed=11)
    np.testing.assert_array_equal(again["a"], points["a"])


def test_human_normalised_scores():
    from rlkit.report import human_normalized, reference_scores

    references, source = reference_scores()
    assert "dqn_zoo" in source and references["Pong"] == (-20.7, 14.6)
    assert human_normalized("Pong", 14.6, references) == pytest.approx(1.0)
    assert human_normalized("Pong", -20.7, references) == pytest.approx(0.0)
    assert human_normalized("CartPole-v1", 500.0, references) is None


# --- videos --------------------------------------------------------------------------------------------


def test_video_writer_mp4_and_gif(tmp_path):
    import imageio.v2 as imageio

    from rlkit.video import write_video

    frames = [np.full((210, 160, 3), i * 20, dtype=np.uint8) for i in range(6)]
    mp4 = write_video(frames, tmp_path / "a.mp4", fps=15)
    assert mp4.suffix == ".mp4" and len(imageio.mimread(mp4)) == 6
    gif = write_video(frames, tmp_path / "a.gif", fps=15)
    assert len(imageio.mimread(gif)) == 6
    with pytest.raises(ConfigError, match="no frames"):
        write_video([], tmp_path / "b.mp4", fps=15)
    assert not (tmp_path / "b.mp4").exists()


def test_record_video_of_a_short_atari_episode(tmp_path):
    import imageio.v2 as imageio

    from agents import PPO2
    from rlkit.video import record_video

    agent = PPO2("ALE/Pong-v5", seed=0, num_envs=1, n_steps=16, batch_size=16)
    try:
        path, returns = record_video(agent, tmp_path / "pong.mp4", episodes=2, max_episode_steps=4)
    finally:
        agent.close()
    assert len(returns) == 2
    frames = imageio.mimread(path)
    assert len(frames) == 1 + 4 + 1 + 4 and frames[0].shape == (210, 160, 3)  # the emulator's colour screen


@pytest.mark.slow
def test_eval_video_from_the_cli(tmp_path):
    from run_files import run_cli

    run = tmp_path / "run"
    done = run_cli("train", "ppo2", "--env", "ALE/Pong-v5", "--preset", "none", "--total-steps", "64", "--num-envs", "1",
                   "--n-steps", "64", "--batch-size", "32", "--eval-episodes", "0", "--log-dir", str(run), "--quiet",
                   cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    # one whole game of Pong by an untrained policy: the opponent's 21 points, a few thousand steps
    done = run_cli("eval", str(run), "--episodes", "0", "--video", cwd=tmp_path, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert Path(result["video"]) == run / "videos" / "eval-seed123.mp4" and Path(result["video"]).stat().st_size > 0
