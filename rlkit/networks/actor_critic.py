"""Actor-critic networks shared by the on-policy agents (PPO, A2C, REINFORCE's learned baseline).

``ActorCritic`` maps observations to policy-distribution params and state values. Its
``rollout_step`` is what a RolloutWorker calls: NumPy observations in, a NumPy ``ActOut`` out.
On the CPU a small MLP policy answers it from ``NumpyActorCritic``, a NumPy copy of the forward
pass over the same parameter memory, because at rollout batch sizes (1-16 observations) a torch
forward is dominated by per-op dispatch: ~85 µs against ~25 µs for a 64x64 policy on CartPole.
"""
from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.networks.encoders import ActivationRecord, NatureCNN, TwinMLP, is_image_space, make_encoder, to_channels_last
from rlkit.networks.heads import LOG_2PI, CategoricalHead, DiagGaussianHead, ValueHead, make_policy_head
from rlkit.types import ActOut


class ActorCritic(nn.Module):
    """Encoder(s) -> policy head (distribution params) and value head.

    Separate actor and critic MLPs over vector observations run as one ``TwinMLP``; a CNN (or
    ``share_trunk=True``) is one encoder feeding both heads. ``share_trunk=None`` shares for image
    observations and separates for vectors (the SB3 / baselines defaults).
    """

    def __init__(
        self,
        obs_space: gym.Space,
        action_space: gym.Space,
        policy: str = "auto",
        net_arch: tuple[int, ...] = (64, 64),
        activation: str = "tanh",
        share_trunk: bool | None = None,
        log_std_init: float = 0.0,
        agent_name: str = "this agent",
    ):
        super().__init__()
        image = is_image_space(obs_space) and policy != "mlp"
        shared = share_trunk if share_trunk is not None else image
        twin = not shared and policy != "cnn" and not is_image_space(obs_space) and isinstance(obs_space, gym.spaces.Box)
        if twin:
            self.encoder = TwinMLP(int(np.prod(obs_space.shape)), net_arch, activation)
        else:
            self.encoder = make_encoder(obs_space, policy, net_arch, activation)
        self.twin = twin
        self.activation = activation
        self.critic_encoder = None if shared or twin else make_encoder(obs_space, policy, net_arch, activation)
        self.head = make_policy_head(action_space, self.encoder.out_dim, log_std_init, agent_name)
        self.value_head = ValueHead(self.encoder.out_dim)
        self._numpy: NumpyActorCritic | None = None

    def _features(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.twin:
            return self.encoder(obs).unbind(0)
        features = self.encoder(obs)
        return features, features if self.critic_encoder is None else self.critic_encoder(obs)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        actor, critic = self._features(obs)
        return self.head(actor), self.value_head(critic)

    def training_layout(self, obs: torch.Tensor) -> torch.Tensor:
        """A batch of observations in the memory layout the encoder reads fastest: channels-last
        for image batches, so minibatch slices of it need no reordering per step."""
        return to_channels_last(obs) if obs.dim() == 4 else obs

    def make_activation_record(self, rows: int) -> ActivationRecord | None:
        """Storage for the encoder's activations over ``rows`` rollout observations, so an update
        with the same parameters can skip its forward pass (``forward_recorded``); None where that
        does not pay: only a CNN trunk shared by actor and critic records."""
        if not isinstance(self.encoder, NatureCNN) or self.critic_encoder is not None:
            return None
        return ActivationRecord(self.encoder, rows, next(self.parameters()).device)

    def forward_recorded(
        self, obs: torch.Tensor, record: ActivationRecord, rows: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` over the recorded rows (``obs`` are their observations), from the record."""
        features = self.encoder.forward_recorded(obs, record, rows)
        return self.head(features), self.value_head(features)

    def params(self, obs: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(obs)[0])

    def values(self, obs: torch.Tensor) -> torch.Tensor:
        return self.value_head(self._features(obs)[1])

    # --- rollouts: NumPy in, NumPy out ----------------------------------------------------------
    def use_numpy_rollouts(self, rng: np.random.Generator) -> bool:
        """Answer rollout calls from a NumPy mirror when this net can (CPU, twin MLP, tanh/ReLU);
        actions are then sampled from ``rng``. Returns whether the mirror is on."""
        device = next(self.parameters()).device
        self._numpy = NumpyActorCritic(self, rng) if NumpyActorCritic.supports(self, device) else None
        return self._numpy is not None

    @property
    def uses_numpy_rollouts(self) -> bool:
        return self._numpy is not None

    def __getstate__(self) -> dict:
        # a pickled copy gets parameters of its own; views of these would be stale there
        state = super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__.copy()
        state = dict(state)
        state["_numpy"] = None
        return state

    def rollout_step(self, obs: np.ndarray, record: ActivationRecord | None = None) -> ActOut:
        """Sample actions for a batch of observations; also their log-probs, values and params.
        With ``record`` (see ``make_activation_record``) the encoder's activations are kept."""
        if self._numpy is not None:
            return self._numpy.step(obs)
        return self._torch_rollout_step(obs, record)

    def rollout_values(self, obs: np.ndarray) -> np.ndarray:
        if self._numpy is not None:
            return self._numpy.values(obs)
        with torch.inference_mode():
            return self.values(torch.as_tensor(obs, device=next(self.parameters()).device)).cpu().numpy()

    @torch.inference_mode()
    def _torch_rollout_step(self, obs: np.ndarray, record: ActivationRecord | None) -> ActOut:
        obs_t = torch.as_tensor(obs, device=next(self.parameters()).device)
        if record is None:
            params, values = self(obs_t)
        else:
            features = self.encoder(obs_t, record)
            params, values = self.head(features), self.value_head(features)
        actions = self.head.sample(params)
        return ActOut(*(t.cpu().numpy() for t in (actions, self.head.log_prob(params, actions), values, params)))


class NumpyActorCritic:
    """The forward pass of a twin-MLP ``ActorCritic`` in NumPy, for CPU rollouts.

    Its arrays are views of the torch parameters (``Tensor.numpy()`` shares memory), so optimiser
    steps and ``load_state_dict`` (both in place) show through without copies. Same maths as the
    torch path in float32; tests hold the two to 1e-5.
    """

    ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}

    @classmethod
    def supports(cls, net: ActorCritic, device: torch.device) -> bool:
        return device.type == "cpu" and net.twin and net.activation in cls.ACTIVATIONS

    def __init__(self, net: ActorCritic, rng: np.random.Generator):
        self.rng = rng
        self.layers = [(w.detach().numpy(), b.detach().numpy()) for w, b in zip(net.encoder.weights, net.encoder.biases)]
        self.activation = self.ACTIVATIONS[net.activation]
        self.value_w = net.value_head.linear.weight.detach().numpy().T
        self.value_b = net.value_head.linear.bias.detach().numpy()
        head = net.head
        if isinstance(head, CategoricalHead):
            self.categorical = True
            self.policy_w, self.policy_b = head.linear.weight.detach().numpy().T, head.linear.bias.detach().numpy()
        elif isinstance(head, DiagGaussianHead):
            self.categorical = False
            self.policy_w, self.policy_b = head.mean.weight.detach().numpy().T, head.mean.bias.detach().numpy()
            self.log_std = head.log_std.detach().numpy()
        else:  # pragma: no cover - make_policy_head only builds these two
            raise TypeError(f"no NumPy path for {type(head).__name__}")

    def _features(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32).reshape(obs.shape[0], -1)
        for weight, bias in self.layers:  # [2, in, out], [2, 1, out]: actor and critic together
            x = self.activation(x @ weight + bias)
        return x

    def values(self, obs: np.ndarray) -> np.ndarray:
        return (self._features(obs)[1] @ self.value_w + self.value_b)[:, 0]

    def step(self, obs: np.ndarray) -> ActOut:
        features = self._features(obs)
        values = (features[1] @ self.value_w + self.value_b)[:, 0]
        out = features[0] @ self.policy_w + self.policy_b
        if self.categorical:
            # inverse-CDF sampling on unnormalised probabilities, as CategoricalHead.sample
            z = out - out.max(-1, keepdims=True)
            p = np.exp(z)
            total = p.sum(-1, keepdims=True)
            u = self.rng.random((out.shape[0], 1), dtype=np.float32) * total
            actions = np.minimum((np.cumsum(p, -1) < u).sum(-1), out.shape[-1] - 1)
            log_probs = z[np.arange(len(actions)), actions] - np.log(total[:, 0])
            return ActOut(actions, log_probs, values, out)
        std_normal = self.rng.standard_normal(out.shape, dtype=np.float32)
        actions = out + np.exp(self.log_std) * std_normal
        log_probs = (-0.5 * std_normal**2 - self.log_std - 0.5 * LOG_2PI).sum(-1, dtype=np.float32)
        params = np.concatenate([out, np.broadcast_to(self.log_std, out.shape)], axis=-1)
        return ActOut(actions, log_probs, values, params)
