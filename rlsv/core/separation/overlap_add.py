"""Windowed overlap-add: process a signal of any length in segments of a model's ``N`` samples.

The signal ``(L,)`` is zero-padded by ``N - hop`` samples in front and at least as many at the end, and
cut into ``K`` segments ``(K, N)`` every ``hop`` samples (default ``hop = N // 2``, 50 % overlap). Each
segment is processed on its own (e.g. separated), and the results are put back together as the
window-weighted average of every segment covering a sample::

    y[i] = sum_k w[i - s_k] y_k[i - s_k] / sum_k w[i - s_k]        (s_k = k * hop, padded coordinates)

with the periodic Hann window ``w`` of length ``N``. The taper weights each segment's edges (where a
separator sees the least context and the encoder's zero padding) least; dividing by the summed
windows (constant 1 for the periodic Hann at 50 % overlap when ``N`` is even) makes an identity
process return the input exactly, whatever ``N`` and ``hop``. With ``hop <= N / 2`` every sample of the
signal is covered by at least two segments and the summed window is positive there.

:meth:`OverlapAdd.split` and :meth:`OverlapAdd.merge` work on a whole signal. For a signal of any length
in bounded memory (``rlsv separate`` on a long recording), :class:`SegmentCutter` and
:class:`SegmentMerger` do the same block by block: the signal is pushed in blocks of any size, segments
are cut as soon as their samples are there, and each output sample is given out once no later segment
covers it. They compute the same segments and the same sums in the same order as ``split`` and
``merge``, so the output is the same bit for bit; memory holds only the segments in flight.
:func:`overlap_add_blocks` runs a process over a signal that way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np

from rlsv.errors import ConfigError

__all__ = ["OverlapAdd", "SegmentCutter", "SegmentMerger", "overlap_add_blocks", "hann_window"]


def hann_window(length: int) -> np.ndarray:
    """The periodic Hann window ``0.5 - 0.5 cos(2 pi n / length)``, ``(length,)`` float64."""
    n = np.arange(length, dtype=np.float64)
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * n / length)


@dataclass(frozen=True)
class OverlapAdd:
    """Segmentation of a signal into overlapping segments and their windowed overlap-add (module docstring).

    Attributes:
        segment_length: ``N``, samples per segment.
        hop: samples between segment starts (None: ``N // 2``); at most ``N // 2``.
    """

    segment_length: int
    hop: int | None = None

    def __post_init__(self) -> None:
        if self.segment_length < 2:
            raise ConfigError(f"segment_length must be >= 2, got {self.segment_length}.")
        if self.hop is None:
            object.__setattr__(self, "hop", self.segment_length // 2)
        if not 1 <= self.hop <= self.segment_length // 2:
            raise ConfigError(f"hop must be in [1, segment_length // 2 = {self.segment_length // 2}], got {self.hop}.")

    @property
    def pad_left(self) -> int:
        """Zeros in front of the signal, ``N - hop``: its first sample lies ``N - hop`` into the first segment."""
        return self.segment_length - self.hop

    def n_segments(self, length: int) -> int:
        """``K = ceil((L + N - hop) / hop)`` segments for a signal of ``length`` samples (>= 1)."""
        if length < 1:
            raise ValueError(f"Cannot segment an empty signal (length {length}).")
        return -(-(length + self.pad_left) // self.hop)

    def window(self) -> np.ndarray:
        """The synthesis weights, the periodic Hann window ``(N,)`` float64."""
        return hann_window(self.segment_length)

    def split(self, signal: np.ndarray) -> np.ndarray:
        """``(..., L)`` -> ``(..., K, N)``: the zero-padded signal's segments (copies, signal's dtype)."""
        signal = np.asarray(signal)
        length = signal.shape[-1]
        k, n, hop = self.n_segments(length), self.segment_length, self.hop
        padded = np.zeros(signal.shape[:-1] + ((k - 1) * hop + n,), dtype=signal.dtype)
        padded[..., self.pad_left:self.pad_left + length] = signal
        starts = np.arange(k) * hop
        return padded[..., starts[:, None] + np.arange(n)]

    def merge(self, segments: np.ndarray, length: int) -> np.ndarray:
        """``(..., K, N)`` processed segments -> ``(..., L)``: the window-weighted average (module docstring),
        float64."""
        segments = np.asarray(segments, dtype=np.float64)
        k, n, hop = self.n_segments(length), self.segment_length, self.hop
        if segments.shape[-2:] != (k, n):
            raise ValueError(f"Expected (..., {k}, {n}) segments for a signal of {length} samples, "
                             f"got {segments.shape}.")
        window = self.window()
        total = np.zeros(segments.shape[:-2] + ((k - 1) * hop + n,))
        weight = np.zeros((k - 1) * hop + n)
        for index in range(k):
            start = index * hop
            total[..., start:start + n] += window * segments[..., index, :]
            weight[start:start + n] += window
        crop = slice(self.pad_left, self.pad_left + length)
        return total[..., crop] / weight[crop]


class SegmentCutter:
    """The segments of :meth:`OverlapAdd.split` of a signal that arrives in blocks (module docstring).

    Push blocks ``(..., n)`` (any sizes, the same leading shape) with :meth:`push`, then :meth:`close` at
    the end of the signal; :meth:`cut` gives the next segments ``(..., m, N)`` in order, as soon as
    :meth:`available` says their samples are there. Only the samples of segments not yet cut are kept.
    """

    def __init__(self, ola: OverlapAdd) -> None:
        self.ola = ola
        self._buffer: np.ndarray | None = None  # the padded signal from position ``_next * hop`` on
        self._next = 0  # index of the next segment to cut
        self._received = 0  # samples of the signal pushed so far
        self._segments: int | None = None  # K, known once closed

    @property
    def length(self) -> int:
        """Samples of the signal pushed so far (its length once closed)."""
        return self._received

    def push(self, block: np.ndarray) -> None:
        """Append ``block`` ``(..., n)`` to the signal."""
        if self._segments is not None:
            raise ValueError("SegmentCutter.push after close.")
        block = np.asarray(block)
        if self._buffer is None:  # the zeros in front of the signal
            self._buffer = np.zeros(block.shape[:-1] + (self.ola.pad_left,), dtype=block.dtype)
        self._buffer = np.concatenate([self._buffer, block], axis=-1)
        self._received += block.shape[-1]

    def close(self) -> None:
        """End of the signal: the zeros after it complete the last segments."""
        if self._buffer is None:
            raise ValueError("Cannot segment an empty signal (nothing was pushed).")
        self._segments = self.ola.n_segments(self._received)
        end = (self._segments - 1) * self.ola.hop + self.ola.segment_length - self._next * self.ola.hop
        padding = np.zeros(self._buffer.shape[:-1] + (end - self._buffer.shape[-1],), dtype=self._buffer.dtype)
        self._buffer = np.concatenate([self._buffer, padding], axis=-1)

    def available(self) -> int:
        """How many segments :meth:`cut` can give now."""
        if self._buffer is None:
            return 0
        if self._segments is not None:
            return self._segments - self._next
        return max(0, (self._buffer.shape[-1] - self.ola.segment_length) // self.ola.hop + 1)

    def cut(self, count: int) -> np.ndarray:
        """The next ``count`` segments ``(..., count, N)`` (copies, the signal's dtype)."""
        if not 1 <= count <= self.available():
            raise ValueError(f"Cannot cut {count} segments; {self.available()} are available.")
        n, hop = self.ola.segment_length, self.ola.hop
        windows = np.lib.stride_tricks.sliding_window_view(self._buffer, n, axis=-1)  # (..., positions, N)
        segments = windows[..., : (count - 1) * hop + 1 : hop, :].copy()
        self._buffer = self._buffer[..., count * hop:]  # a view: the next push copies what is left
        self._next += count
        return segments


class SegmentMerger:
    """The window-weighted average of :meth:`OverlapAdd.merge`, given out block by block (module docstring).

    :meth:`push` takes the next processed segments ``(..., m, N)`` in order and returns the output samples
    ``(..., n)`` that are final (float64); :meth:`close` takes the signal's length and returns the rest.
    The concatenated outputs equal ``merge`` of all segments, bit for bit.
    """

    def __init__(self, ola: OverlapAdd) -> None:
        self.ola = ola
        self._window = ola.window()
        self._total: np.ndarray | None = None  # weighted sums from padded position ``_origin`` on
        self._weight = np.zeros(0)  # summed windows, same positions
        self._origin = 0
        self._next = 0  # index of the next segment
        self._given = 0  # padded position up to which samples were given out

    def _give(self, end: int) -> np.ndarray:
        """The finished samples of padded positions ``[_given, end)`` that lie in the signal, dropped from the sums."""
        start = max(self._given, self.ola.pad_left)
        finished = slice(start - self._origin, end - self._origin)
        out = self._total[..., finished] / self._weight[finished]
        keep = slice(end - self._origin, None)
        self._total, self._weight = self._total[..., keep].copy(), self._weight[keep].copy()
        self._origin, self._given = end, end
        return out

    def push(self, segments: np.ndarray) -> np.ndarray:
        """Add the next segments ``(..., m, N)``; the samples no later segment changes, ``(..., n)`` float64.

        Samples after the last segment's start are held back until the next push or :meth:`close`: only
        then is it known whether they lie in the signal.
        """
        segments = np.asarray(segments, dtype=np.float64)
        n, hop, count = self.ola.segment_length, self.ola.hop, segments.shape[-2]
        if segments.shape[-1] != n or count < 1:
            raise ValueError(f"Expected (..., m >= 1, {n}) segments, got {segments.shape}.")
        end = (self._next + count - 1) * hop + n  # padded position after the last segment
        if self._total is None:
            self._total = np.zeros(segments.shape[:-2] + (0,))
        grow = end - self._origin - self._weight.shape[0]
        self._total = np.concatenate([self._total, np.zeros(self._total.shape[:-1] + (grow,))], axis=-1)
        self._weight = np.concatenate([self._weight, np.zeros(grow)])
        for index in range(count):
            start = (self._next + index) * hop - self._origin
            self._total[..., start:start + n] += self._window * segments[..., index, :]
            self._weight[start:start + n] += self._window
        self._next += count
        return self._give(max(self._given, (self._next - 1) * hop))

    def close(self, length: int) -> np.ndarray:
        """The last samples, up to the signal's ``length``; every segment must have been pushed."""
        if self._next != self.ola.n_segments(length):
            raise ValueError(f"{self._next} segments were merged; a signal of {length} samples has "
                             f"{self.ola.n_segments(length)}.")
        return self._give(self.ola.pad_left + length)


def overlap_add_blocks(ola: OverlapAdd, blocks: Iterable[np.ndarray], process: Callable[[np.ndarray], np.ndarray],
                       chunk: int) -> Iterator[np.ndarray]:
    """``merge(process(split(signal)))`` of a signal that comes in blocks, given out in blocks.

    Args:
        ola: the segmentation.
        blocks: ``(..., n)`` blocks of the signal, any sizes.
        process: segments ``(..., m, N)`` -> processed segments ``(..., m, N)`` (any leading shape), called
            on ``chunk`` segments at a time (the last call fewer), in order from the first segment.
        chunk: segments held at a time.

    Yields:
        ``(..., n)`` float64 blocks of the output; together, as long as the signal.
    """
    cutter, merger = SegmentCutter(ola), SegmentMerger(ola)
    for block in blocks:
        cutter.push(block)
        while cutter.available() >= chunk:
            yield merger.push(process(cutter.cut(chunk)))
    cutter.close()
    while cutter.available():
        yield merger.push(process(cutter.cut(min(chunk, cutter.available()))))
    yield merger.close(cutter.length)
