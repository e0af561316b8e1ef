"""The measurement scripts behind docs/results/ (benchmarks/drift.py, benchmarks/determinism.py): their reports
from small inputs, checked against values computed here, so that the scripts cannot rot between measurements."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest
import torch

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str) -> ModuleType:
    if str(BENCHMARKS) not in sys.path:  # the scripts import each other, as `python benchmarks/x.py` lets them
        sys.path.insert(0, str(BENCHMARKS))
    spec = importlib.util.spec_from_file_location(f"bench_{name}", BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _table_row(objective: str, omega: float, lam: float | None, a: float, bm: float) -> dict:
    return {"objective": objective, "omega": omega, "lam": np.nan if lam is None else lam, "p": 1.0,
            "additivity_mean": a, "additivity_ci_low": a - 0.01, "additivity_ci_high": a + 0.01,
            "si_sdr_mask_mean": bm, "si_sdr_mask_ci_low": bm - 0.5, "si_sdr_mask_ci_high": bm + 0.5}


def _tables(folder: Path, shift: float) -> Path:
    folder.mkdir(parents=True)
    t1 = [_table_row("tv", w, None, 0.67 + shift, 5.8) for w in (0.5, 4.0)]
    t1 += [_table_row("sinkhorn", 1.0, lam, a + shift, bm) for lam, a, bm in ((0.5, 0.71, 4.5), (1.5, 0.91, 0.5),
                                                                             (2.0, 0.90, -1.3))]
    pd.DataFrame(t1).to_csv(folder / "table1_numbers.csv", index=False)
    t2 = [_table_row("sinkhorn", w, 1.5, a + shift, 0.0) for w, a in ((1.0, 0.905), (4.0, 0.939))]
    pd.DataFrame(t2).to_csv(folder / "table2_numbers.csv", index=False)
    return folder


def test_drift_report_gives_each_rows_difference_and_each_results_trend_gaps(tmp_path: Path) -> None:
    drift = _script("drift")
    a = _tables(tmp_path / "a" / "tables" / "small", 0.0)
    b = _tables(tmp_path / "b" / "tables" / "small", 0.02)
    text = drift.report(a, b, ("direct", "gemm"))
    assert "| L_B λ=1.5 | A(·) | 0.910 [0.900, 0.920] | 0.930 [0.920, 0.940] | +0.020 |" in text
    assert "| L_B λ=1.5 ω=4 | A(·) | 0.939 [0.929, 0.949] | 0.959 [0.949, 0.969] | +0.020 |" in text
    # the interval gaps, computed here: ω = 4's lower end minus ω = 1's upper end; no runs behind the tables
    omega_gap = (0.939 - 0.01) - (0.905 + 0.01)
    assert f"| omega | gap {omega_gap:+.3f} (runs not found) | gap {omega_gap:+.3f} (runs not found) |" in text


def test_determinism_digest_sees_one_changed_weight(tmp_path: Path) -> None:
    determinism = _script("determinism")
    state = {"a": torch.arange(6, dtype=torch.float32).reshape(2, 3), "b": torch.ones(4)}
    torch.save({"state_dict": state}, tmp_path / "model.pt")
    first = determinism.weights_digest(tmp_path)
    assert determinism.weights_digest(tmp_path) == first
    state["b"][2] = torch.nextafter(torch.tensor(1.0), torch.tensor(2.0))  # one ulp
    torch.save({"state_dict": state}, tmp_path / "model.pt")
    assert determinism.weights_digest(tmp_path) != first
    with pytest.raises(FileNotFoundError):
        determinism.weights_digest(tmp_path / "missing")


def _reproduce_root(root: Path, weight: float) -> Path:
    tables = root / "tables" / "small"
    tables.mkdir(parents=True)
    (tables / "table1.csv").write_text("row,A\nL_A,0.67\n")
    run = root / "small-tv-w1-s218-abc123"
    run.mkdir()
    torch.save({"state_dict": {"w": torch.tensor([weight, 2.0])}, "run": str(root)}, run / "model.pt")
    (run / "segments.csv").write_text("track,additivity\nt,0.7\n")
    return root


def test_same_numbers_compares_tables_weights_and_evaluations_bit_for_bit(tmp_path: Path) -> None:
    same_numbers = _script("same_numbers")
    a, b = _reproduce_root(tmp_path / "a", 1.0), _reproduce_root(tmp_path / "b", 1.0)
    text = same_numbers.report(a, b, "small")  # model.pt files differ in their data path, not in their weights
    assert "| runs' weights (`model.pt`, tensor by tensor) | 1 of 1 |" in text and "**Bit-identical.**" in text
    c = _reproduce_root(tmp_path / "c", float(np.nextafter(np.float32(1.0), np.float32(2.0))))
    text = same_numbers.report(a, c, "small")
    assert "| 0 of 1 |" in text and "**NOT identical.**" in text and "small-tv-w1-s218-abc123" in text
