"""PPO2 on Pong with CleanRL's Atari settings, rlkit vs Stable-Baselines3, plus the machine's floor.

    python benchmarks/ppo_atari.py --steps 10240

Settings (both): 8 envs x 128 steps, 4 epochs, 4 minibatches of 256, lr 2.5e-4, clip 0.1,
ent 0.01, NatureCNN, NoFrameskip-v4 protocol (no sticky actions). Each contender runs in its own
process; steps/s is measured over the whole learn() call.
Floor: env-only steps/s (random actions, 8 envs, each backend) and the network-update time per
env step (one update of 4 epochs over a 1024-step batch, divided by 1024).
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import BACKENDS, ratios_to, run_contenders, save  # noqa: E402

ENV = "PongNoFrameskip-v4"
CLEANRL = dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=2.5e-4, clip_range=0.1, ent_coef=0.01,
               vf_coef=0.5, gamma=0.99, gae_lambda=0.95, max_grad_norm=0.5)


def child(contender: str, steps: int) -> dict:
    import numpy as np
    import torch

    if contender in BACKENDS:
        from agents import PPO2

        backend, vectorization = BACKENDS[contender]
        agent = PPO2(ENV, seed=0, num_envs=8, env_backend=backend, vectorization=vectorization, anneal_lr=True,
                     **CLEANRL)
        start = time.perf_counter()
        agent.learn(steps, progress=False, eval_episodes=0)
        seconds = time.perf_counter() - start
        return {"contender": contender, "steps": agent.num_steps, "seconds": round(seconds, 2),
                "steps_per_second": round(agent.num_steps / seconds, 1), "torch_threads": torch.get_num_threads()}
    if contender == "sb3":
        import ale_py
        import gymnasium as gym
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack

        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env(ENV, n_envs=8, seed=0), n_stack=4)
        p = dict(CLEANRL)
        lr = p.pop("learning_rate")
        model = PPO("CnnPolicy", env, learning_rate=lambda f: f * lr, seed=0, device="cpu", verbose=0, **p)
        start = time.perf_counter()
        model.learn(steps)
        seconds = time.perf_counter() - start
        return {"contender": contender, "steps": model.num_timesteps, "seconds": round(seconds, 2),
                "steps_per_second": round(model.num_timesteps / seconds, 1), "torch_threads": torch.get_num_threads()}
    if contender.startswith("env-only"):
        from envs import make_vec_env

        backend = {"env-only": "gymnasium", "env-only-envpool": "envpool", "env-only-ale": "ale"}[contender]
        envs = make_vec_env(ENV, 8, backend=backend)
        envs.reset(seed=0)
        rng = np.random.default_rng(0)
        n = steps // 8
        start = time.perf_counter()
        for _ in range(n):
            envs.step(rng.integers(0, 6, size=8))
        seconds = time.perf_counter() - start
        return {"contender": contender, "steps": n * 8, "seconds": round(seconds, 2), "steps_per_second": round(n * 8 / seconds, 1)}
    if contender == "update-only":
        from agents import PPO2
        from rlkit.rollout import RolloutWorker

        agent = PPO2(ENV, seed=0, num_envs=8, **CLEANRL)
        buffer = agent.make_rollout_buffer()
        worker = RolloutWorker(agent.envs, agent.policy, seed=0)
        _, last_values = worker.collect(buffer)
        batch = buffer.batch(last_values, worker.obs)
        agent.update(batch)  # warm-up
        start = time.perf_counter()
        repeats = 3
        for _ in range(repeats):
            agent.update(batch)
        seconds = (time.perf_counter() - start) / repeats
        return {"contender": contender, "seconds_per_update": round(seconds, 3),
                "update_ms_per_env_step": round(1000 * seconds / 1024, 3), "torch_threads": torch.get_num_threads()}
    raise ValueError(contender)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_240)
    parser.add_argument("--contenders", nargs="+",
                        default=["env-only", "env-only-envpool", "update-only", "sb3", "rlkit", "rlkit-envpool"],
                        help="also env-only-ale and rlkit-ale (ale-py's vector env)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds of all contenders; ratios are the median over rounds")
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    rows = run_contenders(__file__, args.contenders, [str(args.steps)], args.repeats)
    rows.update({f"{name}_vs_sb3": ratio for name, ratio in ratios_to(rows, "sb3", list(BACKENDS)).items()})
    save("ppo_atari_pong", {"env": ENV, "steps": args.steps, "settings": CLEANRL, "results": rows})


if __name__ == "__main__":
    main()
