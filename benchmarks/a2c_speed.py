"""A2C speed, rlkit vs Stable-Baselines3 with the same settings, on CartPole-v1 and on Pong.

    python benchmarks/a2c_speed.py --task cartpole --steps 100000
    python benchmarks/a2c_speed.py --task pong --steps 16000

cartpole: rl-zoo a2c.yml CartPole-v1 (8 envs, ent_coef 0), otherwise SB3's A2C defaults: n_steps 5,
lr 7e-4, γ 0.99, GAE λ 1 (n-step returns), vf_coef 0.5, max_grad_norm 0.5, RMSprop(α 0.99, eps 1e-5).
pong: rl-zoo's Atari A2C settings (16 envs, ent_coef 0.01, vf_coef 0.25, n_steps 5, NatureCNN, frame
stack 4, NoFrameskip-v4 protocol), with torch's RMSprop(eps 1e-5) on both sides (the zoo swaps in
SB3's RMSpropTFLike; the optimiser's arithmetic is the same size either way).
Each contender runs in its own process; steps/s is measured over the whole learn() call.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import BACKENDS, ratios_to, run_contenders, save  # noqa: E402

TASKS = {
    "cartpole": dict(env="CartPole-v1", n_envs=8, settings=dict(n_steps=5, learning_rate=7e-4, gamma=0.99, gae_lambda=1.0,
                                                                 ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)),
    "pong": dict(env="PongNoFrameskip-v4", n_envs=16, settings=dict(n_steps=5, learning_rate=7e-4, gamma=0.99, gae_lambda=1.0,
                                                                      ent_coef=0.01, vf_coef=0.25, max_grad_norm=0.5)),
}


def child(contender: str, task: str, steps: int) -> dict:
    import torch

    spec = TASKS[task]
    settings = dict(spec["settings"])
    if contender in BACKENDS:
        from agents import A2C

        backend, vectorization = BACKENDS[contender]
        start = time.perf_counter()
        agent = A2C(spec["env"], seed=0, num_envs=spec["n_envs"], env_backend=backend, vectorization=vectorization,
                    rms_prop_eps=1e-5, **settings)
        agent.learn(steps, progress=False, eval_episodes=0)
        seconds = time.perf_counter() - start
        done = agent.num_steps
    elif contender == "sb3":
        from stable_baselines3 import A2C as SB3A2C

        start = time.perf_counter()
        if task == "pong":
            import ale_py
            import gymnasium as gym
            from stable_baselines3.common.env_util import make_atari_env
            from stable_baselines3.common.vec_env import VecFrameStack

            gym.register_envs(ale_py)
            env = VecFrameStack(make_atari_env(spec["env"], n_envs=spec["n_envs"], seed=0), n_stack=4)
            policy = "CnnPolicy"
        else:
            from stable_baselines3.common.env_util import make_vec_env

            env = make_vec_env(spec["env"], n_envs=spec["n_envs"], seed=0)
            policy = "MlpPolicy"
        model = SB3A2C(policy, env, seed=0, device="cpu", verbose=0, rms_prop_eps=1e-5, **settings)
        model.learn(steps)
        seconds = time.perf_counter() - start
        done = model.num_timesteps
    else:
        raise ValueError(contender)
    return {"contender": contender, "steps": done, "seconds": round(seconds, 2),
            "steps_per_second": round(done / seconds, 1), "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS))
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--contenders", nargs="+", default=None, help="rlkit, rlkit-envpool, sb3")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds of all contenders; ratios are the median over rounds")
    parser.add_argument("--child", nargs=3, metavar=("CONTENDER", "TASK", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], args.child[1], int(args.child[2]))))
        return
    if args.task is None:
        parser.error("--task is required")
    contenders = args.contenders or (["sb3", "rlkit", "rlkit-envpool"] if args.task == "pong" else ["sb3", "rlkit"])
    rows = run_contenders(__file__, contenders, [args.task, str(args.steps)], args.repeats)
    ratios = ratios_to(rows, "sb3", [c for c in contenders if c != "sb3"])
    save(f"a2c_speed_{args.task}", {"task": args.task, "env": TASKS[args.task]["env"], "steps": args.steps,
                                    "settings": TASKS[args.task], "results": rows, "ratios_vs_sb3": ratios})


if __name__ == "__main__":
    main()
