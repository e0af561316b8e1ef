"""A blind vocal-mask estimator in the style of open-unmix, for any non-negative time-frequency-like input.

Input: the magnitudes of the mixture, ``(batch, F, T)`` -- the learned representation ``A_m``
(``F = C`` channels) or STFT magnitudes (``F = n_fft // 2 + 1`` bins). Output: a soft vocal mask in
``[0, 1]`` of the same shape. Per frame (``F`` values):

1. compression and standardisation: ``z = (log1p(x / reference) - input_mean) * input_scale`` with a
   scalar ``reference`` and per-bin ``input_mean``, ``input_scale`` set from training data
   (:meth:`MaskEstimator.set_input_statistics`; the two vectors stay trainable, as in open-unmix);
2. compression of the bin axis: ``h = tanh(LayerNorm(W1 z))``, ``F -> H`` (no bias);
3. a bidirectional LSTM over the frames, ``H -> H`` (``H / 2`` per direction), with the skip
   connection ``[h, lstm(h)]`` (``2H``);
4. expansion: ``relu(LayerNorm(W2 [h, r] + b2))``, ``2H -> H``, then ``W3 . + b3``, ``H -> F``, and a
   sigmoid (open-unmix multiplies a ReLU output with the mixture; a mask in ``[0, 1]`` is what the
   oracle binary mask of the paper is compared with).

The estimator's size depends on ``F`` and ``H``: :func:`parameter_count` gives it in closed form, and
:func:`hidden_for_budget` picks the widest ``H`` whose count fits a parameter budget, so that the
learned representation (``F = C``) and the STFT (``F = 1025``) get the same budget.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from rlsv.core.fields import dataclass_kwargs
from rlsv.errors import ConfigError

__all__ = ["EstimatorConfig", "MaskEstimator", "parameter_count", "hidden_for_budget", "DEFAULT_BUDGET",
           "input_statistics"]

DEFAULT_BUDGET = 250_000
"""Default parameter budget of an estimator (``C = 200``: ``H = 152``; STFT, 1025 bins: ``H = 88``)."""

_MIN_SCALE_STD = 1e-2  # a bin whose compressed values barely vary is not blown up by 1 / std


@dataclass(frozen=True)
class EstimatorConfig:
    """Sizes of a :class:`MaskEstimator`.

    Attributes:
        n_bins: ``F``, the bins (channels) of the input and of the mask.
        hidden: ``H``, the width of the compressed frame (even: ``H / 2`` LSTM units per direction).
        lstm_layers: stacked bidirectional LSTM layers.
    """

    n_bins: int
    hidden: int
    lstm_layers: int = 1

    def __post_init__(self) -> None:
        for name in ("n_bins", "hidden", "lstm_layers"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"EstimatorConfig.{name} must be a positive integer, got {value!r}.")
        if self.hidden % 2:
            raise ConfigError(f"EstimatorConfig.hidden must be even (H/2 LSTM units per direction), got {self.hidden}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "EstimatorConfig":
        return cls(**dataclass_kwargs(cls, data))


def parameter_count(n_bins: int, hidden: int, lstm_layers: int = 1) -> int:
    """Trainable parameters of a :class:`MaskEstimator`, in closed form.

    ``2F`` (input mean and scale) + ``FH`` (W1) + ``2H`` (first LayerNorm) + per LSTM layer
    ``2 (4h (H + h) + 8h)`` with ``h = H / 2`` + ``2H H + H`` (W2, b2) + ``2H`` (second LayerNorm) +
    ``H F + F`` (W3, b3) ``= 2FH + 3F + (6 layers + 2) H^2 + (8 layers + 5) H``.
    """
    f, h = n_bins, hidden
    return 2 * f * h + 3 * f + (6 * lstm_layers + 2) * h * h + (8 * lstm_layers + 5) * h


def hidden_for_budget(n_bins: int, budget: int = DEFAULT_BUDGET, lstm_layers: int = 1) -> int:
    """The largest even ``H`` whose :func:`parameter_count` is at most ``budget``.

    Raises:
        ValueError: not even ``H = 2`` fits.
    """
    if parameter_count(n_bins, 2, lstm_layers) > budget:
        raise ConfigError(f"A parameter budget of {budget} is too small for an estimator on {n_bins} bins "
                         f"(at least {parameter_count(n_bins, 2, lstm_layers)} parameters); raise the budget.")
    # the count grows with H: solve the quadratic, then correct for rounding
    a, b, c = 6 * lstm_layers + 2, 2 * n_bins + 8 * lstm_layers + 5, 3 * n_bins - budget
    hidden = max(2, 2 * int((-b + math.sqrt(b * b - 4 * a * c)) / (2 * a) / 2))
    while parameter_count(n_bins, hidden + 2, lstm_layers) <= budget:
        hidden += 2
    while parameter_count(n_bins, hidden, lstm_layers) > budget:
        hidden -= 2
    return hidden


def input_statistics(magnitudes: Tensor) -> dict[str, Tensor]:
    """The input normalisation of a :class:`MaskEstimator` from training magnitudes ``(batch, F, T)``.

    Returns ``{"reference": ()}`` the mean magnitude (the unit of the compression ``log1p(x / reference)``),
    and per bin ``{"input_mean": (F,), "input_scale": (F,)}``: the mean and ``1 / std`` of the compressed
    values over batch and frames (std floored at 0.01), computed in float64.
    """
    x = magnitudes.detach().double()
    reference = x.mean().clamp_min(torch.finfo(torch.float32).tiny)
    compressed = torch.log1p(x / reference).transpose(0, 1).reshape(x.shape[1], -1)  # (F, batch * T)
    std = compressed.std(dim=1, correction=0).clamp_min(_MIN_SCALE_STD)
    return {"reference": reference.float(), "input_mean": compressed.mean(dim=1).float(),
            "input_scale": (1 / std).float()}


class MaskEstimator(nn.Module):
    """Soft vocal mask from mixture magnitudes: ``(batch, F, T) -> (batch, F, T)`` in ``[0, 1]`` (module docstring).

    Parameters: ``input_mean``, ``input_scale`` ``(F,)``; ``fc1`` ``(H, F)``; ``lstm``; ``fc2`` ``(H, 2H)``;
    ``fc3`` ``(F, H)``. Buffer: ``reference`` ``()``, the unit of the input compression.
    """

    reference: Tensor

    def __init__(self, config: EstimatorConfig) -> None:
        super().__init__()
        self.config = config
        f, h = config.n_bins, config.hidden
        self.register_buffer("reference", torch.ones(()))
        self.input_mean = nn.Parameter(torch.zeros(f))
        self.input_scale = nn.Parameter(torch.ones(f))
        self.fc1 = nn.Linear(f, h, bias=False)
        self.norm1 = nn.LayerNorm(h)
        self.lstm = nn.LSTM(h, h // 2, num_layers=config.lstm_layers, bidirectional=True, batch_first=True)
        self.fc2 = nn.Linear(2 * h, h)
        self.norm2 = nn.LayerNorm(h)
        self.fc3 = nn.Linear(h, f)
        nn.init.zeros_(self.fc3.bias)  # a mask of about 0.5 everywhere before training

    def set_input_statistics(self, statistics: Mapping[str, Tensor]) -> None:
        """Set ``reference``, ``input_mean`` and ``input_scale`` (:func:`input_statistics`)."""
        with torch.no_grad():
            for name in ("reference", "input_mean", "input_scale"):
                getattr(self, name).copy_(statistics[name])

    def forward(self, magnitude: Tensor) -> Tensor:
        """``(batch, F, T)`` non-negative magnitudes -> ``(batch, F, T)`` mask in ``[0, 1]``."""
        if magnitude.dim() != 3 or magnitude.shape[1] != self.config.n_bins:
            raise ValueError(f"MaskEstimator expects (batch, F={self.config.n_bins}, T), got {tuple(magnitude.shape)}.")
        x = torch.log1p(magnitude / self.reference)
        x = ((x - self.input_mean[:, None]) * self.input_scale[:, None]).transpose(1, 2)  # (batch, T, F)
        h = torch.tanh(self.norm1(self.fc1(x)))  # (batch, T, H)
        r, _ = self.lstm(h)  # (batch, T, H)
        z = torch.relu(self.norm2(self.fc2(torch.cat([h, r], dim=-1))))  # (batch, T, H)
        return torch.sigmoid(self.fc3(z)).transpose(1, 2)  # (batch, F, T)
