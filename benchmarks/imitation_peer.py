"""BC and GAIL side by side: rlkit vs the `imitation` library (HumanCompatibleAI, PyPI `imitation`),
on the same expert demonstrations, the same budgets and, where both libraries have them, the same
settings.

    python benchmarks/imitation_peer.py --setup-peer     # only build benchmarks/.venv-imitation
    python benchmarks/imitation_peer.py \\
        --demos CartPole-v1=runs/imitation/demos-CartPole-v1.npz Pendulum-v1=runs/imitation/demos-Pendulum-v1.npz \\
        --algos bc gail --seeds 0 1 2 --repeats 3

Run it with rlkit's Python. `imitation` pins gymnasium 0.29 and Stable-Baselines3 2.2, older than
rlkit's, so it runs in a venv of its own, benchmarks/.venv-imitation, built on first use from
benchmarks/imitation_peer_constraints.txt (every package pinned; torch to the local CPU build, and a
pip dry run checks that no CUDA package or other torch build would come in before anything but
torch is installed). The peer's child process reads rlkit's .npz with plain NumPy (no rlkit there).

Each contender runs in its own process: rlkit through its CLI (`python -m rlkit.cli train bc|gail
... --quiet`, the run's summary.json gives the evaluation and `train_seconds`, the training loop's
wall clock, which excludes start-up, construction and the final evaluation); imitation through
this script's --child mode in the peer venv, timed around `.train()` alone. Both use 1 torch thread
(rlkit: --torch-threads 1; imitation: torch.set_num_threads(1) before anything is built). Both are
evaluated on 20 deterministic episodes with rlkit's protocol: 8 envs, env i first reset with seed
(seed + 10000 + i) and then reset unseeded, quotas 3,3,3,3,2,2,2,2 (the same initial states on
gymnasium 0.29 and 1.x). Normalised score = (return - random) / (expert - random): the expert's
return is the mean over all episodes in the demonstrations file, the random policy's the mean of
100 seeded episodes of uniformly random actions (or --expert-return / --random-return).

With --repeats N every (env, algorithm, seed) pair runs N times, both contenders back to back in
each round (the order alternating from round to round), so a slow spell of this shared machine
hits both; the wall-clock ratio (imitation's seconds / rlkit's, > 1: rlkit is faster) is the
median over the seeds of each seed's median over rounds. Results: benchmarks/results/imitation_peer.json.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = HERE / ".venv-imitation"
CONSTRAINTS = HERE / "imitation_peer_constraints.txt"
IMITATION = "imitation==1.0.1"  # the newest release; it asks gymnasium~=0.29, stable-baselines3~=2.2.1
TORCH = "torch==2.13.0"  # the local CPU wheel (the constraints file pins 2.13.0+cpu)
TORCH_THREADS = 1
EVAL_EPISODES = 20
EVAL_SEED_OFFSET = 10_000  # rlkit's final evaluation: seed + 10000 (rlkit/progress.py)

# --- what both sides run --------------------------------------------------------------------------
# BC: rlkit's BC defaults, given to imitation's BC (whose own defaults differ: [32, 32] policy,
# ent_weight 1e-3). rlkit holds out no validation episodes here (validation_fraction 0), so both
# train on exactly the same steps.
BC = dict(batch_size=32, learning_rate=1e-3, net_arch=(64, 64), activation="tanh", ent_coef=0.0, l2_coef=0.0)
BC_STEPS = {"CartPole-v1": 5_000, "Pendulum-v1": 20_000}  # gradient steps (as benchmarks/imitation_scores.py)

# GAIL's generator: PPO2 with the settings agents/gail.py recommends (rl-zoo's CartPole-v1 PPO
# settings; rlkit's Pendulum-v1 PPO2 preset), both without annealing: imitation calls SB3's
# learn() once per round with reset_num_timesteps=False, so a linear schedule there would be at its
# end (learning rate 0) at every update. Constant learning rate and clip range on both sides.
PPO_COMMON = dict(net_arch=(64, 64), activation="tanh", clip_range=0.2, ent_coef=0.0, vf_coef=0.5, max_grad_norm=0.5)
GENERATOR = {
    "CartPole-v1": dict(PPO_COMMON, num_envs=8, n_steps=32, batch_size=256, n_epochs=20, gamma=0.98, gae_lambda=0.8,
                        learning_rate=1e-3),
    "Pendulum-v1": dict(PPO_COMMON, num_envs=4, n_steps=1024, batch_size=64, n_epochs=10, gamma=0.9, gae_lambda=0.95,
                        learning_rate=1e-3),
}
# the discriminator: rlkit GAIL's defaults (imitation's would be [32, 32] ReLU, Adam lr 1e-3, 2 updates)
DISCRIMINATOR = dict(disc_net_arch=(64, 64), disc_activation="tanh", disc_learning_rate=3e-4, disc_batch_size=128,
                     disc_updates_per_round=4)
GAIL_STEPS = {"CartPole-v1": 99_840, "Pendulum-v1": 204_800}  # env steps: 390 rollouts of 256; 50 of 4096
DEMO_EPISODES = 10

# where the two sides differ (printed with the results, and saved)
NOTES = [
    "BC policy: MLP 64,64 tanh to the action head on both (imitation's default would be 32,32). Its value head, "
    "untrained on both: rlkit's a frozen linear head on the trunk, SB3's ActorCriticPolicy a linear head on the "
    "observation (vf=[]), computed by imitation's loss at every step, which also computes the entropy and the L2 "
    "norm at weight 0. Both: Adam, shuffled epochs of whole batches.",
    "GAIL generator: SB3 PPO (imitation) and rlkit's PPO2 with the same n_envs, n_steps, batch, epochs, lr, clip, "
    "gamma, lambda, vf/ent coefficients, grad clip, networks (64,64 tanh, separate actor and critic); constant lr "
    "and clip range on both (see GENERATOR).",
    "GAIL discriminator: 64,64 tanh, Adam lr 3e-4, 128 expert + 128 generator samples a step, 4 steps a round, "
    "reward -log(1 - D) on both; rlkit initialises it orthogonally, imitation with torch's defaults; Box actions "
    "enter rlkit's D mapped onto [-1, 1], imitation's as they are (Pendulum: +-2). In a round rlkit updates D "
    "on the fresh rollout before the generator's update (which then uses the new D's rewards); imitation "
    "updates the generator first (rewards from the D of the round before), then D, on samples drawn with "
    "replacement from the last rollout. imitation's GAIL runs with allow_variable_horizon=True (CartPole's "
    "episodes end when the pole falls).",
    "Logging inside the timed training: rlkit writes progress.csv, TensorBoard events and a checkpoint every tenth "
    "of the run; imitation writes its CSV logs only (format_strs=['csv']), no checkpoints.",
]


# --- the peer's venv ------------------------------------------------------------------------------
def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def build_peer_venv(rebuild: bool = False) -> None:
    """benchmarks/.venv-imitation from the constraints file (benchmarks.common.build_peer_venv); this side
    runs in rlkit's Python, the children never build."""
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.common import build_peer_venv as build

    build(PEER_VENV, CONSTRAINTS, TORCH, IMITATION, "torch, imitation", rebuild)


# --- the peer's child (runs in the peer venv: NumPy, gymnasium 0.29, SB3, imitation; no rlkit) ---
def load_trajectories(path: str, episodes: int, observation_space, action_space) -> list:
    """rlkit's demonstrations .npz (rlkit/buffers/demonstrations.py) as imitation's
    TrajectoryWithRew list, read with plain NumPy: obs holds each episode's final observation too,
    so episode e's rows are its steps plus one. ``terminal`` is whether the episode's last step
    terminated (False: truncated by a time limit)."""
    from imitation.data.types import TrajectoryWithRew

    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        if meta.get("schema_version") != 1:
            raise SystemExit(f"{path}: demonstrations schema {meta.get('schema_version')}, this reader knows 1")
        if meta.get("obs_storage") == "frames":
            raise SystemExit(f"{path}: stacked frames are not read here (vector observations only)")
        obs, actions, rewards, terminated, lengths = (data[k] for k in
                                                      ("obs", "actions", "rewards", "terminated", "episode_lengths"))
    for kind, described, space in (("observation", meta["observation_space"], observation_space),
                                   ("action", meta["action_space"], action_space)):
        shape = list(getattr(space, "shape", ()) or ())
        if (described["type"] != type(space).__name__ or (described["type"] == "Box" and described["shape"] != shape)
                or (described["type"] == "Discrete" and described["n"] != int(space.n))):
            raise SystemExit(f"{path}: the demonstrations' {kind} space {described} does not fit the env's {space}")
    lengths = lengths[:episodes] if episodes else lengths
    trajectories, row, step = [], 0, 0
    for length in map(int, lengths):
        trajectories.append(TrajectoryWithRew(obs=obs[row:row + length + 1], acts=actions[step:step + length],
                                              infos=None, terminal=bool(terminated[step + length - 1]),
                                              rews=rewards[step:step + length].astype(np.float32)))
        row, step = row + length + 1, step + length
    return trajectories


def evaluate_like_rlkit(policy, env_id: str, episodes: int, seed: int) -> list[float]:
    """rlkit.evaluate's episodes: min(episodes, 8) envs, env i first reset with seed + i, then
    unseeded (as a vector env's autoreset), each running its quota; deterministic actions."""
    import gymnasium as gym

    n = min(episodes, 8)
    returns = []
    for i in range(n):
        env = gym.make(env_id)
        for k in range(episodes // n + (i < episodes % n)):
            obs, _ = env.reset(seed=seed + i if k == 0 else None)
            total, done = 0.0, False
            while not done:
                action, _ = policy.predict(obs, deterministic=True)
                obs, reward, terminated, truncated, _ = env.step(action)
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
        env.close()
    return returns


def peer_child(spec: dict) -> dict:
    # a module of this folder must never shadow the library (a benchmarks/imitation.py would); the
    # parent starts this child with -P, and a hand-run child is covered here
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != HERE]
    import torch

    torch.set_num_threads(TORCH_THREADS)  # before anything is built: SB3 and imitation would take every core
    import gymnasium as gym
    import imitation
    import stable_baselines3
    from imitation.data import rollout
    from imitation.util import logger as imitation_logger
    from stable_baselines3.common.utils import set_random_seed
    from torch import nn

    if "site-packages" not in Path(imitation.__file__).parts:
        raise SystemExit(f"imported imitation from {imitation.__file__}, not the peer venv's library")
    activations = {"tanh": nn.Tanh, "relu": nn.ReLU}
    algo, env_id, seed, settings = spec["algo"], spec["env"], spec["seed"], spec["settings"]
    work = Path(spec["work"])
    start = time.perf_counter()
    set_random_seed(seed)
    rng = np.random.default_rng(seed)
    probe = gym.make(env_id)
    trajectories = load_trajectories(spec["demos"], spec["demo_episodes"], probe.observation_space, probe.action_space)
    transitions = rollout.flatten_trajectories(trajectories)
    log = imitation_logger.configure(folder=str(work / "log"), format_strs=["csv"])
    if algo == "bc":
        from imitation.algorithms import bc
        from stable_baselines3.common.policies import ActorCriticPolicy

        # the policy network of rlkit's BC: one MLP trunk to the action head; the value head
        # (untrained by either) is SB3's linear one on the observation (vf=[])
        policy = ActorCriticPolicy(probe.observation_space, probe.action_space,
                                   lr_schedule=lambda _: torch.finfo(torch.float32).max,
                                   net_arch=dict(pi=list(settings["net_arch"]), vf=[]),
                                   activation_fn=activations[settings["activation"]], log_std_init=0.0)
        trainer = bc.BC(observation_space=probe.observation_space, action_space=probe.action_space, rng=rng,
                        policy=policy, demonstrations=transitions, batch_size=settings["batch_size"],
                        optimizer_kwargs={"lr": settings["learning_rate"]}, ent_weight=settings["ent_coef"],
                        l2_weight=settings["l2_coef"], device="cpu", custom_logger=log)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        trainer.train(n_batches=spec["steps"], progress_bar=False)
        seconds = time.perf_counter() - start
        acting, done = trainer.policy, spec["steps"]
    elif algo == "gail":
        from imitation.algorithms.adversarial.gail import GAIL
        from imitation.rewards.reward_nets import BasicRewardNet
        from stable_baselines3 import PPO
        from stable_baselines3.common.env_util import make_vec_env

        venv = make_vec_env(env_id, n_envs=settings["num_envs"], seed=seed)
        learner = PPO("MlpPolicy", venv, n_steps=settings["n_steps"], batch_size=settings["batch_size"],
                      n_epochs=settings["n_epochs"], gamma=settings["gamma"], gae_lambda=settings["gae_lambda"],
                      learning_rate=settings["learning_rate"], clip_range=settings["clip_range"],
                      ent_coef=settings["ent_coef"], vf_coef=settings["vf_coef"],
                      max_grad_norm=settings["max_grad_norm"], normalize_advantage=True,
                      policy_kwargs=dict(net_arch=dict(pi=list(settings["net_arch"]), vf=list(settings["net_arch"])),
                                         activation_fn=activations[settings["activation"]], log_std_init=0.0),
                      seed=seed, device="cpu", verbose=0)
        reward_net = BasicRewardNet(venv.observation_space, venv.action_space, hid_sizes=tuple(settings["disc_net_arch"]),
                                    activation=activations[settings["disc_activation"]])
        # CartPole's episodes end when the pole falls: imitation wants fixed horizons unless told
        trainer = GAIL(demonstrations=transitions, demo_batch_size=settings["disc_batch_size"], venv=venv,
                       gen_algo=learner, reward_net=reward_net,
                       n_disc_updates_per_round=settings["disc_updates_per_round"],
                       disc_opt_kwargs={"lr": settings["disc_learning_rate"]}, log_dir=str(work),
                       custom_logger=log, allow_variable_horizon=True)
        setup = time.perf_counter() - start
        start = time.perf_counter()
        trainer.train(total_timesteps=spec["steps"])
        seconds = time.perf_counter() - start
        acting, done = learner.policy, learner.num_timesteps
    else:
        raise SystemExit(f"unknown algorithm {algo!r}")
    returns = evaluate_like_rlkit(acting, env_id, spec["eval_episodes"], seed + EVAL_SEED_OFFSET)
    return {"contender": "imitation", "steps": int(done), "train_seconds": round(seconds, 3),
            "setup_seconds": round(setup, 3), "eval_mean": float(np.mean(returns)), "eval_std": float(np.std(returns)),
            "torch_threads": torch.get_num_threads(), "demo_steps": int(len(transitions)),
            "versions": {"imitation": imitation.__version__, "stable_baselines3": stable_baselines3.__version__,
                         "gymnasium": gym.__version__, "torch": torch.__version__, "numpy": np.__version__}}


# --- the parent (rlkit's Python) --------------------------------------------------------------------
def flag_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return str(value)


def rlkit_flags(algo: str, settings: dict) -> list[str]:
    extra = (dict(validation_fraction=0.0, normalize_obs=False, log_std_init=0.0) if algo == "bc" else
             dict(anneal_lr=False, anneal_clip_range=False, normalize_obs=False, normalize_reward=False,
                  log_std_init=0.0, disc_input="obs_action", reward_type="gail", gradient_penalty=0.0))
    return [item for key, value in {**settings, **extra}.items()
            for item in (f"--{key.replace('_', '-')}", flag_value(value))]


def run_rlkit(spec: dict, rlkit_root: Path) -> dict:
    run = Path(spec["work"])
    cmd = [sys.executable, "-m", "rlkit.cli", "train", spec["algo"], "--env", spec["env"], "--preset", "none",
           "--demos", spec["demos"], "--demo-episodes", str(spec["demo_episodes"]), "--seed", str(spec["seed"]),
           "--total-steps", str(spec["steps"]), "--device", "cpu", "--torch-threads", str(TORCH_THREADS),
           *rlkit_flags(spec["algo"], spec["settings"]), "--eval-episodes", str(spec["eval_episodes"]),
           "--log-dir", str(run), "--overwrite", "--quiet"]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=rlkit_root, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(rlkit_root)})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stderr[-3000:]}")
    summary = json.loads((run / "summary.json").read_text())
    return {"contender": "rlkit", "steps": summary["total_steps"], "train_seconds": summary["train_seconds"],
            "process_seconds": round(time.perf_counter() - start, 2), "eval_mean": summary["eval_mean_return"],
            "eval_std": summary["eval_std_return"], "torch_threads": TORCH_THREADS,
            "command": "python " + " ".join(cmd[1:]).replace(str(run), "RUN")}


def run_peer(spec: dict) -> dict:
    Path(spec["work"]).mkdir(parents=True, exist_ok=True)
    cmd = [str(peer_python()), "-P", str(Path(__file__).resolve()), "--child", json.dumps(spec)]
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=spec["work"], capture_output=True, text=True,
                          env={**os.environ, "TQDM_DISABLE": "1", "PYTHONPATH": ""})
    if done.returncode != 0:
        raise RuntimeError(f"the imitation child ({spec['algo']} {spec['env']} seed {spec['seed']}) failed:\n"
                           f"{done.stderr[-3000:]}")
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["process_seconds"] = round(time.perf_counter() - start, 2)
    return row


def rlkit_has_gail(rlkit_root: Path) -> bool:
    done = subprocess.run([sys.executable, "-m", "rlkit.cli", "train", "gail", "--help"], cwd=rlkit_root,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(rlkit_root)})
    return done.returncode == 0


def demos_info(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as data:
        meta = json.loads(str(data["meta"]))
        rewards, lengths = data["rewards"].astype(np.float64), data["episode_lengths"]
    returns = np.add.reduceat(rewards, np.cumsum(lengths) - lengths)
    return {"episodes": len(lengths), "steps": int(lengths.sum()), "expert_return": float(returns.mean()),
            "source": meta.get("source", "")}


def pairs(items: list[str], what: str, cast=str) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"{what} takes ENV=VALUE, got {item!r}")
        out[key] = cast(value)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demos", nargs="+", metavar="ENV=NPZ", help="rlkit demonstrations per env (rlkit collect)")
    parser.add_argument("--algos", nargs="+", choices=["bc", "gail"], default=["bc", "gail"])
    parser.add_argument("--contenders", nargs="+", choices=["rlkit", "imitation"], default=["rlkit", "imitation"])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; ratios are medians over them")
    parser.add_argument("--demo-episodes", type=int, default=DEMO_EPISODES, help="train on the first N episodes (0: all)")
    parser.add_argument("--bc-steps", type=int, help=f"BC gradient steps for every env (default {BC_STEPS})")
    parser.add_argument("--gail-steps", type=int, help=f"GAIL env steps for every env, rounded down to whole rollouts "
                                                       f"(default {GAIL_STEPS})")
    parser.add_argument("--expert-return", nargs="*", metavar="ENV=R", help="default: the demos file's mean return")
    parser.add_argument("--random-return", nargs="*", metavar="ENV=R", help="default: measured, 100 episodes")
    parser.add_argument("--rlkit-root", type=Path, default=ROOT, help="the rlkit checkout whose CLI runs (default: this one)")
    parser.add_argument("--work", type=Path, default=ROOT / "runs" / "imitation_peer", help="run folders")
    parser.add_argument("--output", default="imitation_peer", help="results file name under benchmarks/results/")
    parser.add_argument("--setup-peer", action="store_true", help="build the peer venv and stop")
    parser.add_argument("--rebuild-peer", action="store_true", help="rebuild the peer venv first")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(peer_child(json.loads(args.child))))
        return
    if args.setup_peer or args.rebuild_peer or "imitation" in args.contenders:
        build_peer_venv(rebuild=args.rebuild_peer)
    if args.setup_peer:
        return
    if not args.demos:
        parser.error("--demos ENV=NPZ ... is required")
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import RESULTS, machine, random_return, save

    demos = {env: Path(path).resolve() for env, path in pairs(args.demos, "--demos").items()}
    expert_override = pairs(args.expert_return, "--expert-return", float)
    random_override = pairs(args.random_return, "--random-return", float)
    rlkit_root = args.rlkit_root.resolve()
    work = args.work.resolve()
    algos = list(args.algos)
    if "gail" in algos and "rlkit" in args.contenders and not rlkit_has_gail(rlkit_root):
        print(f"rlkit GAIL: `rlkit train gail` is not in {rlkit_root} (agents/gail.py is not there yet); "
              "its rows are skipped, imitation's GAIL still runs. Point --rlkit-root at a checkout that has it.",
              flush=True)
        skip_rlkit_gail = True
    else:
        skip_rlkit_gail = False

    unknown = [env for env in demos if ("gail" in algos and env not in GENERATOR)
               or ("bc" in algos and not args.bc_steps and env not in BC_STEPS)]
    if unknown:
        raise SystemExit(f"no settings here for {', '.join(unknown)}: this comparison knows {', '.join(GENERATOR)} "
                         "(GAIL's generator settings and BC's budget are per env)")
    envs: dict[str, dict] = {}
    for env, path in demos.items():
        info = demos_info(path)
        if args.demo_episodes > info["episodes"]:
            raise SystemExit(f"{path} holds {info['episodes']} episodes; --demo-episodes {args.demo_episodes} is more")
        info["expert_return"] = expert_override.get(env, info["expert_return"])
        info["random_return"] = random_override.get(env, None)
        if info["random_return"] is None:
            info["random_return"] = random_return(env)
        envs[env] = {"demos": str(path), **info}
        print(f"{env}: demos {path} ({info['episodes']} episodes, {info['steps']} steps; training on "
              f"{args.demo_episodes or info['episodes']}), expert {info['expert_return']:.1f}, "
              f"random {info['random_return']:.1f}", flush=True)

    def budget(algo: str, env: str) -> tuple[int, dict]:
        if algo == "bc":
            return args.bc_steps or BC_STEPS[env], dict(BC)
        settings = {**GENERATOR[env], **DISCRIMINATOR}
        rollout = settings["num_envs"] * settings["n_steps"]
        steps = (args.gail_steps or GAIL_STEPS[env]) // rollout * rollout
        if steps < rollout:
            raise SystemExit(f"GAIL on {env} needs at least one rollout of {rollout} env steps")
        return steps, settings

    print(f"torch threads: {TORCH_THREADS} in both children (rlkit: --torch-threads {TORCH_THREADS}; imitation: "
          f"torch.set_num_threads({TORCH_THREADS}) before anything is built). {machine()}", flush=True)
    for note in NOTES:
        print(f"note: {note}", flush=True)
    rows: list[dict] = []
    for round_ in range(args.repeats):
        for env in envs:
            for algo in algos:
                steps, settings = budget(algo, env)
                for seed in args.seeds:
                    order = args.contenders if round_ % 2 == 0 else list(reversed(args.contenders))
                    for contender in order:
                        if contender == "rlkit" and algo == "gail" and skip_rlkit_gail:
                            continue
                        spec = {"algo": algo, "env": env, "seed": seed, "steps": steps, "settings": settings,
                                "demos": envs[env]["demos"], "demo_episodes": args.demo_episodes,
                                "eval_episodes": EVAL_EPISODES,
                                "work": str(work / f"{algo}-{env}-s{seed}-{contender}")}
                        row = run_rlkit(spec, rlkit_root) if contender == "rlkit" else run_peer(spec)
                        expert, rand = envs[env]["expert_return"], envs[env]["random_return"]
                        row.update(algo=algo, env=env, seed=seed, round=round_ + 1,
                                   normalised=round((row["eval_mean"] - rand) / (expert - rand), 3))
                        rows.append(row)
                        print(f"{algo:4s} {env:11s} seed {seed} round {round_ + 1} {contender:9s}: "
                              f"{row['steps']} steps, train {row['train_seconds']:8.2f} s "
                              f"(process {row['process_seconds']:.1f} s), eval {row['eval_mean']:8.1f} "
                              f"+/- {row['eval_std']:.1f}, normalised {row['normalised']:.3f}", flush=True)

    summary: dict[str, dict] = {}
    print("\nalgo env          contender  eval (mean over runs)  normalised  train s (median)")
    for env in envs:
        for algo in algos:
            key = f"{algo} {env}"
            entry = summary.setdefault(key, {})
            for contender in args.contenders:
                mine = [r for r in rows if r["algo"] == algo and r["env"] == env and r["contender"] == contender]
                if not mine:
                    continue
                entry[contender] = {"eval_mean": round(statistics.fmean(r["eval_mean"] for r in mine), 2),
                                    "normalised": round(statistics.fmean(r["normalised"] for r in mine), 3),
                                    "train_seconds_median": round(statistics.median(r["train_seconds"] for r in mine), 2),
                                    "runs": len(mine)}
                e = entry[contender]
                print(f"{algo:4s} {env:11s}  {contender:9s}  {e['eval_mean']:20.1f}  {e['normalised']:10.3f}  "
                      f"{e['train_seconds_median']:15.2f}")
            if {"rlkit", "imitation"} <= entry.keys():
                per_seed = {}
                for seed in args.seeds:
                    got = {(r["contender"], r["round"]): r["train_seconds"] for r in rows
                           if r["algo"] == algo and r["env"] == env and r["seed"] == seed}
                    ratios = [got[("imitation", k)] / got[("rlkit", k)] for k in range(1, args.repeats + 1)
                              if ("imitation", k) in got and ("rlkit", k) in got]
                    per_seed[seed] = round(statistics.median(ratios), 2)
                ratio = round(statistics.median(per_seed.values()), 2)
                entry["wall_clock_ratio"] = ratio
                entry["wall_clock_ratio_per_seed"] = per_seed
                entry["rlkit_scores_at_least_equal"] = entry["rlkit"]["normalised"] >= entry["imitation"]["normalised"]
                print(f"  {key}: imitation's training wall clock / rlkit's = {ratio:.2f}x (median over seeds; per "
                      f"seed {', '.join(f'{s}: {v:.2f}' for s, v in per_seed.items())}); rlkit's normalised score "
                      f"{'>=' if entry['rlkit_scores_at_least_equal'] else '<'} imitation's")
    name = args.output
    (RESULTS / name).parent.mkdir(parents=True, exist_ok=True)
    path = save(name, {"envs": envs, "algos": algos, "seeds": args.seeds, "repeats": args.repeats,
                       "demo_episodes": args.demo_episodes, "torch_threads": TORCH_THREADS,
                       "eval": f"{EVAL_EPISODES} deterministic episodes, seed + {EVAL_SEED_OFFSET} (rlkit's protocol)",
                       "settings": {"bc": {"steps": {e: args.bc_steps or BC_STEPS.get(e) for e in envs}, **BC},
                                    "gail": {"steps": {e: budget("gail", e)[0] for e in envs if e in GENERATOR},
                                             "generator": {e: GENERATOR[e] for e in envs if e in GENERATOR},
                                             "discriminator": DISCRIMINATOR}},
                       "notes": NOTES, "rlkit_root": str(rlkit_root), "runs": rows, "summary": summary})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
