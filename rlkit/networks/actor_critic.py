"""Actor-critic networks shared by the on-policy agents (PPO, A2C, REINFORCE's learned baseline).

``ActorCritic`` maps observations to policy-distribution params and state values. Its
``rollout_step`` is what a RolloutWorker calls: NumPy observations in, a NumPy ``ActOut`` out.
On the CPU a small MLP policy answers it from a NumPy copy of the forward pass over the same
parameter memory (``rlkit.fast.numpy_mirror``): at rollout batch sizes a torch forward pass is
dominated by per-op dispatch.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.fast.cnn import ActivationRecord, to_channels_last
from rlkit.fast.numpy_mirror import NumpyActorCritic
from rlkit.networks.encoders import NatureCNN, TwinMLP, is_image_space, make_encoder
from rlkit.networks.heads import ValueHead, make_policy_head
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
        self._record: ActivationRecord | None = None  # see record_rollouts

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
        state = dict(super().__getstate__() if hasattr(super(), "__getstate__") else self.__dict__)
        state["_numpy"] = None
        state["_record"] = None  # a rollout's activations (A2C on a CNN) belong to this process's update
        return state

    def rollout_step(self, obs: np.ndarray) -> ActOut:
        """Sample actions for a batch of observations; also their log-probs, values and params."""
        if self._numpy is not None:
            return self._numpy.step(obs)
        return self._torch_rollout_step(obs)

    def rollout_values(self, obs: np.ndarray) -> np.ndarray:
        if self._numpy is not None:
            return self._numpy.values(obs)
        with torch.inference_mode():
            return self.values(torch.as_tensor(obs, device=next(self.parameters()).device)).cpu().numpy()

    @torch.inference_mode()
    def _torch_rollout_step(self, obs: np.ndarray) -> ActOut:
        obs_t = torch.as_tensor(obs, device=next(self.parameters()).device)
        if self._record is None:
            params, values = self(obs_t)
        else:
            features = self.encoder(obs_t, self._record)
            params, values = self.head(features), self.value_head(features)
        actions = self.head.sample(params)
        return ActOut(*(t.cpu().numpy() for t in (actions, self.head.log_prob(params, actions), values, params)))

    # --- one update per rollout (A2C): the rollout's forward passes are the update's -------------
    def record_rollouts(self, rows: int) -> bool:
        """From now on, keep the encoder's activations over each rollout of ``rows`` observations
        (``rollout_step`` writes them), so that ``forward_rollout`` can skip its forward pass.
        Only a CNN trunk shared by actor and critic records (elsewhere it does not pay); returns
        whether this one does."""
        if isinstance(self.encoder, NatureCNN) and self.critic_encoder is None:
            self._record = ActivationRecord(self.encoder, rows)
        return self._record is not None

    def forward_rollout(self, obs: torch.Tensor, valid: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """``forward`` over a rollout's valid observations ``obs`` (``valid``: the rollout's
        [n_steps, num_envs] mask of the rows kept). When they are the rollout recorded since the
        last ``forget_rollout``, the result comes from the record, without running the forward
        pass again."""
        if self._record is not None:
            rows = None if valid.all() else torch.from_numpy(np.flatnonzero(valid)).to(obs.device)
            features = self._record.features(obs, rows)
            if features is not None:
                return self.head(features), self.value_head(features)
        return self(self.training_layout(obs))

    def forget_rollout(self) -> None:
        """Drop the recorded activations: call it whenever the parameters change (an optimiser
        step), which the record cannot see. ``load_state_dict`` calls it."""
        if self._record is not None:
            self._record.clear()

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        result = super().load_state_dict(state_dict, strict, assign)
        self.forget_rollout()  # recorded with the parameters just replaced
        return result
