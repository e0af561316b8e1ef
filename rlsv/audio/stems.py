"""A track's parts (mixture and stems) read block by block: mono down-mix, and how well the stems add up.

MUSDB18's mixture is the sum of its four stems (vocals, drums, bass, other). A mixture replaced by other
audio, a damaged stem or stems rescaled and clipped break that, and training or evaluating on such a
track gives numbers that mean nothing. So every track is checked once, when it is decoded into the cache
(:mod:`rlsv.audio.musdb`), with one measure:

    residual_db = 10 log10( sum (mixture - (vocals + drums + bass + other))^2 / sum mixture^2 )

over all channels and all samples but the first and last 0.1 s (where AAC coding leaves the streams
misaligned by a few hundred samples; rounded out to 1024 samples): the energy of what the stems leave
unexplained, relative to the mixture's, in dB. It is clamped to [-200, +200] dB (-200: an exact sum, as
in the synthetic corpus). A track passes when ``residual_db`` is at most the tolerance,
:data:`DEFAULT_TOLERANCE_DB` (-10 dB) unless ``$RLSV_STEM_TOLERANCE_DB`` says otherwise. Measured
(``docs/data.md``): the real MUSDB18 excerpt shipped with stempeg -22.4 dB (each stream AAC-coded on its
own; -15.4 dB with its ends), the synthetic corpus -200 dB (exact); on the excerpt, a mixture replaced by
noise +0.3 dB, a vocals stem of random bytes +10.9 dB, the stems scaled by 50 and clipped +19.6 dB.

To help name the damaged file, the residual's likeness (cosine similarity) to each part is kept: to the
mixture, and to each stem with the opposite sign (a stem replaced by louder noise leaves minus that noise).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np

from rlsv.errors import ConfigError, DatasetError

__all__ = ["PARTS", "STEMS", "DEFAULT_TOLERANCE_DB", "TOLERANCE_ENV", "Additivity", "DecodedParts",
           "StemsDoNotAddUpError", "tolerance_db", "decode_parts", "audio_mono", "EDGE_S"]

PARTS = ("mixture", "vocals", "drums", "bass", "other")
"""A track's parts in the order rlsv reads them: the mixture and the vocals first (the signals it uses)."""
STEMS = PARTS[1:]
DEFAULT_TOLERANCE_DB = -10.0
TOLERANCE_ENV = "RLSV_STEM_TOLERANCE_DB"
SUSPECT_LIKENESS, SUSPECT_LEAD = 0.8, 0.3
"""A part whose likeness to the residual reaches 0.8, 0.3 above any other part's, is named as the probably
damaged one (a mixture replaced by noise: 0.89, next 0.34; a vocals stem of random bytes: 0.99, next 0.08;
all stems scaled by 50 and clipped: at most 0.58, none named)."""
EDGE_S = 0.1
"""Seconds at each end of a track left out of the measure."""
_FLOOR_DB, _CEILING_DB = -200.0, 200.0


class StemsDoNotAddUpError(DatasetError):
    """A track's stems do not add up to its mixture (``residual_db`` above the tolerance)."""


def tolerance_db() -> float:
    """The largest ``residual_db`` a track may have: ``$RLSV_STEM_TOLERANCE_DB`` if set, else -10 dB."""
    raw = os.environ.get(TOLERANCE_ENV, "").strip()
    if not raw:
        return DEFAULT_TOLERANCE_DB
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if math.isnan(value):
        raise ConfigError(f"{TOLERANCE_ENV}={raw!r} is not a number of dB; set it to e.g. -10 (the default) or "
                          "unset it.")
    return value


@dataclass(frozen=True)
class Additivity:
    """How well the stems add up to the mixture.

    Attributes:
        residual_db: residual energy relative to the mixture's, in dB, in [-200, 200].
        likeness: part name -> cosine similarity of the residual with the mixture, or with minus the stem.
    """

    residual_db: float
    likeness: dict[str, float] = field(default_factory=dict)

    def passes(self, tolerance: float) -> bool:
        return self.residual_db <= tolerance

    def suspect(self) -> str | None:
        """The part the residual looks like, the probably damaged one (see :data:`SUSPECT_LIKENESS`), or None."""
        ranked = sorted(self.likeness.items(), key=lambda item: item[1], reverse=True)
        if not ranked or ranked[0][1] < SUSPECT_LIKENESS:
            return None
        if len(ranked) > 1 and ranked[0][1] - ranked[1][1] < SUSPECT_LEAD:
            return None
        return ranked[0][0]


@dataclass(frozen=True)
class DecodedParts:
    """What :func:`decode_parts` read.

    Attributes:
        mono: ``{"mixture", "vocals"}`` -> ``(n_samples,)`` float32, the mean of the channels.
        n_samples: samples per channel read (of the shortest part, when ``ended_early``).
        nonfinite: part -> (number of NaN or infinite samples, first sample holding one); empty if none.
        ended_early: the first part that ended before the others, or None.
        additivity: None when the parts are only the mixture and the vocals, or hold non-finite samples.
    """

    mono: dict[str, np.ndarray]
    n_samples: int
    nonfinite: dict[str, tuple[int, int]]
    ended_early: str | None
    additivity: Additivity | None


def decode_parts(blocks: Iterable[Sequence[np.ndarray]], parts: Sequence[str], edge_samples: int = 0) -> DecodedParts:
    """Down-mix and check a track's parts read block by block.

    Args:
        blocks: for each block, one ``(n, channels)`` float32 array per part, in the order of ``parts``
            (consecutive blocks of equal length per part; a part that ends early gives a shorter block).
        parts: names of the parts, a prefix of :data:`PARTS` of length 2 (no check) or 5.
        edge_samples: samples at each end left out of the additivity measure (rounded out to whole
            chunks of 1024 samples; a track shorter than four edges is measured whole).

    Memory holds the two mono signals, one block and a few sums per 1024 samples.
    """
    parts = tuple(parts)
    if parts not in (PARTS[:2], PARTS):
        raise ValueError(f"parts must be {PARTS[:2]} or {PARTS}, got {parts}")
    checked = len(parts) == len(PARTS)
    mono: dict[str, list[np.ndarray]] = {"mixture": [], "vocals": []}
    nonfinite: dict[str, list[int]] = {}
    sums = _ChunkSums()
    n_samples, ended_early = 0, None
    for block in blocks:
        lengths = [len(b) for b in block]
        n = min(lengths)
        if n < max(lengths):
            ended_early = parts[int(np.argmin(lengths))]
        block = [np.asarray(b[:n], dtype=np.float32) for b in block]
        for name, audio in zip(parts, block):
            bad = ~np.isfinite(audio)
            if bad.any():
                record = nonfinite.setdefault(name, [0, n_samples + int(np.argmax(bad.any(axis=1)))])
                record[0] += int(bad.sum())
        for name in mono:
            mono[name].append(audio_mono(block[parts.index(name)]))
        if checked and not nonfinite:
            sums.add(n_samples, block)
        n_samples += n
        if ended_early:
            break
    additivity = sums.additivity(n_samples, edge_samples) if checked and not nonfinite else None
    signals = {name: np.concatenate(chunks) if chunks else np.zeros(0, np.float32) for name, chunks in mono.items()}
    return DecodedParts(signals, n_samples, {k: (v[0], v[1]) for k, v in nonfinite.items()}, ended_early,
                        additivity)


class _ChunkSums:
    """Per chunk of 1024 samples: the residual's energy, each part's energy and the residual's dot product
    with the mixture and with minus each stem (all channels summed, float64)."""

    CHUNK = 1024

    def __init__(self) -> None:
        self.sums = np.zeros((1 + 2 * len(PARTS), 0))  # rows: residual energy, part energies, dot products

    def add(self, start: int, block: Sequence[np.ndarray]) -> None:
        """Add the samples ``start ...`` of a block of the five parts, ``(n, channels)`` float32 each.

        Products are formed in float32 and summed per chunk (1024 samples) before the float64 totals: enough
        for a measure read to 0.1 dB, and several times faster than float64 throughout.
        """
        n, channels = block[0].shape
        if n == 0:
            return
        offset = start % self.CHUNK  # zeros before and after make whole chunks; they add nothing
        m = -(-(offset + n) // self.CHUNK)
        parts = np.zeros((len(PARTS), m * self.CHUNK, channels), np.float32)
        for index, audio in enumerate(block):
            parts[index, offset:offset + n] = audio
        parts = parts.reshape(len(PARTS), m, self.CHUNK * channels)
        residual = parts[0] - parts[1:].sum(axis=0)
        signs = np.array((1.0,) + (-1.0,) * (len(PARTS) - 1))[:, None]
        first = start // self.CHUNK
        if first + m > self.sums.shape[1]:
            grown = max(first + m, 2 * self.sums.shape[1])
            self.sums = np.pad(self.sums, ((0, 0), (0, grown - self.sums.shape[1])))
        rows = self.sums[:, first:first + m]
        rows[0] += np.einsum("mk,mk->m", residual, residual)
        rows[1:1 + len(PARTS)] += np.einsum("pmk,pmk->pm", parts, parts)
        rows[1 + len(PARTS):] += signs * np.einsum("mk,pmk->pm", residual, parts)

    def additivity(self, n_samples: int, edge_samples: int) -> Additivity:
        """The measure over the chunks away from both ends (see :func:`decode_parts`)."""
        n_chunks = -(-n_samples // self.CHUNK)
        lo, hi = -(-edge_samples // self.CHUNK), max(0, n_samples - edge_samples) // self.CHUNK
        trimmed = 0 < edge_samples and 4 * edge_samples <= n_samples and lo < hi
        kept = self.sums[:, lo:hi] if trimmed else self.sums[:, :n_chunks]
        totals = kept.sum(axis=1)
        residual_energy, energies, dots = totals[0], totals[1:1 + len(PARTS)], totals[1 + len(PARTS):]
        norms = np.sqrt(energies * residual_energy)
        likeness = {name: float(d / s) if s > 0 else 0.0 for name, d, s in zip(PARTS, dots, norms)}
        return Additivity(_ratio_db(float(residual_energy), float(energies[0])), likeness)


def audio_mono(audio: np.ndarray) -> np.ndarray:
    """Mean over channels, ``(n_samples, channels) -> (n_samples,)`` float32 (summed in float64, channel by
    channel: the same values as ``audio.mean(axis=1, dtype=np.float64)``, without its slow strided reduction)."""
    total = audio[:, 0].astype(np.float64)
    for channel in range(1, audio.shape[1]):
        total += audio[:, channel]
    total /= audio.shape[1]
    return total.astype(np.float32)


def _ratio_db(numerator: float, denominator: float) -> float:
    """``10 log10(numerator / denominator)`` clamped to [-200, 200] dB (0 / 0: -200, x / 0: +200)."""
    if numerator <= 0.0:
        return _FLOOR_DB
    if denominator <= 0.0:
        return _CEILING_DB
    return float(min(_CEILING_DB, max(_FLOOR_DB, 10.0 * math.log10(numerator / denominator))))
