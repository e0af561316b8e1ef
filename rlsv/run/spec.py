"""A grid point: the objective of a run and the hyper-parameters it uses, and the run id it gives.

A grid point is a :class:`RunSpec`: the objective (``"tv"`` = L_A, ``"sinkhorn"`` = L_B,
``"stft"`` = the untrained STFT baseline of Table 2) and the hyper-parameters it uses
(``omega`` weight of the regulariser, ``lam`` entropic regularisation, ``p`` norm of the
Sinkhorn cost matrix; ``None`` where unused). The paper's named grids are ``rlsv.study.grids``.

Run ids follow ``docs/run_layout.md``: ``<profile>-<grid point>-s<seed>-<variant>``, for example
``small-sinkhorn-p1-l1.5-w4-s218-3fa2c1``: the grid point (``tv-w<omega>``,
``sinkhorn-p<p>-l<lam>-w<omega>`` or ``stft``, numbers written with ``:g``), the training seed (not for
the STFT baseline), and ``variant``, a short hash of every other setting that changes the results
(sizes, epochs, batch size, learning rate, data; :func:`variant_id`). Two runs that could differ in
their results never share a folder, and the runs of one sweep share their variant.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from typing import Any, Iterable, Literal, Mapping

from rlsv.core.hyperparameters import GRID_PARAMETERS, OBJECTIVE_NAMES, OBJECTIVE_PARAMETERS, objective_parameters
from rlsv.errors import ConfigError

__all__ = [
    "ObjectiveName",
    "OBJECTIVE_NAMES",
    "RunSpec",
    "tv",
    "sinkhorn",
    "STFT",
    "spec_label",
    "variant_id",
    "VARIANT_LENGTH",
    "run_id",
    "unique_specs",
]

VARIANT_LENGTH = 6


ObjectiveName = Literal["tv", "sinkhorn", "stft"]


def _nan_if_none(value: float | None) -> float:
    return math.nan if value is None else float(value)


@dataclass(frozen=True)
class RunSpec:
    """One grid point: an objective and the hyper-parameters it uses.

    Attributes:
        objective: ``"tv"`` (L_A, Eq. 12), ``"sinkhorn"`` (L_B, Eq. 13) or ``"stft"`` (baseline).
        omega: weight of the representation objective (tv, sinkhorn), else ``None``.
        lam: entropic regularisation weight lambda of the Sinkhorn distance, else ``None``.
        p: norm of the Sinkhorn cost matrix M (1 or 2 in the paper), else ``None``.

    A grid point names every hyper-parameter its objective uses (no defaults); the values are checked and
    normalised by the one rule of ``rlsv.core.hyperparameters.objective_parameters``.
    """

    objective: ObjectiveName
    omega: float | None = None
    lam: float | None = None
    p: int | None = None

    def __post_init__(self) -> None:
        used = OBJECTIVE_PARAMETERS.get(self.objective, ())
        missing = [name for name in used if getattr(self, name) is None]
        if missing:
            raise ConfigError(f"The grid point {self.objective!r} needs {' and '.join(missing)}.")
        normalised = objective_parameters(self.objective, self.omega, self.lam, self.p)
        for name in GRID_PARAMETERS:
            object.__setattr__(self, name, getattr(normalised, name))

    @property
    def is_trained(self) -> bool:
        """Whether this grid point trains an autoencoder (every objective but the STFT baseline)."""
        return self.objective != "stft"

    def as_columns(self) -> dict[str, str | float]:
        """``{"objective", "omega", "lam", "p"}`` for a DataFrame row: unused parameters as NaN."""
        return {"objective": self.objective, "omega": _nan_if_none(self.omega),
                "lam": _nan_if_none(self.lam), "p": _nan_if_none(self.p)}

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "RunSpec":
        """Read ``objective``, ``omega``, ``lam``, ``p`` from a run's ``config.json`` mapping.

        Unused parameters may be missing, ``None`` or NaN (as in a pandas row).
        """

        def value(name: str) -> float | None:
            raw = config.get(name)
            if raw is None or (isinstance(raw, float) and math.isnan(raw)):
                return None
            return float(raw)

        return cls(str(config["objective"]), value("omega"), value("lam"), value("p"))


def tv(omega: float) -> RunSpec:
    """L_A: negative SNR + ``omega`` * total variation."""
    return RunSpec("tv", omega=omega)


def sinkhorn(omega: float, lam: float, p: int = 1) -> RunSpec:
    """L_B: negative SNR + ``omega`` * Sinkhorn distance (entropic weight ``lam``, cost norm ``p``)."""
    return RunSpec("sinkhorn", omega=omega, lam=lam, p=p)


STFT = RunSpec("stft")
"""The STFT baseline row of Table 2 (evaluated, not trained)."""


def spec_label(spec: RunSpec) -> str:
    """The grid point's part of a run id: ``tv-w4``, ``sinkhorn-p1-l1.5-w4`` or ``stft``."""
    if spec.objective == "tv":
        return f"tv-w{spec.omega:g}"
    if spec.objective == "sinkhorn":
        return f"sinkhorn-p{spec.p:g}-l{spec.lam:g}-w{spec.omega:g}"
    return "stft"


def variant_id(settings: Mapping[str, Any]) -> str:
    """A short, stable hash of a run's settings (JSON values): the same settings give the same id on
    every machine and in every session (SHA-256 of the key-sorted JSON, first ``VARIANT_LENGTH`` hex digits)."""
    text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:VARIANT_LENGTH]


def run_id(spec: RunSpec, profile: str, seed: int | None = None, variant: str | None = None) -> str:
    """The run directory name of ``spec`` at ``profile`` with ``seed``, for the settings ``variant``
    (:func:`variant_id`; ``docs/run_layout.md``).

    The seed is left out for the STFT baseline (nothing is trained), and so is anything passed as None.

    >>> run_id(sinkhorn(omega=4, lam=1.5), "small", seed=218, variant="3fa2c1")
    'small-sinkhorn-p1-l1.5-w4-s218-3fa2c1'
    >>> run_id(STFT, "small", seed=218, variant="3fa2c1")
    'small-stft-3fa2c1'
    """
    if not profile or "/" in profile:
        raise ConfigError(f"A profile name must be non-empty and without '/', got {profile!r}.")
    parts = [profile, spec_label(spec)]
    if spec.is_trained and seed is not None:
        parts.append(f"s{seed}")
    if variant:
        parts.append(variant)
    return "-".join(parts)


def unique_specs(specs: Iterable[RunSpec]) -> tuple[RunSpec, ...]:
    """``specs`` without repeats, in order of first appearance."""
    return tuple(dict.fromkeys(specs))
