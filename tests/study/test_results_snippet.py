"""The results snippet the README quotes: the trends' interval gaps against a direct computation, the
snippet's rows from the tables' numbers, and publishing into the README's markers."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlsv.study import results_snippet as rs


def _row(objective: str, omega: float, lam: float | None, a: tuple[float, float, float],
         bm: tuple[float, float, float] = (1.0, 0.0, 2.0), seeds: int = 3) -> dict:
    return {"objective": objective, "omega": omega, "lam": np.nan if lam is None else lam, "p": 1.0,
            "n_seeds": seeds, "additivity_mean": a[0], "additivity_ci_low": a[1], "additivity_ci_high": a[2],
            "additivity_paper_mean": 0.8, "si_sdr_mask_mean": bm[0], "si_sdr_mask_ci_low": bm[1],
            "si_sdr_mask_ci_high": bm[2], "si_sdr_mask_median": bm[0] + 0.5, "si_sdr_mask_collapsed": 1,
            "si_sdr_mask_count": 107, "si_sdr_mask_paper_mean": 3.0, "si_sdr_mean": 14.0}


@pytest.fixture
def tables() -> tuple[pd.DataFrame, pd.DataFrame]:
    table1 = pd.DataFrame([
        _row("tv", 0.5, None, (0.66, 0.64, 0.68)), _row("tv", 4.0, None, (0.68, 0.66, 0.70)),
        _row("sinkhorn", 1.0, 0.5, (0.72, 0.70, 0.74), bm=(5.0, 4.2, 5.8)),
        _row("sinkhorn", 1.0, 1.5, (0.92, 0.90, 0.94), bm=(-1.0, -2.5, 0.4)),
        _row("sinkhorn", 1.0, 2.0, (0.91, 0.88, 0.93), bm=(-0.5, -1.5, 0.9)),
    ])
    table2 = pd.DataFrame([_row("sinkhorn", w, 1.5, (a, a - 0.01, a + 0.01))
                           for w, a in ((1.0, 0.92), (1.5, 0.93), (2.0, 0.94), (4.0, 0.95))])
    return table1, table2


def test_gaps_are_the_distances_between_the_intervals(tables) -> None:
    gaps = rs.trend_gaps(*tables)
    assert gaps["additivity"] == pytest.approx(min(0.90, 0.88) - max(0.68, 0.70))
    assert gaps["masking"] == pytest.approx(4.2 - max(0.4, 0.9))
    assert gaps["omega"] == pytest.approx((0.95 - 0.01) - (0.92 + 0.01))
    table1, table2 = tables
    assert math.isnan(rs.trend_gaps(table1[table1["lam"] != 2.0], table2)["masking"])  # a missing row: unmeasured


def test_the_snippet_quotes_the_rows_the_trends_and_what_made_them(tables) -> None:
    text = rs.results_snippet(*tables, {"short": "rlsv 0.1 @ abc; 1 thread"}, "small profile, 3 seeds")
    assert "| L_A ω=4 (its most additive row) | 3 | 0.68 [0.66, 0.70] | 0.80 |" in text
    assert ("| L_B λ=1.5 | 3 | 0.92 [0.90, 0.94] | 0.80 | -1.00 [-2.50, 0.40] | -0.50 | 1 of 107 | 3.00 | 14.00 |"
            in text)
    assert "gap +0.180: holds beyond the noise" in text and "gap +3.300 dB: holds beyond the noise" in text
    assert "0.920 / 0.930 / 0.940 / 0.950" in text and "Made by: rlsv 0.1 @ abc; 1 thread." in text
    worse = tables[0].copy()
    worse.loc[worse["lam"] == 0.5, "si_sdr_mask_ci_low"] = 0.0
    assert "NOT beyond the noise" in rs.results_snippet(worse, tables[1], {}, "x")


def test_publish_puts_the_snippet_between_the_readme_markers(tmp_path: Path) -> None:
    snippet = tmp_path / "results.md"
    snippet.write_text("| a | 1 |\n")
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{rs.BEGIN}\nold numbers\n{rs.END}\nrest\n")
    rs.publish(snippet, tmp_path / "docs" / "small.md", readme)
    assert readme.read_text() == f"intro\n{rs.BEGIN}\n| a | 1 |\n{rs.END}\nrest\n"
    assert (tmp_path / "docs" / "small.md").read_text() == "| a | 1 |\n"
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="must hold the markers"):
        rs.publish(snippet, tmp_path / "x.md", readme)
