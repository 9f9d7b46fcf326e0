"""PPO on Ray side by side: rlkit's PPO2 with rollouts on Ray actors against RLlib's PPO (PyPI
``ray[rllib]``), on CartPole-v1, with the same rollout workers, batch, epochs and network. The
figure: wall clock from the start of training to the first evaluation with a mean return >= 475.

    python benchmarks/rllib_peer.py --setup-peer                # only build benchmarks/.venv-rllib
    python benchmarks/rllib_peer.py --smoke                     # one seed, a tiny budget: both sides run
    python benchmarks/rllib_peer.py --seeds 0 1 2 --repeats 1

Run it with rlkit's Python. RLlib 2.60.0 (the Ray version of rlkit's venv) pins gymnasium 1.2.2,
older than rlkit's, so it runs in a venv of its own, benchmarks/.venv-rllib, built on first use
from benchmarks/rllib_peer_constraints.txt (every package pinned; torch to the local CPU build, and a
pip dry run checks that no CUDA package or other torch build would come in before anything but
torch is installed). Nothing is downloaded at run time beyond that set-up.

Each contender runs in a process of its own (this script's --child mode: rlkit's in rlkit's
Python, RLlib's in the peer venv's), and each process starts a local Ray cluster of its own:
``ray.init(address="local", num_cpus=2, include_dashboard=False, log_to_driver=False)``, before
anything is built. Both children and their Ray workers see OMP_NUM_THREADS=1 and call
``torch.set_num_threads(1)`` in the driver, so every process runs 1 torch thread (rlkit's actors set
it themselves; RLlib's env runners take it from OMP_NUM_THREADS, and the child reports what they
run).

What both run (SETTINGS):
  rollouts   2 Ray workers of 4 CartPole-v1 envs, 32 steps per env: 256 env steps per update.
             rlkit: PPO2(rollout="ray", ray_workers=2, num_envs=8, n_steps=32); RLlib:
             num_env_runners=2, num_envs_per_env_runner=4, rollout_fragment_length=32,
             train_batch_size_per_learner=256, its learner in the driver (num_learners=0).
  update     20 epochs of minibatch 256, gamma 0.98, GAE lambda 0.8, clip 0.2 (constant), value
             coefficient 0.5, entropy 0, gradient clip 0.5 (global norm), Adam at lr 1e-3 decayed
             linearly to 0 over the budget (rlkit: anneal_lr=True; RLlib: lr=[[0, 1e-3], [budget,
             0]]), Adam eps 1e-8 (RLlib's, which it does not expose; rlkit's PPO default is 1e-5).
  network    separate actor and critic MLPs, 64-64 tanh (RLlib: fcnet_hiddens=[64, 64],
             fcnet_activation="tanh", vf_share_layers=False).
NOTES lists what does not map exactly (printed with the results and saved).

The clock: it starts after the library is imported, the Ray cluster is up and the agent or
algorithm is constructed, and runs until the first evaluation whose mean is >= 475; evaluation
time is excluded on both sides. Ray cluster start-up is excluded on both. Construction is excluded
on both, which is not the same work: RLlib's ``build_algo()`` starts its env runners (processes,
envs, modules), while rlkit's constructor starts nothing on Ray, so rlkit's clock includes the
start of its 2 actors (inside its first rollout). Each row also records the construction seconds
and the seconds to the end of the first update, and the results give the ratio with construction
included too.

Evaluation, the same rule on both: at the first update boundary at or past every EVAL_EVERY env
steps (5,000: every 19-20 updates of 256 steps; rlkit's own eval_freq rule), 10
deterministic episodes (argmax action) of the policy just updated, rlkit's protocol: 8 envs, env i
first reset with seed (seed + 10000 + i) and then reset unseeded, quotas 2,2,1,1,1,1,1,1. rlkit
runs its own ``rlkit.evaluate`` (inside its training loop, ``on_policy_loop``, driven by a Progress
that evaluates on this schedule and stops at the threshold); RLlib runs a loop here with the same
gymnasium seeds and its trained RLModule's ``forward_inference`` (RLlib's evaluation API would seed
its own envs). A run that reaches no mean >= 475 within the budget (BUDGET env steps) reports that.

With --repeats N every seed runs N interleaved rounds, both contenders back to back (the order
alternating from round to round), so a slow spell of this shared machine hits both; each side's
seconds are the median over the rounds of a seed, and the ratio (RLlib's seconds / rlkit's, > 1:
rlkit is faster) is the median over the seeds of each seed's ratio. A side that never reached the
threshold counts as infinitely slow for that seed. Results: benchmarks/results/rllib_peer.json.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PEER_VENV = HERE / ".venv-rllib"
CONSTRAINTS = HERE / "rllib_peer_constraints.txt"
RLLIB = "ray[rllib]==2.60.0"  # the Ray of rlkit's venv; its rllib extra pins gymnasium==1.2.2
TORCH = "torch==2.13.0"  # the local CPU wheel (the constraints file pins 2.13.0+cpu)
CONTENDERS = ("rlkit", "rllib")

ENV_ID = "CartPole-v1"
THRESHOLD = 475.0  # gymnasium's reward threshold for CartPole-v1
EVAL_EPISODES = 10
EVAL_SEED_OFFSET = 10_000  # rlkit's evaluation seed: seed + 10000 (rlkit/progress.py)
EVAL_EVERY = 5_000  # env steps
BATCH = 256  # env steps per update: 2 workers x 4 envs x 32 steps
BUDGET = 1_172 * BATCH  # 300,032 env steps: whole updates, just past 300,000
SMOKE_BUDGET, SMOKE_EVAL_EVERY = 8 * BATCH, 4 * BATCH
RAY_CPUS = 2
TORCH_THREADS = 1

SETTINGS: dict[str, Any] = dict(
    ray_workers=2, envs_per_worker=4, n_steps=32, train_batch=BATCH, minibatch=256, epochs=20, gamma=0.98,
    gae_lambda=0.8, learning_rate=1e-3, lr_schedule="linear to 0 over the budget", clip_range=0.2, vf_coef=0.5,
    ent_coef=0.0, max_grad_norm=0.5, net_arch=[64, 64], activation="tanh", separate_value_net=True, adam_eps=1e-8,
)

# where the two sides differ (printed with the results, and saved)
NOTES = [
    "Clip range: constant 0.2 on both. rlkit's zoo preset anneals it to 0; RLlib has no clip schedule.",
    "Learning rate: linear from 1e-3 to 0 over the budget on both. rlkit sets an update's rate from the steps "
    "counted with its rollout (k * 256 / budget); RLlib's scheduler sets it after each update from the steps "
    "sampled so far, so its update k runs at the rate of (k - 1) * 256: one batch behind (256 of 300,032 steps).",
    "Adam eps 1e-8 on both: RLlib's TorchLearner builds torch.optim.Adam with the default eps and does not expose "
    "it; rlkit's PPO default would be 1e-5 (SB3's). rlkit's Adam is torch's fused one over one flat parameter "
    "tensor.",
    "Initialisation: rlkit's MLPs are orthogonal (gain sqrt 2, policy head 0.01, value head 1); RLlib's default "
    "torch initialisation (fcnet_kernel_initializer None). Not configurable to match on rlkit's side.",
    "Env steps: rlkit counts 8 envs x 32 vector steps = 256 per update, gymnasium 1.x's autoreset steps included "
    "(one per finished episode, no transition: the update trains on the others); RLlib counts transitions only, "
    "stepping a runner's 4 envs together until it has >= 128, so its updates hold 256-262 transitions. The "
    "evaluation schedule and the budget go by each side's own count (the steps in the results are each side's).",
    "Minibatches: rlkit trains on the rollout's valid rows (the step after an episode's end is gymnasium 1.x's "
    "autoreset step and is dropped), one minibatch of them per epoch, 20 per update. RLlib's train batch carries "
    "one extra, loss-masked row per episode fragment (its value bootstrap) and cycles minibatches of 256 rows "
    "until every row was seen 20 times: 20-21 minibatches per update.",
    "Advantages: standardised per minibatch in rlkit (= the whole rollout here), over the train batch in RLlib; "
    "RLlib's value loss is clipped at vf_clip_param, set to infinity here (rlkit does not clip it); RLlib's "
    "KL term off (use_kl_loss=False), as rlkit's PPO2.",
    "Start-up: RLlib's env runners start inside build_algo(), outside the clock; rlkit's actors start in its "
    "first rollout, inside it (first_update_seconds shows the cost). The ratio with construction included is "
    "given beside the main one.",
    "Both sides' Ray cluster: local, num_cpus=2, no dashboard, started before construction and outside the "
    "clock. Each Ray worker reserves 1 CPU on both sides; the learner runs in the driver, which reserves none.",
]


# --- the peer's venv ------------------------------------------------------------------------------
def peer_python() -> Path:
    return PEER_VENV / "bin" / "python"


def build_peer_venv(rebuild: bool = False) -> None:
    """benchmarks/.venv-rllib from the constraints file (benchmarks.common.build_peer_venv); this side
    runs in rlkit's Python, the children never build."""
    sys.path.insert(0, str(HERE.parent))
    from benchmarks.common import build_peer_venv as build

    build(PEER_VENV, CONSTRAINTS, TORCH, RLLIB, "torch, ray.rllib, gymnasium", rebuild)


# --- what both children share (no rlkit, no RLlib here) --------------------------------------------
class Race:
    """The training wall clock to the first evaluation >= the threshold, stopped while evaluating;
    the evaluation schedule (rlkit's eval_freq rule: the first update boundary at or past every
    ``every`` steps) and what each evaluation gave."""

    def __init__(self, budget: int, every: int, threshold: float = THRESHOLD):
        self.budget, self.every, self.threshold = budget, every, threshold
        self.next_eval = every
        self.start = 0.0
        self.paused = 0.0  # seconds spent evaluating, taken off the clock
        self.first_update: float | None = None
        self.reached: dict[str, float] | None = None
        self.evaluations: list[dict[str, float]] = []
        self.steps = 0

    def begin(self) -> None:
        self.start = time.perf_counter()

    def seconds(self) -> float:
        return time.perf_counter() - self.start - self.paused

    def updated(self, steps: int) -> None:
        """After each update; ``steps``: env steps trained on so far."""
        self.steps = steps
        if self.first_update is None:
            self.first_update = self.seconds()

    def due(self, steps: int) -> bool:
        if steps < self.next_eval:
            return False
        self.next_eval = (steps // self.every + 1) * self.every
        return True

    def evaluate(self, steps: int, run: Callable[[], tuple[float, float]]) -> None:
        at = self.seconds()
        start = time.perf_counter()
        mean, std = run()
        self.paused += time.perf_counter() - start
        self.evaluations.append({"steps": steps, "seconds": round(at, 3), "mean": round(mean, 2), "std": round(std, 2)})
        if self.reached is None and mean >= self.threshold:
            self.reached = {"steps": steps, "seconds": round(at, 3), "mean": round(mean, 2)}

    @property
    def done(self) -> bool:
        return self.reached is not None or self.steps >= self.budget

    def row(self) -> dict[str, Any]:
        seconds = self.seconds()
        return {"reached": self.reached is not None,
                "seconds": self.reached["seconds"] if self.reached else None,
                "steps_at_threshold": self.reached["steps"] if self.reached else None,
                "steps": self.steps, "train_seconds": round(seconds, 3),
                "steps_per_second": round(self.steps / seconds, 1) if seconds > 0 else None,
                "first_update_seconds": round(self.first_update or 0.0, 3),
                "eval_seconds": round(self.paused, 3), "evaluations": self.evaluations}


def start_ray(ray: Any) -> float:
    """The local cluster both sides run on; seconds it took to start."""
    start = time.perf_counter()
    ray.init(address="local", num_cpus=RAY_CPUS, include_dashboard=False, log_to_driver=False,
             logging_level="WARNING")
    return round(time.perf_counter() - start, 3)


def evaluate_like_rlkit(act: Callable[[Any], Any], episodes: int, seed: int) -> tuple[float, float]:
    """rlkit.evaluate's episodes: min(episodes, 8) envs, env i first reset with seed + i, then
    unseeded (as a vector env's autoreset), each running its quota; ``act`` maps a batch of
    observations to actions (deterministic). Batched over the envs still counting."""
    import gymnasium as gym
    import numpy as np

    n = min(episodes, 8)
    quota = [episodes // n + (i < episodes % n) for i in range(n)]
    envs = [gym.make(ENV_ID) for _ in range(n)]
    obs = [env.reset(seed=seed + i)[0] for i, env in enumerate(envs)]
    totals, returns = [0.0] * n, []
    live = [i for i in range(n) if quota[i] > 0]
    while live:
        actions = act(np.stack([obs[i] for i in live]))
        still = []
        for i, action in zip(live, actions):
            obs[i], reward, terminated, truncated, _ = envs[i].step(int(action))
            totals[i] += float(reward)
            if terminated or truncated:
                returns.append(totals[i])
                totals[i], quota[i] = 0.0, quota[i] - 1
                if quota[i] == 0:
                    continue
                obs[i] = envs[i].reset()[0]
            still.append(i)
        live = still
    for env in envs:
        env.close()
    return float(np.mean(returns)), float(np.std(returns))


# --- rlkit's child (rlkit's Python) -----------------------------------------------------------------
def rlkit_child(spec: dict) -> dict:
    import torch

    torch.set_num_threads(TORCH_THREADS)
    import gymnasium as gym
    import ray
    from agents import PPO2
    from rlkit.evaluation import evaluate
    from rlkit.logger import Logger
    from rlkit.progress import Progress

    seed, budget = spec["seed"], spec["budget"]
    ray_seconds = start_ray(ray)
    start = time.perf_counter()
    agent = PPO2(ENV_ID, seed=seed, device="cpu", torch_threads=TORCH_THREADS, rollout="ray",
                 ray_workers=SETTINGS["ray_workers"], num_envs=SETTINGS["ray_workers"] * SETTINGS["envs_per_worker"],
                 n_steps=SETTINGS["n_steps"], batch_size=SETTINGS["minibatch"], n_epochs=SETTINGS["epochs"],
                 gamma=SETTINGS["gamma"], gae_lambda=SETTINGS["gae_lambda"], learning_rate=SETTINGS["learning_rate"],
                 anneal_lr=True, clip_range=SETTINGS["clip_range"], anneal_clip_range=False,
                 vf_coef=SETTINGS["vf_coef"], ent_coef=SETTINGS["ent_coef"], max_grad_norm=SETTINGS["max_grad_norm"],
                 net_arch=tuple(SETTINGS["net_arch"]), activation=SETTINGS["activation"], share_trunk=False,
                 adam_eps=SETTINGS["adam_eps"])
    construct = time.perf_counter() - start
    race = Race(budget, spec["eval_every"])
    checks: dict[str, Any] = {}

    def evaluation() -> tuple[float, float]:
        mean, std = evaluate(agent, episodes=EVAL_EPISODES, seed=seed + EVAL_SEED_OFFSET)
        if not checks:  # once: the loop RLlib's side is evaluated with gives rlkit's figure on rlkit's policy
            mine = evaluate_like_rlkit(lambda obs: agent.act(obs, deterministic=True), EVAL_EPISODES,
                                       seed + EVAL_SEED_OFFSET)
            checks["manual_eval_matches_rlkit_evaluate"] = bool(abs(mine[0] - mean) < 1e-6)
            checks["first_eval_means"] = {"rlkit.evaluate": mean, "manual": mine[0]}
        return mean, std

    class UntilThreshold(Progress):
        """rlkit's Progress (steps, the lr schedule's fraction of the budget), evaluating on the
        race's schedule and stopping at the first evaluation >= the threshold; learn() has no such
        stop, so the child drives the agent's own loop with this."""

        def safe_point(self) -> None:
            steps = self.agent.num_steps
            race.updated(steps)
            if race.due(steps):
                race.evaluate(steps, evaluation)

        @property
        def done(self) -> bool:
            return race.done or super().done

    logger = Logger(None, budget, progress=False)
    progress = UntilThreshold(agent, logger, target=budget)
    try:
        race.begin()
        agent.loop(progress)  # on_policy_loop: Ray actors collect, the learner updates
        row = race.row()
    finally:
        logger.close()
        agent.close()
        ray.shutdown()
    params = sum(p.numel() for p in agent.net.parameters())
    return {"contender": "rlkit", **row, "construct_seconds": round(construct, 3), "ray_start_seconds": ray_seconds,
            "parameters": params, "torch_threads": torch.get_num_threads(), "checks": checks,
            "versions": {"ray": ray.__version__, "gymnasium": gym.__version__, "torch": torch.__version__}}


# --- RLlib's child (the peer venv: Ray, RLlib, gymnasium 1.2; no rlkit) -----------------------------
def rllib_child(spec: dict) -> dict:
    # a module of this folder must never shadow a library; the parent starts this child with -P,
    # and a hand-run child is covered here
    sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != HERE]
    import torch

    torch.set_num_threads(TORCH_THREADS)  # the learner runs in this process (num_learners=0)
    import gymnasium as gym
    import numpy as np
    import ray
    from ray.rllib.algorithms.ppo import PPOConfig
    from ray.rllib.core import DEFAULT_MODULE_ID
    from ray.rllib.core.columns import Columns
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.utils.metrics import ENV_RUNNER_RESULTS, NUM_ENV_STEPS_SAMPLED_LIFETIME

    if "site-packages" not in Path(ray.__file__).parts:
        raise SystemExit(f"imported ray from {ray.__file__}, not the peer venv's library")
    seed, budget = spec["seed"], spec["budget"]
    s = SETTINGS
    config = (
        PPOConfig()
        .environment(ENV_ID)
        .framework("torch")
        .env_runners(num_env_runners=s["ray_workers"], num_envs_per_env_runner=s["envs_per_worker"],
                     rollout_fragment_length=s["n_steps"], num_cpus_per_env_runner=1)
        .learners(num_learners=0)
        .training(train_batch_size_per_learner=s["train_batch"], minibatch_size=s["minibatch"],
                  num_epochs=s["epochs"], shuffle_batch_per_epoch=True, gamma=s["gamma"], lambda_=s["gae_lambda"],
                  lr=[[0, s["learning_rate"]], [budget, 0.0]], clip_param=s["clip_range"],
                  vf_loss_coeff=s["vf_coef"], vf_clip_param=math.inf, entropy_coeff=s["ent_coef"],
                  use_kl_loss=False, kl_coeff=0.0, grad_clip=s["max_grad_norm"], grad_clip_by="global_norm")
        .rl_module(model_config=DefaultModelConfig(fcnet_hiddens=list(s["net_arch"]), fcnet_activation=s["activation"],
                                                   vf_share_layers=False))
        .debugging(seed=seed, log_level="WARN")
    )
    ray_seconds = start_ray(ray)
    start = time.perf_counter()
    algo = config.build_algo()
    construct = time.perf_counter() - start
    race = Race(budget, spec["eval_every"])
    checks: dict[str, Any] = {}

    @torch.no_grad()
    def greedy(obs: np.ndarray) -> np.ndarray:
        logits = algo.get_module().forward_inference({Columns.OBS: torch.from_numpy(obs)})[Columns.ACTION_DIST_INPUTS]
        return logits.argmax(-1).numpy()

    def evaluation() -> tuple[float, float]:
        if not checks:  # once: the module acted with carries the learner's weights of this update
            learner = algo.learner_group.get_weights()[DEFAULT_MODULE_ID]
            acting = algo.get_module().state_dict()
            checks["eval_module_has_learner_weights"] = all(
                np.allclose(np.asarray(learner[k]), v.numpy()) for k, v in acting.items() if k in learner)
        return evaluate_like_rlkit(greedy, EVAL_EPISODES, seed + EVAL_SEED_OFFSET)

    try:
        race.begin()
        while not race.done:
            result = algo.train()
            steps = int(result[ENV_RUNNER_RESULTS][NUM_ENV_STEPS_SAMPLED_LIFETIME])
            race.updated(steps)
            if race.due(steps):
                race.evaluate(steps, evaluation)
        row = race.row()
        weights = algo.learner_group.get_weights()[DEFAULT_MODULE_ID]
        params = int(sum(np.size(v) for k, v in weights.items() if k.endswith((".weight", ".bias"))))
        checks["separate_value_encoder"] = any("critic_encoder" in k for k in weights)
        threads = algo.env_runner_group.foreach_env_runner(lambda runner: torch.get_num_threads(),
                                                           local_env_runner=False)
    finally:
        algo.stop()
        ray.shutdown()
        # outside Tune the Algorithm still makes itself a log folder under ~/ray_results, and writes nothing there
        logdir = Path(algo.logdir)
        if logdir.is_dir() and not any(logdir.iterdir()):
            logdir.rmdir()
    return {"contender": "rllib", **row, "construct_seconds": round(construct, 3), "ray_start_seconds": ray_seconds,
            "parameters": params, "torch_threads": torch.get_num_threads(), "env_runner_torch_threads": threads,
            "checks": checks,
            "versions": {"ray": ray.__version__, "gymnasium": gym.__version__, "torch": torch.__version__,
                         "numpy": np.__version__}}


# --- the parent (rlkit's Python) --------------------------------------------------------------------
RESULT_MARK = "RESULT "


def run_child(contender: str, spec: dict, rlkit_root: Path) -> dict:
    """One contender's run in a process of its own; its row (the child's marked JSON line). Both
    start with -P: this folder's modules (presets.py, replay.py, ...) must not shadow a library's."""
    if contender == "rlkit":
        cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child", json.dumps({**spec, "contender": "rlkit"})]
        pythonpath, cwd = str(rlkit_root), rlkit_root
    else:
        cmd = [str(peer_python()), "-P", str(Path(__file__).resolve()), "--child",
               json.dumps({**spec, "contender": "rllib"})]
        pythonpath, cwd = "", Path("/tmp")
    # the same environment for both: one OpenMP thread in every process Ray starts, no usage reports
    env = {**os.environ, "PYTHONPATH": pythonpath, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "RAY_USAGE_STATS_ENABLED": "0"}
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env)
    marked = [line for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not marked:
        raise RuntimeError(f"the {contender} child (seed {spec['seed']}) failed (exit {done.returncode}):\n"
                           f"{done.stderr[-4000:]}")
    row = json.loads(marked[-1][len(RESULT_MARK):])
    row["process_seconds"] = round(time.perf_counter() - start, 2)
    return row


def ratio(rllib: float, rlkit: float) -> float:
    """RLlib's seconds / rlkit's, with inf for a side that never reached the threshold."""
    if math.isinf(rllib) and math.isinf(rlkit):
        return math.nan
    if math.isinf(rlkit):
        return 0.0
    return math.inf if math.isinf(rllib) else rllib / rlkit


def finite(x: float) -> float | str:
    """JSON has no inf or nan: they are written as strings."""
    return x if math.isfinite(x) else str(x)


def git_commit(root: Path) -> str:
    done = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=root, capture_output=True,
                          text=True)
    return done.stdout.strip() or "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; each seed's seconds are medians over them")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--budget", type=int, default=BUDGET, help=f"env steps at most (default {BUDGET:,})")
    parser.add_argument("--eval-every", type=int, default=EVAL_EVERY, help=f"env steps (default {EVAL_EVERY:,})")
    parser.add_argument("--smoke", action="store_true",
                        help=f"seed 0 (or the first --seeds), {SMOKE_BUDGET} steps, evaluations every "
                             f"{SMOKE_EVAL_EVERY}: both sides run end to end (no threshold expected)")
    parser.add_argument("--rlkit-root", type=Path, default=ROOT, help="the rlkit checkout to import (default: this one)")
    parser.add_argument("--output", help="results file name under benchmarks/results/ (default rllib_peer; "
                                         "tmp/rllib_peer_smoke, git-ignored, with --smoke)")
    parser.add_argument("--setup-peer", action="store_true", help="build the peer venv and stop")
    parser.add_argument("--rebuild-peer", action="store_true", help="rebuild the peer venv first")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        spec = json.loads(args.child)
        row = rlkit_child(spec) if spec["contender"] == "rlkit" else rllib_child(spec)
        print(RESULT_MARK + json.dumps(row), flush=True)
        return
    if args.setup_peer or args.rebuild_peer or "rllib" in args.contenders:
        build_peer_venv(rebuild=args.rebuild_peer)
    if args.setup_peer:
        return
    sys.path.insert(0, str(ROOT))
    from benchmarks.common import RESULTS, machine, save

    seeds = args.seeds[:1] if args.smoke else args.seeds
    budget, every = (SMOKE_BUDGET, SMOKE_EVAL_EVERY) if args.smoke else (args.budget, args.eval_every)
    if budget % BATCH or budget < BATCH:
        raise SystemExit(f"--budget must be a positive multiple of {BATCH} (env steps per update on both sides)")
    rlkit_root = args.rlkit_root.resolve()
    print(f"{ENV_ID}: to the first evaluation >= {THRESHOLD:g} ({EVAL_EPISODES} deterministic episodes every "
          f"{every:,} env steps, evaluation time excluded), budget {budget:,} env steps; seeds {seeds}, "
          f"{args.repeats} round(s). {machine()}", flush=True)
    for note in NOTES:
        print(f"note: {note}", flush=True)

    rows: list[dict] = []
    for round_ in range(args.repeats):
        order = args.contenders if round_ % 2 == 0 else list(reversed(args.contenders))
        for seed in seeds:
            for contender in order:
                row = run_child(contender, {"seed": seed, "budget": budget, "eval_every": every}, rlkit_root)
                row.update(seed=seed, round=round_ + 1)
                rows.append(row)
                reached = (f"{row['seconds']:7.1f} s to >= {THRESHOLD:g} at step {row['steps_at_threshold']:,} "
                           f"(eval {row['evaluations'][-1]['mean']:.1f})" if row["reached"] else
                           f"never >= {THRESHOLD:g} in {row['steps']:,} steps (last eval "
                           f"{row['evaluations'][-1]['mean'] if row['evaluations'] else float('nan'):.1f})")
                print(f"seed {seed} round {round_ + 1} {contender:5s}: {reached}; {row['steps_per_second']} steps/s, "
                      f"first update {row['first_update_seconds']:.2f} s, construct {row['construct_seconds']:.2f} s, "
                      f"ray start {row['ray_start_seconds']:.2f} s, evaluations {row['eval_seconds']:.1f} s, "
                      f"process {row['process_seconds']:.1f} s", flush=True)

    summary: dict[str, Any] = {}
    if set(CONTENDERS) <= set(args.contenders):
        per_seed: dict[int, dict[str, Any]] = {}
        for seed in seeds:
            entry: dict[str, Any] = {}
            for contender in CONTENDERS:
                mine = [r for r in rows if r["seed"] == seed and r["contender"] == contender]
                entry[contender] = statistics.median(r["seconds"] if r["reached"] else math.inf for r in mine)
                entry[f"{contender}_with_construct"] = statistics.median(
                    r["seconds"] + r["construct_seconds"] if r["reached"] else math.inf for r in mine)
            entry["ratio"] = ratio(entry["rllib"], entry["rlkit"])
            entry["ratio_with_construct"] = ratio(entry["rllib_with_construct"], entry["rlkit_with_construct"])
            per_seed[seed] = entry
        ratios = [e["ratio"] for e in per_seed.values() if not math.isnan(e["ratio"])]
        with_construct = [e["ratio_with_construct"] for e in per_seed.values() if not math.isnan(e["ratio_with_construct"])]
        overall = statistics.median(ratios) if ratios else math.nan
        overall_construct = statistics.median(with_construct) if with_construct else math.nan
        print("\nseed  rlkit s  rllib s  ratio (rllib / rlkit)  with construction")
        for seed, e in per_seed.items():
            print(f"{seed:4d}  {e['rlkit']:7.1f}  {e['rllib']:7.1f}  {e['ratio']:21.2f}  {e['ratio_with_construct']:17.2f}")
        print(f"ratio, median over seeds: {overall:.2f} (> 1: rlkit faster; goal >= 2); with construction included: "
              f"{overall_construct:.2f}", flush=True)
        summary = {"ratio": finite(round(overall, 3)), "ratio_with_construct": finite(round(overall_construct, 3)),
                   "goal_2x_met": bool(overall >= 2.0),
                   "per_seed": {seed: {k: finite(round(v, 3)) for k, v in e.items()} for seed, e in per_seed.items()}}
    name = args.output or ("tmp/rllib_peer_smoke" if args.smoke else "rllib_peer")
    (RESULTS / name).parent.mkdir(parents=True, exist_ok=True)
    path = save(name, {"env": ENV_ID, "threshold": THRESHOLD, "seeds": seeds, "repeats": args.repeats,
                       "smoke": args.smoke, "budget": budget, "eval_every": every,
                       "eval": f"{EVAL_EPISODES} deterministic episodes, seed + {EVAL_SEED_OFFSET} (rlkit's protocol); "
                               "evaluation time excluded from the clock on both sides",
                       "clock": "from the start of training (after import, Ray cluster start and construction) to "
                                "the first evaluation >= threshold",
                       "ray": f"local cluster per process, num_cpus={RAY_CPUS}, include_dashboard=False",
                       "torch_threads": TORCH_THREADS, "settings": SETTINGS, "notes": NOTES,
                       "rlkit_root": str(rlkit_root), "rlkit_commit": git_commit(rlkit_root),
                       "runs": rows, "summary": summary})
    print(f"saved {path}")


if __name__ == "__main__":
    main()
