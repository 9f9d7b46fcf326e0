"""Seeding, devices and threads. torch is imported where it is used, so that reading the cores
(``usable_cores``) costs no torch import: ``rlkit bench --dry-run`` starts without it."""
from __future__ import annotations

import os
import random
from typing import TYPE_CHECKING

import numpy as np

from rlkit.errors import ConfigError

if TYPE_CHECKING:
    import torch


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (envs are seeded by make_vec_env)."""
    import torch

    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def resolve_device(device: str | torch.device) -> torch.device:
    import torch

    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as exc:
        raise ConfigError(f"device {device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:N]'.") from exc
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {device!r} asked for CUDA, but torch sees no GPU here; use device='auto' or 'cpu'.")
    return resolved


def usable_cores() -> int:
    """The cores this process may run on: its CPU affinity where the OS reports one."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def configure_threads(requested: int, compute_bound: bool) -> int:
    """Set torch's intra-op threads. On a few cores shared with env stepping, small MLPs run
    fastest on one thread (more threads only add synchronisation); convolutions and large-batch
    updates of wide MLPs (``compute_bound``) use every core."""
    import torch

    threads = requested or (usable_cores() if compute_bound else 1)
    torch.set_num_threads(threads)
    return threads
