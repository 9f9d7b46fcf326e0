"""Steps/s of each agent's Atari preset on this machine: the figures `rlkit bench --dry-run` estimates
wall clock from (rlkit/data/atari_steps_per_second.toml).

    python benchmarks/atari_sps.py --agents ppo2,a2c,dqn,rainbow --steps 20000

Each agent trains on ALE/Pong-v5 through the CLI (`rlkit train AGENT --preset auto`), one run at a
time with the whole machine, and its summary's steps/s is recorded in
benchmarks/results/atari_sps.json. Replay agents start learning at step 1,000 here (their presets
wait 20k-100k steps, acting at random, which is faster than learning): the figure is the learning
phase's. Copy a figure into the TOML with this file's name and date as its source.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import run_rlkit, save  # noqa: E402

REPLAY = ("dqn", "rainbow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", default="ppo2,a2c,dqn,rainbow")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--env", default="ALE/Pong-v5")
    args = parser.parse_args()
    rows = {}
    for agent in args.agents.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            flags = ["--learning-starts", "1000", "--buffer-size", "100000"] if agent in REPLAY else []
            seconds = run_rlkit("train", agent, "--env", args.env, "--total-steps", str(args.steps), "--log-dir", tmp,
                                "--eval-episodes", "0", "--quiet", *flags)
            summary = json.loads((Path(tmp) / "summary.json").read_text())
        rows[agent] = {"steps": summary["total_steps"], "steps_per_second": summary["sps"],
                       "process_seconds": round(seconds, 1), "flags": flags}
        print(agent, json.dumps(rows[agent]), flush=True)
    print(save("atari_sps", {"env": args.env, "results": rows}))


if __name__ == "__main__":
    main()
