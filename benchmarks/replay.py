"""Replay buffer: memory per transition and the cost of prioritized sampling in a learning step.

    python benchmarks/replay.py

Memory: a 1,000,000-transition buffer for Atari observations (4 stacked 84x84 uint8 frames) with
every array allocated and written, bytes per transition from the arrays' sizes (target: ≤ 7.5 GB,
about one byte per pixel per transition).
Prioritized overhead: one DQN learning step at batch 32 on Pong-shaped observations (NatureCNN,
torch on all cores) from a full 1M buffer, uniform vs prioritized (sum-tree sampling, importance
weights and the priority update included), median over repeats.
"""
from __future__ import annotations

import json
import statistics
import sys
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
    buffer.returns[:] = rng.standard_normal(buffer.returns.shape)
    buffer.discounts[:] = 0.99**3
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


def main() -> None:
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
