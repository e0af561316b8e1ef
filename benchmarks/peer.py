"""The benchmark's peers: the published code's training step written in ordinary PyTorch layers, and a
user's own training loop on rlsv's public API.

``PublishedAutoencoder`` has the authors' layers (``rl_singing_voice``): an ``nn.Conv1d`` strided
encoder (``conv_a1``), an ``nn.Conv1d`` dilated context convolution (``conv_a2``), residual and ReLU,
and the cosine-modulated decoder applied with ``F.conv_transpose1d``; same zero padding and
cropping as rlsv (``ModelConfig.padding``). :func:`published_step` is their step: vocals and mixture
encoded separately, neg-SNR + omega * regulariser, plain ``torch.optim.Adam``. Its Sinkhorn
regulariser is either rlsv's (to compare the layers alone) or the published one: 1000 Sinkhorn
iterations differentiated through by autograd (:func:`published_sinkhorn`), with the time
normalisation and batch-averaged L1 cost of ``docs/paper_vs_code.md`` (rows 8-13).

``tests/test_benchmarks.py`` checks that these peers compute the same losses and gradients as rlsv,
so that the benchmark compares like with like.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rlsv.core.losses import Objective, neg_snr, sinkhorn_distance, total_variation
from rlsv.core.model import DenoisingAutoencoder, ModelConfig

__all__ = ["PublishedAutoencoder", "published_sinkhorn", "published_step", "user_loop_step"]


class PublishedAutoencoder(nn.Module):
    """The published layers, with the weights of an rlsv model (``from_rlsv``)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c, l, lp, d = config.channels, config.kernel_size, config.context_kernel, config.dilation
        self.conv_a1 = nn.Conv1d(1, c, l, stride=config.stride, bias=False)
        self.conv_a2 = nn.Conv1d(c, c, lp, dilation=d, padding=d * (lp - 1) // 2, bias=False)
        self.freq_mat = nn.Parameter(torch.empty(c))
        self.phi = nn.Parameter(torch.empty(c))
        self.norm_factor = nn.Parameter(torch.empty(c, l))
        self.register_buffer("two_pi_l", (2.0 * torch.pi * torch.arange(l, dtype=torch.float64)).float(),
                             persistent=False)

    @classmethod
    def from_rlsv(cls, model: DenoisingAutoencoder) -> "PublishedAutoencoder":
        peer = cls(model.config).to(model.encoder.analysis_kernels.device)
        with torch.no_grad():
            peer.conv_a1.weight.copy_(model.encoder.analysis_kernels)
            peer.conv_a2.weight.copy_(model.encoder.context_kernels)
            peer.freq_mat.copy_(model.decoder.carriers)
            peer.phi.copy_(model.decoder.phases)
            peer.norm_factor.copy_(model.decoder.envelopes)
        return peer

    def encode(self, x: Tensor) -> Tensor:
        """``(B, N) -> (B, C, T)``."""
        left, right = self.config.padding
        h = self.conv_a1(F.pad(x, (left, right)).unsqueeze(1))
        return F.relu(self.conv_a2(h) + h)

    def decode(self, a: Tensor) -> Tensor:
        """``(B, C, T) -> (B, N)``."""
        kernels = torch.cos(self.two_pi_l * self.freq_mat.pow(2).unsqueeze(1) + self.phi.unsqueeze(1))
        full = F.conv_transpose1d(a, (kernels * self.norm_factor).unsqueeze(1), stride=self.config.stride)[:, 0]
        left, _ = self.config.padding
        return full[:, left:left + self.config.segment_length]


def published_sinkhorn(a: Tensor, lam: float, iterations: int = 1000) -> Tensor:
    """The published L_SK: ``(B, C, T) -> ()``, ``iterations`` Sinkhorn updates unrolled by autograd."""
    shifted = a + 1.0 / a.shape[1]
    normalised = shifted / shifted.sum(dim=-1, keepdim=True)
    cost = torch.cdist(normalised.transpose(1, 2), normalised.transpose(1, 2), p=1).mean(0)  # (T, T)
    t = cost.shape[0]
    kernel = torch.exp(-cost / lam)
    marginal = torch.full((t,), 1.0 / t, dtype=cost.dtype, device=cost.device)
    u = marginal
    for _ in range(iterations):
        v = marginal / (kernel.T @ u)
        u = marginal / (kernel @ v)
    plan = u.unsqueeze(1) * kernel * v.unsqueeze(0)
    return (plan * cost).sum()


def published_step(model: PublishedAutoencoder, optimizer: torch.optim.Optimizer, objective: Objective,
                   vocals: Tensor, accompaniment: Tensor, noise: Tensor, sinkhorn: str = "rlsv") -> Tensor:
    """One step of the published procedure in these layers; ``sinkhorn``: ``"rlsv"`` (rlsv's regulariser,
    to compare the layers) or ``"published"`` (:func:`published_sinkhorn`). Returns the loss."""
    clean = vocals - vocals.mean()
    mixture = (vocals + accompaniment) - (vocals + accompaniment).mean()
    reconstruction = model.decode(model.encode(clean + noise))
    a_mixture = model.encode(mixture)
    if objective.kind == "tv":
        regulariser = total_variation(a_mixture)
    elif sinkhorn == "published":
        regulariser = published_sinkhorn(a_mixture, objective.lam)
    else:
        regulariser = sinkhorn_distance(a_mixture, p=objective.p, lam=objective.lam)
    loss = neg_snr(clean, reconstruction) + objective.omega * regulariser
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss


def user_loop_step(model: DenoisingAutoencoder, optimizer: torch.optim.Optimizer, objective: Objective,
                   vocals: Tensor, accompaniment: Tensor, noise: Tensor, one_encode: bool = False) -> Tensor:
    """A step as a user writes it with rlsv's public API: ``model.encode`` twice (or, with ``one_encode``,
    once on both batches together, as ``train_step`` does), ``model.decode``, ``rlsv.core.losses``'
    ``neg_snr`` and ``total_variation`` / ``sinkhorn_distance``, Adam."""
    clean = vocals - vocals.mean()
    mixture = (vocals + accompaniment) - (vocals + accompaniment).mean()
    if one_encode:
        a_vocals, a_mixture = model.encode(torch.cat([clean + noise, mixture])).split(len(vocals))
        reconstruction = model.decode(a_vocals)
    else:
        reconstruction = model.decode(model.encode(clean + noise))
        a_mixture = model.encode(mixture)
    regulariser: Callable[[Tensor], Tensor] = (
        total_variation if objective.kind == "tv"
        else lambda a: sinkhorn_distance(a, p=objective.p, lam=objective.lam))
    loss = neg_snr(clean, reconstruction) + objective.omega * regulariser(a_mixture)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return loss
