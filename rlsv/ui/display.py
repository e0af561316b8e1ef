"""What the notebooks show: live loss curves, stems with spectrograms and players, summaries.

Everything here renders to plain MIME data (PNG images, HTML audio players, tables), so it works
in JupyterLab 4, in papermill-executed notebooks and in static viewers without any extension.
Outside IPython the display calls do nothing.

* :class:`LiveLossPlot` -- ``fit(..., callback=plot)`` redraws the loss curves in place.
* :func:`show_track` -- one track: spectrograms of mixture, vocals, accompaniment and players.
* :func:`summary_frame`, :func:`side_by_side` -- mean ± std and median of the metrics.
* :func:`show_figure` -- display a matplotlib figure made without pyplot.
* :func:`figure_png`, :func:`png_bundle`, :func:`audio_bundle` -- MIME bundles (the explorer's output).
"""

from __future__ import annotations

import base64
import io
import time
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np
import pandas as pd

from rlsv.run.summary import METRICS, STATISTICS, summarise
from rlsv.study.tables import format_mean_std, format_number

if TYPE_CHECKING:  # matplotlib is imported where a figure is drawn (notebook 03 draws none)
    from matplotlib.figure import Figure

__all__ = [
    "METRIC_NAMES",
    "figure_png",
    "png_bundle",
    "audio_bundle",
    "html_bundle",
    "display",
    "show_figure",
    "LiveLossPlot",
    "loss_figure",
    "track_figure",
    "show_track",
    "summary_frame",
    "side_by_side",
]

METRIC_NAMES: dict[str, str] = {"si_sdr": "SI-SDR (dB)", "si_sdr_mask": "SI-SDR binary mask (dB)",
                                "additivity": "additivity A(·)"}


def _ipython_display():
    """IPython's ``display`` inside a kernel/shell, else None."""
    try:
        from IPython import get_ipython
        from IPython.display import display as ipy_display
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return ipy_display if get_ipython() is not None else None


def display(*objects: Any, **kwargs: Any):
    """``IPython.display.display`` when running under IPython; a no-op (returning None) otherwise."""
    ipy_display = _ipython_display()
    return ipy_display(*objects, **kwargs) if ipy_display is not None else None


def show_figure(fig: Figure, dpi: int = 100) -> None:
    """Display a matplotlib ``Figure`` (made without pyplot) as a PNG image."""
    from IPython.display import Image

    display(Image(data=figure_png(fig, dpi), format="png"))


def show_section(figures: Any, name: str, dpi: int = 100) -> None:
    """One figure's section of notebook 05 (``rlsv.study.readings``): the paper's claim, the numbers behind the
    figure, the figure (or why it is missing), and the reading of ours against the paper."""
    from rlsv.study.readings import figure_section

    if name not in figures.figures:
        print(f"{name} was not drawn: {figures.missing.get(name, 'its runs are missing')}")
        return
    section = figure_section(name, figures.segments, figures.profile, figures.variant)
    print(f"The paper: {section.claim}")
    display(section.numbers.round(3))
    show_figure(figures.figures[name], dpi)
    print(f"Reading: {section.reading}")


def figure_png(fig: Figure, dpi: int = 100) -> bytes:
    """``fig`` rendered to PNG bytes (no pyplot, no backend needed)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def png_bundle(fig: Figure, dpi: int = 100, text: str = "figure") -> dict[str, Any]:
    """A ``display_data`` output (nbformat / ``ipywidgets.Output.outputs``) showing ``fig``."""
    return {"output_type": "display_data", "metadata": {},
            "data": {"image/png": base64.b64encode(figure_png(fig, dpi)).decode("ascii"), "text/plain": text}}


def html_bundle(html: str, text: str = "") -> dict[str, Any]:
    """A ``display_data`` output with HTML (and a plain-text fallback)."""
    return {"output_type": "display_data", "metadata": {}, "data": {"text/html": html, "text/plain": text}}


def audio_bundle(signal: np.ndarray, rate: int, label: str) -> dict[str, Any]:
    """A labelled HTML ``<audio>`` player for a mono signal (embedded WAV, normalised)."""
    from IPython.display import Audio

    player = Audio(np.asarray(signal, dtype=np.float32), rate=rate)._repr_html_()
    return html_bundle(f"<div style='display:flex;align-items:center;gap:1em'>"
                       f"<span style='min-width:12em'>{label}</span>{player}</div>", f"[audio] {label}")


# --------------------------------------------------------------------------- live loss curves


def loss_figure(history: pd.DataFrame, title: str | None = None) -> Figure:
    """Loss curves of a run: ``neg_snr`` and the regulariser per step, with per-epoch means."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.2), layout="constrained")
    axes = fig.subplots(1, 2)
    for ax, column, label in ((axes[0], "neg_snr", "negative SNR (dB)"),
                              (axes[1], "regulariser", "regulariser")):
        if len(history):
            ax.plot(history["step"], history[column], lw=0.8, alpha=0.5, label="step")
            means = history.groupby("epoch").agg(step=("step", "max"), value=(column, "mean"))
            ax.plot(means["step"], means["value"], "o-", label="epoch mean")
            ax.legend(loc="best", fontsize="small")
        ax.set_xlabel("step")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title)
    return fig


class LiveLossPlot:
    """Loss curves redrawn in place while ``fit`` runs: pass the object as ``callback``.

    Args:
        title: figure title (e.g. the run id).
        live: redraw during training (False: draw once, in :meth:`finish`).
        min_interval_s: at most one redraw per this many seconds (rendering costs ~0.1 s).
    """

    def __init__(self, title: str | None = None, live: bool = True, min_interval_s: float = 2.0) -> None:
        self.title, self.live, self.min_interval_s = title, live, min_interval_s
        self._handle = None
        self._last = -np.inf

    def _show(self, history: pd.DataFrame) -> None:
        from IPython.display import Image

        image = Image(data=figure_png(loss_figure(history, self.title)), format="png")
        if self._handle is None:
            self._handle = display(image, display_id=True)
        else:
            self._handle.update(image)

    def __call__(self, history: pd.DataFrame) -> None:
        if not self.live or _ipython_display() is None:
            return
        now = time.monotonic()
        if now - self._last >= self.min_interval_s:
            self._last = now
            self._show(history)

    def finish(self, history: pd.DataFrame) -> None:
        """Draw the final curves (replacing the live ones)."""
        if _ipython_display() is not None:
            self._show(history)


# --------------------------------------------------------------------------- tracks (notebook 01)


def track_figure(signals: Mapping[str, np.ndarray], sample_rate: int, title: str | None = None,
                 n_fft: int = 2048) -> Figure:
    """Waveform and spectrogram (dB) of each signal, one row per signal."""
    from matplotlib import mlab
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 2.2 * len(signals)), layout="constrained")
    axes = fig.subplots(len(signals), 2, squeeze=False, width_ratios=[1, 3])
    for (name, signal), (ax_wave, ax_spec) in zip(signals.items(), axes):
        t = np.arange(len(signal)) / sample_rate
        ax_wave.plot(t, signal, lw=0.4)
        ax_wave.set_ylabel(name)
        ax_wave.set_xlim(0, t[-1] if len(t) else 1)
        x = np.asarray(signal, dtype=np.float64)
        if len(x) < n_fft:
            x = np.pad(x, (0, n_fft - len(x)))
        power, freqs, times = mlab.specgram(x, NFFT=n_fft, Fs=sample_rate, noverlap=n_fft * 3 // 4)
        db = 10 * np.log10(power + 1e-20)
        top = max(float(db.max()), -100.0)  # a silent signal is drawn black, not stretched
        ax_spec.imshow(db, origin="lower", aspect="auto", cmap="magma", vmin=top - 90, vmax=top,
                       extent=(0, len(x) / sample_rate, freqs[0], freqs[-1]))
        ax_spec.set_ylabel("Hz")
    axes[-1, 0].set_xlabel("time (s)")
    axes[-1, 1].set_xlabel("time (s)")
    if title:
        fig.suptitle(title)
    return fig


def show_track(dataset, track, seconds: float | None = 8.0, offset_s: float = 0.0) -> Figure:
    """Display one track of a ``MusdbDataset``: spectrograms and players of mixture, vocals, accompaniment.

    Args:
        dataset, track: ``rlsv.audio.musdb.MusdbDataset`` and one of its ``Track`` s.
        seconds: excerpt length (None: the whole track); ``offset_s``: where it starts.
    """
    audio = dataset.load(track)
    sr = dataset.sample_rate
    start = int(offset_s * sr)
    stop = None if seconds is None else start + int(seconds * sr)
    signals = {"mixture": np.asarray(audio.mixture[start:stop]), "vocals": np.asarray(audio.vocals[start:stop]),
               "accompaniment": np.asarray(audio.accompaniment[start:stop])}
    fig = track_figure(signals, sr, title=f"{track.subset}/{track.name}")
    from IPython.display import HTML

    show_figure(fig)
    for name, signal in signals.items():
        display(HTML(audio_bundle(signal, sr, f"{track.name}: {name}")["data"]["text/html"]))
    return fig


# --------------------------------------------------------------------------- summaries (notebook 03)


def summary_frame(segments: pd.DataFrame, metrics: Sequence[str] = METRICS, decimals: int = 2) -> pd.DataFrame:
    """One row per metric: ``mean ± std`` (the paper's format, ``31.49 (± 2.98)`` as in the tables,
    std ddof=0; ``–`` for a metric without values, e.g. the STFT's reconstruction), ``median``, ``count`` and
    ``collapsed`` (segments at the SI-SDR floor of -240 dB, which weigh on the mean; ``–`` for additivity)."""
    stats = summarise(segments, metrics)
    rows = {}
    for metric in metrics:
        mean, std, median, count, collapsed = (stats.at[metric, s] for s in STATISTICS)
        rows[METRIC_NAMES.get(metric, metric)] = {  # no mean: "–" here, not the tables' "missing"
            "mean ± std": "–" if pd.isna(mean) else format_mean_std(mean, std, decimals),
            "median": format_number(median, decimals),
            "count": int(count),
            "collapsed": "–" if pd.isna(collapsed) else int(collapsed),
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def side_by_side(results: Mapping[str, pd.DataFrame], metrics: Sequence[str] = METRICS,
                 decimals: int = 2) -> pd.DataFrame:
    """:func:`summary_frame` of several per-segment tables next to each other (columns: name, statistic)."""
    frames = {name: summary_frame(segments, metrics, decimals) for name, segments in results.items()}
    return pd.concat(frames, axis=1)
