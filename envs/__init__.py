"""Environment construction: ``make_env`` and ``make_vec_env`` for any Gymnasium id, Env or factory.

Atari ids (``ALE/<Game>-v5`` or ``<Game>NoFrameskip-v4``) get the standard preprocessing
(``envs.atari``). ``backend="envpool"`` runs the same envs in EnvPool, and ``backend="ale"`` Atari
ids in ale-py's C++ vector env, with the same observation shape and dtype and the same episode
statistics.
"""
from __future__ import annotations

import difflib
import signal
from typing import Any, Callable, Union

import gymnasium as gym

from envs.atari import ATARI_PROTOCOLS, make_atari_env, parse_atari_id, silence_ale_banner
from envs.vector import AleVecEnv, EnvPoolVecEnv, GymnasiumVecEnv, VecEnv, as_seed
from rlkit.errors import ConfigError, UnknownEnvError
from rlkit.utils import usable_cores
from rlkit.vec_env import register_env_maker

BACKENDS = ("gymnasium", "envpool", "ale")

EnvSpec = Union[str, gym.Env, gym.vector.VectorEnv, Callable[[], gym.Env]]

__all__ = ["EnvSpec", "VecEnv", "make_env", "make_vec_env", "is_atari", "env_name"]


def is_atari(env: EnvSpec) -> bool:
    return isinstance(env, str) and parse_atari_id(env) is not None


def env_name(env: EnvSpec) -> str:
    """A short name for run directories and checkpoints."""
    if isinstance(env, str):
        return env
    if isinstance(env, (gym.Env, gym.vector.VectorEnv)) and env.spec is not None:
        return env.spec.id
    return getattr(env, "__name__", type(env).__name__)


def _unknown_env(env_id: str, cause: Exception) -> UnknownEnvError:
    import ale_py

    gym.register_envs(ale_py)
    # Compared lowercased: difflib counts a case slip ('ALE/pong-v5') as a mismatch, and the id
    # that differs only in case is the likeliest fix (it comes first, with a ratio of 1).
    by_lower = {i.lower(): i for i in gym.registry.keys()}
    close = [by_lower[c] for c in difflib.get_close_matches(env_id.lower(), list(by_lower), n=3)]
    hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
    return UnknownEnvError(
        f"no environment {env_id!r} is registered ({cause}).{hint} Use a Gymnasium id such as "
        "'CartPole-v1' or 'ALE/Pong-v5', install the package that registers it "
        "(e.g. `pip install rlkit[mujoco]`), or pass a gymnasium.Env or a factory."
    )


def make_env(
    env: EnvSpec,
    *,
    training: bool = True,
    atari_protocol: str | None = None,
    render_mode: str | None = None,
) -> gym.Env:
    """One env that records episode statistics (``info["episode"]``), ready for a vector env.

    ``training=False`` gives the evaluation version: on Atari, no life-loss terminals and no reward
    clipping.
    """
    if isinstance(env, str):
        if is_atari(env):
            # the id has an Atari shape, but the game may not exist or be misspelt ('ALE/pong-v5')
            try:
                return make_atari_env(env, training=training, protocol=atari_protocol, render_mode=render_mode)
            except gym.error.UnregisteredEnv as exc:
                raise _unknown_env(env, exc) from exc
        try:
            made = gym.make(env, render_mode=render_mode)
        except gym.error.Error as exc:
            raise _unknown_env(env, exc) from exc
        return gym.wrappers.RecordEpisodeStatistics(made)
    if isinstance(env, gym.vector.VectorEnv):
        raise ConfigError("make_env builds one env; pass a VectorEnv to make_vec_env instead.")
    made = env if isinstance(env, gym.Env) else env()
    if not isinstance(made, gym.Env):
        raise ConfigError(
            f"an env factory must return a gymnasium.Env, got {type(made).__name__}; "
            "pass an env id, a gymnasium.Env or a zero-argument function that builds one."
        )
    if not _has_wrapper(made, gym.wrappers.RecordEpisodeStatistics):
        made = gym.wrappers.RecordEpisodeStatistics(made)
    return made


def _has_wrapper(env: gym.Env, wrapper: type) -> bool:
    while isinstance(env, gym.Wrapper):
        if isinstance(env, wrapper):
            return True
        env = env.env
    return False


def make_vec_env(
    env: EnvSpec,
    num_envs: int = 1,
    *,
    seed: int | None = None,
    backend: str = "gymnasium",
    vectorization: str = "sync",
    training: bool = True,
    atari_protocol: str | None = None,
) -> VecEnv:
    """``num_envs`` copies of ``env`` behind the ``VecEnv`` interface, seeded seed, seed+1, ...

    backend: "gymnasium" (Sync/AsyncVectorEnv, any env), "envpool" (ids EnvPool knows) or "ale"
    (Atari ids, ale-py's C++ vector env: the fastest at one env here).
    vectorization: for the gymnasium backend, "sync" (one process) or "async" (one per env).
    """
    if num_envs < 1:
        raise ConfigError(f"num_envs must be >= 1, got {num_envs}.")
    seed = as_seed(seed, num_envs)  # before any backend is built
    if atari_protocol is not None and atari_protocol not in ATARI_PROTOCOLS:
        raise ConfigError(f"atari_protocol {atari_protocol!r} unknown; choose one of {sorted(ATARI_PROTOCOLS)}.")
    if backend == "envpool":
        vec = _make_envpool(env, num_envs, seed, training, atari_protocol)
    elif backend == "ale":
        vec = _make_ale(env, num_envs, training, atari_protocol)
    elif backend == "gymnasium":
        vec = _make_gymnasium(env, num_envs, vectorization, training, atari_protocol)
    else:
        raise ConfigError(f"backend {backend!r} unknown; choose one of {BACKENDS}.")
    vec.reset(seed=seed)
    return vec


def _make_gymnasium(env: EnvSpec, num_envs: int, vectorization: str, training: bool, protocol: str | None) -> VecEnv:
    if isinstance(env, gym.vector.VectorEnv):
        if env.num_envs != num_envs:
            raise ConfigError(f"the VectorEnv has {env.num_envs} envs but num_envs={num_envs}; make them agree.")
        return GymnasiumVecEnv(gym.wrappers.vector.RecordEpisodeStatistics(env))
    if isinstance(env, gym.Env) and num_envs > 1:
        raise ConfigError(
            "one gymnasium.Env instance cannot be copied into several envs; pass its id or a "
            "zero-argument factory for num_envs > 1."
        )
    def factory() -> gym.Env:
        return make_env(env, training=training, atari_protocol=protocol)

    first = factory()  # builds one here, so a bad id fails in this process with a clear error
    if vectorization == "sync":
        return GymnasiumVecEnv(gym.vector.SyncVectorEnv([lambda: first] + [factory] * (num_envs - 1)))
    first.close()
    if vectorization == "async":
        def worker_factory() -> gym.Env:
            # Ctrl-C reaches the whole process group and schedulers send SIGTERM to every process:
            # the trainer stops at a safe point and closes the workers itself, so a worker must not
            # die first (the next step would crash the run before it saves)
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            return factory()

        return GymnasiumVecEnv(gym.vector.AsyncVectorEnv([worker_factory] * num_envs))
    raise ConfigError(f"vectorization {vectorization!r} unknown; choose 'sync' or 'async'.")


def _make_envpool(env: EnvSpec, num_envs: int, seed: int | None, training: bool, protocol: str | None) -> VecEnv:
    try:
        import envpool
    except ImportError as exc:
        raise ConfigError("backend='envpool' needs EnvPool: `pip install rlkit[envpool]`.") from exc
    if not isinstance(env, str):
        raise ConfigError("backend='envpool' takes an env id; use backend='gymnasium' for Env instances or factories.")
    kwargs: dict[str, Any] = {}
    parsed = parse_atari_id(env)
    task_id = env
    if parsed is not None:
        game, own_protocol = parsed
        task_id = f"{game}-v5"
        kwargs = dict(
            episodic_life=training,
            reward_clip=training,
            repeat_action_probability=ATARI_PROTOCOLS[protocol or own_protocol],
            noop_max=30,
            frame_skip=4,
            stack_num=4,
            img_height=84,
            img_width=84,
            use_fire_reset=True,
            max_episode_steps=27_000,  # 108k frames, as ALE v5
        )
    if task_id not in envpool.list_all_envs():
        close = difflib.get_close_matches(task_id, envpool.list_all_envs(), n=3)
        raise UnknownEnvError(
            f"EnvPool has no env {task_id!r}" + (f"; did you mean {close}?" if close else "")
            + " Use backend='gymnasium' for envs EnvPool does not ship."
        )
    pool = envpool.make(
        task_id, env_type="gymnasium", num_envs=num_envs, batch_size=num_envs, seed=seed or 0, **kwargs
    )
    return EnvPoolVecEnv(pool, atari=parsed is not None)


def _make_ale(env: EnvSpec, num_envs: int, training: bool, protocol: str | None) -> VecEnv:
    """ale-py's ``AtariVectorEnv`` with the preprocessing of ``envs.atari`` (see ``AleVecEnv``)."""
    import ale_py
    from ale_py.vector_env import AtariVectorEnv

    parsed = parse_atari_id(env) if isinstance(env, str) else None
    if parsed is None:
        raise ConfigError(
            f"backend='ale' runs Atari ids ('ALE/<Game>-v5' or '<Game>NoFrameskip-v4'), got {env!r}; "
            "use backend='gymnasium' for other envs."
        )
    game, own_protocol = parsed
    gym.register_envs(ale_py)
    try:
        rom = gym.spec(f"ALE/{game}-v5").kwargs["game"]
    except gym.error.Error as exc:
        raise _unknown_env(env, exc) from exc
    silence_ale_banner()  # this may be the process's first emulator, the one that prints the banner
    envs = AtariVectorEnv(
        rom, num_envs,
        num_threads=min(num_envs, usable_cores()),
        repeat_action_probability=ATARI_PROTOCOLS[protocol or own_protocol],
        max_num_frames_per_episode=108_000,  # as ALE v5 (27k agent steps)
        img_height=84, img_width=84, grayscale=True, stack_num=4, frameskip=4, maxpool=True, noop_max=30,
        use_fire_reset=True,
        episodic_life=False,  # it would restart the game at each life loss
        life_loss_info=False,  # life losses are read from info["lives"] by the adapter (see AleVecEnv)
        reward_clipping=False,  # clipped by the adapter, which needs the raw rewards for its statistics
    )
    action_set = envs.ale.get_action_set()
    resume = action_set.index(ale_py.Action.FIRE) if ale_py.Action.FIRE in action_set else 0
    return AleVecEnv(envs, life_loss_terminals=training, clip_rewards=training, resume_action=resume)


register_env_maker(make_vec_env, single=make_env)  # the core builds its envs through this (rlkit never imports envs)
