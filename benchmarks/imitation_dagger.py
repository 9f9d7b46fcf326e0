"""BC vs DAgger on Pendulum-v1 with the same number of expert labels (and gradient steps).

    python benchmarks/imitation_dagger.py --episodes 5 10 20 --seeds 0 1 2

The expert is tests/toy_experts.py's hand-written swing-up controller (energy pumping far from the
top, PD near it; about -157 a 200-step episode). BC clones N of its episodes (200 N labels); DAgger
starts from the first of them and asks the expert about 200 (N - 1) more states, those the mixture
visits, in rounds of one episode. Both take 500 gradient steps per 200 labels. Each is evaluated on
20 deterministic episodes (seed 123). tests/test_dagger.py asserts the N = 10, seed 0 pair.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from benchmarks.common import save  # noqa: E402

EXPERT = "toy_experts:pendulum_swingup_expert"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, nargs="+", default=[5, 10, 20], help="expert episodes' worth of labels")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--steps-per-episode", type=int, default=500, help="gradient steps per 200 labels")
    args = parser.parse_args()
    if min(args.episodes) < 2:
        parser.error("--episodes must be >= 2: DAgger starts from one episode and labels the rest")

    import torch

    torch.set_num_threads(1)
    from agents import BC, DAgger
    from rlkit import evaluate
    from rlkit.buffers.demonstrations import collect_demonstrations
    from toy_experts import pendulum_swingup_expert

    demos = collect_demonstrations(pendulum_swingup_expert, "Pendulum-v1", episodes=max(args.episodes), seed=0)
    expert_return = float(demos.episode_returns.mean())
    print(f"expert: {expert_return:.1f} over {demos.num_episodes} episodes")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        path = str(demos.save(Path(folder) / "pendulum.npz"))
        for episodes in args.episodes:
            steps = args.steps_per_episode * episodes
            for seed in args.seeds:
                start = time.perf_counter()
                bc = BC("Pendulum-v1", demos=path, demo_episodes=episodes, seed=seed, validation_fraction=0)
                bc.learn(steps, progress=False, eval_episodes=0)
                bc_mean, _ = evaluate(bc, episodes=20, seed=123)
                middle = time.perf_counter()
                dagger = DAgger("Pendulum-v1", expert=EXPERT, demos=path, demo_episodes=1, seed=seed, rollout_steps=200,
                                bc_steps_per_round=args.steps_per_episode)
                dagger.learn(200 * (episodes - 1), progress=False, eval_episodes=0)
                dagger_mean, _ = evaluate(dagger, episodes=20, seed=123)
                end = time.perf_counter()
                row = {"labels": 200 * episodes, "seed": seed, "bc": bc_mean, "dagger": dagger_mean,
                       "bc_seconds": round(middle - start, 1), "dagger_seconds": round(end - middle, 1)}
                results.append(row)
                print(f"{row['labels']:5d} labels  seed {seed}  BC {bc_mean:8.1f}  DAgger {dagger_mean:8.1f}  "
                      f"({row['bc_seconds']} s, {row['dagger_seconds']} s)")
                bc.close()
                dagger.close()
    for episodes in args.episodes:
        rows = [r for r in results if r["labels"] == 200 * episodes]
        print(f"{200 * episodes:5d} labels: BC {statistics.mean(r['bc'] for r in rows):8.1f}  "
              f"DAgger {statistics.mean(r['dagger'] for r in rows):8.1f}  (mean of {len(rows)} seeds)")
    print(save("imitation_dagger_pendulum", {"expert_return": expert_return, "results": results}))


if __name__ == "__main__":
    main()
