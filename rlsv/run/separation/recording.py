"""Separating a recording: the vocals and the accompaniment of an audio file of any length, rate and channels.

``separate_file(MIX, run_dir)`` (``rlsv separate MIX --run RUN``):

1. read the file (``rlsv.audio.files.read_audio``: wav, flac, ogg, mp3, mp4/m4a, a stem file's mixture);
2. resample every channel to the model's rate when the file has another (one line says so);
3. estimate the vocal mask on the mono down-mix (one line says so for a multichannel file), segment by
   segment: overlapping segments of the model's ``N`` samples (hop ``N / 2``), windowed overlap-add with a
   periodic Hann window (``rlsv.core.separation.overlap_add``);
4. apply that mask to each channel's own representation (``E(x_ch)``, or the channel's STFT with its own
   phase) and resynthesise it, so a stereo file keeps its stereo image; overlap-add as in 3;
5. resample the vocals back to the file's rate and cut them to its length;
6. ``accompaniment = mixture - vocals``, channel by channel, at the file's rate: the two stems add up to
   the input exactly (mixture consistency); every error of the vocal estimate is in the accompaniment;
7. write ``vocals.wav`` and ``accompaniment.wav`` (32-bit float, the input's rate, length and channels).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from tqdm.auto import tqdm

from rlsv.audio.files import read_audio, resample, to_mono, write_wav
from rlsv.core.separation.overlap_add import OverlapAdd
from rlsv.run.device import resolve_device
from rlsv.run.separation.files import separator_dir
from rlsv.run.separation.separator import Separator, load_separator

__all__ = ["SeparationOutput", "separate_signal", "separate_file", "default_output_dir", "STEMS"]

STEMS = ("vocals", "accompaniment")


@dataclass
class SeparationOutput:
    """What :func:`separate_file` made.

    Attributes:
        vocals, accompaniment: ``(n_samples, channels)`` float32 at the input's rate.
        sample_rate: the input's rate.
        paths: ``{"vocals": path, "accompaniment": path}`` of the written files.
        messages: what was done to the input (resampling, down-mixing).
    """

    vocals: np.ndarray
    accompaniment: np.ndarray
    sample_rate: int
    paths: dict[str, Path] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)


def _batches(k: int, batch_size: int) -> list[slice]:
    return [slice(i, min(k, i + batch_size)) for i in range(0, k, batch_size)]


@torch.no_grad()
def separate_signal(separator: Separator, mixture: np.ndarray, channels: np.ndarray | None = None,
                    batch_size: int = 16, hop: int | None = None, progress: bool = True) -> np.ndarray:
    """Vocal estimate of a whole signal at the separator's rate, by windowed overlap-add (module docstring).

    Args:
        separator: the trained separator (its device is used).
        mixture: ``(L,)`` the mono signal the mask is estimated on.
        channels: ``(ch, L)`` signals the mask is applied to (None: ``mixture`` itself).
        batch_size: segments processed together.
        hop: segment hop (None: ``N // 2``).

    Returns:
        ``(L,)`` float64 when ``channels`` is None, else ``(ch, L)``.
    """
    ola = OverlapAdd(separator.segment_length, hop)
    length = len(mixture)
    mix_segments = ola.split(np.asarray(mixture, dtype=np.float32))  # (K, N)
    targets = None if channels is None else ola.split(np.asarray(channels, dtype=np.float32))  # (ch, K, N)
    out = np.zeros((1 if channels is None else len(channels),) + mix_segments.shape)
    separator.estimator.eval()
    device = separator.device
    bar = tqdm(total=len(mix_segments), desc="separate", unit="segment", disable=not progress, leave=False)
    for batch in _batches(len(mix_segments), batch_size):
        mask, analysis = separator.mask(torch.from_numpy(mix_segments[batch]).to(device))
        if targets is None:
            out[0, batch] = separator.front_end.synthesise(analysis, mask).double().cpu().numpy()
        else:
            for c in range(len(targets)):
                out[c, batch] = separator.apply(mask, torch.from_numpy(targets[c, batch]).to(device)).double().cpu().numpy()
        bar.update(batch.stop - batch.start)
    bar.close()
    merged = ola.merge(out, length)
    return merged[0] if channels is None else merged


def default_output_dir(mix: str | os.PathLike) -> Path:
    """``separated/<name of MIX>/`` in the working folder (``song.stem.mp4`` -> ``separated/song``)."""
    name = Path(mix).name
    stem = name[: -len(".stem.mp4")] if name.endswith(".stem.mp4") else Path(name).stem
    return Path("separated") / stem


def _fit_length(signal: np.ndarray, length: int) -> np.ndarray:
    """``(..., n)`` cut or zero-padded to ``(..., length)``."""
    if signal.shape[-1] >= length:
        return signal[..., :length]
    return np.concatenate([signal, np.zeros(signal.shape[:-1] + (length - signal.shape[-1],))], axis=-1)


def separate_file(mix: str | os.PathLike, run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                  seed: int = 218, front_end: str | None = None, device: str = "auto", batch_size: int = 16,
                  progress: bool = True, log: Callable[[str], None] | None = print) -> SeparationOutput:
    """Separate the recording ``mix`` with the separator of ``run_dir`` and write its two stems (module docstring).

    Args:
        mix: the audio file.
        run_dir: the run folder holding the separator (``<run>/separator-s<seed>/``, ``rlsv.run.separation.files``).
        out_dir: where ``vocals.wav`` and ``accompaniment.wav`` go (default :func:`default_output_dir`).
        seed, front_end: which of the run's separators (None: the run's own front end).
        device: ``"auto"`` (the GPU when present), ``"cpu"``, ``"cuda"``.
        log: where the one-line messages go (None: nowhere; they are also returned).

    Raises:
        FileNotFoundError: no run folder, no trained separator (``rlsv train-separator RUN`` trains one), no file.
        rlsv.audio.files.AudioFileError: the file cannot be decoded or is empty.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder at {run_dir}.")
    separator = load_separator(separator_dir(run_dir, front_end, seed), resolve_device(device))
    audio = read_audio(mix)
    rate, name = separator.sample_rate, Path(mix).name
    messages = []
    if audio.sample_rate != rate:
        messages.append(f"rlsv: resampling {name} from {audio.sample_rate} Hz to the model's {rate} Hz; "
                        f"the stems are written at {audio.sample_rate} Hz")
    if audio.channels > 1:
        messages.append(f"rlsv: down-mixing the {audio.channels} channels of {name} to mono to estimate the vocal "
                        "mask; the mask is applied to each channel")
    for message in messages:
        if log is not None:
            log(message)
    signals = resample(audio.samples.T.astype(np.float64), audio.sample_rate, rate, axis=-1)  # (ch, n')
    mono = to_mono(signals.T)
    vocals = separate_signal(separator, mono, signals if audio.channels > 1 else None, batch_size,
                             progress=progress)
    vocals = _fit_length(resample(vocals.reshape(-1, vocals.shape[-1]), rate, audio.sample_rate, axis=-1), len(audio))
    vocals = vocals.T.astype(np.float32)  # (n, ch)
    accompaniment = (audio.samples.astype(np.float64) - vocals).astype(np.float32)
    out_dir = Path(out_dir) if out_dir is not None else default_output_dir(mix)
    paths = {stem: write_wav(out_dir / f"{stem}.wav", signal, audio.sample_rate)
             for stem, signal in zip(STEMS, (vocals, accompaniment))}
    return SeparationOutput(vocals, accompaniment, audio.sample_rate, paths, messages)
