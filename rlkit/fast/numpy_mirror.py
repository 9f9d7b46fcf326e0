"""A twin-MLP ``ActorCritic``'s forward pass and sampling in NumPy, for CPU rollouts.

At rollout batch sizes (1-16 observations) a torch forward pass of a small MLP is dominated by
per-op dispatch; NumPy over the same parameter memory is not. Same maths as the torch path in
float32: tests/test_numpy_inference.py holds the two to 1e-5.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch

from rlkit.networks.heads import LOG_2PI, CategoricalHead, DiagGaussianHead
from rlkit.types import ActOut

if TYPE_CHECKING:
    from rlkit.networks.actor_critic import ActorCritic


class NumpyActorCritic:
    """``ActorCritic.rollout_step`` and ``rollout_values`` for a twin-MLP net on the CPU.

    Its arrays are views of the torch parameters' memory (``Tensor.numpy()`` shares it), so
    optimiser steps and ``load_state_dict`` (both in place) show through without copies. When that
    memory moves (``share_memory()`` for worker processes, a new ``FlatParameters`` layout), views
    taken before would read freed memory, so every call first compares one parameter per storage
    with the address it had and takes fresh views if it moved.
    """

    ACTIVATIONS = {"tanh": np.tanh, "relu": lambda x: np.maximum(x, 0.0)}

    @classmethod
    def supports(cls, net: ActorCritic, device: torch.device) -> bool:
        return device.type == "cpu" and net.twin and net.activation in cls.ACTIVATIONS

    def __init__(self, net: ActorCritic, rng: np.random.Generator):
        if not isinstance(net.head, (CategoricalHead, DiagGaussianHead)):  # pragma: no cover - make_policy_head builds only these
            raise TypeError(f"no NumPy path for {type(net.head).__name__}")
        self.net = net
        self.rng = rng
        self.activation = self.ACTIVATIONS[net.activation]
        self.categorical = isinstance(net.head, CategoricalHead)
        self._bind()

    def _bind(self) -> None:
        """Take NumPy views of the parameters where their memory is now."""
        net, head = self.net, self.net.head
        self.layers = [(w.detach().numpy(), b.detach().numpy()) for w, b in zip(net.encoder.weights, net.encoder.biases)]
        self.value_w = net.value_head.linear.weight.detach().numpy().T
        self.value_b = net.value_head.linear.bias.detach().numpy()
        policy = head.linear if self.categorical else head.mean
        self.policy_w, self.policy_b = policy.weight.detach().numpy().T, policy.bias.detach().numpy()
        if not self.categorical:
            self.log_std = head.log_std.detach().numpy()
        # A storage that moves takes all its views along, so one parameter per storage tells
        # (a single check under FlatParameters, whose buffer holds them all).
        by_storage = {p.untyped_storage().data_ptr(): p for p in net.parameters()}
        self._probes = [(p, p.data_ptr()) for p in by_storage.values()]

    def _rebind_if_moved(self) -> None:
        for p, address in self._probes:
            if p.data_ptr() != address:
                self._bind()
                return

    def _features(self, obs: np.ndarray) -> np.ndarray:
        self._rebind_if_moved()
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
