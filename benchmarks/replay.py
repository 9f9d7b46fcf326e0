"""Replay buffer: memory per transition and the cost of prioritized sampling in a learning step;
with --checkpoint, the cost of checkpointing a file-backed buffer.

    python benchmarks/replay.py
    python benchmarks/replay.py --checkpoint [--dir FOLDER]

Memory: a 1,000,000-transition buffer for Atari observations (4 stacked 84x84 uint8 frames) with
every array allocated and written, bytes per transition from the arrays' sizes (target: ≤ 7.5 GB,
about one byte per pixel per transition).
Prioritized overhead: one DQN learning step at batch 32 on Pong-shaped observations (NatureCNN,
torch on all cores) from a full 1M buffer, uniform vs prioritized (sum-tree sampling, importance
weights and the priority update included), median over repeats.
Checkpoint (--checkpoint): a Rainbow agent on Pong whose 1M-slot replay (prioritized, 3-step) keeps
its frames in a file under FOLDER (default: a new temporary folder, deleted afterwards), as in a
run folder, filled in bulk to 0%, 50% and 100%; at each level, seconds of ``agent.save`` (the
networks, optimiser and replay state; ``save_checkpoint`` fsyncs) and the checkpoint's size. Twice per level: right after the bulk fill, while the kernel
still holds part of the fill as dirty pages (the state's flush writes them), then again once they
are on disk, as in a run whose frames arrive at env speed and are written back as they come.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from benchmarks.common import save  # noqa: E402

CAPACITY = 1_000_000


def full_buffer(prioritized: bool):
    from rlkit.buffers import ReplayBuffer

    buffer = ReplayBuffer(CAPACITY, 1, (4, 84, 84), np.uint8, (), np.int64, gamma=0.99, n_step=3, frame_stack=4,
                          prioritized=prioritized)
    rng = np.random.default_rng(0)
    buffer.frames[:] = rng.integers(0, 255, size=(1, 1000, 84, 84), dtype=np.uint8).repeat(CAPACITY // 1000, axis=1)
    buffer.actions[:] = rng.integers(0, 6, size=buffer.actions.shape)
    buffer.rewards[:] = rng.standard_normal(buffer.rewards.shape)
    buffer.next_offset[:] = 3
    buffer.valid[:] = True
    buffer.valid[0, -3:] = False  # the write head's neighbourhood
    buffer.recount_transitions()
    buffer.next_slot[:] = CAPACITY - 3
    if prioritized:
        buffer.tree.update(np.arange(CAPACITY), rng.random(CAPACITY) * buffer.valid.reshape(-1))
    return buffer


def learning_step_ms(repeats: int = 60) -> tuple[float, float]:
    """Median ms of sample + update (+ priority update) with uniform and prioritized sampling,
    alternating on one full buffer (the uniform path is the same buffer with its tree set aside)."""
    import torch

    from agents import DQN

    agent = DQN("PongNoFrameskip-v4", seed=0, buffer_size=1000, prioritized=True)
    agent.replay = full_buffer(prioritized=True)
    tree = agent.replay.tree
    torch.set_num_threads(agent.threads)
    times: dict[bool, list[float]] = {False: [], True: []}
    for i in range(2 * (repeats + 5)):
        prioritized = i % 2 == 1
        agent.replay.tree = tree if prioritized else None
        start = time.perf_counter()
        agent.update(agent.replay.sample(32, beta=0.4))
        if i >= 10:
            times[prioritized].append(time.perf_counter() - start)
    agent.replay.tree = tree
    return 1e3 * statistics.median(times[False]), 1e3 * statistics.median(times[True])


def checkpoint_seconds(folder: Path) -> list[dict]:
    """Fill levels 0, 0.5, 1 of the file-backed 1M replay of a Rainbow agent on Pong (prioritized,
    3-step): seconds of ``agent.save`` (networks, optimiser and replay state, fsynced) right after
    the bulk fill and once the fill is on disk, and the checkpoint's size."""
    from agents import Rainbow

    agent = Rainbow("ALE/Pong-v5", seed=0, buffer_size=CAPACITY)
    agent.use_run_folder(folder)  # what train() does with the run folder
    buffer = agent.replay
    rng = np.random.default_rng(0)
    block = rng.integers(0, 255, size=(1000, 84, 84), dtype=np.uint8)
    path = folder / "checkpoint.pt"
    rows, filled = [], 0

    def checkpoint() -> float:
        start = time.perf_counter()
        agent.save(path)
        return time.perf_counter() - start

    for fill in (0.0, 0.5, 1.0):
        target = int(CAPACITY * fill)
        start = time.perf_counter()
        for lo in range(filled, target, len(block)):
            hi = min(lo + len(block), target)
            buffer.frames[0, lo:hi] = block[:hi - lo]
        new = slice(filled, target)
        buffer.actions[0, new] = rng.integers(0, 6, size=target - filled)
        buffer.rewards[0, new] = rng.standard_normal(target - filled)
        buffer.next_offset[0, new] = 3
        buffer.valid[0, :max(target - 3, 0)] = True  # all but the write head's neighbourhood
        buffer.frames_written[0] = target
        buffer.next_slot[0], buffer.head[0] = target % CAPACITY, max(target - 1, 0)
        if target > filled:
            slots = np.arange(max(filled - 3, 0), target)
            buffer.tree.update(slots, rng.random(slots.size) * buffer.valid[0, slots])
        buffer.recount_transitions()
        filled = target
        fill_seconds = time.perf_counter() - start
        dirty = checkpoint()
        settled = checkpoint()  # the previous one flushed everything
        row = {"fill": fill, "transitions": buffer.num_transitions, "fill_seconds": round(fill_seconds, 2),
               "checkpoint_seconds_after_bulk_fill": round(dirty, 3), "checkpoint_seconds": round(settled, 3),
               "checkpoint_bytes": path.stat().st_size,
               "frames_file_bytes_on_disk": (folder / "replay" / "replay_frames.npy").stat().st_blocks * 512}
        print(json.dumps(row), flush=True)
        rows.append(row)
    # the full buffer's resume: a new agent restored from the last checkpoint holds the same replay
    from rlkit.checkpoint import load_checkpoint

    start = time.perf_counter()
    resumed = Rainbow("ALE/Pong-v5", seed=0, buffer_size=CAPACITY)
    resumed.restore(load_checkpoint(path))
    same = all(np.array_equal(getattr(resumed.replay, name), getattr(buffer, name))
               for name in ("actions", "rewards", "next_offset", "valid", "terminated", "head", "next_slot"))
    same = same and np.array_equal(resumed.replay.tree.tree, buffer.tree.tree)
    a, b = buffer.sample(32), resumed.replay.sample(32)  # the sampler's stream was restored too
    same = same and all(np.array_equal(x, y) for x, y in zip(a, b))
    row = {"resume_seconds": round(time.perf_counter() - start, 2), "resumed_replay_identical": bool(same)}
    print(json.dumps(row), flush=True)
    rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--checkpoint", action="store_true", help="time checkpoints of a file-backed 1M buffer instead")
    parser.add_argument("--dir", type=Path, help="where --checkpoint writes its ~7 GB frames file (kept if given)")
    args = parser.parse_args()
    if args.checkpoint:
        folder = args.dir or Path(tempfile.mkdtemp(prefix="rlkit-replay-checkpoint-"))
        try:
            rows = checkpoint_seconds(folder)
        finally:
            if args.dir is None:
                shutil.rmtree(folder)
        save("replay_checkpoint", {"capacity": CAPACITY, "rows": rows})
        return
    buffer = full_buffer(prioritized=True)
    per_transition = buffer.nbytes / CAPACITY
    print(f"1M Atari transitions: {buffer.nbytes / 1e9:.2f} GB, {per_transition:.0f} bytes per transition "
          f"({per_transition / (84 * 84):.3f} bytes per pixel of one frame)")
    del buffer
    uniform, prioritized = learning_step_ms()
    overhead = prioritized / uniform - 1
    print(f"learning step at batch 32 from a full 1M buffer: uniform {uniform:.2f} ms, prioritized {prioritized:.2f} ms "
          f"(+{100 * overhead:.1f}%)")
    result = {"capacity": CAPACITY, "bytes": int(per_transition * CAPACITY), "bytes_per_transition": round(per_transition, 1), "learning_step_ms_uniform": round(uniform, 2),
              "learning_step_ms_prioritized": round(prioritized, 2), "prioritized_overhead": round(overhead, 4)}
    print(json.dumps(result))
    save("replay", result)


if __name__ == "__main__":
    main()
