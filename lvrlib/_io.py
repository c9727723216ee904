"""Atomic file writes: a reader finds the old file or the new one, never half of one.

Every file lvrlib writes for later reading (checkpoints, cached results, summaries) goes
through :func:`atomic_path`: the content is written to a temporary file in the same
folder, then moved onto the final name with one ``os.replace`` (a rename, atomic on one
file system). An interrupted write leaves the previous file, or none, as it was. This
guards against a killed process, not against a power cut (nothing is fsync'ed).
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write to; move it onto ``path`` when the
    block ends without an error, delete it when the block (or the move) fails.

    The temporary name ``<name>.<pid>-<random>.tmp`` is unique, so two processes writing
    the same file do not write into each other's temporary file.
    """
    path = Path(path)
    tmp = path.with_name(f"{path.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically (see :func:`atomic_path`); return the path."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
