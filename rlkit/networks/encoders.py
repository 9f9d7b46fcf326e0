"""Observation encoders: MLP for vectors, NatureCNN for stacked frames."""
from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlkit.errors import UnsupportedSpaceError
from rlkit.fast.cnn import ActivationRecord, conv_relu, dense, features_of_one, is_one_stack_to_act_on, to_channels_last

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
    """Mnih et al. 2015: 3 conv layers + 512-unit linear layer over [C, 84, 84] uint8 frames.

    Each layer is followed by a ReLU. ``forward`` runs them through ``rlkit.fast.cnn``: the same
    maths as applying ``convs`` and ``linear`` in turn to ``obs / 255``, computed in ways a CPU runs
    faster (tested against the modules).
    """

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
        # channels-last convolutions: the same fp32 maths, faster forward and backward passes on a
        # CPU with oneDNN, and the layout tensor cores prefer
        self.convs.to(memory_format=torch.channels_last)
        # the four weight layers, each followed by a ReLU, in order
        self.layers: list[nn.Module] = [self.convs[0], self.convs[2], self.convs[4], self.linear[0]]

    @staticmethod
    def _prepare(obs: torch.Tensor) -> torch.Tensor:
        """Frames as float32 in channels-last memory, still in [0, 255]: the 1/255 scaling is
        folded into conv1's weights (``_conv1_weight``)."""
        # reorder while still uint8 (a quarter of the bytes), then convert in the new layout
        return to_channels_last(obs).float()

    def _conv1_weight(self) -> torch.Tensor:
        """conv1(x / 255) = conv1 with weights / 255 applied to x: a pass over conv1's 8K weights
        instead of one over every input value."""
        return self.layers[0].weight / 255.0

    def _activations(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every layer's output after its ReLU (the third flattened), the last being the features,
        for frames ``x`` from ``_prepare``."""
        conv1, conv2, conv3, linear = self.layers
        h1 = conv_relu(x, conv1, self._conv1_weight())
        h2 = conv_relu(h1, conv2)
        h3 = conv_relu(h2, conv3).flatten(1)
        return [h1, h2, h3, torch.relu(dense(h3, linear))]

    def forward(self, obs: torch.Tensor, record: ActivationRecord | None = None) -> torch.Tensor:
        """Features of a batch of [C, H, W] frames; with ``record``, its activations are kept."""
        if record is None and is_one_stack_to_act_on(obs):
            return features_of_one(self, obs)
        activations = self._activations(self._prepare(obs))
        if record is not None:
            record.write(obs, activations)
        return activations[-1]


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
        # Iterating a ParameterList is slow in a hot loop; the Parameter objects never change
        # (.to() and load_state_dict() update them in place), so keep them in a plain list.
        self._layers = list(zip(self.weights, self.biases))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float().flatten(1).unsqueeze(0).expand(2, -1, -1)
        for weight, bias in self._layers:
            x = self.activation(torch.baddbmm(bias, x, weight))
        return x
