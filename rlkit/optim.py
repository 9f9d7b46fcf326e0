"""Contiguous parameter and gradient storage for small networks."""
from __future__ import annotations

import copy
import math

import torch
from torch import nn

from rlkit.fast.cnn import is_channels_last, weight_gradients_into


LARGE_BUFFER = 1 << 18  # parameters; see FlatParameters.large


class FlatParameters:
    """Lays a module's parameters and their gradients out in two contiguous buffers.

    Every parameter's ``.data`` and ``.grad`` become views into ``self.param`` and its ``.grad``,
    so clipping the gradients' global norm and the optimiser step each run as one op on one tensor
    instead of a loop over every weight and bias, which at MLP sizes is most of their cost. Give
    the optimiser ``[self.param]``, train through ``step`` (or ``backward`` and ``clip_grad_norm_``)
    and move the module to its device before building this.

    ``module.zero_grad()`` does no harm: it unlinks the parameters' gradients from the buffer (sets
    them to None, or zeros the views in place with ``set_to_none=False``), and ``zero_grad``,
    ``backward``, ``step`` and ``clip_grad_norm_`` here link them back first, ``clip_grad_norm_``
    keeping what a plain ``loss.backward()`` wrote into them meanwhile.
    """

    def __init__(self, module: nn.Module):
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise ValueError("FlatParameters needs a module with trainable parameters.")
        first = params[0]
        total = sum(p.numel() for p in params)
        self.param = nn.Parameter(torch.empty(total, dtype=first.dtype, device=first.device))
        self.param.grad = torch.zeros_like(self.param)
        self.params = params
        offset = 0
        with torch.no_grad():
            for p in params:
                n = p.numel()
                p_data, p_grad = (_same_layout(t[offset:offset + n], p) for t in (self.param.data, self.param.grad))
                p_data.copy_(p)
                p.data, p.grad = p_data, p_grad
                offset += n
        self.grad_views = [p.grad for p in params]
        # Past this size, writing the gradient (``backward``) and a BLAS-dot norm beat zeroing,
        # accumulating and ``vector_norm``; below it their fixed cost (mostly ``autograd.grad``'s)
        # is more than the pass they save, and a CartPole PPO update gets slower.
        self.large = total >= LARGE_BUFFER

    def zero_grad(self) -> None:
        self._link_gradients(keep=False)
        self.param.grad.zero_()

    def _link_gradients(self, keep: bool) -> None:
        """Point each parameter's ``.grad`` back at its view of the buffer where ``module.zero_grad()``
        (or anything else) replaced it; with ``keep``, the gradient it held is copied in (None as
        zeros). A check per parameter when nothing changed."""
        for p, view in zip(self.params, self.grad_views):
            if p.grad is not view:
                if keep and p.grad is not None:
                    view.copy_(p.grad)
                elif keep:
                    view.zero_()
                p.grad = view

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer, max_grad_norm: float | None) -> None:
        """Backpropagate ``loss`` into the gradient buffer, clip its global norm to ``max_grad_norm``
        (None or ``math.inf``: no clipping), step ``optimizer`` (which must hold ``[self.param]``)."""
        self.backward(loss)
        if max_grad_norm is not None and max_grad_norm != math.inf:
            self._clip_grad_norm(max_grad_norm)  # backward linked the gradients
        optimizer.step()

    def backward(self, loss: torch.Tensor) -> None:
        """The gradient of ``loss`` into the gradient buffer, replacing its contents. Copying each
        new gradient into its view is one pass over the buffer fewer than zeroing it and letting
        autograd accumulate (read, add, write), which shows in a DQN learning step on Pong (the
        3136x512 layer's gradient alone is 6.4 MB). Parameters the loss does not reach get zeros,
        as ``backward`` after ``zero_grad`` would give them. Small buffers are zeroed and
        accumulated into, which costs less there."""
        if not self.large:
            self.zero_grad()
            loss.backward()
            return
        self._link_gradients(keep=False)  # the views are written below, whatever the parameters point at
        with weight_gradients_into(self.params, self.grad_views):  # those written in place copy onto themselves: free
            grads = torch.autograd.grad(loss, self.params, allow_unused=True, materialize_grads=True)
        torch._foreach_copy_(self.grad_views, list(grads))

    def clip_grad_norm_(self, max_norm: float) -> torch.Tensor:
        """Scale the gradient to global L2 norm ≤ max_norm (``nn.utils.clip_grad_norm_``'s rule);
        returns the norm before clipping."""
        self._link_gradients(keep=True)
        return self._clip_grad_norm(max_norm)

    @torch.no_grad()
    def _clip_grad_norm(self, max_norm: float) -> torch.Tensor:
        grad = self.param.grad
        # a BLAS dot reads a large buffer once at full width, faster than vector_norm's reduction
        on_cpu = grad.device.type == "cpu"
        if self.large and on_cpu:
            norm = torch.dot(grad, grad).sqrt()
        else:
            norm = torch.linalg.vector_norm(grad)
        coef = torch.clamp(max_norm / (norm + 1e-6), max=1.0)
        # On the CPU, skip the pass over every gradient when there is nothing to scale (reading the
        # coefficient costs nothing there; on a GPU it would be a sync, so there it always scales).
        if not on_cpu or coef < 1.0:
            grad.mul_(coef)
        return norm


def _same_layout(segment: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``segment`` (1-D, ``p.numel()`` long) viewed with ``p``'s shape and memory layout: channels-last
    conv weights stay channels-last, so convolutions use them without a reorder copy per call."""
    if is_channels_last(p):
        n, c, h, w = p.shape
        return segment.view(n, h, w, c).permute(0, 3, 1, 2)
    return segment.view(p.shape)


class TargetNetwork:
    """A frozen copy of a network for bootstrapped targets (DQN, DDPG). Its parameters sit in one
    flat buffer laid out like the online network's ``FlatParameters``, so a Polyak average (or, at
    τ = 1, a hard copy) is one op over the whole network, whatever the weights' memory layouts."""

    def __init__(self, online: nn.Module):
        self.module = copy.deepcopy(online)
        self.flat = FlatParameters(self.module)
        self.module.requires_grad_(False)
        self.flat.param.requires_grad_(False)

    @torch.no_grad()
    def update(self, online: FlatParameters, tau: float) -> None:
        """target ← τ online + (1 − τ) target (``lerp_`` returns ``online`` exactly at τ = 1)."""
        self.flat.param.lerp_(online.param, tau)


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Set every parameter group's learning rate (schedules such as ``anneal_lr``)."""
    for group in optimizer.param_groups:
        group["lr"] = lr
