"""The forward pass of one denoising training step (published procedure, SPEC-NOTES "Training (code)").

Given clean vocals and accompaniment segments:

* ``v = vox - mean(vox)``, ``mix = (vox + acc) - mean(vox + acc)`` (one scalar mean per batch);
* ``A_v = E(v + noise)`` (Gaussian noise, std 1e-4, on the vocal input only), ``x^ = D(A_v)``;
* ``A_m = E(mix)``; ``loss = neg_snr(v, x^) + omega * regulariser(A_m)``.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

from .losses import LossTerms, Objective
from .model import DenoisingAutoencoder

__all__ = ["StepOutput", "remove_batch_mean", "step_forward", "sample_input_noise"]


class StepOutput(NamedTuple):
    """Loss terms plus the intermediate tensors of one step (for inspection and tests)."""

    terms: LossTerms
    a_mixture: Tensor  # (B, C, T)
    reconstruction: Tensor  # (B, N)


def remove_batch_mean(x: Tensor) -> Tensor:
    """Subtract the scalar mean of the whole batch, ``(B, N) -> (B, N)`` (published code, not per example)."""
    return x - x.mean()


def sample_input_noise(shape: torch.Size | tuple[int, ...], std: float, generator: torch.Generator | None = None,
                       device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> Tensor:
    """Gaussian noise ``N(0, std^2)`` of ``shape`` (the corruption of the vocal input)."""
    noise = torch.randn(shape, generator=generator, device=device, dtype=dtype)
    return noise * std


def step_forward(model: DenoisingAutoencoder, objective: Objective, vocals: Tensor, accompaniment: Tensor,
                 noise: Tensor) -> StepOutput:
    """Loss of one step for ``vocals, accompaniment, noise``, each ``(B, N)``."""
    clean = remove_batch_mean(vocals)
    mixture = remove_batch_mean(vocals + accompaniment)
    reconstruction = model.decode(model.encode(clean + noise))
    a_mixture = model.encode(mixture)
    terms = objective(clean, reconstruction, a_mixture)
    return StepOutput(terms, a_mixture, reconstruction)
