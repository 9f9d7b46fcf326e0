"""``python -m rlkit.launch [--cores 0,1] [--parent PID] -- COMMAND ...``: run COMMAND in this process
(``execv``) after tying it to its parent and, optionally, to some cores.

``rlkit bench`` starts every run through this. The parent-death signal (Linux) sends the run SIGTERM
when the bench that started it dies, even by SIGKILL: the run then stops at its next safe point and
saves its checkpoint, so no orphan keeps training into a folder that a restarted bench wants to
resume. It survives ``execv``. Doing this here rather than in ``subprocess``'s ``preexec_fn`` keeps
Python code out of the window between ``fork`` and ``exec``, which the bench's threads make unsafe.
"""
from __future__ import annotations

import argparse
import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if "--" not in argv:
        print("usage: python -m rlkit.launch [--cores 0,1] [--parent PID] -- COMMAND ...", file=sys.stderr)
        return 2
    split = argv.index("--")
    parser = argparse.ArgumentParser(prog="python -m rlkit.launch")
    parser.add_argument("--cores", help="comma-separated CPU ids to run on (default: all this process may use)")
    parser.add_argument("--parent", type=int, help="the pid of the process this one must not outlive")
    args = parser.parse_args(argv[:split])
    command = argv[split + 1:]
    if not command:
        parser.error("no command after --")
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
        except (OSError, AttributeError):
            pass
        # the parent may have died before prctl: then nothing would ever signal this process
        if args.parent is not None and os.getppid() != args.parent:
            return 128 + signal.SIGTERM
    if args.cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cores.split(",")})
    os.execvp(command[0], command)
    return 127  # not reached: execvp replaces this process or raises


if __name__ == "__main__":
    sys.exit(main())
