"""Kill loop: SIGKILL DQN runs at random moments, resume each, and check that nothing was lost.

Each run trains DQN on CartPole-v1 through the CLI with a checkpoint every few hundred steps and
its replay kept in the run folder; it is killed at a random moment between 10% and 97% of the
length of an uninterrupted run measured first (start-up, training, a checkpoint write or the final
evaluation), then resumed with ``--resume`` to its total (a run killed before it wrote anything, during the
interpreter's start-up, has nothing to resume: ``--resume`` must say so, and its command starts it
again). A run
passes when the resume exits 0 and reaches the total, no temp file is left, progress.csv's steps
and TensorBoard's ``time/sps`` steps strictly increase (no fold, no repeat), and the replay the
final checkpoint names loads.

    python benchmarks/kill_loop.py --runs 20 --out benchmarks/results/kill_loop.json
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOTAL = 10_000
TRAIN = ["train", "dqn", "--env", "CartPole-v1", "--preset", "none", "--total-steps", str(TOTAL), "--checkpoint-freq", "300",
         "--learning-starts", "200", "--buffer-size", "5000", "--batch-size", "32", "--train-freq", "1",
         "--target-update-interval", "250", "--eval-episodes", "2", "--no-progress"]


def check_run(run: Path) -> list[str]:
    """What is wrong with a finished run folder (empty: nothing)."""
    sys.path.insert(0, str(ROOT))
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    from agents import DQN
    from rlkit.checkpoint import load_checkpoint

    problems = []
    payload = load_checkpoint(run)
    if payload["counters"]["num_steps"] < TOTAL:
        problems.append(f"checkpoint at step {payload['counters']['num_steps']} < {TOTAL}")
    temps = [str(p) for p in run.rglob("*.tmp")]
    if temps:
        problems.append(f"temp files left: {temps}")
    with open(run / "progress.csv", newline="") as f:
        steps = [int(row["step"]) for row in csv.DictReader(f)]
    if any(b <= a for a, b in zip(steps, steps[1:])):
        problems.append(f"progress.csv folds: {steps}")
    events = EventAccumulator(str(run))
    events.Reload()
    sps = [e.step for e in events.Scalars("time/sps")]
    if any(b <= a for a, b in zip(sps, sps[1:])):
        problems.append(f"TensorBoard time/sps folds: {sps}")
    agent = DQN.load(run)
    if agent.replay.num_transitions == 0:
        problems.append("the resumed replay is empty")
    agent.close()
    return problems


ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
CLI = [sys.executable, "-m", "rlkit.cli"]


def uninterrupted_seconds(run: Path) -> float:
    """How long one whole run takes here, start-up and final evaluation included."""
    start = time.perf_counter()
    subprocess.run([*CLI, *TRAIN, "--log-dir", str(run)], env=ENV, check=True, capture_output=True, timeout=600)
    return time.perf_counter() - start


def one_run(run: Path, rng: random.Random, duration: float) -> dict:
    proc = subprocess.Popen([*CLI, *TRAIN, "--log-dir", str(run), "--seed", str(rng.randrange(1000))], env=ENV,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    delay = rng.uniform(0.1, 0.97) * duration  # anywhere: start-up, training, a checkpoint, the evaluation
    try:
        proc.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        killed = True
    temps_after_kill = len(list(run.rglob("*.tmp"))) if run.exists() else 0
    started = (run / "config.json").exists() or (run / "checkpoint.pt").exists()
    resume = subprocess.run([*CLI, "train", "dqn", "--log-dir", str(run), "--resume", "--no-progress"], env=ENV,
                            capture_output=True, text=True, timeout=600)
    if not started:  # killed before it wrote anything (interpreter start-up): resume says so, the command restarts it
        if resume.returncode != 2 or "holds no run to resume" not in resume.stderr:
            return {"kill_after_s": round(delay, 2), "killed": killed, "started": False,
                    "problems": [f"resume of a run that never started: exit {resume.returncode}: {resume.stderr[-300:]}"]}
        resume = subprocess.run([*CLI, *TRAIN, "--log-dir", str(run)], env=ENV, capture_output=True, text=True,
                                timeout=600)
    problems = [f"resume exited {resume.returncode}: {resume.stderr[-500:]}"] if resume.returncode else check_run(run)
    return {"kill_after_s": round(delay, 2), "killed": killed, "started": started,
            "temp_files_after_kill": temps_after_kill, "problems": problems}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        duration = uninterrupted_seconds(Path(tmp) / "calibration")
        print(json.dumps({"uninterrupted_run_seconds": round(duration, 1)}), flush=True)
        for i in range(args.runs):
            start = time.perf_counter()
            result = one_run(Path(tmp) / f"run{i}", rng, duration)
            result["seconds"] = round(time.perf_counter() - start, 1)
            results.append(result)
            print(json.dumps(result), flush=True)
    failed = [r for r in results if r["problems"]]
    summary = {"runs": len(results), "uninterrupted_run_seconds": round(duration, 1),
               "killed": sum(r["killed"] for r in results),
               "killed_before_start": sum(not r.get("started", True) for r in results),
               "killed_with_temp_files": sum(r["temp_files_after_kill"] > 0 for r in results),
               "failed": len(failed), "results": results}
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}))
    if args.out:
        Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
