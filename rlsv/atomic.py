"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader (or a resumed run) sees either the old file or the new one, never half a file,
even if the process is killed while writing. Used for checkpoints, configs, metrics and
status files everywhere in rlsv.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

__all__ = ["atomic_path", "save_torch", "write_text", "write_json", "remove_leftover_temporaries", "TEMPORARY"]

TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
"""Names of the temporary files of :func:`atomic_path`: ``.<name>.<8 hex digits>.tmp``."""


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = _new_file(path, suffix)
    try:
        yield tmp_path
        with open(tmp_path, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def _new_file(path: Path, suffix: str) -> Path:
    """Create a new, empty file ``.<name>.<random><suffix>`` next to ``path``, with the usual permissions
    of a new file: 0o666 less the process's umask, applied by ``open`` itself (the umask is never changed,
    which would race with other threads; ``tempfile.mkstemp`` would make it 0o600)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    for _ in range(tempfile.TMP_MAX):
        candidate = path.with_name(f".{path.name}.{secrets.token_hex(4)}{suffix}")
        try:
            os.close(os.open(candidate, flags, 0o666))
        except FileExistsError:
            continue
        return candidate
    raise FileExistsError(f"No unused temporary name next to {path}.")


def save_torch(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically."""
    import torch  # imported here so that the presentation layers need not load torch

    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def write_text(text: str, path: str | os.PathLike) -> None:
    """Write ``text`` to ``path`` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(obj: Any, path: str | os.PathLike) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    write_text(json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n", path)


def remove_leftover_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files that killed writes left in ``folder`` (:data:`TEMPORARY` names); return them.

    Only for a folder that no other process writes at the same time (a run folder under its run's lock,
    or a run being started): a temporary file there is a write that will never finish.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    removed = []
    for path in folder.iterdir():
        if TEMPORARY.match(path.name) and path.is_file():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed
