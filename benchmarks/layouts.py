"""The batch-layout choices behind rlkit's NatureCNN paths, timed side by side on this machine.

    python benchmarks/layouts.py

- gathering 1024 channels-last Atari stacks in a shuffled order: advanced indexing, index_select
  on the [B, C, H, W] view, and ``take_rows`` (index_select on the [B, H, W, C] view);
- making 1024 uint8 stacks channels-last: torch's reorder and ``to_channels_last`` (OpenCV);
- the 3136->512 layer's forward pass at the row counts rlkit uses: x Wᵀ (nn.Linear) and (W xᵀ)ᵀ.
Median of repeated calls, torch on all cores, no autograd.
"""
from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rlkit.buffers import take_rows  # noqa: E402
from rlkit.fast.cnn import to_channels_last  # noqa: E402
from rlkit.utils import usable_cores  # noqa: E402


def median_ms(fn, repeats: int) -> float:
    for _ in range(3):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return round(1e3 * statistics.median(times), 3)


def main() -> None:
    torch.set_num_threads(usable_cores())
    print(f"torch threads: {torch.get_num_threads()}")
    frames = torch.from_numpy(np.random.default_rng(0).integers(0, 256, (1024, 4, 84, 84), dtype=np.uint8))
    channels_last = frames.contiguous(memory_format=torch.channels_last)
    perm = torch.randperm(1024)
    with torch.inference_mode():
        print("gather 1024 channels-last stacks (ms):",
              f"t[perm] {median_ms(lambda: channels_last[perm], 20)},",
              f"index_select NCHW view {median_ms(lambda: channels_last.index_select(0, perm), 20)},",
              f"take_rows {median_ms(lambda: take_rows(channels_last, perm), 20)}")
        print("1024 uint8 stacks to channels-last (ms):",
              f"torch {median_ms(lambda: frames.contiguous(memory_format=torch.channels_last), 20)},",
              f"to_channels_last {median_ms(lambda: to_channels_last(frames), 20)}")
        weight, bias = torch.randn(512, 3136), torch.randn(512)
        for rows in (1, 4, 8, 16, 32, 64, 256):
            x = torch.randn(rows, 3136)
            linear = median_ms(lambda: F.linear(x, weight, bias), 200)
            transposed = median_ms(lambda: torch.addmm(bias[:, None], weight, x.t()).t(), 200)
            print(f"3136->512 forward, {rows:3d} rows (ms): x Wᵀ {linear}, (W xᵀ)ᵀ {transposed}")


if __name__ == "__main__":
    main()
