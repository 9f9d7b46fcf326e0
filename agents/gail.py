"""GAIL: generative adversarial imitation learning (Ho & Ermon 2016, https://arxiv.org/abs/1606.03476)
on rlkit's PPO2. Inverse RL as a GAN: the policy is the generator, a discriminator D the reward,
the expert's demonstrations the real data.

    D(x) = σ(f(x)) = P(expert | x),  x = enc(s, a)  (or enc(s), or enc(s, s') with ``disc_input``)
    D    minimise  −E_expert log D(x) − E_policy log(1 − D(x))  [+ λ E_x̂ (‖∇_x̂ f(x̂)‖₂ − 1)²]
    π    PPO2 on r(x) =  −log(1 − D(x)) = softplus(f(x))   reward_type "gail" (> 0: rewards surviving)
                         log D − log(1 − D) = f(x)         reward_type "airl" (the logit)
                         log D(x) = −softplus(−f(x))        reward_type "log_d" (< 0: rewards ending)

Each round: the policy collects a rollout; D takes ``disc_updates_per_round`` Adam steps, each on
``disc_batch_size`` expert steps (drawn uniformly, with replacement) against as many of the
rollout's valid steps (a fresh permutation of them, cycled); then the generator's update runs on
the rollout with the rewards of the updated D. The env's rewards never reach the generator: the
reward seam (``reward_fn``) is fixed to D's reward, which reads only the observations and actions
(``batch.rewards`` is never read), and cannot be replaced. The env's episode returns are still
logged (``charts/episodic_return``), as the measure of true performance; the mean D reward is
``gail/reward`` beside D's loss, accuracies, mean logits and gradient penalty (logged with the
generator's metrics, so TensorBoard shows them under ``losses/gail/*``).

D's input: observations as the policy sees them (through its running normaliser when
``normalize_obs`` is on; Discrete observations one-hot), actions one-hot for Discrete and, for Box,
clipped to the bounds (what the env executed; an unclipped Gaussian sample past a bound would give
the generator away) and mapped onto [−1, 1] on each bounded dimension. Vector observations only.

The gradient penalty is WGAN-GP's two-sided form (Gulrajani et al. 2017; Kostrikov et al.'s DAC
uses it for adversarial imitation) on the encoded input x: x̂ = αx_expert + (1 − α)x_policy with
α ~ U(0, 1) per pair. It keeps D smooth so its rewards stay informative once it separates the two.

The machinery is the mixin ``AdversarialImitation``, which needs only what every
``rlkit.on_policy.OnPolicyAgent`` has (``update``, ``training_rewards`` through ``reward_fn``, the
policy's normaliser, checkpoint state): ``GAIL`` is ``AdversarialImitation`` over ``PPO2``, and an
A2C generator is ``class GAILA2C(AdversarialImitation, A2C)`` with a config
``(DiscriminatorConfig, A2CConfig)``.

GAIL's presets (agents/presets.py; ``--preset auto`` takes them) give the generator PPO2's settings
for CartPole-v1 and Pendulum-v1 (benchmarks/imitation_gail.py runs these):
CartPole-v1, rl-zoo's ``--num-envs 8 --n-steps 32 --batch-size 256 --n-epochs 20 --gamma 0.98
--gae-lambda 0.8 --learning-rate 1e-3 --anneal-lr true --anneal-clip-range true``; Pendulum-v1,
rlkit's PPO2 preset ``--num-envs 4 --n-steps 1024 --batch-size 64 --n-epochs 10 --gamma 0.9
--gae-lambda 0.95 --learning-rate 1e-3`` with ``--anneal-lr true`` (without it one seed in three
stalled near −500); the discriminator's defaults for both. Its step size matters: at 3e-4 two
CartPole seeds in five stopped short of 500 (cart drift), at the default 1e-3 none.
"""
from __future__ import annotations

import contextvars
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from agents.configs import GAILConfig
from agents.ppo import PPO2
from rlkit.buffers.demonstrations import Demonstrations, check_trained_on, load_for_env
from rlkit.errors import ConfigError, UnsupportedSpaceError
from rlkit.networks import MLP, is_image_space, layer_init
from rlkit.on_policy import on_policy_loop
from rlkit.progress import Progress
from rlkit.types import LearnOut, RolloutBatch

# GAIL.load builds an agent that acts and evaluates without the demonstrations file at hand
_DEFER_DEMOS: contextvars.ContextVar[bool] = contextvars.ContextVar("gail_defer_demos", default=False)
METRIC_PREFIX = "gail/"


def adversarial_loop(agent: "AdversarialImitation", progress: Progress) -> None:
    """The generator's on-policy loop, with the demonstrations read first (a loaded agent reads
    them only when it trains)."""
    agent.attach_demonstrations()
    on_policy_loop(agent, progress)


class Discriminator(nn.Module):
    """x -> hidden MLP -> one logit f(x); D(x) = σ(f(x)) = P(expert | x)."""

    def __init__(self, in_dim: int, hidden_sizes: tuple[int, ...], activation: str):
        super().__init__()
        self.hidden = MLP(in_dim, hidden_sizes, activation)
        self.out = layer_init(nn.Linear(self.hidden.out_dim, 1), gain=1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.hidden(x)).squeeze(-1)


def reward_from_logits(logits: torch.Tensor, reward_type: str) -> torch.Tensor:
    """The generator's reward for D's logits f, D = σ(f): "gail" −log(1 − D) = softplus(f),
    "airl" log D − log(1 − D) = f, "log_d" log D = −softplus(−f)."""
    if reward_type == "gail":
        return F.softplus(logits)
    if reward_type == "airl":
        return logits
    if reward_type == "log_d":
        return -F.softplus(-logits)
    raise ConfigError(f"reward_type must be one of 'gail', 'airl', 'log_d'; got {reward_type!r}")


class AdversarialImitation:
    """Adversarial imitation over an on-policy generator (put it first among the bases: it takes
    over ``update``, the reward seam, the loop and the checkpoint state of the agent after it)."""

    loop = adversarial_loop

    def __init__(self, env: Any, **config: Any):
        super().__init__(env, **config)  # type: ignore[call-arg]  # the generator: envs, policy, optimiser
        try:
            self._build_discriminator()
            self.demonstrations: Demonstrations | None = None
            self._restored_demos: tuple[int, int] | None = None  # (episodes, steps) a restored checkpoint trained on
            self.last_reward_mean = float("nan")
            if not _DEFER_DEMOS.get():
                self.attach_demonstrations()
        except BaseException:
            self.close()  # the generator's envs are open already
            raise

    # --- the discriminator's input ------------------------------------------------------------------
    def _build_discriminator(self) -> None:
        cfg = self.config
        obs_space, action_space = self.observation_space, self.action_space
        name = type(self).__name__
        if is_image_space(obs_space) or not isinstance(obs_space, (gym.spaces.Box, gym.spaces.Discrete)):
            raise UnsupportedSpaceError(f"{name}'s discriminator takes vector (Box) or Discrete observations, not "
                                        f"{obs_space}; image observations are not supported yet.")
        self.obs_dim = int(obs_space.n) if isinstance(obs_space, gym.spaces.Discrete) else int(np.prod(obs_space.shape))
        if isinstance(action_space, gym.spaces.Discrete):
            self.action_dim = int(action_space.n)
        else:  # the policy head has already refused anything but Discrete and 1-D Box
            self.action_dim = int(action_space.shape[0])
            low, high = action_space.low.astype(np.float64), action_space.high.astype(np.float64)
            bounded = np.isfinite(low) & np.isfinite(high)
            self._action_low = np.where(np.isfinite(low), low, -np.inf).astype(np.float32)
            self._action_high = np.where(np.isfinite(high), high, np.inf).astype(np.float32)
            self._action_center = np.where(bounded, (high + low) / 2, 0.0).astype(np.float32)
            self._action_half = np.where(bounded, (high - low) / 2, 1.0).astype(np.float32)
        in_dim = {"obs_action": self.obs_dim + self.action_dim, "obs": self.obs_dim,
                  "obs_next_obs": 2 * self.obs_dim}[cfg.disc_input]
        self.discriminator = Discriminator(in_dim, tuple(cfg.disc_net_arch), cfg.disc_activation).to(self.device)
        self.disc_optimizer = torch.optim.Adam(self.discriminator.parameters(), lr=cfg.disc_learning_rate)

    def _encode_obs(self, obs: np.ndarray) -> np.ndarray:
        """[B, *obs_shape] -> [B, obs_dim] float32, as the policy sees them."""
        if isinstance(self.observation_space, gym.spaces.Discrete):
            return np.eye(self.obs_dim, dtype=np.float32)[np.asarray(obs, dtype=np.int64).reshape(-1)]
        obs = np.asarray(self.policy.normalize(obs), dtype=np.float32)
        return obs.reshape(len(obs), -1)

    def _encode_actions(self, actions: np.ndarray) -> np.ndarray:
        """[B, *action_shape] -> [B, action_dim] float32: one-hot, or clipped and unit-scaled."""
        if isinstance(self.action_space, gym.spaces.Discrete):
            return np.eye(self.action_dim, dtype=np.float32)[np.asarray(actions, dtype=np.int64).reshape(-1)]
        actions = np.clip(np.asarray(actions, dtype=np.float32).reshape(-1, self.action_dim),
                          self._action_low, self._action_high)
        return (actions - self._action_center) / self._action_half

    def disc_inputs(self, obs: np.ndarray, actions: np.ndarray, next_obs: np.ndarray | None) -> torch.Tensor:
        """D's input x for B steps, on the agent's device: what ``disc_input`` names, encoded."""
        kind = self.config.disc_input
        parts = [self._encode_obs(obs)]
        if kind == "obs_action":
            parts.append(self._encode_actions(actions))
        elif kind == "obs_next_obs":
            parts.append(self._encode_obs(next_obs))
        return torch.as_tensor(np.concatenate(parts, axis=1), device=self.device)

    # --- data -------------------------------------------------------------------------------------
    def attach_demonstrations(self) -> None:
        """Read the demonstrations (once), check they fit the env, take the first ``demo_episodes``."""
        if self.demonstrations is not None:
            return
        cfg = self.config
        demos = load_for_env(cfg.demos, self.observation_space, self.action_space, cfg.demo_episodes,
                             self.env_description(), self._restored_demos)
        self.expert_obs_rows = demos.step_obs_rows()
        self.demonstrations = demos


    def expert_inputs(self, steps: np.ndarray) -> torch.Tensor:
        """D's input for the given expert steps (indices into the demonstrations' transitions)."""
        demos, rows = self.demonstrations, self.expert_obs_rows[steps]
        next_obs = demos.obs[rows + 1] if self.config.disc_input == "obs_next_obs" else None
        return self.disc_inputs(demos.obs[rows], demos.actions[steps], next_obs)

    def generator_inputs(self, batch: RolloutBatch, rows: np.ndarray | None = None) -> torch.Tensor:
        """D's input for the rollout's steps, flattened over [T, N] (``rows``: those flat indices only)."""
        flat = lambda a: a.reshape(-1, *a.shape[2:])  # noqa: E731
        obs, actions = flat(batch.obs), flat(batch.actions)
        next_obs = flat(batch.next_obs()) if self.config.disc_input == "obs_next_obs" else None
        if rows is not None:
            obs, actions = obs[rows], actions[rows]
            next_obs = next_obs[rows] if next_obs is not None else None
        return self.disc_inputs(obs, actions, next_obs)

    # --- the reward seam ----------------------------------------------------------------------------
    @property
    def reward_fn(self) -> Any:
        """Always D's reward: the generator never trains on the env's rewards."""
        return self.discriminator_reward

    @reward_fn.setter
    def reward_fn(self, value: Any) -> None:
        if "discriminator" in vars(self):  # the generator's __init__ sets None before D exists
            raise ConfigError(f"{type(self).__name__} trains on its discriminator's rewards only; its reward_fn "
                              "cannot be replaced (train the generator alone, e.g. PPO2, for another reward).")

    @torch.no_grad()
    def discriminator_reward(self, batch: RolloutBatch) -> np.ndarray:
        """[T, N] rewards from D for the rollout's steps (``reward_type``); 0 on the invalid rows
        (the step after an episode end, whose action the env ignored). Reads the observations and
        actions only, never ``batch.rewards``."""
        shape = batch.valid.shape
        logits = self.discriminator(self.generator_inputs(batch))
        rewards = reward_from_logits(logits, self.config.reward_type).cpu().numpy().reshape(shape)
        rewards = np.where(batch.valid, rewards, 0.0).astype(np.float32)
        self.last_reward_mean = float(rewards[batch.valid].mean()) if batch.valid.any() else 0.0
        return rewards

    # --- learning ---------------------------------------------------------------------------------
    def gradient_penalty_term(self, expert_x: torch.Tensor, generator_x: torch.Tensor,
                              alpha: torch.Tensor | None = None) -> torch.Tensor:
        """E[(‖∇_x̂ f(x̂)‖₂ − 1)²] at x̂ = α x_expert + (1 − α) x_generator (α ~ U(0, 1) per pair
        unless given), with the graph kept for the backward pass."""
        if alpha is None:
            alpha = torch.rand(len(expert_x), 1, device=expert_x.device)
        mixed = (alpha * expert_x + (1 - alpha) * generator_x).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.discriminator(mixed).sum(), mixed, create_graph=True)
        return (grad.norm(dim=1) - 1).pow(2).mean()

    def discriminator_loss(self, expert_x: torch.Tensor, generator_x: torch.Tensor,
                           alpha: torch.Tensor | None = None) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The binary cross-entropy of D (expert 1, generator 0; the mean over both sides' samples)
        plus ``gradient_penalty`` times the penalty; and its parts (detached)."""
        expert_logits, generator_logits = self.discriminator(expert_x), self.discriminator(generator_x)
        bce = 0.5 * (F.softplus(-expert_logits).mean() + F.softplus(generator_logits).mean())
        loss = bce
        penalty = torch.zeros((), device=expert_x.device)
        if self.config.gradient_penalty > 0:
            penalty = self.gradient_penalty_term(expert_x, generator_x, alpha)
            loss = loss + self.config.gradient_penalty * penalty
        with torch.no_grad():
            parts = {"disc_loss": loss.detach(), "disc_bce": bce.detach(),
                     "expert_accuracy": (expert_logits > 0).float().mean(),
                     "generator_accuracy": (generator_logits < 0).float().mean(),
                     "expert_logit": expert_logits.mean(), "generator_logit": generator_logits.mean(),
                     "gradient_penalty": penalty.detach()}
        return loss, parts

    def train_discriminator(self, batch: RolloutBatch) -> dict[str, float]:
        """``disc_updates_per_round`` Adam steps of D: expert steps drawn uniformly against the
        rollout's valid steps (a permutation, cycled). Returns the parts averaged over the steps."""
        cfg = self.config
        valid = np.flatnonzero(batch.valid.reshape(-1))
        if cfg.disc_updates_per_round == 0 or len(valid) == 0:
            return {}
        self.attach_demonstrations()  # read once; a loaded agent reads them when it first trains
        generator_x = self.generator_inputs(batch, valid)
        size = cfg.disc_batch_size
        order = np.concatenate([self.np_rng.permutation(len(valid))
                                for _ in range(-(-cfg.disc_updates_per_round * size // len(valid)))])
        sums: dict[str, torch.Tensor] = {}
        for k in range(cfg.disc_updates_per_round):
            expert_x = self.expert_inputs(self.np_rng.integers(0, len(self.demonstrations), size))
            loss, parts = self.discriminator_loss(expert_x, generator_x[order[k * size:(k + 1) * size]])
            self.disc_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.disc_optimizer.step()
            sums = parts if not sums else {key: sums[key] + parts[key] for key in sums}
        return {f"{METRIC_PREFIX}{key}": (value / cfg.disc_updates_per_round).item() for key, value in sums.items()}

    def update(self, batch: RolloutBatch, progress: float = 0.0) -> LearnOut:
        """D's steps on this rollout, then the generator's update on D's rewards for it."""
        disc_metrics = self.train_discriminator(batch)
        out = super().update(batch, progress)  # type: ignore[misc]  # training_rewards -> reward_fn -> D
        out.metrics.update(disc_metrics)
        out.metrics[f"{METRIC_PREFIX}reward"] = self.last_reward_mean
        return out

    # --- checkpoints ----------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        demos = self.demonstrations
        return {**super().state_dict(),  # type: ignore[misc]
                "discriminator": self.discriminator.state_dict(), "disc_optimizer": self.disc_optimizer.state_dict(),
                "demos": [demos.num_episodes, len(demos)] if demos is not None else list(self._restored_demos or ())}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)  # type: ignore[misc]
        self.discriminator.load_state_dict(state["discriminator"])
        self.disc_optimizer.load_state_dict(state["disc_optimizer"])
        self._restored_demos = tuple(int(n) for n in state["demos"]) or None
        if self.demonstrations is not None:
            check_trained_on(self.demonstrations, self._restored_demos, self.config.demos, self.config.demo_episodes)

    @classmethod
    def load(cls, path: Any, env: Any = None, **overrides: Any) -> Any:
        """``Agent.load``, without reading the demonstrations: the loaded agent acts and evaluates
        wherever its checkpoint is; it reads ``demos`` (or an override's) when it trains."""
        token = _DEFER_DEMOS.set(True)
        try:
            return super().load(path, env, **overrides)  # type: ignore[misc]
        finally:
            _DEFER_DEMOS.reset(token)


class GAIL(AdversarialImitation, PPO2):
    """GAIL with a PPO2 generator: every PPO2 setting, plus the discriminator's.

    ``GAIL("CartPole-v1", demos="expert.npz", num_envs=8, n_steps=32, batch_size=256, n_epochs=20,
    gamma=0.98, gae_lambda=0.8, learning_rate=1e-3, anneal_lr=True).learn(...)``;
    ``GAIL.load(path)`` acts and evaluates without the demonstrations file.
    """

    config_class = GAILConfig
