"""The scale study's statistics (``rlsv.study.scale``) on a hand-made segment frame: the per-run summary and
the two trend verdicts against numbers computed here with plain NumPy, and the order budgets are read in."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlsv.run.spec import RunSpec
from rlsv.study.scale import A_GAP, SCALE_SPECS, SIZES, scale_summary, trend_verdicts

SEEDS = (218, 219, 220)
SEGMENTS = 40


def _rows(budget: str, size: str, epochs: int, values: dict[RunSpec, tuple[float, float]],
          rng: np.random.Generator) -> list[dict]:
    """Per (run, seed, segment): additivity and binary-mask SI-SDR around the given means, a seed offset
    and segment noise; reconstruction SI-SDR 12 dB for every run."""
    rows = []
    for spec, (additivity, mask) in values.items():
        for seed in SEEDS:
            offset = rng.normal(0, 0.2)
            for segment in range(SEGMENTS):
                rows.append({"budget": budget, "size": size, "epochs": epochs, "learning_rate": 3e-3,
                             "objective": spec.objective, "omega": spec.omega,
                             "lam": np.nan if spec.lam is None else spec.lam,
                             "p": np.nan if spec.p is None else spec.p, "seed": seed, "segment": segment,
                             "track": "t", "additivity": additivity + 0.002 * offset + rng.normal(0, 0.01),
                             "si_sdr_mask": mask + offset + rng.normal(0, 1.0),
                             "si_sdr": 12.0 + rng.normal(0, 1.0)})
    return rows


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    """Two budgets, the larger one listed first: one where L_B λ ≥ 1.5 is additive and masks badly
    (the paper's trends), one where every run scores alike."""
    rng = np.random.default_rng(5)
    small, large = list(SIZES)[0], list(SIZES)[2]
    flat = {spec: (0.68, 5.5) for spec in SCALE_SPECS}
    trends = dict(zip(SCALE_SPECS, [(0.67, 6.0), (0.66, 6.0), (0.72, 5.0), (0.92, -2.0), (0.90, -1.0),
                                    (0.95, -5.0)]))
    rows = _rows(f"{large}, 20 ep", large, 20, trends, rng) + _rows(f"{small}, 20 ep", small, 20, flat, rng)
    return pd.DataFrame(rows)


def _seed_mean(frame: pd.DataFrame, spec: RunSpec, metric: str) -> float:
    run = frame[(frame["objective"] == spec.objective) & np.isclose(frame["omega"], spec.omega)
                & (np.isclose(frame["lam"], spec.lam) if spec.lam is not None else frame["lam"].isna())]
    return float(np.mean([run[run["seed"] == s][metric].mean() for s in SEEDS]))


def test_summary_is_the_seed_balanced_mean_with_an_interval_around_it(segments: pd.DataFrame) -> None:
    summary = scale_summary(segments)
    assert len(summary) == 2 * len(SCALE_SPECS) and (summary["n_seeds"] == 3).all()
    labels = ("L_A ω=1", "L_A ω=4", "L_B λ=0.5 ω=1", "L_B λ=1.5 ω=1", "L_B λ=2 ω=1", "L_B λ=1.5 ω=4")
    for spec, label in zip(SCALE_SPECS, labels):
        row = summary[(summary["size"] == list(SIZES)[2]) & (summary["run"] == label)].iloc[0]
        budget = segments[segments["size"] == list(SIZES)[2]]
        for metric in ("additivity", "si_sdr_mask"):
            assert row[metric] == pytest.approx(_seed_mean(budget, spec, metric), abs=1e-12)
            assert row[f"{metric}_ci_low"] < row[metric] < row[f"{metric}_ci_high"]


def test_verdicts_against_a_direct_computation(segments: pd.DataFrame) -> None:
    verdicts = trend_verdicts(segments)
    # budgets in the order of SIZES, not of the rows
    assert list(verdicts["size"]) == [list(SIZES)[0], list(SIZES)[2]]
    flat, trends = verdicts.iloc[0], verdicts.iloc[1]
    budget = segments[segments["size"] == list(SIZES)[2]]
    best_tv = max(_seed_mean(budget, spec, "additivity") for spec in SCALE_SPECS[:2])
    for lam, spec in ((1.5, SCALE_SPECS[3]), (2.0, SCALE_SPECS[4])):
        assert trends[f"a_gap_l{lam:g}"] == pytest.approx(_seed_mean(budget, spec, "additivity") - best_tv)
        drop = _seed_mean(budget, SCALE_SPECS[2], "si_sdr_mask") - _seed_mean(budget, spec, "si_sdr_mask")
        assert trends[f"bm_drop_l{lam:g}"] == pytest.approx(drop)
        assert trends[f"a_gap_l{lam:g}_low"] > A_GAP and trends[f"bm_drop_l{lam:g}_low"] > 2.0
        # where every run scores alike: an additivity gap within the noise, a mask difference far below 2 dB
        assert flat[f"a_gap_l{lam:g}_low"] < 0 < flat[f"a_gap_l{lam:g}_high"]
        assert abs(flat[f"bm_drop_l{lam:g}"]) < 1.0 and flat[f"bm_drop_l{lam:g}_high"] < 2.0
    assert trends["both"] and not flat["a_ok"] and not flat["bm_ok"]
    assert trends["si_sdr_spread"] < 1.0
