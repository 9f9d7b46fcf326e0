"""What the on-policy agents (PPO, A2C, REINFORCE) share: their loop (``on_policy_loop``), an
``ActorCritic`` acting through a ``Policy``, the rollout buffer, observation/reward normalisation,
the reward seam, the optimiser set-up and checkpoint state. The loop's rollouts run in this process
(``RolloutWorker``) or on Ray actors (``rollout="ray"``, rlkit.ray_rollout), with the same contract. Each agent's file holds its ``update``;
the settings (``OnPolicyConfig`` in rlkit.config, each agent's in agents/configs.py) import no torch.
"""
from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import torch

from rlkit.agent import EnvAgent
from rlkit.buffers import RolloutBuffer, observation_dtype
from rlkit.config import OnPolicyConfig
from rlkit.errors import ConfigError
from rlkit.networks import ActorCritic, is_image_space
from rlkit.normalize import RunningMeanStd
from rlkit.optim import FlatParameters, set_learning_rate
from rlkit.policy import Policy
from rlkit.rollout import RolloutWorker
from rlkit.types import LearnOut, RewardFn, RolloutBatch
from rlkit.utils import configure_threads

if TYPE_CHECKING:
    from rlkit.progress import Progress
    from rlkit.ray_rollout import RayRolloutWorkers


class OnPolicyLearner(Protocol):
    """What ``on_policy_loop`` needs from an agent."""

    envs: Any
    env_spec: Any
    policy: Policy
    config: Any
    num_steps: int
    num_updates: int

    def start_rollouts(self) -> None: ...
    def make_rollout_buffer(self) -> RolloutBuffer: ...
    def update(self, batch: RolloutBatch, progress: float) -> LearnOut: ...


def on_policy_loop(agent: OnPolicyLearner, progress: Progress) -> None:
    """Collect ``n_steps`` per env with the agent's policy, update on the rollout, repeat. Whole
    rollouts only: the run ends at the first rollout boundary at or past the target."""
    rollout = agent.config.n_steps * agent.envs.num_envs
    remaining = progress.target - agent.num_steps
    if remaining > 0 and remaining % rollout:
        end = agent.num_steps + -(-remaining // rollout) * rollout
        warnings.warn(f"{type(agent).__name__} trains on whole rollouts of {rollout} steps (n_steps x num_envs): "
                      f"this run ends at step {end}, not {progress.target}.", stacklevel=4)
    agent.start_rollouts()
    buffer = agent.make_rollout_buffer()
    worker = make_rollout_worker(agent, buffer, seed=agent.config.seed + agent.num_steps)
    try:
        while not progress.done:
            episodes, last_values = worker.collect(buffer)
            progress.advance(buffer.n_steps * agent.envs.num_envs)
            progress.episodes(episodes.returns, episodes.lengths)
            out = agent.update(buffer.batch(last_values, worker.obs), progress.fraction)
            agent.num_updates += 1
            progress.learned(out.metrics)
            progress.safe_point()
    finally:  # Ray actors are killed however the loop ends (a stop signal, an error)
        worker.close()


def make_rollout_worker(agent: OnPolicyLearner, buffer: RolloutBuffer, seed: int) -> RolloutWorker | RayRolloutWorkers:
    """What steps the envs, by ``config.rollout``: a ``RolloutWorker`` over the agent's envs, or
    ``RayRolloutWorkers`` (Ray actors, each building num_envs / ray_workers of the envs from the env
    id or factory). Both seed env i with ``seed + i``."""
    cfg = agent.config
    if getattr(cfg, "rollout", "local") == "local":
        return RolloutWorker(agent.envs, agent.policy, seed=seed)
    from rlkit.ray_rollout import RayRolloutWorkers  # Ray is an optional extra: imported only when asked for

    env_options = dict(backend=cfg.env_backend, vectorization=cfg.vectorization, training=True,
                       atari_protocol=cfg.atari_protocol or None)
    return RayRolloutWorkers(agent.env_spec, agent.policy, buffer, num_envs=cfg.num_envs,
                             num_workers=cfg.ray_workers, seed=seed, env_options=env_options,
                             address=cfg.ray_address, on_restart=agent.start_rollouts)


class OnPolicyAgent(EnvAgent):
    """An ``ActorCritic`` on the agent's device, acted through its ``Policy`` (NumPy in and out),
    trained by the subclass's ``update(batch, progress)`` with ``self.optimizer`` over one flat
    parameter tensor (``self.flat.step``).

    ``reward_fn`` is the reward seam: None trains on the env's rewards; a function of the rollout
    (``RolloutBatch -> [T, N] rewards``), such as a GAIL discriminator, replaces them before
    reward normalisation and returns, without touching the agent's update.
    """

    config_class = OnPolicyConfig
    loop = on_policy_loop

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        if cfg.rollout == "ray" and self.env_spec is None:
            self.close()
            raise ConfigError("rollout='ray' builds the envs inside each Ray actor from an env id or a factory; an Env "
                              "or VectorEnv instance cannot travel to them. Pass an env id or a zero-argument function "
                              "that builds the env.")
        # threads first: the orthogonal init (a LAPACK QR) rounds differently on different thread
        # counts, and the same seed must give the same weights in a fresh process and in a warm one
        self.threads = configure_threads(cfg.torch_threads, compute_bound=is_image_space(self.observation_space))
        self.net = ActorCritic(
            self.observation_space, self.action_space, cfg.policy, cfg.net_arch, cfg.activation, cfg.share_trunk,
            cfg.log_std_init, type(self).__name__,
        ).to(self.device)
        self.head = self.net.head
        # One flat parameter tensor: zeroing, clipping and the optimiser step are one op each.
        self.flat = FlatParameters(self.net)
        self.optimizer = self.make_optimizer([self.flat.param])
        self.obs_rms = RunningMeanStd(self.observation_space.shape) if cfg.normalize_obs else None
        self.ret_rms = RunningMeanStd(()) if cfg.normalize_reward else None
        self.policy = Policy(self.net, self.obs_rms, self.np_rng, cfg.numpy_inference)
        self.reward_fn: RewardFn | None = None
        self._running_return = np.zeros(cfg.num_envs)

    def make_optimizer(self, params: list[torch.nn.Parameter]) -> torch.optim.Optimizer:
        return torch.optim.Adam(params, lr=self.config.learning_rate, fused=True)

    def normalize_obs(self, obs: np.ndarray) -> np.ndarray:
        return self.policy.normalize(obs)

    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.policy.act(obs, deterministic)

    def make_rollout_buffer(self) -> RolloutBuffer:
        space = self.observation_space
        action_dtype = np.int64 if self.head.action_dtype == torch.long else np.float32
        return RolloutBuffer(
            self.config.n_steps, self.config.num_envs, space.shape, observation_dtype(space), self.head.action_shape,
            action_dtype,
            self.head.param_dim,
        )

    # --- helpers for update() -------------------------------------------------------------------
    def set_learning_rate(self, progress: float) -> float:
        """The learning rate at ``progress`` (fraction of the run done): decayed linearly to 0 with anneal_lr."""
        lr = self.config.learning_rate * ((1.0 - progress) if self.config.anneal_lr else 1.0)
        set_learning_rate(self.optimizer, lr)
        return lr

    def training_rewards(self, batch: RolloutBatch) -> np.ndarray:
        """The rewards to train on: the env's, or ``reward_fn``'s when set; then divided by the
        running std of the discounted return when ``normalize_reward`` is on (SB3's VecNormalize rule)."""
        rewards = batch.rewards
        if self.reward_fn is not None:
            rewards = np.asarray(self.reward_fn(batch), dtype=np.float32)
            if rewards.shape != batch.rewards.shape:
                raise ConfigError(f"reward_fn returned shape {rewards.shape}; it must return one reward per step, "
                                  f"shaped like batch.rewards {batch.rewards.shape}.")
        if self.ret_rms is None:
            return rewards
        returns = np.empty(rewards.shape)
        running = self._running_return
        ends = np.maximum(batch.terminated, batch.truncated)
        for t in range(rewards.shape[0]):
            running = running * self.config.gamma + rewards[t]
            returns[t] = running
            running = running * (1.0 - ends[t])
        self._running_return = running
        self.ret_rms.update(returns[batch.valid])
        return np.clip(rewards / np.sqrt(self.ret_rms.var + 1e-8), -10.0, 10.0).astype(np.float32)

    def observe_batch(self, batch: RolloutBatch) -> None:
        """After an update: fold the batch's observations into the normaliser's statistics."""
        if self.obs_rms is not None:
            self.obs_rms.update(batch.obs[batch.valid])

    # --- checkpoints ----------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {"net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "running_return": torch.from_numpy(self._running_return.copy())}
        if self.obs_rms is not None:
            state["obs_rms"] = self.obs_rms.state_dict()
        if self.ret_rms is not None:
            state["ret_rms"] = self.ret_rms.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._running_return = state["running_return"].numpy().copy()
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        if self.ret_rms is not None:
            self.ret_rms.load_state_dict(state["ret_rms"])


def explained_variance(predicted: torch.Tensor, target: torch.Tensor) -> float:
    """1 - Var[target - predicted] / Var[target]: 1 is a perfect critic, 0 no better than a constant."""
    var = target.var()
    return (1 - (target - predicted).var() / var).item() if var > 0 else 0.0
