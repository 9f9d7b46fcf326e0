"""The seam between the core and the ``envs`` package.

``envs`` builds environments and imports rlkit's errors and types; rlkit's modules do not import
``envs``. Instead ``envs`` registers its ``make_vec_env`` here when it is imported, and the core
builds training and evaluation envs through ``make_vec_env`` below. When nothing has registered yet,
the default provider, the ``envs`` package, is loaded by name (``DEFAULT_PROVIDER``).
"""
from __future__ import annotations

import importlib
from typing import Any, Callable

from rlkit.errors import ConfigError

DEFAULT_PROVIDER = "envs"
_maker: Callable[..., Any] | None = None
_single_maker: Callable[..., Any] | None = None


def register_env_maker(maker: Callable[..., Any], single: Callable[..., Any] | None = None) -> None:
    """Install the function that builds vector envs: ``maker(env, num_envs, *, seed, backend,
    vectorization, training, atari_protocol) -> VecEnv``, and the one that builds a single
    ``gymnasium.Env``: ``single(env, *, training, atari_protocol, render_mode)`` (videos render one)."""
    global _maker, _single_maker
    _maker = maker
    _single_maker = single


def make_vec_env(env: Any, num_envs: int, **options: Any) -> Any:
    """A vector env from the registered maker (``envs.make_vec_env``)."""
    _load_provider()
    return _maker(env, num_envs, **options)


def make_env(env: Any, **options: Any) -> Any:
    """One ``gymnasium.Env`` from the registered maker (``envs.make_env``), e.g. with
    ``render_mode="rgb_array"`` for a video."""
    _load_provider()
    if _single_maker is None:
        raise ConfigError("the registered env maker builds no single envs; pass single= to register_env_maker().")
    return _single_maker(env, **options)


def _load_provider() -> None:
    if _maker is None:
        try:
            importlib.import_module(DEFAULT_PROVIDER)  # registers itself on import
        except ImportError as exc:
            raise ConfigError(f"no env maker is registered and {DEFAULT_PROVIDER!r} cannot be imported ({exc}); "
                              "install rlkit with its envs package or call register_env_maker().") from exc
    if _maker is None:
        raise ConfigError(f"{DEFAULT_PROVIDER!r} did not register an env maker; call rlkit.vec_env.register_env_maker().")
