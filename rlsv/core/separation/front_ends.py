"""Front ends of blind separation: a signal's magnitudes for the mask estimator, and its resynthesis.

A front end turns a batch of mixture segments ``(batch, N)`` into non-negative magnitudes
``(batch, F, T)`` (what the mask estimator sees) plus the coefficients it resynthesises from, and
turns a mask ``(batch, F, T)`` back into a waveform ``(batch, N)``. Both resyntheses are linear in the
masked coefficients:

* :class:`LearnedFrontEnd`: the trained autoencoder, frozen. Magnitudes = coefficients = ``A_m = E(x)``
  (``F = C`` channels, ``T = ceil(N / S)`` frames); resynthesis ``D(M * A_m)`` (the paper's masking).
* :class:`StftFrontEnd`: the STFT of Table 2's baseline (``rlsv.core.metrics.StftBaseline``: Hann,
  ``n_fft = 2048``, hop 256, centred). Magnitudes ``|X| / sqrt(n_fft)`` (``F = n_fft / 2 + 1``);
  resynthesis ``iSTFT(M * X)``: the mask scales the complex mixture STFT, so the estimate keeps the
  mixture's phase.

Each also gives the oracle binary-mask estimate of the paper on the same segments
(:meth:`oracle_estimate`), computed exactly as ``rlsv.run.evaluate`` and ``StftBaseline`` do.

Both are ``nn.Module``s without trainable parameters, so that a separator (front end and estimator) moves
to a device, and switches between training and evaluation, as one module.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor, nn

from rlsv.core.metrics import EPS, StftBaseline, binary_mask, oracle_binary_mask_estimate, stft_magnitude
from rlsv.core.model import DenoisingAutoencoder

__all__ = ["Analysis", "FrontEnd", "LearnedFrontEnd", "StftFrontEnd", "FRONT_ENDS"]

FRONT_ENDS: tuple[str, ...] = ("learned", "stft")


class Analysis(NamedTuple):
    """A front end's view of a batch of segments.

    Attributes:
        magnitude: ``(batch, F, T)`` float32, non-negative: the mask estimator's input.
        coefficients: what :meth:`FrontEnd.synthesise` masks (``A_m`` ``(batch, C, T)``, or the complex
            STFT ``(batch, F, T)`` complex128).
    """

    magnitude: Tensor
    coefficients: Tensor


class FrontEnd(Protocol):
    """What blind separation needs from a representation (module docstring)."""

    name: str
    n_bins: int
    segment_length: int

    def analyse(self, x: Tensor) -> Analysis:
        """``(batch, N)`` waveforms -> their magnitudes and coefficients."""

    def synthesise(self, analysis: Analysis, mask: Tensor) -> Tensor:
        """The waveforms ``(batch, N)`` of the masked coefficients (``mask``: ``(batch, F, T)``)."""

    def oracle_estimate(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> Tensor:
        """The paper's oracle binary-mask estimate of the vocals: three ``(batch, N)`` -> ``(batch, N)``."""

    def describe(self) -> dict[str, Any]:
        """JSON description (stored with a trained estimator)."""


class LearnedFrontEnd(nn.Module):
    """The trained autoencoder as a front end (frozen: no parameter takes a gradient, always in evaluation mode).

    ``model``: the run's :class:`~rlsv.core.model.DenoisingAutoencoder`; segments must have its ``N``.
    """

    name = "learned"

    def __init__(self, model: DenoisingAutoencoder) -> None:
        super().__init__()
        self.model = model.eval().requires_grad_(False)
        self.n_bins = model.config.channels
        self.segment_length = model.config.segment_length

    def train(self, mode: bool = True) -> "LearnedFrontEnd":
        """The autoencoder stays frozen in evaluation mode whatever the separator's mode."""
        super().train(mode)
        self.model.eval()
        return self

    def analyse(self, x: Tensor) -> Analysis:
        """``A_m = E(x)``: ``(batch, N) -> (batch, C, T)`` (no gradient)."""
        with torch.no_grad():
            a = self.model.encode(x.float())
        return Analysis(a, a)

    def synthesise(self, analysis: Analysis, mask: Tensor) -> Tensor:
        """``D(M * A_m)``: ``(batch, C, T) -> (batch, N)`` (differentiable in ``mask``)."""
        return self.model.decode(mask * analysis.coefficients)

    def oracle_estimate(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> Tensor:
        """``D(A_m * 1[A_v / A_acc > 0.5])`` (``rlsv.core.metrics.oracle_binary_mask_estimate``)."""
        b = len(mixture)
        with torch.no_grad():
            a_mix, a_voc, a_acc = self.model.encode(torch.cat([mixture, vocals, accompaniment]).float()).split(b)
            return oracle_binary_mask_estimate(self.model.decode, a_mix, a_voc, a_acc)

    def oracle_mask(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> Tensor:
        """The oracle binary mask ``1[A_v / A_acc > 0.5]``, ``(batch, C, T)``."""
        b = len(mixture)
        with torch.no_grad():
            _, a_voc, a_acc = self.model.encode(torch.cat([mixture, vocals, accompaniment]).float()).split(b)
        return binary_mask(a_voc, a_acc)

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model.config.to_dict()}


class StftFrontEnd(nn.Module):
    """The STFT of the paper's baseline as a front end (``rlsv.core.metrics.StftBaseline``'s transforms,
    float64). ``length``: samples of the segments resynthesised (the run's ``N``)."""

    name = "stft"

    def __init__(self, length: int, n_fft: int = 2048, hop: int = 256, window: str = "hann") -> None:
        super().__init__()
        self.baseline = StftBaseline(n_fft=n_fft, hop=hop, window=window)
        self.n_bins = n_fft // 2 + 1
        self.segment_length = length

    def analyse(self, x: Tensor) -> Analysis:
        """``X = STFT(x)``, ``(batch, N) -> (batch, F, T)``; magnitudes ``|X| / sqrt(n_fft)`` as float32."""
        with torch.no_grad():
            spectrum = self.baseline.stft(x)
        return Analysis(stft_magnitude(spectrum, self.baseline.n_fft).float(), spectrum)

    def synthesise(self, analysis: Analysis, mask: Tensor) -> Tensor:
        """``iSTFT(M * X)`` with the mixture's phase, ``(batch, N)`` float32 (differentiable in ``mask``)."""
        return self.baseline.istft(analysis.coefficients * mask.double(), length=self.segment_length).float()

    def oracle_estimate(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> Tensor:
        """``iSTFT(X_m * 1[|V| / (|Acc| + 1e-24) > 0.5])``, as ``StftBaseline`` computes its SI-SDR."""
        with torch.no_grad():
            spectrum = self.baseline.stft(mixture)
            return self.baseline.istft(spectrum * self.oracle_mask(mixture, vocals, accompaniment),
                                       length=mixture.shape[-1]).float()

    def oracle_mask(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> Tensor:
        """The oracle binary mask ``1[|V| / (|Acc| + 1e-24) > 0.5]``, ``(batch, F, T)`` float64."""
        n_fft = self.baseline.n_fft
        with torch.no_grad():
            return binary_mask(stft_magnitude(self.baseline.stft(vocals), n_fft),
                               stft_magnitude(self.baseline.stft(accompaniment), n_fft) + EPS)

    def describe(self) -> dict[str, Any]:
        b = self.baseline
        return {"name": self.name, "n_fft": b.n_fft, "hop": b.hop, "window": b.window}
