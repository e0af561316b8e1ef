"""Atomic file writes: write to a temporary file in the same folder, then rename.

A reader (or a resumed run) sees either the old file or the new one, never half a file,
even if the process is killed while writing. Used for checkpoints, configs, metrics and
status files everywhere in rlsv.

A write that fails for a reason the user can fix -- a full disk (``ENOSPC``), an exceeded quota, a file
too large for the file system, a folder that cannot be written -- raises
:class:`rlsv.errors.FileWriteError` (one line naming the file and the reason, e.g. "no space left on the
device"), with the temporary file removed and the old file, if any, untouched. ``torch.save`` reports a
full disk as a ``RuntimeError`` whose context is the ``OSError``; :func:`save_torch` unwraps it.
"""

from __future__ import annotations

import errno
import json
import os
import re
import secrets
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from rlsv.errors import file_error

__all__ = ["atomic_path", "save_torch", "write_text", "write_json", "remove_leftover_temporaries", "TEMPORARY",
           "write_failure"]

TEMPORARY = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp$")
"""Names of the temporary files of :func:`atomic_path`: ``.<name>.<8 hex digits>.tmp``."""

_FULL = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})
"""``errno`` values of a write that ran out of room: whatever wrote the temporary file, it is the target's
write that failed."""


def write_failure(error: BaseException) -> OSError | None:
    """The ``OSError`` of a full disk, an exceeded quota or a too-large file behind ``error`` (``error``
    itself or an exception in its ``__cause__`` / ``__context__`` chain), or None.

    ``torch.save`` to a file object raises ``RuntimeError("... unexpected pos ...")`` with the file's
    ``OSError(ENOSPC)`` as its context; numpy and soundfile raise the ``OSError`` itself.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno in _FULL:
            return current
        current = current.__cause__ or current.__context__
    return None


@contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it is renamed over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched. A failure to make the
    folder, the temporary file, to flush or to rename it, and a full disk (or quota) met while the body
    writes, raise :class:`rlsv.errors.FileWriteError` naming ``path``; other exceptions of the body pass
    through unchanged.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp_path = _new_file(path, suffix)
    except OSError as exc:
        raise file_error(path, exc) from exc
    try:
        try:
            yield tmp_path
        except BaseException as exc:
            full = write_failure(exc)
            if full is not None:
                raise file_error(path, full) from exc
            raise
        try:
            with open(tmp_path, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp_path, path)
        except OSError as exc:
            raise file_error(path, exc) from exc
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
    """``torch.save`` ``obj`` to ``path`` atomically (through a file object of ours, so that a full disk
    surfaces as the file's ``OSError`` and so as a :class:`rlsv.errors.FileWriteError`)."""
    import torch  # imported here so that the presentation layers need not load torch

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(obj, fh)


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
