"""One denoising training step (published procedure, ``docs/paper_vs_code.md``, "Training").

Given clean vocals and accompaniment segments:

* ``v = vox - mean(vox)``, ``mix = (vox + acc) - mean(vox + acc)`` (one scalar mean per batch);
* ``A_v = E(v + noise)`` (Gaussian noise, std 1e-4, on the vocal input only), ``x^ = D(A_v)``;
* ``A_m = E(mix)``; ``loss = neg_snr(v, x^) + omega * regulariser(A_m)``;
* one Adam update (``make_optimizer``: the published optimiser), ``train_step``.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from typing import Any, NamedTuple

import torch
from torch import Tensor

from rlsv.core.losses import LossTerms, Objective
from rlsv.core.model import DenoisingAutoencoder

__all__ = ["StepOutput", "remove_batch_mean", "step_forward", "sample_input_noise", "make_optimizer", "train_step"]


class StepOutput(NamedTuple):
    """Loss terms plus the intermediate tensors of one step (for inspection and tests)."""

    terms: LossTerms
    a_mixture: Tensor  # (B, C, T)
    reconstruction: Tensor  # (B, N)


def remove_batch_mean(x: Tensor) -> Tensor:
    """Subtract the scalar mean of the whole batch, ``(B, N) -> (B, N)`` (published code, not per example)."""
    return x - x.mean()


def sample_input_noise(shape: torch.Size | tuple[int, ...], std: float, generator: torch.Generator | None = None
                       ) -> Tensor:
    """Gaussian noise ``N(0, std^2)`` of ``shape``, float32 on the CPU (the corruption of the vocal input;
    callers move it to their device, so a CPU ``generator`` gives the same noise everywhere)."""
    noise = torch.randn(shape, generator=generator, device="cpu", dtype=torch.float32)
    return noise * std


def step_forward(model: DenoisingAutoencoder, objective: Objective, vocals: Tensor, accompaniment: Tensor,
                 noise: Tensor, precision: AbstractContextManager | None = None) -> StepOutput:
    """Loss of one step for ``vocals, accompaniment, noise``, each ``(B, N)``.

    ``precision`` (e.g. a ``torch.autocast`` context) wraps the encoder and decoder only; the
    losses are always computed in the model's dtype (float32), the Sinkhorn solve in float64.

    The noisy vocals and the mixture go through the encoder together, as one batch of ``2B``
    segments: the encoder acts on each segment independently, so this equals two calls up to
    float round-off, and its matrix products are twice as tall (faster per segment) and its
    weight gradients one product instead of two.
    """
    clean = remove_batch_mean(vocals)
    mixture = remove_batch_mean(vocals + accompaniment)
    with precision if precision is not None else nullcontext():
        a_vocals, a_mixture = model.encode(torch.cat([clean + noise, mixture])).split(vocals.shape[0])
        reconstruction = model.decode(a_vocals)
    terms = objective(clean, reconstruction.to(clean.dtype), a_mixture.to(clean.dtype))
    return StepOutput(terms, a_mixture, reconstruction)


def make_optimizer(model: torch.nn.Module, learning_rate: float, **adam: Any) -> torch.optim.Adam:
    """The published optimiser: Adam with PyTorch's defaults (betas 0.9/0.999, eps 1e-8, no weight decay);
    ``adam`` overrides any other of ``torch.optim.Adam``'s settings.

    Uses the fused (single-kernel) Adam where this PyTorch has one for the parameters' device: the
    same update rule, about half the time of the per-parameter loop on CPU (one pass over the
    parameters and moments instead of several).
    """
    params = list(model.parameters())
    try:
        return torch.optim.Adam(params, lr=learning_rate, fused=True, **adam)
    except (RuntimeError, TypeError, ValueError):  # older PyTorch or a device without fused Adam
        return torch.optim.Adam(params, lr=learning_rate, **adam)


def train_step(model: DenoisingAutoencoder, optimizer: torch.optim.Optimizer, objective: Objective,
               vocals: torch.Tensor, accompaniment: torch.Tensor, noise: torch.Tensor,
               precision: Any = None) -> StepOutput:
    """One training step on ``(B, N)`` vocals, accompaniment and input noise: loss, backward, Adam update."""
    out = step_forward(model, objective, vocals, accompaniment, noise, precision)
    optimizer.zero_grad(set_to_none=True)
    out.terms.loss.backward()
    optimizer.step()
    return out
