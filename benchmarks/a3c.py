"""A3C on this machine: CartPole to 475 beside A2C, worker scaling, and a short Atari curve.

    python benchmarks/a3c.py --stages cartpole --seeds 0 1 2
    python benchmarks/a3c.py --stages scaling --repeats 3
    python benchmarks/a3c.py --stages atari --game Breakout --total-steps 600000

Stages:
  cartpole  `rlkit train a3c --env CartPole-v1 --preset rlkit` (2 workers of 4 envs) and `rlkit train
            a2c --env CartPole-v1 --preset zoo` (8 envs) for the same 500,000 steps, each seed, with an
            evaluation (10 episodes) every 25,000 steps. Reported: the first evaluation >= 475, its
            step and the wall clock from the start of training to it, and the final 20-episode
            evaluation.
  scaling   env steps/s of 1 and 2 A3C workers, MLP (CartPole-v1, 4 envs a worker) and CNN
            (ALE/Pong-v5, 4 envs a worker), in interleaved rounds; the rate is taken between the first
            and the last row of progress.csv, so process start-up and the spawn of the workers are
            left out. The figure the issue asks for is the 2-worker / 1-worker ratio.
  atari     A3C with 2 workers of 8 envs (A2C's Atari settings) on ALE/<game>-v5 for --total-steps,
            evaluated (5 episodes) 6 times, beside the random policy's score; a PNG of the curve.
            --reuse-run reports a finished run of the same budget instead of training again.
Results: benchmarks/results/a3c_<stage>.json (and a3c_atari_<game>.png).
"""
from __future__ import annotations

import argparse
import csv
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, random_return, run_rlkit, save, save_figure  # noqa: E402

CARTPOLE_STEPS, EVAL_EVERY = 500_000, 25_000


def eval_curve(run: Path) -> list[tuple[int, float, float]]:
    """(step, seconds since the run's TensorBoard writer started, mean return) of each evaluation."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run))
    events.Reload()
    start = events.FirstEventTimestamp()
    return [(e.step, round(e.wall_time - start, 1), e.value) for e in events.Scalars("eval/mean_return")]


def steady_rate(run: Path) -> float:
    """Env steps/s between the first and the last logged row (start-up left out)."""
    with open(run / "progress.csv", newline="") as f:
        rows = [(int(r["step"]), float(r["time"])) for r in csv.DictReader(f)]
    (s0, t0), (s1, t1) = rows[0], rows[-1]
    return (s1 - s0) / (t1 - t0)


def cartpole(seeds: list[int], work: Path) -> dict:
    out: dict = {}
    for seed in seeds:
        for agent, preset in (("a3c", "rlkit"), ("a2c", "zoo")):
            run = work / f"{agent}-cartpole-s{seed}"
            seconds = run_rlkit("train", agent, "--env", "CartPole-v1", "--preset", preset, "--seed", str(seed),
                                "--total-steps", str(CARTPOLE_STEPS), "--eval-freq", str(EVAL_EVERY), "--eval-episodes", "10",
                                "--log-dir", str(run), "--overwrite", "--quiet")
            curve = eval_curve(run)
            reached = next(((step, t) for step, t, mean in curve if mean >= 475), None)
            summary = json.loads((run / "summary.json").read_text())
            row = {"first_eval_at_least_475": None if reached is None else {"step": reached[0], "seconds": reached[1]},
                   "final_eval_20": summary.get("eval_mean_return"), "train_seconds": summary["train_seconds"],
                   "process_seconds": round(seconds, 1), "curve": curve}
            out.setdefault(agent, {})[seed] = row
            print(agent, seed, json.dumps({k: v for k, v in row.items() if k != "curve"}), flush=True)
    return out


SCALING = {"mlp": ("CartPole-v1", 200_000), "cnn": ("ALE/Pong-v5", 12_000)}


def scaling(repeats: int, work: Path) -> dict:
    rates: dict[str, dict[int, list[float]]] = {kind: {1: [], 2: []} for kind in SCALING}
    for r in range(repeats):
        for kind, (env, steps) in SCALING.items():
            for workers in (1, 2):
                run = work / f"a3c-scaling-{kind}-{workers}"
                run_rlkit("train", "a3c", "--env", env, "--preset", "none", "--num-workers", str(workers), "--num-envs", "4",
                          "--total-steps", str(steps * workers), "--eval-episodes", "0", "--log-dir", str(run),
                          "--overwrite", "--quiet")
                rates[kind][workers].append(round(steady_rate(run), 1))
                print(f"round {r + 1}: {kind} {workers} worker(s): {rates[kind][workers][-1]} steps/s", flush=True)
    out = {}
    for kind, by_workers in rates.items():
        per_round = [two / one for one, two in zip(by_workers[1], by_workers[2])]
        out[kind] = {"env": SCALING[kind][0], "steps_per_second": {w: statistics.median(v) for w, v in by_workers.items()},
                     "runs": by_workers, "ratio_2_over_1": round(statistics.median(per_round), 2)}
        print(kind, json.dumps(out[kind]), flush=True)
    return out


def atari(game: str, total_steps: int, work: Path, reuse: bool) -> dict:
    env = f"ALE/{game}-v5"
    run = work / f"a3c-{game.lower()}"
    summary = run / "summary.json"
    if not (reuse and summary.exists() and json.loads(summary.read_text())["total_steps"] >= total_steps):
        run_rlkit("train", "a3c", "--env", env, "--preset", "none", "--num-workers", "2", "--num-envs", "8",
                  "--vf-coef", "0.25", "--total-steps", str(total_steps), "--eval-freq", str(total_steps // 6),
                  "--eval-episodes", "5", "--log-dir", str(run), "--overwrite", "--quiet")
    train_seconds = json.loads(summary.read_text())["train_seconds"]  # the training loop's wall clock, evaluations included
    with open(run / "progress.csv", newline="") as f:
        train_curve = [(int(r["step"]), float(r["episodic_return"])) for r in csv.DictReader(f) if r["episodic_return"] not in ("", "nan")]
    random_score = random_return(env, episodes=10)
    out = {"env": env, "total_steps": total_steps, "train_seconds": train_seconds, "steps_per_second": round(steady_rate(run), 1),
           "random_return": random_score, "eval_curve": eval_curve(run), "train_curve": train_curve}
    plot_atari(out, RESULTS / f"a3c_atari_{game.lower()}.png")
    print(json.dumps({k: v for k, v in out.items() if k != "train_curve"}), flush=True)
    return out


def plot_atari(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    steps, returns = zip(*result["train_curve"])
    ax.plot(steps, returns, color="tab:blue", alpha=0.35, linewidth=0.8, label="training episodes, mean of the recent ones (full games)")
    evals = result["eval_curve"]
    ax.plot([e[0] for e in evals], [e[2] for e in evals], "o-", color="tab:blue", label="evaluation (5 episodes)")
    ax.axhline(result["random_return"], color="grey", linestyle=":", label="random policy")
    ax.set_xlabel("agent steps (frames / 4), all workers")
    ax.set_ylabel("episode return (unclipped)")
    ax.set_title(f"A3C, 2 workers, {result['env']}")
    ax.legend()
    save_figure(fig, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", nargs="+", default=["cartpole", "scaling"], choices=["cartpole", "scaling", "atari"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--game", default="Breakout")
    parser.add_argument("--total-steps", type=int, default=600_000)
    parser.add_argument("--work", type=Path, default=Path("runs/a3c"))
    parser.add_argument("--reuse-run", action="store_true", help="atari: report the finished run in --work, not train again")
    args = parser.parse_args()
    for stage in args.stages:
        if stage == "cartpole":
            result = cartpole(args.seeds, args.work)
        elif stage == "scaling":
            result = scaling(args.repeats, args.work)
        else:
            result = atari(args.game, args.total_steps, args.work, args.reuse_run)
        save(f"a3c_{stage}", {stage: result})


if __name__ == "__main__":
    main()
