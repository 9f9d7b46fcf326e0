"""Observation encoders: MLP for vectors, NatureCNN for stacked frames."""
from __future__ import annotations

import contextlib
import math
import threading
from collections.abc import Iterable, Iterator

import cv2
import gymnasium as gym
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rlkit.errors import UnsupportedSpaceError

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "elu": nn.ELU, "gelu": nn.GELU}
# The same as plain functions, for hot loops where a Module call's overhead shows.
ACTIVATION_FUNCTIONS = {"tanh": torch.tanh, "relu": torch.relu, "elu": nn.functional.elu, "gelu": nn.functional.gelu}


def layer_init(layer: nn.Module, gain: float = math.sqrt(2), bias: float = 0.0) -> nn.Module:
    """Orthogonal weights, constant bias: the PPO/A2C initialisation of the baselines."""
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.constant_(layer.bias, bias)
    return layer


class MLP(nn.Module):
    """Flatten -> [Linear -> activation] per hidden size. ``out_dim`` is the last hidden size."""

    def __init__(
        self, in_dim: int, hidden_sizes: tuple[int, ...] = (64, 64), activation: str = "tanh", one_hot: bool = False
    ):
        super().__init__()
        self.one_hot = in_dim if one_hot else 0  # Discrete observations arrive as indices
        layers: list[nn.Module] = [nn.Flatten()]
        for size in hidden_sizes:
            layers += [layer_init(nn.Linear(in_dim, size)), ACTIVATIONS[activation]()]
            in_dim = size
        self.net = nn.Sequential(*layers)
        self.out_dim = in_dim

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        if self.one_hot:
            obs = nn.functional.one_hot(obs.long().reshape(-1), self.one_hot)
        return self.net(obs.float())


class NatureCNN(nn.Module):
    """Mnih et al. 2015: 3 conv layers + 512-unit linear layer over [C, 84, 84] uint8 frames."""

    def __init__(self, obs_shape: tuple[int, ...], features_dim: int = 512):
        super().__init__()
        channels = obs_shape[0]
        # forward calls the convolutions through self.layers; this Sequential, ReLUs and Flatten
        # included, keeps the checkpoint keys convs.0/2/4.* and measures the output shape below
        self.convs = nn.Sequential(
            layer_init(nn.Conv2d(channels, 32, 8, stride=4)), nn.ReLU(),
            layer_init(nn.Conv2d(32, 64, 4, stride=2)), nn.ReLU(),
            layer_init(nn.Conv2d(64, 64, 3, stride=1)), nn.ReLU(),
            nn.Flatten(),
        )
        with torch.no_grad():
            self.conv_out_shape = self.convs[:-1](torch.zeros(1, *obs_shape)).shape[1:]
        flat = math.prod(self.conv_out_shape)
        # a Sequential only so checkpoints keep the key linear.0.*; its ReLU is applied in forward
        self.linear = nn.Sequential(layer_init(nn.Linear(flat, features_dim)))
        self.out_dim = features_dim
        # channels-last convolutions: same fp32 maths, about 1.6x faster forward+backward on a CPU
        # with oneDNN (measured in benchmarks/ppo_atari.py), and the layout tensor cores prefer.
        self.convs.to(memory_format=torch.channels_last)
        # the four weight layers, each followed by a ReLU, in order (for recorded forward passes)
        self.layers: list[nn.Module] = [self.convs[0], self.convs[2], self.convs[4], self.linear[0]]
        with torch.no_grad():
            self.activation_shapes = [a.shape[1:] for a in self._activations(self._prepare(torch.zeros(1, *obs_shape)))]

    @staticmethod
    def _prepare(obs: torch.Tensor) -> torch.Tensor:
        """Frames as float32 in channels-last memory, still in [0, 255]: the 1/255 scaling is
        folded into conv1's weights (``_conv1_weight``)."""
        # reorder while still uint8 (a quarter of the bytes), then convert in the new layout
        return to_channels_last(obs).float()

    def _conv1_weight(self) -> torch.Tensor:
        """conv1(x / 255) = conv1 with weights / 255 applied to x: a pass over 8K weights instead of
        one over every input pixel (~0.2 ms of ~0.8 per batch of 32 stacks here)."""
        return self.layers[0].weight / 255.0

    def _activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output after its ReLU (the third flattened), the last being the features,
        for frames ``x`` from ``_prepare``."""
        conv1, conv2, conv3, linear = self.layers
        h1 = _conv_relu(x, conv1, self._conv1_weight())
        h2 = _conv_relu(h1, conv2)
        h3 = _conv_relu(h2, conv3).flatten(1)
        return [h1, h2, h3, torch.relu(_dense(h3, linear))]

    def forward(self, obs: torch.Tensor, record: "ActivationRecord | None" = None) -> torch.Tensor:
        """Features of a batch of [C, H, W] frames; with ``record``, its activations are kept."""
        if record is None and _is_one_stack_to_act_on(obs):
            return self._features_of_one(obs)
        activations = self._activations(self._prepare(obs))
        if record is not None:
            record.write(obs, activations)
        return activations[-1]

    def _features_of_one(self, obs: torch.Tensor) -> torch.Tensor:
        """The features of one uint8 [1, C, H, W] stack, each layer one matrix product over its input's
        patches (im2col). Activations stay in [H, W, C] order, so each product's output is the next
        layer's input and conv2's and conv3's channels-last weights are already their matrices; every
        layer's patches are one gather copy (conv1's straight from the bytes, in its weight's
        (c, kh, kw) order). At one
        stack this beats oneDNN's convolutions here (0.87 against 1.08 ms a forward pass with warm
        caches, 1.64 against 2.07 ms after a 64 MB sweep, as between DQN's env steps), mostly by
        skipping the float channels-last copy of the frames; from two stacks up the convolutions
        win. The same fp32 maths up to the order of summation."""
        conv1, conv2, conv3, linear = self.layers
        kernel, stride = conv1.kernel_size, conv1.stride
        channels, height, width = obs.shape[1:]
        out_h, out_w = (height - kernel[0]) // stride[0] + 1, (width - kernel[1]) // stride[1] + 1
        # conv1's patches straight from the bytes, in its weight's (c, kh, kw) order
        patches = obs.as_strided((out_h, out_w, channels, *kernel),
                                 (stride[0] * width, stride[1], height * width, width, 1))
        patches = patches.reshape(out_h * out_w, -1).float()
        h = torch.addmm(conv1.bias, patches, self._conv1_weight().reshape(conv1.out_channels, -1).t()).relu_()
        h = _patch_product_relu(h.view(out_h, out_w, -1), conv2)
        h = _patch_product_relu(h, conv3)
        h = h.permute(2, 0, 1).reshape(1, -1)  # flattened in [C, H, W] order, as the dense weight expects
        return _dense_product(h, linear.weight, linear.bias).relu_()

    def forward_recorded(self, obs: torch.Tensor, record: "ActivationRecord", rows: torch.Tensor | None) -> torch.Tensor:
        """The features of the recorded rows (all of them, or the ``rows`` indices, in record order;
        ``obs`` are those rows' frames), differentiable in the parameters, without running the
        forward pass again. Valid only while the parameters are those that recorded them."""
        x = self._prepare(obs)
        h1, h2, h3, features = record.rows(rows)
        conv1, conv2, conv3, linear = self.layers
        h = _RecordedLayer.apply(x, self._conv1_weight(), conv1.bias, h1, conv1)
        h = _RecordedLayer.apply(h, conv2.weight, conv2.bias, h2, conv2)
        h = _RecordedLayer.apply(h, conv3.weight, conv3.bias, h3.view(-1, *self.conv_out_shape), conv3)
        return _RecordedLayer.apply(h.flatten(1), linear.weight, linear.bias, features, linear)


def _is_one_stack_to_act_on(obs: torch.Tensor) -> bool:
    """One contiguous uint8 stack on the CPU, without autograd: ``NatureCNN._features_of_one``."""
    return (obs.dim() == 4 and obs.shape[0] == 1 and obs.dtype == torch.uint8 and obs.device.type == "cpu"
            and obs.is_contiguous() and not torch.is_grad_enabled())


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


def _conv_relu(x: torch.Tensor, conv: nn.Conv2d, weight: torch.Tensor | None = None) -> torch.Tensor:
    """relu(conv(x)) (with ``weight`` in place of the layer's own, if given) without the Module
    call (and the Sequential around it): 47-64 µs less per batch-1 NatureCNN forward pass here,
    where DQN picks an action in ~1.1 ms. The ReLU runs in place on the fresh convolution output
    (the convolution's backward does not need its output): no second activation-sized buffer."""
    weight = conv.weight if weight is None else weight
    return F.conv2d(x, weight, conv.bias, conv.stride, conv.padding, conv.dilation, conv.groups).relu_()


def _dense(x: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """``layer(x)``; differentiable through ``_Dense``, whose backward can write the weight
    gradient in place (``weight_gradients_into``)."""
    if torch.is_grad_enabled() and (x.requires_grad or layer.weight.requires_grad or layer.bias.requires_grad):
        return _Dense.apply(x, layer.weight, layer.bias)
    return _dense_product(x, layer.weight, layer.bias)


def _dense_product(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """x Wᵀ + b. For 8-32 rows on the CPU it is computed as (W xᵀ + b)ᵀ, a transposed view of the
    same values: MKL runs x Wᵀ for the 3136->512 layer at 8, 16 and 32 rows in 0.49, 0.50 and
    0.71 ms here, and W xᵀ in 0.32, 0.29 and 0.45 ms (rollout and DQN batches; 1 and 256 rows
    cost the same either way)."""
    if x.device.type == "cpu" and 8 <= x.shape[0] <= 32:
        return torch.addmm(bias[:, None], weight, x.t()).t()
    return F.linear(x, weight, bias)


class _Dense(torch.autograd.Function):
    """x Wᵀ + b with the linear layer's gradients, the weight's through ``_weight_grad``."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, weight)
        return _dense_product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, weight = ctx.saved_tensors
        return _linear_backward(grad, x, weight, *ctx.needs_input_grad)


def _linear_backward(grad: torch.Tensor, x: torch.Tensor, weight: torch.Tensor, need_x: bool, need_weight: bool,
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
    itself is skipped, so the 3136x512 layer's 6.4 MB gradient is written once, into memory already
    mapped, instead of into a fresh allocation and then copied: a DQN learning step on Pong is
    0.7-1.6 ms shorter here (23-31 ms; paired medians of three runs). Anyone else would see the
    buffer change under them, so nothing outside such a block is written in place."""
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


class ActivationRecord:
    """The activations of a ``NatureCNN``'s forward passes over one rollout, row by row.

    A2C takes one gradient step per rollout, with the parameters that collected it, so its update's
    forward pass would compute again what the rollout's forward passes computed. Kept here, the
    update backpropagates through them instead (``NatureCNN.forward_recorded``) and skips that
    forward pass, about a third of an A2C update on Atari. ``write`` appends in rollout order, the
    observations too, so ``matches`` can tell whether a batch is the one recorded; rows written past
    ``capacity`` spoil the record until ``clear`` starts the next one. Whoever changes the
    parameters must ``clear`` it: the record cannot see that.
    """

    def __init__(self, encoder: NatureCNN, capacity: int, device: torch.device):
        self.capacity = capacity
        self.slots = [
            torch.empty(capacity, *shape, device=device,
                        memory_format=torch.channels_last if len(shape) == 3 else torch.contiguous_format)
            for shape in encoder.activation_shapes
        ]
        self.obs: torch.Tensor | None = None  # allocated at the first write, in the observations' dtype
        self.count = 0

    def clear(self) -> None:
        self.count = 0

    def write(self, obs: torch.Tensor, activations: list[torch.Tensor]) -> None:
        n = obs.shape[0]
        if self.count + n <= self.capacity:
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
        if obs.element_size() == 1 and obs.shape[1] % 8 == 0:  # compare frames 8 bytes at a time: ~7x faster
            recorded, obs = recorded.view(torch.int64), obs.view(torch.int64)
        return torch.equal(recorded, obs)

    def rows(self, rows: torch.Tensor | None) -> list[torch.Tensor]:
        """The recorded activations, all rows or the ``rows`` indices."""
        if rows is None:
            return self.slots
        return [slot.index_select(0, rows) for slot in self.slots]


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
            return *_linear_backward(grad, x, weight, need_grad_x, True, True), None, None
        grad_x, grad_weight, grad_bias = torch.ops.aten.convolution_backward(
            grad, x, weight, [weight.shape[0]], layer.stride, layer.padding, layer.dilation, False, [0, 0],
            layer.groups, [need_grad_x, True, True],
        )
        return grad_x, grad_weight, grad_bias, None, None


def is_channels_last(t: torch.Tensor) -> bool:
    """A 4-D tensor laid out [B, H, W, C] in memory (and not also plain contiguous, as when C or
    H x W is 1)."""
    return t.dim() == 4 and not t.is_contiguous() and t.is_contiguous(memory_format=torch.channels_last)


def to_channels_last(obs: torch.Tensor) -> torch.Tensor:
    """A [B, C, H, W] batch with the same values in channels-last memory. On the CPU, uint8 stacks of
    up to 4 frames are interleaved by OpenCV an image at a time: 7 ms for 1024 Atari stacks here,
    against 22 ms for torch's reorder."""
    if obs.is_contiguous(memory_format=torch.channels_last):
        return obs
    if obs.device.type == "cpu" and obs.dtype == torch.uint8 and obs.is_contiguous() and obs.shape[1] <= 4 and obs.numel():
        images = obs.numpy()
        out = np.empty((obs.shape[0], *obs.shape[2:], obs.shape[1]), dtype=np.uint8)
        for image, dst in zip(images, out):
            cv2.merge(list(image), dst=dst)
        return torch.from_numpy(out).permute(0, 3, 1, 2)
    return obs.contiguous(memory_format=torch.channels_last)


def is_image_space(space: gym.Space) -> bool:
    return isinstance(space, gym.spaces.Box) and len(space.shape) == 3 and space.dtype == np.uint8


def make_encoder(
    obs_space: gym.Space, kind: str = "auto", hidden_sizes: tuple[int, ...] = (64, 64), activation: str = "tanh"
) -> nn.Module:
    """MLP for Box vectors (and Discrete, one-hot), NatureCNN for uint8 [C, H, W] frames."""
    if kind == "auto":
        kind = "cnn" if is_image_space(obs_space) else "mlp"
    if isinstance(obs_space, gym.spaces.Discrete) and kind == "mlp":
        return MLP(int(obs_space.n), hidden_sizes, activation, one_hot=True)
    if not isinstance(obs_space, gym.spaces.Box):
        raise UnsupportedSpaceError(
            f"observation space {obs_space} is not supported; rlkit encodes Box and Discrete "
            "observations. Flatten Dict/Tuple spaces first (gymnasium.wrappers.FlattenObservation)."
        )
    if kind == "cnn":
        if len(obs_space.shape) != 3 or obs_space.shape[0] > obs_space.shape[-1]:
            raise UnsupportedSpaceError(
                f"the CNN policy needs [C, H, W] image observations, got shape {obs_space.shape}; "
                "for Atari use an ALE id (preprocessed for you), otherwise move channels first."
            )
        return NatureCNN(obs_space.shape)
    if kind == "mlp":
        return MLP(int(np.prod(obs_space.shape)), hidden_sizes, activation)
    raise UnsupportedSpaceError(f"policy kind {kind!r} unknown; choose 'auto', 'mlp' or 'cnn'.")



class TwinMLP(nn.Module):
    """Two same-shaped MLPs (actor and critic trunks) evaluated together with batched matmuls.

    Same maths as two ``MLP``s, but each layer is one ``baddbmm`` over a stacked [2, in, out]
    weight: half the kernel launches and none of the per-module call overhead, which is most of the
    cost of a 64x64 network at rollout time. ``forward`` returns features of shape [2, B, out].
    """

    def __init__(self, in_dim: int, hidden_sizes: tuple[int, ...] = (64, 64), activation: str = "tanh"):
        super().__init__()
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for size in hidden_sizes:
            weight = torch.empty(2, size, in_dim)
            for w in weight:
                nn.init.orthogonal_(w, math.sqrt(2))
            self.weights.append(nn.Parameter(weight.transpose(1, 2).contiguous()))  # [2, in, out]
            self.biases.append(nn.Parameter(torch.zeros(2, 1, size)))
            in_dim = size
        self.activation = ACTIVATION_FUNCTIONS[activation]
        self.out_dim = in_dim
        # Iterating a ParameterList costs ~12 µs a pass; the Parameter objects never change
        # (.to() and load_state_dict() update them in place), so keep them in a plain list.
        self._layers = list(zip(self.weights, self.biases))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float().flatten(1).unsqueeze(0).expand(2, -1, -1)
        for weight, bias in self._layers:
            x = self.activation(torch.baddbmm(bias, x, weight))
        return x
