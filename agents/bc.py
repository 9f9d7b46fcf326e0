"""Behaviour cloning: supervised learning of the expert's actions from demonstrations (Pomerleau
1991, ALVINN; as the ``imitation`` library's BC).

    loss = −(1/B) Σ_i log π_θ(a_i | s_i)  −  ent_coef · mean H(π_θ(·|s_i))  +  l2_coef · Σ_W ||W||²

Discrete actions: the cross-entropy of the logits. Box actions: the Gaussian negative
log-likelihood with a learned, state-independent log std; the deterministic action is the mean,
clipped to the bounds by ``EnvAgent.act`` as for every agent. The L2 term covers the weight
matrices only (not biases, not the log std). The network is an rlkit ``ActorCritic`` with one trunk
(an MLP, or NatureCNN for uint8 frames) acted through a ``Policy``, so ``act``, ``rlkit.evaluate``,
rollout workers and a DAgger learner use it as any other policy; its value head is frozen and never
trained (BC learns no values).

The env gives the spaces and runs the evaluations; training reads only the demonstrations. One
step is one gradient step: ``total_steps``, ``--eval-freq`` and ``--checkpoint-freq`` count
gradient steps. Minibatches go through the training episodes once per epoch in an order drawn from
(seed, epoch), so a resumed run draws the batches the uninterrupted one would have.

Validation holds out ``validation_fraction`` of the episodes (whole episodes, chosen by the seed);
every ``validation_interval`` steps the validation loss (the NLL) is measured. With ``patience``,
the run stops after that many validations without a lower loss and the agent keeps the weights of
the best one; that stop is in the checkpoint, so ``--resume`` of such a run trains no further
(a new ``learn()`` call goes on from the best weights).
"""
from __future__ import annotations

import contextvars
import math
import warnings
from typing import Any

import numpy as np
import torch

from agents.configs import BCConfig
from rlkit.agent import EnvAgent
from rlkit.buffers.demonstrations import Demonstrations, check_trained_on, load_for_env
from rlkit.errors import ConfigError
from rlkit.networks import ActorCritic, CategoricalHead, is_image_space
from rlkit.normalize import RunningMeanStd
from rlkit.optim import FlatParameters
from rlkit.policy import Policy
from rlkit.progress import Progress
from rlkit.utils import configure_threads

# Streams of the seed's randomness, apart from the agent's np_rng: the split and each epoch's order
# are functions of (seed, ...) alone, whatever else drew from np_rng.
_SPLIT_STREAM, _EPOCH_STREAM, _PROBE_STREAM = 1, 2, 3
PROBE_VECTORS, PROBE_IMAGES = 2048, 256  # training steps a logged row measures the entropy and fit on
# BC.load builds an agent that acts and evaluates without the demonstrations file at hand
_DEFER_DEMOS: contextvars.ContextVar[bool] = contextvars.ContextVar("bc_defer_demos", default=False)


def bc_loop(agent: "BC", progress: Progress) -> None:
    """Gradient steps on expert minibatches until the target, a signal, or early stopping."""
    agent.attach_demonstrations()
    cfg = agent.config
    if agent.stopped_at is not None:
        # A resume of a run that stopped early never gets here (train() sees ended_early());
        # a new learn() call after a stop trains on from the best weights.
        agent.stopped_at, agent.bad_validations = None, 0
    if agent.validates and agent.best_val_step is None:
        agent.validate()  # the untrained loss: the reference the first improvement is measured against
    sums, count = None, 0
    while not progress.done:
        step_metrics = agent.train_step()
        sums = step_metrics if sums is None else sums + step_metrics
        count += 1
        agent.num_updates += 1
        progress.advance(1)
        step = agent.num_steps
        stop = agent.validates and step % cfg.validation_interval == 0 and agent.validate()
        if stop or progress.done or step % cfg.log_interval == 0:
            progress.learned(agent.metrics(sums / count, stopped=stop))
            sums, count = None, 0
        if stop:
            agent.stop_early()
            progress.logger.write(f"early stop at step {step}: no lower validation loss in "
                                  f"{_validations(cfg.patience)}; kept the weights of step {agent.best_val_step} "
                                  f"(validation loss {agent.best_val_loss:.4f})")
            return
        progress.safe_point()


def _validations(n: int) -> str:
    return f"{n} validation" + ("s" if n != 1 else "")


class BC(EnvAgent):
    """Behaviour cloning of the demonstrations in ``demos`` onto a policy for ``env``'s spaces.

    ``BC("CartPole-v1", demos="expert.npz").learn(5_000)``; ``BC.load(path)`` acts and evaluates
    without the demonstrations file (it is read when the loaded agent trains).
    """

    config_class = BCConfig
    loop = bc_loop

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)
        cfg = self.config
        image = is_image_space(self.observation_space)
        if cfg.normalize_obs and image:
            raise ConfigError("normalize_obs standardises vector observations; image frames are scaled by the CNN "
                              "itself: leave normalize_obs off for image observations.")
        # Threads first (the orthogonal init rounds differently on other thread counts). No env
        # steps while BC trains, yet one thread stays the fastest for MLPs: their gradient steps are
        # per-op overhead, and a second thread only waits on the first. Measured on 2 cores shared
        # with other jobs, net_arch 64,64: batch 32, 0.4-0.7 ms a step on 1 thread, 2.6-31 ms on 2;
        # batch 1024, 1.3 ms and 12-19 ms. NatureCNN, batch 32 of 4x84x84: 22 ms on 1 thread, 13 ms on
        # 2 with the other core idle; so convolutions take every core, as for the other agents.
        self.threads = configure_threads(cfg.torch_threads, compute_bound=image)
        # One trunk feeding the policy head; the value head is there for Policy's rollout API and
        # stays frozen, outside the optimiser.
        self.net = ActorCritic(self.observation_space, self.action_space, cfg.policy, cfg.net_arch, cfg.activation,
                               share_trunk=True, log_std_init=cfg.log_std_init, agent_name="BC").to(self.device)
        self.net.value_head.requires_grad_(False)
        self.head = self.net.head
        self.discrete = isinstance(self.head, CategoricalHead)
        self.flat = FlatParameters(self.net)
        self.optimizer = torch.optim.Adam([self.flat.param], lr=cfg.learning_rate, fused=True)
        # what the L2 penalty covers: weight matrices and conv kernels, not biases or the log std
        self.weights = [p for p in self.net.parameters() if p.requires_grad and p.dim() >= 2]
        self.obs_rms = RunningMeanStd(self.observation_space.shape) if cfg.normalize_obs else None
        self.policy = Policy(self.net, self.obs_rms, self.np_rng, numpy_inference=False)

        # where the minibatches are: epoch and position in its order
        self.epoch, self.epoch_position = 0, 0
        self._order_epoch: int | None = None
        self._order = np.empty(0, dtype=np.int64)
        # validation and early stopping
        self.best_val_loss = math.inf
        self.best_val_step: int | None = None
        self.best_param: torch.Tensor | None = None  # the flat weights of best_val_step (with patience)
        self.bad_validations = 0
        self.stopped_at: int | None = None  # the step early stopping ended the run at
        self.last_validation: dict[str, float] = {}
        self._restored_demos: tuple[int, int] | None = None  # (episodes, steps) a restored checkpoint trained on

        self.demonstrations: Demonstrations | None = None
        if not _DEFER_DEMOS.get():
            self.attach_demonstrations()

    # --- data -------------------------------------------------------------------------------------
    def attach_demonstrations(self) -> None:
        """Read the demonstrations (once), check they fit the env, take the first ``demo_episodes``,
        split whole episodes into training and validation, fit the observation statistics."""
        if self.demonstrations is not None:
            return
        cfg = self.config
        demos = load_for_env(cfg.demos, self.observation_space, self.action_space, cfg.demo_episodes,
                             self.env_description(), self._restored_demos)
        episodes = demos.num_episodes
        held_out = 0
        if cfg.validation_fraction > 0:
            if episodes < 2:
                if cfg.patience:
                    raise ConfigError(f"patience {cfg.patience} stops on a validation split of whole episodes, and "
                                      f"{cfg.demos} holds {episodes} episode; record more episodes or set patience 0.")
                warnings.warn(f"{cfg.demos} holds one episode: no validation split (validation_fraction ignored).",
                              stacklevel=3)
            else:
                held_out = min(max(round(cfg.validation_fraction * episodes), 1), episodes - 1)
        val_episodes = np.random.default_rng([cfg.seed, _SPLIT_STREAM]).permutation(episodes)[:held_out]
        episode_of_step = np.repeat(np.arange(episodes), demos.episode_lengths)
        held = np.isin(episode_of_step, val_episodes)
        self.train_steps, self.val_steps = np.flatnonzero(~held), np.flatnonzero(held)
        self.obs_rows = demos.step_obs_rows()
        # the training steps the logged entropy and fit are measured on: a fixed sample, so rows compare
        probe = PROBE_IMAGES if is_image_space(self.observation_space) else PROBE_VECTORS
        self.probe_steps = np.sort(np.random.default_rng([cfg.seed, _PROBE_STREAM]).permutation(self.train_steps)[:probe])
        if self.obs_rms is not None and self.obs_rms.count < 1:  # not fitted yet (nor restored)
            self.obs_rms.update(demos.obs[self.obs_rows[self.train_steps]])
        self.demonstrations = demos
        self._order_epoch = None


    @property
    def validates(self) -> bool:
        return self.demonstrations is not None and len(self.val_steps) > 0

    def _batch_tensors(self, obs: np.ndarray, actions: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        obs_t = torch.as_tensor(self.policy.normalize(obs), device=self.device)
        actions_t = torch.as_tensor(actions, device=self.device, dtype=torch.long if self.discrete else torch.float32)
        return obs_t, actions_t

    def next_batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The next training minibatch: whole batches of this epoch's order (the remainder of an
        epoch is left out, unless the training split is smaller than one batch)."""
        size = self.config.batch_size
        usable = self._epoch_size()
        if self.epoch_position >= usable:
            self.epoch, self.epoch_position = self.epoch + 1, 0
        if self._order_epoch != self.epoch:
            rng = np.random.default_rng([self.config.seed, _EPOCH_STREAM, self.epoch])
            self._order, self._order_epoch = rng.permutation(self.train_steps), self.epoch
        chosen = self._order[self.epoch_position:min(self.epoch_position + size, usable)]
        self.epoch_position += len(chosen)
        return self._batch_tensors(*self.gather(chosen))

    def gather(self, steps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The observations and expert actions of these training steps (DAgger's come from its
        aggregated dataset)."""
        demos = self.demonstrations
        return demos.obs[self.obs_rows[steps]], demos.actions[steps]

    def _epoch_size(self) -> int:
        """Training steps an epoch goes through: whole batches only (all, when there are fewer
        steps than one batch)."""
        steps, size = len(self.train_steps), self.config.batch_size
        return steps - steps % size if steps >= size else steps

    # --- learning -----------------------------------------------------------------------------------
    def nll(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The distribution params for ``obs`` and the mean negative log-likelihood of the expert's
        ``actions`` under them."""
        params = self.net.params(obs)
        return params, -self.head.log_prob(params, actions).mean()

    @torch.no_grad()
    def fit(self, params: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """How well the policy's mode matches the expert's actions: accuracy (Discrete) or the MSE
        of the mean (Box), over the batch."""
        mode = self.head.mode(params)
        return (mode == actions).float().mean() if self.discrete else (mode - actions).pow(2).mean()

    def l2_penalty(self) -> torch.Tensor:
        return sum(w.pow(2).sum() for w in self.weights)  # type: ignore[return-value]

    def train_step(self) -> torch.Tensor:
        """One gradient step on the next minibatch; returns [loss, nll] (detached). The entropy and
        the fit are measured when a row is logged (``metrics``), not here: on a CartPole-sized MLP
        they cost a tenth of a step."""
        cfg = self.config
        params, nll = self.nll(*self.next_batch())
        loss = nll
        if cfg.ent_coef:
            loss = loss - cfg.ent_coef * self.head.entropy(params).mean()
        if cfg.l2_coef:
            loss = loss + cfg.l2_coef * self.l2_penalty()
        self.flat.step(loss, self.optimizer, None)
        return torch.stack([loss.detach(), nll.detach()])

    @torch.no_grad()
    def measure(self, steps: np.ndarray) -> dict[str, float]:
        """The mean NLL, entropy and fit of the current policy over the given demonstration steps."""
        size = 256 if is_image_space(self.observation_space) else 4096
        totals = torch.zeros(3, dtype=torch.float64, device=self.device)
        for start in range(0, len(steps), size):
            obs, actions = self.gather(np.sort(steps[start:start + size]))
            obs_t, actions_t = self._batch_tensors(obs, actions)
            params, nll = self.nll(obs_t, actions_t)
            totals += torch.stack([nll, self.head.entropy(params).mean(), self.fit(params, actions_t)]).double() * len(obs)
        nll, entropy, fit = (totals / len(steps)).tolist()
        return {"neg_log_likelihood": nll, "entropy": entropy, ("accuracy" if self.discrete else "mse"): fit}

    def validate(self) -> bool:
        """Measure the validation loss (the NLL of the held-out episodes); keep the weights when it
        is the lowest so far. Returns whether patience has run out."""
        cfg = self.config
        measured = self.measure(self.val_steps)
        val_loss = measured["neg_log_likelihood"]
        fit = "accuracy" if self.discrete else "mse"
        self.last_validation = {"val_loss": val_loss, f"val_{fit}": measured[fit]}
        if val_loss < self.best_val_loss:
            self.best_val_loss, self.best_val_step, self.bad_validations = val_loss, self.num_steps, 0
            if cfg.patience:
                self.best_param = self.flat.param.detach().clone()
        else:
            self.bad_validations += 1
        return bool(cfg.patience) and self.bad_validations >= cfg.patience

    def ended_early(self) -> bool:
        return self.stopped_at is not None and self.stopped_at > int(self.run_info.get("run_start", 0))

    def stop_early(self) -> None:
        """Patience ran out: back to the weights of the best validation loss, and remember the stop."""
        self.stopped_at = self.num_steps
        if self.best_param is not None:
            with torch.no_grad():
                self.flat.param.copy_(self.best_param)

    def metrics(self, means: torch.Tensor, stopped: bool = False) -> dict[str, float]:
        """One logged row: the loss and NLL averaged over the steps since the last row; the entropy
        and fit of the current policy on a fixed sample of training steps (``probe_steps``); the
        last validation."""
        loss, nll = means.tolist()
        probe = self.measure(self.probe_steps)
        row = {"loss": loss, "neg_log_likelihood": nll, "entropy": probe["entropy"]}
        row.update({k: v for k, v in probe.items() if k in ("accuracy", "mse")})
        if self.config.l2_coef:
            with torch.no_grad():
                row["l2_norm"] = float(self.l2_penalty())
        row["epochs"] = self.epoch + self.epoch_position / self._epoch_size()
        if self.validates:
            row.update(self.last_validation, best_val_loss=self.best_val_loss, best_val_step=float(self.best_val_step))
            if self.config.patience:
                row["stopped_early"] = float(stopped)
        return row

    # --- acting ---------------------------------------------------------------------------------------
    def predict(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        return self.policy.act(obs, deterministic)

    # --- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        demos = self.demonstrations
        state: dict[str, Any] = {
            "net": self.net.state_dict(), "optimizer": self.optimizer.state_dict(),
            "sampler": {"epoch": self.epoch, "epoch_position": self.epoch_position},
            "early_stopping": {"best_val_loss": self.best_val_loss, "best_val_step": self.best_val_step,
                               "bad_validations": self.bad_validations, "stopped_at": self.stopped_at,
                               "last_validation": dict(self.last_validation)},
            "demos": [demos.num_episodes, len(demos)] if demos is not None else list(self._restored_demos or ()),
        }
        if self.best_param is not None:
            state["best_param"] = self.best_param
        if self.obs_rms is not None:
            state["obs_rms"] = self.obs_rms.state_dict()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.epoch, self.epoch_position = int(state["sampler"]["epoch"]), int(state["sampler"]["epoch_position"])
        self._order_epoch = None
        stopping = state["early_stopping"]
        self.best_val_loss = float(stopping["best_val_loss"])
        self.best_val_step = stopping["best_val_step"]
        self.bad_validations = int(stopping["bad_validations"])
        self.stopped_at = stopping["stopped_at"]
        self.last_validation = dict(stopping["last_validation"])
        self.best_param = state["best_param"].to(self.device) if "best_param" in state else None
        if self.obs_rms is not None:
            self.obs_rms.load_state_dict(state["obs_rms"])
        self._restored_demos = tuple(state["demos"]) or None
        if self.demonstrations is not None:
            check_trained_on(self.demonstrations, self._restored_demos, self.config.demos, self.config.demo_episodes)

    @classmethod
    def load(cls, path: Any, env: Any = None, **overrides: Any) -> "BC":
        """``Agent.load``, without reading the demonstrations: the loaded agent acts and evaluates
        wherever its checkpoint is; it reads ``demos`` (or an override's) when it trains."""
        token = _DEFER_DEMOS.set(True)
        try:
            return super().load(path, env, **overrides)  # type: ignore[return-value]
        finally:
            _DEFER_DEMOS.reset(token)
