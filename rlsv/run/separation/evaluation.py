"""Evaluating separation on whole tracks: blind and oracle estimates, SI-SDR per segment, BSSEval v4 SDR.

For one front end and one track (mono ``mixture`` and ``vocals``, ``accompaniment = mixture - vocals``):

* the **blind** estimate: the trained separator over the whole track by windowed overlap-add
  (``rlsv.run.separation.streaming.separate_signal``);
* the **oracle** estimate: the paper's oracle binary mask (``FrontEnd.oracle_estimate``: ``A_v / A_acc > 0.5``,
  or the STFT baseline's ``|V| / |Acc| > 0.5``) on the same overlapping segments, put together by the same
  overlap-add, so that both estimates are made and scored alike.

Each estimate is scored twice on the same output:

* ``si_sdr``: SI-SDR (``rlsv.core.metrics.si_sdr``, float64) on the track's non-overlapping segments of
  ``N`` samples whose vocals are active (the silence rule of the paper's evaluation, ``rlsv.audio.segments``);
* ``bss_sdr``: BSSEval v4 SDR of the vocals (``museval.evaluate``, ``mode="v4"``, one-second windows,
  references vocals and accompaniment, estimates ``v^`` and ``mixture - v^``), the median over the
  track's windows (windows with silent vocals give NaN and are skipped): how MUSDB18 results are
  reported (SiSEC 2018).

Results are long tables, one row per value: ``track, segment, metric, value`` (``segment`` -1 for the
track-level ``bss_sdr``).
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import pandas as pd
import torch

from rlsv.audio.musdb import TrackAudio
from rlsv.audio.segments import frame_signal
from rlsv.core.metrics import segment_is_active, si_sdr
from rlsv.core.separation.front_ends import FrontEnd
from rlsv.core.separation.overlap_add import OverlapAdd, overlap_add_blocks
from rlsv.run.separation.separator import Separator
from rlsv.run.separation.streaming import separate_signal

__all__ = ["RESULT_COLUMNS", "oracle_track_estimate", "segment_si_sdr", "bss_sdr", "score_track", "score_tracks",
           "blind_estimator", "oracle_estimator"]

RESULT_COLUMNS: tuple[str, ...] = ("track", "segment", "metric", "value")

Estimator = Callable[[TrackAudio], np.ndarray]


@torch.no_grad()
def oracle_track_estimate(front_end: FrontEnd, mixture: np.ndarray, vocals: np.ndarray, batch_size: int = 16,
                          device: torch.device | str = "cpu") -> np.ndarray:
    """The oracle binary-mask estimate of a whole track ``(L,)`` by windowed overlap-add of its segments'
    estimates (``rlsv.core.separation.overlap_add``), float64."""
    mixture, vocals = np.asarray(mixture, dtype=np.float32), np.asarray(vocals, dtype=np.float32)

    def estimate(segments: np.ndarray) -> np.ndarray:
        """``(3, m, N)`` segments of mixture, vocals, accompaniment -> ``(1, m, N)`` estimates."""
        out = np.zeros((1,) + segments.shape[1:])
        for start in range(0, segments.shape[1], batch_size):
            batch = [torch.from_numpy(s[start:start + batch_size]).to(device) for s in segments]
            out[0, start:start + batch_size] = front_end.oracle_estimate(*batch).double().cpu().numpy()
        return out

    ola = OverlapAdd(front_end.segment_length)
    signal = np.stack([mixture, vocals, mixture - vocals])
    return np.concatenate(list(overlap_add_blocks(ola, [signal], estimate, batch_size * 16)), axis=-1)[0]


def segment_si_sdr(vocals: np.ndarray, estimate: np.ndarray, segment_length: int) -> pd.DataFrame:
    """SI-SDR of ``estimate`` against ``vocals`` (both ``(L,)``) on the non-overlapping segments of ``N`` samples
    with active vocals (tail zero-padded, as the paper's evaluation cuts tracks): columns ``segment, value``."""
    references = frame_signal([np.asarray(vocals, dtype=np.float32)], segment_length, segment_length)
    estimates = frame_signal([np.asarray(estimate, dtype=np.float32)], segment_length, segment_length)
    active = segment_is_active(references).numpy()
    values = si_sdr(torch.from_numpy(references[active]).double(), torch.from_numpy(estimates[active]).double())
    return pd.DataFrame({"segment": np.flatnonzero(active), "value": values.numpy()})


def bss_sdr(vocals: np.ndarray, mixture: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """BSSEval v4 SDR of the vocal ``estimate`` (all ``(L,)``): the median over one-second windows (module
    docstring); NaN when every window is silent, or when the estimate or its complement is all zeros."""
    import museval

    vocals, mixture, estimate = (np.asarray(x, dtype=np.float64) for x in (vocals, mixture, estimate))
    references = np.stack([vocals, mixture - vocals])[..., None]  # (2 sources, L, 1 channel)
    estimates = np.stack([estimate, mixture - estimate])[..., None]
    if not (np.any(estimates[0]) and np.any(estimates[1])):
        return float("nan")  # museval refuses an all-zero estimate (its SDR is not defined)
    sdr, _, _, _ = museval.evaluate(references, estimates, win=sample_rate, hop=sample_rate, mode="v4", padding=True)
    windows = sdr[0]
    return float(np.nanmedian(windows)) if not np.isnan(windows).all() else float("nan")


def score_track(track: TrackAudio, estimate: np.ndarray, segment_length: int, sample_rate: int,
                bss: bool = True) -> pd.DataFrame:
    """The rows (``RESULT_COLUMNS``) of one track's estimate: ``si_sdr`` per active segment, ``bss_sdr``."""
    mixture, vocals = np.asarray(track.mixture), np.asarray(track.vocals)
    frame = segment_si_sdr(vocals, estimate, segment_length).assign(metric="si_sdr")
    if bss:
        frame = pd.concat([frame, pd.DataFrame({"segment": [-1], "metric": ["bss_sdr"],
                                                "value": [bss_sdr(vocals, mixture, estimate, sample_rate)]})])
    return frame.assign(track=track.name).loc[:, list(RESULT_COLUMNS)].reset_index(drop=True)


def score_tracks(estimator: Estimator, tracks: Iterable[TrackAudio], segment_length: int, sample_rate: int,
                 bss: bool = True) -> pd.DataFrame:
    """:func:`score_track` of ``estimator(track)`` for every track, one frame."""
    frames = [score_track(track, estimator(track), segment_length, sample_rate, bss) for track in tracks]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(RESULT_COLUMNS))


def blind_estimator(separator: Separator, batch_size: int = 16) -> Estimator:
    """``track -> (L,)`` blind vocal estimate of ``separator`` (windowed overlap-add)."""
    return lambda track: separate_signal(separator, np.asarray(track.mixture), batch_size=batch_size, progress=False)


def oracle_estimator(front_end: FrontEnd, batch_size: int = 16, device: torch.device | str = "cpu") -> Estimator:
    """``track -> (L,)`` oracle binary-mask estimate on ``front_end`` (windowed overlap-add)."""
    return lambda track: oracle_track_estimate(front_end, np.asarray(track.mixture), np.asarray(track.vocals),
                                               batch_size, device)
