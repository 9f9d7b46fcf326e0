"""DDPG wall clock and return, rlkit vs Stable-Baselines3 with the same settings.

    python benchmarks/ddpg_speed.py --env Pendulum-v1 --steps 20000 --seeds 0 1 2
    python benchmarks/ddpg_speed.py --env HalfCheetah-v5 --steps 200000 --seeds 0 --one-core-each

Settings (both): rl-zoo's DDPG hyperparameters for the env — actor and critic MLPs [400, 300]
(ReLU), Adam lr 1e-3, batch 256, τ 0.005, one gradient step per env step, Gaussian action noise
σ 0.1 (in [-1, 1] action units), 10,000 random warm-up steps; Pendulum: γ 0.98 and a 200k
buffer; MuJoCo: γ 0.99 and a 1M buffer. The time covers construction + learn(); each agent is then
evaluated on 10 deterministic episodes (not timed). Contenders run one after the other, each in
its own process with torch on every core; ``--one-core-each`` instead runs them at the same time,
each pinned to its own core with one torch thread (for long runs: the wall clock of the slower one).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import run_child, run_contenders, save  # noqa: E402

COMMON = dict(learning_rate=1e-3, batch_size=256, tau=0.005, train_freq=1, gradient_steps=1, learning_starts=10_000)
SETTINGS = {
    "Pendulum-v1": dict(COMMON, gamma=0.98, buffer_size=200_000),
    "mujoco": dict(COMMON, gamma=0.99, buffer_size=1_000_000),
}
NET_ARCH = (400, 300)
NOISE_STD = 0.1
EVAL_EPISODES = 10


def settings_for(env_id: str) -> dict:
    return SETTINGS.get(env_id, SETTINGS["mujoco"])


def child(contender: str, env_id: str, steps: int, seed: int, threads: int) -> dict:
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    settings = settings_for(env_id)
    start = time.perf_counter()
    if contender == "rlkit":
        from agents import DDPG
        from rlkit import evaluate

        agent = DDPG(env_id, seed=seed, torch_threads=threads, net_arch=NET_ARCH, action_noise="normal", action_noise_std=NOISE_STD, **settings)
        agent.learn(steps, progress=False, eval_episodes=0)
        seconds = time.perf_counter() - start
        done = agent.num_steps
        mean, std = evaluate(agent, episodes=EVAL_EPISODES, seed=1000 + seed)
    elif contender == "sb3":
        import gymnasium as gym
        from stable_baselines3 import DDPG as SB3DDPG
        from stable_baselines3.common.evaluation import evaluate_policy
        from stable_baselines3.common.noise import NormalActionNoise

        env = gym.make(env_id)
        n_actions = env.action_space.shape[0]
        noise = NormalActionNoise(mean=np.zeros(n_actions), sigma=NOISE_STD * np.ones(n_actions))
        model = SB3DDPG("MlpPolicy", env, action_noise=noise, policy_kwargs=dict(net_arch=list(NET_ARCH)),
                        seed=seed, device="cpu", verbose=0, **settings)
        model.learn(steps)
        seconds = time.perf_counter() - start
        done = model.num_timesteps
        eval_env = gym.make(env_id)
        eval_env.reset(seed=1000 + seed)
        mean, std = evaluate_policy(model, eval_env, n_eval_episodes=EVAL_EPISODES, deterministic=True)
    else:
        raise ValueError(contender)
    return {"contender": contender, "seed": seed, "steps": done, "seconds": round(seconds, 2),
            "steps_per_second": round(done / seconds, 1), "eval_mean": round(float(mean), 1),
            "eval_std": round(float(std), 1), "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="Pendulum-v1")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--contenders", nargs="+", default=["sb3", "rlkit"], help="sb3, rlkit")
    parser.add_argument("--one-core-each", action="store_true",
                        help="run the contenders at the same time, each pinned to its own core with 1 torch thread")
    parser.add_argument("--child", nargs=5, metavar=("CONTENDER", "ENV", "STEPS", "SEED", "THREADS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        contender, env_id, steps, seed, threads = args.child
        print(json.dumps(child(contender, env_id, int(steps), int(seed), int(threads))))
        return
    runs: dict[str, list[dict]] = {c: [] for c in args.contenders}
    for seed in args.seeds:
        child_args = [args.env, str(args.steps), str(seed)]
        if args.one_core_each:
            rows = _one_core_each(args.contenders, child_args)
        else:
            rows = run_contenders(__file__, args.contenders, [*child_args, "0"])
        for contender, row in rows.items():
            runs[contender].append(row)
    summary = {}
    for contender, rows in runs.items():
        summary[contender] = {"mean_seconds": round(sum(r["seconds"] for r in rows) / len(rows), 2),
                              "mean_eval": round(sum(r["eval_mean"] for r in rows) / len(rows), 1)}
    if "sb3" in summary and "rlkit" in summary:
        summary["rlkit_speedup_vs_sb3"] = round(summary["sb3"]["mean_seconds"] / summary["rlkit"]["mean_seconds"], 2)
    print(json.dumps(summary))
    name = "ddpg_" + args.env.split("/")[-1].split("-")[0].lower()
    save(name, {"env": args.env, "steps": args.steps, "one_core_each": args.one_core_each, "settings": settings_for(args.env), "net_arch": NET_ARCH,
                "noise_std": NOISE_STD, "runs": runs, "summary": summary})


def _one_core_each(contenders: list[str], child_args: list[str]) -> dict[str, dict]:
    """Each contender on its own core (``os.sched_setaffinity`` in a thread per child), concurrently."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < len(contenders):
        raise SystemExit(f"--one-core-each needs {len(contenders)} cores, this machine has {len(cores)}.")
    rows: dict[str, dict] = {}

    def run(contender: str, core: int) -> None:
        rows[contender] = run_child(__file__, [contender, *child_args, "1"], timeout=6 * 3600, cpu=core)
        print(contender, json.dumps(rows[contender]), flush=True)

    threads = [threading.Thread(target=run, args=(c, core)) for c, core in zip(contenders, cores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    missing = [c for c in contenders if c not in rows]
    if missing:
        raise SystemExit(f"contenders {missing} failed; see the errors above.")
    return rows


if __name__ == "__main__":
    main()
