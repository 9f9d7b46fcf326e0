"""Worker processes for asynchronous training (A3C): spawned, watched, stopped, never orphaned.

``WorkerPool`` starts ``num_workers`` processes with the ``spawn`` method (no forked copy of a
process that holds threads, open envs or a CUDA context). Each runs ``target(rank, generation,
conn, stop, *args)`` inside ``worker_process``, which sets the worker up to die with its parent
and turns an exception into a message, and reports through a pipe of its own: no lock is shared
between workers, so one killed in the middle of a send cannot block the others. The main process
reads the reports with ``poll``; a worker that dies (an exception, a segfault, SIGKILL) either
raises ``WorkerError`` naming it, or is started again when the pool restarts workers.
"""
from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterator

import torch.multiprocessing as mp

from rlkit.errors import WorkerError

STOP_GRACE_SECONDS = 15.0  # how long a stopping worker may take to finish its update before it is killed


@contextlib.contextmanager
def worker_process(conn: Connection) -> Iterator[Callable[[], bool]]:
    """The frame of a worker's body: Ctrl-C is left to the main process (which stops the workers at
    a safe point), the worker dies with its parent, and an exception goes to the main process as
    an ``{"error": traceback}`` message before the worker exits with status 1. Yields
    ``parent_alive()`` for platforms without a parent-death signal."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    parent = os.getppid()
    _die_with_parent()
    try:
        yield lambda: os.getppid() == parent
    except BaseException as exc:  # noqa: BLE001 - every failure is reported, then the worker exits
        with contextlib.suppress(OSError):
            conn.send({"error": "".join(traceback.format_exception_only(type(exc), exc)).strip(),
                       "traceback": traceback.format_exc()})
        conn.close()
        sys.exit(1)
    conn.close()


def _die_with_parent() -> None:
    """Linux: the kernel sends this process SIGKILL when its parent dies, even by SIGKILL, so no
    worker outlives a killed main process. Elsewhere workers poll ``parent_alive`` instead."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL("libc.so.6", use_errno=True)
            libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class WorkerPool:
    """``num_workers`` spawned processes running ``target(rank, generation, conn, stop, *args(rank,
    generation))``; ``generation`` counts the restarts of that rank. ``describe(rank)`` names a
    worker in errors ("A3C worker 1 (CartPole-v1)"). Use as a context manager: leaving it stops
    every worker (they see ``stop`` set, finish their update and exit; stragglers are killed)."""

    def __init__(self, target: Callable[..., None], args: Callable[[int, int], tuple], num_workers: int,
                 describe: Callable[[int], str], restart: bool = False):
        self.ctx = mp.get_context("spawn")
        self.target, self.args, self.describe, self.restart = target, args, describe, restart
        self.stop = self.ctx.Event()
        self.processes: dict[int, Any] = {}
        self.connections: dict[int, Connection] = {}
        self.generations = [0] * num_workers
        self.finished: set[int] = set()

    def __enter__(self) -> "WorkerPool":
        for rank in range(len(self.generations)):
            self._start(rank)
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self, rank: int) -> None:
        reader, writer = self.ctx.Pipe(duplex=False)
        generation = self.generations[rank]
        process = self.ctx.Process(target=self.target, args=(rank, generation, writer, self.stop, *self.args(rank, generation)),
                                   name=f"rlkit-worker-{rank}", daemon=True)
        process.start()
        writer.close()  # the worker holds the only write end: its exit is EOF here
        self.processes[rank], self.connections[rank] = process, reader

    @property
    def running(self) -> bool:
        return len(self.finished) < len(self.generations)

    def poll(self, timeout: float) -> list[tuple[int, dict[str, Any]]]:
        """The reports that arrived within ``timeout`` seconds, as (rank, message). A worker that
        ended with an error or a signal is restarted (``restart``) or raises ``WorkerError``; one
        that exited cleanly is finished."""
        live = {conn: rank for rank, conn in self.connections.items() if rank not in self.finished}
        messages: list[tuple[int, dict[str, Any]]] = []
        for conn in wait(list(live), timeout):
            rank = live[conn]
            ended, failure = False, None
            try:
                while conn.poll():
                    message = conn.recv()
                    if "error" in message:
                        failure = (f"failed: {message['error']}", message.get("traceback"))
                        break
                    messages.append((rank, message))
            except (EOFError, OSError):
                ended = True
            except Exception as exc:  # a message cut short by the worker's death does not unpickle
                failure = (f"sent a damaged report ({type(exc).__name__}: {exc})", None)
            # handled outside the reading: _failed may raise, and must not be taken for a read error
            if failure is not None:
                self._failed(rank, *failure)
            elif ended:
                self._ended(rank)
        return messages

    def stop_workers(self) -> None:
        """Ask every worker to stop after its current update; ``poll`` goes on reading their last
        reports until ``running`` is False."""
        self.stop.set()

    def _ended(self, rank: int) -> None:
        process = self.processes[rank]
        process.join(STOP_GRACE_SECONDS)
        if process.exitcode == 0:
            self.finished.add(rank)
            self.connections.pop(rank).close()
            return
        self._failed(rank, _exit_description(process.exitcode))

    def _failed(self, rank: int, reason: str, trace: str | None = None) -> None:
        process = self.processes[rank]
        process.join(STOP_GRACE_SECONDS)
        if process.is_alive():
            process.kill()
            process.join()
        self.connections.pop(rank).close()
        what = f"{self.describe(rank)} {reason}"
        if self.stop.is_set():  # the run is ending anyway: say so, and let the others finish
            print(f"{what} while the workers were stopping.", file=sys.stderr)
            self.finished.add(rank)
            return
        if self.restart:
            self.generations[rank] += 1
            print(f"{what}; restarting it (restart {self.generations[rank]} of worker {rank}).", file=sys.stderr)
            self._start(rank)
            return
        self.finished.add(rank)
        detail = f"\n{trace}" if trace else ""
        raise WorkerError(f"{what}. The other workers were stopped; the last checkpoint is intact and the run continues "
                          f"from it with --resume (resume=True). Pass restart_workers=True to restart dead workers instead."
                          f"{detail}", rank)

    def close(self) -> None:
        """Ask every worker to stop, wait for them, kill those that do not."""
        self.stop.set()
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        for process in self.processes.values():
            process.join(max(deadline - time.monotonic(), 0.0))
        for process in self.processes.values():
            if process.is_alive():
                process.kill()
                process.join()
        for conn in self.connections.values():
            conn.close()
        self.connections.clear()


def _exit_description(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        return f"was killed by {name} (exit code {exitcode})"
    # the usual cause: a script that trains at import time, run again by the spawned worker's import of it
    return (f"exited with status {exitcode} without reporting an error (its output above says why; a script "
            "that starts training at import needs `if __name__ == \"__main__\":`, since spawned workers import the "
            "main module)")
