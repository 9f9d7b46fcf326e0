"""Rollouts on Ray: K actors, each stepping its share of the envs with a copy of the agent's Policy.

``RayRolloutWorkers`` keeps ``RolloutWorker``'s contract, so ``on_policy_loop`` and every on-policy
agent (PPO, PPO2, A2C, REINFORCE, GAIL's generator) use it unchanged (``rollout="ray"``):
``collect(buffer)`` fills the learner's RolloutBuffer [T, N] and returns the finished episodes and
V(obs after the last step); ``obs`` is the observation after the last step.

    learner                                        actor k of K (num_envs / K envs each)
    ray.put(PolicyWeights) ── one object ref ──►   load the weights into its Policy copy
                                                   RolloutWorker.collect over its own envs
    buffer.fill([part_0, ..., part_K-1])  ◄─────   its RolloutBatch [T, N/K], episodes, last values

Seeds: actor k's env j gets the seed env k * N/K + j gets in a local run (seed + k * N/K + j), so
the first observations are the local run's; each actor samples actions from a stream of its own
(``np.random.SeedSequence(seed)`` spawned per actor), so the actions differ from a local run's, which
draws all N envs' actions from one stream. Envs are built inside the actors from the env id or
factory (ALE and EnvPool envs do not pickle) and keep their state between collects: episodes run
on across rollouts, as they do locally.

Failures: an actor that dies (its process killed, its node lost) is restarted by Ray
(``max_restarts=-1``) and the collect it was running is retried (up to ``MAX_TASK_RETRIES`` times in
a row, so an env that crashes its process every time stops the run with a ``WorkerError``). The
learner's state lives only in the learner, so a lost actor loses nothing but its envs' episodes in
progress: a restarted actor builds its envs again and starts fresh episodes on fresh seeds (a
restart is not reproducible anyway). An env that raises an exception is not retried: the exception
reaches the learner as the env's own error.

Ray is an optional extra (``pip install rlkit[ray]``); this module imports it only when used.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import warnings
from typing import Any, Callable, NamedTuple

import numpy as np
import torch

from rlkit.buffers import RolloutBuffer
from rlkit.errors import ConfigError, WorkerError
from rlkit.policy import Policy
from rlkit.rollout import RolloutWorker
from rlkit.types import EpisodeStats, RolloutBatch
from rlkit.utils import usable_cores
from rlkit.vec_env import make_vec_env

ACTOR_CPUS = 1  # Ray CPUs each actor reserves: it steps its envs and runs the policy on one core
MAX_TASK_RETRIES = 3  # a collect is retried on this many restarts of its actor in a row, then the run stops
START_TIMEOUT_S = 300.0  # how long the actors may take to be placed and build their envs
SEED_LIMIT = 2**31 - 1  # envs take 32-bit seeds (envs.vector.SEED_MAX)


class PolicyWeights(NamedTuple):
    """What the learner broadcasts once per update, through the object store."""

    params: np.ndarray  # float32 [P]: the network's parameters, flattened in net.parameters() order
    obs_mean: np.ndarray | None  # the observation normaliser's statistics; None without normalize_obs
    obs_var: np.ndarray | None
    obs_count: float


def policy_weights(policy: Policy) -> PolicyWeights:
    """The policy's current weights as NumPy on the CPU (one copy off a GPU)."""
    # reshape, not view: a channels-last conv weight is not contiguous; the order is the logical one
    params = torch.cat([p.detach().reshape(-1) for p in policy.net.parameters()]).cpu().numpy()
    rms = policy.obs_rms
    if rms is None:
        return PolicyWeights(params, None, None, 0.0)
    return PolicyWeights(params, rms.mean.copy(), rms.var.copy(), float(rms.count))


def load_policy_weights(policy: Policy, weights: PolicyWeights) -> None:
    """Write ``weights`` into a CPU policy in place: a NumPy rollout mirror keeps its views of the
    parameters' memory, so nothing is rebuilt."""
    offset = 0
    for p in policy.net.parameters():
        n = p.numel()
        # element by element in logical order, whatever the parameter's memory layout
        p.detach().numpy()[...] = weights.params[offset:offset + n].reshape(p.shape)
        offset += n
    if offset != len(weights.params):
        raise ValueError(f"{len(weights.params)} weights for a network of {offset} parameters")
    if policy.obs_rms is not None and weights.obs_mean is not None:
        policy.obs_rms.mean, policy.obs_rms.var = weights.obs_mean.copy(), weights.obs_var.copy()
        policy.obs_rms.count = weights.obs_count


class RolloutActor:
    """One Ray actor: a vector env over its share of the envs, a Policy copy, a RolloutBuffer."""

    def __init__(self, env: Any, num_envs: int, env_options: dict[str, Any], layout: dict[str, Any],
                 env_seed: int, action_seed: int):
        import ray

        # One thread: the actor shares its node's cores with other actors and the learner.
        torch.set_num_threads(1)
        # Ray runs __init__ again with the same arguments when it restarts the actor: take fresh
        # seeds then, rather than replaying the episodes the first incarnation played.
        with warnings.catch_warnings():  # the property reads a deprecated attribute inside Ray
            warnings.simplefilter("ignore")
            self.restarted = bool(ray.get_runtime_context().was_current_actor_reconstructed)
        if self.restarted:
            env_seed, action_seed = (int(s) % (SEED_LIMIT - num_envs + 1) for s in np.random.SeedSequence().generate_state(2))
        self.action_seed = action_seed
        self.envs = make_vec_env(env, num_envs, seed=env_seed, **env_options)
        # The policy comes with the first collect (see collect); resetting the envs needs none.
        self.worker = RolloutWorker(self.envs, None, seed=env_seed)  # type: ignore[arg-type]
        self.buffer = RolloutBuffer(**layout)

    def first_obs(self) -> np.ndarray:
        """The observations after the reset: also the sign that the actor is up."""
        return self.worker.obs

    def collect(self, weights: PolicyWeights, policy: list[Any]) -> tuple[RolloutBatch, EpisodeStats, bool]:
        """One rollout with ``weights``: its arrays, its finished episodes, and whether this actor
        was restarted since its last collect (its envs started fresh episodes).

        ``policy`` holds the object ref of the Policy copy, fetched once, at the first collect (a
        ref inside a list is not fetched for every call, as a top-level argument would be). Passing
        it to ``__init__`` instead would make it an argument of the actor's creation, which Ray
        keeps for restarts without counting it as referenced (ray-project/ray#53727)."""
        if self.worker.policy is None:
            import ray

            torch.manual_seed(self.action_seed)  # torch-path sampling (CNN policies) draws from torch's generator
            self.worker.policy = ray.get(policy[0]).reseed(self.action_seed)
        load_policy_weights(self.worker.policy, weights)
        episodes, last_values = self.worker.collect(self.buffer)
        restarted, self.restarted = self.restarted, False
        return self.buffer.batch(last_values, self.worker.obs), episodes, restarted


class RayRolloutWorkers:
    """``RolloutWorker``'s contract over ``num_workers`` Ray actors, each with ``num_envs /
    num_workers`` envs of ``env`` (an id or a picklable factory) and a buffer like ``buffer`` (the
    learner's, which ``collect`` fills) over them.

    ``address``: the cluster to join; "" joins ``$RAY_ADDRESS`` when it is set and otherwise starts a
    local cluster (stopped again by ``close``). A Ray session this process had already started is used
    as it is and left running. ``on_restart`` is called after a collect in which an actor had been
    restarted (its envs rebuilt): an agent that holds episodes back across rollouts (REINFORCE) drops
    them there. ``close`` kills the actors; ``on_policy_loop`` calls it however the loop ends.
    """

    def __init__(
        self,
        env: Any,
        policy: Policy,
        buffer: RolloutBuffer,
        *,
        num_envs: int,
        num_workers: int,
        seed: int,
        env_options: dict[str, Any],
        address: str = "",
        on_restart: Callable[[], None] | None = None,
    ):
        if env is None:
            raise ConfigError("rollout='ray' builds the envs inside each Ray actor, from an env id or a factory; this "
                              "agent was built on an Env instance, which cannot travel. Pass an env id or a "
                              "zero-argument function that builds the env.")
        if num_envs % num_workers:
            raise ConfigError(f"num_envs ({num_envs}) must divide evenly over ray_workers ({num_workers}).")
        self.ray = import_ray()
        self.policy, self.on_restart = policy, on_restart
        self.actors: list[Any] = []
        self.restarts = 0  # actor restarts seen so far
        self.started_ray = connect(self.ray, address, num_workers)
        try:
            per_actor = num_envs // num_workers
            action_seeds = np.random.SeedSequence(seed).generate_state(num_workers)
            actor_class = self.ray.remote(num_cpus=ACTOR_CPUS, max_restarts=-1,
                                          max_task_retries=MAX_TASK_RETRIES)(RolloutActor)
            # One copy of the policy in the object store for every actor and every restart of one;
            # this reference keeps it there for the run.
            self.policy_ref = self.ray.put(policy.copy("cpu"))
            self.actors = [
                actor_class.remote(env, per_actor, env_options, buffer.layout(per_actor), seed + k * per_actor,
                                   int(action_seeds[k]))
                for k in range(num_workers)
            ]
            self.obs = np.concatenate(self._get([a.first_obs.remote() for a in self.actors], timeout=START_TIMEOUT_S))
        except BaseException:
            self.close()
            raise

    def collect(self, buffer: RolloutBuffer) -> tuple[EpisodeStats, np.ndarray]:
        """Fill ``buffer`` from every actor's rollout; return the finished episodes and V(obs after the
        last step), in env order."""
        # One put per update: every actor reads the same object, and a collect that Ray retries on a
        # restarted actor gets it again as its argument.
        weights = self.ray.put(policy_weights(self.policy))
        results = self._get([actor.collect.remote(weights, [self.policy_ref]) for actor in self.actors])
        parts = [batch for batch, _, _ in results]
        buffer.fill(parts)
        self.obs = np.concatenate([batch.last_obs for batch in parts])
        returns = [r for _, episodes, _ in results for r in episodes.returns]
        lengths = [n for _, episodes, _ in results for n in episodes.lengths]
        restarted = [k for k, (_, _, again) in enumerate(results) if again]
        if restarted:
            self.restarts += len(restarted)
            warnings.warn(f"Ray rollout actor(s) {restarted} had died and were restarted; their envs started new "
                          "episodes (the learner lost nothing).", RuntimeWarning, stacklevel=2)
            if self.on_restart is not None:
                self.on_restart()
        return EpisodeStats(returns, lengths), np.concatenate([batch.last_values for batch in parts])

    def _get(self, refs: list[Any], timeout: float | None = None) -> list[Any]:
        """``ray.get`` of one result per actor, with actor deaths as ``WorkerError`` naming the actor.
        An exception raised inside an actor (an env's) comes through as itself."""
        ray = self.ray
        results = []
        for rank, ref in enumerate(refs):
            try:
                results.append(ray.get(ref, timeout=timeout))
            except ray.exceptions.GetTimeoutError:
                cpus = ray.cluster_resources().get("CPU", 0)
                raise WorkerError(
                    f"Ray rollout actor {rank} did not start within {timeout:.0f} s. Each of the {len(refs)} actors "
                    f"needs {ACTOR_CPUS} CPU and the cluster has {cpus:g}: lower ray_workers, add nodes, or check "
                    "`ray status`.", rank) from None
            except ray.exceptions.RayActorError as exc:
                if exc.actor_init_failed:  # building its envs or policy raised: the message holds the traceback
                    raise WorkerError(f"Ray rollout actor {rank} could not start: {exc}", rank) from None
                raise WorkerError(
                    f"Ray rollout actor {rank} died and its work was not done after {MAX_TASK_RETRIES} restarts in a "
                    f"row ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); the learner's state "
                    "is intact: resume the run from its last checkpoint.", rank) from exc
        return results

    def close(self) -> None:
        """Kill the actors (no restart) and stop the Ray session this object started, if any."""
        release_actors(self.ray, self.actors, self.started_ray)
        self.actors = []
        self.started_ray = False


def release_actors(ray: Any, actors: list[Any], started_ray: bool) -> None:
    """Kill ``actors`` (no restart) and end the Ray session when this process started it."""
    for actor in actors:
        try:
            ray.kill(actor, no_restart=True)
        except Exception:  # already gone, or the cluster went away: nothing left to stop
            pass
    if started_ray and ray.is_initialized():
        ray.shutdown()


def import_ray() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError(f"rollout='ray' needs Ray ({exc}): pip install rlkit[ray], or use rollout='local'.") from None
    return ray


def connect(ray: Any, address: str, num_workers: int) -> bool:
    """Join the cluster at ``address`` (or ``$RAY_ADDRESS``), or start a local one; nothing when this
    process is connected already. Returns whether a session was started here (``close`` ends it)."""
    if ray.is_initialized():
        return False
    address = address or os.environ.get("RAY_ADDRESS", "")
    if address:
        options: dict[str, Any] = {"address": address}
    else:
        # "local", not None: None would join any cluster this machine ran last (ray's own lookup).
        # Logical CPUs for every actor even on a smaller machine: actors asking for more CPUs than the
        # cluster has would wait forever; the learner sleeps while they collect.
        options = {"address": "local", "num_cpus": max(usable_cores(), num_workers * ACTOR_CPUS),
                   "include_dashboard": False}
    init_ray(ray, options, "leave ray_address and RAY_ADDRESS empty for a local cluster")
    return True


def init_ray(ray: Any, options: dict[str, Any], alternative: str) -> None:
    """``ray.init(**options)``, keeping this process's SIGTERM handler: ray.init installs one that
    exits at once, where train()'s stops at the next safe point and saves. A cluster that cannot be
    joined is a ConfigError that names ``alternative``."""
    main = threading.current_thread() is threading.main_thread()
    previous = signal.getsignal(signal.SIGTERM) if main else None
    try:
        ray.init(**options, logging_level=logging.WARNING)
    except ConnectionError as exc:
        raise ConfigError(f"cannot join the Ray cluster at {options.get('address')!r} ({exc}); start it with "
                          f"`ray start --head`, or {alternative}.") from exc
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
