"""The seam between the core and the ``envs`` package.

``envs`` builds environments and imports rlkit's errors and types; rlkit never imports ``envs``.
Instead ``envs`` registers its ``make_vec_env`` here when it is imported (``agents`` imports it), and
the core builds training and evaluation envs through ``make_vec_env`` below.
"""
from __future__ import annotations

from typing import Any, Callable

from rlkit.errors import ConfigError

_maker: Callable[..., Any] | None = None


def register_env_maker(maker: Callable[..., Any]) -> None:
    """Install the function that builds vector envs: ``maker(env, num_envs, *, seed, backend,
    vectorization, training, atari_protocol) -> VecEnv``."""
    global _maker
    _maker = maker


def make_vec_env(env: Any, num_envs: int, **options: Any) -> Any:
    """A vector env from the registered maker (``envs.make_vec_env``)."""
    if _maker is None:
        raise ConfigError("no env maker is registered; `import envs` (importing `agents` does) before building agents on envs.")
    return _maker(env, num_envs, **options)
