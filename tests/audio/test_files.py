"""A user's audio files: reading, writing, down-mixing, resampling (whole and block by block), errors that name the
file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rlsv.audio.files import (
    AudioFileError,
    open_audio,
    read_audio,
    read_stem_track,
    resample,
    resample_blocks,
    stempeg_excerpt,
    to_mono,
    wav_writer,
    write_wav,
)
from rlsv.errors import FileWriteError


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


@pytest.mark.parametrize("source, target", [(44100, 44100), (22050, 44100), (48000, 44100), (44100, 22050),
                                            (8000, 44100)])
def test_resampling_block_by_block_is_the_whole_signal_resampled_bit_for_bit(source: int, target: int) -> None:
    rng = np.random.default_rng(source + target)
    x = rng.standard_normal((2, 9001))
    cuts = np.cumsum(rng.integers(1, 700, size=100))
    blocks = np.split(x, cuts[cuts < x.shape[-1]], axis=-1)
    out = np.concatenate(list(resample_blocks(iter(blocks), source, target)), axis=-1)
    np.testing.assert_array_equal(out, resample(x, source, target, axis=-1))
    single = np.concatenate(list(resample_blocks([x[:, :5]], source, target)), axis=-1)  # shorter than the filter
    np.testing.assert_array_equal(single, resample(x[:, :5], source, target, axis=-1))


def test_reading_in_blocks_gives_the_file_and_checks_every_block(tmp_path: Path) -> None:
    samples = np.random.default_rng(2).uniform(-1, 1, (10_000, 2)).astype(np.float32)
    sf.write(tmp_path / "x.wav", samples, 8000, subtype="FLOAT")
    with open_audio(tmp_path / "x.wav") as reader:
        assert (reader.sample_rate, reader.channels, reader.frames) == (8000, 2, 10_000)
        blocks = list(reader.blocks(3000))
    assert [len(b) for b in blocks] == [3000, 3000, 3000, 1000]
    np.testing.assert_array_equal(np.concatenate(blocks), samples)
    samples[9500, 1] = np.nan
    sf.write(tmp_path / "nan.wav", samples, 8000, subtype="FLOAT")
    with open_audio(tmp_path / "nan.wav") as reader, pytest.raises(AudioFileError, match="nan.wav holds NaN"):
        list(reader.blocks(3000))
    with open_audio(stempeg_excerpt()) as reader:  # ffmpeg's output pipe, in blocks
        assert reader.channels == 2 and reader.sample_rate == 44100
        assert sum(len(b) for b in reader.blocks(50_000)) == len(read_audio(stempeg_excerpt()))


def test_a_wav_written_in_blocks_appears_whole_or_not_at_all(tmp_path: Path) -> None:
    samples = np.random.default_rng(3).uniform(-1, 1, (5000, 2)).astype(np.float32)
    with wav_writer(tmp_path / "out.wav", 16000, 2) as write:
        for block in np.array_split(samples, 7):
            write(block)
            assert not (tmp_path / "out.wav").exists()  # a temporary file until the end
    np.testing.assert_array_equal(read_audio(tmp_path / "out.wav").samples, samples)
    with pytest.raises(RuntimeError, match="stop"), wav_writer(tmp_path / "broken.wav", 16000, 2) as write:
        write(samples)
        raise RuntimeError("stop")  # the caller's own error passes through, and nothing is left
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.wav"]


def test_an_unwritable_folder_is_named(tmp_path: Path) -> None:
    folder = tmp_path / "taken"
    folder.write_text("a file, not a folder")
    with pytest.raises(FileWriteError, match=r"cannot write .*taken/x\.wav: .*choose another folder"):
        write_wav(folder / "x.wav", np.zeros(10, dtype=np.float32), 8000)
