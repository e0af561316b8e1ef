"""A user's own audio files: reading any format and rate, down-mixing, resampling, writing wav -- whole, or
block by block in bounded memory.

* :func:`open_audio` -- an :class:`AudioReader`: a file's rate, channels and samples in blocks
  ``(n, channels)`` float32, through soundfile (wav, flac, ogg, mp3, ...), else ffmpeg (mp4/m4a/aac, and
  the mixture stream of a MUSDB18 ``.stem.mp4``). Missing, unreadable, empty or non-finite files raise an
  error naming the file. :func:`read_audio` reads a whole file the same way.
* :func:`to_mono` -- the mean over channels (as the MUSDB18 tracks are used, ``rlsv.audio.musdb``).
* :func:`resample` -- polyphase resampling (``scipy.signal.resample_poly``, Kaiser-windowed FIR);
  :func:`resample_blocks` the same of a signal that comes in blocks, bit for bit.
* :func:`wav_writer` -- a float32 wav file written block by block; :func:`write_wav` a whole one. Both write
  atomically (the file appears complete, or not at all) and a failed write (a full disk, a read-only
  folder) raises ``rlsv.errors.FileWriteError`` naming the file.
* :func:`read_stem_track` -- the mono mixture and vocals of one MUSDB18 ``.stem.mp4`` file (e.g. the
  excerpt shipped with stempeg), decoded as ``rlsv.audio.musdb`` decodes a dataset's tracks.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import soundfile as sf

from rlsv.atomic import atomic_path
from rlsv.audio.musdb import Track, TrackAudio, decode_track
from rlsv.errors import AudioFileError, ConfigError, FileWriteError, file_error

__all__ = ["AudioFileError", "Audio", "AudioReader", "open_audio", "read_audio", "to_mono", "resample",
           "resample_blocks", "wav_writer", "write_wav", "read_stem_track", "stempeg_excerpt", "BLOCK_FRAMES"]

BLOCK_FRAMES = 1 << 17
"""Frames per block read (about 3 s at 44.1 kHz)."""


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


class AudioReader:
    """An audio file opened for reading block by block (:func:`open_audio`).

    Attributes:
        path: the file.
        sample_rate, channels: its rate in Hz and channel count.
        frames: its length in samples per channel (from the file's header, or ffprobe's estimate for a file
            ffmpeg decodes; the blocks are what counts).
    """

    def __init__(self, path: Path, sample_rate: int, channels: int, frames: int,
                 read: Callable[[int], np.ndarray], close: Callable[[], None]) -> None:
        self.path, self.sample_rate, self.channels, self.frames = path, int(sample_rate), int(channels), int(frames)
        self._read, self._close = read, close

    def blocks(self, frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """The samples in blocks of ``frames`` (the last one shorter), ``(n, channels)`` float32.

        Raises:
            AudioFileError: the file holds no samples, or NaN or infinite ones (the block that holds them).
        """
        total = 0
        while True:
            block = self._read(frames)
            if not len(block):
                break
            if not np.isfinite(block).all():
                raise AudioFileError(f"The audio file {self.path} holds NaN or infinite samples; re-export it.")
            total += len(block)
            yield block
        if total == 0 or self.channels == 0:
            raise AudioFileError(f"The audio file {self.path} holds no samples; give a recording with some sound "
                                 "in it.")

    def close(self) -> None:
        self._close()

    def __enter__(self) -> "AudioReader":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _ffmpeg_reader(path: Path) -> AudioReader:
    """The first audio stream of ``path`` decoded by ffmpeg into float32 PCM, read from its output pipe."""
    import stempeg

    if shutil.which("ffmpeg") is None:
        raise AudioFileError(f"Cannot read the audio file {path}: soundfile does not know its format and ffmpeg, "
                             "which decodes the others, is not installed. Convert it to wav, or install ffmpeg.")
    try:
        info = stempeg.Info(str(path))
        rate, channels, frames = info.sample_rate(0), info.channels(0), info.samples(0)
    except Exception as exc:  # ffprobe's errors come as various types
        raise AudioFileError(f"Cannot read the audio file {path}: neither soundfile nor ffmpeg can decode it "
                             f"({str(exc).strip().splitlines()[-1:] or type(exc).__name__}). "
                             "Check that it is an audio file, or convert it to wav.") from exc
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-map", "0:a:0", "-f", "f32le",
               "-acodec", "pcm_f32le", "pipe:1"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def read(count: int) -> np.ndarray:
        data = process.stdout.read(count * channels * 4)
        if not data and process.wait() != 0:
            reason = process.stderr.read().decode(errors="replace").strip().splitlines()[-1:] or ["no audio decoded"]
            raise AudioFileError(f"Cannot read the audio file {path}: ffmpeg failed ({reason[0]}). Check that it is "
                                 "an audio file, or convert it to wav.")
        return np.frombuffer(data[: len(data) - len(data) % (4 * channels)], dtype="<f4").reshape(-1, channels)

    def close() -> None:
        if process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()
        process.stderr.close()

    return AudioReader(path, rate, channels, frames, read, close)


def open_audio(path: str | os.PathLike) -> AudioReader:
    """The audio file ``path`` opened for reading in blocks (:class:`AudioReader`); use it as a context manager.

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: neither soundfile nor ffmpeg can decode it.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No audio file at {path}.")
    try:
        sound = sf.SoundFile(str(path))
    except (sf.SoundFileError, RuntimeError):
        return _ffmpeg_reader(path)
    return AudioReader(path, sound.samplerate, sound.channels, sound.frames,
                       lambda count: sound.read(count, dtype="float32", always_2d=True), sound.close)


def read_audio(path: str | os.PathLike) -> Audio:
    """The samples and rate of the audio file ``path``, whole.

    Raises:
        FileNotFoundError: no such file.
        AudioFileError: the file cannot be decoded, or holds no samples, or NaN or infinite ones.
    """
    with open_audio(path) as reader:
        return Audio(np.concatenate(list(reader.blocks())), reader.sample_rate)


def to_mono(samples: np.ndarray) -> np.ndarray:
    """Mean over channels, ``(n_samples, channels) -> (n_samples,)`` float32 (summed in float64)."""
    return samples.mean(axis=1, dtype=np.float64).astype(np.float32)


def _ratio(from_rate: int, to_rate: int) -> Fraction:
    if from_rate <= 0 or to_rate <= 0:
        raise ConfigError(f"Sampling rates must be positive, got {from_rate} and {to_rate}.")
    return Fraction(int(to_rate), int(from_rate))


def resample(signal: np.ndarray, from_rate: int, to_rate: int, axis: int = 0) -> np.ndarray:
    """``signal`` resampled from ``from_rate`` to ``to_rate`` Hz along ``axis`` (``scipy.signal.resample_poly``
    with the reduced ratio; ``ceil(n * to_rate / from_rate)`` samples); the signal itself when the rates agree."""
    ratio = _ratio(from_rate, to_rate)
    if from_rate == to_rate:
        return signal
    from scipy.signal import resample_poly

    out = resample_poly(np.asarray(signal, dtype=np.float64), ratio.numerator, ratio.denominator, axis=axis)
    return out.astype(np.asarray(signal).dtype, copy=False)


def resample_blocks(blocks: Iterable[np.ndarray], from_rate: int, to_rate: int) -> Iterator[np.ndarray]:
    """:func:`resample` of a signal that comes in blocks ``(..., n)`` (time last): blocks ``(..., n')`` whose
    concatenation is ``resample`` of the whole signal along its last axis, bit for bit; the blocks
    themselves when the rates agree.

    Each piece of the output is ``resample_poly`` of the input around it: pieces start at a multiple of
    ``down`` input samples (``to_rate / from_rate = up / down``, reduced), so that the output positions of a
    piece are whole numbers, and take ``margin`` input samples on each side, more than the filter's half
    length (``10 max(up, down)`` upsampled samples, ``scipy``'s default), so that every output they give
    out sees the same input samples as in the whole signal. Memory: a block and two margins.
    """
    ratio = _ratio(from_rate, to_rate)
    if from_rate == to_rate:
        yield from blocks
        return
    up, down = ratio.numerator, ratio.denominator
    margin = down * math.ceil((math.ceil(10 * max(up, down) / up) + 1) / down)
    buffer: np.ndarray | None = None
    start = done = 0  # input positions of buffer[0] and of the first sample whose output is not given yet
    for block in blocks:
        buffer = block if buffer is None else np.concatenate([buffer, block], axis=-1)
        end = (start + buffer.shape[-1] - margin) // down * down  # outputs up to here see all their inputs
        if end > done:
            yield _resampled_piece(buffer, start, done, end, up, down, margin, last=False)
            buffer, start = buffer[..., max(0, end - margin) - start:], max(0, end - margin)
            done = end
    if buffer is not None and start + buffer.shape[-1] > done:
        yield _resampled_piece(buffer, start, done, start + buffer.shape[-1], up, down, margin, last=True)


def _resampled_piece(buffer: np.ndarray, start: int, done: int, end: int, up: int, down: int, margin: int,
                     last: bool) -> np.ndarray:
    """The output of the input positions ``[done, end)`` (``done`` a multiple of ``down``) from ``buffer``, which
    holds the input from ``start`` on; ``last``: ``end`` is the end of the signal."""
    from scipy.signal import resample_poly

    low = max(start, done - margin)
    high = min(start + buffer.shape[-1], end + margin)
    piece = resample_poly(np.asarray(buffer[..., low - start:high - start], dtype=np.float64), up, down, axis=-1)
    first = (done - low) * up // down
    return piece[..., first:] if last else piece[..., first:(end - low) * up // down]


def _write_failure(path: Path, error: Exception) -> FileWriteError:
    """The :class:`FileWriteError` naming ``path`` for an ``OSError`` or a soundfile error while writing it."""
    if not isinstance(error, OSError):
        # libsndfile reports a failed system call as "System error" without the reason; the C errno it left
        # (soundfile's cffi handle keeps it) tells which: ENOSPC for a full disk
        code = getattr(getattr(sf, "_ffi", None), "errno", 0) or errno.EIO
        error = OSError(code, os.strerror(code))
    return file_error(path, error)


@contextmanager
def wav_writer(path: str | os.PathLike, sample_rate: int, channels: int) -> Iterator[Callable[[np.ndarray], None]]:
    """A 32-bit float wav file at ``path`` written block by block: yields ``write(block)`` for blocks
    ``(n, channels)``.

    Written atomically: the file appears at ``path`` complete when the ``with`` block ends, and nothing is left
    (no temporary file) when it raises.

    Raises:
        rlsv.errors.FileWriteError: the file cannot be written (no space left on the device, a read-only
            folder, no permission), naming ``path``; nothing half-written is left behind.
    """
    path = Path(path)
    in_body = False
    try:
        with atomic_path(path) as tmp, sf.SoundFile(str(tmp), "w", int(sample_rate), int(channels),
                                                    subtype="FLOAT", format="WAV") as sound:
            def write(block: np.ndarray) -> None:
                try:
                    sound.write(np.asarray(block, dtype=np.float32))
                except (OSError, sf.SoundFileError) as error:
                    raise _write_failure(path, error) from None

            in_body = True
            yield write
            in_body = False
    except (OSError, sf.SoundFileError) as error:  # opening, closing or renaming; the body's own errors pass
        if in_body:
            raise
        raise _write_failure(path, error) from None


def write_wav(path: str | os.PathLike, samples: np.ndarray, sample_rate: int) -> Path:
    """Write ``samples`` (``(n_samples,)`` or ``(n_samples, channels)``) as a 32-bit float wav, atomically
    (:func:`wav_writer`: a failed write raises ``FileWriteError`` naming the file)."""
    samples = np.asarray(samples, dtype=np.float32)
    with wav_writer(path, sample_rate, 1 if samples.ndim == 1 else samples.shape[1]) as write:
        write(samples)
    return Path(path)


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
