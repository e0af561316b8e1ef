"""Evaluation metrics: SI-SDR, oracle binary masking, additivity, the STFT baseline, the silence rule.

All functions are tensor maths on a batch of segments. Defaults follow the authors' published
evaluation code; the paper's wording is available where the two differ (``docs/paper_vs_code.md``
rows 18-24):

* silence rule: published ``10 log10(||v||_2) >= -10`` (a norm); paper ``10 log10(||v||_2^2 + eps)``.
* binary mask: published ``A_v / A_acc > 0.5`` (strict); paper ``>= 0.5``.
* STFT baseline window: published Hann; paper Hamming.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from torch import Tensor

from rlsv.errors import ConfigError

__all__ = [
    "EPS",
    "si_sdr",
    "binary_mask",
    "apply_mask",
    "oracle_binary_mask_estimate",
    "additivity",
    "segment_is_active",
    "stft_magnitude",
    "StftBaseline",
]

EPS = 1e-24
SILENCE_RULES = ("published", "paper")
STFT_WINDOWS = ("hann", "hamming")


def si_sdr(reference: Tensor, estimate: Tensor) -> Tensor:
    """Scale-invariant SDR in dB per segment (paper Eq. 15, published code): ``(B, N), (B, N) -> (B,)``.

    ``a = <x, x^> / ||x||^2``; ``SI-SDR = 10 log10(||a x||^2 / ||a x - x^||^2)``, with the published
    code's ``1e-24`` guards in the denominators and inside the log.
    """
    if reference.shape != estimate.shape:
        raise ValueError(f"si_sdr needs equal shapes, got {tuple(reference.shape)} and {tuple(estimate.shape)}.")
    if reference.dim() != 2:
        raise ValueError(f"si_sdr expects (batch, N) tensors, got shape {tuple(reference.shape)}.")
    scale = (reference * estimate).sum(-1, keepdim=True) / (reference.pow(2).sum(-1, keepdim=True) + EPS)
    target = scale * reference
    ratio = target.pow(2).sum(-1) / ((target - estimate).pow(2).sum(-1) + EPS)
    return 10.0 * torch.log10(ratio + EPS)


def binary_mask(a_vocals: Tensor, a_accompaniment: Tensor, inclusive: bool = False) -> Tensor:
    """Oracle binary mask ``G_v = g(A_v / A_acc)``, same shape as the inputs, float 0/1.

    ``0/0`` gives 0 and ``x/0`` (``x > 0``) gives 1, as in the published code's division. The published
    comparison is strict (``> 0.5``); ``inclusive=True`` gives the paper's ``>= 0.5``.
    """
    ratio = a_vocals / a_accompaniment
    mask = ratio >= 0.5 if inclusive else ratio > 0.5
    return mask.to(a_vocals.dtype)


def apply_mask(a_mixture: Tensor, mask: Tensor) -> Tensor:
    """``A_m * G_v`` (element-wise)."""
    return a_mixture * mask


def oracle_binary_mask_estimate(decode: Callable[[Tensor], Tensor], a_mixture: Tensor, a_vocals: Tensor,
                                a_accompaniment: Tensor, inclusive: bool = False) -> Tensor:
    """Estimated vocals ``x^_v = D(A_m * g(A_v / A_acc))`` from the representations of the mixture,
    vocals and accompaniment: three ``(B, C, T)`` -> ``(B, N)``.

    ``inclusive``: the paper's ``>= 0.5`` mask instead of the published ``> 0.5`` (:func:`binary_mask`).
    """
    return decode(apply_mask(a_mixture, binary_mask(a_vocals, a_accompaniment, inclusive=inclusive)))


def additivity(a_mixture: Tensor, a_vocals: Tensor, a_accompaniment: Tensor) -> Tensor:
    """Additivity (Eq. 14) per example: ``1 - ||A_m - A_v - A_acc||_1 / (||A_m||_1 + 1e-24)``.

    Inputs ``(B, ...)`` (representations ``(B, C, T)`` or magnitudes ``(B, F, T)``); output ``(B,)``.
    The published code stores the fraction; the paper reports ``1 - fraction``, as here.
    """
    if not a_mixture.shape == a_vocals.shape == a_accompaniment.shape:
        raise ValueError("additivity needs three representations of the same shape.")
    residual = (a_mixture - a_vocals - a_accompaniment).abs().flatten(1).sum(-1)
    return 1.0 - residual / (a_mixture.abs().flatten(1).sum(-1) + EPS)


def segment_is_active(vocals: Tensor | np.ndarray, threshold_db: float = -10.0,
                      rule: str = "published") -> Tensor:
    """Silence rule: which vocal segments are kept for evaluation. ``(N,) -> ()`` or ``(B, N) -> (B,)``, bool.

    ``rule="published"``: ``10 log10(||v||_2) >= threshold_db`` (the authors' code uses the norm).
    ``rule="paper"``: ``10 log10(||v||_2^2 + 1e-24) >= threshold_db`` (the paper's formula, an energy).
    """
    if rule not in SILENCE_RULES:
        raise ConfigError(f"rule must be one of {SILENCE_RULES}, got {rule!r}.")
    v = torch.as_tensor(vocals)
    energy = v.double().pow(2).sum(-1)
    if rule == "published":
        level = 10.0 * torch.log10(energy.sqrt())
    else:
        level = 10.0 * torch.log10(energy + EPS)
    return level >= threshold_db


_WINDOWS: dict[str, Callable[..., Tensor]] = {"hann": torch.hann_window, "hamming": torch.hamming_window}


def stft_magnitude(spectrum: Tensor, n_fft: int) -> Tensor:
    """Magnitude scaled as in the published baseline, ``|X| / sqrt(n_fft)``; same shape as ``spectrum``."""
    return spectrum.abs() / (n_fft ** 0.5)


class StftBaseline:
    """The STFT row of Table 2: additivity and oracle binary-mask SI-SDR on STFT magnitudes.

    Published settings: ``n_fft = window = 2048``, hop 256, centred (reflect padding, as librosa),
    Hann window (``window="hamming"`` gives the paper's text), magnitudes scaled by ``1/sqrt(n_fft)``;
    the mask ``|V| / (|Acc| + 1e-24) > 0.5`` is applied to the complex mixture STFT and inverted to
    ``N`` samples. Computed in float64.
    """

    def __init__(self, n_fft: int = 2048, hop: int = 256, window: str = "hann", inclusive: bool = False) -> None:
        if n_fft < 2 or hop < 1 or hop > n_fft:
            raise ConfigError(f"Need n_fft >= 2 and 1 <= hop <= n_fft, got n_fft={n_fft}, hop={hop}.")
        if window not in STFT_WINDOWS:
            raise ConfigError(f"window must be one of {STFT_WINDOWS}, got {window!r}.")
        self.n_fft, self.hop, self.window, self.inclusive = n_fft, hop, window, inclusive
        self._windows: dict[torch.device, Tensor] = {}

    def _window(self, device: torch.device) -> Tensor:
        """The periodic analysis window ``(n_fft,)`` float64 on ``device``, built once per device."""
        if device not in self._windows:
            self._windows[device] = _WINDOWS[self.window](self.n_fft, periodic=True, dtype=torch.float64,
                                                          device=device)
        return self._windows[device]

    def stft(self, x: Tensor) -> Tensor:
        """Complex STFT, ``(B, N) -> (B, n_fft // 2 + 1, frames)``."""
        return torch.stft(x.double(), self.n_fft, hop_length=self.hop, win_length=self.n_fft,
                          window=self._window(x.device), center=True,
                          pad_mode="reflect", return_complex=True)

    def istft(self, spectrum: Tensor, length: int) -> Tensor:
        """Inverse STFT back to ``(B, length)`` samples."""
        return torch.istft(spectrum, self.n_fft, hop_length=self.hop, win_length=self.n_fft,
                           window=self._window(spectrum.device), center=True,
                           length=length)

    def __call__(self, mixture: Tensor, vocals: Tensor, accompaniment: Tensor) -> dict[str, Tensor]:
        """Three ``(B, N)`` signals -> ``{"additivity": (B,), "si_sdr_mask": (B,)}``."""
        mix_spec = self.stft(mixture)
        mag_mix = stft_magnitude(mix_spec, self.n_fft)
        mag_voc = stft_magnitude(self.stft(vocals), self.n_fft)
        mag_acc = stft_magnitude(self.stft(accompaniment), self.n_fft)
        mask = binary_mask(mag_voc, mag_acc + EPS, inclusive=self.inclusive)
        estimate = self.istft(mix_spec * mask, length=mixture.shape[-1])
        return {
            "additivity": additivity(mag_mix, mag_voc, mag_acc),
            "si_sdr_mask": si_sdr(vocals.double(), estimate),
        }
