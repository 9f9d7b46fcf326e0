"""Writing a text file so that a kill, a full disk or a second reader never sees half of it."""
from __future__ import annotations

import os
from pathlib import Path


def write_text_atomically(path: str | os.PathLike, text: str) -> None:
    """``text`` into a temp file beside ``path`` (named by this process), then a rename: a kill leaves
    the old file or the new one, never a part; a failed write removes its temp file."""
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
