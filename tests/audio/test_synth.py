"""The synthetic corpus: MUSDB18-HQ layout, exact stem sums, determinism, musical content, idempotence."""

from __future__ import annotations

import inspect
import os
from pathlib import Path

import musdb
import numpy as np
import pytest
import soundfile as sf

from rlsv.audio.synth import (
    DEFAULT_DURATION_S,
    DEFAULT_N_TEST,
    DEFAULT_N_TRAIN,
    MARKER_FILE,
    STEMS,
    default_synthetic_root,
    make_corpus,
)
from rlsv.core.metrics import segment_is_active

SR = 44100
WAVS = {f"{name}.wav" for name in ("mixture",) + STEMS}


def _files(root: Path) -> dict[str, Path]:
    return {str(p.relative_to(root)): p for p in sorted(root.rglob("*")) if p.is_file()}


def _mono(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float32")[0].mean(axis=1)


def test_musdb18_hq_layout_of_stereo_16_bit_wavs(tiny_corpus):
    for subset in ("train", "test"):
        tracks = sorted((tiny_corpus / subset).iterdir())
        assert [t.name for t in tracks] == [f"synth-{subset}-000", f"synth-{subset}-001"]
        for track in tracks:
            assert {p.name for p in track.iterdir()} == WAVS
            for wav in track.iterdir():
                info = sf.info(wav)
                assert (info.samplerate, info.channels, info.frames, info.subtype) == (SR, 2, 4 * SR, "PCM_16")
    assert (tiny_corpus / MARKER_FILE).is_file()


def test_mixture_is_exactly_the_sum_of_the_stems_and_not_clipped(tiny_corpus):
    for track in sorted((tiny_corpus / "test").iterdir()):
        read = {name: sf.read(track / f"{name}.wav", dtype="int16")[0].astype(np.int32)
                for name in ("mixture",) + STEMS}
        # 16-bit stems, mixture = their integer sum: tolerance 0 LSB.
        np.testing.assert_array_equal(read["mixture"], sum(read[name] for name in STEMS))
        assert 0.3 < np.abs(read["mixture"]).max() / 32768 <= 0.91
        for name in STEMS:
            left, right = read[name].T
            assert np.abs(left).max() > 0 and not np.array_equal(left, right)  # panned, not dual mono


def test_musdb_reads_the_corpus_unchanged(tiny_corpus):
    db = musdb.DB(root=str(tiny_corpus), is_wav=True)
    assert [(t.subset, t.name) for t in db.tracks] == [("train", "synth-train-000"), ("train", "synth-train-001"),
                                                      ("test", "synth-test-000"), ("test", "synth-test-001")]
    track = db.tracks[2]
    assert track.rate == SR and set(track.sources) == set(STEMS)
    mixture = track.audio
    assert mixture.shape == (4 * SR, 2)
    vocals, accompaniment = track.targets["vocals"].audio, track.targets["accompaniment"].audio
    np.testing.assert_array_equal(vocals, track.sources["vocals"].audio)
    np.testing.assert_allclose(vocals + accompaniment, mixture, rtol=0, atol=1e-12)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(tmp_path):
    params = dict(n_train=1, n_test=1, duration_s=3.0, progress=False)
    first, second = make_corpus(tmp_path / "a", **params), make_corpus(tmp_path / "b", **params)
    other = make_corpus(tmp_path / "c", seed=1, **params)
    files = _files(first)
    assert files.keys() == _files(second).keys() and len(files) == 2 * len(WAVS) + 1
    for name, path in files.items():
        assert path.read_bytes() == (second / name).read_bytes(), name
    vocals = "test/synth-test-000/vocals.wav"
    assert (first / vocals).read_bytes() != (other / vocals).read_bytes()


def test_test_tracks_have_silent_and_active_one_second_segments(tiny_corpus):
    for track in sorted((tiny_corpus / "test").iterdir()):
        vocals = _mono(track / "vocals.wav").reshape(-1, SR)
        active = segment_is_active(vocals).numpy()
        assert not active[0], "every song opens with a bar without vocals"
        assert active.any()


def _pitch(frame: np.ndarray) -> tuple[float, float]:
    """Fundamental (Hz) from the autocorrelation peak in 70-1000 Hz, and its normalised height."""
    frame = frame - frame.mean()
    corr = np.correlate(frame, frame, "full")[len(frame) - 1:]
    lags = np.arange(SR // 1000, SR // 70)
    best = lags[np.argmax(corr[lags])]
    return SR / best, corr[best] / corr[0]


def test_vocals_are_pitched_in_a_singing_range_and_follow_a_melody(tiny_corpus):
    vocals = np.concatenate([_mono(t / "vocals.wav") for t in sorted((tiny_corpus / "train").iterdir())])
    frames = vocals[: len(vocals) // 2048 * 2048].reshape(-1, 2048)
    voiced = frames[np.sqrt((frames ** 2).mean(axis=1)) > 0.02]
    assert len(voiced) > 10
    pitches, periodicity = np.array([_pitch(frame) for frame in voiced]).T
    assert np.median(periodicity) > 0.8  # harmonic, not noise
    assert np.all((pitches > 80) & (pitches < 1000))
    semitones = np.round(12 * np.log2(pitches / 440))
    assert len(np.unique(semitones)) >= 4  # a melody, not one held note


def test_drum_track_is_not_pitched(tiny_corpus):
    # Control for the pitch test above: the same measure on noise-like hi-hats must fail it.
    drums = _mono(tiny_corpus / "train" / "synth-train-000" / "drums.wav")
    hats = drums - np.convolve(drums, np.ones(8) / 8, mode="same")  # keep the high band
    frames = hats[: len(hats) // 2048 * 2048].reshape(-1, 2048)
    loud = frames[np.argsort((frames ** 2).sum(axis=1))[-8:]]
    assert np.median([_pitch(frame)[1] for frame in loud]) < 0.8


def test_complete_corpus_is_not_rewritten_and_half_written_one_is_redone(tmp_path):
    params = dict(n_train=1, n_test=2, duration_s=3.0, progress=False)
    root = make_corpus(tmp_path / "corpus", **params)
    mtimes = {name: p.stat().st_mtime_ns for name, p in _files(root).items()}
    assert make_corpus(root, **params) == root
    assert {name: p.stat().st_mtime_ns for name, p in _files(root).items()} == mtimes

    (root / MARKER_FILE).unlink()  # interrupted: a file lost, no marker
    (root / "test/synth-test-001/vocals.wav").unlink()
    make_corpus(root, **params)
    assert (root / "test/synth-test-001/vocals.wav").is_file() and (root / MARKER_FILE).is_file()

    make_corpus(root, **{**params, "n_test": 1})  # smaller corpus: the extra track goes
    assert sorted(p.name for p in (root / "test").iterdir()) == ["synth-test-000"]


def test_refuses_to_write_into_a_folder_with_other_data(tmp_path):
    (tmp_path / "train" / "Some Artist - Song").mkdir(parents=True)
    with pytest.raises(FileExistsError, match="not part of an rlsv synthetic corpus"):
        make_corpus(tmp_path, n_train=1, n_test=1, duration_s=3.0, progress=False)


def test_rejects_tracks_too_short_for_the_intro():
    with pytest.raises(ValueError, match="duration_s >= 3.0"):
        make_corpus("unused", duration_s=1.0, progress=False)


def test_default_root_follows_rlsv_data(monkeypatch, tmp_path):
    monkeypatch.setenv("RLSV_DATA", str(tmp_path))
    assert default_synthetic_root() == tmp_path.resolve() / "synthetic-default"
    monkeypatch.delenv("RLSV_DATA")
    checkout = Path(__file__).resolve().parents[2]  # the tests run from the checkout
    monkeypatch.chdir(tmp_path)  # anchored at the checkout, not at the working directory
    assert default_synthetic_root() == checkout / "data" / "synthetic-default"
    assert os.path.isabs(default_synthetic_root())


def test_one_default_corpus_for_synth_the_synthetic_profiles_and_no_dataset(monkeypatch, tmp_path):
    from rlsv.cli import build_parser, main
    from rlsv.run.data import synthetic_root
    from rlsv.run.profiles import get_profile

    monkeypatch.setenv("RLSV_DATA", str(tmp_path))
    assert synthetic_root("small") == synthetic_root("smoke") == default_synthetic_root()
    defaults = inspect.signature(make_corpus).parameters
    sizes = tuple(defaults[name].default for name in ("n_train", "n_test", "duration_s"))
    assert sizes == (8, 4, 12.0) == (DEFAULT_N_TRAIN, DEFAULT_N_TEST, DEFAULT_DURATION_S)
    assert get_profile("small").synthetic_tracks == get_profile("smoke").synthetic_tracks == sizes
    args = build_parser().parse_args(["synth"])  # `rlsv synth` without a folder writes that corpus
    assert args.root is None and (args.n_train, args.n_test, args.seconds) == sizes
    assert main(["synth", "--n-train", "1", "--n-test", "1", "--seconds", "3", "--quiet"]) == 0
    assert (default_synthetic_root() / MARKER_FILE).is_file()
