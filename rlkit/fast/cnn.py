"""NatureCNN's fast CPU paths and the channels-last helpers they rely on.

``rlkit.networks.encoders.NatureCNN`` defines the network (three convolutions and a dense layer,
each followed by a ReLU); the functions here compute the same maths, up to the order of summation:

- ``conv_relu`` and ``dense``: a layer without the Module call, the dense product in whichever
  orientation MKL runs faster, its weight gradient written in place under ``weight_gradients_into``;
- ``features_of_one``: one uint8 stack without autograd (an action choice) as four matrix products
  over patches (im2col);
- ``ActivationRecord``: a rollout's activations, so that one update with the same parameters (A2C)
  backpropagates through them instead of running its forward pass again.

tests/test_layouts.py and tests/test_a2c_reinforce.py hold each against the plain modules.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

if TYPE_CHECKING:
    from rlkit.networks.encoders import NatureCNN


# --- memory layout --------------------------------------------------------------------------------
def is_channels_last(t: torch.Tensor) -> bool:
    """A 4-D tensor laid out [B, H, W, C] in memory (and not also plain contiguous, as when C or
    H x W is 1)."""
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def to_channels_last(obs: torch.Tensor) -> torch.Tensor:
    """A [B, C, H, W] batch with the same values in channels-last memory. On the CPU, uint8 stacks of
    up to 4 frames are interleaved by OpenCV an image at a time, which beats torch's reorder."""
    if obs.is_contiguous(memory_format=torch.channels_last):
        return obs
    if obs.device.type == "cpu" and obs.dtype == torch.uint8 and obs.is_contiguous() and obs.shape[1] <= 4 and obs.numel():
        images = obs.numpy()
        out = np.empty((obs.shape[0], *obs.shape[2:], obs.shape[1]), dtype=np.uint8)
        for image, dst in zip(images, out):
            cv2.merge(list(image), dst=dst)
        return torch.from_numpy(out).permute(0, 3, 1, 2)
    return obs.contiguous(memory_format=torch.channels_last)


# --- layers -----------------------------------------------------------------------------------------
def conv_relu(x: torch.Tensor, conv: nn.Conv2d, weight: torch.Tensor | None = None) -> torch.Tensor:
    """relu(conv(x)) (with ``weight`` in place of the layer's own, if given) without the Module
    call (and the Sequential around it), whose overhead shows in a batch-1 forward pass. The ReLU
    runs in place on the fresh convolution output (the convolution's backward does not need its
    output): no second activation-sized buffer."""
    weight = conv.weight if weight is None else weight
    return F.conv2d(x, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups).relu_()


def dense(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)``; differentiable through ``_Dense``, whose backward can write the weight
    gradient in place (``weight_gradients_into``)."""
    if torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad or layer.bias.requires_grad):
        return _Dense.apply(x, layer.weight, layer.bias)
    return dense_product(x, layer.weight, layer.bias)


def dense_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x Wᵀ + b. For 8-32 rows on the CPU (rollout and DQN batches) it is computed as (W xᵀ + b)ᵀ,
    a transposed view of the same values, which MKL runs faster for the 3136->512 layer there; at 1
    and 256 rows the two cost the same."""
    if x.device.type == "cpu" and 8 <= x.shape[0] <= 32:
        return torch.addmm(bias[:, None], weight, x.t()).t()
    return F.linear(x, weight, bias)


class _Dense(torch.autograd.Function):
    """x Wᵀ + b with the linear layer's gradients, the weight's through ``_weight_grad``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return dense_product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        return linear_backward(grad, x, weight, *ctx.needs_input_grad)


def linear_backward(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, need_x: bool, need_weight: bool,
                    need_bias: bool) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None]:
    """The gradients of x Wᵀ + b in x, W (through ``_weight_grad``) and b that are needed."""
    return (grad @ weight if need_x else None, _weight_grad(grad, x, weight) if need_weight else None,
            grad.sum(0) if need_bias else None)


_gradient_buffers = threading.local()  # the autograd engine runs CPU backward passes on the calling thread


@contextlib.contextmanager
def weight_gradients_into(params: Iterable[torch.Tensor], buffers: Iterable[torch.Tensor]) -> Iterator[None]:
    """Inside this block, the backward pass of a NatureCNN dense layer writes its weight's gradient
    straight into that weight's buffer here (once per block; a second use of the weight in the
    same graph gets a fresh tensor) and returns the buffer as the gradient. For callers that then
    copy each returned gradient into its buffer (``FlatParameters.backward``): a tensor's copy onto
    itself is skipped, so the 3136x512 layer's gradient is written once, into memory already
    mapped, instead of into a fresh allocation and then copied. Anyone else would see the buffer
    change under them, so nothing outside such a block is written in place."""
    previous = getattr(_gradient_buffers, "by_param", None)
    _gradient_buffers.by_param = {id(p): b for p, b in zip(params, buffers)}
    try:
        yield
    finally:
        _gradient_buffers.by_param = previous


def _weight_grad(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """gradᵀ x, the gradient of x Wᵀ in W: into the buffer ``weight_gradients_into`` gave for
    ``weight``, if any (it is claimed here, so only one pass writes it)."""
    by_param = getattr(_gradient_buffers, "by_param", None)
    out = by_param.pop(id(weight), None) if by_param else None
    if out is not None and out.shape == weight.shape and out.dtype == grad.dtype and out.is_contiguous():
        return torch.mm(grad.t(), x, out=out)
    return grad.t() @ x


# --- one stack, no autograd: the action choice ------------------------------------------------------
def is_one_stack_to_act_on(obs: torch.Tensor) -> bool:
    """One contiguous uint8 stack on the CPU, without autograd: ``features_of_one`` applies."""
    return (obs.dim() == 4 and obs.shape[0] == 1 and obs.dtype == torch.uint8 and obs.device.type == "cpu"
            and obs.is_contiguous() and not torch.is_grad_enabled())


def features_of_one(cnn: NatureCNN, obs: torch.Tensor) -> torch.Tensor:
    """``cnn``'s features of one uint8 [1, C, H, W] stack, each layer one matrix product over its
    input's patches (im2col). Activations stay in [H, W, C] order, so each product's output is the
    next layer's input and conv2's and conv3's channels-last weights are already their matrices;
    every layer's patches are one gather copy (conv1's straight from the bytes, in its weight's
    (c, kh, kw) order). At one stack this beats oneDNN's convolutions, mostly by skipping the float
    channels-last copy of the frames; from two stacks up the convolutions win."""
    conv1, conv2, conv3, linear = cnn.layers
    kernel, stride = conv1.kernel_size, conv1.stride
    channels, height, width = obs.shape[1:]
    out_h, out_w = (height - kernel[0]) // stride[0] + 1, (width - kernel[1]) // stride[1] + 1
    patches = obs.as_strided((out_h, out_w, channels, *kernel),
                             (stride[0] * width, stride[1], height * width, width, 1))
    patches = patches.reshape(out_h * out_w, -1).float()
    h = torch.addmm(conv1.bias, patches, cnn._conv1_weight().reshape(conv1.out_channels, -1).t()).relu_()
    h = _patch_product_relu(h.view(out_h, out_w, -1), conv2)
    h = _patch_product_relu(h, conv3)
    h = h.permute(2, 0, 1).reshape(1, -1)  # flattened in [C, H, W] order, as the dense weight expects
    return dense_product(h, linear.weight, linear.bias).relu_()


def _patch_product_relu(h: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """relu(conv(h)) for one [H, W, C] activation (unpadded, undilated, ungrouped conv), as the
    product of its [kh, kw, c] patches with the weight, whose channels-last memory is that matrix."""
    height, width, channels = h.shape
    kernel, stride = conv.kernel_size, conv.stride
    out_h, out_w = (height - kernel[0]) // stride[0] + 1, (width - kernel[1]) // stride[1] + 1
    patches = h.as_strided((out_h, out_w, *kernel, channels),
                           (stride[0] * width * channels, stride[1] * channels, width * channels, channels, 1))
    weight = conv.weight.permute(0, 2, 3, 1).reshape(conv.out_channels, -1)  # a view when channels-last
    out = torch.addmm(conv.bias, patches.reshape(out_h * out_w, -1), weight.t()).relu_()
    return out.view(out_h, out_w, conv.out_channels)


# --- a rollout's activations, for one update with the same parameters -------------------------------
class ActivationRecord:
    """The activations of a ``NatureCNN``'s forward passes over one rollout, row by row.

    A2C takes one gradient step per rollout, with the parameters that collected it, so its update's
    forward pass would compute again what the rollout's forward passes computed. Kept here, the
    update backpropagates through them instead (``features``) and skips that forward pass, a large
    part of an A2C update on Atari. ``write`` appends in rollout order, the observations too, so
    ``matches`` can tell whether a batch is the one recorded; rows written past ``capacity`` spoil
    the record until ``clear`` starts the next one. Whoever changes the parameters must ``clear``
    it: the record cannot see that.
    """

    def __init__(self, encoder: NatureCNN, capacity: int):
        self.encoder = encoder
        self.capacity = capacity
        self.slots: list[torch.Tensor] | None = None  # allocated at the first write, like each activation
        self.obs: torch.Tensor | None = None  # allocated at the first write, in the observations' dtype
        self.count = 0

    def clear(self) -> None:
        self.count = 0

    def write(self, obs: torch.Tensor, activations: list[torch.Tensor]) -> None:
        n = obs.shape[0]
        if self.count + n <= self.capacity:
            if self.slots is None:
                # rollouts run in inference mode, whose tensors autograd could not save for the update
                with torch.inference_mode(False):
                    self.slots = [
                        torch.empty(self.capacity, *a.shape[1:], device=a.device,
                                    memory_format=torch.channels_last if a.dim() == 4 else torch.contiguous_format)
                        for a in activations
                    ]
            if self.obs is None or self.obs.dtype != obs.dtype:
                self.obs = torch.empty(self.capacity, *obs.shape[1:], dtype=obs.dtype, device=obs.device)
            self.obs[self.count:self.count + n].copy_(obs)
            for slot, activation in zip(self.slots, activations):
                slot[self.count:self.count + n].copy_(activation)
        self.count += n

    def matches(self, obs: torch.Tensor, rows: torch.Tensor | None) -> bool:
        """Whether the record is one whole rollout whose observations (the ``rows`` of them, or
        all) are ``obs``."""
        if self.count != self.capacity or self.obs is None or self.obs.dtype != obs.dtype:
            return False
        recorded = self.obs if rows is None else self.obs.index_select(0, rows)
        if recorded.shape != obs.shape:
            return False
        recorded, obs = recorded.reshape(len(obs), -1), obs.reshape(len(obs), -1)
        if obs.element_size() == 1 and obs.shape[1] % 8 == 0:  # compare frames 8 bytes at a time: fewer, wider reads
            recorded, obs = recorded.view(torch.int64), obs.view(torch.int64)
        return torch.equal(recorded, obs)

    def rows(self, rows: torch.Tensor | None) -> list[torch.Tensor]:
        """The recorded activations, all rows or the ``rows`` indices."""
        assert self.slots is not None, "nothing recorded yet"
        if rows is None:
            return self.slots
        return [slot.index_select(0, rows) for slot in self.slots]

    def features(self, obs: torch.Tensor, rows: torch.Tensor | None) -> torch.Tensor | None:
        """The encoder's features of ``obs``, differentiable in its parameters, from the record
        without running the forward pass again; None unless ``obs`` are the recorded rollout's
        observations (all of them, or the ``rows`` indices, in record order). Valid only while the
        parameters are those that recorded them."""
        if not self.matches(obs, rows):
            return None
        cnn = self.encoder
        x = cnn._prepare(obs)
        h1, h2, h3, features = self.rows(rows)
        conv1, conv2, conv3, linear = cnn.layers
        h = _RecordedLayer.apply(x, cnn._conv1_weight(), conv1.bias, h1, conv1)
        h = _RecordedLayer.apply(h, conv2.weight, conv2.bias, h2, conv2)
        h = _RecordedLayer.apply(h, conv3.weight, conv3.bias, h3.view(-1, *cnn.conv_out_shape), conv3)
        return _RecordedLayer.apply(h.flatten(1), linear.weight, linear.bias, features, linear)


class _RecordedLayer(torch.autograd.Function):
    """y = relu(layer(x; weight, bias)) where y was recorded from the same x and parameters: the
    forward returns it as it is, the backward is the layer's (``nn.Conv2d`` or ``nn.Linear``)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, y: torch.Tensor, layer: nn.Module):
        ctx.save_for_backward(x, weight, y)
        ctx.layer = layer
        return y.view_as(y)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        x, weight, y = ctx.saved_tensors
        layer, need_grad_x = ctx.layer, ctx.needs_input_grad[0]
        grad = torch.ops.aten.threshold_backward(grad_y, y, 0)  # through the ReLU
        if isinstance(layer, nn.Linear):
            return *linear_backward(grad, x, weight, need_grad_x, True, True), None, None
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]], layer.stride, layer.padding, layer.dilation, False, [0, 0],
            layer.groups, [need_grad_x, True, True],
        )
        return grad_x, grad_weight, grad_bias, None, None
