"""Figures 2 and 4 of the paper: learned representations of one test segment, drawn from arrays.

Learned representations ``A`` of one test segment (mixture, vocals, accompaniment), channels sorted by ascending
carrier frequency, frequency axis labelled with the decoder's carriers in Hz: :func:`plot_representations` (one
row = Figure 2) and :func:`plot_representation_rows` (one row per run = Figure 4). Figures are
``matplotlib.figure.Figure`` objects not registered with pyplot; nothing here needs a model: callers pass arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from rlsv.errors import ConfigError
from rlsv.study.plots import wrap_title

__all__ = ["SOURCES", "RepresentationRow", "format_hz", "AUDIBLE_HZ", "MUSICAL_HZ", "LOW_CARRIER_NOTE", "low_carriers",
           "carrier_ticks", "plot_representations", "plot_representation_rows"]

SOURCES: tuple[tuple[str, str], ...] = (("mixture", "Mixture"), ("vocals", "Singing voice"),
                                        ("accompaniment", "Accompaniment"))
"""Representation panels, left to right: (key in the ``reps`` mapping, panel title)."""


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


AUDIBLE_HZ = 20.0
"""Carriers below this are grouped on the frequency axes: not pitches but slow envelopes (see :func:`carrier_ticks`)."""
MUSICAL_HZ: tuple[float, ...] = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0, 10000.0)
"""Round frequencies the carrier axes are labelled at, where the carriers reach them."""


def format_hz(hz: float) -> str:
    """A frequency as a tick label: ``50 Hz``, ``440 Hz``, ``1 kHz``, ``2.5 kHz``, ``0.02 Hz``."""
    if hz >= 1000:
        return f"{hz / 1000:g} kHz"
    if hz >= 1:
        return f"{hz:.3g} Hz"
    return f"{hz:.2g} Hz"


def low_carriers(carrier_hz: np.ndarray) -> int:
    """How many of the ascending carriers lie below :data:`AUDIBLE_HZ`."""
    return int(np.searchsorted(np.asarray(carrier_hz, dtype=float), AUDIBLE_HZ))


def carrier_ticks(carrier_hz: np.ndarray, frequencies: Sequence[float] = MUSICAL_HZ, min_gap: float = 0.07
                  ) -> tuple[np.ndarray, list[str]]:
    """Channel rows and labels for a frequency axis of channels sorted by carrier.

    The decoder's carriers ``f_c^2 fs`` are learned; training moves some of them towards 0 Hz, where
    they stop being pitches and act as slowly varying envelopes. So the axis is labelled at round
    ``frequencies`` (the first channel whose carrier reaches each one), and the channels below
    :data:`AUDIBLE_HZ` are grouped under one tick ``< 20 Hz (n)`` at the middle of their band.

    Args:
        carrier_hz: ``(C,)`` carrier frequencies in Hz, ascending.
        frequencies: the round frequencies to label, in Hz.
        min_gap: the least distance between two labels, as a fraction of the axis (at least one channel), so
            that labels never overlap: a label nearer to the previous one is left out.

    Returns:
        ``(rows, labels)``: ``rows`` ``(n,)`` channel positions (floats: the low band's middle may fall
        between channels), ``labels`` their texts.
    """
    carrier_hz = np.asarray(carrier_hz, dtype=float)
    low = low_carriers(carrier_hz)
    gap = max(1.0, min_gap * len(carrier_hz))
    rows: list[float] = []
    labels: list[str] = []
    if low:
        rows.append((low - 1) / 2)
        labels.append(f"< {AUDIBLE_HZ:g} Hz ({low})")
    audible = carrier_hz[low:]
    for hz in frequencies:
        if hz < AUDIBLE_HZ or not len(audible) or not audible[0] <= hz <= audible[-1]:
            continue
        # where the carriers reach hz, interpolated between channels on a log scale
        row = low + float(np.interp(np.log(hz), np.log(audible), np.arange(len(audible))))
        if not rows or row - rows[-1] >= gap:
            rows.append(row)
            labels.append(format_hz(hz))
    return np.asarray(rows), labels


def _check_row(row: RepresentationRow) -> None:
    carriers = np.asarray(row.carrier_hz)
    if carriers.ndim != 1 or np.any(np.diff(carriers) < 0):
        raise ConfigError("carrier_hz must be 1-D and ascending (sort the channels by carrier first).")
    missing = [key for key, _ in SOURCES if key not in row.reps]
    if missing:
        raise KeyError(f"reps lacks {missing}; needs {[key for key, _ in SOURCES]}.")
    shapes = {np.shape(row.reps[key]) for key, _ in SOURCES}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2 or next(iter(shapes))[0] != len(carriers):
        raise ConfigError(f"Each representation must be (C, T) with C = {len(carriers)} carriers; "
                         f"got shapes {sorted(shapes)}.")


def _draw_representation_row(fig: Figure, axes: Sequence[Axes], row: RepresentationRow,
                             frame_rate_hz: float | None, marks: Sequence[float] = ()) -> None:
    """Draw one row (mixture, vocals, accompaniment) on ``axes`` with a shared colour scale: square-root for
    non-negative representations (a few loud drum frames would otherwise leave the vocals black), else linear."""
    from matplotlib.colors import Normalize, PowerNorm

    _check_row(row)
    arrays = [np.asarray(row.reps[key], dtype=float) for key, _ in SOURCES]
    channels, frames = arrays[0].shape
    vmin, vmax = min(0.0, *(a.min() for a in arrays)), max(a.max() for a in arrays)
    vmax = vmax if vmax > vmin else vmin + 1.0
    norm = PowerNorm(0.5, vmin=0.0, vmax=vmax) if vmin >= 0 else Normalize(vmin=vmin, vmax=vmax)
    time_extent = (0.0, frames / frame_rate_hz) if frame_rate_hz else (-0.5, frames - 0.5)
    extent = (*time_extent, -0.5, channels - 0.5)  # one row per channel, centred on its index
    for ax, array, (_, panel_title) in zip(axes, arrays, SOURCES):
        image = ax.imshow(array, origin="lower", aspect="auto", interpolation="nearest",
                          cmap="magma", norm=norm, extent=extent)
        ax.set_title(panel_title, fontsize="medium")
        ax.set_xlabel("Time (s)" if frame_rate_hz else "Time (frames)")
        low = low_carriers(row.carrier_hz)
        if low:  # the band of carriers below 20 Hz: envelopes, not pitches
            ax.axhline(low - 0.5, color="white", linewidth=0.8, linestyle="--")
        for mark in marks:
            ax.axvline(mark, color="cyan", linewidth=1.0)
    rows, labels = carrier_ticks(row.carrier_hz)
    axes[0].set_yticks(rows, labels)
    axes[0].set_ylabel("Decoder carrier f_c² · fs")
    for ax in axes[1:]:
        ax.tick_params(labelleft=False)
    label = "Activation (square-root scale)" if isinstance(norm, PowerNorm) else "Activation"
    fig.colorbar(image, ax=list(axes), label=label, shrink=0.9)


LOW_CARRIER_NOTE = ("Channels sorted by their decoder carrier f_c²·fs; the dashed line bounds the carriers below "
                    "20 Hz, which training moved towards 0 Hz: envelopes rather than pitches.")


def plot_representation_rows(rows: Sequence[RepresentationRow], frame_rate_hz: float | None = None,
                             marks: Sequence[float] = (), note: bool = True) -> Figure:
    """One row of three panels (mixture, vocals, accompaniment) per run: Figure 4 (3 rows).

    Args:
        rows: the runs' representations, carriers and captions, top to bottom.
        frame_rate_hz: frames per second (``sample_rate / stride``, 44100/256) for a time axis in
            seconds; ``None`` labels time in frames.
        marks: times (in the time axis's unit) to mark with vertical lines (the explorer's segment).
        note: add :data:`LOW_CARRIER_NOTE` under the figure when a row has carriers below 20 Hz.

    Returns:
        A figure with ``3 * len(rows)`` image axes and one colour bar per row; the frequency axis
        labelled at round frequencies (:func:`carrier_ticks`).
    """
    fig = Figure(figsize=(11, 3.3 * len(rows) + 0.3), layout="constrained")
    subfigs = np.atleast_1d(fig.subfigures(len(rows), 1))
    for subfig, row in zip(subfigs, rows):
        axes = subfig.subplots(1, len(SOURCES), sharex=True, sharey=True)
        _draw_representation_row(subfig, axes, row, frame_rate_hz, marks)
        if row.title:
            subfig.suptitle(wrap_title(row.title, fig, 12.0), fontsize="large")
    if note and any(low_carriers(row.carrier_hz) for row in rows):
        fig.supxlabel(LOW_CARRIER_NOTE, fontsize="small", color="0.3")
    return fig


def plot_representations(reps: Mapping[str, np.ndarray], carrier_hz: np.ndarray,
                         title: str | None = None, frame_rate_hz: float | None = None,
                         marks: Sequence[float] = ()) -> Figure:
    """Figure 2: one run's mixture, vocals and accompaniment representations side by side.

    Args:
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``(C, T)``, channels ascending by carrier.
        carrier_hz: ``(C,)`` carrier frequencies in Hz, ascending (labels of the frequency axis).
        title: figure title (e.g. ``rlsv.study.paper_values.FIGURE2_CAPTION``).
        frame_rate_hz, marks: as in :func:`plot_representation_rows`.
    """
    return plot_representation_rows([RepresentationRow(title, reps, np.asarray(carrier_hz))],
                                     frame_rate_hz, marks)
