"""A background thread for work that should only use CPU time the main loop leaves idle."""
from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Callable, TypeVar

import torch

T = TypeVar("T")


class IdleWorker:
    """One thread at the lowest scheduling priority, with one torch thread.

    An off-policy loop on a CPU leaves a core idle while the env steps (ALE and EnvPool step on one
    core). Work submitted here fills that gap: at ``SCHED_IDLE`` (Linux; elsewhere nice 19) the
    thread runs only when a core has nothing else to run, so the main thread's env steps and
    torch ops never wait for it. At normal priority the same thread took CPU from DQN's action
    choice and gained nothing overall; idle, it took a Pong DQN learning step from 41 to 31 ms
    with the action choice unchanged (400-step chunks, in one process, here).
    """

    def __init__(self, torch_threads: int = 1) -> None:
        threads = torch.get_num_threads()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="rlkit-idle", initializer=_idle_thread_setup,
                                        initargs=(torch_threads,))
        self._pool.submit(lambda: None).result()  # run the initializer now...
        torch.set_num_threads(threads)  # ...and give the caller its own thread count back (the setting is shared)

    def submit(self, fn: Callable[..., T], *args: Any) -> "Future[T]":
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _idle_thread_setup(torch_threads: int) -> None:
    # One intra-op thread. OpenMP's thread count is per calling thread, so the caller keeps its own;
    # torch sets a thread's count from a shared value on the thread's first query, so query first.
    torch.get_num_threads()
    torch.set_num_threads(torch_threads)
    if not sys.platform.startswith("linux"):
        return  # elsewhere a thread's priority is not set through its id: the work runs at normal priority
    tid = threading.get_native_id()
    try:
        os.sched_setscheduler(tid, os.SCHED_IDLE, os.sched_param(0))
    except OSError:
        try:
            os.setpriority(os.PRIO_PROCESS, tid, 19)  # a Linux thread's own nice value
        except OSError:
            pass
