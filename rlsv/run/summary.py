"""Per-metric statistics of per-segment evaluation results (plain pandas).

Used by ``evaluate`` (one run -> ``summary.json``) and by ``tables``/``plots`` (many runs), so
this module imports nothing from rlsv.

Standard deviation: ``ddof=0`` (population std, ``STD_DDOF``). The paper does not say which it
reports; ``ddof=0`` is numpy's ``np.std`` default, which is what the authors' numpy-based
evaluation scripts compute. With the ~1000+ kept test segments of the full evaluation the
difference to ``ddof=1`` is below 0.1 %, but the few hundred segments of the synthetic profiles do show it.

NaN handling: NaN values (e.g. ``si_sdr`` of the STFT baseline, which has no reconstruction)
are skipped; ``count`` is the number of non-NaN values, and a metric with no value at all gets
NaN mean/std/median and count 0.

Collapsed segments: an SI-SDR whose estimate has no projection on the reference (an all-zero estimate:
the oracle binary mask kept nothing) sits at the metric's floor, ``10 log10(1e-24) = -240 dB``
(``rlsv.core.metrics.si_sdr``, as in the published code). The published evaluation keeps such values in
its means; one of them moves a mean over 100 segments by 2.4 dB. So ``collapsed`` counts them (for the
SI-SDR metrics; NaN for additivity), and the tables and figures show it with the median beside the mean
(``docs/reproducibility.md``).
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

__all__ = ["METRICS", "SI_SDR_METRICS", "STATISTICS", "STD_DDOF", "COLLAPSED_DB", "collapsed", "summarise",
           "summary_to_dict"]

METRICS: tuple[str, ...] = ("si_sdr", "si_sdr_mask", "additivity")
"""Per-segment metric columns of ``segments.csv``: SI-SDR (dB), masking SI-SDR (dB), additivity."""

SI_SDR_METRICS: tuple[str, ...] = ("si_sdr", "si_sdr_mask")
"""The metrics in dB whose floor marks a collapsed segment."""
STATISTICS: tuple[str, ...] = ("mean", "std", "median", "count", "collapsed")
STD_DDOF = 0
COLLAPSED_DB = -239.0
"""SI-SDR values at or below this are at the floor ``10 log10(1e-24) = -240 dB`` of ``rlsv.core.metrics.si_sdr``
(an estimate with no projection on the reference); real estimates stay far above it."""


def collapsed(values: pd.Series) -> int:
    """How many values are at the SI-SDR floor (collapsed segments, NaN skipped)."""
    return int((pd.to_numeric(values, errors="raise").dropna() <= COLLAPSED_DB).sum())


def _check_columns(segments: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in segments.columns]
    if missing:
        raise KeyError(f"Columns {missing} not in the segments frame (has {list(segments.columns)}).")


def _statistics(values: pd.Series, ddof: int, in_db: bool) -> dict[str, float]:
    """mean, std, median, count of the non-NaN values of ``values``, and for an SI-SDR (``in_db``) the count
    of collapsed segments (NaN otherwise)."""
    values = pd.to_numeric(values, errors="raise").dropna()
    return {
        "mean": values.mean(),
        "std": values.std(ddof=ddof) if len(values) > ddof else math.nan,
        "median": values.median(),
        "count": len(values),
        "collapsed": collapsed(values) if in_db else math.nan,
    }


def summarise(segments: pd.DataFrame, metrics: Sequence[str] = METRICS,
              ddof: int = STD_DDOF) -> pd.DataFrame:
    """Statistics of each metric over all rows of ``segments``.

    Args:
        segments: one row per segment with (at least) the ``metrics`` columns.
        metrics: the metric columns to summarise.
        ddof: delta degrees of freedom of the std (default ``STD_DDOF`` = 0, see module doc).

    Returns:
        One row per metric (index ``metric``), columns ``mean, std, median`` (float), ``count`` (int,
        non-NaN values) and ``collapsed`` (segments at the SI-SDR floor; NaN for additivity).
    """
    _check_columns(segments, metrics)
    table = pd.DataFrame([_statistics(segments[m], ddof, m in SI_SDR_METRICS) for m in metrics],
                         index=pd.Index(list(metrics), name="metric"), columns=list(STATISTICS))
    return table.astype({"count": int})


def summary_to_dict(summary: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """A :func:`summarise` table as ``{metric: {mean, std, median, count}}``, JSON-safe (NaN -> None)."""
    return {
        metric: {stat: (None if pd.isna(value) else (int(value) if stat in ("count", "collapsed") else float(value)))
                 for stat, value in row.items()}
        for metric, row in summary.iterrows()
    }
