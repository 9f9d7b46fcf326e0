"""PPO2 on CartPole-v1, rlkit vs Stable-Baselines3 with the same hyperparameters.

    python benchmarks/ppo_cartpole.py --steps 100000 --seeds 0 1 2 --preset sb3-default --repeats 3

Each run is a fresh process; wall clock covers construction + training (evaluation excluded).
Both are then evaluated on 20 deterministic episodes. With ``--repeats N`` the contenders run in N
interleaved rounds (A, B, A, B, ...) and the speed ratio is the median of the per-round, per-seed
ratios; otherwise the ratio of the mean times.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import run_child, save  # noqa: E402

PRESETS = {
    # SB3's PPO defaults: 1 env, n_steps 2048, minibatch 64, 10 epochs, lr 3e-4, clip 0.2, GAE 0.95
    "sb3-default": dict(n_envs=1, n_steps=2048, batch_size=64, gae_lambda=0.95, gamma=0.99, n_epochs=10,
                        ent_coef=0.0, learning_rate=3e-4, clip_range=0.2, anneal=False),
    # rl-baselines3-zoo hyperparams/ppo.yml, CartPole-v1 (lr and clip range annealed linearly to 0)
    "zoo": dict(n_envs=8, n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0,
                learning_rate=1e-3, clip_range=0.2, anneal=True),
}


def child(contender: str, seed: int, steps: int, preset: str) -> dict:
    import numpy as np

    p = dict(PRESETS[preset])
    n_envs, anneal = p.pop("n_envs"), p.pop("anneal")
    start = time.perf_counter()
    if contender == "rlkit":
        from agents import PPO2
        from rlkit import evaluate

        agent = PPO2("CartPole-v1", seed=seed, num_envs=n_envs, anneal_lr=anneal, anneal_clip_range=anneal, **p)
        agent.learn(steps, progress=False, eval_episodes=0)
        seconds = time.perf_counter() - start
        mean, std = evaluate(agent, "CartPole-v1", episodes=20, seed=1000 + seed)
    else:
        import torch
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env
        from stable_baselines3.common.evaluation import evaluate_policy

        if contender == "sb3-1thread":
            torch.set_num_threads(1)
        lin = (lambda v: (lambda progress: progress * v)) if anneal else (lambda v: v)  # noqa: E731
        lr, clip = p.pop("learning_rate"), p.pop("clip_range")
        env = make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)
        model = PPO("MlpPolicy", env, learning_rate=lin(lr), clip_range=lin(clip), seed=seed, device="cpu", verbose=0, **p)
        model.learn(steps)
        seconds = time.perf_counter() - start
        eval_env = make_vec_env("CartPole-v1", n_envs=1, seed=1000 + seed)
        rewards, _ = evaluate_policy(model, eval_env, n_eval_episodes=20, deterministic=True, return_episode_rewards=True)
        mean, std = float(np.mean(rewards)), float(np.std(rewards))
    return {"contender": contender, "seed": seed, "steps": steps, "train_seconds": round(seconds, 2),
            "eval_mean": mean, "eval_std": std}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--contenders", nargs="+", default=["rlkit", "sb3"], help="rlkit, sb3, sb3-1thread")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="sb3-default")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; the ratio is the median over rounds")
    parser.add_argument("--child", nargs=4, metavar=("CONTENDER", "SEED", "STEPS", "PRESET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]), int(args.child[2]), args.child[3])))
        return
    rows = []
    for round_ in range(args.repeats):
        for seed in args.seeds:
            for contender in args.contenders:
                row = run_child(__file__, [contender, str(seed), str(args.steps), args.preset])
                row["round"] = round_ + 1
                print(f"{contender:12s} seed {seed} round {round_ + 1}: {row['train_seconds']:7.2f} s  "
                      f"eval {row['eval_mean']:.1f} +/- {row['eval_std']:.1f}", flush=True)
                rows.append(row)
    summary = {}
    for contender in args.contenders:
        mine = [r for r in rows if r["contender"] == contender]
        summary[contender] = {"mean_train_seconds": round(sum(r["train_seconds"] for r in mine) / len(mine), 2),
                              "mean_eval": sum(r["eval_mean"] for r in mine) / len(mine)}
    first = args.contenders[0]
    for other in args.contenders[1:]:
        if args.repeats > 1:
            seconds = {(r["contender"], r["seed"], r["round"]): r["train_seconds"] for r in rows}
            per_round = [seconds[(other, s, k)] / seconds[(first, s, k)]
                         for k in range(1, args.repeats + 1) for s in args.seeds]
            ratio = statistics.median(per_round)
            summary[f"speedup_vs_{other}_per_round"] = [round(x, 2) for x in per_round]
        else:
            ratio = summary[other]["mean_train_seconds"] / summary[first]["mean_train_seconds"]
        summary[f"speedup_vs_{other}"] = round(ratio, 2)
        print(f"{first} is {ratio:.2f}x faster than {other} (wall clock"
              f"{', median of rounds' if args.repeats > 1 else ''})")
    print(json.dumps(summary, indent=2))
    save(f"ppo_cartpole_{args.preset}", {"steps": args.steps, "preset": args.preset,
                                         "hyperparameters": PRESETS[args.preset], "runs": rows, "summary": summary})


if __name__ == "__main__":
    main()
