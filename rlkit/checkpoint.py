"""Atomic, safe, checked checkpoints: tensors and primitives only, loaded with ``weights_only=True``.

A checkpoint is the zip archive ``torch.save`` writes; every record in it carries a CRC-32, and
``load_checkpoint`` verifies them all before unpickling, so a flipped or truncated byte in the data
raises ``CheckpointError`` instead of loading silently.
"""
from __future__ import annotations

import errno
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import torch

from rlkit.errors import CheckpointError

FORMAT = "rlkit"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write to a temp file in the same folder, fsync, then rename: a crash mid-write leaves the
    previous checkpoint intact, never a truncated one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": FORMAT, "format_version": FORMAT_VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise CheckpointError(
                f"no space left on the device writing {path}; the previous checkpoint there is intact. "
                "Free some space and continue the run with --resume (resume=True)."
            ) from exc
        raise
    return path


def _verify_records(path: Path) -> None:
    """Check every record's CRC-32 against its bytes (``torch.load`` does not)."""
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(
            f"{path} is damaged ({type(exc).__name__}: {exc}): it may be truncated or corrupted; "
            "use an earlier checkpoint or retrain."
        ) from exc
    if bad is not None:
        raise CheckpointError(
            f"{path} is corrupted: the checksum of its record {bad!r} does not match its bytes. "
            "Use an earlier checkpoint or retrain."
        )


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load and check an rlkit checkpoint. Never unpickles code: ``torch.load(weights_only=True)``."""
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.pt"
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}; pass a .pt file written by agent.save() or a run folder.")
    if zipfile.is_zipfile(path):  # torch's format; other files fail in torch.load below
        _verify_records(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, foreign pickle, unsafe globals...
        raise CheckpointError(
            f"{path} could not be read as an rlkit checkpoint ({type(exc).__name__}: {str(exc)[:200]}). "
            "It may be truncated or written by another program; use an earlier checkpoint or retrain."
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path} is a torch file but not an rlkit checkpoint; load it with the program that wrote it.")
    payload["source"] = str(path.resolve())  # where it was read from (not stored): its run folder holds its files
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path} has checkpoint format {payload.get('format_version')}, this rlkit reads {FORMAT_VERSION}."
        )
    return payload
