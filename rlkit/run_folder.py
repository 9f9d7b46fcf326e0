"""A run folder that never loses finished work: one writer at a time, no silent overwrite, no stale
temp files.

``train`` opens the folder before anything is written there. An exclusive ``flock`` on
``.lock`` refuses a second writer (the kernel drops the lock when its process dies, even by
SIGKILL, so a killed run never blocks its own resume). A folder that already holds a run is only
continued (``resume``) or replaced on request (``overwrite``). Temp files of checkpoint writes that
a kill interrupted are removed.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from rlkit.errors import ConfigError, RunFolderError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no advisory locks, one writer is the user's care
    fcntl = None

CHECKPOINT = "checkpoint.pt"
RUN_FILES = (CHECKPOINT, "progress.csv", "config.json", "summary.json", "learning_curve.png")
RUN_DIRS = ("replay",)


class RunFolder:
    """The open run folder; ``close()`` releases the lock."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        if self.path.exists() and not self.path.is_dir():
            raise ConfigError(f"log_dir {self.path} is a file; pass a folder path (it is created if missing).")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"cannot create the run folder {self.path} ({exc.strerror}); pass a writable log_dir.") from exc
        self._lock = open(self.path / ".lock", "a+")
        if fcntl is not None:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._lock.close()
                raise RunFolderError(
                    f"another process is training into {self.path}; wait for it to finish, stop it, "
                    "or pass another log_dir."
                ) from None
        self._remove_temp_files()

    @property
    def checkpoint(self) -> Path:
        return self.path / CHECKPOINT

    def holds_run(self) -> bool:
        return any((self.path / name).exists() for name in RUN_FILES) or any(self.path.glob("events.out.tfevents.*"))

    def clear(self) -> None:
        """Remove a previous run's files (checkpoint, curves, TensorBoard events, replay storage)."""
        for name in RUN_FILES:
            (self.path / name).unlink(missing_ok=True)
        for events in self.path.glob("events.out.tfevents.*"):
            events.unlink()
        for name in RUN_DIRS:
            shutil.rmtree(self.path / name, ignore_errors=True)

    def _remove_temp_files(self) -> None:
        # only the lock holder writes here, so every temp file is a dead writer's; only this run's
        # own folders are looked at (log_dir may hold other runs' folders, with writers of their own)
        for folder in (self.path, *(self.path / d for d in RUN_DIRS)):
            for stale in folder.glob(".*.tmp"):
                if stale.is_file():
                    stale.unlink(missing_ok=True)

    def close(self) -> None:
        if not self._lock.closed:
            if fcntl is not None:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
