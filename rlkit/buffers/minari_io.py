"""Demonstrations to and from local Minari datasets (``pip install rlkit[minari]``).

Minari (Farama's format for offline-RL datasets) keeps the same layout as ``Demonstrations``: per
episode, T actions, rewards, terminations and truncations and T + 1 observations (the final one
included), so a round trip leaves every array as it was. Minari is imported only here, when one of
these functions runs. Nothing is ever downloaded: ``from_minari`` reads datasets already under
``MINARI_DATASETS_PATH`` (default ``~/.minari/datasets``) and says so when one is not there.
"""
from __future__ import annotations

import inspect
import shutil
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from rlkit.buffers.demonstrations import Demonstrations, describe_space
from rlkit.errors import DemonstrationsError, UnsupportedSpaceError

INSTALL = "pip install 'rlkit[minari]' (Minari with its HDF5 storage)"


def _minari() -> Any:
    try:
        import minari
    except ImportError as exc:
        raise DemonstrationsError(f"Minari is not installed ({exc}); {INSTALL}.") from exc
    return minari


def dataset_path(dataset_id: str) -> Path:
    """Where Minari keeps (or would keep) the dataset: ``$MINARI_DATASETS_PATH/<id>``."""
    from minari.storage.datasets_root_dir import get_dataset_path

    return Path(get_dataset_path(dataset_id))


def check_dataset_id(dataset_id: str, exists: bool = False) -> None:
    """Raise ``DemonstrationsError`` unless ``dataset_id`` is a well-formed Minari id
    (``(namespace/)name-v<N>``) that is free locally (``exists=False``) or present (``exists=True``)."""
    _minari()
    from minari.dataset.minari_dataset import parse_dataset_id

    try:
        parse_dataset_id(dataset_id)
    except (ValueError, TypeError):  # TypeError: minari's parser on an id without its -v<N>
        raise DemonstrationsError(
            f"{dataset_id!r} is not a Minari dataset id; use (namespace/)name-v<N>, e.g. "
            "rlkit/cartpole/expert-v0.") from None
    path = dataset_path(dataset_id)
    if exists and not (path / "data").is_dir():
        raise DemonstrationsError(
            f"Minari dataset {dataset_id!r} is not present locally (looked in {path}); rlkit reads local datasets "
            "only and never downloads one. Fetch it yourself where there is network access (`minari download "
            f"{dataset_id}`) and copy it there, or set MINARI_DATASETS_PATH to the folder that holds it.")
    if not exists and path.exists():
        raise DemonstrationsError(
            f"a Minari dataset {dataset_id!r} already exists at {path}; pick another id or version (-v<N+1>), "
            f"or delete it first (`minari delete {dataset_id}`).")


def to_minari(
    demos: Demonstrations,
    dataset_id: str,
    env: str | None = None,
    *,
    algorithm_name: str | None = None,
    author: str | None = None,
    author_email: str | None = None,
    code_permalink: str | None = None,
    description: str | None = None,
) -> Path:
    """Write ``demos`` as a new local Minari dataset and return its folder.

    ``env``: the Gymnasium id the episodes come from, stored as the dataset's env spec so that
    ``MinariDataset.recover_environment()`` rebuilds it; left out for Atari ids, whose observations
    are rlkit's preprocessed frames rather than the registered env's. Observations are stored
    losslessly (no JPEG encoding of image spaces)."""
    minari = _minari()
    from minari.data_collector import EpisodeBuffer
    from rlkit.env_ids import parse_atari_id

    check_dataset_id(dataset_id)
    for space in (demos.observation_space, demos.action_space):
        describe_space(space)  # Box, Discrete or MultiDiscrete, as demonstrations hold
    rows = demos.step_obs_rows()
    starts = np.concatenate([[0], np.cumsum(demos.episode_lengths)[:-1]])
    buffers = []
    for start, length in zip(starts, demos.episode_lengths):
        steps = slice(start, start + length)
        first = rows[start]
        buffers.append(EpisodeBuffer(
            observations=demos.obs[first:first + length + 1], actions=demos.actions[steps],
            rewards=demos.rewards[steps], terminations=demos.terminated[steps], truncations=demos.truncated[steps]))
    atari = isinstance(env, str) and parse_atari_id(env) is not None
    if description is None:
        description = (f"{demos.num_episodes} episodes recorded by rlkit from {demos.source or 'an expert'}"
                       + (f" on {env}" if env else "")
                       + (" (rlkit's Atari preprocessing: 4 stacked 84x84 grayscale frames, full games)" if atari else "")
                       + ".")
    options: dict[str, Any] = {}
    if "jpeg_encoding" in inspect.signature(minari.create_dataset_from_buffers).parameters:
        options["jpeg_encoding"] = False  # lossless: the round trip gives the same arrays back
    path = dataset_path(dataset_id)
    try:
        with warnings.catch_warnings():
            # Minari warns for each metadata field left out (author, code_permalink...)
            warnings.filterwarnings("ignore", message=r"`\w+` is set to None", category=UserWarning)
            if atari:  # left out on purpose (see above)
                warnings.filterwarnings("ignore", message="env_spec is None", category=UserWarning)
            minari.create_dataset_from_buffers(
                dataset_id, buffers, env=None if atari else env,
                observation_space=demos.observation_space, action_space=demos.action_space,
                algorithm_name=algorithm_name or f"rlkit: {demos.source or 'expert'}", author=author,
                author_email=author_email, code_permalink=code_permalink, description=description, **options)
    except BaseException as exc:
        shutil.rmtree(path, ignore_errors=True)  # it did not exist before (check_dataset_id): no half dataset
        if isinstance(exc, Exception) and not isinstance(exc, DemonstrationsError):
            raise DemonstrationsError(f"Minari could not write dataset {dataset_id!r} ({type(exc).__name__}: "
                                      f"{exc}); nothing was left at {path}.") from exc
        raise
    return path


def from_minari(dataset_id: str) -> Demonstrations:
    """A local Minari dataset as ``Demonstrations`` (never downloaded: ``DemonstrationsError`` when
    it is not on this machine). Rewards become float32 and terminations/truncations bool, as
    demonstrations hold them; observation and action spaces must be Box, Discrete or MultiDiscrete."""
    minari = _minari()
    check_dataset_id(dataset_id, exists=True)
    try:
        dataset = minari.load_dataset(dataset_id, download=False)
    except FileNotFoundError as exc:  # a race with check_dataset_id, or a folder without its data
        raise DemonstrationsError(f"Minari dataset {dataset_id!r} is not present locally ({exc}); rlkit never "
                                  "downloads datasets.") from None
    except (ValueError, OSError, KeyError) as exc:
        raise DemonstrationsError(f"Minari could not read dataset {dataset_id!r} at {dataset_path(dataset_id)} "
                                  f"({type(exc).__name__}: {exc}).") from None
    observation_space, action_space = dataset.observation_space, dataset.action_space
    try:
        describe_space(observation_space)
        describe_space(action_space)
    except UnsupportedSpaceError as exc:
        raise DemonstrationsError(f"Minari dataset {dataset_id!r}: {exc} Flatten its observations (e.g. "
                                  "gymnasium.spaces.flatten) into a Box to use it.") from None
    parts: dict[str, list[np.ndarray]] = {k: [] for k in ("obs", "actions", "rewards", "terminated", "truncated")}
    lengths = []
    for episode in dataset.iterate_episodes():
        if not isinstance(episode.observations, np.ndarray) or not isinstance(episode.actions, np.ndarray):
            raise DemonstrationsError(f"Minari dataset {dataset_id!r} episode {episode.id} holds "
                                      f"{type(episode.observations).__name__} observations; demonstrations take arrays.")
        steps = len(episode.actions)
        if len(episode.observations) != steps + 1 or not len(episode.rewards) == len(episode.terminations) == \
                len(episode.truncations) == steps:
            raise DemonstrationsError(
                f"Minari dataset {dataset_id!r} episode {episode.id} has {len(episode.observations)} observations, "
                f"{steps} actions, {len(episode.rewards)} rewards, {len(episode.terminations)} terminations and "
                f"{len(episode.truncations)} truncations; a whole episode has one observation more than actions "
                "(its final one) and as many rewards, terminations and truncations as actions.")
        for key, value in (("obs", episode.observations), ("actions", episode.actions), ("rewards", episode.rewards),
                           ("terminated", episode.terminations), ("truncated", episode.truncations)):
            parts[key].append(np.asarray(value))
        lengths.append(steps)
    if not lengths:
        raise DemonstrationsError(f"Minari dataset {dataset_id!r} holds no episodes.")
    return Demonstrations(
        obs=np.concatenate(parts["obs"]), actions=np.concatenate(parts["actions"]),
        rewards=np.concatenate(parts["rewards"]).astype(np.float32, copy=False),
        terminated=np.concatenate(parts["terminated"]).astype(bool, copy=False),
        truncated=np.concatenate(parts["truncated"]).astype(bool, copy=False),
        episode_lengths=np.array(lengths, dtype=np.int64), observation_space=observation_space,
        action_space=action_space, source=f"minari:{dataset_id}")


def local_datasets() -> list[str]:
    """The ids of the Minari datasets on this machine (under ``MINARI_DATASETS_PATH``)."""
    return sorted(_minari().list_local_datasets())


__all__ = ["to_minari", "from_minari", "check_dataset_id", "dataset_path", "local_datasets"]
