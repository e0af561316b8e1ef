"""What the λ explorer draws: the colour scale of the representations and the metrics table.

* :func:`activation_peak` -- the largest activation of a model on a track (mixture, vocals and
  accompaniment of every segment): the explorer's shared colour scale is the largest peak of every
  finished run it knows (:func:`apply_colour_scale`).
* :func:`window_metrics` -- the metrics of the segments one hears (the window), as the evaluation
  computed them (``segments.csv``): the mean over the window's segments with audible vocals.
* :func:`metrics_html` -- the table: the marked segment, the window, and the whole run (``summary.json``),
  each column saying what it covers.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rlsv.run.files import SEGMENTS, SUMMARY

__all__ = ["ORACLE", "SegmentTiming", "activation_peak", "apply_colour_scale", "window_metrics", "metrics_html",
           "summary_of"]

ORACLE = "oracle binary mask (needs the true vocals)"
_METRICS: tuple[tuple[str, str, str], ...] = (("additivity", "additivity A(·)", ""),
                                              ("si_sdr_mask", f"SI-SDR, {ORACLE}", " dB"),
                                              ("si_sdr", "SI-SDR reconstruction of the vocals", " dB"))


@dataclass(frozen=True)
class SegmentTiming:
    """How the explorer's audio is cut: ``segment_s`` seconds per segment (``N`` samples at ``rate``), the
    window of segments ``start`` .. ``stop - 1`` heard, the chosen segment ``segment``."""

    samples: int
    rate: int
    start: int
    stop: int
    segment: int

    @property
    def segment_s(self) -> float:
        return self.samples / self.rate

    @property
    def window_s(self) -> float:
        return (self.stop - self.start) * self.segment_s

    def sentence(self) -> str:
        """One line that states the lengths and what each part of the view covers."""
        return (f"The model encodes segments of N = {self.samples} samples = {self.segment_s:g} s at "
                f"{self.rate / 1000:g} kHz, each on its own, as the evaluation does. The image and the players cover "
                f"segments {self.start}–{self.stop - 1} ({self.window_s:g} s, segment by segment joined); "
                f"segment {self.segment} is marked in the image by the cyan lines.")


def activation_peak(model, tracks_segments) -> float:
    """The largest activation of ``model`` over every segment of one track (``TrackSegments``): mixture,
    vocals and accompaniment (``A`` is non-negative, ``A = ReLU(...)``)."""
    import torch

    ts = tracks_segments
    device = next(model.parameters()).device
    model.eval()
    peak = 0.0
    with torch.no_grad():
        for signals in (ts.mixture, ts.vocals, ts.accompaniment):
            for start in range(0, len(signals), 64):
                batch = torch.from_numpy(np.asarray(signals[start:start + 64], np.float32)).to(device)
                peak = max(peak, float(model.encode(batch).max()))
    return peak


def apply_colour_scale(fig, vmax: float) -> None:
    """Set the representation images of ``fig`` (``rlsv.study.plots.plot_representations``) and their colour
    bar to the range ``0 .. vmax`` (the images share one norm)."""
    from matplotlib.image import AxesImage

    for image in fig.findobj(AxesImage):
        image.norm.vmin, image.norm.vmax = 0.0, float(vmax)


def window_metrics(run_dir: Path, track: str, start: int, stop: int) -> dict[str, Any]:
    """The metrics of segments ``start .. stop - 1`` of ``track`` as the evaluation computed them (the run's
    ``segments.csv``: the segments with audible vocals, each on its own): their mean and ``count``. NaN
    means when none (``count`` 0), or when the run has no ``segments.csv`` (``count`` None)."""
    import pandas as pd

    try:
        rows = pd.read_csv(Path(run_dir) / SEGMENTS, dtype={"track": str})
    except (OSError, ValueError):
        return {"count": None, **{name: float("nan") for name, _, _ in _METRICS}}
    rows = rows[(rows["track"] == track) & (rows["segment"] >= start) & (rows["segment"] < stop)]
    return {"count": len(rows), **{name: float(rows[name].mean()) if len(rows) else float("nan")
                                   for name, _, _ in _METRICS}}


def summary_of(run_dir: Path) -> dict[str, Any]:
    """The run's ``summary.json`` (``{}`` when missing or unreadable)."""
    try:
        summary = json.loads((Path(run_dir) / SUMMARY).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return summary if isinstance(summary, dict) else {}


def _number(value: float | None, unit: str, digits: int) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.{digits}f}{unit}"


def metrics_html(run_id: str, source: str, segment: Mapping[str, float], window: Mapping[str, Any],
                 summary: Mapping[str, Any], timing: SegmentTiming) -> str:
    """The metrics table: the marked segment, the window heard, the whole run, with what each covers."""

    def run_cell(metric: str, unit: str) -> str:
        stats = summary.get(metric) or {}
        if stats.get("mean") is None:
            return "–"
        return f"{stats['mean']:.2f} ± {stats['std']:.2f}{unit} (median {stats['median']:.2f})"

    count = (summary.get("additivity") or {}).get("count")
    rows = "".join(
        f"<tr><td>{label}</td><td style='text-align:right'>{_number(segment[name], unit, 3 if not unit else 2)}</td>"
        f"<td style='text-align:right'>{_number(window[name], unit, 3 if not unit else 2)}</td>"
        f"<td>{run_cell(name, unit)}</td></tr>" for name, label, unit in _METRICS)
    heard = (f"the {timing.window_s:g} s you hear: mean of its {window['count']} segments with audible vocals "
             f"({timing.start}–{timing.stop - 1}, from segments.csv)" if window["count"] is not None else
             f"the {timing.window_s:g} s you hear (no segments.csv)")
    whole = f"the run: all {count} test segments with audible vocals" if count else "the run (not evaluated)"
    return (f"<p><code>{html.escape(run_id)}</code> <span style='color:#666'>({html.escape(source)})</span></p>"
            f"<table class='rlsv-metrics'><thead><tr><th>metric</th>"
            f"<th>segment {timing.segment} ({timing.segment_s:g} s, marked)</th><th>{heard}</th>"
            f"<th>{whole} (mean ± std)</th></tr></thead><tbody>{rows}</tbody></table>"
            f"<p style='color:#555;font-size:90%'>{html.escape(timing.sentence())} Segments whose vocals are "
            "silent are left out of the means, as in the evaluation.</p>")
