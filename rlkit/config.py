"""Config dataclasses and the helpers that turn them into CLI flags and JSON.

Field names follow Stable-Baselines3 where SB3 has the same concept, so settings carry across.
"""
from __future__ import annotations

import argparse
import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from rlkit.errors import ConfigError, UnknownConfigKeyError

C = TypeVar("C")


@dataclass
class AgentConfig:
    """Fields every agent has: randomness, device and threads."""

    seed: int = 0
    device: str = "auto"  # "auto" takes CUDA when present; "cpu", "cuda", "cuda:1", ...
    torch_threads: int = 0  # 0 = auto: 1 for MLP policies (env stepping needs the other core), all for CNNs

    def validate(self) -> None:
        # Checked here, not only where the envs are seeded: set_seed and NumPy's generator run first
        # and fail on a negative seed with a bare ValueError.
        check(self.seed >= 0, f"seed must be a non-negative integer, got {self.seed}; use e.g. seed=0")
        check(self.torch_threads >= 0, f"torch_threads must be >= 0 (0 = auto), got {self.torch_threads}")


@dataclass
class EnvConfig(AgentConfig):
    """The config group of agents that step Gymnasium envs: how many, and on which backend.
    Families without an env (behaviour cloning from a file, SeqGAN) build on ``AgentConfig`` alone,
    and the CLI asks ``--env`` only of configs in this group."""

    num_envs: int = 1  # SB3: n_envs
    env_backend: str = "gymnasium"  # or "envpool", or "ale" (Atari ids)
    vectorization: str = "sync"  # gymnasium backend: "sync" or "async" (one process per env)
    atari_protocol: str = ""  # "", "v5" (sticky actions) or "noframeskip"; "" takes the id's own

    def validate(self) -> None:
        super().validate()
        check(self.num_envs >= 1, f"num_envs must be >= 1, got {self.num_envs}")
        check(self.env_backend in ("gymnasium", "envpool", "ale"), f"env_backend must be 'gymnasium', 'envpool' or 'ale', got {self.env_backend!r}")
        check(self.vectorization in ("sync", "async"), f"vectorization must be 'sync' or 'async', got {self.vectorization!r}")
        check(self.atari_protocol in ("", "v5", "noframeskip"), f"atari_protocol must be '', 'v5' or 'noframeskip', got {self.atari_protocol!r}")


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


def add_config_arguments(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """One ``--field-name`` flag per dataclass field, defaulting to 'not given'."""
    hints = typing.get_type_hints(cls)
    group = parser.add_argument_group(f"{cls.__name__} (every field is a flag)")
    for f in fields(cls):
        if f.name in skip:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        group.add_argument(
            f"--{f.name.replace('_', '-')}",
            dest=f.name,
            default=argparse.SUPPRESS,
            metavar=_metavar(hints[f.name]),
            help=f"default: {default}",
        )


def _metavar(hint: Any) -> str:
    base, optional = _unwrap_optional(hint)
    name = "A,B,..." if typing.get_origin(base) is tuple else getattr(base, "__name__", str(base)).upper()
    return name + ("|none" if optional else "")


def config_kwargs_from_args(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    """The fields the user gave on the command line, parsed to their types."""
    hints = typing.get_type_hints(cls)
    given = vars(args)
    return {f.name: _parse_text(given[f.name], hints[f.name], f.name) for f in fields(cls) if f.name in given}
