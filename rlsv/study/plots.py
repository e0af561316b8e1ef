"""The paper's figures, drawn from arrays (Figures 2, 4) or from many runs (Figures 3, 5, 6).

* Figures 2 and 4 (learned representations of one test segment) are ``rlsv.study.representation_plots``.
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
from typing import Any, Literal, Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from rlsv.atomic import atomic_path
from rlsv.errors import ConfigError
from rlsv.run.spec import RunSpec
from rlsv.run.summary import METRICS, SI_SDR_METRICS, STD_DDOF, collapsed
from rlsv.study.grids import get_grid
from rlsv.study.intervals import interval_by_seed
from rlsv.study.paper_values import paper_value
from rlsv.study.results import run_set_rows, select_specs

__all__ = [
    "METRIC_AXIS_LABELS",
    "PointStatistics",
    "point_statistics",
    "metric_points",
    "plot_metric_errorbars",
    "plot_figure3",
    "plot_figure5",
    "plot_figure6",
    "save_figure",
    "wrap_title",
    "add_provenance_footer",
]


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


# --- Figures 3, 5, 6: mean, interval and spread over a hyper-parameter ------------------------


@dataclass(frozen=True)
class PointStatistics:
    """One grid point's statistics of one metric (:func:`point_statistics`)."""

    mean: float  # mean over seeds of each seed's mean over test segments
    ci_low: float  # 95 % bootstrap interval of that mean over seeds and segments (rlsv.study.intervals)
    ci_high: float
    std: float  # std over all test segments of all seeds (ddof = STD_DDOF, the paper's spread)
    n_seeds: int
    median: float = float("nan")  # median over all test segments of all seeds
    collapsed: int = 0  # segments at the SI-SDR floor of -240 dB (rlsv.run.summary.collapsed), kept in the mean


def point_statistics(rows: pd.DataFrame, metric: str) -> PointStatistics:
    """:class:`PointStatistics` of ``metric`` over ``rows`` (one grid point: segments of one or more seeds)."""
    interval = interval_by_seed(rows, metric)
    values = rows[metric].dropna()
    std = float(values.std(ddof=STD_DDOF)) if len(values) > STD_DDOF else float("nan")
    return PointStatistics(interval["mean"], interval["ci_low"], interval["ci_high"], std, interval["n_seeds"],
                           float(values.median()) if len(values) else float("nan"),
                           collapsed(values) if metric in SI_SDR_METRICS else 0)


def _parameter_levels(specs: Sequence[RunSpec], column: str) -> list[float]:
    return sorted({getattr(spec, column) for spec in specs})


def _level_label(column: str, value: float) -> str:
    return f"{_PARAMETER_LABELS[column]} = {value:g}"


def _spec_at(specs: Sequence[RunSpec], x: str, x_value: float, hue: str | None, hue_value: float | None
             ) -> RunSpec | None:
    for spec in specs:
        if getattr(spec, x) == x_value and (hue is None or getattr(spec, hue) == hue_value):
            return spec
    return None


def _paper_overlaps(ours: Sequence[float], paper: Sequence[float]) -> bool:
    """Whether the paper's values fall in (or near) the range of ours: then they share the axis."""
    ours = [v for v in ours if np.isfinite(v)]
    paper = [v for v in paper if np.isfinite(v)]
    if not ours or not paper:
        return True
    low, high = min(ours), max(ours)
    margin = max(high - low, 1e-9)
    return min(paper) <= high + 2 * margin and max(paper) >= low - 2 * margin


def metric_points(segments: pd.DataFrame, specs: Sequence[RunSpec], x: str, hue: str | None = None,
                  profile: str | None = None, variant: str | None = None) -> pd.DataFrame:
    """What Figures 3, 5 and 6 draw: one row per metric and grid point of ``specs``.

    Args:
        segments: :func:`rlsv.study.results.load_runs` output (one row per seed and test segment).
        specs: the grid points (others in ``segments`` are ignored).
        x, hue: hyper-parameter columns of the x axis and of the colours (``None``: one colour).
        profile, variant: which runs when ``segments`` holds several run sets
            (:func:`rlsv.study.results.run_set_rows`).

    Returns:
        Columns ``metric, x, hue`` (the levels), ``position`` (categorical x index plus the colour's
        dodge), ``mean, ci_low, ci_high, std, n_seeds, median, collapsed`` (:func:`point_statistics`, NaN
        for a run not finished) and ``paper`` (the paper's mean, NaN where it published none). Raises a
        ``ValueError`` when none of ``specs`` has results.
    """
    profile, variant, rows = run_set_rows(segments, profile, variant)
    data = select_specs(rows, specs)
    if data.empty:
        raise ConfigError(f"None of the {len(specs)} requested runs is in the results "
                         f"(profile {profile!r}); see rlsv.study.run_overview.run_status().")
    x_levels = _parameter_levels(specs, x)
    hue_levels: list[float | None] = _parameter_levels(specs, hue) if hue is not None else [None]
    offsets = np.linspace(-0.25, 0.25, len(hue_levels)) if len(hue_levels) > 1 else [0.0]
    points = []
    for metric in METRICS:
        for offset, level in zip(offsets, hue_levels):
            for i, value in enumerate(x_levels):
                spec = _spec_at(specs, x, value, hue, level)
                if spec is None:
                    continue
                point_rows = select_specs(data, [spec])
                finished = not (point_rows.empty or point_rows[metric].isna().all())
                stats = point_statistics(point_rows, metric) if finished else PointStatistics(*[np.nan] * 4, 0)
                published = paper_value(spec, metric)
                points.append({"metric": metric, "x": value, "hue": level, "position": i + offset,
                               "mean": stats.mean, "ci_low": stats.ci_low, "ci_high": stats.ci_high,
                               "std": stats.std, "n_seeds": stats.n_seeds, "median": stats.median,
                               "collapsed": stats.collapsed, "paper": published[0] if published else np.nan})
    return pd.DataFrame(points)


PAPER_LABEL = "paper (MUSDB18, C=800): mean"
COLLAPSED_LABEL = "k×: segments collapsed to the -240 dB SI-SDR floor (kept in the mean)"
_PAPER_PANEL = "{}_paper"


def _separate_paper_metrics(points: pd.DataFrame, paper: bool) -> list[str]:
    """The metrics whose published values get a panel of their own: only the reconstruction SI-SDR, and only
    where the paper's values lie far from ours (31 dB against 14: one axis would flatten ours). Additivity and
    the binary-mask SI-SDR are the same quantities on comparable scales: always on our axis."""
    if not paper:
        return []
    of = points[points["metric"] == "si_sdr"]
    published = of["paper"].dropna()
    if published.empty or _paper_overlaps(of["mean"].tolist(), published.tolist()):
        return []
    return ["si_sdr"]


def _layout(layout: str, separate: Sequence[str]) -> tuple[list[list[str]], list[float]]:
    """The panel mosaic and its width ratios: the paper's reconstruction panel, when separate, beside ours."""
    paper_panel = [_PAPER_PANEL.format("si_sdr")] if "si_sdr" in separate else []
    if layout == "row":
        top = ["si_sdr", *paper_panel, "si_sdr_mask", "additivity"]
        return [top], [2.0 if name.endswith("_paper") else 3.0 for name in top]
    top = ["si_sdr", *paper_panel, "si_sdr_mask"]
    return [top, ["additivity"] * len(top)], [2.0 if name.endswith("_paper") else 3.0 for name in top]


def plot_metric_errorbars(segments: pd.DataFrame, specs: Sequence[RunSpec], x: str,
                          hue: str | None = None, layout: Literal["row", "paper"] = "paper",
                          profile: str | None = None, variant: str | None = None, title: str | None = None,
                          paper: bool = True) -> Figure:
    """Each metric (one panel per metric) over the hyper-parameter ``x``: our mean, its 95 % interval over
    seeds and test segments, the spread over test segments, the median, the collapsed segments, and the
    paper's mean (:func:`metric_points`).

    Args:
        segments, specs, x, hue, profile, variant: as in :func:`metric_points`; every level of ``x``
            keeps its place on the categorical axis (a missing run leaves a gap).
        layout: ``"row"`` (three panels side by side, Figure 3) or ``"paper"`` (two on top,
            additivity below, Figures 5 and 6).
        title: the figure's title (say what the runs were: data, sizes, steps, seeds); wrapped to the width.
        paper: overlay the paper's means where it published them (Tables 1 and 2): open black diamonds on
            our own axis -- never a second y axis, which would draw 0.76 level with our 0.77 and hide the gap.
            Only the reconstruction SI-SDR, where the paper's 31 dB is far from ours, gets a panel of its own
            beside ours, titled as the paper's.

    Returns:
        A figure whose first three axes are the metrics ``si_sdr``, ``si_sdr_mask``, ``additivity`` (and,
        when separate, a fourth with the paper's reconstruction SI-SDR): per grid point a dot at our mean, a
        thick bar for the 95 % interval of the mean (rows whose thick bars overlap do not differ beyond the
        noise), a thin bar for ± one standard deviation over the test segments (the paper's error bars), an
        open square at the median, ``k×`` under a point with k segments at the -240 dB floor, and one
        legend below the panels.
    """
    points = metric_points(segments, specs, x, hue, profile, variant)
    x_levels = _parameter_levels(specs, x)
    hue_levels: list[float | None] = _parameter_levels(specs, hue) if hue is not None else [None]
    colours = dict(zip(hue_levels, sns.color_palette("colorblind", len(hue_levels))))
    separate = _separate_paper_metrics(points, paper)
    mosaic, widths = _layout(layout, separate)
    fig = Figure(figsize=(12 + 2 * len(separate), 4.8) if layout == "row" else (10 + 2 * len(separate), 8.4),
                 layout="constrained")
    axes = fig.subplot_mosaic(mosaic, width_ratios=widths)
    handles: dict[str, Any] = {}
    for metric in METRICS:
        ax = axes[metric]
        of_metric = points[points["metric"] == metric]
        for level in hue_levels:
            label = _level_label(hue, level) if hue is not None else "ours"
            drawn = of_metric[(of_metric["hue"] == level) if hue is not None else slice(None)].dropna(subset=["mean"])
            if drawn.empty:
                continue
            _draw_points(ax, drawn, colours[level], label, handles)
        published = of_metric.dropna(subset=["paper"]).sort_values("position") if paper else of_metric.iloc[:0]
        target = axes[_PAPER_PANEL.format(metric)] if metric in separate else ax
        if not published.empty:
            handles[PAPER_LABEL] = target.plot(published["position"], published["paper"], marker="D", markersize=6,
                                               markerfacecolor="none", markeredgecolor="black", linestyle="none",
                                               label=PAPER_LABEL)[0]
        for panel in {ax, target}:
            panel.set_xticks(range(len(x_levels)), [f"{v:g}" for v in x_levels])
            panel.set_xlim(-0.6, len(x_levels) - 0.4)
            panel.set_xlabel(_PARAMETER_AXIS_LABELS.get(x, x))
            panel.grid(axis="y", alpha=0.3)
        ax.set_ylabel(METRIC_AXIS_LABELS[metric])
        if target is not ax:
            ax.set_title("ours", fontsize="medium")
            target.set_title("paper (MUSDB18, C=800), same dB scale", fontsize="medium")
            target.set_ylabel(METRIC_AXIS_LABELS[metric])
            _same_scale(ax, target, published["paper"])
    handles["95 % interval of the mean (seeds × segments)"] = Line2D([], [], color="0.3", linewidth=4.5)
    handles["± 1 std over test segments"] = Line2D([], [], color="0.3", linewidth=0.9, alpha=0.6)
    handles["median over test segments"] = Line2D([], [], color="0.3", marker="s", markersize=5,
                                                  markerfacecolor="none", linestyle="none")
    if (points["collapsed"] > 0).any():
        handles[COLLAPSED_LABEL] = Line2D([], [], color="firebrick", marker="$k$", linestyle="none")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(3, len(handles)),
               frameon=False, fontsize="small")
    if title:
        fig.suptitle(wrap_title(title, fig), fontsize="medium")
    return fig


def _same_scale(ours: Axes, theirs: Axes, values: pd.Series) -> None:
    """Give the paper's panel the span of ours (the same dB per inch), centred on its values, so that a 0.5 dB
    spread looks as small there as here."""
    low, high = ours.get_ylim()
    centre = (float(values.min()) + float(values.max())) / 2
    half = max((high - low) / 2, (float(values.max()) - float(values.min())) / 2 * 1.1)
    theirs.set_ylim(centre - half, centre + half)


def _draw_points(ax: Axes, drawn: pd.DataFrame, colour: Any, label: str, handles: dict[str, Any]) -> None:
    """One colour's points on a metric's panel: spread, interval, mean, median, collapsed count."""
    ax.vlines(drawn["position"], drawn["mean"] - drawn["std"], drawn["mean"] + drawn["std"], color=colour,
              linewidth=0.9, alpha=0.6)
    ax.vlines(drawn["position"], drawn["ci_low"], drawn["ci_high"], color=colour, linewidth=4.5)
    handles[label] = ax.plot(drawn["position"], drawn["mean"], marker="o", markersize=5, color=colour,
                             markeredgecolor="white", linestyle="none", label=label)[0]
    ax.plot(drawn["position"], drawn["median"], marker="s", markersize=5, markerfacecolor="none",
            markeredgecolor=colour, linestyle="none")
    for position, k in zip(drawn["position"], drawn["collapsed"]):
        if k > 0:
            ax.annotate(f"{int(k)}×", (position, 0.0), xycoords=("data", "axes fraction"), xytext=(0, 2),
                        textcoords="offset points", ha="center", va="bottom", fontsize="x-small",
                        color="firebrick")


def wrap_title(text: str, fig: Figure, fontsize_pt: float = 10.0) -> str:
    """``text`` wrapped to the figure's width (about 0.55 em per character), line by line; a line holding
    mathtext (``$...$``) is kept whole, since a break inside it would not render."""
    import textwrap

    width = max(40, int(fig.get_figwidth() * 72 / (0.55 * fontsize_pt)))
    return "\n".join(line if "$" in line else textwrap.fill(line, width) for line in text.split("\n"))


def add_provenance_footer(fig: Figure, text: str, fontsize_pt: float = 6.5, note_pt: float = 8.0) -> None:
    """Write ``Made by: <text>`` (``rlsv.study.provenance.short_provenance``) in small grey type under the figure,
    wrapped to its width, with room kept for it by the constrained layout. A note the figure carries as its
    ``supxlabel`` (Figures 2 and 4) moves just above the footer, so that the two never overlap."""
    import textwrap

    def lines(content: str, size_pt: float) -> str:
        return textwrap.fill(content, max(60, int(fig.get_figwidth() * 72 / (0.6 * size_pt))))

    def height(block: str, size_pt: float) -> float:  # in figure fractions, with the line spacing and a margin
        return (block.count("\n") + 1.5) * 1.2 * size_pt / 72 / fig.get_figheight()

    footer = lines(f"Made by: {text}", fontsize_pt)
    bottom = height(footer, fontsize_pt)
    note = fig.get_supxlabel()
    if note:
        fig.supxlabel("")
        block = lines(note, note_pt)
        fig.text(0.5, bottom, block, fontsize=note_pt, color="0.3", ha="center", va="bottom")
        bottom += height(block, note_pt)
    engine = fig.get_layout_engine()
    if engine is not None and hasattr(engine, "set"):
        engine.set(rect=(0, bottom, 1, 1 - bottom))
    fig.text(0.01, 0.003, footer, fontsize=fontsize_pt, color="0.35", ha="left", va="bottom")


def _figure_title(name: str, label: str | None) -> str:
    return f"{name}" + (f"\n{label}" if label else "")


def plot_figure3(segments: pd.DataFrame, profile: str | None = None, variant: str | None = None,
                 label: str | None = None) -> Figure:
    """Figure 3: L_A (total variation) over omega; three panels side by side. ``label``: what the runs were."""
    return plot_metric_errorbars(segments, get_grid("figure3"), x="omega", layout="row", profile=profile,
                                 variant=variant, title=_figure_title("Figure 3: L_A (total variation) over ω", label))


def plot_figure5(segments: pd.DataFrame, profile: str | None = None, variant: str | None = None,
                 label: str | None = None) -> Figure:
    """Figure 5: L_B, omega = 1, over lambda, one colour per cost norm p."""
    return plot_metric_errorbars(segments, get_grid("figure5"), x="lam", hue="p", profile=profile, variant=variant,
                                 title=_figure_title("Figure 5: L_B (Sinkhorn), ω = 1, over λ", label))


def plot_figure6(segments: pd.DataFrame, profile: str | None = None, variant: str | None = None,
                 label: str | None = None) -> Figure:
    """Figure 6: L_B, p = 1, over omega, one colour per lambda in {1.3, 1.5, 2}."""
    return plot_metric_errorbars(segments, get_grid("figure6"), x="omega", hue="lam", profile=profile,
                                 variant=variant, title=_figure_title("Figure 6: L_B (Sinkhorn), p = 1, over ω", label))


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
