"""On-disk cache of decoded audio: decode each track once, read it back memory-mapped.

Decoding a MUSDB18 ``.stem.mp4`` through ffmpeg costs a fraction of a second per read; training
reads every track once per epoch and evaluation once per run. The cache stores each track's mono
signals as float32 ``.npy`` files, read back with ``np.load(mmap_mode="r")`` (no copy, no decode).

Layout: ``<cache root>/<subset>/<track name>/<sample rate>Hz-<fingerprint>/<signal>.npy``. The
fingerprint hashes the name, size and modification time of the source files, so a replaced or
re-encoded file gets a new entry (old entries are left in place; delete the folder to reclaim
the space). Every file is written atomically, so concurrent runs can fill the same cache.

The cache root is, in order: an explicit argument, ``$RLSV_CACHE``, ``~/.cache/rlsv/decoded``
(the dataset folder itself may be read-only).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

from rlsv.atomic import atomic_path

__all__ = ["DecodeCache", "default_cache_dir", "source_fingerprint"]


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

    def store(self, entry: Path, signals: Mapping[str, np.ndarray]) -> None:
        """Write each signal as ``entry/<name>.npy`` (float32), each file atomically."""
        for name, signal in signals.items():
            with atomic_path(entry / f"{name}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, np.ascontiguousarray(signal, dtype=np.float32))

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
