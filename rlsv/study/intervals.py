"""Confidence intervals of a run's mean metric over training seeds and test segments.

A row of Table 1 is one grid point trained with ``k`` seeds and evaluated on ``n`` test segments.
Its mean moves with both: another seed gives another model, other test segments another sample.
:func:`seed_segment_interval` is a two-stage (hierarchical) percentile bootstrap of the mean:

1. draw ``k`` seeds with replacement;
2. for each drawn seed, draw its ``n_s`` segment values with replacement and take their mean;
3. average the drawn seeds' means (each seed weighs the same, as in the point estimate
   :func:`seed_mean`); repeat, and take the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles.

With one seed only stage 2 is left: the interval then covers the test segments' sampling noise,
not the seed-to-seed variation, and every caller says so (``n_seeds = 1``).
:func:`difference_interval` is the same bootstrap for the difference of two rows' means (seeds
drawn independently for each), the test behind "row B is below row A beyond noise".
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from rlsv.errors import ConfigError

__all__ = ["LEVEL", "N_BOOTSTRAP", "seed_mean", "bootstrap_means", "seed_segment_interval", "difference_interval",
           "interval_by_seed"]

LEVEL = 0.95
N_BOOTSTRAP = 2000


def _groups(values_by_seed: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The non-NaN values of each seed, seeds without any value dropped."""
    groups = [np.asarray(v, dtype=np.float64) for v in values_by_seed]
    groups = [g[~np.isnan(g)] for g in groups]
    return [g for g in groups if g.size]


def seed_mean(values_by_seed: Sequence[np.ndarray]) -> float:
    """Mean over seeds of each seed's mean over its segments (NaN values skipped); NaN when empty."""
    groups = _groups(values_by_seed)
    return float(np.mean([g.mean() for g in groups])) if groups else float("nan")


def bootstrap_means(values_by_seed: Sequence[np.ndarray], n_boot: int = N_BOOTSTRAP,
                    rng: np.random.Generator | None = None) -> np.ndarray:
    """``(n_boot,)`` bootstrap replicates of :func:`seed_mean` (see the module docstring).

    Args:
        values_by_seed: one ``(n_s,)`` array of segment values per seed.
        n_boot: replicates.
        rng: random generator (default: seeded with 0, so tables are reproducible).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    groups = _groups(values_by_seed)
    if not groups:
        return np.full(n_boot, np.nan)
    # stage 2 for every seed at once: (n_boot,) resampled means per seed
    per_seed = np.stack([g[rng.integers(0, g.size, size=(n_boot, g.size))].mean(axis=1) for g in groups], axis=1)
    # stage 1: which seeds each replicate draws, (n_boot, k)
    drawn = rng.integers(0, len(groups), size=(n_boot, len(groups)))
    return np.take_along_axis(per_seed, drawn, axis=1).mean(axis=1)


def _quantiles(replicates: np.ndarray, level: float) -> tuple[float, float]:
    if not 0 < level < 1:
        raise ConfigError(f"level must be in (0, 1), got {level!r}.")
    if np.isnan(replicates).all():
        return float("nan"), float("nan")
    low, high = np.quantile(replicates, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


def seed_segment_interval(values_by_seed: Sequence[np.ndarray], level: float = LEVEL, n_boot: int = N_BOOTSTRAP,
                          rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval ``(low, high)`` of :func:`seed_mean` at ``level`` (default 95 %)."""
    return _quantiles(bootstrap_means(values_by_seed, n_boot, rng), level)


def difference_interval(a_by_seed: Sequence[np.ndarray], b_by_seed: Sequence[np.ndarray], level: float = LEVEL,
                        n_boot: int = N_BOOTSTRAP, rng: np.random.Generator | None = None
                        ) -> tuple[float, float, float]:
    """``(difference, low, high)``: :func:`seed_mean` of ``b`` minus that of ``a`` and its bootstrap interval
    (both rows resampled independently). An interval that excludes 0 is a difference beyond the noise."""
    rng = rng if rng is not None else np.random.default_rng(0)
    replicates = bootstrap_means(b_by_seed, n_boot, rng) - bootstrap_means(a_by_seed, n_boot, rng)
    return (seed_mean(b_by_seed) - seed_mean(a_by_seed), *_quantiles(replicates, level))


def interval_by_seed(rows: pd.DataFrame, metric: str, level: float = LEVEL, n_boot: int = N_BOOTSTRAP,
                     seed_column: str = "seed") -> dict[str, float]:
    """Mean, interval and seed count of ``metric`` over the rows of one grid point (segments of several seeds).

    Args:
        rows: one row per (seed, test segment), with the columns ``metric`` and ``seed_column`` (NaN
            seeds, as for the untrained STFT baseline, count as one seed).

    Returns:
        ``{"mean", "ci_low", "ci_high", "n_seeds"}``: the seed-balanced mean (:func:`seed_mean`), the
        interval (:func:`seed_segment_interval`) and the number of seeds with a value.
    """
    seeds = rows[seed_column].fillna(-1)
    groups = _groups([g.to_numpy() for _, g in rows[metric].groupby(seeds, sort=True)])
    low, high = seed_segment_interval(groups, level, n_boot)
    return {"mean": seed_mean(groups), "ci_low": low, "ci_high": high, "n_seeds": len(groups)}
