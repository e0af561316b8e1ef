"""One test segment through a trained model: sorted representations, carriers, mask estimate, metrics.

Used by Figures 2 and 4 and by the explorer. :func:`pick_segment` chooses a kept test segment
(by default the loudest vocals of the first track); :func:`represent_segment` encodes its three
signals and computes its metrics exactly as the evaluation does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from rlsv.errors import ConfigError
from rlsv.run.evaluate import segment_metrics

__all__ = ["SegmentView", "pick_segment", "represent_segment", "context_window", "WindowView", "represent_window"]


def pick_segment(tracks: Sequence, track: str | int | None = None, segment: int | None = None) -> tuple[int, int]:
    """``(track index, segment index)`` of a kept (non-silent) test segment.

    Args:
        tracks: ``TrackSegments`` of the test tracks (``rlsv.run.evaluate.run_test_segments``).
        track: a track name or index (None: the first track).
        segment: a segment index within the track (None: its kept segment with the loudest vocals).
    """
    if not tracks:
        raise ConfigError("No test tracks.")
    if track is None:
        t = 0
    elif isinstance(track, (int, np.integer)):
        t = int(track)
        if not 0 <= t < len(tracks):
            raise ConfigError(f"track index {t} out of range (0..{len(tracks) - 1}).")
    else:
        names = [ts.track for ts in tracks]
        if track not in names:
            raise ConfigError(f"No test track {track!r}; tracks: {names}.")
        t = names.index(track)
    kept = np.flatnonzero(tracks[t].active)
    if segment is None:
        if not len(kept):
            raise ConfigError(f"Track {tracks[t].track!r} has no segment with audible vocals.")
        energy = np.sum(np.square(tracks[t].vocals[kept], dtype=np.float64), axis=1)
        return t, int(kept[int(np.argmax(energy))])
    if not 0 <= segment < len(tracks[t]):
        raise ConfigError(f"segment {segment} out of range for {tracks[t].track!r} (0..{len(tracks[t]) - 1}).")
    return t, int(segment)


@dataclass
class SegmentView:
    """One test segment through one model (Figures 2/4, the explorer).

    Attributes:
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``A`` ``(C, T)``, channels sorted by carrier.
        carrier_hz: ``(C,)`` ascending carrier frequencies in Hz (same order).
        signals: ``{"mixture", "vocals", "accompaniment", "estimate"}`` -> ``(N,)`` float32; ``estimate``
            is the oracle binary-mask estimate of the vocals, ``D(A_m * mask)``.
        si_sdr, si_sdr_mask, additivity: the segment's metrics (dB, dB, fraction).
        sample_rate, frame_rate_hz: for audio players and time axes.
    """

    reps: dict[str, np.ndarray]
    carrier_hz: np.ndarray
    signals: dict[str, np.ndarray]
    si_sdr: float
    si_sdr_mask: float
    additivity: float
    sample_rate: int
    frame_rate_hz: float
    label: str = field(default="")


def represent_segment(model, mixture: np.ndarray, vocals: np.ndarray, accompaniment: np.ndarray,
                      mask_inclusive: bool = False, label: str = "") -> SegmentView:
    """Encode one segment's three signals (each ``(N,)``) and compute its metrics, as the evaluation
    does (``rlsv.run.evaluate.segment_metrics`` on a batch of one)."""
    import torch

    device = next(model.parameters()).device
    model.eval()
    signals = {"mixture": mixture, "vocals": vocals, "accompaniment": accompaniment}
    batch = {name: torch.from_numpy(np.asarray(x, np.float32)[None]).to(device) for name, x in signals.items()}
    outputs = segment_metrics(model, *batch.values(), mask_inclusive=mask_inclusive)
    with torch.no_grad():
        reps = {name: model.sort_channels(a)[0].cpu().numpy() for name, a in outputs.representations.items()}
        carrier_hz = model.carrier_frequencies_hz(sort=True).cpu().numpy()
    metrics = {name: float(value[0]) for name, value in outputs.metrics.items()}
    return SegmentView(
        reps=reps, carrier_hz=carrier_hz,
        signals={**{name: np.asarray(x, np.float32) for name, x in signals.items()},
                 "estimate": outputs.estimate[0].cpu().numpy().astype(np.float32)},
        si_sdr=metrics["si_sdr"], si_sdr_mask=metrics["si_sdr_mask"], additivity=metrics["additivity"],
        sample_rate=model.config.sample_rate, frame_rate_hz=model.config.sample_rate / model.config.stride,
        label=label,
    )


def context_window(n_segments: int, segment: int, segment_s: float, seconds: float) -> tuple[int, int]:
    """``(start, stop)``: about ``seconds`` of consecutive segments of a track around ``segment`` (it included,
    centred where the track allows), ``0 <= start <= segment < stop <= n_segments``."""
    count = max(1, min(n_segments, round(seconds / segment_s)))
    start = min(max(0, segment - count // 2), n_segments - count)
    return start, start + count


@dataclass
class WindowView:
    """Consecutive test segments through one model, joined in time (the explorer's view).

    Attributes:
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``A`` ``(C, n T)``: the segments' representations
            side by side, channels sorted by carrier.
        carrier_hz: ``(C,)`` ascending carriers in Hz.
        signals: ``{"mixture", "vocals", "accompaniment", "estimate"}`` -> ``(n N,)``: the segments one after
            the other; ``estimate`` is the oracle binary-mask estimate, segment by segment.
        segment: the chosen segment's :class:`SegmentView` (its own metrics), and ``offset_s`` its start
            within the window; ``start``, ``stop`` the window's segments.
    """

    reps: dict[str, np.ndarray]
    carrier_hz: np.ndarray
    signals: dict[str, np.ndarray]
    segment: SegmentView
    offset_s: float
    start: int
    stop: int
    sample_rate: int
    frame_rate_hz: float


def represent_window(model, tracks_segments, segment: int, seconds: float = 3.0, mask_inclusive: bool = False,
                     label: str = "") -> WindowView:
    """About ``seconds`` of consecutive segments of one track (``TrackSegments``) around ``segment``, encoded,
    masked and decoded segment by segment as the evaluation does; the chosen segment's metrics alone."""
    import torch

    ts = tracks_segments
    n = model.config.segment_length
    start, stop = context_window(len(ts), segment, n / model.config.sample_rate, seconds)
    device = next(model.parameters()).device
    model.eval()
    batch = [torch.from_numpy(np.asarray(x[start:stop], np.float32)).to(device)
             for x in (ts.mixture, ts.vocals, ts.accompaniment)]
    outputs = segment_metrics(model, *batch, mask_inclusive=mask_inclusive)
    with torch.no_grad():
        reps = {name: np.concatenate(list(model.sort_channels(a).cpu().numpy()), axis=-1)
                for name, a in outputs.representations.items()}
        carrier_hz = model.carrier_frequencies_hz(sort=True).cpu().numpy()
    signals = {name: np.asarray(x[start:stop], np.float32).reshape(-1)
               for name, x in (("mixture", ts.mixture), ("vocals", ts.vocals), ("accompaniment", ts.accompaniment))}
    signals["estimate"] = outputs.estimate.cpu().numpy().astype(np.float32).reshape(-1)
    chosen = represent_segment(model, ts.mixture[segment], ts.vocals[segment], ts.accompaniment[segment],
                               mask_inclusive, label)
    rate = model.config.sample_rate
    return WindowView(reps, carrier_hz, signals, chosen, (segment - start) * n / rate, start, stop, rate,
                      rate / model.config.stride)
