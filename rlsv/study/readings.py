"""What each of Figures 2-6 should show, the numbers behind it, and a one-line reading of ours against the paper.

For every figure, :func:`figure_section` returns a :class:`FigureSection`: the paper's claim
(:data:`FIGURE_CLAIMS`, with the paper's own numbers from ``rlsv.study.paper_values``), the numbers the figure
draws (per grid point: mean, 95 % interval, median, collapsed segments, seeds, the paper's mean), and a reading
computed from those numbers -- never typed -- that says where ours stand against the paper's and whether a
difference between rows lies beyond the noise: the difference's own 95 % interval above 0
(``rlsv.study.trends.compare``, as in the results snippet), with the gap between the two rows' intervals
beside it. Notebook 05 shows one section per figure; the results
snippet (``rlsv.study.results_snippet``) quotes the readings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import pandas as pd

from rlsv.run.spec import RunSpec, sinkhorn, tv
from rlsv.study.grids import get_grid
from rlsv.study.paper_values import FIGURE4_PANELS, paper_value
from rlsv.study.plots import metric_points
from rlsv.study.results import run_set_rows
from rlsv.study.trends import TrendTest, compare

__all__ = ["FIGURE_CLAIMS", "FigureSection", "figure_numbers", "figure_reading", "figure_section",
           "interval_gap"]


def _paper(spec: RunSpec, metric: str) -> float:
    value = paper_value(spec, metric)
    return float("nan") if value is None else value[0]


def _claims() -> dict[str, str]:
    a_tv = [_paper(tv(w), "additivity") for w in (0.5, 1.0, 1.5, 2.0, 4.0)]
    bm_tv = [_paper(tv(w), "si_sdr_mask") for w in (0.5, 1.0, 1.5, 2.0, 4.0)]
    a05, a15 = _paper(sinkhorn(1.0, 0.5), "additivity"), _paper(sinkhorn(1.0, 1.5), "additivity")
    bm05, bm15 = _paper(sinkhorn(1.0, 0.5), "si_sdr_mask"), _paper(sinkhorn(1.0, 1.5), "si_sdr_mask")
    a_w = [_paper(sinkhorn(w, 1.5), "additivity") for w in (1.0, 4.0)]
    return {
        "figure2": "With L_B (ω = 4, λ = 1.5) the accompaniment shows vertical activity (across channels) and the "
                   "singing voice horizontal activity (few channels, varying smoothly in time); this encoder is "
                   f"the most additive of Table 2 (A = {_paper(sinkhorn(4.0, 1.5), 'additivity'):.2f}).",
        "figure3": f"L_A barely depends on ω: A {min(a_tv):.2f}–{max(a_tv):.2f}, oracle binary-mask SI-SDR "
                   f"{min(bm_tv):.2f}–{max(bm_tv):.2f} dB over ω = 0.5 … 4.",
        "figure4": "L_A gives smooth, blurry representations; L_B at λ = 0.5 shows horizontal structure for the voice; "
                   "at λ = 1.5 the accompaniment is distinguished by vertical activity.",
        "figure5": f"L_B (ω = 1): additivity rises from {a05:.2f} at λ = 0.5 to {a15:.2f} at λ = 1.5 while oracle "
                   f"binary masking collapses ({bm05:.2f} → {bm15:.2f} dB); for λ > 2 both return to the low-entropy "
                   "behaviour.",
        "figure6": f"Around λ = 1.5 (λ ∈ {{1.3, 1.5, 2}}) the rows are nearly identical; at λ = 1.5 A rises with ω "
                   f"({a_w[0]:.2f} at ω = 1 to {a_w[1]:.2f} at ω = 4, Table 2).",
    }


FIGURE_CLAIMS: Mapping[str, str] = _claims()
"""The paper's claim for each figure, in a sentence, with the paper's own numbers (Tables 1 and 2)."""

_COLUMNS = ["metric", "x", "hue", "n_seeds", "mean", "ci_low", "ci_high", "median", "collapsed", "paper"]


def figure_numbers(name: str, segments: pd.DataFrame, profile: str | None = None,
                   variant: str | None = None) -> pd.DataFrame:
    """The numbers behind figure ``name``: per metric and grid point, ``mean, ci_low, ci_high, median,
    collapsed, n_seeds`` and the paper's mean (``rlsv.study.plots.metric_points``). Figures 2 and 4 draw
    representations: their numbers are the metrics of the runs they show."""
    if name in ("figure3", "figure5", "figure6"):
        x, hue = {"figure3": ("omega", None), "figure5": ("lam", "p"), "figure6": ("omega", "lam")}[name]
        points = metric_points(segments, get_grid(name), x=x, hue=hue, profile=profile, variant=variant)
        return points[_COLUMNS]
    specs = [spec for spec, _ in FIGURE4_PANELS] if name == "figure4" else list(get_grid("figure2"))
    rows = []
    for spec in specs:
        points = metric_points(segments, [spec], x="omega", profile=profile, variant=variant)
        rows.append(points.assign(run=_spec_name(spec))[["run", *_COLUMNS]])
    return pd.concat(rows, ignore_index=True)


def _spec_name(spec: RunSpec) -> str:
    if spec.objective == "tv":
        return f"L_A ω={spec.omega:g}"
    return f"L_B ω={spec.omega:g} λ={spec.lam:g}" + (f" p={spec.p}" if spec.p != 1 else "")


def interval_gap(high_row: Mapping[str, Any], low_row: Mapping[str, Any]) -> float:
    """How far the 95 % interval of ``high_row`` lies above that of ``low_row`` (positive: beyond the noise)."""
    return float(high_row["ci_low"]) - float(low_row["ci_high"])


def _point(numbers: pd.DataFrame, metric: str, x: float, hue: float | None = None) -> pd.Series | None:
    rows = numbers[(numbers["metric"] == metric) & (numbers["x"] == x)]
    if hue is not None:
        rows = rows[rows["hue"] == hue]
    rows = rows.dropna(subset=["mean"])
    return None if rows.empty else rows.iloc[0]


Compare = Callable[[str, RunSpec, RunSpec], "TrendTest | None"]
"""``compare(metric, higher, lower)``: the difference test of two grid points of the figure's run set."""


def _beyond(gap: float, test: TrendTest | None = None) -> str:
    if test is None:
        return f"beyond the 95 % intervals (gap {gap:+.2f})" if gap > 0 else f"within the noise (gap {gap:+.2f})"
    apart = "apart" if gap > 0 else "overlapping"
    return (f"{'beyond the noise' if test.holds else 'within the noise'}: difference {test.difference:+.3f} "
            f"[{test.low:+.3f}, {test.high:+.3f}] (the two intervals {apart}, gap {gap:+.3f})")


def _no_test(metric: str, higher: RunSpec, lower: RunSpec) -> None:
    return None


def _read_figure3(numbers: pd.DataFrame, test: Compare = _no_test) -> str:
    a = numbers[numbers["metric"] == "additivity"].dropna(subset=["mean"])
    bm = numbers[numbers["metric"] == "si_sdr_mask"].dropna(subset=["mean"])
    if a.empty:
        return "no L_A run has finished."
    top, bottom = a.loc[a["mean"].idxmax()], a.loc[a["mean"].idxmin()]
    spread = test("additivity", tv(float(top["x"])), tv(float(bottom["x"])))
    return (f"ours: A {a['mean'].min():.2f}–{a['mean'].max():.2f} over ω (paper {a['paper'].min():.2f}–"
            f"{a['paper'].max():.2f}), the spread {_beyond(interval_gap(top, bottom), spread)}; "
            f"BM {bm['mean'].min():.2f}–{bm['mean'].max():.2f} dB "
            f"(paper {bm['paper'].min():.2f}–{bm['paper'].max():.2f}).")


def _read_figure5(numbers: pd.DataFrame, test: Compare = _no_test) -> str:
    a05, a15 = _point(numbers, "additivity", 0.5, 1.0), _point(numbers, "additivity", 1.5, 1.0)
    b05, b15 = _point(numbers, "si_sdr_mask", 0.5, 1.0), _point(numbers, "si_sdr_mask", 1.5, 1.0)
    if a05 is None or a15 is None or b05 is None or b15 is None:
        return "the runs at λ = 0.5 and 1.5 (p = 1) have not all finished."
    collapsed = (f", {int(b15['collapsed'])} collapsed segments, median {b15['median']:.2f} dB"
                 if b15["collapsed"] else "")
    return (f"ours (p = 1): A {a05['mean']:.2f} → {a15['mean']:.2f} from λ = 0.5 to 1.5 (paper {a05['paper']:.2f} → "
            f"{a15['paper']:.2f}), "
            f"{_beyond(interval_gap(a15, a05), test('additivity', sinkhorn(1.0, 1.5), sinkhorn(1.0, 0.5)))}; "
            f"BM {b05['mean']:.2f} → {b15['mean']:.2f} dB (paper {b05['paper']:.2f} → {b15['paper']:.2f}{collapsed}), "
            f"{_beyond(interval_gap(b05, b15), test('si_sdr_mask', sinkhorn(1.0, 0.5), sinkhorn(1.0, 1.5)))}.")


def _read_figure6(numbers: pd.DataFrame, test: Compare = _no_test) -> str:
    w1, w4 = _point(numbers, "additivity", 1.0, 1.5), _point(numbers, "additivity", 4.0, 1.5)
    if w1 is None or w4 is None:
        return "the runs at λ = 1.5, ω = 1 and 4 have not both finished."
    return (f"ours at λ = 1.5: A {w1['mean']:.2f} at ω = 1 → {w4['mean']:.2f} at ω = 4 (paper {w1['paper']:.2f} → "
            f"{w4['paper']:.2f}), "
            f"{_beyond(interval_gap(w4, w1), test('additivity', sinkhorn(4.0, 1.5), sinkhorn(1.0, 1.5)))}.")


def _read_runs(numbers: pd.DataFrame, test: Compare = _no_test) -> str:
    parts = []
    for run, rows in numbers.groupby("run", sort=False):
        a = rows[rows["metric"] == "additivity"].iloc[0]
        bm = rows[rows["metric"] == "si_sdr_mask"].iloc[0]
        if pd.isna(a["mean"]):
            parts.append(f"{run}: not finished")
            continue
        paper_bm = f"{bm['paper']:.2f} dB" if pd.notna(bm["paper"]) else "no BM published"
        paper = f" (paper {a['paper']:.2f} / {paper_bm})" if pd.notna(a["paper"]) else ""
        parts.append(f"{run}: A {a['mean']:.2f}, BM {bm['mean']:.2f} dB{paper}")
    return "ours: " + "; ".join(parts) + "."


_READERS: Mapping[str, Callable[[pd.DataFrame, Compare], str]] = {
    "figure2": _read_runs, "figure3": _read_figure3, "figure4": _read_runs, "figure5": _read_figure5,
    "figure6": _read_figure6,
}


def figure_reading(name: str, numbers: pd.DataFrame, segments: pd.DataFrame | None = None) -> str:
    """One line computed from :func:`figure_numbers`: ours against the paper, and whether the figure's
    difference lies beyond the noise (tested on ``segments``, the figure's run set, when given; else only the
    gap between the two rows' intervals)."""
    if segments is None:
        return _READERS[name](numbers, _no_test)
    return _READERS[name](numbers, lambda metric, higher, lower: compare(segments, metric, higher, lower))


@dataclass(frozen=True)
class FigureSection:
    """One figure's section of notebook 05: ``claim`` (the paper's), ``numbers`` (behind the figure),
    ``reading`` (ours against the paper, computed)."""

    name: str
    claim: str
    numbers: pd.DataFrame
    reading: str


def figure_section(name: str, segments: pd.DataFrame, profile: str | None = None,
                   variant: str | None = None) -> FigureSection:
    """The :class:`FigureSection` of figure ``name`` from a run set's segments."""
    numbers = figure_numbers(name, segments, profile, variant)
    _, _, rows = run_set_rows(segments, profile, variant)
    return FigureSection(name, FIGURE_CLAIMS[name], numbers, figure_reading(name, numbers, rows))
