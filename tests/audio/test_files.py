"""A user's audio files: reading, writing, down-mixing, resampling, errors that name the file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlsv.audio.files import AudioFileError, read_audio, read_stem_track, resample, stempeg_excerpt, to_mono, write_wav


def test_wav_round_trip_keeps_samples_rate_and_channels(tmp_path: Path) -> None:
    samples = np.random.default_rng(0).uniform(-1, 1, (1000, 2)).astype(np.float32)
    write_wav(tmp_path / "x.wav", samples, 22050)
    audio = read_audio(tmp_path / "x.wav")
    assert audio.sample_rate == 22050 and audio.channels == 2 and len(audio) == 1000
    np.testing.assert_array_equal(audio.samples, samples)  # 32-bit float wav: exact
    assert not list(tmp_path.glob(".*.tmp"))


def test_to_mono_is_the_channel_mean() -> None:
    x = np.array([[1.0, 3.0], [-2.0, 0.0]], dtype=np.float32)
    np.testing.assert_array_equal(to_mono(x), [2.0, -1.0])


@pytest.mark.parametrize("source, target", [(44100, 22050), (22050, 44100), (48000, 44100)])
def test_resampling_keeps_a_sines_frequency_and_the_duration(source: int, target: int) -> None:
    seconds, hz = 1.0, 440.0
    t = np.arange(int(source * seconds)) / source
    out = resample(np.sin(2 * np.pi * hz * t), source, target)
    assert len(out) == int(np.ceil(len(t) * target / source))
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    assert abs(np.argmax(spectrum) * target / len(out) - hz) <= 1.0
    middle = slice(len(out) // 4, 3 * len(out) // 4)  # away from the filter's edges
    expected = np.sin(2 * np.pi * hz * np.arange(len(out)) / target)
    np.testing.assert_allclose(out[middle], expected[middle], atol=2e-3)


def test_resampling_along_an_axis_and_at_the_same_rate() -> None:
    x = np.random.default_rng(1).standard_normal((2, 300))
    assert resample(x, 16000, 16000) is x
    assert resample(x, 16000, 8000, axis=-1).shape == (2, 150)


def test_missing_empty_and_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nothing.wav"):
        read_audio(tmp_path / "nothing.wav")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 2), dtype=np.float32), 44100)
    with pytest.raises(AudioFileError, match="empty.wav holds no samples"):
        read_audio(tmp_path / "empty.wav")
    (tmp_path / "garbage.wav").write_bytes(b"this is not audio" * 10)
    with pytest.raises(AudioFileError, match="garbage.wav"):
        read_audio(tmp_path / "garbage.wav")


def test_mp4_is_decoded_by_ffmpeg_and_the_excerpt_is_a_musdb_track() -> None:
    audio = read_audio(stempeg_excerpt())  # soundfile cannot, ffmpeg decodes the mixture stream
    assert audio.sample_rate == 44100 and audio.channels == 2 and len(audio) > 5 * 44100
    track = read_stem_track(stempeg_excerpt())
    assert track.name == "The Easton Ellises - Falcon 69" and len(track) == len(audio)
    np.testing.assert_allclose(track.mixture, to_mono(audio.samples), atol=1e-6)
    assert np.abs(track.vocals).max() > 0.01 and np.abs(track.accompaniment).max() > 0.01
