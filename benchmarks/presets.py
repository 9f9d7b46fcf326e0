"""Presets reach their target within their own budget: each run is the user's command,
``rlkit train AGENT --env ENV --seed S`` (the env's preset, chosen automatically), and its score is
the end-of-run evaluation in summary.json (20 deterministic episodes, eval seed 1000 + seed).

    python benchmarks/presets.py                                  # every task, seeds 0 1 2
    python benchmarks/presets.py --tasks dqn:CartPole-v1 --seeds 0

Targets are Gymnasium's reward thresholds (CartPole-v1 475, Acrobot-v1 -100) and -200 on
Pendulum-v1 (the DDPG issue's); each seed must reach it.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import save  # noqa: E402

TARGETS = {"CartPole-v1": 475.0, "Acrobot-v1": -100.0, "Pendulum-v1": -200.0}
TASKS = ["dqn:CartPole-v1", "ppo2:CartPole-v1", "ppo2:Acrobot-v1", "a2c:CartPole-v1", "a2c:Acrobot-v1",
         "ddpg:Pendulum-v1"]


def run(agent: str, env: str, seed: int, preset: str, folder: Path) -> dict:
    cmd = [sys.executable, "-m", "rlkit.cli", "train", agent, "--env", env, "--seed", str(seed), "--preset", preset,
           "--log-dir", str(folder), "--overwrite", "--quiet"]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    summary = json.loads((folder / "summary.json").read_text())
    config = json.loads((folder / "config.json").read_text())
    return {"seed": seed, "steps": summary["total_steps"], "eval_mean": summary["eval_mean_return"],
            "eval_std": summary["eval_std_return"], "seconds": round(seconds, 1),
            "preset": config["train"]["preset"], "command": " ".join(["rlkit", *cmd[3:-4]])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=TASKS, metavar="AGENT:ENV")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--preset", default="auto")
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            agent, env = task.split(":")
            rows = []
            for seed in args.seeds:
                row = run(agent, env, seed, args.preset, Path(tmp) / f"{agent}-{env}-{seed}")
                rows.append(row)
                print(f"{task} seed {seed}: {row['steps']} steps, eval {row['eval_mean']:.1f} +/- {row['eval_std']:.1f} "
                      f"({row['seconds']:.0f} s, preset {row['preset']['name'] if row['preset'] else None})", flush=True)
            target = TARGETS[env]
            reached = sum(r["eval_mean"] >= target for r in rows)
            results[task] = {"runs": rows, "target": target, "seeds_reaching_target": reached}
            print(f"{task}: {reached}/{len(rows)} seeds >= {target}", flush=True)
    save("presets", {"seeds": args.seeds, "results": results})


if __name__ == "__main__":
    main()
