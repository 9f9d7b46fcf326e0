"""ReplayBuffer: circular NumPy storage that keeps each frame once and each step's raw reward,
n-step returns formed at sampling, a uniform or prioritized sampler, and frames that can live in a
memory-mapped file of the run folder.

Storage: every env owns a ring of ``capacity // num_envs`` slots. A slot holds one frame (the whole
observation when ``frame_stack`` is 1, else the newest frame of the stack) and, when it is a
decision point, the action taken there, the step's raw reward and, once its n-step window has
closed, the window's length m and whether the episode terminated inside it. An episode starts by
writing the k frames of its first stacked observation; each step then appends one frame. A stack is
the k frames ending at its slot, so stacks never reach across an episode boundary, and next
observations (n slots later in the same episode, or the final observation of a truncated episode)
cost no extra memory: about one byte per pixel per transition on Atari.

n-step (per env): Σ_{k<m} γ^k r_{t+k} with m = n, or fewer when the episode ends inside the
window: at ``terminated`` there is no bootstrap; at ``truncated`` the target bootstraps from the
final observation, which the next-step autoreset hands over as the step's ``next_obs``. ``sample()``
sums the stored rewards of the m slots ahead: nothing is summed at insert time, so rewards can be
relabelled afterwards (``relabel``, or writes to ``rewards``) and the next sample uses them. A
transition is valid once its window has closed (n steps on, or the episode ended) and for as long
as every frame of its stack and of its next observation's stack is still in the ring.

Samplers: uniform, or prioritized (Schaul et al. 2016): P(i) ∝ p_i^α from a batch-operated sum
tree, new transitions at the current maximum priority, importance weights (N P(i))^-β divided by
their batch maximum, priorities set from the learner's TD errors.

File-backed frames (``attach_storage``): the frames array is a memory-mapped .npy file, so a
checkpoint records only the small arrays and the file's path, whatever the buffer's size. A
per-env count of frames written lives in a second small memory-mapped file; both are in the page
cache, so they survive a SIGKILL of the process. Loading a checkpoint compares that count with the
checkpoint's: the frames written after the checkpoint overwrote the oldest slots, and the
transitions that used them are dropped.
"""
from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from numpy.lib.format import open_memmap

from rlkit.buffers.rollout import observation_dtype
from rlkit.buffers.sum_tree import SumTree
from rlkit.errors import CheckpointError, ConfigError
from rlkit.networks.encoders import is_image_space
from rlkit.types import ReplaySample

FRAMES_FILE = "replay_frames.npy"
WRITTEN_FILE = "replay_written.npy"  # int64 [num_envs]: frames written per env, never decreasing


class ReplayBuffer:
    @classmethod
    def for_spaces(cls, observation_space: Any, num_envs: int, capacity: int, action_shape: tuple[int, ...],
                   action_dtype: np.dtype, **options: Any) -> "ReplayBuffer":
        """A buffer for an agent's spaces: stacked uint8 frames ([k, H, W]) are stored one frame at a
        time, anything else as float32 observations."""
        shape = observation_space.shape
        frame_stack = shape[0] if is_image_space(observation_space) else 1
        return cls(capacity, num_envs, shape, observation_dtype(observation_space), action_shape, action_dtype,
                   frame_stack=frame_stack, **options)

    def __init__(
        self,
        capacity: int,
        num_envs: int,
        obs_shape: tuple[int, ...],
        obs_dtype: np.dtype,
        action_shape: tuple[int, ...],
        action_dtype: np.dtype,
        gamma: float = 0.99,
        n_step: int = 1,
        frame_stack: int = 1,
        prioritized: bool = False,
        alpha: float = 0.6,
        priority_eps: float = 1e-6,
        seed: int = 0,
    ):
        if n_step < 1:
            raise ConfigError(f"n_step must be >= 1, got {n_step}.")
        if frame_stack > 1 and (len(obs_shape) < 2 or obs_shape[0] != frame_stack):
            raise ConfigError(f"frame_stack={frame_stack} needs observations shaped [{frame_stack}, ...], got {obs_shape}.")
        self.segment = capacity // num_envs
        if self.segment < 4 * (n_step + frame_stack):
            raise ConfigError(
                f"buffer_size {capacity} leaves {self.segment} slots per env; need at least "
                f"{4 * (n_step + frame_stack)} for n_step={n_step} and {frame_stack} stacked frames."
            )
        self.num_envs, self.gamma, self.n_step, self.k = num_envs, gamma, n_step, frame_stack
        self.obs_shape = tuple(obs_shape)
        frame_shape = self.obs_shape[1:] if frame_stack > 1 else self.obs_shape
        E, S = num_envs, self.segment
        self.frames = np.zeros((E, S, *frame_shape), dtype=obs_dtype)
        self.actions = np.zeros((E, S, *action_shape), dtype=action_dtype)
        # per step, at the slot it was taken from: relabel rewards here; n-step returns are formed at sampling
        self.rewards = np.zeros((E, S), dtype=np.float32)
        self.terminated = np.zeros((E, S), dtype=bool)  # the episode terminated inside the n-step window
        self.next_offset = np.zeros((E, S), dtype=np.int16)  # m: the next observation's slot is i + m
        self.valid = np.zeros((E, S), dtype=bool)  # a complete transition whose frames are all present
        self.head = np.full(E, -1, dtype=np.int64)  # slot of each env's current observation
        self.next_slot = np.zeros(E, dtype=np.int64)
        self.frames_written = np.zeros(E, dtype=np.int64)  # per env, never decreasing (see attach_storage)
        self.storage_path: Path | None = None  # the frames file, when attach_storage moved them there
        self._writable = True  # False: storage_path is another run's file, read copy-on-write
        self._frames_map: np.memmap | None = None
        self._written_map: np.memmap | None = None
        self._num_valid = 0  # == valid.sum(), kept up to date
        # per env: how many of its newest decision slots have an n-step window still open
        self._open: list[int] = [0] * E
        self._stack_offsets = np.arange(1 - frame_stack, 1)  # a stack: the k slots ending at its own
        self._users = np.arange(frame_stack)  # a frame: in the stacks of its slot and the k - 1 after it
        self._ahead = np.arange(n_step)
        self._discounts = (gamma ** np.arange(n_step + 1)).astype(np.float32)  # γ^m
        # row m: the weight γ^j of reward j in a window of m steps (0 past its end)
        inside = np.tril(np.ones((n_step + 1, n_step)), -1)
        self._window_weights = (inside * gamma ** np.arange(n_step)).astype(np.float32)
        self.rng = np.random.default_rng(seed)
        self.prioritized, self.alpha, self.priority_eps = prioritized, alpha, priority_eps
        self.tree = SumTree(E * S) if prioritized else None
        self.max_priority = 1.0

    # --- writing --------------------------------------------------------------------------------
    @property
    def num_transitions(self) -> int:
        return self._num_valid

    def start(self, obs: np.ndarray, envs: np.ndarray | None = None) -> None:
        """First observations of new episodes (after a reset) for ``envs`` (default: all)."""
        for i in range(self.num_envs) if envs is None else np.flatnonzero(envs):
            self._start_env(i, obs[i])

    def _start_env(self, env: int, obs: np.ndarray) -> None:
        for frame in obs if self.k > 1 else obs[None]:
            self._write_frame(env, frame)
        self._open[env] = 0  # an unfinished episode's open windows never complete

    def add(
        self,
        actions: np.ndarray,
        rewards: np.ndarray,
        terminated: np.ndarray,
        truncated: np.ndarray,
        next_obs: np.ndarray,
        valid: np.ndarray,
    ) -> None:
        """One vector-env step from the current observations. ``valid[i]`` False marks env i's
        autoreset step (action ignored; ``next_obs[i]`` is the first observation of a new episode)."""
        S = self.segment
        for i in range(self.num_envs):
            if not valid[i]:
                self._start_env(i, next_obs[i])
                continue
            slot = self.head[i]
            self.actions[i, slot] = actions[i]
            self.rewards[i, slot] = rewards[i]
            self._write_frame(i, next_obs[i][-1] if self.k > 1 else next_obs[i])
            opened = self._open[i] + 1  # windows open at slot - back for back < opened, back + 1 steps long
            if terminated[i] or truncated[i]:  # every open window ends with the episode
                for back in range(opened):
                    self._close(i, (slot - back) % S, back + 1, bool(terminated[i]))
                opened = 0
            elif opened == self.n_step:
                self._close(i, (slot - self.n_step + 1) % S, self.n_step, False)
                opened -= 1
            self._open[i] = opened

    def _write_frame(self, env: int, frame: np.ndarray) -> None:
        slot = self.next_slot[env]
        # the transitions whose stacks include this slot lose a frame
        self._invalidate(env, (slot + self._users) % self.segment)
        # counted before the write: a process killed in between then over-counts (a load drops one
        # more slot than needed) instead of under-counting (a load would keep an overwritten frame)
        self.frames_written[env] += 1
        self.frames[env, slot] = frame
        self.head[env] = slot
        self.next_slot[env] = (slot + 1) % self.segment

    def _invalidate(self, env: int, slots: np.ndarray) -> None:
        was = self.valid[env, slots]
        if was.any():
            self.valid[env, slots] = False
            self._num_valid -= int(was.sum())
            if self.tree is not None:
                self.tree.update(env * self.segment + slots[was], np.zeros(int(was.sum())))

    def _close(self, env: int, slot: int, length: int, terminated: bool) -> None:
        self.next_offset[env, slot] = length
        self.terminated[env, slot] = terminated
        self._num_valid += not self.valid[env, slot]
        self.valid[env, slot] = True
        if self.tree is not None:
            self.tree.update(np.array([env * self.segment + slot]), np.array([self.max_priority ** self.alpha]))

    def relabel(self, reward_fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray],
                batch_size: int = 4096) -> None:
        """Replace the reward of every stored step that a sample can use with
        ``reward_fn(obs, actions, next_obs)`` (batches of at most ``batch_size``, NumPy in, rewards
        [B] out), e.g. a learned reward model or a discriminator. Later samples form their n-step
        returns from the new rewards. Writing ``rewards[env, slot]`` directly does the same for
        chosen steps (the step taken at that slot)."""
        flat = self._stored_steps()
        for start in range(0, flat.size, batch_size):
            steps = flat[start:start + batch_size]
            env, slot = np.divmod(steps, self.segment)
            ring = (steps - slot)[:, None]
            new = reward_fn(self._stack(ring, slot), _at(self.actions, steps), self._stack(ring, slot + 1))
            self.rewards[env, slot] = np.asarray(new, dtype=np.float32).reshape(-1)

    def _stored_steps(self) -> np.ndarray:
        """Flat slots of the steps inside the window of a valid transition or of an open one."""
        S = self.segment
        used = np.zeros(self.valid.shape, dtype=bool)
        env, slot = np.divmod(np.flatnonzero(self.valid), S)
        inside = self._ahead < self.next_offset[env, slot, None]
        used[np.broadcast_to(env[:, None], inside.shape)[inside], ((slot[:, None] + self._ahead) % S)[inside]] = True
        for i, opened in enumerate(self._open):
            used[i, (self.head[i] - 1 - np.arange(opened)) % S] = True  # head is the step's next observation
        return np.flatnonzero(used)

    # --- sampling -------------------------------------------------------------------------------
    def sample(self, batch_size: int, beta: float = 0.4) -> ReplaySample:
        """A batch of complete transitions (NumPy); ``weights`` are 1 unless prioritized."""
        total = self.num_transitions
        if total == 0:
            raise ConfigError("the replay buffer holds no complete transition yet; raise learning_starts.")
        if self.tree is not None:
            flat = self.tree.sample(batch_size, self.rng)
            probs = self.tree.get(flat) / self.tree.total
            weights = (total * probs) ** (-beta)
            weights = (weights / weights.max()).astype(np.float32)
        else:
            flat = self._uniform(batch_size)
            weights = np.ones(batch_size, dtype=np.float32)
        return self._transitions(flat, weights)

    def _transitions(self, flat: np.ndarray, weights: np.ndarray) -> ReplaySample:
        # everything is read at flat slots env * segment + slot: one take() is quicker than 2-D indexing
        slot = flat % self.segment
        ring = (flat - slot)[:, None]  # where each env's ring starts
        length = _at(self.next_offset, flat)
        return ReplaySample(
            obs=self._stack(ring, slot), actions=_at(self.actions, flat),
            rewards=self._n_step_returns(ring, slot, length), next_obs=self._stack(ring, slot + length),
            terminated=_at(self.terminated, flat).astype(np.float32), discounts=self._discounts[length],
            weights=weights, indices=flat,
        )

    def _n_step_returns(self, ring: np.ndarray, slot: np.ndarray, length: np.ndarray) -> np.ndarray:
        """Σ_{j<m} γ^j r_{t+j} (float32) for the transitions at ``slot`` of the rings starting at
        flat slot ``ring`` [B, 1], with windows of ``length`` m."""
        if self.n_step == 1:
            return _at(self.rewards, ring[:, 0] + slot)
        rewards = _at(self.rewards, ring + (slot[:, None] + self._ahead) % self.segment)
        return (rewards * self._window_weights.take(length, axis=0)).sum(1)

    def _uniform(self, batch_size: int) -> np.ndarray:
        flat_valid = self.valid.reshape(-1)
        picks = self.rng.integers(0, flat_valid.size, size=4 * batch_size)
        picks = picks[flat_valid[picks]]
        if picks.size >= batch_size:
            return picks[:batch_size]
        return self.rng.choice(np.flatnonzero(flat_valid), size=batch_size)  # a sparse buffer: draw from the list

    def _stack(self, ring: np.ndarray, slot: np.ndarray) -> np.ndarray:
        """The observations at ``slot`` (any int, taken mod segment) of the rings starting at flat
        slot ``ring`` [B, 1]: the k frames ending there, or the one frame when k is 1."""
        stacks = _at(self.frames, ring + (slot[:, None] + self._stack_offsets) % self.segment)
        return stacks if self.k > 1 else stacks[:, 0]

    def update_priorities(self, indices: np.ndarray, td_errors: np.ndarray) -> None:
        """p_i = |δ_i| + ε; the tree holds p_i^α. Ignored by the uniform sampler."""
        if self.tree is None:
            return
        priorities = np.abs(np.asarray(td_errors, dtype=np.float64)) + self.priority_eps
        env, slot = np.divmod(np.asarray(indices), self.segment)
        still = self.valid[env, slot]  # a slot overwritten since it was sampled keeps priority 0
        self.tree.update(np.asarray(indices)[still], priorities[still] ** self.alpha)
        self.max_priority = max(self.max_priority, float(priorities.max()))

    # --- the n-step view of every slot (for inspection; sample() forms only what it draws) -------
    @property
    def returns(self) -> np.ndarray:
        """float32 [E, S]: the n-step return of the transition at each slot (meaningful where ``valid``)."""
        flat = np.arange(self.valid.size)
        slot = flat % self.segment
        returns = self._n_step_returns((flat - slot)[:, None], slot, self.next_offset.reshape(-1))
        return returns.reshape(self.valid.shape)

    @property
    def discounts(self) -> np.ndarray:
        """float32 [E, S]: γ^m of the transition at each slot (meaningful where ``valid``)."""
        return self._discounts[self.next_offset]

    # --- file-backed frames ---------------------------------------------------------------------
    def attach_storage(self, directory: str | os.PathLike) -> None:
        """Keep the frames in ``directory/replay_frames.npy`` from now on (memory-mapped, its whole
        size reserved on disk up front: a full disk is a typed error here, not a SIGBUS in the
        middle of a run), next to ``replay_written.npy``, the per-env count of frames written.
        Checkpoints then hold the file's path instead of the frames. Frames already written (as
        ``frames_written`` counts them) are copied over; nothing happens if the buffer already
        uses that file.

        The files are created anew, so on resume call this after ``load_state_dict`` (which adopts
        the checkpoint's file): a checkpoint whose file was recreated finds none of its frames."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        path = (directory / FRAMES_FILE).resolve()
        if path == self.storage_path:
            if self._writable:
                return
            # a checkpoint's file, loaded copy-on-write: its run folder is now ours to write
            try:
                frames, written = self._open_storage(path, "", mode="r+")
            except CheckpointError:  # removed since (an overwritten run): make it again from memory
                frames = written = None
            if written is not None and np.array_equal(written, self.frames_written):  # nothing written since
                self._adopt(path, frames, written, writable=True)
                return
        written = self.frames_written.copy()
        # recreating the files rewrites every slot for a checkpoint that named them: start their
        # count a whole ring ahead of the old one, so loading such a checkpoint drops its transitions
        old = _read_counter(path.parent / WRITTEN_FILE, self.num_envs)
        if old is not None:
            written = np.maximum(written, old + self.segment)
        # the count is in place (atomically) before the frames file is truncated
        tmp = path.parent / f".{WRITTEN_FILE}.tmp"
        with open(tmp, "wb") as f:
            np.save(f, written)
        os.replace(tmp, path.parent / WRITTEN_FILE)
        # a new file renamed into place: this buffer may be reading the old one (copy-on-write),
        # whose pages must not change under it
        fresh = path.parent / f".{FRAMES_FILE}.tmp"
        frames = open_memmap(fresh, mode="w+", dtype=self.frames.dtype, shape=self.frames.shape)
        _reserve(fresh, directory)
        if self.frames_written.any():
            frames[:] = self.frames
        frames.flush()
        os.replace(fresh, path)
        self._adopt(path, frames, open_memmap(path.parent / WRITTEN_FILE, mode="r+"), writable=True)

    def _adopt(self, path: Path, frames: np.memmap, written: np.memmap, writable: bool) -> None:
        # plain ndarray views of the maps: indexing a np.memmap costs a subclass round trip per call
        self._frames_map, self._written_map, self.storage_path = frames, written, path
        self.frames, self.frames_written = np.asarray(frames), np.asarray(written)
        self._writable = writable

    def detach_storage(self) -> None:
        """Stop writing the frames file (its run folder is being released): it stays mapped
        copy-on-write, so this buffer reads it and keeps its own later writes in memory."""
        if self.storage_path is None or not self._writable:
            return
        self._frames_map.flush()
        self._written_map.flush()
        frames, written = self._open_storage(self.storage_path, "", mode="c")
        self._adopt(self.storage_path, frames, written, writable=False)

    def _references_file(self) -> bool:
        """True when the frames file holds exactly this buffer's frames (as its counter shows), so
        a checkpoint can name it instead of copying them."""
        if self.storage_path is None:
            return False
        if self._writable:
            return True
        on_disk = _read_counter(self.storage_path.parent / WRITTEN_FILE, self.num_envs)
        return on_disk is not None and np.array_equal(on_disk, self.frames_written)

    def _open_storage(self, path: Path, advice: str, mode: str = "c") -> tuple[np.memmap, np.memmap]:
        """The frames file named by a checkpoint and its counter, checked against this buffer.
        Mode "c" (copy-on-write) reads the file and keeps every write in this process's memory:
        only ``attach_storage``, called by the run that owns the folder, writes to it."""
        try:
            frames = open_memmap(path, mode=mode)
            written = open_memmap(path.parent / WRITTEN_FILE, mode=mode)
        except (OSError, ValueError) as exc:
            raise CheckpointError(f"the replay file {path} (or its {WRITTEN_FILE}) is gone or unreadable "
                                  f"({type(exc).__name__}: {exc}); {advice}") from exc
        if frames.shape != self.frames.shape or frames.dtype != self.frames.dtype:
            raise CheckpointError(f"the replay file {path} holds {frames.dtype} frames {frames.shape}, this buffer "
                                  f"needs {self.frames.dtype} {self.frames.shape}; {advice}")
        if written.shape != (self.num_envs,) or written.dtype != np.int64:
            raise CheckpointError(f"{path.parent / WRITTEN_FILE} is not this replay's frame count; {advice}")
        return frames, written

    # --- checkpoints ----------------------------------------------------------------------------
    SMALL_ARRAYS = ("actions", "rewards", "terminated", "next_offset", "valid", "head", "next_slot")
    ARRAYS = ("frames", *SMALL_ARRAYS)

    def state_dict(self) -> dict[str, Any]:
        """The replay as tensors and primitives. File-backed frames stay in their file (flushed
        first); the state names the file and the frame count it was taken at."""
        state: dict[str, Any] = {name: torch.from_numpy(getattr(self, name).copy()) for name in self.SMALL_ARRAYS}
        if not self._references_file():
            # in memory, or a file read copy-on-write and written to since: the checkpoint carries them
            state["frames"] = torch.from_numpy(np.array(self.frames))
        else:
            if self._writable:
                self._frames_map.flush()  # on disk before the checkpoint that vouches for them
                self._written_map.flush()
            state["frames_file"] = str(self.storage_path)
        state["frames_written_per_env"] = torch.from_numpy(self.frames_written.copy())
        state["settings"] = self._settings()
        state["open"] = list(self._open)
        state["max_priority"] = self.max_priority
        state["rng"] = json.dumps(self.rng.bit_generator.state)  # a resumed run draws on, not from the seed again
        if self.tree is not None:
            state["tree"] = torch.from_numpy(self.tree.tree.copy())
        return state

    def _settings(self) -> dict[str, Any]:
        """What a stored replay's arrays mean: a state loads only into a buffer with the same."""
        return {"n_step": self.n_step, "gamma": self.gamma, "frame_stack": self.k}

    def load_state_dict(self, state: dict[str, Any], run_dir: Path | None = None) -> None:
        """Restore ``state_dict()``'s state. A file-backed state adopts its frames file (the one in
        ``run_dir/replay`` when there is one: a run folder that was moved or copied keeps using its
        own); transitions whose frames were overwritten after the checkpoint (the run went on, then
        died) are dropped. Call ``start()`` before the next ``add()``."""
        advice = "resume with save_replay=False (--save-replay false) to start with an empty replay buffer, or retrain."
        if "rewards" not in state:
            raise CheckpointError(f"this replay state holds n-step returns summed when stored (older rlkit); {advice}")
        saved = state.get("settings", {})
        differs = {k: (saved[k], v) for k, v in self._settings().items() if k in saved and saved[k] != v}
        if differs:
            raise CheckpointError(f"the replay was stored with other settings (saved, now): {differs}; resume with "
                                  f"the saved ones, or {advice}")
        names = (*self.SMALL_ARRAYS, "frames") if "frames" in state else self.SMALL_ARRAYS
        arrays = {name: state[name].numpy() for name in names}
        for name, value in arrays.items():
            if value.shape != getattr(self, name).shape:
                raise ConfigError(f"replay state {name} has shape {value.shape}, this buffer {getattr(self, name).shape}.")
        written = state["frames_written_per_env"].numpy().astype(np.int64)
        since = np.zeros(self.num_envs, dtype=np.int64)  # frames written after the checkpoint, per env
        if "frames_file" in state:
            path = Path(state["frames_file"])
            if run_dir is not None and (Path(run_dir) / "replay" / FRAMES_FILE).exists():
                path = (Path(run_dir) / "replay" / FRAMES_FILE).resolve()
            frames, now = self._open_storage(path, advice)
            since = now - written
            if (since < 0).any():
                raise CheckpointError(f"the replay file {path} counts fewer frames than this checkpoint: it was "
                                      f"recreated since; {advice}")
            self._adopt(path, frames, now, writable=False)
        elif self.storage_path is None:
            self.frames, self.frames_written = arrays.pop("frames").copy(), written.copy()
        else:  # the attached file takes the frames: a full rewrite for any checkpoint that names it
            self.frames_written[:] = np.maximum(self.frames_written + self.segment, written)
            self.frames[:] = arrays.pop("frames")
        for name, value in arrays.items():
            setattr(self, name, value.copy())
        self._open = [int(opened) for opened in state["open"]]
        self.max_priority = float(state["max_priority"])
        if "rng" in state:  # checkpoints from before it was saved restart the stream from the seed
            self.rng.bit_generator.state = json.loads(state["rng"])
        if self.tree is not None:
            self.tree.tree = state["tree"].numpy().copy()
        self.recount_transitions()
        for env in np.flatnonzero(since):
            # the run wrote on from next_slot before it died: drop what each of those writes would
            # have invalidated (everything once a whole ring was written)
            lost = min(int(since[env]) + self.k - 1, self.segment)
            self._invalidate(env, (self.next_slot[env] + np.arange(lost)) % self.segment)
            self._open[env] = 0  # its episode went on without this buffer

    def recount_transitions(self) -> None:
        """Resynchronise the transition count with ``valid`` after its arrays were written directly
        (a loaded state, or a benchmark that fills the storage in bulk)."""
        self._num_valid = int(self.valid.sum())

    @property
    def nbytes(self) -> int:
        arrays = (*self.ARRAYS, "frames_written")
        return sum(getattr(self, name).nbytes for name in arrays) + (self.tree.tree.nbytes if self.tree else 0)


def _reserve(path: Path, directory: Path) -> None:
    """Allocate the whole (sparse) frames file now: writing a page of a memory map on a full disk
    kills the process with SIGBUS, where allocating it here raises ENOSPC."""
    if not hasattr(os, "posix_fallocate"):  # pragma: no cover - not Linux: pages are allocated as written
        return
    with open(path, "r+b") as f:
        size = os.fstat(f.fileno()).st_size
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                if exc.errno in (errno.EOPNOTSUPP, errno.EINVAL):  # a file system without it: as written
                    return
                raise
            free = shutil.disk_usage(directory).free
            path.unlink(missing_ok=True)
            raise ConfigError(
                f"the replay buffer needs {size / 1e9:.1f} GB in {directory} and {free / 1e9:.1f} GB are free; free "
                "some space, lower buffer_size, or train with save_replay=False (the replay then stays in memory "
                "and out of checkpoints)."
            ) from exc


def _read_counter(path: Path, num_envs: int) -> np.ndarray | None:
    """The frame count a replay file kept, or None if there is none that fits."""
    try:
        written = np.load(path)
    except (OSError, ValueError):
        return None
    return written if written.shape == (num_envs,) and written.dtype == np.int64 else None


def _at(array: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """``array`` [E, S, ...] at the flat slots ``flat`` (env * S + slot), of any shape."""
    return array.reshape(-1, *array.shape[2:]).take(flat, axis=0)
