"""Notebook 08's views: the separation table, audio players for blind and oracle estimates, masks over ``A_m``.

* :func:`mask_figure` -- per representation, the mixture's magnitudes (log scale, grey) with the estimated
  soft mask drawn over them (colour, its value as opacity), next to the oracle binary mask.
* :func:`show_separation_example` -- the players and the figure of a ``rlsv.study.separation.example``.
* :func:`show_separation_table` -- the table's caption and the table.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from rlsv.ui.display import audio_bundle, display, show_figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from rlsv.study.separation.example import SeparationExample
    from rlsv.study.separation.table import SeparationTables

__all__ = ["mask_figure", "show_separation_example", "show_separation_table"]


def _draw(ax, magnitude: np.ndarray, mask: np.ndarray, title: str, cmap: str) -> None:
    """``log10`` magnitudes ``(F, T)`` in grey, ``mask`` ``(F, T)`` over them in ``cmap`` with its value as opacity."""
    level = np.log10(magnitude + 1e-6 * max(float(magnitude.max()), 1e-12))
    ax.imshow(level, origin="lower", aspect="auto", cmap="gray_r", interpolation="nearest")
    colours = ax.imshow(mask, origin="lower", aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    colours.set_alpha(np.clip(mask, 0, 1) * 0.8)
    ax.set_title(title, fontsize="small")
    ax.set_xlabel("frame")


def mask_figure(example: SeparationExample) -> Figure:
    """One row per representation: the estimated mask over the mixture's magnitudes, and the oracle binary mask."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2 * len(example.panels)), layout="constrained")
    axes = np.atleast_2d(fig.subplots(len(example.panels), 2))
    for row, panel in zip(axes, example.panels):
        _draw(row[0], panel.magnitude, panel.mask, f"{panel.label}: estimated mask over the mixture", "Reds")
        _draw(row[1], panel.magnitude, panel.oracle, f"{panel.label}: oracle binary mask", "Blues")
        unit = "channel (by carrier)" if panel.label != "STFT" else "frequency bin"
        row[0].set_ylabel(unit)
    fig.suptitle(example.label)
    return fig


def show_separation_example(example: SeparationExample) -> None:
    """Audio players (mixture, true vocals, blind and oracle estimates) and :func:`mask_figure`."""
    from IPython.display import HTML

    for label, signal in example.audio.items():
        bundle = audio_bundle(signal, example.sample_rate, label)
        display(HTML(bundle["data"]["text/html"]))
    show_figure(mask_figure(example))


def show_separation_table(tables: SeparationTables) -> None:
    """The caption and the formatted table (``rlsv.study.separation.table.write_separation_table``)."""
    from IPython.display import Markdown

    display(Markdown(tables.caption))
    display(tables.table)
