"""Issue 20 case 12: ``make lab`` starts JupyterLab as root too (containers, CI run as root), where Jupyter refuses
without ``--allow-root``: the Makefile adds it for root, and only for root."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOBODY = 65534


def _lab_command(user: int | None = None) -> str:
    """The ``jupyter lab`` line that ``make lab`` would run (``make -n``: printed, not run)."""
    shown = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, user=user, timeout=60)
    assert shown.returncode == 0, shown.stderr
    return next(line for line in shown.stdout.splitlines() if "jupyter lab" in line)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_lab_allows_root_only_for_root() -> None:
    command = _lab_command()
    assert ("--allow-root" in command) == (os.geteuid() == 0), command
    if os.geteuid() == 0:  # the same Makefile for another user: no --allow-root
        assert "--allow-root" not in _lab_command(NOBODY)
