"""On-disk cache of decoded audio: decode each track once, read it back memory-mapped.

Decoding a MUSDB18 ``.stem.mp4`` through ffmpeg costs a fraction of a second per read; training
reads every track once per epoch and evaluation once per run. The cache stores each track's mono
signals as float32 ``.npy`` files, read back with ``np.load(mmap_mode="r")`` (no copy, no decode).

Layout: ``<cache root>/<subset>/<track name>/<sample rate>Hz-<fingerprint>/<signal>.npy``, and
``track.json`` (what was measured while decoding, e.g. how well the stems add up to the mixture),
written last: an entry without it is incomplete and is decoded again. The fingerprint hashes the
name, size and modification time of the source files, so a replaced or re-encoded file gets a new
entry (old entries are left in place; delete the folder to reclaim the space). Every file is
written atomically, so concurrent runs can fill the same cache. A write that fails (a full disk)
raises :class:`rlsv.errors.FileWriteError` naming the file, and the entry's files written so far are
removed: nothing half-written is left behind.

The cache root also holds ``file-hashes.json`` files of :mod:`rlsv.audio.fingerprint` (SHA-256 of
source files, keyed by path, size and modification time).

The cache root is, in order: an explicit argument, ``$RLSV_CACHE``, ``~/.cache/rlsv/decoded``
(the dataset folder itself may be read-only).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from rlsv.atomic import atomic_path, write_json
from rlsv.errors import FileWriteError

__all__ = ["DecodeCache", "default_cache_dir", "source_fingerprint", "INFO_FILE"]

INFO_FILE = "track.json"
"""The record written last into every complete cache entry."""


def default_cache_dir() -> Path:
    """``$RLSV_CACHE`` if set, else ``~/.cache/rlsv/decoded``."""
    configured = os.environ.get("RLSV_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "rlsv" / "decoded"


def source_fingerprint(files: Iterable[str | os.PathLike]) -> str:
    """16 hex digits identifying the content of ``files`` by name, size and modification time."""
    digest = hashlib.sha1()
    for path in files:
        stat = os.stat(path)
        digest.update(f"{Path(path).name}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
    return digest.hexdigest()[:16]


@dataclass(frozen=True)
class DecodeCache:
    """A folder of decoded signals, one entry (sub-folder) per track version."""

    root: Path

    def entry(self, subset: str, track: str, sample_rate: int, files: Iterable[str | os.PathLike]) -> Path:
        """Folder of the entry for ``track`` decoded at ``sample_rate`` from ``files`` as they are now."""
        return self.root / subset / track / f"{sample_rate}Hz-{source_fingerprint(files)}"

    def load(self, entry: Path, names: Iterable[str]) -> dict[str, np.ndarray] | None:
        """The signals ``names`` of ``entry`` as read-only memory maps, or None if any is missing."""
        signals = {}
        for name in names:
            try:
                signals[name] = np.load(entry / f"{name}.npy", mmap_mode="r")
            except (OSError, ValueError):  # not there yet (or unreadable): decode again
                return None
        return signals

    def info(self, entry: Path) -> dict[str, Any] | None:
        """The record of a complete entry (``entry/track.json``), or None when the entry is incomplete."""
        try:
            record = json.loads((entry / INFO_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def store(self, entry: Path, signals: Mapping[str, np.ndarray], info: Mapping[str, Any]) -> None:
        """Write each signal as ``entry/<name>.npy`` (float32), then ``info`` as ``entry/track.json``, each
        file atomically.

        Raises:
            FileWriteError: a file could not be written (a full disk: "no space left on the device"); the
                files of this entry written before it are removed again.
        """
        written: list[Path] = []
        try:
            for name, signal in signals.items():
                path = entry / f"{name}.npy"
                with atomic_path(path) as tmp, open(tmp, "wb") as fh:
                    _write_npy(fh, np.ascontiguousarray(signal, dtype=np.float32))
                written.append(path)
            write_json(dict(info), entry / INFO_FILE)
        except FileWriteError:
            for path in written:
                path.unlink(missing_ok=True)
            try:
                entry.rmdir()  # when empty: nothing of this entry is left
            except OSError:
                pass
            raise

    def check_writable(self) -> None:
        """Raise ``PermissionError`` (saying what to do) if the cache root cannot be written."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as exc:
            raise PermissionError(
                f"The decode cache folder {self.root} is not writable ({exc.strerror}). Set RLSV_CACHE "
                "(or pass --cache-dir, cache_dir= in Python) to a writable folder with room for the decoded audio "
                "(about 1.3 GB per hour of audio)."
            ) from exc


def _write_npy(fh, array: np.ndarray) -> None:
    """Write a C-contiguous ``array`` to the open binary file ``fh`` in the ``.npy`` format (version 1.0).

    The data go through ``fh.write`` (``np.save`` would call ``ndarray.tofile``, whose short write on a full
    disk is an ``OSError`` without an errno: "529200 requested and 374752 written"), so a full disk raises
    ``OSError(ENOSPC)``.
    """
    np.lib.format.write_array_header_1_0(fh, np.lib.format.header_data_from_array_1_0(array))
    fh.write(memoryview(array).cast("B"))
