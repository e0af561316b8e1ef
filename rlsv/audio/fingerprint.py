"""What data a run saw, as one hash: the dataset fingerprint (for provenance, and to refuse resuming a
run whose dataset was replaced at the same path).

:func:`dataset_fingerprint` returns a JSON-ready dict (``FORMAT = "rlsv-dataset-fingerprint/1"``)::

    {
      "format": "rlsv-dataset-fingerprint/1",
      "layout": "wav" | "stem",              # MUSDB18-HQ track folders | MUSDB18 .stem.mp4 files
      "synthetic": {...} | None,             # a synthetic corpus's generation parameters (its rlsv_synth.json)
      "subsets": {
        "train": [                           # the dataset's tracks of that subset, in its (name) order
          {"name": "<track>", "sha256": "<64 hex>",
           "files": {"mixture.wav": "<64 hex>", "vocals.wav": ..., ...}},   # or {"<track>.stem.mp4": ...}
          ...],
        "test": [...]},
      "sha256": "<64 hex>"                   # of all the above
    }

* a file's hash is the SHA-256 of its bytes; the files of a track are the ones rlsv reads
  (:attr:`rlsv.audio.musdb.Track.files`: the five wav files of a MUSDB18-HQ folder, or the ``.stem.mp4``);
* a track's ``sha256`` is the SHA-256 of the lines ``<file name>\\t<file sha256>\\n``, files sorted by
  name; it does not depend on where the dataset lies, only on the file names and bytes;
* the overall ``sha256`` is the SHA-256 of the canonical JSON (sorted keys, no spaces) of the dict
  without it: format, layout, synthetic parameters and the tracks of each subset. Two folders with
  the same content have the same fingerprint; a renamed, added, removed or changed track changes it.

Hashing all of MUSDB18 means reading its 4.5 GB, which no run should pay each time, so file hashes are
cached in the decode cache folder (:class:`rlsv.audio.cache.DecodeCache`), one JSON file per dataset root:
``<cache root>/file-hashes/<16 hex of the root's absolute path>.json``, mapping each file's absolute path
to its size, ``mtime_ns``, ``ctime_ns`` and SHA-256, written atomically. A file whose size or times
differ is read and hashed again; a second call on an unchanged dataset reads no audio, only ``stat``\\ s
(``ctime`` cannot be set by a copy, so a dataset replaced with ``rsync -a`` or ``cp -p`` is hashed again).

:func:`fingerprint_changes` says in words what differs between two fingerprints.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Iterable, Mapping

from rlsv.atomic import write_json
from rlsv.audio.musdb import MusdbDataset, Track
from rlsv.audio.synth import MARKER_FILE

__all__ = ["FORMAT", "HASHES_FOLDER", "dataset_fingerprint", "fingerprint_changes"]

FORMAT = "rlsv-dataset-fingerprint/1"
HASHES_FOLDER = "file-hashes"
_CHUNK = 1 << 20  # bytes read at a time while hashing


def dataset_fingerprint(dataset: MusdbDataset, subsets: Iterable[str] | None = None) -> dict[str, Any]:
    """The fingerprint of the tracks of ``subsets`` (default: every subset ``dataset`` lists); see the module.

    Reads (and hashes) only the files whose size or times changed since the last call for the same
    dataset root; records the new hashes in the decode cache folder.

    Raises:
        KeyError: a subset ``dataset`` was not loaded with. FileWriteError: the hash record cannot be written.
    """
    subsets = tuple(subsets) if subsets is not None else tuple(dataset.subset_tracks)
    store = _HashStore(dataset.cache.root, dataset.root)
    try:
        listing = {subset: [_track_entry(track, store) for track in dataset.tracks(subset)] for subset in subsets}
    finally:
        store.save()
    fingerprint: dict[str, Any] = {
        "format": FORMAT,
        "layout": "wav" if dataset.is_wav else "stem",
        "synthetic": _synthetic_parameters(dataset.root) if dataset.synthetic else None,
        "subsets": listing,
    }
    fingerprint["sha256"] = _sha256_of_json(fingerprint)
    return fingerprint


def fingerprint_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    """What differs from fingerprint ``old`` to ``new``, one short line per change (empty when the same):
    the layout, the synthetic parameters, and per subset the tracks added, removed, renamed (same content)
    or changed (naming the files)."""
    if old.get("sha256") == new.get("sha256"):
        return []
    changes = []
    if old.get("layout") != new.get("layout"):
        changes.append(f"layout {old.get('layout')} -> {new.get('layout')}")
    if old.get("synthetic") != new.get("synthetic"):
        changes.append("synthetic corpus parameters changed")
    old_subsets, new_subsets = old.get("subsets", {}), new.get("subsets", {})
    for subset in sorted(set(old_subsets) | set(new_subsets)):
        changes += _subset_changes(subset, old_subsets.get(subset, []), new_subsets.get(subset, []))
    return changes or ["the fingerprints differ (their format or overall hash)"]


# --------------------------------------------------------------------------- tracks and hashes


def _track_entry(track: Track, store: "_HashStore") -> dict[str, Any]:
    """``{"name", "sha256", "files": {file name: sha256}}`` of one track, files sorted by name."""
    files = {path.name: store.sha256(path) for path in sorted(track.files, key=lambda p: p.name)}
    lines = "".join(f"{name}\t{digest}\n" for name, digest in files.items())
    return {"name": track.name, "sha256": hashlib.sha256(lines.encode("utf-8")).hexdigest(), "files": files}


def _subset_changes(subset: str, old: list[Mapping], new: list[Mapping]) -> list[str]:
    """Added, removed, renamed and changed tracks of one subset."""
    old_by_name = {t["name"]: t for t in old}
    new_by_name = {t["name"]: t for t in new}
    removed = [n for n in old_by_name if n not in new_by_name]
    added = [n for n in new_by_name if n not in old_by_name]
    changes = []
    for name in removed:
        twin = next((a for a in added if new_by_name[a]["sha256"] == old_by_name[name]["sha256"]), None)
        if twin is not None:
            added.remove(twin)
            changes.append(f"{subset}: track {name!r} renamed to {twin!r}")
        else:
            changes.append(f"{subset}: track {name!r} removed")
    changes += [f"{subset}: track {name!r} added" for name in added]
    for name, track in new_by_name.items():
        before = old_by_name.get(name)
        if before is not None and before["sha256"] != track["sha256"]:
            files = sorted(f for f in set(before.get("files", {})) | set(track.get("files", {}))
                           if before.get("files", {}).get(f) != track.get("files", {}).get(f))
            changes.append(f"{subset}: track {name!r} changed ({', '.join(files) or 'its files'})")
    return changes


def _synthetic_parameters(root: Path) -> dict[str, Any] | None:
    """The generation parameters in a synthetic corpus's marker file, or None if it cannot be read."""
    try:
        return json.loads((root / MARKER_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _sha256_of_json(obj: Any) -> str:
    """SHA-256 of the canonical JSON of ``obj`` (sorted keys, no spaces, UTF-8)."""
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """SHA-256 of the bytes of ``path`` (read in 1 MiB chunks)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


class _HashStore:
    """File hashes of one dataset root, cached in ``<cache root>/file-hashes/<root key>.json``.

    Keyed by absolute path; an entry is used only while the file's size, ``mtime_ns`` and ``ctime_ns`` are
    those recorded. Entries of files that no longer exist are dropped when it saves.
    """

    def __init__(self, cache_root: Path, dataset_root: Path) -> None:
        root = str(Path(dataset_root).absolute())
        self.path = cache_root / HASHES_FOLDER / f"{hashlib.sha1(root.encode('utf-8')).hexdigest()[:16]}.json"
        self.root = root
        self.known = self._read()
        self.used: dict[str, dict[str, Any]] = {}

    def sha256(self, path: Path) -> str:
        key = str(path.absolute())
        stat = os.stat(path)
        state = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}
        entry = self.known.get(key)
        if not (isinstance(entry, dict) and all(entry.get(k) == v for k, v in state.items())
                and isinstance(entry.get("sha256"), str)):
            entry = state | {"sha256": sha256_file(path)}
        self.used[key] = entry
        return entry["sha256"]

    def save(self) -> None:
        """Write the hashes known, updated by this call's, if they changed (entries of files gone are dropped)."""
        merged = {key: entry for key, entry in (self.known | self.used).items()
                  if key in self.used or os.path.exists(key)}
        if merged != self.known:
            write_json({"root": self.root, "files": merged}, self.path)

    def _read(self) -> dict[str, Any]:
        try:
            record = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        files = record.get("files") if isinstance(record, dict) and record.get("root") == self.root else None
        return files if isinstance(files, dict) else {}
