"""The paper's three trends, each tested as a difference with its 95 % interval, on a run set's segments.

* ``additivity`` (Table 1): A(·) of L_B at λ = 1.5 and at λ = 2 (ω = 1, p = 1) above every L_A row;
* ``masking`` (Table 1, Figure 5): the oracle binary-mask SI-SDR at λ = 0.5 above λ = 1.5 and λ = 2;
* ``omega`` (Table 2): A(·) at λ = 1.5, ω = 4 above ω = 1.

Each comparison is the difference of the two rows' seed-balanced means with a two-stage bootstrap interval over
seeds and test segments, each row resampled on its own (``rlsv.study.intervals.difference_interval``, the test
the scale study uses too). A trend with several comparisons (additivity: 2 λ × every L_A row; masking: 2 λ) is
reported by its weakest one, the comparison with the lowest interval end, so "holds" means every comparison
holds. A trend holds beyond the seed and segment noise when that interval lies above 0.

Non-overlapping 95 % intervals of the two rows (``rlsv.study.results_snippet.trend_gaps``) are a stricter
reading: two intervals can overlap while their difference's interval excludes 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from rlsv.run.spec import RunSpec
from rlsv.study.intervals import difference_interval
from rlsv.study.results import select_specs

__all__ = ["TREND_NAMES", "TrendTest", "compare", "trend_tests"]

TREND_NAMES: tuple[str, ...] = ("additivity", "masking", "omega")

_HIGH_LAMBDAS = (1.5, 2.0)


@dataclass(frozen=True)
class TrendTest:
    """One trend's weakest comparison: ``higher`` minus ``lower`` (row labels) with its 95 % interval, the
    weakest of ``pairs`` comparisons."""

    name: str
    higher: str
    lower: str
    difference: float
    low: float
    high: float
    pairs: int = 1

    @property
    def holds(self) -> bool:
        """The interval lies above 0: beyond the seed and segment noise."""
        return bool(self.low > 0)


def _label(spec: RunSpec, with_omega: bool) -> str:
    if spec.objective == "tv":
        return f"L_A ω={spec.omega:g}"
    return f"L_B λ={spec.lam:g}" + (f" ω={spec.omega:g}" if with_omega else "")


def _by_seed(segments: pd.DataFrame, spec: RunSpec, metric: str) -> list[np.ndarray] | None:
    """``metric``'s segment values of ``spec``'s rows, one ``(n_s,)`` array per seed; None without rows."""
    rows = select_specs(segments, [spec])
    if rows.empty or rows[metric].isna().all():
        return None
    return [group[metric].to_numpy(dtype=np.float64) for _, group in rows.groupby("seed", sort=True)]


def compare(segments: pd.DataFrame, metric: str, higher: RunSpec, lower: RunSpec, name: str = "",
            pairs: int = 1) -> TrendTest | None:
    """``metric`` of ``higher`` minus that of ``lower`` with its 95 % interval (module docstring); None when
    either has no rows in ``segments``."""
    high_values, low_values = _by_seed(segments, higher, metric), _by_seed(segments, lower, metric)
    if high_values is None or low_values is None:
        return None
    difference, low, high = difference_interval(low_values, high_values)
    with_omega = higher.omega != lower.omega and higher.objective == lower.objective
    return TrendTest(name or metric, _label(higher, with_omega), _label(lower, with_omega), difference, low, high,
                     pairs)


def _weakest(name: str, metric: str, pairs: list[tuple[RunSpec, RunSpec]], segments: pd.DataFrame
             ) -> TrendTest | None:
    """The comparison (higher, lower) of ``pairs`` with the lowest interval end; None when a row is missing."""
    tests = [compare(segments, metric, higher, lower, name, len(pairs)) for higher, lower in pairs]
    if not tests or any(test is None for test in tests):
        return None
    return min(tests, key=lambda test: test.low)


def trend_tests(segments: pd.DataFrame) -> dict[str, TrendTest | None]:
    """The three trends (module docstring) of a run set's segments (``rlsv.study.results.load_run_set``); a
    trend whose rows are missing is None.

    Args:
        segments: one row per (run, test segment), with ``objective``, ``omega``, ``lam``, ``p``, ``seed``,
            ``additivity`` and ``si_sdr_mask``.
    """
    sinkhorn = [RunSpec("sinkhorn", 1.0, lam, 1) for lam in _HIGH_LAMBDAS]
    tv_omegas = sorted(segments.loc[segments["objective"] == "tv", "omega"].dropna().unique())
    tv_specs = [RunSpec("tv", float(omega)) for omega in tv_omegas]
    half = RunSpec("sinkhorn", 1.0, 0.5, 1)
    return {
        "additivity": _weakest("additivity", "additivity", [(b, a) for b in sinkhorn for a in tv_specs], segments),
        "masking": _weakest("masking", "si_sdr_mask", [(half, b) for b in sinkhorn], segments),
        "omega": _weakest("omega", "additivity", [(RunSpec("sinkhorn", 4.0, 1.5, 1), RunSpec("sinkhorn", 1.0, 1.5, 1))],
                          segments),
    }
