"""What rollouts on Ray cost on one machine: PPO2's steps/s with local rollouts and with 2 Ray actors.

    python benchmarks/ray_overhead.py --repeats 3

Rows: CartPole-v1 with PPO2's zoo preset (8 envs x 32 steps a rollout, 20 epochs; MLP) and
ALE/Pong-v5 with PPO2's zoo Atari preset (8 envs x 128 steps, 4 epochs; Nature CNN), each run through
`rlkit train ppo2` with `--rollout local` and with `--rollout ray --ray-workers 2` (2 actors of 4
envs; rlkit starts a local Ray cluster), in interleaved rounds. steps/s is taken between the first
and the last row of progress.csv, so process and cluster start-up are left out; the ratio is Ray's
over local's (< 1: Ray is slower), the median of the rounds' ratios.
Results: benchmarks/results/ray_overhead.json.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.a3c import steady_rate  # noqa: E402
from benchmarks.common import run_rlkit, save  # noqa: E402

ROWS = {"cartpole-mlp": ("CartPole-v1", "zoo", 60_000), "pong-cnn": ("ALE/Pong-v5", "zoo", 10_240)}
MODES = {"local": ["--rollout", "local"], "ray": ["--rollout", "ray", "--ray-workers", "2"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--work", type=Path, default=Path("runs/ray-overhead"))
    args = parser.parse_args()
    rates: dict[str, dict[str, list[float]]] = {row: {mode: [] for mode in MODES} for row in args.rows}
    for r in range(args.repeats):
        for row in args.rows:
            env, preset, steps = ROWS[row]
            for mode in (MODES if r % 2 == 0 else list(MODES)[::-1]):
                run = args.work / f"{row}-{mode}"
                run_rlkit("train", "ppo2", "--env", env, "--preset", preset, *MODES[mode], "--total-steps", str(steps),
                          "--eval-episodes", "0", "--log-dir", str(run), "--overwrite", "--quiet")
                rates[row][mode].append(round(steady_rate(run), 1))
                print(f"round {r + 1}: {row} {mode}: {rates[row][mode][-1]} steps/s", flush=True)
    out = {}
    for row, by_mode in rates.items():
        per_round = [ray / local for local, ray in zip(by_mode["local"], by_mode["ray"])]
        out[row] = {"env": ROWS[row][0], "preset": ROWS[row][1], "total_steps": ROWS[row][2],
                    "steps_per_second": {mode: statistics.median(v) for mode, v in by_mode.items()},
                    "runs": by_mode, "ray_over_local": round(statistics.median(per_round), 2)}
        print(row, json.dumps(out[row]), flush=True)
    save("ray_overhead", {"rows": out})


if __name__ == "__main__":
    main()
