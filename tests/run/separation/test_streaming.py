"""Separating block by block: the memory held does not grow with the signal's length."""

from __future__ import annotations

import tracemalloc
from typing import Iterator

import numpy as np
import torch

from rlsv.core.separation.front_ends import StftFrontEnd
from rlsv.core.separation.mask_estimator import EstimatorConfig, MaskEstimator
from rlsv.run.separation.separator import Separator
from rlsv.run.separation.streaming import separate_blocks


def _peak_bytes(blocks: int) -> int:
    """numpy's peak traced allocation while ``blocks`` stereo blocks of 3,000 samples are separated and dropped."""
    torch.manual_seed(0)
    separator = Separator(StftFrontEnd(1024, n_fft=256, hop=64), MaskEstimator(EstimatorConfig(129, 8)), 8000)
    rng = np.random.default_rng(0)

    def signal() -> Iterator[np.ndarray]:
        for _ in range(blocks):
            yield rng.standard_normal((2, 3000))

    tracemalloc.start()
    try:
        samples = sum(out.shape[-1] for out in separate_blocks(separator, signal(), chunk=32, progress=False))
        assert samples == 3000 * blocks
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_does_not_grow_with_the_length() -> None:
    short, long = _peak_bytes(20), _peak_bytes(120)  # 6 times the signal: 4 chunks of segments, then 23
    whole_signal = 2 * 3000 * 120 * 8  # what holding the long signal once in float64 would take
    assert long < 1.1 * short and long < whole_signal / 2
