"""Scoring separation on whole tracks: SI-SDR per active segment, BSSEval v4 SDR, the oracle by overlap-add."""

from __future__ import annotations

import numpy as np

from rlsv.audio.musdb import TrackAudio
from rlsv.core.separation.front_ends import StftFrontEnd
from rlsv.run.separation.evaluation import RESULT_COLUMNS, bss_sdr, oracle_track_estimate, score_track, segment_si_sdr

RATE = 8000


def _track(seconds: float = 3.0, seed: int = 0) -> TrackAudio:
    rng = np.random.default_rng(seed)
    n = int(RATE * seconds)
    vocals = (np.sin(2 * np.pi * 300 * np.arange(n) / RATE) * (np.arange(n) > n // 3)).astype(np.float32)
    return TrackAudio("t", (vocals + 0.5 * rng.standard_normal(n)).astype(np.float32), vocals)


def test_segment_si_sdr_skips_silent_segments_and_matches_the_formula() -> None:
    track = _track()
    estimate = track.vocals + 0.1 * np.random.default_rng(1).standard_normal(len(track.vocals))
    frame = segment_si_sdr(track.vocals, estimate, 4000)
    assert frame["segment"].tolist() == [2, 3, 4, 5]  # the first 8000 samples are silent; tail padded to 6
    v, e = track.vocals[8000:12000].astype(np.float64), estimate[8000:12000].astype(np.float32).astype(np.float64)
    target = v @ e / (v @ v) * v
    expected = 10 * np.log10(target @ target / ((target - e) @ (target - e)))
    assert np.isclose(frame["value"].iloc[0], expected, atol=1e-6)


def test_bss_sdr_of_a_known_distortion() -> None:
    track = _track(seconds=2.0, seed=2)
    v = track.vocals.astype(np.float64)
    noise = np.random.default_rng(3).standard_normal(len(v))
    active = v != 0
    noise *= np.sqrt((v[active] ** 2).mean() / (noise[active] ** 2).mean()) / np.sqrt(10)  # 10 dB below the vocals
    value = bss_sdr(track.vocals, track.mixture, v + noise * active, RATE)
    assert 8.5 < value < 11.5


def test_stft_oracle_of_a_mixture_that_is_all_vocals_is_the_mixture() -> None:
    x = np.random.default_rng(4).standard_normal(5000).astype(np.float32)
    estimate = oracle_track_estimate(StftFrontEnd(1024, n_fft=256, hop=64), x, x)
    np.testing.assert_allclose(estimate, x, atol=1e-5)


def test_score_track_rows() -> None:
    track = _track()
    frame = score_track(track, track.vocals * 0.5, 4000, RATE, bss=False)
    assert tuple(frame.columns) == RESULT_COLUMNS and set(frame.metric) == {"si_sdr"}
    assert (frame["value"] > 100).all()  # a scaled copy: SI-SDR is scale-invariant
    short = _track(seconds=1.5)
    with_bss = score_track(short, short.vocals * 0.5, 4000, RATE)
    assert with_bss.query("metric == 'bss_sdr'")["segment"].tolist() == [-1]
