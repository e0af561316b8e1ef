"""Windowed overlap-add: exact reconstruction with an identity process, agreement with a naive per-sample loop, and
the block-by-block cutter and merger giving the whole-signal split and merge bit for bit."""

from __future__ import annotations

import numpy as np
import pytest

from rlsv.core.separation.overlap_add import OverlapAdd, SegmentCutter, SegmentMerger, hann_window, overlap_add_blocks


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


def _blocks(x: np.ndarray, rng: np.random.Generator) -> list[np.ndarray]:
    """``x`` ``(..., L)`` cut at random places into blocks of 1 to 13 samples."""
    cuts = np.cumsum(rng.integers(1, 14, size=x.shape[-1]))
    return np.split(x, cuts[cuts < x.shape[-1]], axis=-1)


@pytest.mark.parametrize("n, hop, length", [(8, 4, 37), (11, 5, 11), (11, None, 3), (16, 3, 100), (2, 1, 5)])
def test_cutter_and_merger_block_by_block_are_split_and_merge_bit_for_bit(n: int, hop: int | None,
                                                                          length: int) -> None:
    ola = OverlapAdd(n, hop)
    rng = np.random.default_rng(length)
    x = rng.standard_normal((2, length)).astype(np.float32)
    cutter = SegmentCutter(ola)
    cut = []
    for block in _blocks(x, rng):
        cutter.push(block)
        while cutter.available():
            cut.append(cutter.cut(int(rng.integers(1, cutter.available() + 1))))
    cutter.close()
    while cutter.available():
        cut.append(cutter.cut(int(rng.integers(1, cutter.available() + 1))))
    segments = np.concatenate(cut, axis=-2)
    np.testing.assert_array_equal(segments, ola.split(x))
    processed = np.sin(3.0 * segments.astype(np.float64)) + rng.standard_normal(segments.shape)  # anything
    merger, merged = SegmentMerger(ola), []
    for piece in np.array_split(processed, min(4, segments.shape[-2]), axis=-2):
        merged.append(merger.push(piece))
    merged.append(merger.close(length))
    np.testing.assert_array_equal(np.concatenate(merged, axis=-1), ola.merge(processed, length))


def test_overlap_add_blocks_runs_a_process_as_merge_of_split() -> None:
    ola = OverlapAdd(10, 4)
    rng = np.random.default_rng(2)
    x = rng.standard_normal(203)
    chunks: list[int] = []

    def process(segments: np.ndarray) -> np.ndarray:
        chunks.append(segments.shape[-2])
        return segments ** 2

    out = np.concatenate(list(overlap_add_blocks(ola, _blocks(x, rng), process, chunk=7)))
    np.testing.assert_array_equal(out, ola.merge(ola.split(x) ** 2, len(x)))
    assert chunks[:-1] == [7] * (len(chunks) - 1) and sum(chunks) == ola.n_segments(len(x))
    identity = np.concatenate(list(overlap_add_blocks(ola, [x], lambda s: s, chunk=3)))
    np.testing.assert_allclose(identity, x, rtol=0, atol=1e-12)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="hop must be in"):
        OverlapAdd(8, 5)
    with pytest.raises(ValueError, match="empty"):
        OverlapAdd(8).split(np.zeros(0))
    with pytest.raises(ValueError, match="segments"):
        OverlapAdd(8).merge(np.zeros((2, 8)), 30)
    with pytest.raises(ValueError, match="empty"):
        SegmentCutter(OverlapAdd(8)).close()
    with pytest.raises(ValueError, match="3 segments were merged; a signal of 30 samples has 9"):
        merger = SegmentMerger(OverlapAdd(8))
        merger.push(np.zeros((3, 8)))
        merger.close(30)
