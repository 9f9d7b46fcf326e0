"""A3C: asynchronous advantage actor-critic (Mnih et al. 2016).

    num_workers processes, each with envs of its own (seeded apart) and a local copy θ' of the
    shared parameters θ. Each worker repeats:
        θ' ← θ;  n_steps per env with π(·|s; θ');  A2C's n-step actor-critic loss on θ'
        (entropy bonus, value loss, gradient-norm clip);  θ ← optimiser step with ∇θ'
    applied to θ in shared memory without locks (Hogwild), the optimiser's statistics shared too.

Each worker's learner is an ``A2C`` whose optimiser applies its gradient to the shared parameters
(``rlkit.hogwild``); the worker processes, their reports and their failures are
``rlkit.workers.WorkerPool``'s. The main process alone writes TensorBoard, the progress bar,
evaluations and checkpoints. Runs are not reproducible step for step (the workers interleave as
the OS schedules them); a seed fixes the initial weights and every worker's env and action streams.
Each worker checks the step target before each rollout without a lock (a worker killed while
holding one would stall the others), so a run ends up to one rollout per worker past it.

With ``rollout="ray"`` the workers are Ray actors, on one machine or a cluster (``ray_address``):
each computes its gradient on the weights it was sent and returns it; the learner applies the
gradients in the order they arrive, each to the parameters as they are then (stale by the updates
applied since it was sent, as in Hogwild), and sends that actor the new weights. A killed actor is
restarted by Ray and its task run again.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

import torch
import torch.multiprocessing as mp

from agents.a2c import A2C
from agents.configs import A2CConfig, A3CConfig
from rlkit.errors import ConfigError, NonFiniteError, WorkerError
from rlkit.hogwild import SharedOptimizerStep, share_optimizer_state
from rlkit.rollout import RolloutWorker
from rlkit.utils import usable_cores
from rlkit.workers import STOP_GRACE_SECONDS, WorkerPool, worker_process

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    from rlkit.progress import Progress
    from rlkit.types import EpisodeStats

REPORT_SECONDS = 0.25  # a worker sends its steps, episodes and mean losses this often


@dataclass
class WorkerSetup:
    """What every worker is started with (pickled once per worker; the tensors are shared memory)."""

    env: Any  # an env id or a picklable factory: each worker builds its own envs
    config: dict[str, Any]  # the A2C settings of each worker's learner
    param: torch.Tensor  # θ, the shared flat parameters
    optimizer: tuple[type, dict[str, Any], dict[str, Any]]  # class, settings and shared state of the optimiser
    steps: Any  # env steps done by each rank (a lock-free shared array; each rank writes only its own slot)
    start_steps: int  # the run's step count when the workers started (a resumed run's)
    run_start: int  # the step the learning-rate schedule counts from
    target: int  # workers stop once start_steps + the steps of all ranks reach this
    seed: int


class WorkerLearner:
    """A worker's learner, process or Ray actor: an ``A2C`` on envs of its own (its threads from
    the settings: ``torch_threads``, 1 by default) whose optimiser is ``optimizer(its flat
    parameters)``, which decides what its gradient does (steps the shared parameters, or is sent
    to the learner process)."""

    def __init__(self, env: Any, config: dict[str, Any], seed: int, optimizer: Callable[[torch.Tensor], Any]):
        self.learner = A2C(env, **{**config, "seed": seed})
        self.learner.optimizer = optimizer(self.learner.flat.param)
        self.rollouts = RolloutWorker(self.learner.envs, self.learner.policy, seed=seed)
        self.buffer = self.learner.make_rollout_buffer()
        self.steps_per_rollout = self.buffer.n_steps * self.learner.envs.num_envs
        self.last_values: Any = None

    def collect(self) -> "EpisodeStats":
        """One rollout of ``n_steps`` per env; its finished episodes."""
        episodes, self.last_values = self.rollouts.collect(self.buffer)
        return episodes

    def update(self, fraction: float) -> dict[str, float]:
        """A2C's update on the rollout just collected (``fraction``: of the run done); its losses."""
        return self.learner.update(self.buffer.batch(self.last_values, self.rollouts.obs), fraction).metrics


def a3c_worker(rank: int, generation: int, conn: "Connection", stop: Any, setup: WorkerSetup) -> None:
    """One worker process: an A2C learner on its own envs, stepping the shared parameters."""
    with worker_process(conn) as parent_alive:
        seed = setup.seed + 1000 * (rank + 1) + 100_000 * generation  # a restarted worker plays other episodes
        worker = WorkerLearner(setup.env, setup.config, seed,
                               lambda local: SharedOptimizerStep(local, setup.param, *setup.optimizer))
        span = max(setup.target - setup.run_start, 1)
        report = _Report(conn)
        while not stop.is_set() and parent_alive():
            done = setup.start_steps + sum(setup.steps)
            if done >= setup.target:
                break
            episodes = worker.collect()
            setup.steps[rank] += worker.steps_per_rollout
            metrics = worker.update(min((done - setup.run_start) / span, 1.0))
            report.add(episodes.returns, episodes.lengths, metrics)
        report.send()
        worker.learner.close()


class _Report:
    """What a worker has done since it last reported (updates, finished episodes, mean losses; its
    env steps go to the shared counters); sent every REPORT_SECONDS, not per update (CartPole
    updates come every few hundred microseconds)."""

    def __init__(self, conn: "Connection"):
        self.conn = conn
        self.last = time.monotonic()
        self._clear()

    def _clear(self) -> None:
        self.updates, self.returns, self.lengths = 0, [], []
        self.metric_sums: dict[str, float] = {}

    def add(self, returns: list[float], lengths: list[int], metrics: dict[str, float]) -> None:
        self.updates += 1
        self.returns += returns
        self.lengths += lengths
        for key, value in metrics.items():
            self.metric_sums[key] = self.metric_sums.get(key, 0.0) + value
        if time.monotonic() - self.last >= REPORT_SECONDS:
            self.send()

    def send(self) -> None:
        if self.updates:
            metrics = {key: total / self.updates for key, total in self.metric_sums.items()}
            self.conn.send({"updates": self.updates, "returns": self.returns, "lengths": self.lengths, "metrics": metrics})
        self.last = time.monotonic()
        self._clear()


def a3c_loop(agent: "A3C", progress: "Progress") -> None:
    """Start the workers, turn their reports into progress (steps, episodes, losses, evaluations,
    checkpoints), stop them when the run is done or asked to stop."""
    cfg = agent.config
    if agent.env_spec is None:
        raise ConfigError("A3C's workers build their own envs, so A3C needs an env id or a picklable env factory, "
                          "not an Env instance.")
    if cfg.rollout == "ray":
        return a3c_ray_loop(agent, progress)
    num_workers = agent.num_workers
    setup = WorkerSetup(
        env=agent.env_spec, config=agent.learner_config(),
        param=agent.flat.param.data,
        optimizer=(type(agent.optimizer), agent.optimizer.defaults, share_optimizer_state(agent.optimizer)),
        steps=mp.get_context("spawn").Array("q", num_workers, lock=False),
        start_steps=agent.num_steps, run_start=progress.run_start, target=progress.target,
        seed=cfg.seed + agent.num_steps,  # a resumed run's workers play new episodes
    )

    def describe(rank: int) -> str:
        return f"A3C worker {rank} (on {agent.env_description()})"

    with WorkerPool(a3c_worker, lambda rank, generation: (setup,), num_workers, describe, cfg.restart_workers) as pool:
        try:
            stopping_since = None
            while pool.running:
                reports = pool.poll(timeout=0.5)
                # Steps count from the workers' shared counters, not from their reports: a worker
                # killed between two reports has still stepped its envs and the shared parameters.
                # Counted before the reports are logged: a worker's last report comes after its
                # last steps were counted, so the run's last logged row is at its last step.
                steps = setup.start_steps + sum(setup.steps)
                if steps > agent.num_steps:
                    progress.advance(steps - agent.num_steps)
                for _, report in reports:
                    progress.episodes(report["returns"], report["lengths"])
                    agent.num_updates += report["updates"]
                    progress.learned(report["metrics"])
                if progress.done and stopping_since is None:
                    pool.stop_workers()  # they finish their update and send their last reports
                    stopping_since = time.monotonic()
                if stopping_since is not None and time.monotonic() - stopping_since > STOP_GRACE_SECONDS:
                    break  # leaving the pool kills the ones that did not finish
                if stopping_since is None:
                    progress.safe_point()
        except WorkerError:
            pool.close()  # the other workers stop before the parameters are saved
            progress.checkpoint()
            raise


# --- workers as Ray actors -------------------------------------------------------------------------
class GradientCapture:
    """A Ray worker's learner's optimiser: ``step()`` keeps the (clipped) gradient for the learner
    process instead of applying it."""

    def __init__(self, local: torch.Tensor):
        self.local = local
        self.param_groups: list[dict[str, Any]] = [{"lr": 0.0}]  # the learner process sets the rate it applies
        self.grad: Any = None

    def step(self) -> None:
        self.grad = self.local.grad.numpy().copy()

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: the learner's gradient buffer is replaced at each backward."""


class A3CRayWorker(WorkerLearner):
    """One Ray actor: a worker learner that returns its gradients."""

    def __init__(self, env: Any, config: dict[str, Any], seed: int):
        super().__init__(env, config, seed, GradientCapture)

    def gradient(self, params: Any, fraction: float) -> tuple[Any, int, list[float], list[int], dict[str, float]]:
        """One rollout with ``params`` and the gradient of A2C's loss on it: (gradient, env steps,
        finished episodes' returns and lengths, losses)."""
        with torch.no_grad():
            self.learner.flat.param.copy_(torch.tensor(params))  # Ray hands arrays over read-only: a copy
        episodes = self.collect()
        metrics = self.update(fraction)
        return self.learner.optimizer.grad, self.steps_per_rollout, episodes.returns, episodes.lengths, metrics


def a3c_ray_loop(agent: "A3C", progress: "Progress") -> None:
    """A3C with Ray actors as workers: apply each gradient as it arrives, send that actor the new weights."""
    from rlkit.ray_rollout import MAX_TASK_RETRIES, connect, import_ray, release_actors

    cfg = agent.config
    ray = import_ray()
    num_workers = agent.num_workers
    started = connect(ray, cfg.ray_address, num_workers)
    actor_class = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=MAX_TASK_RETRIES)(A3CRayWorker)
    actors = [actor_class.remote(agent.env_spec, agent.learner_config(), cfg.seed + agent.num_steps + 1000 * (k + 1))
              for k in range(num_workers)]
    param = agent.flat.param

    def send(k: int) -> Any:
        return actors[k].gradient.remote(param.detach().numpy().copy(), progress.fraction)

    try:
        pending = {send(k): k for k in range(num_workers)}
        while not progress.done:
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in ready:
                k = pending.pop(ref)
                try:
                    grad, steps, returns, lengths, metrics = ray.get(ref)
                except ray.exceptions.RayActorError as exc:
                    progress.checkpoint()
                    raise WorkerError(f"A3C Ray worker {k} (on {agent.env_description()}) died and its work was not done "
                                      f"after {MAX_TASK_RETRIES} restarts ({type(exc).__name__}); the last checkpoint is "
                                      "intact: continue with --resume.", k) from exc
                grad = torch.tensor(grad)  # Ray hands arrays over read-only: a copy
                if not torch.isfinite(grad).all():
                    raise NonFiniteError(f"A3C Ray worker {k}'s gradient became non-finite at step {agent.num_steps}; it "
                                         "was not applied. Lower learning_rate or max_grad_norm.")
                agent.set_learning_rate(progress.fraction)
                param.grad.copy_(grad)
                agent.optimizer.step()
                progress.advance(steps)
                progress.episodes(returns, lengths)
                agent.num_updates += 1
                progress.learned(metrics)
                if not progress.done:
                    pending[send(k)] = k
            progress.safe_point()
    finally:
        release_actors(ray, actors, started)


class A3C(A2C):
    """Asynchronous advantage actor-critic: ``num_workers`` processes train one network in shared
    memory. ``agent.act``, evaluation and checkpoints use the shared network."""

    config_class = A3CConfig
    loop = a3c_loop

    def __init__(self, env: Any, **config: Any):
        if config.get("device", "auto") == "auto":
            config["device"] = "cpu"  # shared memory is host memory
        super().__init__(env, **config)
        # θ moves to shared memory, where the workers read and step it. The NumPy mirror of the
        # forward pass points at the memory it left, so it is built again over the shared one.
        self.flat.param.data.share_memory_()
        self.policy.rng = self.policy.rng

    @property
    def num_workers(self) -> int:
        return self.config.num_workers or usable_cores()

    def learner_config(self) -> dict[str, Any]:
        """Each worker's ``A2C`` settings: this agent's (its device is the CPU: see __init__)."""
        return {f.name: getattr(self.config, f.name) for f in dataclasses.fields(A2CConfig)}
