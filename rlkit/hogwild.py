"""Hogwild training (Recht et al. 2011) as A3C uses it: one parameter vector and one set of
optimiser statistics in shared memory, stepped by every worker process without locks.

The optimiser is torch's own (RMSprop, Adam, ...): its per-parameter state is created up front and
moved to shared memory (``share_optimizer_state``), and each worker steps an optimiser of the same
class over the shared parameters whose state is those shared tensors (``SharedOptimizerStep``).
"""
from __future__ import annotations

from typing import Any

import torch

from rlkit.errors import NonFiniteError
from rlkit.optim import set_learning_rate


def shared_parameter(optimizer: torch.optim.Optimizer) -> torch.Tensor:
    """The one parameter tensor ``optimizer`` steps (rlkit's agents train one flat buffer)."""
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if len(params) != 1:
        raise ValueError(f"Hogwild training shares one flat parameter tensor; this optimiser has {len(params)}.")
    return params[0]


def share_optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Create ``optimizer``'s state for its parameter now (torch creates it at the first step, which
    would be in whichever process stepped first) and move its tensors to shared memory. The state is
    made by one step with a zero gradient at learning rate 0, which leaves the parameters as they
    are; its step counters are then set back to 0. State already there (a restored checkpoint) is
    kept and shared. Returns the state, for ``SharedOptimizerStep`` in the workers."""
    param = shared_parameter(optimizer)
    if not optimizer.state.get(param):
        grad, lrs = param.grad, [group["lr"] for group in optimizer.param_groups]
        param.grad = torch.zeros_like(param)
        set_learning_rate(optimizer, 0.0)
        optimizer.step()
        for group, lr in zip(optimizer.param_groups, lrs):
            group["lr"] = lr
        param.grad = grad
        state = optimizer.state[param]
        if torch.is_tensor(state.get("step")):
            state["step"].zero_()
    state = optimizer.state[param]
    for value in state.values():
        if torch.is_tensor(value):
            value.share_memory_()
    return state


class SharedOptimizerStep:
    """What a worker's learner holds as its optimiser: ``step()`` applies the gradient the learner
    computed on its local copy of the parameters to the shared ones, through an optimiser of the
    main process's class and settings whose statistics are the shared tensors, then refreshes the
    local copy (θ' ← θ, the start of the next rollout in A3C). ``param_groups`` are the shared
    optimiser's, so learning-rate schedules set the rate it steps with."""

    def __init__(self, local: torch.Tensor, shared: torch.Tensor, optimizer_class: type, defaults: dict[str, Any],
                 state: dict[str, Any]):
        self.local, self.shared = local, shared
        self.optimizer = optimizer_class([shared], **defaults)
        self.optimizer.state[shared] = state
        self.sync()

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def step(self) -> None:
        grad = self.local.grad
        # A non-finite gradient would spread to every worker through the shared parameters: refused
        # before it is applied, so the shared state (and every checkpoint of it) stays good.
        if not torch.isfinite(grad).all():
            raise NonFiniteError("a worker's gradient became non-finite; it was not applied to the shared parameters.")
        self.shared.grad = grad
        try:
            self.optimizer.step()
        finally:
            self.shared.grad = None
        self.sync()

    @torch.no_grad()
    def sync(self) -> None:
        """Copy the shared parameters into the local ones."""
        self.local.copy_(self.shared)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Nothing to do: the learner's gradient buffer is local, and replaced at each backward."""
