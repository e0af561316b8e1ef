"""The numbers and captions published in the paper (Mimilakis, Drossos, Schuller 2020), transcribed verbatim.

Each published table is a :class:`PublishedTable`: its rows in the paper's order, each a grid
point (:class:`rlsv.run.spec.RunSpec`) with the published mean and standard deviation of each
metric (``si_sdr``: SI-SDR (dB), ``si_sdr_mask``: SI-SDR-BM (dB), ``additivity``: A(.), a
fraction). The Sinkhorn rows use p = 1 (the paper's main results, supplementary material).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from rlsv.run.spec import STFT, RunSpec, sinkhorn, tv

__all__ = [
    "PublishedRow",
    "PublishedTable",
    "TABLE1",
    "TABLE2",
    "PUBLISHED_TABLES",
    "FIGURE2_CAPTION",
    "FIGURE4_PANELS",
    "paper_value",
]


@dataclass(frozen=True)
class PublishedRow:
    """One row of a published table: a grid point and ``{metric: (mean, std)}``."""

    spec: RunSpec
    values: Mapping[str, tuple[float, float]]


@dataclass(frozen=True)
class PublishedTable:
    """A published table: name, caption, metric columns (in order) and rows (in order)."""

    name: str
    caption: str
    metrics: tuple[str, ...]
    rows: tuple[PublishedRow, ...]


def _row(spec: RunSpec, **values: tuple[float, float]) -> PublishedRow:
    return PublishedRow(spec, values)


TABLE1 = PublishedTable(
    name="table1",
    caption="Results from objectively evaluating the learned representations.",
    metrics=("si_sdr", "si_sdr_mask", "additivity"),
    rows=(
        _row(tv(0.5), si_sdr=(31.49, 2.98), si_sdr_mask=(4.43, 4.98), additivity=(0.76, 0.10)),
        _row(tv(1.0), si_sdr=(31.39, 3.16), si_sdr_mask=(4.66, 4.92), additivity=(0.76, 0.10)),
        _row(tv(1.5), si_sdr=(31.01, 3.13), si_sdr_mask=(4.97, 4.93), additivity=(0.75, 0.10)),
        _row(tv(2.0), si_sdr=(30.96, 2.98), si_sdr_mask=(4.65, 4.90), additivity=(0.76, 0.10)),
        _row(tv(4.0), si_sdr=(31.40, 2.83), si_sdr_mask=(5.06, 4.97), additivity=(0.76, 0.10)),
        _row(sinkhorn(1.0, 0.1), si_sdr=(31.28, 2.98), si_sdr_mask=(5.40, 5.31), additivity=(0.76, 0.09)),
        _row(sinkhorn(1.0, 0.5), si_sdr=(31.61, 3.38), si_sdr_mask=(5.63, 5.29), additivity=(0.77, 0.09)),
        _row(sinkhorn(1.0, 1.0), si_sdr=(31.29, 3.25), si_sdr_mask=(4.33, 5.28), additivity=(0.86, 0.08)),
        _row(sinkhorn(1.0, 1.5), si_sdr=(29.98, 3.48), si_sdr_mask=(0.06, 6.43), additivity=(0.89, 0.08)),
        _row(sinkhorn(1.0, 2.0), si_sdr=(31.13, 3.66), si_sdr_mask=(-0.02, 6.44), additivity=(0.89, 0.08)),
    ),
)

TABLE2 = PublishedTable(
    name="table2",
    caption="Objective evaluation of the additivity of the learned representations.",
    metrics=("additivity",),
    rows=(
        _row(sinkhorn(1.0, 1.5), additivity=(0.89, 0.08)),
        _row(sinkhorn(1.5, 1.5), additivity=(0.90, 0.07)),
        _row(sinkhorn(2.0, 1.5), additivity=(0.92, 0.07)),
        _row(sinkhorn(4.0, 1.5), additivity=(0.93, 0.06)),
        _row(STFT, additivity=(0.86, 0.06)),
    ),
)

PUBLISHED_TABLES: Mapping[str, PublishedTable] = {t.name: t for t in (TABLE1, TABLE2)}

FIGURE2_CAPTION = (r"Learned representations, $E(\cdot)$ optimised with $\mathcal{L}_B$ "
                   r"($\mathcal{L}_{SK}$: $\omega = 4.0, \lambda = 1.5$)")
"""Figure 2's caption (mathtext), shortened: mixture, singing voice, accompaniment panels."""

FIGURE4_PANELS: tuple[tuple[RunSpec, str], ...] = (
    (tv(4.0), r"(a) $\mathcal{L}_A$ ($\mathcal{L}_{TV}$: $\omega = 4.0$)"),
    (sinkhorn(1.0, 0.5), r"(b) $\mathcal{L}_B$ ($\mathcal{L}_{SK}$: $\omega = 1.0, \lambda = 0.5$)"),
    (sinkhorn(4.0, 1.5), r"(c) $\mathcal{L}_B$ ($\mathcal{L}_{SK}$: $\omega = 4.0, \lambda = 1.5$)"),
)
"""Figure 4's three rows: the run and its sub-caption (mathtext), in the paper's order."""


def paper_value(spec: RunSpec, metric: str) -> tuple[float, float] | None:
    """The paper's ``(mean, std)`` of ``metric`` for the grid point ``spec``, from Table 1 or Table 2; None
    where the paper gives no number (its Figures 5 and 6 are plots only)."""
    for table in (TABLE1, TABLE2):
        for row in table.rows:
            if row.spec == spec and metric in row.values:
                return row.values[metric]
    return None
