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
"""

from __future__ import annotations

import math
from typing import Sequence

import pandas as pd

__all__ = ["METRICS", "STATISTICS", "STD_DDOF", "summarise", "summary_to_dict"]

METRICS: tuple[str, ...] = ("si_sdr", "si_sdr_mask", "additivity")
"""Per-segment metric columns of ``segments.csv``: SI-SDR (dB), masking SI-SDR (dB), additivity."""

STATISTICS: tuple[str, ...] = ("mean", "std", "median", "count")
STD_DDOF = 0


def _check_columns(segments: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in segments.columns]
    if missing:
        raise KeyError(f"Columns {missing} not in the segments frame (has {list(segments.columns)}).")


def _statistics(values: pd.Series, ddof: int) -> dict[str, float]:
    """mean, std, median, count of the non-NaN values of ``values``."""
    values = pd.to_numeric(values, errors="raise").dropna()
    return {
        "mean": values.mean(),
        "std": values.std(ddof=ddof) if len(values) > ddof else math.nan,
        "median": values.median(),
        "count": len(values),
    }


def summarise(segments: pd.DataFrame, metrics: Sequence[str] = METRICS,
              ddof: int = STD_DDOF) -> pd.DataFrame:
    """Statistics of each metric over all rows of ``segments``.

    Args:
        segments: one row per segment with (at least) the ``metrics`` columns.
        metrics: the metric columns to summarise.
        ddof: delta degrees of freedom of the std (default ``STD_DDOF`` = 0, see module doc).

    Returns:
        One row per metric (index ``metric``), columns ``mean, std, median`` (float) and
        ``count`` (int, non-NaN values).
    """
    _check_columns(segments, metrics)
    table = pd.DataFrame([_statistics(segments[m], ddof) for m in metrics],
                         index=pd.Index(list(metrics), name="metric"), columns=list(STATISTICS))
    return table.astype({"count": int})


def summary_to_dict(summary: pd.DataFrame) -> dict[str, dict[str, float | int | None]]:
    """A :func:`summarise` table as ``{metric: {mean, std, median, count}}``, JSON-safe (NaN -> None)."""
    return {
        metric: {stat: (None if pd.isna(value) else (int(value) if stat == "count" else float(value)))
                 for stat, value in row.items()}
        for metric, row in summary.iterrows()
    }
