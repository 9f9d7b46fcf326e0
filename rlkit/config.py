"""Config dataclasses and the helpers that turn them into CLI flags and JSON.

Field names follow Stable-Baselines3 where SB3 has the same concept, so settings carry across.
Each field's trailing comment is its documentation: ``rlkit train AGENT --help`` prints it, and a
``Literal[...]`` type gives the allowed values (checked on every config, listed in the help).
Config modules import no torch, so the CLI's help starts fast.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import functools
import importlib.util
import inspect
import io
import re
import tokenize
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, Optional, TypeVar

from rlkit.errors import ConfigError, UnknownConfigKeyError

C = TypeVar("C")

PolicyKind = Literal["auto", "mlp", "cnn"]
Activation = Literal["tanh", "relu", "elu", "gelu"]  # the keys of rlkit.networks.encoders.ACTIVATIONS


@dataclass
class AgentConfig:
    """Fields every agent has: randomness, device and threads."""

    step_unit: ClassVar[str] = "the agent's steps"  # what total_steps counts, for the CLI's help
    seed: int = 0  # seeds torch, NumPy and the envs; the end-of-run evaluation runs on seed + 10000
    device: str = "auto"  # "auto" takes CUDA when present; "cpu", "cuda", "cuda:1", ...
    torch_threads: int = 0  # 0 = auto: 1 for MLP policies (env stepping needs the other core), all for CNNs

    def validate(self) -> None:
        for name, choices in field_choices(type(self)).items():
            value = getattr(self, name)
            check(value in choices, f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
        # Checked here, not only where the envs are seeded: set_seed and NumPy's generator run first
        # and fail on a negative seed with a bare ValueError.
        check(self.seed >= 0, f"seed must be a non-negative integer, got {self.seed}; use e.g. seed=0")
        check(self.torch_threads >= 0, f"torch_threads must be >= 0 (0 = auto), got {self.torch_threads}")


@dataclass
class EnvConfig(AgentConfig):
    """The config group of agents that step Gymnasium envs: how many, and on which backend.
    Families without an env (behaviour cloning from a file, SeqGAN) build on ``AgentConfig`` alone,
    and the CLI asks ``--env`` only of configs in this group."""

    step_unit: ClassVar[str] = "env steps over all envs"
    num_envs: int = 1  # envs stepped in parallel (SB3: n_envs)
    env_backend: Literal["gymnasium", "envpool", "ale"] = "gymnasium"  # who steps the envs; "ale": ALE's own vector env (Atari ids)
    vectorization: Literal["sync", "async"] = "sync"  # gymnasium backend: in this process, or one process per env
    atari_protocol: Literal["", "v5", "noframeskip"] = ""  # Atari: "v5" (sticky actions) or "noframeskip"; "": the id's own

    def validate(self) -> None:
        super().validate()
        check(self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}")


@dataclass
class OnPolicyConfig(EnvConfig):
    """What PPO, A2C and REINFORCE share: rollouts, the actor-critic network, normalisation."""

    learning_rate: float = 3e-4  # optimiser step size
    n_steps: int = 2048  # steps per env per rollout
    gamma: float = 0.99  # discount factor
    max_grad_norm: Optional[float] = 0.5  # global gradient-norm clip; none: no clipping
    anneal_lr: bool = False  # decay the learning rate linearly to 0 over the run
    normalize_obs: bool = False  # running mean/std of observations (stored in checkpoints)
    normalize_reward: bool = False  # scale rewards by the std of the discounted return
    policy: PolicyKind = "auto"  # network trunk; "auto": CNN for image observations, else MLP
    net_arch: tuple[int, ...] = (64, 64)  # hidden sizes of the MLP trunk
    activation: Activation = "tanh"  # MLP activation
    share_trunk: Optional[bool] = None  # one encoder for actor and critic; none: yes for CNN, no for MLP
    log_std_init: float = 0.0  # initial log std of Gaussian (Box) actions
    numpy_inference: bool = True  # CPU rollouts of small MLP policies run a NumPy copy of the forward pass
    ray_splits_envs: ClassVar[bool] = True  # rollout="ray" splits num_envs over ray_workers actors (A3C: num_envs per worker)
    rollout: Literal["local", "ray"] = "local"  # who steps the envs: this process, or Ray actors (pip install rlkit[ray])
    ray_workers: int = 2  # rollout="ray": Ray actors, each stepping num_envs / ray_workers of the envs
    ray_address: str = ""  # rollout="ray": the cluster to join (HEAD:6379); "": $RAY_ADDRESS if set, else a local cluster

    def validate(self) -> None:
        super().validate()
        check(self.learning_rate > 0, f"learning_rate must be > 0, got {self.learning_rate}")
        check(self.n_steps >= 1, f"n_steps must be >= 1, got {self.n_steps}")
        check(0 < self.gamma <= 1, f"gamma must be in (0, 1], got {self.gamma}")
        check_grad_norm(self.max_grad_norm)
        check(len(self.net_arch) >= 1 and all(h >= 1 for h in self.net_arch), f"net_arch needs positive sizes, got {self.net_arch}")
        check(self.ray_workers >= 1, f"ray_workers must be >= 1, got {self.ray_workers}")
        if self.rollout == "ray" and self.ray_splits_envs:
            check(self.num_envs % self.ray_workers == 0,
                  f"num_envs ({self.num_envs}) must divide evenly over ray_workers ({self.ray_workers}): each Ray actor "
                  f"steps num_envs / ray_workers envs; e.g. num_envs={self.ray_workers * max(self.num_envs // self.ray_workers, 1)}")
            check(importlib.util.find_spec("ray") is not None,
                  "rollout='ray' needs Ray, which is not installed: pip install rlkit[ray] (or pip install 'ray>=2.9'), "
                  "or use rollout='local'")


def check(condition: bool, message: str) -> None:
    """Raise ConfigError(message) unless condition holds; for validate() methods."""
    if not condition:
        raise ConfigError(message)


def check_grad_norm(max_grad_norm: float | None) -> None:
    """One convention for every agent: a positive norm clips, None does not clip."""
    check(max_grad_norm is None or max_grad_norm > 0,
          f"max_grad_norm must be > 0, or None (--max-grad-norm none) for no clipping; got {max_grad_norm}")


def config_from_kwargs(cls: type[C], kwargs: dict[str, Any]) -> C:
    """Build a config dataclass from keywords; an unknown key raises with the closest names."""
    names = [f.name for f in fields(cls)]
    for key in kwargs:
        if key not in names:
            close = difflib.get_close_matches(key, names, n=3)
            hint = f" Did you mean {', '.join(close)}?" if close else ""
            raise UnknownConfigKeyError(
                f"{cls.__name__} has no field {key!r}.{hint} Valid fields: {', '.join(names)}."
            )
    hints = typing.get_type_hints(cls)
    values = {k: _coerce(v, hints[k], k) for k, v in kwargs.items()}
    config = cls(**values)
    config.validate()
    return config


def config_to_dict(config: Any) -> dict[str, Any]:
    """JSON-safe dict (tuples become lists)."""
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in dataclasses.asdict(config).items()}


def _coerce(value: Any, hint: Any, name: str) -> Any:
    """Loose JSON/CLI values to the field's type: lists to tuples, ints to floats."""
    base, optional = _unwrap_optional(hint)
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{name} may not be None.")
    if typing.get_origin(base) is Literal:
        if value not in typing.get_args(base):
            raise ConfigError(f"{name} must be one of {', '.join(map(repr, typing.get_args(base)))}; got {value!r}.")
        return value
    if typing.get_origin(base) is tuple and isinstance(value, (list, tuple)):
        return tuple(value)
    if base is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if base in (int, float, str, bool) and not isinstance(value, base):
        raise ConfigError(f"{name} must be {base.__name__}, got {value!r} ({type(value).__name__}).")
    return value


def _unwrap_optional(hint: Any) -> tuple[Any, bool]:
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        return args[0], len(args) < len(typing.get_args(hint))
    return hint, False


def _parse_text(text: str, hint: Any, name: str) -> Any:
    base, optional = _unwrap_optional(hint)
    if optional and text.lower() in ("none", "null", ""):
        return None
    if typing.get_origin(base) is Literal:
        if text not in typing.get_args(base):
            raise ConfigError(f"--{name.replace('_', '-')}: {text!r} is not one of {_choices_text(base)}.")
        return text
    try:
        if base is bool:
            if text.lower() in ("1", "true", "yes", "on"):
                return True
            if text.lower() in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if typing.get_origin(base) is tuple:
            (item,) = {a for a in typing.get_args(base) if a is not Ellipsis}
            return tuple(item(x) for x in text.split(",") if x.strip())
        return base(text)
    except ValueError:
        raise ConfigError(f"--{name.replace('_', '-')}: cannot read {text!r} as {getattr(base, '__name__', base)}.") from None


def field_choices(cls: type) -> dict[str, tuple]:
    """The allowed values of each ``Literal`` field."""
    hints = typing.get_type_hints(cls)
    return {f.name: typing.get_args(base) for f in fields(cls)
            if typing.get_origin(base := _unwrap_optional(hints[f.name])[0]) is Literal}


@functools.cache
def field_docs(cls: type) -> dict[str, str]:
    """Each field's one-line documentation: the comment after it in the class body. A subclass
    that overrides a default without a comment keeps its base class's text."""
    docs: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            lines = inspect.getsource(klass).splitlines(keepends=True)
        except (OSError, TypeError):  # defined where no source is kept (an interactive session)
            continue
        own = klass.__dict__.get("__annotations__", {})
        # tokenize, not a regex over the text: a '#' inside a string default is no comment
        for token in tokenize.generate_tokens(io.StringIO("".join(lines)).readline):
            if token.type == tokenize.COMMENT:
                match = re.match(r"\s*(\w+)\s*:", token.line)
                if match and match.group(1) in own:
                    docs[match.group(1)] = token.string.lstrip("#").strip()
    return docs


def _field_default(f: dataclasses.Field) -> Any:
    return f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = (),
                         defaults: dict[str, Any] | None = None) -> None:
    """One ``--field-name`` flag per dataclass field, defaulting to 'not given', with the field's
    documentation and default (``defaults`` replaces some: a preset's values) as its help."""
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    defaults = defaults or {}
    group = parser.add_argument_group(f"{cls.__name__} (every field is a flag)")
    for f in fields(cls):
        if f.name in skip:
            continue
        default = flag_text(defaults.get(f.name, _field_default(f)))
        source = " (preset)" if f.name in defaults else ""
        doc = docs.get(f.name, "").replace("%", "%%")  # argparse formats help with %
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=argparse.SUPPRESS,
            metavar=_metavar(hints[f.name]),
            help=f"{doc + '; ' if doc else ''}default{source}: {default}",
        )


def flag_text(value: Any) -> str:
    """A value as it is typed on the command line."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (tuple, list)):
        return ",".join(map(str, value))
    return repr(value) if value == "" else str(value)


def _choices_text(base: Any) -> str:
    return "{" + ",".join(repr(c) if c == "" else str(c) for c in typing.get_args(base)) + "}"


def _metavar(hint: Any) -> str:
    base, optional = _unwrap_optional(hint)
    if typing.get_origin(base) is Literal:
        name = _choices_text(base)
    elif typing.get_origin(base) is tuple:
        name = "A,B,..."
    elif base is bool:
        name = "true|false"
    else:
        name = getattr(base, "__name__", str(base)).upper()
    return name + ("|none" if optional else "")


def config_kwargs_from_args(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields the user gave on the command line, parsed to their types."""
    hints = typing.get_type_hints(cls)
    given = vars(args)
    return {f.name: _parse_text(given[f.name], hints[f.name], f.name) for f in fields(cls) if f.name in given}
