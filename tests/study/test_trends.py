"""The paper's three trends as differences with intervals: the weakest pair is the one reported, the difference
is the seed-balanced means' (computed directly here), degenerate data give the closed-form interval, and a
missing row leaves the trend unmeasured."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlsv.study import results_snippet as rs
from rlsv.study.trends import trend_tests

SEEDS = (218, 219, 220)
N_SEGMENTS = 40


def _rows(objective: str, omega: float, lam: float | None, a: float, bm: float, spread: float,
          rng: np.random.Generator) -> list[dict]:
    rows = []
    for k, seed in enumerate(SEEDS):
        shift = spread * (k - 1)  # seeds differ by a known offset
        for i in range(N_SEGMENTS):
            rows.append({"objective": objective, "omega": omega, "lam": np.nan if lam is None else lam,
                         "p": np.nan if lam is None else 1.0, "seed": seed,
                         "additivity": a + shift + spread * rng.standard_normal(),
                         "si_sdr_mask": bm + 10 * shift + 10 * spread * rng.standard_normal()})
    return rows


def _segments(spread: float = 0.01, w1: float = 0.90) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    rows = (_rows("tv", 0.5, None, 0.66, 6.0, spread, rng) + _rows("tv", 4.0, None, 0.70, 5.5, spread, rng)
            + _rows("sinkhorn", 1.0, 0.5, 0.72, 4.5, spread, rng) + _rows("sinkhorn", 1.0, 1.5, 0.92, 0.5, spread, rng)
            + _rows("sinkhorn", 1.0, 2.0, 0.88, 1.5, spread, rng) + _rows("sinkhorn", 4.0, 1.5, 0.95, 0.0, spread, rng))
    frame = pd.DataFrame(rows)
    frame.loc[(frame["objective"] == "sinkhorn") & (frame["lam"] == 1.5) & (frame["omega"] == 1.0),
              "additivity"] += w1 - 0.92
    return frame


def _seed_mean(frame: pd.DataFrame, metric: str, objective: str, omega: float, lam: float | None) -> float:
    rows = frame[(frame["objective"] == objective) & (frame["omega"] == omega)]
    rows = rows[rows["lam"].isna()] if lam is None else rows[rows["lam"] == lam]
    return float(np.mean([group[metric].mean() for _, group in rows.groupby("seed")]))


def test_each_trend_is_its_weakest_pair_with_the_seed_balanced_difference() -> None:
    frame = _segments()
    tests = trend_tests(frame)
    additivity = tests["additivity"]
    # the most additive L_A row (ω = 4) against the less additive high λ (λ = 2): the weakest of 2 × 2 pairs
    assert (additivity.higher, additivity.lower, additivity.pairs) == ("L_B λ=2", "L_A ω=4", 4)
    assert additivity.difference == pytest.approx(_seed_mean(frame, "additivity", "sinkhorn", 1.0, 2.0)
                                                  - _seed_mean(frame, "additivity", "tv", 4.0, None))
    masking = tests["masking"]
    assert (masking.higher, masking.lower, masking.pairs) == ("L_B λ=0.5", "L_B λ=2", 2)
    assert masking.difference == pytest.approx(_seed_mean(frame, "si_sdr_mask", "sinkhorn", 1.0, 0.5)
                                               - _seed_mean(frame, "si_sdr_mask", "sinkhorn", 1.0, 2.0))
    omega = tests["omega"]
    assert (omega.higher, omega.lower, omega.pairs) == ("L_B λ=1.5 ω=4", "L_B λ=1.5 ω=1", 1)
    for test in tests.values():
        assert test.low < test.difference < test.high and test.holds


def test_without_noise_the_interval_is_the_difference_itself() -> None:
    tests = trend_tests(_segments(spread=0.0))
    assert tests["omega"].low == tests["omega"].high == pytest.approx(0.95 - 0.90)
    assert tests["additivity"].low == pytest.approx(0.88 - 0.70)


def test_a_trend_inside_the_noise_does_not_hold_and_a_missing_row_is_unmeasured() -> None:
    frame = _segments(spread=0.05, w1=0.95)  # ω = 4 and ω = 1 at the same mean: the interval straddles 0
    omega = trend_tests(frame)["omega"]
    assert omega.low < 0 < omega.high and not omega.holds
    assert trend_tests(frame[frame["lam"] != 2.0])["masking"] is None


def test_the_snippet_gives_the_difference_its_interval_and_the_gap() -> None:
    frame = _segments()
    tests = trend_tests(frame)
    table1 = pd.DataFrame([{"objective": "tv", "omega": 4.0, "lam": np.nan, "n_seeds": 3, "additivity_mean": 0.70,
                            "additivity_ci_low": 0.69, "additivity_ci_high": 0.71, "additivity_paper_mean": 0.76,
                            "si_sdr_mask_mean": 5.5, "si_sdr_mask_ci_low": 5.0, "si_sdr_mask_ci_high": 6.0,
                            "si_sdr_mask_median": 5.5, "si_sdr_mask_collapsed": 0, "si_sdr_mask_count": 120,
                            "si_sdr_mask_paper_mean": 4.4, "si_sdr_mean": 12.0}])
    text = rs.results_snippet(table1, table1.iloc[:0], {}, "x", tests=tests)
    omega = tests["omega"]
    assert (f"L_B λ=1.5 ω=4 − L_B λ=1.5 ω=1: {omega.difference:+.3f} [{omega.low:+.3f}, {omega.high:+.3f}]: "
            "holds beyond the noise") in text
    assert "L_B λ=2 − L_A ω=4 (the weakest of 4 pairs)" in text


def test_figure_readings_test_the_difference_on_the_segments() -> None:
    from rlsv.study.readings import figure_reading

    frame = _segments(spread=0.0)
    frame = frame.assign(profile="small", variant="v")
    numbers = pd.DataFrame([
        {"metric": "additivity", "x": w, "hue": 1.5, "mean": a, "ci_low": a - 0.1, "ci_high": a + 0.1, "paper": 0.9}
        for w, a in ((1.0, 0.90), (4.0, 0.95))])
    # overlapping intervals, yet without noise the difference (+0.05) is exact: beyond the noise
    assert figure_reading("figure6", numbers, frame).endswith(
        "beyond the noise: difference +0.050 [+0.050, +0.050] (the two intervals overlapping, gap -0.150).")
    assert "within the noise (gap -0.15)" in figure_reading("figure6", numbers)  # no segments: the gap alone
