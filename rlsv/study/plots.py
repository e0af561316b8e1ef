"""The paper's figures, drawn from arrays (Figures 2, 4) or from many runs (Figures 3, 5, 6).

* Figures 2 and 4 -- learned representations ``A`` of one test segment (mixture, vocals,
  accompaniment), channels sorted by ascending carrier frequency, frequency axis labelled with the
  decoder's carriers in Hz: :func:`plot_representations` (one row = Figure 2) and
  :func:`plot_representation_rows` (one row per run = Figure 4).
* Figures 3, 5, 6 -- mean ± std of the three metrics over a hyper-parameter, from the
  :func:`rlsv.study.results.load_runs` frame: :func:`plot_figure3`, :func:`plot_figure5`,
  :func:`plot_figure6` (all via :func:`plot_metric_errorbars`). Std uses ``ddof=0`` like the tables.
* :func:`save_figure` -- PNG + PDF, written atomically.

Figures are ``matplotlib.figure.Figure`` objects not registered with pyplot (no global state; a
notebook shows a returned figure once). Nothing here needs a model: callers pass arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Mapping, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rlsv.atomic import atomic_path
from rlsv.run.spec import RunSpec
from rlsv.run.summary import METRICS, STD_DDOF
from rlsv.study.grids import get_grid
from rlsv.study.results import profile_rows, select_specs

__all__ = [
    "SOURCES",
    "METRIC_AXIS_LABELS",
    "RepresentationRow",
    "format_hz",
    "carrier_ticks",
    "plot_representations",
    "plot_representation_rows",
    "plot_metric_errorbars",
    "plot_figure3",
    "plot_figure5",
    "plot_figure6",
    "save_figure",
]

SOURCES: tuple[tuple[str, str], ...] = (("mixture", "Mixture"), ("vocals", "Singing voice"),
                                        ("accompaniment", "Accompaniment"))
"""Representation panels, left to right: (key in the ``reps`` mapping, panel title)."""

METRIC_AXIS_LABELS: dict[str, str] = {
    "si_sdr": "Reconstruction SI-SDR (dB)",
    "si_sdr_mask": "Oracle binary-mask SI-SDR (dB)",
    "additivity": r"Additivity $\mathcal{A}(\cdot)$",
}
_PARAMETER_LABELS: dict[str, str] = {"omega": r"$\omega$", "lam": r"$\lambda$", "p": r"$p$"}
_PARAMETER_AXIS_LABELS: dict[str, str] = {
    "omega": r"Representation-objective weight $\omega$",
    "lam": r"Entropic regularisation $\lambda$",
}
_ROW_LAYOUT = [list(METRICS)]  # Figure 3: left, middle, right
_PAPER_LAYOUT = [["si_sdr", "si_sdr_mask"], ["additivity", "additivity"]]  # Figures 5, 6


# --- Figures 2 and 4: representations --------------------------------------------------------


@dataclass(frozen=True)
class RepresentationRow:
    """One run's representations of one segment.

    Attributes:
        title: the row's caption (e.g. from ``rlsv.study.paper_values.FIGURE4_PANELS``).
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``A``, each ``(C, T)``, channels sorted
            by ascending carrier frequency.
        carrier_hz: the decoder's carrier frequencies in Hz, ``(C,)``, ascending, same order.
    """

    title: str | None
    reps: Mapping[str, np.ndarray]
    carrier_hz: np.ndarray


def format_hz(hz: float) -> str:
    """A carrier frequency as a tick label: ``11025``, ``440.0`` -> ``440``, ``3.52``, ``0.021``."""
    if hz >= 100:
        return f"{hz:.0f}"
    if hz >= 1:
        return f"{hz:.3g}"
    return f"{hz:.2g}"


def carrier_ticks(carrier_hz: np.ndarray, n_ticks: int = 6) -> tuple[np.ndarray, list[str]]:
    """Evenly spaced channel rows and their carrier labels in Hz.

    Args:
        carrier_hz: ``(C,)`` carrier frequencies in Hz, ascending.
        n_ticks: number of ticks (at most ``C``).

    Returns:
        ``(rows, labels)``: ``rows`` ``(n,)`` int channel indices from 0 to C-1, ``labels`` the
        :func:`format_hz` of ``carrier_hz[rows]``.
    """
    carrier_hz = np.asarray(carrier_hz, dtype=float)
    rows = np.unique(np.linspace(0, len(carrier_hz) - 1, min(n_ticks, len(carrier_hz))).round().astype(int))
    return rows, [format_hz(carrier_hz[r]) for r in rows]


def _check_row(row: RepresentationRow) -> None:
    carriers = np.asarray(row.carrier_hz)
    if carriers.ndim != 1 or np.any(np.diff(carriers) < 0):
        raise ValueError("carrier_hz must be 1-D and ascending (sort the channels by carrier first).")
    missing = [key for key, _ in SOURCES if key not in row.reps]
    if missing:
        raise KeyError(f"reps lacks {missing}; needs {[key for key, _ in SOURCES]}.")
    shapes = {np.shape(row.reps[key]) for key, _ in SOURCES}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[0] != len(carriers):
        raise ValueError(f"Each representation must be (C, T) with C = {len(carriers)} carriers; "
                         f"got shapes {sorted(shapes)}.")


def _draw_representation_row(fig: Figure, axes: Sequence[Axes], row: RepresentationRow,
                             frame_rate_hz: float | None, n_ticks: int) -> None:
    """Draw one row (mixture, vocals, accompaniment) on ``axes`` with a shared colour scale."""
    _check_row(row)
    arrays = [np.asarray(row.reps[key], dtype=float) for key, _ in SOURCES]
    channels, frames = arrays[0].shape
    vmin, vmax = min(0.0, *(a.min() for a in arrays)), max(a.max() for a in arrays)
    time_extent = (0.0, frames / frame_rate_hz) if frame_rate_hz else (-0.5, frames - 0.5)
    extent = (*time_extent, -0.5, channels - 0.5)  # one row per channel, centred on its index
    for ax, array, (_, panel_title) in zip(axes, arrays, SOURCES):
        image = ax.imshow(array, origin="lower", aspect="auto", interpolation="nearest",
                          cmap="magma", vmin=vmin, vmax=vmax, extent=extent)
        ax.set_title(panel_title, fontsize="medium")
        ax.set_xlabel("Time (s)" if frame_rate_hz else "Time (frames)")
    rows, labels = carrier_ticks(row.carrier_hz, n_ticks)
    axes[0].set_yticks(rows, labels)
    axes[0].set_ylabel("Carrier frequency (Hz)")
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    fig.colorbar(image, ax=list(axes), label="Activation", shrink=0.9)


def plot_representation_rows(rows: Sequence[RepresentationRow], frame_rate_hz: float | None = None,
                             n_ticks: int = 6) -> Figure:
    """One row of three panels (mixture, vocals, accompaniment) per run: Figure 4 (3 rows).

    Args:
        rows: the runs' representations, carriers and captions, top to bottom.
        frame_rate_hz: frames per second (``sample_rate / stride``, 44100/256) for a time axis in
            seconds; ``None`` labels time in frames.
        n_ticks: carrier-frequency ticks per row.

    Returns:
        A figure with ``3 * len(rows)`` image axes and one colour bar per row.
    """
    fig = Figure(figsize=(11, 3.2 * len(rows)), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(rows), 1))
    for subfig, row in zip(subfigs, rows):
        axes = subfig.subplots(1, len(SOURCES), sharex=True, sharey=True)
        _draw_representation_row(subfig, axes, row, frame_rate_hz, n_ticks)
        if row.title:
            subfig.suptitle(row.title)
    return fig


def plot_representations(reps: Mapping[str, np.ndarray], carrier_hz: np.ndarray,
                         title: str | None = None, frame_rate_hz: float | None = None,
                         n_ticks: int = 6) -> Figure:
    """Figure 2: one run's mixture, vocals and accompaniment representations side by side.

    Args:
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``(C, T)``, channels ascending by carrier.
        carrier_hz: ``(C,)`` carrier frequencies in Hz, ascending (labels of the frequency axis).
        title: figure title (e.g. ``rlsv.study.paper_values.FIGURE2_CAPTION``).
        frame_rate_hz, n_ticks: as in :func:`plot_representation_rows`.
    """
    return plot_representation_rows([RepresentationRow(title, reps, np.asarray(carrier_hz))],
                                     frame_rate_hz, n_ticks)


# --- Figures 3, 5, 6: mean ± std over a hyper-parameter --------------------------------------


def _mean_plus_minus_std(values: pd.Series) -> tuple[float, float]:
    """seaborn error-bar interval: mean ± std (``ddof=STD_DDOF``, as in the tables)."""
    mean, std = values.mean(), values.std(ddof=STD_DDOF)
    return mean - std, mean + std


def _parameter_levels(specs: Sequence[RunSpec], column: str) -> list[float]:
    return sorted({getattr(spec, column) for spec in specs})


def _level_label(column: str, value: float) -> str:
    return f"{_PARAMETER_LABELS[column]} = {value:g}"


def plot_metric_errorbars(segments: pd.DataFrame, specs: Sequence[RunSpec], x: str,
                          hue: str | None = None, layout: Literal["row", "paper"] = "paper",
                          profile: str | None = None) -> Figure:
    """Mean ± std of each metric (one panel per metric) over the hyper-parameter ``x``.

    Args:
        segments: :func:`rlsv.study.results.load_runs` output (one row per segment).
        specs: the grid points to show (others in ``segments`` are ignored).
        x: hyper-parameter column on the x axis (``"omega"`` or ``"lam"``), categorical, with
            every level of ``specs`` shown (a missing run leaves a gap).
        hue: hyper-parameter column for the colours (``"p"``, ``"lam"``) or ``None``.
        layout: ``"row"`` (three panels side by side, Figure 3) or ``"paper"`` (two on top,
            additivity below, Figures 5 and 6).
        profile: which profile to plot when ``segments`` mixes profiles.

    Returns:
        A figure with three axes (``si_sdr``, ``si_sdr_mask``, ``additivity``); markers at the
        means, vertical bars ± one standard deviation.
    """
    profile, rows = profile_rows(segments, profile)
    data = select_specs(rows, specs)
    if data.empty:
        raise ValueError(f"None of the {len(specs)} requested runs is in the results "
                         f"(profile {profile!r}); see rlsv.study.results.run_status().")
    x_levels = _parameter_levels(specs, x)
    data = data.assign(_x=data[x].map(lambda v: f"{v:g}"))
    hue_kwargs: dict = {}
    if hue is not None:
        hue_levels = _parameter_levels(specs, hue)
        data = data.assign(_hue=data[hue].map(lambda v: _level_label(hue, v)))
        hue_kwargs = {"hue": "_hue", "hue_order": [_level_label(hue, v) for v in hue_levels],
                      "dodge": 0.3}
    fig = Figure(figsize=(12, 3.6) if layout == "row" else (10, 7), layout="constrained")
    axes = fig.subplot_mosaic(_ROW_LAYOUT if layout == "row" else _PAPER_LAYOUT)
    for metric in METRICS:
        ax = axes[metric]
        sns.pointplot(data=data, x="_x", y=metric, order=[f"{v:g}" for v in x_levels],
                      errorbar=_mean_plus_minus_std, markers="_", markersize=14,
                      capsize=0.1, ax=ax, **hue_kwargs)
        ax.set_xlabel(_PARAMETER_AXIS_LABELS.get(x, x))
        ax.set_ylabel(METRIC_AXIS_LABELS[metric])
        ax.grid(axis="y", alpha=0.3)
        if hue is not None and metric != "additivity":
            ax.get_legend().remove()
    if hue is not None:
        axes["additivity"].legend(title=None, loc="best")
    return fig


def plot_figure3(segments: pd.DataFrame, profile: str | None = None) -> Figure:
    """Figure 3: L_A (total variation) over omega; three panels side by side."""
    return plot_metric_errorbars(segments, get_grid("figure3"), x="omega", layout="row",
                                 profile=profile)


def plot_figure5(segments: pd.DataFrame, profile: str | None = None) -> Figure:
    """Figure 5: L_B, omega = 1, over lambda, one colour per cost norm p."""
    return plot_metric_errorbars(segments, get_grid("figure5"), x="lam", hue="p", profile=profile)


def plot_figure6(segments: pd.DataFrame, profile: str | None = None) -> Figure:
    """Figure 6: L_B, p = 1, over omega, one colour per lambda in {1.3, 1.5, 2}."""
    return plot_metric_errorbars(segments, get_grid("figure6"), x="omega", hue="lam", profile=profile)


# --- output -----------------------------------------------------------------------------------


def save_figure(fig: Figure, stem: str | Path, formats: Sequence[str] = ("png", "pdf"),
                dpi: int = 150) -> list[Path]:
    """Write ``fig`` to ``<stem>.png`` and ``<stem>.pdf`` (atomically); the paths written."""
    stem = Path(stem)
    paths = []
    for fmt in formats:
        path = stem.with_name(f"{stem.name}.{fmt}")
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi)
        paths.append(path)
    return paths
