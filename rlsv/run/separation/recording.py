"""Separating a recording: the vocals and the accompaniment of an audio file of any length, rate and channels,
in memory that does not depend on its length.

``separate_file(MIX, run_dir)`` (``rlsv separate MIX --run RUN``) reads, separates and writes block by block:

1. read the file in blocks (``rlsv.audio.files.open_audio``: wav, flac, ogg, mp3, mp4/m4a, a stem file's
   mixture);
2. resample every channel to the model's rate when the file has another (``resample_blocks``; one line
   says so);
3. estimate the vocal mask on the mono down-mix (one line says so for a multichannel file), segment by
   segment: overlapping segments of the model's ``N`` samples (hop ``N / 2``), windowed overlap-add with a
   periodic Hann window (``rlsv.run.separation.streaming``);
4. apply that mask to each channel's own representation (``E(x_ch)``, or the channel's STFT with its own
   phase) and resynthesise it, so a stereo file keeps its stereo image; overlap-add as in 3;
5. resample the vocals back to the file's rate and cut them to its length;
6. ``accompaniment = mixture - vocals``, channel by channel, at the file's rate: the two stems add up to
   the input exactly (mixture consistency); every error of the vocal estimate is in the accompaniment;
7. write ``vocals.wav`` and ``accompaniment.wav`` (32-bit float, the input's rate, length and channels),
   atomically (``rlsv.audio.files.wav_writer``): both appear complete at the end, and a failed write (a full
   disk) leaves neither, with one line naming the file.

The stems are the same, bit for bit, as those of the whole file separated in one piece: the blocks change
only where the work is cut, not what is computed (``tests/run/separation/test_recording.py``). Memory
holds a few blocks and the segments in flight (``rlsv.run.separation.streaming.CHUNK_SEGMENTS``). An output
path that is the input file itself is refused before anything is read: separating never overwrites the
recording; a stem file that already exists in the output folder is replaced only when asked (``overwrite``,
``--overwrite``), so a file of the user's that happens to be called ``vocals.wav`` is never lost either.
"""

from __future__ import annotations

import os
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from rlsv.audio.files import BLOCK_FRAMES, open_audio, resample_blocks, wav_writer
from rlsv.errors import ConfigError
from rlsv.run.device import resolve_device
from rlsv.run.separation.files import separator_dir
from rlsv.run.separation.separator import load_separator
from rlsv.run.separation.streaming import CHUNK_SEGMENTS, separate_blocks

__all__ = ["SeparationOutput", "separate_file", "default_output_dir", "stem_paths", "STEMS"]

STEMS = ("vocals", "accompaniment")


@dataclass
class SeparationOutput:
    """What :func:`separate_file` wrote.

    Attributes:
        sample_rate, frames, channels: the input's (and both stems') rate, length and channel count.
        paths: ``{"vocals": path, "accompaniment": path}`` of the written files.
        messages: what was done to the input (resampling, down-mixing).
    """

    sample_rate: int
    frames: int
    channels: int
    paths: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.frames / self.sample_rate


def default_output_dir(mix: str | os.PathLike) -> Path:
    """``separated/<name of MIX>/`` in the working folder (``song.stem.mp4`` -> ``separated/song``)."""
    name = Path(mix).name
    stem = name[: -len(".stem.mp4")] if name.endswith(".stem.mp4") else Path(name).stem
    return Path("separated") / stem


def stem_paths(mix: str | os.PathLike, out_dir: str | os.PathLike | None = None, overwrite: bool = False
               ) -> dict[str, Path]:
    """``{"vocals": OUT/vocals.wav, "accompaniment": OUT/accompaniment.wav}`` (``out_dir`` None:
    :func:`default_output_dir`); refuses a path that is the input file ``mix`` itself, and one that exists
    unless ``overwrite``.

    Raises:
        rlsv.errors.ConfigError: a stem would be written over ``mix`` (the recording would be lost), or over an
            existing file without ``overwrite``.
    """
    out = Path(out_dir) if out_dir is not None else default_output_dir(mix)
    paths = {stem: out / f"{stem}.wav" for stem in STEMS}
    mix = Path(mix)
    for path in paths.values():
        same = path.resolve() == mix.resolve() or (path.exists() and mix.exists() and os.path.samefile(path, mix))
        if same:
            raise ConfigError(f"The output {path} is the input file {mix}: separating would overwrite the recording. "
                              "Choose another output folder (--out).")
    existing = [str(path) for path in paths.values() if path.exists()]
    if existing and not overwrite:
        one = len(existing) == 1
        raise ConfigError(f"{', '.join(existing)} already exist{'s' if one else ''}: separating would replace "
                          f"{'it' if one else 'them'}. Pass --overwrite to replace the stems there, or choose another "
                          "output folder (--out).")
    return paths


class _Pending:
    """The input blocks ``(n, channels)`` whose vocals are not written yet, first in, first out."""

    def __init__(self) -> None:
        self._blocks: deque[np.ndarray] = deque()

    def append(self, block: np.ndarray) -> None:
        self._blocks.append(block)

    def pop(self, count: int | None = None) -> np.ndarray:
        """Up to ``count`` frames (None: all), ``(m, channels)``; fewer only when fewer are pending."""
        taken, left = [], count
        while self._blocks and (left is None or left > 0):
            block = self._blocks.popleft()
            if left is not None and len(block) > left:
                block, rest = block[:left], block[left:]
                self._blocks.appendleft(rest)
            taken.append(block)
            left = None if left is None else left - len(block)
        return np.concatenate(taken) if taken else np.zeros((0, 0), dtype=np.float32)


def _stems(mixture: np.ndarray, vocals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(n, channels)`` float32 vocals and ``mixture - vocals`` from the input ``mixture`` ``(n, channels)``
    and the vocal estimate ``(channels, >= n)`` float64 at its rate (cut to ``n``)."""
    vocals = vocals[:, : len(mixture)].T.astype(np.float32)
    return vocals, (mixture.astype(np.float64) - vocals).astype(np.float32)


def separate_file(mix: str | os.PathLike, run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  seed: int = 218, front_end: str | None = None, device: str = "auto", batch_size: int = 16,
                  progress: bool = True, log: Callable[[str], None] | None = print, block_frames: int = BLOCK_FRAMES,
                  chunk: int = CHUNK_SEGMENTS, overwrite: bool = False) -> SeparationOutput:
    """Separate the recording ``mix`` with the separator of ``run_dir`` and write its two stems (module docstring).

    Args:
        mix: the audio file.
        run_dir: the run folder holding the separator (``<run>/separator-s<seed>/``, ``rlsv.run.separation.files``).
        out_dir: where ``vocals.wav`` and ``accompaniment.wav`` go (default :func:`default_output_dir`).
        seed, front_end: which of the run's separators (None: the run's own front end).
        device: ``"auto"`` (the GPU when present), ``"cpu"``, ``"cuda"``.
        batch_size: segments separated together.
        progress: a tqdm bar counting segments.
        log: where the one-line messages go (None: nowhere; they are also returned).
        block_frames: frames read at a time; chunk: segments separated at a time (what memory holds; the
            stems do not depend on them).
        overwrite: replace stems already in ``out_dir`` (else refused, naming them).

    Raises:
        FileNotFoundError: no run folder, no trained separator (``rlsv train-separator RUN`` trains one), no file.
        rlsv.errors.ConfigError: an output path is the input file, or exists without ``overwrite``.
        rlsv.errors.AudioFileError: the file cannot be decoded, is empty, or holds NaN or infinite samples.
        rlsv.errors.FileWriteError: a stem cannot be written (a full disk...); neither stem is left behind.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder at {run_dir}.")
    paths = stem_paths(mix, out_dir, overwrite)
    separator = load_separator(separator_dir(run_dir, front_end, seed), resolve_device(device))
    rate, name = separator.sample_rate, Path(mix).name
    with open_audio(mix) as reader:
        file_rate, channels = reader.sample_rate, reader.channels
        messages = []
        if file_rate != rate:
            messages.append(f"rlsv: resampling {name} from {file_rate} Hz to the model's {rate} Hz; "
                            f"the stems are written at {file_rate} Hz")
        if channels > 1:
            messages.append(f"rlsv: down-mixing the {channels} channels of {name} to mono to estimate the vocal "
                            "mask; the mask is applied to each channel")
        for message in messages:
            if log is not None:
                log(message)
        pending = _Pending()

        def inputs() -> Iterator[np.ndarray]:
            """``(channels, n)`` float64 blocks of the file, each kept until its stems are written."""
            for block in reader.blocks(block_frames):
                pending.append(block)
                yield block.T.astype(np.float64)

        vocals = separate_blocks(separator, resample_blocks(inputs(), file_rate, rate), batch_size, chunk=chunk,
                                 total=-(-reader.frames * rate // file_rate), progress=progress)
        frames = 0
        with wav_writer(paths["vocals"], file_rate, channels) as write_vocals, \
                wav_writer(paths["accompaniment"], file_rate, channels) as write_accompaniment:
            for block in resample_blocks(vocals, rate, file_rate):
                mixture = pending.pop(block.shape[-1])  # nothing once past the file's end: the vocals are cut there
                if len(mixture):
                    vocals_block, accompaniment_block = _stems(mixture, block)
                    write_vocals(vocals_block)
                    write_accompaniment(accompaniment_block)
                    frames += len(mixture)
            rest = pending.pop()  # vocals shorter than the file (never with resample_poly's lengths): zeros
            if len(rest):
                vocals_rest, accompaniment_rest = _stems(rest, np.zeros((channels, len(rest))))
                write_vocals(vocals_rest)
                write_accompaniment(accompaniment_rest)
                frames += len(rest)
    return SeparationOutput(file_rate, frames, channels, paths, messages)
