"""The hyper-parameters of the training objectives, checked in one place (no torch needed).

``check_objective(kind, omega, lam, p)`` is the single check of (objective, ω, λ, p): the loss
(``rlsv.core.losses.Objective``), a grid point (``rlsv.run.spec.RunSpec``) and through it a run's
parameters and configuration all call it, so every entry point refuses the same values with the
same message.
"""

from __future__ import annotations

import math
from typing import Any

from rlsv.errors import ConfigError

__all__ = ["TRAINED_OBJECTIVES", "COST_NORMS", "check_objective"]

TRAINED_OBJECTIVES: tuple[str, ...] = ("tv", "sinkhorn")
COST_NORMS: tuple[int, ...] = (1, 2)


def _finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_objective(kind: str, omega: Any, lam: Any = None, p: Any = None) -> None:
    """Raise ``ValueError`` unless ``kind`` is ``"tv"`` (L_A) or ``"sinkhorn"`` (L_B) with a finite
    ``omega >= 0``, and, for ``"sinkhorn"``, a finite ``lam > 0`` and ``p`` in {1, 2}."""
    if kind not in TRAINED_OBJECTIVES:
        raise ConfigError(f"Unknown objective {kind!r}: use 'tv' (L_A) or 'sinkhorn' (L_B).")
    if not (_finite_number(omega) and omega >= 0):
        raise ConfigError(f"omega must be a finite number >= 0, got {omega!r}.")
    if kind == "sinkhorn":
        if not (_finite_number(lam) and lam > 0):
            raise ConfigError(f"lambda (lam) must be a finite number > 0 for the Sinkhorn objective, got {lam!r}.")
        if p not in COST_NORMS:
            raise ConfigError(f"p must be 1 or 2 for the Sinkhorn cost matrix, got {p!r}.")
