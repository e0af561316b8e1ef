"""Confidence intervals over seeds and test segments (rlsv.study.intervals), against closed forms."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rlsv.study.intervals import (
    bootstrap_means,
    difference_interval,
    interval_by_seed,
    seed_mean,
    seed_segment_interval,
)


def test_one_seed_is_the_plain_bootstrap_of_the_mean() -> None:
    values = np.random.default_rng(1).normal(3.0, 2.0, size=50)
    replicates = bootstrap_means([values], n_boot=40000, rng=np.random.default_rng(2))
    # closed form: the bootstrap mean of n values drawn with replacement has variance var(ddof=0) / n
    assert replicates.mean() == pytest.approx(values.mean(), abs=0.01)
    assert replicates.var() == pytest.approx(values.var() / values.size, rel=0.03)


def test_two_stage_variance_is_between_seed_plus_within_seed_over_k() -> None:
    rng = np.random.default_rng(3)
    seeds = [rng.normal(mu, sd, size=n) for mu, sd, n in ((0.0, 1.0, 30), (2.0, 0.5, 40), (5.0, 2.0, 20))]
    replicates = bootstrap_means(seeds, n_boot=60000, rng=np.random.default_rng(4))
    means = np.array([s.mean() for s in seeds])
    # closed form: each of the k drawn seeds is a uniform pick s plus its segment bootstrap (var_s / n_s)
    expected = (means.var() + np.mean([s.var() / s.size for s in seeds])) / len(seeds)
    assert replicates.var() == pytest.approx(expected, rel=0.03)
    assert replicates.mean() == pytest.approx(means.mean(), abs=0.02)
    assert seed_mean(seeds) == pytest.approx(means.mean())


def test_interval_covers_the_mean_and_nan_values_are_skipped() -> None:
    low, high = seed_segment_interval([np.array([1.0, 2.0, np.nan, 3.0])])
    assert 1.0 <= low < 2.0 < high <= 3.0
    assert np.isnan(seed_segment_interval([np.array([np.nan])])).all()
    assert seed_segment_interval([np.full(5, 4.0), np.full(3, 4.0)]) == (4.0, 4.0)  # no spread, no width
    with pytest.raises(ValueError, match="level"):
        seed_segment_interval([np.ones(3)], level=1.5)


def test_difference_interval_tells_noise_from_an_effect() -> None:
    rng = np.random.default_rng(5)
    a = [rng.normal(0.0, 1.0, 60) for _ in range(3)]
    same = [rng.normal(0.0, 1.0, 60) for _ in range(3)]
    shifted = [rng.normal(2.0, 1.0, 60) for _ in range(3)]
    _, low, high = difference_interval(a, same)
    assert low < 0 < high  # within the noise
    diff, low, high = difference_interval(a, shifted)
    assert 0 < low < diff < high and diff == pytest.approx(2.0, abs=0.4)


def test_interval_by_seed_groups_rows_by_their_seed() -> None:
    rows = pd.DataFrame({"seed": [218.0] * 3 + [219.0] * 3, "m": [1.0, 1.0, 1.0, 3.0, 3.0, 3.0]})
    result = interval_by_seed(rows, "m")
    assert result["n_seeds"] == 2 and result["mean"] == 2.0
    assert (result["ci_low"], result["ci_high"]) == (1.0, 3.0)  # the resampled seeds: 1+1, 1+3 or 3+3
    stft = pd.DataFrame({"seed": [np.nan] * 2, "m": [0.5, 0.7]})  # no seed: one group
    assert interval_by_seed(stft, "m")["n_seeds"] == 1
