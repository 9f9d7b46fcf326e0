"""Imitation from rlkit's own experts, through the commands a user runs.

    python benchmarks/imitation_scores.py --envs CartPole-v1 Pendulum-v1 --stages experts collect random bc
    python benchmarks/imitation_scores.py --envs CartPole-v1 --stages bc --seeds 0 1 2

Stages (each reads what the earlier ones left in --work):
  experts  `rlkit train AGENT --env ENV --seed 0` with the env's preset (PPO2 on CartPole-v1 and
           Pendulum-v1, DDPG on HalfCheetah-v5), into WORK/expert-ENV
  collect  `rlkit collect WORK/expert-ENV --episodes 20 -o WORK/demos-ENV.npz`; the expert's return
           is the mean over these episodes
  random   a uniformly random policy's mean return over 100 episodes (seeded)
  bc       `rlkit train bc --env ENV --demos WORK/demos-ENV.npz --demo-episodes 10 --seed S`
  dagger   `rlkit train dagger --env ENV --expert WORK/expert-ENV --demos ... --demo-episodes 2 --seed S`
  gail     `rlkit train gail --env ENV --demos WORK/demos-ENV.npz --demo-episodes 10 --seed S` (its preset)
  pair     BC and DAgger at equal expert labels (Pendulum-v1: 200 a episode): BC clones L / 200
           episodes; DAgger starts from 1 and asks the expert about L - 200 more states in rounds
           of 200; both take 500 gradient steps per 200 labels (L in PAIR_LABELS)

Normalised score = (return - random's) / (expert's - random's); a score is the run's end-of-run
evaluation (20 deterministic episodes). Results: benchmarks/results/imitation.json (merged per stage).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.common import RESULTS, random_return, run_rlkit, save  # noqa: E402

# gradient steps (BC) or expert labels (DAgger) per env
BC_STEPS = {"CartPole-v1": 5_000, "Pendulum-v1": 20_000, "HalfCheetah-v5": 50_000}
DAGGER_LABELS = {"CartPole-v1": 4_000, "Pendulum-v1": 10_000}
PAIR_LABELS = (1_000, 2_000)
# the agent trained as the expert (PPO2 where not named): DDPG's HalfCheetah preset reaches ~6,500 in
# 200k steps, where PPO2 needs 1M
EXPERT_AGENT = {"HalfCheetah-v5": "ddpg"}
# BC settings beyond the defaults: HalfCheetah's observations mix angles and velocities of ~10x their
# scale, so the clone standardises them
BC_EXTRA = {"HalfCheetah-v5": ["--normalize-obs", "true"]}




def evaluation(run: Path) -> float:
    return json.loads((run / "summary.json").read_text())["eval_mean_return"]


def equal_labels(env: str, labels: int, seeds: list[int], work: Path, expert_run: Path, demos: Path, row: dict) -> dict:
    """BC from labels / 200 expert episodes vs DAgger from 1 episode and labels - 200 expert labels."""
    commands = {
        "bc": ["bc", "--demo-episodes", str(labels // 200), "--total-steps", str(labels // 200 * 500)],
        "dagger": ["dagger", "--expert", str(expert_run), "--demo-episodes", "1", "--total-steps", str(labels - 200),
                   "--rollout-steps", "200", "--bc-steps-per-round", "500"],
    }
    out: dict = {"labels": labels}
    for name, command in commands.items():
        scores = []
        for seed in seeds:
            run = work / f"pair-{name}-{labels}-{env}-s{seed}"
            run_rlkit("train", command[0], "--env", env, "--demos", str(demos), "--seed", str(seed), *command[1:],
                  "--log-dir", str(run), "--overwrite", "--quiet")
            scores.append((evaluation(run) - row["random_return"]) / (row["expert_return"] - row["random_return"]))
        out[name] = {"command": f"rlkit train {' '.join(command)}", "normalised": [round(x, 3) for x in scores]}
        print(f"pair {env} {labels} labels {name}: {out[name]}", flush=True)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Pendulum-v1"])
    parser.add_argument("--stages", nargs="+", default=["experts", "collect", "random", "bc"],
                        choices=["experts", "collect", "random", "bc", "dagger", "gail", "pair"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--work", type=Path, default=Path("runs/imitation"))
    args = parser.parse_args()
    results_file = RESULTS / "imitation.json"
    results = json.loads(results_file.read_text()).get("results", {}) if results_file.exists() else {}
    for env in args.envs:
        row = results.setdefault(env, {})
        expert_run, demos = args.work / f"expert-{env}", args.work / f"demos-{env}.npz"
        if "experts" in args.stages:
            agent = EXPERT_AGENT.get(env, "ppo2")
            seconds = run_rlkit("train", agent, "--env", env, "--seed", "0", "--log-dir", str(expert_run), "--overwrite", "--quiet")
            row["expert_run"] = {"command": f"rlkit train {agent} --env {env} --seed 0", "seconds": round(seconds, 1),
                                 "eval": evaluation(expert_run)}
        if "collect" in args.stages:
            run_rlkit("collect", str(expert_run), "--episodes", "20", "-o", str(demos), "--quiet")
            from rlkit.buffers.demonstrations import Demonstrations

            returns = Demonstrations.load(demos).episode_returns
            row["expert_return"] = float(returns.mean())
            row["expert_episodes"] = [round(float(r), 1) for r in returns]
        if "random" in args.stages:
            row["random_return"] = random_return(env)
        for stage in ("bc", "dagger", "gail"):
            if stage not in args.stages:
                continue
            runs = []
            for seed in args.seeds:
                run = args.work / f"{stage}-{env}-s{seed}"
                flags = {"bc": lambda: ["--demo-episodes", "10", "--total-steps", str(BC_STEPS[env]), *BC_EXTRA.get(env, [])],
                         "dagger": lambda: ["--expert", str(expert_run), "--demo-episodes", "2", "--total-steps",
                                            str(DAGGER_LABELS[env])],
                         "gail": lambda: ["--demo-episodes", "10"]}[stage]()
                seconds = run_rlkit("train", stage, "--env", env, "--demos", str(demos), "--seed", str(seed), *flags,
                                "--log-dir", str(run), "--overwrite", "--quiet")
                score = (evaluation(run) - row["random_return"]) / (row["expert_return"] - row["random_return"])
                runs.append({"seed": seed, "eval": evaluation(run), "normalised": round(score, 3),
                             "seconds": round(seconds, 1)})
                print(f"{stage} {env} seed {seed}: {runs[-1]}", flush=True)
            row[stage] = {"command": f"rlkit train {stage} --env {env} --demos demos-{env}.npz {' '.join(flags)}",
                          "runs": runs}
        if "pair" in args.stages:
            row["pair"] = [equal_labels(env, labels, args.seeds, args.work, expert_run, demos, row)
                           for labels in PAIR_LABELS]
        print(env, json.dumps({k: v for k, v in row.items() if k not in ("bc", "dagger", "gail", "pair")}), flush=True)
        results[env] = row
    save("imitation", {"results": results})


if __name__ == "__main__":
    main()
