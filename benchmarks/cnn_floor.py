"""How close the NatureCNN update runs to this CPU's arithmetic peak.

    python benchmarks/cnn_floor.py

Times forward+backward of each NatureCNN layer at a PPO minibatch of 256 frames (channels-last,
fp32, torch on all cores) and prints the achieved GFLOP/s (2 FLOP per multiply-add; the first
convolution needs no input gradient). Compare with the cores' FMA peak: cores x GHz x FLOP/cycle.
"""
from __future__ import annotations

import os
import time

import torch
import torch.nn.functional as F


def layer_gflops(batch: int = 256, repeats: int = 10) -> list[dict]:
    cl = torch.channels_last
    rows = []
    # (name, input shape, weight shape, stride, needs input grad)
    for name, x_shape, w_shape, stride, input_grad in [
        ("conv1 8x8/4, 4->32", (batch, 4, 84, 84), (32, 4, 8, 8), 4, False),
        ("conv2 4x4/2, 32->64", (batch, 32, 20, 20), (64, 32, 4, 4), 2, True),
        ("conv3 3x3/1, 64->64", (batch, 64, 9, 9), (64, 64, 3, 3), 1, True),
    ]:
        x = torch.randn(x_shape).contiguous(memory_format=cl).requires_grad_(input_grad)
        w = torch.randn(w_shape).contiguous(memory_format=cl).requires_grad_()
        out = F.conv2d(x, w, stride=stride)
        macs = out.numel() * w_shape[1] * w_shape[2] * w_shape[3]
        passes = 3 if input_grad else 2  # forward, weight gradient, input gradient

        def step():
            F.conv2d(x, w, stride=stride).sum().backward()

        rows.append(_time(name, step, 2 * macs * passes, repeats))
    x = torch.randn(batch, 3136, requires_grad=True)
    w = torch.randn(512, 3136, requires_grad=True)
    rows.append(_time("linear 3136->512", lambda: F.linear(x, w).sum().backward(), 2 * batch * 3136 * 512 * 3, repeats))
    return rows


def _time(name: str, step, flops: float, repeats: int) -> dict:
    for _ in range(3):
        step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    seconds = (time.perf_counter() - start) / repeats
    return {"layer": name, "ms": round(1e3 * seconds, 2), "gflops": round(flops / seconds / 1e9, 1)}


def main() -> None:
    torch.set_num_threads(len(os.sched_getaffinity(0)))
    print(f"torch threads: {torch.get_num_threads()}")
    for row in layer_gflops():
        print(f"{row['layer']:24s} {row['ms']:7.2f} ms  {row['gflops']:6.1f} GFLOP/s")


if __name__ == "__main__":
    main()
