"""Windowed overlap-add: exact reconstruction with an identity process, agreement with a naive per-sample loop."""

from __future__ import annotations

import numpy as np
import pytest

from rlsv.core.separation.overlap_add import OverlapAdd, hann_window


@pytest.mark.parametrize("n, hop, length", [(8, 4, 37), (11, 5, 11), (11, None, 3), (16, 3, 100), (2, 1, 5)])
def test_identity_process_returns_the_signal(n: int, hop: int | None, length: int) -> None:
    ola = OverlapAdd(n, hop)
    x = np.random.default_rng(0).standard_normal((2, length))
    segments = ola.split(x)
    assert segments.shape == (2, ola.n_segments(length), n)
    np.testing.assert_allclose(ola.merge(segments, length), x, rtol=0, atol=1e-12)


def test_merge_equals_a_naive_weighted_average_per_sample() -> None:
    n, hop, length = 10, 4, 29
    ola = OverlapAdd(n, hop)
    rng = np.random.default_rng(1)
    processed = rng.standard_normal((ola.n_segments(length), n))  # anything a separator may return
    w = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)
    expected = np.empty(length)
    for i in range(length):
        p = i + (n - hop)  # position in the padded signal
        num = den = 0.0
        for k in range(len(processed)):
            offset = p - k * hop
            if 0 <= offset < n:
                num += w[offset] * processed[k, offset]
                den += w[offset]
        expected[i] = num / den
    np.testing.assert_allclose(ola.merge(processed, length), expected, rtol=1e-12)


def test_segments_hold_the_signal_at_their_positions() -> None:
    ola = OverlapAdd(6, 3)
    x = np.arange(1, 14, dtype=np.float64)
    segments = ola.split(x)
    assert np.all(segments[0, :3] == 0) and np.array_equal(segments[0, 3:], x[:3])  # N - hop zeros in front
    assert np.array_equal(segments[1], x[:6]) and segments[-1, -1] == 0  # zero padded at the end


def test_hann_window_is_periodic_and_cola_at_half_overlap() -> None:
    w = hann_window(8)
    assert w[0] == 0 and np.isclose(w[4], 1)
    np.testing.assert_allclose(w[:4] + w[4:], np.ones(4))


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="hop must be in"):
        OverlapAdd(8, 5)
    with pytest.raises(ValueError, match="empty"):
        OverlapAdd(8).split(np.zeros(0))
    with pytest.raises(ValueError, match="segments"):
        OverlapAdd(8).merge(np.zeros((2, 8)), 30)
