"""The paper's hyper-parameter grids, declared in a few lines each.

Named grids (``GRIDS``, ``get_grid``), read from the paper's tables and figure captions; each is a
tuple of grid points (:class:`rlsv.run.spec.RunSpec`):

===========  ==================================================================  ======
name         runs                                                                count
===========  ==================================================================  ======
``table1``   L_A omega in {0.5, 1, 1.5, 2, 4}; L_B omega=1, p=1,                  10
             lam in {0.1, 0.5, 1, 1.5, 2}
``table2``   L_B p=1, lam=1.5, omega in {1, 1.5, 2, 4}; STFT                       4 + 1
``figure2``  L_B p=1, omega=4, lam=1.5 (representations)                           1
``figure3``  L_A omega in {0.5, 1, 1.5, 2, 4}                                      5
``figure4``  L_A omega=4; L_B p=1 omega=1 lam=0.5; L_B p=1 omega=4 lam=1.5         3
``figure5``  L_B omega=1, lam in {0.1, 0.5, 1, 1.3, 1.5, 2, 5, 10}, p in {1, 2}    16
``figure6``  L_B p=1, lam in {1.3, 1.5, 2} x omega in {1, 1.5, 2, 4}               12
``all``      union of the above, each run once                                     30 + 1
``tables``   union of ``table1`` and ``table2`` (``rlsv sweep tables --seeds 3``)   13 + 1
===========  ==================================================================  ======

:data:`FINDINGS` are the grid points that carry the paper's findings -- the five L_A rows, L_B at
λ ∈ {0.5, 1.5, 2} with ω = 1, and L_B at λ = 1.5 over ω -- which ``make reproduce`` trains with more seeds
(``rlsv reproduce --findings-seeds``).
"""

from __future__ import annotations

from itertools import product
from typing import Mapping

from rlsv.errors import ConfigError
from rlsv.run.spec import STFT, RunSpec, sinkhorn, tv, unique_specs

__all__ = ["GRIDS", "GRID_NAMES", "FINDINGS", "get_grid"]

_OMEGAS_TV = (0.5, 1.0, 1.5, 2.0, 4.0)
_LAMS_TABLE1 = (0.1, 0.5, 1.0, 1.5, 2.0)
_OMEGAS_TABLE2 = (1.0, 1.5, 2.0, 4.0)
_LAMS_FIGURE5 = (0.1, 0.5, 1.0, 1.3, 1.5, 2.0, 5.0, 10.0)
_LAMS_FIGURE6 = (1.3, 1.5, 2.0)


def _paper_grids() -> dict[str, tuple[RunSpec, ...]]:
    """Build the named grids; ``all`` is their union in order of first appearance."""
    grids = {
        "table1": tuple(tv(w) for w in _OMEGAS_TV) + tuple(sinkhorn(1.0, lam) for lam in _LAMS_TABLE1),
        "table2": tuple(sinkhorn(w, 1.5) for w in _OMEGAS_TABLE2) + (STFT,),
        "figure2": (sinkhorn(4.0, 1.5),),
        "figure3": tuple(tv(w) for w in _OMEGAS_TV),
        "figure4": (tv(4.0), sinkhorn(1.0, 0.5), sinkhorn(4.0, 1.5)),
        "figure5": tuple(sinkhorn(1.0, lam, p) for p, lam in product((1, 2), _LAMS_FIGURE5)),
        "figure6": tuple(sinkhorn(w, lam) for lam, w in product(_LAMS_FIGURE6, _OMEGAS_TABLE2)),
    }
    grids["all"] = unique_specs(spec for specs in grids.values() for spec in specs)
    grids["tables"] = unique_specs(grids["table1"] + grids["table2"])
    return grids


GRIDS: Mapping[str, tuple[RunSpec, ...]] = _paper_grids()
GRID_NAMES: tuple[str, ...] = tuple(GRIDS)

FINDINGS: tuple[RunSpec, ...] = unique_specs(
    (*GRIDS["figure3"], *(sinkhorn(1.0, lam) for lam in (0.5, 1.5, 2.0)), *(sinkhorn(w, 1.5) for w in _OMEGAS_TABLE2)))
"""The grid points of the paper's three findings: additivity (L_A against L_B at λ = 1.5 and 2), masking (λ = 0.5
against 1.5 and 2) and Table 2 (A over ω at λ = 1.5)."""


def get_grid(name: str) -> tuple[RunSpec, ...]:
    """The run specs of the named grid (see the module docstring); ``ValueError`` if unknown."""
    try:
        return GRIDS[name]
    except KeyError:
        raise ConfigError(f"Unknown grid {name!r}; valid names: {', '.join(GRID_NAMES)}.") from None
