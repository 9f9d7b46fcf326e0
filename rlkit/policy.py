"""``Policy``: what acts, apart from the agent that trains it.

A policy is the network, the observation normaliser and the random stream that samples actions:
small and picklable, so rollout workers, Ray actors, Hogwild processes and a DAgger expert can
hold one without the agent's envs, optimiser or buffers. On-policy agents own one (``agent.policy``)
and train its network in place; a copy sent to another process carries the same weights.
"""
from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch

from rlkit.networks import ActorCritic
from rlkit.normalize import RunningMeanStd
from rlkit.types import ActOut


class Policy:
    """NumPy observations in, NumPy actions out, for a batch of N observations.

    ``explore`` samples behaviour actions with their log-probs, values and distribution params (what
    a rollout buffer stores); ``act`` is the public action choice; ``values`` the critic's V(obs).
    With ``numpy_inference`` a small MLP on the CPU answers ``explore`` from a NumPy mirror of its
    forward pass over the same parameter memory; torch otherwise.
    """

    def __init__(
        self,
        net: ActorCritic,
        obs_rms: RunningMeanStd | None = None,
        rng: np.random.Generator | None = None,
        numpy_inference: bool = True,
    ):
        self.net = net
        self.obs_rms = obs_rms
        self.numpy_inference = numpy_inference
        self.rng = rng if rng is not None else np.random.default_rng()

    @property
    def rng(self) -> np.random.Generator:
        """The stream NumPy-path sampling draws from (the torch path draws from torch's)."""
        return self._rng

    @rng.setter
    def rng(self, rng: np.random.Generator) -> None:
        self._rng = rng
        if self.numpy_inference:
            self.net.use_numpy_rollouts(rng)

    def reseed(self, seed: int) -> "Policy":
        """A random stream of its own: copies sent to workers carry the sender's stream, so every
        worker would sample the same actions until each is reseeded. Torch-path sampling draws
        from torch's generator; seed that in the worker too (``torch.manual_seed``)."""
        self.rng = np.random.default_rng(seed)
        return self

    def copy(self, device: str | torch.device = "cpu") -> "Policy":
        """An independent copy with its network on ``device`` (each weight once, no gradients): what
        a Ray actor without the learner's GPU holds. Its random stream is a copy too; reseed it."""
        state = self.__getstate__()
        state.update(net=state["net"].to(device), obs_rms=copy.deepcopy(self.obs_rms), _rng=copy.deepcopy(self._rng))
        clone = Policy.__new__(Policy)
        clone.__setstate__(state)
        return clone

    @property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        return obs if self.obs_rms is None else self.obs_rms.normalize(obs)

    def explore(self, obs: np.ndarray) -> ActOut:
        return self.net.rollout_step(self.normalize(obs))

    def values(self, obs: np.ndarray) -> np.ndarray:
        return self.net.rollout_values(self.normalize(obs))

    @torch.inference_mode()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        params = self.net.params(torch.as_tensor(self.normalize(obs), device=self.device))
        head = self.net.head
        return (head.mode(params) if deterministic else head.sample(params)).cpu().numpy()

    # --- pickling: the NumPy mirror holds views of the parameters; a copy rebuilds its own ------
    def __getstate__(self) -> dict[str, Any]:
        # the agent's parameters are views of one flat buffer with its gradients beside it; a copy
        # carries each weight once and no gradient
        net = copy.deepcopy(self.net)
        for p in net.parameters():
            p.data, p.grad = p.data.clone(), None
        return {**self.__dict__, "net": net}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.rng = self._rng  # rebuilds the mirror over this copy's parameters
