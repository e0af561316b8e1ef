"""The objectives and their hyper-parameters, ruled in one place (no torch needed).

An objective is ``"tv"`` (L_A: neg-SNR + ω L_TV, Eq. 12), ``"sinkhorn"`` (L_B: neg-SNR + ω L_SK, Eq. 13, with
entropic weight λ and cost norm p) or ``"stft"`` (the untrained STFT baseline of Table 2). Every rule about
them lives here and nowhere else:

* which hyper-parameters each objective uses (:data:`OBJECTIVE_PARAMETERS`); a value given for one it does
  not use is refused, not dropped (a value given for nothing is a mistake worth hearing about);
* their defaults (:data:`DEFAULTS`: ω = 1 for a trained objective, p = 1 for L_B; λ has none);
* their types (ω and λ floats, p an int) and ranges (ω ≥ 0, λ > 0, p ∈ {1, 2}).

:func:`objective_parameters` applies all of them and returns the normalised :class:`ObjectiveParameters`; the
loss (``rlsv.core.losses.Objective``), a grid point (``rlsv.run.spec.RunSpec``), a run's parameters
(``rlsv.run.config.RunParameters``) and its training configuration (``rlsv.run.config.TrainConfig``) all call
it, so every entry point accepts and refuses the same values with the same message.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

from rlsv.errors import ConfigError

__all__ = ["OBJECTIVE_PARAMETERS", "OBJECTIVE_NAMES", "TRAINED_OBJECTIVES", "GRID_PARAMETERS", "DEFAULTS",
           "COST_NORMS", "TV_FORMS", "SINKHORN_GRADIENTS", "ObjectiveParameters", "objective_parameters",
           "check_objective"]

OBJECTIVE_PARAMETERS: Mapping[str, tuple[str, ...]] = {
    "tv": ("omega",),
    "sinkhorn": ("omega", "lam", "p"),
    "stft": (),
}
"""The hyper-parameters each objective uses; the others must be None."""

OBJECTIVE_NAMES: tuple[str, ...] = tuple(OBJECTIVE_PARAMETERS)
TRAINED_OBJECTIVES: tuple[str, ...] = ("tv", "sinkhorn")
GRID_PARAMETERS: tuple[str, ...] = ("omega", "lam", "p")
DEFAULTS: Mapping[str, float | int] = {"omega": 1.0, "p": 1}
"""The value a used hyper-parameter takes when it is not given (λ has no default: L_B needs one)."""
COST_NORMS: tuple[int, ...] = (1, 2)
_LABELS = {"tv": "L_A", "sinkhorn": "L_B", "stft": "the STFT baseline"}
TV_FORMS: tuple[str, ...] = ("published", "paper")
"""Total variation as the published code computes it (L2 norms) or as the paper's Eq. 4 (``rlsv.core.losses``)."""
SINKHORN_GRADIENTS: tuple[str, ...] = ("implicit", "unrolled", "envelope")
"""Gradients of L_SK: exact by implicit differentiation (the published one), unrolled autograd, or the plan
held fixed (not the published gradient; ``rlsv.core.sinkhorn``)."""


@dataclass(frozen=True)
class ObjectiveParameters:
    """An objective and its hyper-parameters, normalised (:func:`objective_parameters`): unused ones None,
    ``omega`` and ``lam`` floats, ``p`` an int."""

    kind: str
    omega: float | None = None
    lam: float | None = None
    p: int | None = None


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _as_cost_norm(p: Any) -> int:
    """``p`` as an int of :data:`COST_NORMS` (``1``, ``1.0`` and ``"1"`` are 1), else a ``ConfigError``."""
    try:
        value = float(p)
    except (TypeError, ValueError):
        value = math.nan
    if value not in COST_NORMS or isinstance(p, bool):
        raise ConfigError(f"p must be 1 or 2 for the Sinkhorn cost matrix, got {p!r}.")
    return int(value)


def objective_parameters(kind: str, omega: Any = None, lam: Any = None, p: Any = None) -> ObjectiveParameters:
    """``kind``'s hyper-parameters, checked and normalised: the one rule of every entry point.

    Raises ``ConfigError`` for an unknown objective, a value given for a hyper-parameter the objective does
    not use, a missing λ for L_B, or a value out of range (ω finite ≥ 0, λ finite > 0, p ∈ {1, 2}).
    """
    if kind not in OBJECTIVE_PARAMETERS:
        raise ConfigError(f"Unknown objective {kind!r}; use 'tv' (L_A), 'sinkhorn' (L_B) or 'stft' (the baseline).")
    given = {"omega": omega, "lam": lam, "p": p}
    used = OBJECTIVE_PARAMETERS[kind]
    unused = [f"{name}={value!r}" for name, value in given.items() if name not in used and value is not None]
    if unused:
        raise ConfigError(f"The {kind} objective ({_LABELS[kind]}) does not use {' and '.join(unused)}; leave "
                          f"{'them' if len(unused) > 1 else 'it'} out (None), or choose another objective.")
    values = {name: DEFAULTS.get(name) if given[name] is None else given[name] for name in used}
    if "omega" in values and not (_finite_number(values["omega"]) and values["omega"] >= 0):
        raise ConfigError(f"omega must be a finite number >= 0, got {values['omega']!r}.")
    if "lam" in values and values["lam"] is None:
        raise ConfigError("The Sinkhorn objective (L_B) needs lam, its entropic regularisation (e.g. lam=1.5).")
    if "lam" in values and not (_finite_number(values["lam"]) and values["lam"] > 0):
        raise ConfigError(f"lambda (lam) must be a finite number > 0 for the Sinkhorn objective, "
                          f"got {values['lam']!r}.")
    return ObjectiveParameters(kind, None if "omega" not in values else float(values["omega"]),
                               None if "lam" not in values else float(values["lam"]),
                               None if "p" not in values else _as_cost_norm(values["p"]))


def check_objective(kind: str, omega: Any, lam: Any = None, p: Any = None) -> None:
    """Raise ``ConfigError`` unless ``kind`` is a trained objective (``"tv"`` or ``"sinkhorn"``) whose used
    hyper-parameters are valid; the ones it does not use are ignored (a loss object carries all three)."""
    if kind not in TRAINED_OBJECTIVES:
        raise ConfigError(f"Unknown objective {kind!r}: use 'tv' (L_A) or 'sinkhorn' (L_B).")
    used = OBJECTIVE_PARAMETERS[kind]
    objective_parameters(kind, omega, lam if "lam" in used else None, p if "p" in used else None)
