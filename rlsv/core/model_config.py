"""The autoencoder's sizes and initialisation: :class:`ModelConfig` (no torch needed to read or check it).

Paper names: ``C`` channels, ``L`` kernel length, ``S`` stride, ``N`` segment length, ``L'`` context kernel,
``phi`` dilation; ``T = ceil(N / S)`` frames. Defaults are the published sizes (``docs/paper_vs_code.md``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, Mapping

from rlsv.core.fields import dataclass_kwargs
from rlsv.errors import ConfigError

__all__ = ["INITS", "ModelConfig"]

INITS: tuple[str, ...] = ("published", "paper")
"""Initialisations: the authors' code (kaiming-uniform encoder, rho ~ N(0, 1)) or the paper's text."""


@dataclass(frozen=True)
class ModelConfig:
    """Sizes and initialisation of the autoencoder.

    Attributes:
        channels: ``C``, number of encoder kernels = decoder kernels (paper: 800).
        kernel_size: ``L``, length of the first encoder kernels and of the decoder kernels (2048).
        stride: ``S``, hop of the first encoder conv and of the decoder (256).
        segment_length: ``N``, samples per input segment (44100 = 1 s).
        sample_rate: sampling rate in Hz; used only to express carrier frequencies in Hz.
        context_kernel: ``L'``, length of the dilated second encoder conv (5). Must be odd.
        dilation: ``phi``, dilation of the second encoder conv (10).
        init: ``"published"`` (authors' code: kaiming-uniform encoder, rho ~ N(0,1)) or
            ``"paper"`` (paper text: uniform(+-sqrt(3/C)) encoder, rho = 0).
        f_min_hz, f_max_hz: range of the mel-spaced carrier initialisation (30, 22050).
    """

    channels: int = 800
    kernel_size: int = 2048
    stride: int = 256
    segment_length: int = 44100
    sample_rate: int = 44100
    context_kernel: int = 5
    dilation: int = 10
    init: str = "published"
    f_min_hz: float = 30.0
    f_max_hz: float = 22050.0

    def __post_init__(self) -> None:
        for name in ("channels", "kernel_size", "stride", "segment_length", "sample_rate",
                     "context_kernel", "dilation"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"ModelConfig.{name} must be a positive integer, got {value!r}.")
        if self.kernel_size < self.stride:
            raise ConfigError(
                f"ModelConfig.kernel_size (L={self.kernel_size}) must be >= stride (S={self.stride}); "
                "otherwise the decoder's overlap-add leaves gaps between frames."
            )
        if self.context_kernel % 2 != 1:
            raise ConfigError(f"ModelConfig.context_kernel (L') must be odd, got {self.context_kernel}.")
        if self.init not in INITS:
            raise ConfigError(f"ModelConfig.init must be one of {INITS}, got {self.init!r}.")
        if not 0 < self.f_min_hz < self.f_max_hz:
            raise ConfigError(
                f"Need 0 < f_min_hz < f_max_hz for the carrier initialisation, got "
                f"{self.f_min_hz} and {self.f_max_hz}."
            )

    @property
    def frames(self) -> int:
        """``T = ceil(N / S)``, frames of the representation."""
        return math.ceil(self.segment_length / self.stride)

    @property
    def padding(self) -> tuple[int, int]:
        """Zero padding ``(left, right)`` of the input so that the encoder gives exactly ``T`` frames.

        The total ``(T-1) S + L - N`` is split as in the published code (``990`` each side at paper
        size); when it is odd the extra sample goes to the right.
        """
        total = (self.frames - 1) * self.stride + self.kernel_size - self.segment_length
        return total // 2, total - total // 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ModelConfig":
        return cls(**dataclass_kwargs(cls, data))
