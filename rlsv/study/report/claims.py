"""The paper's three claims, and whether our runs show them: read from ``table1_numbers.csv`` and
``table2_numbers.csv`` (``rlsv.study.tables.compare_with_paper``), nothing recomputed.

Each :class:`Claim` lists its rows (a grid point, the paper's mean, our mean and 95 % interval) and a
verdict by a stated rule, in two strengths:

* **beyond the intervals**: the rows the claim compares have 95 % intervals that do not overlap, in the
  claimed direction (a conservative test: two intervals may overlap and their difference still be
  significant);
* **beyond the noise**: the intervals overlap, but the difference of the claim's weakest pair has a 95 %
  interval above 0 (``rlsv.study.trends``: the test of the results snippet and of the scale study; given
  when the report has the runs' segments);
* **in the means only**: the means go the claimed way but neither holds.

With one seed the intervals cover the test segments only (``rlsv.study.intervals``); the verdicts say
so through the seeds column of the rows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import pandas as pd

from rlsv.run.spec import RunSpec, sinkhorn, tv
from rlsv.study.tables import OBJECTIVE_LABELS
from rlsv.study.trends import TrendTest

__all__ = ["ClaimRow", "Claim", "HOLDS", "BEYOND_NOISE", "MEANS_ONLY", "DOES_NOT_HOLD", "MISSING", "paper_claims",
           "spec_caption"]

HOLDS, MEANS_ONLY = "holds beyond the intervals", "holds in the means only (the intervals overlap)"
BEYOND_NOISE = "holds beyond the noise, though the two rows' intervals overlap"
DOES_NOT_HOLD, MISSING = "does not hold", "cannot be judged: runs are missing"

_TV_OMEGAS = (0.5, 1.0, 1.5, 2.0, 4.0)
_TABLE2_OMEGAS = (1.0, 1.5, 2.0, 4.0)


@dataclass(frozen=True)
class ClaimRow:
    """One grid point of a claim: its label, the paper's mean, our mean and 95 % interval, and our seeds."""

    label: str
    paper: float
    mean: float
    low: float
    high: float
    seeds: int

    @property
    def missing(self) -> bool:
        return any(math.isnan(v) for v in (self.mean, self.low, self.high))


@dataclass(frozen=True)
class Claim:
    """A claim of the paper: what it says, on which metric, the rule that judges it, its rows and verdict."""

    title: str
    metric: str
    rule: str
    rows: tuple[ClaimRow, ...]
    verdict: str


def spec_caption(spec: RunSpec) -> str:
    """``L_A ω=4``, ``L_B ω=1 λ=1.5`` or ``STFT``: how the pages name a grid point."""
    name = OBJECTIVE_LABELS[spec.objective]
    if spec.objective == "tv":
        return f"{name} ω={spec.omega:g}"
    if spec.objective == "sinkhorn":
        return f"{name} ω={spec.omega:g} λ={spec.lam:g}" + (f" p={spec.p:g}" if spec.p != 1 else "")
    return name


def _row(numbers: pd.DataFrame, spec: RunSpec, metric: str) -> ClaimRow:
    """The row of ``spec`` in a ``*_numbers.csv`` frame (NaN values when the frame lacks it)."""
    for _, row in numbers.iterrows():
        if RunSpec.from_config(row.to_dict()) == spec:
            return ClaimRow(spec_caption(spec), float(row[f"{metric}_paper_mean"]), float(row[f"{metric}_mean"]),
                            float(row[f"{metric}_ci_low"]), float(row[f"{metric}_ci_high"]), int(row["n_seeds"]))
    return ClaimRow(spec_caption(spec), math.nan, math.nan, math.nan, math.nan, 0)


_NOISE_RULE = ("; between the two, beyond the noise: the difference of the weakest pair has a 95 % interval "
               "above 0 (bootstrap over seeds and test segments)")


def _verdict(rows: Sequence[ClaimRow], in_means: Callable[[], bool], in_intervals: Callable[[], bool],
             test: TrendTest | None = None) -> str:
    if any(r.missing for r in rows):
        return MISSING
    if in_means() and in_intervals():
        return HOLDS
    if in_means() and test is not None and test.holds:
        return (f"{BEYOND_NOISE} ({test.higher} − {test.lower}: {test.difference:+.3f} [{test.low:+.3f}, "
                f"{test.high:+.3f}])")
    return MEANS_ONLY if in_means() else DOES_NOT_HOLD


def _additive(table1: pd.DataFrame, test: TrendTest | None) -> Claim:
    la = [_row(table1, tv(w), "additivity") for w in _TV_OMEGAS]
    lb = [_row(table1, sinkhorn(1.0, lam), "additivity") for lam in (1.0, 1.5, 2.0)]
    high_lam = lb[1:]  # λ = 1.5, 2
    return Claim(
        title="L_B at λ ≥ 1.5 makes the representation additive: its A(·) is above L_A's at every ω",
        metric="A(·)",
        rule="at λ = 1.5 and λ = 2 (ω = 1), the mean is above every L_A mean (in the means), and the interval's low "
             "end is above the highest L_A interval's high end (beyond the intervals)" + _NOISE_RULE,
        rows=(*la, *lb),
        verdict=_verdict(la + lb,
                         lambda: all(r.mean > max(a.mean for a in la) for r in high_lam),
                         lambda: all(r.low > max(a.high for a in la) for r in high_lam), test))


def _collapse(table1: pd.DataFrame, test: TrendTest | None) -> Claim:
    low_lam = _row(table1, sinkhorn(1.0, 0.5), "si_sdr_mask")
    high_lam = [_row(table1, sinkhorn(1.0, lam), "si_sdr_mask") for lam in (1.5, 2.0)]
    return Claim(
        title="Oracle binary masking collapses there: SI-SDR-BM at λ ≥ 1.5 falls far below its value at λ = 0.5",
        metric="SI-SDR-BM (dB)",
        rule="at λ = 1.5 and λ = 2 (ω = 1), the mean is below the mean at λ = 0.5 (in the means), and the interval's "
             "high end is below the low end of λ = 0.5's interval (beyond the intervals)" + _NOISE_RULE,
        rows=(low_lam, *high_lam),
        verdict=_verdict([low_lam, *high_lam],
                         lambda: all(r.mean < low_lam.mean for r in high_lam),
                         lambda: all(r.high < low_lam.low for r in high_lam), test))


def _rises_with_omega(table2: pd.DataFrame, test: TrendTest | None) -> Claim:
    rows = [_row(table2, sinkhorn(w, 1.5), "additivity") for w in _TABLE2_OMEGAS]
    return Claim(
        title="At λ = 1.5, A(·) rises with ω (Table 2)",
        metric="A(·)",
        rule="the mean rises at every step of ω (in the means), and the interval at the largest ω lies above the "
             "one at ω = 1 (beyond the intervals)" + _NOISE_RULE,
        rows=tuple(rows),
        verdict=_verdict(rows,
                         lambda: all(b.mean > a.mean for a, b in zip(rows, rows[1:], strict=False)),
                         lambda: rows[-1].low > rows[0].high, test))


def paper_claims(table1: pd.DataFrame, table2: pd.DataFrame,
                 tests: Mapping[str, TrendTest | None] | None = None) -> list[Claim]:
    """The three claims, judged on the ``table1_numbers.csv`` and ``table2_numbers.csv`` frames, and on the
    trends' difference tests (``rlsv.study.trends.trend_tests`` of the same runs) when given."""
    tests = tests or {}
    return [_additive(table1, tests.get("additivity")), _collapse(table1, tests.get("masking")),
            _rises_with_omega(table2, tests.get("omega"))]
