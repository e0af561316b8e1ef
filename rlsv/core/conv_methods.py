"""Which method computes each of the autoencoder's three convolutions: :class:`ConvPlan` (no torch needed).

``"gemm"`` computes a convolution as one large matrix product on a time-major layout, ``"direct"`` calls
torch's convolution kernels (``rlsv.core.conv`` holds both). The methods differ in float order only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping

from rlsv.errors import ConfigError

__all__ = ["METHODS", "ConvPlan"]

METHODS: tuple[str, ...] = ("gemm", "direct")


@dataclass(frozen=True)
class ConvPlan:
    """How each of the three convolutions is computed: ``"gemm"`` or ``"direct"`` (see the module docstring).

    Results differ between plans by float round-off only. The default, every convolution by torch's own
    kernels, is what a model uses unless told otherwise; which plan a *run* uses is the run's decision
    (``rlsv.run.conv_plan``), made without timing anything by default.
    """

    analysis: str = "direct"
    context: str = "direct"
    synthesis: str = "direct"

    def __post_init__(self) -> None:
        for name, method in asdict(self).items():
            if method not in METHODS:
                raise ConfigError(f"ConvPlan.{name} must be one of {METHODS}, got {method!r}.")

    @classmethod
    def everywhere(cls, method: str) -> "ConvPlan":
        """One method for all three convolutions."""
        return cls(method, method, method)

    @classmethod
    def parse(cls, text: str) -> "ConvPlan":
        """A plan from its text: one method for all three (``"gemm"``, ``"direct"``) or three, comma-separated,
        in the order analysis, context, synthesis (``"gemm,direct,direct"``; :attr:`text` writes it)."""
        parts = [part.strip() for part in str(text).split(",")]
        if len(parts) == 1 and parts[0] in METHODS:
            return cls.everywhere(parts[0])
        if len(parts) == 3 and all(part in METHODS for part in parts):
            return cls(*parts)
        raise ConfigError(f"A convolution plan is one of {METHODS} or three of them 'analysis,context,synthesis' "
                          f"(e.g. 'gemm,direct,direct'), got {text!r}.")

    @property
    def text(self) -> str:
        """``"analysis,context,synthesis"`` (what :meth:`parse` reads)."""
        return f"{self.analysis},{self.context},{self.synthesis}"

    def to_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ConvPlan":
        return cls(**{k: str(v) for k, v in data.items()})

    def __str__(self) -> str:
        return f"analysis {self.analysis}, context {self.context}, synthesis {self.synthesis}"
