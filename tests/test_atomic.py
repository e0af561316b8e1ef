"""Atomic writes: the usual permissions of a new file (0o666 less the umask), no temporary file left."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rlsv.atomic import atomic_path, write_json, write_text


@pytest.mark.parametrize("umask", [0o022, 0o027, 0o077])
def test_written_files_get_the_permissions_of_a_new_file(tmp_path: Path, umask: int) -> None:
    previous = os.umask(umask)
    try:
        write_text("x", tmp_path / "a.txt")
        write_json({"a": 1}, tmp_path / "sub" / "b.json")
        with open(tmp_path / "plain.txt", "w") as fh:  # what an ordinary write gives
            fh.write("x")
    finally:
        os.umask(previous)
    expected = 0o666 & ~umask
    for name in ("a.txt", "sub/b.json", "plain.txt"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == expected, name


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "config.json"
    write_text("old", target)
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".config.json.") and tmp.name.endswith(".tmp")
            tmp.write_text("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json"]
