"""Sample-efficiency checks: evaluation return after a fixed step budget, several seeds.

    python benchmarks/learning.py --task cartpole-ppo2 --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-ppo  --seeds 0 1 2
    python benchmarks/learning.py --task pendulum-ppo2 --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-a2c --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-reinforce-value --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-reinforce-mean --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-dqn --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-dqn-zoo --seeds 0 1 2
    python benchmarks/learning.py --task cartpole-rainbow --seeds 0 1 2
    python benchmarks/learning.py --task pendulum-ddpg --seeds 0 1 2

Each agent is evaluated on 20 deterministic episodes (seed 1000 + seed) after training.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import save  # noqa: E402

ZOO_CARTPOLE = dict(num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                    learning_rate=1e-3, anneal_lr=True, anneal_clip_range=True, ent_coef=0.0)
PENDULUM = dict(num_envs=4, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95,
                learning_rate=1e-3, ent_coef=0.0, clip_range=0.2)

DQN_ZOO_CARTPOLE = dict(learning_rate=2.3e-3, batch_size=64, buffer_size=100_000, learning_starts=1000, gamma=0.99,
                        target_update_interval=10, train_freq=256, gradient_steps=128, exploration_fraction=0.16,
                        exploration_final_eps=0.04, net_arch=(256, 256))
# Plain DQN (no switches) that keeps what it learned: one gradient step per env step, a hard target
# update every 1000 steps, and the learning rate decayed linearly to 0, so the late updates that
# make the zoo settings forget a solved CartPole shrink to nothing.
DQN_CARTPOLE = dict(learning_rate=1e-3, anneal_lr=True, batch_size=64, buffer_size=100_000, learning_starts=1000,
                    gamma=0.99, train_freq=1, gradient_steps=1, target_update_interval=1000, exploration_fraction=0.2,
                    exploration_final_eps=0.02, net_arch=(256, 256))

# rl-zoo's DDPG Pendulum settings (benchmarks/ddpg_speed.py runs the same against SB3)
DDPG_ZOO_PENDULUM = dict(gamma=0.98, buffer_size=200_000, learning_starts=10_000, action_noise="normal",
                         action_noise_std=0.1, learning_rate=1e-3, batch_size=256, net_arch=(400, 300))

TASKS = {
    # name: (agent, env, steps, config, target)
    "cartpole-ppo2": ("PPO2", "CartPole-v1", 99_840, ZOO_CARTPOLE, 475.0),
    # the KL-penalty objective takes the same settings with a larger step size: at lr 1e-3 one
    # seed in five stalls near 360 (β holds the update back); at 2e-3, 6 of 6 seeds reach 500.
    "cartpole-ppo": ("PPO", "CartPole-v1", 149_760, {**ZOO_CARTPOLE, "learning_rate": 2e-3}, 475.0),
    "pendulum-ppo2": ("PPO2", "Pendulum-v1", 196_608, PENDULUM, -300.0),  # 48 rollouts of 4096
    # rl-zoo a2c.yml CartPole-v1: 8 envs, otherwise SB3's A2C defaults (n_steps 5, RMSprop, lr 7e-4)
    "cartpole-a2c": ("A2C", "CartPole-v1", 200_000, dict(num_envs=8, ent_coef=0.0), 475.0),
    # REINFORCE defaults: 1 env, updates every 1000 steps on the episodes that finished, Adam 1e-3
    "cartpole-reinforce-value": ("Reinforce", "CartPole-v1", 300_000, dict(baseline="value"), 475.0),
    "cartpole-reinforce-mean": ("Reinforce", "CartPole-v1", 300_000, dict(baseline="mean"), 475.0),
    "cartpole-dqn": ("DQN", "CartPole-v1", 100_000, DQN_CARTPOLE, 475.0),
    # rl-zoo's DQN CartPole settings (unstable on some seeds, in SB3 too) and Rainbow on a smaller
    # step size with a return support that fits CartPole's discounted returns (≤ 100 at γ 0.99)
    "cartpole-dqn-zoo": ("DQN", "CartPole-v1", 100_000, DQN_ZOO_CARTPOLE, 475.0),
    "cartpole-rainbow": ("Rainbow", "CartPole-v1", 100_000,
                         {**DQN_ZOO_CARTPOLE, "learning_rate": 1e-3, "v_min": 0.0, "v_max": 100.0, "buffer_size": 50_000,
                          "train_freq": 4, "gradient_steps": 1, "target_update_interval": 500}, 475.0),
    "pendulum-ddpg": ("DDPG", "Pendulum-v1", 20_000, DDPG_ZOO_PENDULUM, -200.0),
}


def main() -> None:
    import agents
    from rlkit import evaluate

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--task", choices=sorted(TASKS), required=True)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON", help="override config fields")
    args = parser.parse_args()
    agent_name, env_id, steps, config, target = TASKS[args.task]
    config = {**config, **{k: json.loads(v) for k, v in (s.split("=", 1) for s in args.set)}}
    rows = []
    for seed in args.seeds:
        start = time.perf_counter()
        agent = getattr(agents, agent_name)(env_id, seed=seed, **config)
        agent.learn(steps, progress=False, eval_episodes=0)
        seconds = time.perf_counter() - start
        mean, std = evaluate(agent, episodes=20, seed=1000 + seed)
        rows.append({"seed": seed, "steps": agent.num_steps, "eval_mean": mean, "eval_std": std, "train_seconds": round(seconds, 1)})
        print(f"{args.task} seed {seed}: {agent.num_steps} steps, eval {mean:.1f} +/- {std:.1f} ({seconds:.1f} s)", flush=True)
    means = [r["eval_mean"] for r in rows]
    summary = {"mean_eval": sum(means) / len(means), "seeds_reaching_target": sum(m >= target for m in means),
               "target": target}
    print(json.dumps(summary))
    save(f"learning_{args.task}", {"task": args.task, "agent": agent_name, "env": env_id, "config": config,
                                   "runs": rows, "summary": summary})


if __name__ == "__main__":
    main()
