"""Dataset layer: MUSDB18 through musdb, the decode cache, training batches, evaluation segments, errors."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import stempeg

import rlsv.audio.musdb
from rlsv.audio.musdb import (
    DatasetError,
    DatasetLayoutError,
    DatasetNotFoundError,
    TrackAudio,
    TrackTooShortError,
    UnreadableAudioError,
    fill_cache,
    resolve_dataset,
)
from rlsv.audio.segments import (
    TrainingSegmentation,
    count_evaluation_segments,
    count_training_batches,
    frame_signal,
    set_batches,
    track_segments,
    training_batches,
)
from rlsv.audio.synth import make_corpus
from rlsv.run.evaluate import iter_test_segments

N, HOP = 44100, 22050
EXCERPT = Path(stempeg.__file__).parent / "data" / "The Easton Ellises - Falcon 69.stem.mp4"
EXCERPT_SAMPLES = 268288  # 6.08 s


@pytest.fixture(scope="module")
def musdb18_root(tmp_path_factory) -> Path:
    """A MUSDB18 (.stem.mp4) root whose train/ and test/ each hold the real excerpt shipped with stempeg."""
    root = tmp_path_factory.mktemp("musdb18")
    for subset in ("train", "test"):
        (root / subset).mkdir()
        (root / subset / EXCERPT.name).symlink_to(EXCERPT)
    return root


@pytest.fixture
def hq_copy(tiny_corpus, tmp_path) -> Path:
    """A private copy of the tiny MUSDB18-HQ corpus, for tests that damage it."""
    return Path(shutil.copytree(tiny_corpus, tmp_path / "hq"))


# --------------------------------------------------------------------------- MUSDB18 .stem.mp4


def test_stem_mp4_gives_mono_mixture_vocals_and_their_difference(musdb18_root, cache_dir):
    dataset = resolve_dataset(musdb18_root, cache_dir=cache_dir)
    assert not dataset.is_wav and not dataset.synthetic
    (track,) = dataset.tracks("train")
    assert (track.name, track.n_samples) == ("The Easton Ellises - Falcon 69", EXCERPT_SAMPLES)
    assert track.streams == (0, 4, 1, 2, 3)  # mixture, vocals, then drums, bass, other (checked against the mixture)
    audio = dataset.load(track)
    stems, _ = stempeg.read_stems(str(EXCERPT), stem_id=[0, 4], dtype=np.float32, ffmpeg_format="f32le")
    assert audio.mixture.shape == audio.vocals.shape == (EXCERPT_SAMPLES,) and audio.mixture.dtype == np.float32
    np.testing.assert_allclose(audio.mixture, stems[0].mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(audio.vocals, stems[1].mean(axis=1), atol=1e-7)
    np.testing.assert_array_equal(audio.accompaniment, audio.mixture - audio.vocals)


def test_second_read_comes_from_the_cache_without_ffmpeg(musdb18_root, cache_dir, monkeypatch):
    dataset = resolve_dataset(musdb18_root, cache_dir=cache_dir)
    assert fill_cache(dataset, progress=False) == 2
    first = {t.subset: dataset.load(t) for subset in ("train", "test") for t in dataset.tracks(subset)}
    again = resolve_dataset(musdb18_root, cache_dir=cache_dir)  # a fresh object: nothing held in memory

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded although the track is cached")

    for target, name in ((subprocess, "run"), (subprocess, "Popen"), (stempeg, "read_stems"), (sf, "read")):
        monkeypatch.setattr(target, name, no_decoding)
    assert fill_cache(again, progress=False) == 0
    for track in again.tracks("test"):
        audio = again.load(track)
        assert isinstance(audio.mixture, np.memmap)
        np.testing.assert_array_equal(audio.vocals, first["test"].vocals)


def test_segment_counts_of_the_excerpt_match_a_hand_count(musdb18_root, cache_dir):
    dataset = resolve_dataset(musdb18_root, cache_dir=cache_dir)
    # Training, one set of one track: 268288 = 12 hops + 3688 -> padded to 13 hops = 286650,
    # segments at 0, 22050, ..., 242550: (286650 - 44100) / 22050 + 1 = 12 -> 1 batch of 8.
    published = TrainingSegmentation(pad_sets_with_silence=True)  # 12 -> 16 segments: 2 batches
    for segmentation, n_batches in ((TrainingSegmentation(), 1), (published, 2)):
        assert count_training_batches(dataset, segmentation) == n_batches
        batches = list(training_batches(dataset, np.random.default_rng(0), segmentation))
        assert len(batches) == n_batches and batches[0].vocals.shape == (8, N)
    # Evaluation: 268288 = 6 * 44100 + 3688 -> 7 segments, the last one zero-padded.
    assert count_evaluation_segments(dataset) == 7
    segments = [segment for track in iter_test_segments(dataset, N) for segment in track]
    assert [s.index for s in segments] == list(range(7))
    mixture = dataset.load(dataset.tracks("test")[0]).mixture
    np.testing.assert_array_equal(segments[-1].mixture[:3688], mixture[6 * N:])
    assert not segments[-1].mixture[3688:].any()


# --------------------------------------------------------------------------- MUSDB18-HQ and the cache


def test_wav_dataset_is_detected_listed_sorted_and_cached(tiny_corpus, cache_dir):
    dataset = resolve_dataset(tiny_corpus, cache_dir=cache_dir)
    assert dataset.is_wav and dataset.synthetic
    assert [t.name for t in dataset.tracks("test")] == ["synth-test-000", "synth-test-001"]
    assert dataset.describe()["tracks"] == {"train": 2, "test": 2}
    assert fill_cache(dataset, progress=False) == 4
    track = dataset.tracks("test")[0]
    audio = dataset.load(track)
    stereo = {name: sf.read(tiny_corpus / "test" / track.name / f"{name}.wav")[0] for name in ("mixture", "vocals")}
    np.testing.assert_array_equal(audio.mixture, stereo["mixture"].mean(axis=1).astype(np.float32))
    np.testing.assert_allclose(audio.accompaniment, (stereo["mixture"] - stereo["vocals"]).mean(axis=1), atol=1e-7)


def test_changed_source_file_is_decoded_again(hq_copy, cache_dir):
    dataset = resolve_dataset(hq_copy, subsets=("test",), cache_dir=cache_dir)
    track = dataset.tracks("test")[0]
    dataset.load(track)
    assert dataset.is_cached(track)
    vocals = track.files[1]
    os.utime(vocals, ns=(vocals.stat().st_atime_ns, vocals.stat().st_mtime_ns + 10**9))
    assert not dataset.is_cached(track)


def test_default_root_is_the_synthetic_corpus(monkeypatch, capsys):
    monkeypatch.setattr(rlsv.audio.musdb, "make_corpus",
                        functools.partial(make_corpus, n_train=1, n_test=1, duration_s=3.0, progress=False))
    dataset = resolve_dataset()
    assert "no MUSDB18 root given (argument or MUSDB_PATH); using the synthetic corpus" in capsys.readouterr().out
    assert dataset.synthetic and dataset.root == Path(os.environ["RLSV_DATA"]) / "synthetic-default"
    from rlsv.run.data import synthetic_root

    assert dataset.root == synthetic_root("small") == synthetic_root("smoke")  # one default corpus: theirs
    monkeypatch.setattr(rlsv.audio.musdb, "make_corpus", None)  # a finished corpus is used as it is
    assert resolve_dataset(subsets=("test",)).tracks("test") == dataset.tracks("test")


def test_musdb_path_is_used_when_no_root_is_given(monkeypatch, capsys, tiny_corpus):
    monkeypatch.setenv("MUSDB_PATH", str(tiny_corpus))
    assert resolve_dataset(subsets=("test",)).root == tiny_corpus
    assert capsys.readouterr().out == ""


# --------------------------------------------------------------------------- training segmentation


def _ramp_signals(lengths, offset=0.0):
    """Per-track signals whose sample value is its position in the concatenation (+ offset)."""
    edges = np.cumsum([0, *lengths])
    return [np.arange(a, b, dtype=np.float32) + offset for a, b in zip(edges[:-1], edges[1:])]


def test_frames_overlap_by_hop_and_the_tail_is_padded():
    frames = frame_signal(_ramp_signals([30, 12]), segment_length=8, hop=4)
    # 42 samples -> padded to 44 (11 hops) -> (44 - 8) / 4 + 1 = 10 segments
    assert frames.shape == (10, 8)
    np.testing.assert_array_equal(frames[:, 0], np.arange(10) * 4)
    np.testing.assert_array_equal(frames[1:, :4], frames[:-1, 4:])  # segment k+1 starts hop later
    np.testing.assert_array_equal(frames[-1], [36, 37, 38, 39, 40, 41, 0, 0])
    # a whole number of hops still gets one more (published): 40 -> 44; not with the option off
    assert len(frame_signal(_ramp_signals([40]), 8, 4)) == 10
    assert len(frame_signal(_ramp_signals([40]), 8, 4, extra_pad_when_exact=False)) == 9


def test_set_batches_use_independent_permutations_and_drop_the_last_partial_batch():
    segmentation = TrainingSegmentation(segment_length=8, hop=4, batch_size=3)
    vocals, accompaniment = _ramp_signals([30, 12]), _ramp_signals([30, 12], offset=1000.0)
    batches = list(set_batches(vocals, accompaniment, np.random.default_rng(7), segmentation))
    rng = np.random.default_rng(7)
    vocal_order, accompaniment_order = rng.permutation(10), rng.permutation(10)
    assert len(batches) == 3  # 10 segments, batches of 3: the 10th segment is dropped
    for i, batch in enumerate(batches):
        assert batch.vocals.shape == batch.accompaniment.shape == (3, 8) and batch.vocals.dtype == np.float32
        np.testing.assert_array_equal(batch.vocals[:, 0], vocal_order[3 * i:3 * i + 3] * 4)
        np.testing.assert_array_equal(batch.accompaniment[:, 0], accompaniment_order[3 * i:3 * i + 3] * 4 + 1000)
    assert not np.array_equal(vocal_order, accompaniment_order)


@pytest.mark.parametrize("n_samples, n_real", [(40, 10), (36, 9)])
def test_padding_sets_with_silence_gives_the_published_counts(n_samples, n_real):
    # Published: pad the segment count to a multiple of the batch size (3) with all-zero segments,
    # a whole batch of them when it already is one: 10 -> 12, 9 -> 12. Every real segment is used.
    segmentation = TrainingSegmentation(segment_length=8, hop=4, batch_size=3, pad_sets_with_silence=True)
    signals = _ramp_signals([n_samples])
    assert len(frame_signal(signals, 8, 4)) == n_real
    batches = list(set_batches(signals, signals, np.random.default_rng(0), segmentation))
    assert len(batches) == 4
    vocals = np.concatenate([b.vocals for b in batches])
    silent = ~vocals.any(axis=1)
    assert silent.sum() == 12 - n_real
    np.testing.assert_array_equal(np.sort(vocals[~silent, 0]), np.arange(n_real) * 4)


def test_training_batches_take_sorted_tracks_set_by_set(tiny_corpus, cache_dir):
    dataset = resolve_dataset(tiny_corpus, subsets=("train",), cache_dir=cache_dir)
    segmentation = TrainingSegmentation(segment_length=N, hop=HOP, set_size=1, batch_size=4)
    # each 4 s track is its own set: 176400 = 8 hops (+1 published) -> 9 hops -> 8 segments -> 2 batches
    assert count_training_batches(dataset, segmentation) == 4
    batches = list(training_batches(dataset, np.random.default_rng(0), segmentation))
    assert len(batches) == 4
    for track, set_batches_ in zip(dataset.tracks("train"), (batches[:2], batches[2:])):
        padded = np.zeros(9 * HOP, dtype=np.float32)
        padded[:4 * N] = dataset.load(track).accompaniment  # (the vocals open with silent segments)
        segments = [padded[k * HOP:k * HOP + N] for k in range(8)]
        used = [k for batch in set_batches_ for row in batch.accompaniment
                for k, segment in enumerate(segments) if np.array_equal(row, segment)]
        assert sorted(used) == list(range(8))  # each segment of this track exactly once


# --------------------------------------------------------------------------- evaluation segmentation


def _track(vocal_levels, n_samples, segment_length=100):
    """A track whose k-th vocal segment has L2 norm ``vocal_levels[k]`` (constant samples)."""
    vocals = np.zeros(n_samples, dtype=np.float32)
    for k, norm in enumerate(vocal_levels):
        vocals[k * segment_length:(k + 1) * segment_length] = norm / np.sqrt(segment_length)
    accompaniment = np.linspace(-0.5, 0.5, n_samples, dtype=np.float32)
    return TrackAudio("t", accompaniment + vocals, vocals)


def test_evaluation_segments_pad_the_tail_and_flag_silence():
    # segment norms 1.0 (0 dB), 0.05 (-13 dB: silent), 0.2 (-7 dB) on 250 samples -> 3 segments
    segments = track_segments(_track([1.0, 0.05, 0.2], 250), segment_length=100)
    assert len(segments) == 3 and segments.mixture.shape == (3, 100)
    np.testing.assert_array_equal(segments.active, [True, False, True])
    assert not segments.vocals[2, 50:].any() and not segments.mixture[2, 50:].any()
    np.testing.assert_allclose(segments.accompaniment, segments.mixture - segments.vocals, atol=1e-7)
    items = list(segments)
    assert [(s.track, s.index, s.active) for s in items] == [("t", 0, True), ("t", 1, False), ("t", 2, True)]
    assert items[1].mixture.shape == (100,)


def test_exact_multiple_gets_one_extra_all_zero_segment_by_default():
    audio = _track([1.0, 1.0, 1.0], 300)
    published = track_segments(audio, segment_length=100)
    assert len(published) == 4 and not published.mixture[3].any() and not published.active[3]
    assert len(track_segments(audio, segment_length=100, extra_pad_when_exact=False)) == 3


def test_paper_silence_rule_is_an_option():
    # norm 0.5: -3 dB as a norm (published), -6 dB as an energy (paper); threshold -5 dB splits them
    audio = _track([0.5], 100)
    assert track_segments(audio, 100, threshold_db=-5.0, extra_pad_when_exact=False).active[0]
    assert not track_segments(audio, 100, threshold_db=-5.0, rule="paper", extra_pad_when_exact=False).active[0]


# --------------------------------------------------------------------------- errors


def test_missing_root_says_how_to_get_musdb(tmp_path, monkeypatch):
    with pytest.raises(DatasetNotFoundError, match="sigsep.github.io/datasets/musdb.html") as error:
        resolve_dataset(tmp_path / "nowhere")
    assert "MUSDB_PATH" in str(error.value) and "synthetic corpus" in str(error.value)
    monkeypatch.setenv("MUSDB_PATH", str(tmp_path / "gone"))
    with pytest.raises(DatasetNotFoundError, match=r"gone \(from MUSDB_PATH\) does not exist"):
        resolve_dataset()


def test_folder_that_is_not_musdb_shaped_is_refused(tmp_path):
    (tmp_path / "train").mkdir()
    with pytest.raises(DatasetLayoutError, match="test is missing"):
        resolve_dataset(tmp_path)
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "notes.txt").write_text("x")
    with pytest.raises(DatasetLayoutError, match="not a MUSDB18 folder .found train/: no tracks; test/: no tracks"):
        resolve_dataset(tmp_path)


def test_format_must_match_the_layout(tiny_corpus):
    with pytest.raises(DatasetLayoutError, match="no MUSDB18 .stem.mp4 files in .*; they hold .*is_wav=True"):
        resolve_dataset(tiny_corpus, is_wav=False)


def test_track_shorter_than_a_segment_is_named(tiny_corpus):
    with pytest.raises(TrackTooShortError, match="'synth-test-000' .* fewer than one segment"):
        resolve_dataset(tiny_corpus, subsets=("test",), segment_length=5 * N)


def test_wrong_sample_rate_is_refused(tiny_corpus):
    with pytest.raises(DatasetError, match="sampled at 44100 Hz, not 48000 Hz"):
        resolve_dataset(tiny_corpus, subsets=("test",), sample_rate=48000)


@pytest.mark.parametrize("name", ["vocals.wav", "mixture.wav"])
def test_corrupt_wav_is_named(hq_copy, name):
    damaged = hq_copy / "test" / "synth-test-001" / name
    damaged.write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(UnreadableAudioError, match="synth-test-001/" + name) as error:
        resolve_dataset(hq_copy)
    assert error.value.path == damaged
    # a complete synthetic corpus is not rewritten by itself: the message says how to have it rewritten
    assert f"synthetic corpus {hq_copy}" in str(error.value)
    assert "delete that folder (or its rlsv_synth.json) and rerun" in str(error.value)
    assert "rlsv synth" not in str(error.value)


def test_missing_vocals_wav_is_named(hq_copy):
    (hq_copy / "train" / "synth-train-000" / "vocals.wav").unlink()
    with pytest.raises(DatasetLayoutError, match="synth-train-000 has no vocals.wav"):
        resolve_dataset(hq_copy)


def test_corrupt_stem_file_is_named(tmp_path):
    for subset in ("train", "test"):
        (tmp_path / subset).mkdir()
        (tmp_path / subset / "Broken - Song.stem.mp4").write_bytes(b"\x00garbage" * 1000)
    with pytest.raises(UnreadableAudioError, match=r"Broken - Song\.stem\.mp4") as error:
        resolve_dataset(tmp_path)
    assert "restore it from the original download" in str(error.value)


# --------------------------------------------------------------------------- names that are not UTF-8 (issue 20, 11)


def _non_utf8_track(root: Path) -> bytes:
    """Rename train/synth-train-001 to a name holding the byte 0xff (not UTF-8); return the new name."""
    name = b"bad\xff-track"
    try:
        os.rename(os.fsencode(root / "train" / "synth-train-001"), os.fsencode(root / "train") + b"/" + name)
    except OSError as exc:  # a file system that only takes UTF-8 names
        pytest.skip(f"this file system refuses a non-UTF-8 name: {exc}")
    return name


def test_a_track_whose_name_is_not_utf8_is_refused_before_any_work(hq_copy, cache_dir):
    name = _non_utf8_track(hq_copy)
    with pytest.raises(rlsv.audio.musdb.TrackNameError) as error:
        resolve_dataset(hq_copy, cache_dir=cache_dir)
    message = str(error.value)
    assert message.encode("utf-8")  # printable as it is: the name is shown as bytes
    assert repr(name) in message and str(hq_copy / "train") in message and "rename it" in message
    assert not cache_dir.exists()  # nothing decoded


def test_train_and_sweep_end_in_one_line_naming_the_folder(hq_copy, tmp_path, capsys):
    from rlsv.cli import main

    name = _non_utf8_track(hq_copy)
    run = tmp_path / "run"
    assert main(["train", str(run), "--profile", "smoke", "--dataset", str(hq_copy), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rlsv train: error: ") and repr(name) in err
    assert not run.exists()
    runs = tmp_path / "runs"
    assert main(["sweep", "table1", "--profile", "smoke", "--dataset", str(hq_copy), "--runs-root", str(runs),
                 "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("rlsv sweep: error: ") and repr(name) in err
