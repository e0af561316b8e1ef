"""Figures of the scale study (``docs/scale_study.md``, notebook 07), from ``rlsv.study.scale``'s frames.

* :func:`plot_budget_trends` -- additivity and oracle binary-mask SI-SDR of the six study runs over the
  training steps, one column per model size, with 95 % intervals over seeds and test segments;
* :func:`plot_diagnostics` -- over training: the regulariser's share of the encoder's gradient, the
  scale of the Sinkhorn cost matrix M, the plan's mass on its diagonal, and the cosine between the
  exact and the envelope gradient;
* :func:`plot_cost_scale` -- M's mean entry against C / T at initialisation, and the plan's
  diagonal mass over lambda: where the Sinkhorn term can act.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

__all__ = ["RUN_ORDER", "plot_budget_trends", "plot_diagnostics", "plot_cost_scale"]

RUN_ORDER: tuple[str, ...] = ("L_A ω=1", "L_A ω=4", "L_B λ=0.5 ω=1", "L_B λ=1.5 ω=1", "L_B λ=2 ω=1", "L_B λ=1.5 ω=4")
_COLOURS = dict(zip(RUN_ORDER, ["0.55", "0.25", *sns.color_palette("colorblind", 4)]))
_MARKERS = dict(zip(RUN_ORDER, ["s", "D", "o", "o", "o", "^"]))


def _runs(frame: pd.DataFrame) -> list[str]:
    return [run for run in RUN_ORDER if run in set(frame["run"])] + sorted(set(frame["run"]) - set(RUN_ORDER))


def plot_budget_trends(summary: pd.DataFrame, learning_rate: float | None = None, title: str | None = None,
                       steps_per_epoch: int | None = None) -> Figure:
    """Additivity (top) and oracle binary-mask SI-SDR (bottom) over training, one column per size.

    Args:
        summary: ``rlsv.study.scale.scale_summary`` output.
        learning_rate: show the budgets of this rate (default: the most common one).
        title: the figure's title.
        steps_per_epoch: label the x axis in optimisation steps (else epochs).
    """
    if learning_rate is None:
        learning_rate = summary["learning_rate"].mode().iloc[0]
    data = summary[np.isclose(summary["learning_rate"], learning_rate)]
    sizes = list(dict.fromkeys(data["size"]))
    fig = Figure(figsize=(4.2 * len(sizes) + 1, 7), layout="constrained")
    axes = fig.subplots(2, len(sizes), squeeze=False, sharex="col")
    handles = {}
    for column, size in enumerate(sizes):
        of_size = data[data["size"] == size]
        for row, (metric, label) in enumerate((("additivity", r"Additivity $\mathcal{A}(\cdot)$"),
                                               ("si_sdr_mask", "Oracle binary-mask SI-SDR (dB)"))):
            ax = axes[row, column]
            for run in _runs(of_size):
                rows = of_size[of_size["run"] == run].sort_values("epochs")
                x = rows["epochs"] * (steps_per_epoch or 1)
                ax.fill_between(x, rows[f"{metric}_ci_low"], rows[f"{metric}_ci_high"], color=_COLOURS.get(run),
                                alpha=0.2, linewidth=0)
                handles[run] = ax.plot(x, rows[metric], marker=_MARKERS.get(run, "o"), color=_COLOURS.get(run),
                                       label=run, markersize=4)[0]
            ax.set_xticks(sorted(set(of_size["epochs"] * (steps_per_epoch or 1))))
            ax.grid(alpha=0.3)
            if column == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(size)
            else:
                ax.set_xlabel("optimisation steps" if steps_per_epoch else "epochs")
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(6, len(handles)),
               frameon=False, fontsize="small")
    fig.suptitle(title or f"Scale study, lr {learning_rate:g}: mean and 95 % interval over seeds and test segments",
                 fontsize="medium")
    return fig


def plot_diagnostics(diagnostics: pd.DataFrame, size: str, learning_rate: float | None = None,
                     title: str | None = None) -> Figure:
    """Four panels over training for one size (``rlsv.study.scale.diagnose_study`` rows, seeds averaged):
    the regulariser's share of the encoder gradient ``omega ||grad L_reg|| / ||grad neg-SNR||`` (log
    scale), the mean entry of M, the plan's diagonal mass, and the exact/envelope gradient cosine."""
    data = diagnostics[diagnostics["size"] == size]
    if learning_rate is not None:
        data = data[np.isclose(data["learning_rate"], learning_rate)]
    panels = (("ratio", r"$\omega\,\|\nabla L_{reg}\| \,/\, \|\nabla$ neg-SNR$\|$ (encoder)", True),
              ("m_mean", "mean entry of M (mixture)", False),
              ("plan_diagonal", "Sinkhorn plan: mass on the diagonal", False),
              ("envelope_cosine", "cos(exact, envelope gradient) w.r.t. $A_m$", False))
    fig = Figure(figsize=(12, 7.5), layout="constrained")
    axes = fig.subplots(2, 2).ravel()
    handles = {}
    for ax, (column, label, log) in zip(axes, panels):
        for run in _runs(data):
            rows = data[data["run"] == run]
            if column not in rows or rows[column].isna().all():
                continue
            means = rows.groupby("epochs")[column].agg(["mean", "min", "max"]).reset_index()
            ax.fill_between(means["epochs"], means["min"], means["max"], color=_COLOURS.get(run), alpha=0.15,
                            linewidth=0)
            handles[run] = ax.plot(means["epochs"], means["mean"], marker=_MARKERS.get(run, "o"),
                                   color=_COLOURS.get(run), label=run, markersize=4)[0]
        if log:
            ax.set_yscale("log")
        ax.set_xticks(sorted(data["epochs"].unique()))
        ax.set_ylabel(label)
        ax.set_xlabel("epochs")
        ax.grid(alpha=0.3)
    axes[3].axhline(0.0, color="0.5", linewidth=0.8)
    fig.legend(list(handles.values()), list(handles), loc="outside lower center", ncols=min(6, len(handles)),
               frameon=False, fontsize="small")
    fig.suptitle(title or f"What L_SK does during training, {size} (mean over seeds; band: seeds' range)",
                 fontsize="medium")
    return fig


def plot_cost_scale(init: pd.DataFrame, lambdas: Sequence[float] = (0.5, 1.5, 2.0), title: str | None = None
                    ) -> Figure:
    """Left: the mean entry of M against ``C / T`` at initialisation (one marker per size, gain and seed);
    right: the plan's diagonal mass per size and lambda (``rlsv.study.diagnostics.cost_scale_at_init``)."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    left, right = fig.subplots(1, 2)
    gains = sorted(init["gain"].unique())
    palette = dict(zip(gains, sns.color_palette("viridis", len(gains))))
    for gain in gains:
        rows = init[init["gain"] == gain]
        left.scatter(rows["channels_per_frame"], rows["m_mean"], color=palette[gain], label=f"input gain {gain:g}")
    ratios = np.linspace(0, init["channels_per_frame"].max() * 1.05, 50)
    unit = init[init["gain"] == 1.0] if (init["gain"] == 1.0).any() else init
    slope = float((unit["m_mean"] / unit["channels_per_frame"]).median())
    left.plot(ratios, slope * ratios, color="0.4", linestyle="--", label=f"{slope:.2f} · C/T")
    left.set_xlabel("C / T (channels per frame)")
    left.set_ylabel("mean entry of M")
    left.legend(fontsize="small")
    left.grid(alpha=0.3)
    sizes = list(dict.fromkeys(unit["size"]))
    width = 0.8 / max(1, len(lambdas))
    for k, lam in enumerate(lambdas):
        values = [unit[unit["size"] == size][f"plan_diagonal_l{lam:g}"].mean() for size in sizes]
        right.bar(np.arange(len(sizes)) + (k - (len(lambdas) - 1) / 2) * width, values, width, label=f"λ = {lam:g}")
    right.set_xticks(range(len(sizes)), sizes)
    right.set_ylabel("plan's mass on the diagonal")
    right.legend(fontsize="small")
    right.grid(axis="y", alpha=0.3)
    fig.suptitle(title or "The scale of M grows with C / T: the λ at which the plan leaves the diagonal grows with it",
                 fontsize="medium")
    return fig
