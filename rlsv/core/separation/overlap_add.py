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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rlsv.errors import ConfigError

__all__ = ["OverlapAdd", "hann_window"]


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
