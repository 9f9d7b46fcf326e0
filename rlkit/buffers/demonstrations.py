"""Expert demonstrations: whole episodes, saved as ``.npz`` without pickle, iterated in minibatches.

Layout (``E`` episodes, ``T`` steps in all): each episode keeps its observations *and* its final
one, so ``obs`` has ``T + E`` rows and a step's next observation is the row after it (nothing is
stored twice). Stacked image observations (Atari's 4 x 84 x 84 uint8) are saved as frames: the
first stack of each episode whole, then only each step's newest frame, and rebuilt on load.
"""
from __future__ import annotations

import json
import os
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import gymnasium as gym
import numpy as np

from rlkit.errors import CheckpointError, DemonstrationsError, UnsupportedSpaceError

SCHEMA_VERSION = 1
ARRAYS = ("obs", "actions", "rewards", "terminated", "truncated", "episode_lengths")


@dataclass
class Demonstrations:
    """Whole expert episodes. ``obs`` [T + E, *obs_shape] (each episode's observations and its
    final one), ``actions`` [T, *action_shape] (as executed: Box actions within bounds),
    ``rewards`` float32 [T], ``terminated`` / ``truncated`` bool [T], ``episode_lengths`` int64 [E]."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminated: np.ndarray
    truncated: np.ndarray
    episode_lengths: np.ndarray
    observation_space: gym.Space
    action_space: gym.Space
    source: str = ""  # what produced them (an expert's run folder, a Minari dataset id)

    def __post_init__(self) -> None:
        self.episode_lengths = np.asarray(self.episode_lengths, dtype=np.int64)
        steps, episodes = int(self.episode_lengths.sum()), len(self.episode_lengths)
        if episodes == 0:
            raise DemonstrationsError("demonstrations need at least one episode; record some with `rlkit collect`.")
        if (self.episode_lengths < 1).any():
            raise DemonstrationsError("every demonstrated episode needs at least one step.")
        expected = {"obs": steps + episodes, "actions": steps, "rewards": steps, "terminated": steps, "truncated": steps}
        for name, rows in expected.items():
            if len(getattr(self, name)) != rows:
                raise DemonstrationsError(
                    f"{name} has {len(getattr(self, name))} rows, but {episodes} episodes of {steps} steps in all need "
                    f"{rows} (obs holds each episode's final observation too); the data is truncated or mislabelled.")

    # --- what the data is ------------------------------------------------------------------------
    @property
    def num_episodes(self) -> int:
        return len(self.episode_lengths)

    def __len__(self) -> int:
        """The number of transitions (steps)."""
        return int(self.episode_lengths.sum())

    @property
    def episode_returns(self) -> np.ndarray:
        ends = np.cumsum(self.episode_lengths)
        return np.add.reduceat(self.rewards.astype(np.float64), ends - self.episode_lengths)

    def step_obs_rows(self) -> np.ndarray:
        """The row in ``obs`` of each step's observation (step t of episode e is row t + e); the
        next observation is the row after."""
        return np.arange(len(self)) + np.repeat(np.arange(self.num_episodes), self.episode_lengths)

    def episodes(self, count: int) -> "Demonstrations":
        """The first ``count`` episodes."""
        if not 1 <= count <= self.num_episodes:
            raise DemonstrationsError(f"asked for {count} episodes of demonstrations that hold {self.num_episodes}; "
                                      f"pass 1 to {self.num_episodes}.")
        steps = int(self.episode_lengths[:count].sum())
        return Demonstrations(self.obs[:steps + count], self.actions[:steps], self.rewards[:steps],
                              self.terminated[:steps], self.truncated[:steps], self.episode_lengths[:count],
                              self.observation_space, self.action_space, self.source)

    def minibatches(self, batch_size: int, rng: np.random.Generator, shuffle: bool = True,
                    steps: np.ndarray | None = None) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(obs, actions) minibatches over the steps (all, or the given step indices), each step
        once, gathered per batch (a large image dataset is never copied whole)."""
        if batch_size < 1:
            raise DemonstrationsError(f"batch_size must be >= 1, got {batch_size}.")
        steps = np.arange(len(self)) if steps is None else np.asarray(steps)
        order = rng.permutation(steps) if shuffle else steps
        rows = self.step_obs_rows()
        for start in range(0, len(order), batch_size):
            chosen = np.sort(order[start:start + batch_size]) if not shuffle else order[start:start + batch_size]
            yield self.obs[rows[chosen]], self.actions[chosen]

    def check_spaces(self, observation_space: gym.Space, action_space: gym.Space, what: str = "the env") -> None:
        """Raise ``DemonstrationsError`` unless these demonstrations fit an env with these spaces."""
        for kind, mine, theirs in (("observation", self.observation_space, observation_space),
                                   ("action", self.action_space, action_space)):
            if describe_space(mine, bounds=False) != describe_space(theirs, bounds=False):
                raise DemonstrationsError(
                    f"the demonstrations' {kind} space ({mine}) differs from {what}'s ({theirs}); record "
                    f"demonstrations on the same env (`rlkit collect ... --env <id>`) or pick the env they came from.")

    # --- files -----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """``.npz`` (compressed), loadable without pickle; written to a temp file and renamed."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {"schema_version": SCHEMA_VERSION, "observation_space": describe_space(self.observation_space),
                "action_space": describe_space(self.action_space), "source": self.source}
        arrays = {name: getattr(self, name) for name in ARRAYS}
        frames = _as_frames(self.obs, self.episode_lengths)
        if frames is not None:
            del arrays["obs"]
            arrays["frames"], meta["obs_storage"], meta["stack"] = frames, "frames", self.obs.shape[1]
        path.parent.mkdir(parents=True, exist_ok=True)
        # a temp file of its own in the same folder, synced, then renamed: a crash or a full disk
        # mid-write leaves the previous file whole, and two writers never share a temp file
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez_compressed(f, meta=np.array(json.dumps(meta)), **arrays)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    @classmethod
    def load(cls, path: str | Path) -> "Demonstrations":
        """A file written by ``save`` (``rlkit collect``), read with ``allow_pickle=False``. A missing,
        damaged, foreign or newer file raises ``DemonstrationsError`` saying what to do."""
        path = Path(path)
        again = f"Record them again with `rlkit collect RUN --episodes N -o {path}`."
        if not path.is_file():
            raise DemonstrationsError(f"no demonstrations at {path}; record them with "
                                      f"`rlkit collect RUN --episodes N -o {path}`.")
        try:
            data = np.load(path, allow_pickle=False)
            if not isinstance(data, np.lib.npyio.NpzFile):
                raise ValueError("it holds one .npy array, not an .npz archive")
            with data:
                contents = {name: data[name] for name in data.files}
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, TypeError) as exc:
            raise DemonstrationsError(f"{path} is not a readable demonstrations file ({exc}); it may be truncated, "
                                      f"empty or damaged. {again}") from None
        if "meta" not in contents:
            raise DemonstrationsError(f"{path} has no 'meta' record, so it is not an rlkit demonstrations file; pass "
                                      "a file written by `rlkit collect` or Demonstrations.save() (data of your own: "
                                      "build Demonstrations(obs=..., actions=..., ...) and .save() it).")
        try:
            meta = json.loads(str(contents.pop("meta")))
            if not isinstance(meta, dict):
                raise ValueError(f"a JSON {type(meta).__name__}, not an object")
        except ValueError as exc:
            raise DemonstrationsError(f"{path} has a damaged 'meta' record ({exc}). {again}") from None
        version = meta.get("schema_version")
        if version != SCHEMA_VERSION:
            newer = isinstance(version, int) and version > SCHEMA_VERSION
            raise DemonstrationsError(
                f"{path} has demonstrations schema version {version}; this rlkit reads version {SCHEMA_VERSION}. "
                + ("Upgrade rlkit to read it, or record them again with this rlkit." if newer else again))
        framed = meta.get("obs_storage") == "frames"
        needed = [name for name in ARRAYS if not (framed and name == "obs")] + (["frames"] if framed else [])
        missing = [name for name in needed if name not in contents]
        if missing:
            raise DemonstrationsError(f"{path} lacks {', '.join(missing)}: not a whole demonstrations file. {again}")
        try:
            observation_space = space_from_description(meta["observation_space"])
            action_space = space_from_description(meta["action_space"])
            if framed:
                contents["obs"] = _from_frames(contents.pop("frames"), contents["episode_lengths"], int(meta["stack"]))
            return cls(**{name: contents[name] for name in ARRAYS}, observation_space=observation_space,
                       action_space=action_space, source=str(meta.get("source", "")))
        except DemonstrationsError as exc:
            raise DemonstrationsError(f"{path}: {exc} {again}") from None
        except (KeyError, TypeError, ValueError) as exc:
            raise DemonstrationsError(f"{path} has a damaged 'meta' record ({type(exc).__name__}: {exc}). {again}") from None


def load_for_env(path: str | Path, observation_space: gym.Space, action_space: gym.Space, episodes: int = 0,
                 what: str = "the env", trained_on: tuple[int, int] | None = None) -> Demonstrations:
    """The demonstrations in ``path``, checked against an env's spaces (``DemonstrationsError``
    otherwise), their first ``episodes`` episodes (0: all): what an imitation agent trains on.
    ``trained_on``: the (episodes, steps) a restored checkpoint trained on; other data raises
    ``CheckpointError``."""
    demos = Demonstrations.load(path)
    demos.check_spaces(observation_space, action_space, what=what)
    demos = demos.episodes(episodes) if episodes else demos
    check_trained_on(demos, trained_on, path, episodes)
    return demos


def check_trained_on(demos: Demonstrations, trained_on: tuple[int, int] | None, path: str | Path, episodes: int) -> None:
    """``CheckpointError`` unless ``demos`` are the (episodes, steps) a restored checkpoint trained on."""
    if trained_on is not None and tuple(trained_on) != (demos.num_episodes, len(demos)):
        raise CheckpointError(
            f"the checkpoint was trained on {trained_on[0]} episodes ({trained_on[1]} steps) of demonstrations, but "
            f"{path} (demo_episodes {episodes}) gives {demos.num_episodes} ({len(demos)} steps); resume with the "
            "same demos and demo_episodes, or start a new run.")


# --- recording ---------------------------------------------------------------------------------------
def collect_demonstrations(
    expert: Any,
    env: Any,
    episodes: int,
    seed: int = 0,
    num_envs: int = 1,
    deterministic: bool = True,
    atari_protocol: str | None = None,
    on_episode: Callable[[int, float], None] | None = None,
) -> Demonstrations:
    """Run ``expert`` (an rlkit agent, or any callable from a batch of observations to actions) on
    ``env`` until ``episodes`` whole episodes end; evaluation preprocessing on Atari (full games,
    unclipped rewards). ``on_episode(done, return)`` is called as each episode ends.

    Episodes are spread evenly over the envs (env i records its quota, as ``rlkit.evaluate``
    counts them), so short episodes are not over-represented: with several envs, the first
    ``episodes`` to end would be the shortest ones."""
    from rlkit.vec_env import make_vec_env

    if episodes < 1:
        raise DemonstrationsError(f"episodes must be >= 1, got {episodes}.")
    act = _expert_actions(expert, deterministic)
    n = min(num_envs, episodes)  # an env beyond the episodes asked for would record nothing
    envs = make_vec_env(env, n, seed=seed, training=False, atari_protocol=atari_protocol)
    space = envs.single_action_space
    quota = np.full(n, episodes // n) + (np.arange(n) < episodes % n)
    recorded = np.zeros(n, dtype=np.int64)
    try:
        obs = envs.reset(seed=seed)
        running: list[dict[str, list]] = [_new_episode(o) for o in obs]
        finished: list[dict[str, list]] = []
        resetting = np.zeros(n, dtype=bool)
        while len(finished) < episodes:
            actions = act(obs)
            if actions.shape[:1] != (n,):
                raise DemonstrationsError(
                    f"the expert returned actions of shape {actions.shape} for a batch of {n} observations; it "
                    f"must return one action per observation (a batch of shape ({n}, ...)).")
            if isinstance(space, gym.spaces.Box):
                actions = np.clip(actions, space.low, space.high).astype(space.dtype)
            step = envs.step(actions)
            # the step that ends an episode returns its final observation; the next one, the reset
            ended = step.terminated | step.truncated | step.episode_done
            for i in range(n):
                if resetting[i]:  # the step after an end returns the reset observation: a new episode
                    running[i] = _new_episode(step.obs[i])
                    continue
                if recorded[i] >= quota[i]:  # this env has recorded its share; it waits for the others
                    continue
                episode = running[i]
                # copies: a backend may reuse its observation buffer from step to step
                for key, value in (("actions", actions[i]), ("rewards", step.rewards[i]), ("obs", step.obs[i]),
                                   ("terminated", step.terminated[i]), ("truncated", step.truncated[i])):
                    episode[key].append(np.array(value))
                if ended[i]:
                    finished.append(episode)
                    recorded[i] += 1
                    if on_episode is not None:
                        on_episode(len(finished), float(np.sum(episode["rewards"], dtype=np.float64)))
            resetting = ended
            obs = step.obs
        observation_space, action_space = envs.single_observation_space, envs.single_action_space
    finally:
        envs.close()
    source = getattr(expert, "run_dir", None) or getattr(expert, "restored_from", None)
    return Demonstrations(
        obs=np.stack([o for e in finished for o in e["obs"]]),
        actions=np.stack([a for e in finished for a in e["actions"]]),
        rewards=np.array([r for e in finished for r in e["rewards"]], dtype=np.float32),
        terminated=np.array([t for e in finished for t in e["terminated"]], dtype=bool),
        truncated=np.array([t for e in finished for t in e["truncated"]], dtype=bool),
        episode_lengths=np.array([len(e["actions"]) for e in finished]),
        observation_space=observation_space, action_space=action_space,
        source=str(source or getattr(expert, "__name__", type(expert).__name__)),
    )


def _new_episode(first_obs: np.ndarray) -> dict[str, list]:
    return {"obs": [first_obs], "actions": [], "rewards": [], "terminated": [], "truncated": []}


def _expert_actions(expert: Any, deterministic: bool) -> Callable[[np.ndarray], np.ndarray]:
    if hasattr(expert, "act"):
        return lambda obs: np.asarray(expert.act(obs, deterministic=deterministic))
    if callable(expert):
        return lambda obs: np.asarray(expert(obs))
    raise DemonstrationsError(f"the expert must be an rlkit agent or a callable from observations to actions, "
                              f"got {type(expert).__name__}.")


# --- spaces as JSON ------------------------------------------------------------------------------------
def describe_space(space: gym.Space, bounds: bool = True) -> dict[str, Any]:
    """A JSON description that rebuilds the space (``space_from_description``); ``bounds=False``
    leaves out a Box's bounds (two envs of one shape and dtype take each other's data)."""
    if isinstance(space, gym.spaces.Discrete):
        return {"type": "Discrete", "n": int(space.n), "start": int(space.start)}
    if isinstance(space, gym.spaces.MultiDiscrete):
        return {"type": "MultiDiscrete", "nvec": space.nvec.tolist(), "start": space.start.tolist(),
                "dtype": str(space.dtype)}
    if isinstance(space, gym.spaces.Box):
        description: dict[str, Any] = {"type": "Box", "shape": list(space.shape), "dtype": str(space.dtype)}
        if bounds:
            description.update(low=_compact(space.low), high=_compact(space.high))
        return description
    raise UnsupportedSpaceError(f"demonstrations store Box, Discrete and MultiDiscrete spaces, not {space}.")


def space_from_description(description: dict[str, Any]) -> gym.Space:
    kind = description["type"]
    if kind == "Discrete":
        return gym.spaces.Discrete(description["n"], start=description.get("start", 0))
    if kind == "MultiDiscrete":
        dtype = np.dtype(description.get("dtype", "int64"))
        return gym.spaces.MultiDiscrete(np.asarray(description["nvec"], dtype=dtype), dtype=dtype,
                                        start=np.asarray(description.get("start", 0), dtype=dtype))
    if kind == "Box":
        dtype, shape = np.dtype(description["dtype"]), tuple(description["shape"])
        # integer bounds are read as integers: through float64 a bound past 2**53 would change
        read_as = dtype if np.issubdtype(dtype, np.integer) else np.float64
        low, high = (np.broadcast_to(np.asarray(description[b], dtype=read_as), shape).astype(dtype)
                     for b in ("low", "high"))
        return gym.spaces.Box(low=low, high=high, shape=shape, dtype=dtype)
    raise DemonstrationsError(f"unknown space type {kind!r} in a demonstrations file.")


def _compact(bound: np.ndarray) -> Any:
    """One number for a uniform bound (an image's 0..255), else the list; infinities as strings
    JSON can hold ("inf", "-inf"), which np.asarray(..., float) reads back."""
    flat = bound.ravel()
    values = (flat[:1] if (flat == flat[0]).all() else flat).tolist()  # Python ints stay exact
    listed = [str(v) if isinstance(v, float) and not np.isfinite(v) else v for v in values]
    return listed[0] if len(listed) == 1 else listed


# --- stacked frames -----------------------------------------------------------------------------------
def _as_frames(obs: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """Frames of stacked uint8 image observations ([k, H, W], newest last), stored once: each
    episode's first stack whole, then each later observation's newest frame. None when the
    observations are not such stacks (then they are stored as they are)."""
    if not isinstance(obs, np.ndarray) or obs.dtype != np.uint8 or obs.ndim != 4 or obs.shape[1] < 2:
        return None
    starts = np.concatenate([[0], np.cumsum(lengths + 1)[:-1]])
    # within an episode the stack shifts by one frame each step, the newest last; compared in
    # slices (views), so a large recording is never copied whole to check it
    for start, length in zip(starts, lengths):
        for a in range(start, start + length, _CHECK_ROWS):
            b = min(a + _CHECK_ROWS, start + length)
            if not np.array_equal(obs[a + 1:b + 1, :-1], obs[a:b, 1:]):
                return None
    pieces = []
    for start, length in zip(starts, lengths):
        pieces.append(obs[start])  # [k, H, W]
        pieces.append(obs[start + 1:start + length + 1, -1])  # the newest frame of each later obs
    return np.concatenate(pieces)


_CHECK_ROWS = 1024  # observations compared at a time (about 28 MB of Atari stacks)


def _from_frames(frames: np.ndarray, lengths: np.ndarray, stack: int) -> np.ndarray:
    """The stacked observations back from ``_as_frames``'s frames: row t of an episode is its
    frames t .. t + stack - 1."""
    lengths = np.asarray(lengths, dtype=np.int64)
    needed = int((lengths + stack).sum())
    if stack < 2 or frames.ndim != 3 or len(frames) != needed or (lengths < 1).any():
        raise DemonstrationsError(
            f"the file holds {len(frames)} frames of shape {frames.shape[1:]}, but {len(lengths)} episodes of "
            f"{int(lengths.sum())} steps stacked {stack} deep need {needed} frames [H, W]: it is truncated or "
            "mislabelled.")
    episodes, start = [], 0
    for length in lengths:
        segment = frames[start:start + stack + length]  # the first stack, then one frame per step
        windows = np.lib.stride_tricks.sliding_window_view(segment, stack, axis=0)  # [length + 1, H, W, stack]
        episodes.append(np.moveaxis(windows, -1, 1))
        start += stack + length
    return np.ascontiguousarray(np.concatenate(episodes))
