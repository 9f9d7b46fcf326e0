"""DQN speed on Pong, rlkit vs Stable-Baselines3 with the same settings.

    python benchmarks/dqn_speed.py --steps 10000

Settings (both): PongNoFrameskip-v4 protocol, 1 env, NatureCNN, batch 32, train every 4 steps
(1 gradient step), lr 1e-4, target update every 1000 steps, buffer 50,000, learning starts after
1,000 steps, ε 1 -> 0.01 over 10% of the run: rl-zoo's Atari DQN settings with a smaller buffer and
an early start so that the timed run is mostly learning. Steps/s over construction + learn(), and
over learn() alone (what a long run sees: construction, ~1.5-3.5 s, is a one-off, and the PPO and
A2C benchmarks time learn() alone too).
``--contenders rlkit-rainbow`` runs Rainbow (every switch on) with the same settings and writes its
TensorBoard events to runs/bench-rainbow-pong.
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
RAINBOW_RUN = Path(__file__).resolve().parent.parent / "runs" / "bench-rainbow-pong"
SETTINGS = dict(learning_rate=1e-4, batch_size=32, train_freq=4, gradient_steps=1, target_update_interval=1000,
                buffer_size=50_000, learning_starts=1000, exploration_fraction=0.1, exploration_final_eps=0.01)


def child(contender: str, steps: int) -> dict:
    import torch

    start = time.perf_counter()
    if contender in BACKENDS or contender == "rlkit-rainbow":
        from agents import DQN, Rainbow

        backend, vectorization = BACKENDS.get(contender, BACKENDS["rlkit"])
        cls = Rainbow if contender == "rlkit-rainbow" else DQN
        log_dir = RAINBOW_RUN if contender == "rlkit-rainbow" else None  # TensorBoard events for the Rainbow run
        agent = cls(ENV, seed=0, num_envs=1, env_backend=backend, vectorization=vectorization, **SETTINGS)
        learn_start = time.perf_counter()
        agent.learn(steps, log_dir, progress=False, eval_episodes=0)
        done = agent.num_steps
    elif contender == "sb3":
        import ale_py
        import gymnasium as gym
        from stable_baselines3 import DQN as SB3DQN
        from stable_baselines3.common.env_util import make_atari_env
        from stable_baselines3.common.vec_env import VecFrameStack

        gym.register_envs(ale_py)
        env = VecFrameStack(make_atari_env(ENV, n_envs=1, seed=0), n_stack=4)
        model = SB3DQN("CnnPolicy", env, seed=0, device="cpu", verbose=0, **SETTINGS)
        learn_start = time.perf_counter()
        model.learn(steps)
        done = model.num_timesteps
    else:
        raise ValueError(contender)
    end = time.perf_counter()
    seconds, learn_seconds = end - start, end - learn_start
    return {"contender": contender, "steps": done, "seconds": round(seconds, 2),
            "steps_per_second": round(done / seconds, 1), "construction_seconds": round(seconds - learn_seconds, 2),
            "learn_steps_per_second": round(done / learn_seconds, 1), "torch_threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=10_000)
    parser.add_argument("--contenders", nargs="+", default=["sb3", "rlkit", "rlkit-envpool", "rlkit-ale"],
                        help="sb3, rlkit (Gymnasium envs), rlkit-envpool, rlkit-ale (ale-py's vector env), "
                             "rlkit-rainbow (Rainbow, all switches on; logs to runs/)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds of all contenders; ratios are the median over rounds")
    parser.add_argument("--child", nargs=2, metavar=("CONTENDER", "STEPS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child[0], int(args.child[1]))))
        return
    rows = run_contenders(__file__, args.contenders, [str(args.steps)], args.repeats)
    mine = [c for c in args.contenders if c != "sb3"]
    ratios = ratios_to(rows, "sb3", mine, label="steps/s (construction + learn)")
    learn_ratios = ratios_to(rows, "sb3", mine, key="learn_steps_per_second", label="steps/s (learn alone)")
    save("dqn_speed_pong", {"env": ENV, "steps": args.steps, "settings": SETTINGS, "results": rows,
                            "ratios_vs_sb3": ratios, "learn_ratios_vs_sb3": learn_ratios})


if __name__ == "__main__":
    main()
