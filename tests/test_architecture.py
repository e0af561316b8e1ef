"""The package's layers (docs/architecture.md): enforced by import-linter, visible from ``rlsv``."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

import rlsv

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ["rlsv.cli", "rlsv.ui", "rlsv.study", "rlsv.run", "rlsv.audio", "rlsv.atomic", "rlsv.core", "rlsv.errors"]


def test_the_layers_contract_is_the_documented_one_and_kept() -> None:
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert [c["layers"] for c in contracts if c["type"] == "layers"] == [LAYERS]
    architecture = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    assert all(f"`{layer}`" in architecture for layer in LAYERS)
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint), "--config", str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                            cwd=ROOT)
    assert result.returncode == 0 and "1 kept, 0 broken" in result.stdout, result.stdout[-2000:]


def test_import_rlsv_is_light_and_exports_resolve() -> None:
    code = "import sys, rlsv; print('torch' in sys.modules, rlsv.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.split()
    assert out[0] == "False" and out[1] != "0+unknown"
    for name in rlsv.__all__:
        assert getattr(rlsv, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rlsv.nothing  # noqa: B018
