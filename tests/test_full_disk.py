"""A full disk (issue 20 case 5): every writer ends in one FileWriteError naming the file and "no space left", and
leaves nothing half-written behind.

The unit tests simulate the full disk with ``/dev/full`` (every write fails with ``ENOSPC``, a real kernel error):
the writer's temporary file is made a link to it. The end-to-end test mounts a real 20 MB tmpfs (root only;
skipped with a message elsewhere).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

import rlsv.atomic
from rlsv.atomic import TEMPORARY, atomic_path, save_torch, write_json, write_text
from rlsv.audio.cache import DecodeCache
from rlsv.errors import FileWriteError

FULL = Path("/dev/full")


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the temporary files of :func:`rlsv.atomic.atomic_path` for targets named in the returned list (all
    targets while it is empty) links to ``/dev/full``."""
    if not FULL.exists():
        pytest.skip("no /dev/full here to simulate a full disk")
    names: list[str] = []
    real = rlsv.atomic._new_file

    def on_a_full_disk(path: Path, suffix: str) -> Path:
        tmp = real(path, suffix)
        if not names or path.name in names:
            tmp.unlink()
            tmp.symlink_to(FULL)
        return tmp

    monkeypatch.setattr(rlsv.atomic, "_new_file", on_a_full_disk)
    return names


def _assert_no_space_named(error: FileWriteError, path: Path) -> None:
    message = str(error)
    assert message.startswith(f"cannot write {path}: no space left on the device;") and "\n" not in message


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.rglob("*") if TEMPORARY.match(p.name) or p.is_symlink())


@pytest.mark.parametrize("writer", ["write_text", "write_json", "save_torch"])
def test_each_writer_names_the_file_and_keeps_the_old_one(tmp_path, full_disk, writer):
    target = tmp_path / "out" / "file"
    target.parent.mkdir()
    target.write_text("old")
    write = {"write_text": lambda: write_text("x" * 100_000, target),
             "write_json": lambda: write_json({"a": list(range(10_000))}, target),
             "save_torch": lambda: save_torch({"weights": np.zeros(100_000)}, target)}[writer]
    with pytest.raises(FileWriteError) as error:
        write()
    _assert_no_space_named(error.value, target)
    assert target.read_text() == "old" and _leftovers(tmp_path) == []


def test_atomic_path_converts_a_full_disk_and_passes_other_errors_through(tmp_path):
    target = tmp_path / "a.bin"
    with pytest.raises(FileWriteError, match="no space left"):
        with atomic_path(target):
            raise OSError(28, "No space left on device")
    with pytest.raises(FileWriteError, match="the disk quota is exceeded"):  # torch's wrapping: the OSError is
        with atomic_path(target):  # the context of its RuntimeError
            try:
                raise OSError(122, "Disk quota exceeded")
            except OSError:
                raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 64 vs 0")
    with pytest.raises(RuntimeError, match="not a disk"):
        with atomic_path(target):
            raise RuntimeError("not a disk problem")
    with pytest.raises(FileNotFoundError):  # not about the target: a bug or another file, unchanged
        with atomic_path(target):
            open(tmp_path / "missing")
    assert list(tmp_path.iterdir()) == []


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(FileWriteError, match=rf"cannot write {tmp_path}/a-file/sub/b.json: "):
        write_json({}, tmp_path / "a-file" / "sub" / "b.json")


@pytest.mark.parametrize("failing", ["mixture.npy", "vocals.npy", "track.json"])
def test_the_decode_cache_leaves_no_half_entry(tmp_path, full_disk, failing):
    full_disk.append(failing)
    cache = DecodeCache(tmp_path / "cache")
    entry = cache.entry("train", "song", 44100, [])
    signals = {"mixture": np.ones(529200, np.float32), "vocals": np.zeros(529200, np.float32)}
    with pytest.raises(FileWriteError) as error:
        cache.store(entry, signals, {"parts": ["mixture", "vocals"]})
    _assert_no_space_named(error.value, entry / failing)
    assert not entry.exists() and _leftovers(tmp_path) == []
    assert cache.load(entry, ["mixture"]) is None


def test_the_synthetic_corpus_names_the_wav_file(tmp_path, full_disk):
    from rlsv.audio.synth import make_corpus

    full_disk.append("drums.wav")
    with pytest.raises(FileWriteError) as error:
        make_corpus(tmp_path / "corpus", n_train=1, n_test=1, duration_s=3.0, progress=False)
    _assert_no_space_named(error.value, tmp_path / "corpus" / "train" / "synth-train-000" / "drums.wav")
    assert _leftovers(tmp_path) == [] and not (tmp_path / "corpus" / "rlsv_synth.json").exists()


# --------------------------------------------------------------------------- a real full disk


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 20 MB tmpfs holding a file that leaves 1 MB free (mounting needs root)."""
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a 20 MB tmpfs needs root; the full disk is simulated by the other tests of this file")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=20m", "tmpfs", str(mount)], capture_output=True,
                          text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the full disk is simulated by the other "
                    "tests of this file")
    try:
        with open(mount / "filler", "wb") as fh:
            fh.write(b"\0" * (19 * 1024 * 1024))
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_train_on_a_full_disk_is_one_line_and_leaves_nothing_half_written(small_tmpfs, tiny_corpus, capsys,
                                                                          monkeypatch):
    from rlsv.cli import main

    run = small_tmpfs / "run"
    base = ["train", str(run), "--profile", "smoke", "--epochs", "1", "--dataset", str(tiny_corpus), "--quiet"]
    assert main(base) == 2  # config.json fits in the 1 MB left, the 1.7 MB checkpoint does not
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"rlsv train: error: cannot write {run / 'checkpoint.pt'}: no space left on the device")
    assert _leftovers(small_tmpfs) == [] and not (run / "checkpoint.pt").exists()
    assert not run.exists()  # the folder rlsv train created for a run that never trained is removed whole

    monkeypatch.setenv("RLSV_CACHE", str(small_tmpfs / "cache"))  # the decode cache on the full disk
    assert main(["train", str(small_tmpfs / "run2")] + base[2:]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(small_tmpfs / "cache") in err and ".npy: no space left on the device" in err
    assert _leftovers(small_tmpfs) == [] and not list((small_tmpfs / "cache").rglob("*.npy"))
