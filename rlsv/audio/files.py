"""A user's own audio files: reading any format and rate, down-mixing, resampling, writing wav.

* :func:`read_audio` -- a file's samples ``(n_samples, channels)`` float32 and rate: soundfile (wav,
  flac, ogg, mp3, ...), else ffmpeg through stempeg (mp4/m4a/aac, and the mixture stream of a
  MUSDB18 ``.stem.mp4``). Missing, unreadable or empty files raise an error naming the file.
* :func:`to_mono` -- the mean over channels (as the MUSDB18 tracks are used, ``rlsv.audio.musdb``).
* :func:`resample` -- polyphase resampling (``scipy.signal.resample_poly``, Kaiser-windowed FIR).
* :func:`write_wav` -- a float32 wav file, written atomically.
* :func:`read_stem_track` -- the mono mixture and vocals of one MUSDB18 ``.stem.mp4`` file (e.g. the
  excerpt shipped with stempeg), decoded as ``rlsv.audio.musdb`` decodes a dataset's tracks.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import soundfile as sf

from rlsv.atomic import atomic_path
from rlsv.audio.musdb import Track, TrackAudio, decode_track
from rlsv.errors import AudioFileError, ConfigError

__all__ = ["AudioFileError", "Audio", "read_audio", "to_mono", "resample", "write_wav", "read_stem_track",
           "stempeg_excerpt"]


@dataclass(frozen=True)
class Audio:
    """A file's samples ``(n_samples, channels)`` float32 and its sampling rate in Hz."""

    samples: np.ndarray
    sample_rate: int

    @property
    def channels(self) -> int:
        return self.samples.shape[1]

    def __len__(self) -> int:
        return self.samples.shape[0]


def _read_with_ffmpeg(path: Path) -> Audio:
    """Decode the first audio stream of ``path`` with ffmpeg (stempeg)."""
    import stempeg

    if shutil.which("ffmpeg") is None:
        raise AudioFileError(f"Cannot read the audio file {path}: soundfile does not know its format and ffmpeg, "
                             "which decodes the others, is not installed. Convert it to wav, or install ffmpeg.")
    try:
        samples, rate = stempeg.read_stems(str(path), stem_id=0, dtype=np.float32)
    except Exception as exc:  # stempeg raises ffmpeg's errors as various types
        raise AudioFileError(f"Cannot read the audio file {path}: neither soundfile nor ffmpeg can decode it "
                             f"({str(exc).strip().splitlines()[-1:] or type(exc).__name__}). "
                             "Check that it is an audio file, or convert it to wav.") from exc
    samples = np.asarray(samples, dtype=np.float32)
    return Audio(samples.reshape(len(samples), -1), int(rate))


def read_audio(path: str | os.PathLike) -> Audio:
    """The samples and rate of the audio file ``path``.

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: the file cannot be decoded, or holds no samples.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No audio file at {path}.")
    try:
        samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
        audio = Audio(samples, int(rate))
    except (sf.SoundFileError, RuntimeError):
        audio = _read_with_ffmpeg(path)
    if len(audio) == 0 or audio.channels == 0:
        raise AudioFileError(f"The audio file {path} holds no samples; give a recording with some sound in it.")
    if not np.isfinite(audio.samples).all():
        raise AudioFileError(f"The audio file {path} holds NaN or infinite samples; re-export it.")
    return audio


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Mean over channels, ``(n_samples, channels) -> (n_samples,)`` float32 (summed in float64)."""
    return samples.mean(axis=1, dtype=np.float64).astype(np.float32)


def resample(signal: np.ndarray, from_rate: int, to_rate: int, axis: int = 0) -> np.ndarray:
    """``signal`` resampled from ``from_rate`` to ``to_rate`` Hz along ``axis`` (``scipy.signal.resample_poly``
    with the reduced ratio; ``ceil(n * to_rate / from_rate)`` samples); the signal itself when the rates agree."""
    if from_rate <= 0 or to_rate <= 0:
        raise ConfigError(f"Sampling rates must be positive, got {from_rate} and {to_rate}.")
    if from_rate == to_rate:
        return signal
    from scipy.signal import resample_poly

    ratio = Fraction(int(to_rate), int(from_rate))
    out = resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=axis)
    return out.astype(np.asarray(signal).dtype, copy=False)


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write ``samples`` (``(n_samples,)`` or ``(n_samples, channels)``) as a 32-bit float wav, atomically."""
    path = Path(path)
    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.asarray(samples, dtype=np.float32), int(sample_rate), subtype="FLOAT", format="WAV")
    return path


def read_stem_track(path: str | os.PathLike, subset: str = "test") -> TrackAudio:
    """The mono mixture and vocals of a MUSDB18 ``.stem.mp4`` (streams 0 and 4, ``rlsv.audio.musdb``).

    Raises:
        FileNotFoundError: no such file; rlsv.audio.musdb.DatasetError: not a decodable stem file.
    """
    import stempeg

    from rlsv.audio.musdb import DatasetLayoutError, UnreadableAudioError

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No stem file at {path}.")
    try:
        info = stempeg.Info(str(path))
    except Exception as exc:
        raise UnreadableAudioError(path, "ffprobe cannot read it") from exc
    streams = (0, 4)
    if info.nb_audio_streams <= max(streams):
        raise DatasetLayoutError(f"{path} has {info.nb_audio_streams} audio streams; a MUSDB18 stem file has 5 "
                                 "(mixture, drums, bass, other, vocals).")
    name = path.name.removesuffix(".stem.mp4")
    track = Track(name, subset, (path,), info.samples(0), info.sample_rate(0),
                  tuple(info.channels(s) for s in streams), streams)
    signals = decode_track(track)
    return TrackAudio(name, signals["mixture"], signals["vocals"])


def stempeg_excerpt() -> Path:
    """The MUSDB18 excerpt shipped in the stempeg wheel, ``The Easton Ellises - Falcon 69.stem.mp4``
    (about 6 s, 44.1 kHz stereo, 5 streams)."""
    import stempeg

    path = Path(stempeg.__file__).parent / "data" / "The Easton Ellises - Falcon 69.stem.mp4"
    if not path.is_file():
        raise FileNotFoundError(f"The stempeg excerpt is missing ({path}); reinstall stempeg.")
    return path
