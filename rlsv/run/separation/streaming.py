"""A signal of any length through a separator, block by block: vocal estimates by windowed overlap-add.

The signal is cut into overlapping segments of the separator's ``N`` samples (hop ``N / 2``), each segment
is separated on its own, and the estimates are put back together as the Hann-weighted average
(``rlsv.core.separation.overlap_add``). :func:`separate_blocks` does it on a signal that comes in blocks
and gives the vocals out in blocks, holding only the segments in flight (``chunk`` of them): memory
does not depend on the signal's length. :func:`separate_signal` is the same on a whole signal in memory.

With several channels the vocal mask is estimated once, on their mean (the mono down-mix), and applied to
each channel's own representation (``Separator.apply``), so a stereo file keeps its stereo image. Segments
go through the separator in batches of ``batch_size`` counted from the first segment, whatever the
blocks, so the output does not depend on how the signal was cut into blocks.
"""

from __future__ import annotations

from typing import Iterable, Iterator

import numpy as np
import torch
from tqdm.auto import tqdm

from rlsv.audio.files import to_mono
from rlsv.core.separation.overlap_add import OverlapAdd, overlap_add_blocks
from rlsv.run.separation.separator import Separator

__all__ = ["separate_blocks", "separate_signal", "CHUNK_SEGMENTS"]

CHUNK_SEGMENTS = 256
"""Segments cut, separated and merged at a time (rounded to whole batches): about 32 s of audio for
``N = 11025`` at 44.1 kHz, a few tens of MB in flight."""


def _separated(separator: Separator, segments: np.ndarray, mono: bool, batch_size: int,
               bar: tqdm) -> np.ndarray:
    """Vocal estimates of ``segments`` ``(rows, m, N)`` float32, ``(channels, m, N)`` float64: row 0 is where the
    mask is estimated; ``mono``: it is also the one channel, else the mask goes onto rows ``1..``."""
    count = segments.shape[1]
    out = np.zeros((1 if mono else len(segments) - 1, count, segments.shape[2]))
    device = separator.device
    for start in range(0, count, batch_size):
        batch = slice(start, min(count, start + batch_size))
        mask, analysis = separator.mask(torch.from_numpy(segments[0, batch]).to(device))
        if mono:
            out[0, batch] = separator.front_end.synthesise(analysis, mask).double().cpu().numpy()
        else:
            for c in range(len(out)):
                target = torch.from_numpy(segments[1 + c, batch]).to(device)
                out[c, batch] = separator.apply(mask, target).double().cpu().numpy()
        bar.update(batch.stop - batch.start)
    return out


@torch.no_grad()
def separate_blocks(separator: Separator, blocks: Iterable[np.ndarray], batch_size: int = 16,
                    hop: int | None = None, chunk: int = CHUNK_SEGMENTS, total: int | None = None,
                    progress: bool = True) -> Iterator[np.ndarray]:
    """Vocal estimates of a signal that comes in blocks, by windowed overlap-add (module docstring).

    Args:
        separator: the trained separator (its device is used), in evaluation mode here.
        blocks: ``(channels, n)`` blocks of the signal at the separator's rate, any sizes, the same channels.
        batch_size: segments separated together.
        hop: segment hop (None: ``N // 2``).
        chunk: segments held at a time (rounded up to whole batches).
        total: the signal's length if known beforehand (the progress bar's total), else None.
        progress: a tqdm bar counting segments.

    Yields:
        ``(channels, n)`` float64 vocal blocks; together, as long as the signal.
    """
    ola = OverlapAdd(separator.segment_length, hop)
    separator.eval()
    bar = tqdm(total=ola.n_segments(total) if total else None, desc="separate", unit="segment",
               disable=not progress, leave=False)
    mono = True

    def rows(blocks: Iterable[np.ndarray]) -> Iterator[np.ndarray]:
        """float32 ``(1, n)`` for one channel, else the mono down-mix above the channels, ``(1 + channels, n)``."""
        nonlocal mono
        for block in blocks:
            block = np.asarray(block)
            mono = block.shape[0] == 1
            yield (block if mono else np.concatenate([to_mono(block.T)[None], block])).astype(np.float32, copy=False)

    try:
        yield from overlap_add_blocks(ola, rows(blocks), lambda segments: _separated(separator, segments, mono,
                                                                                   batch_size, bar),
                                      batch_size * max(1, -(-chunk // batch_size)))
    finally:
        bar.close()


def separate_signal(separator: Separator, mixture: np.ndarray, batch_size: int = 16, hop: int | None = None,
                    progress: bool = True) -> np.ndarray:
    """The vocal estimate ``(L,)`` float64 of a whole mono signal ``mixture`` ``(L,)`` at the separator's rate
    (:func:`separate_blocks` of one block)."""
    mixture = np.asarray(mixture)
    blocks = separate_blocks(separator, [mixture[None]], batch_size, hop, total=len(mixture), progress=progress)
    return np.concatenate(list(blocks), axis=-1)[0]
