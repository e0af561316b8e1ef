"""The results a reader quotes, written by the run that made them: ``results.md`` beside the tables.

``make reproduce`` (``rlsv.study.reproduce.reproduce``) writes :func:`results_snippet` into
``papermill_runs/tables/<profile>/results.md`` from the tables' numbers (``table1_numbers.csv``,
``table2_numbers.csv``) and their provenance: the rows that carry the paper's findings with their seeds,
95 % intervals, medians and collapsed segments next to the paper's values; the three trends, each as the
difference of its two sides with a 95 % interval (``rlsv.study.trends``: above 0 means beyond the noise) and the
gap between the two sides' own intervals (:func:`trend_gaps`, the stricter reading); and one line saying what
made them. :func:`publish` copies it to ``docs/results/<profile>.md`` and into the README between the markers
:data:`BEGIN` and :data:`END` (``make results``), so that no number in the README is typed by hand.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Mapping

import pandas as pd

from rlsv.atomic import write_text
from rlsv.errors import ConfigError, RunFolderError
from rlsv.study.trends import TrendTest

__all__ = ["SNIPPET", "BEGIN", "END", "trend_gaps", "results_snippet", "write_snippet", "publish"]

SNIPPET = "results.md"
BEGIN = "<!-- results:begin (written by `make results` from `make reproduce`'s results.md; do not edit) -->"
END = "<!-- results:end -->"


def _row(frame: pd.DataFrame, objective: str, omega: float | None = None, lam: float | None = None) -> pd.Series | None:
    rows = frame[frame["objective"] == objective]
    if omega is not None:
        rows = rows[(rows["omega"] - omega).abs() < 1e-9]
    if lam is not None:
        rows = rows[(rows["lam"] - lam).abs() < 1e-9]
    rows = rows.dropna(subset=["additivity_mean"]) if "additivity_mean" in rows else rows
    return None if rows.empty else rows.iloc[0]


def trend_gaps(table1: pd.DataFrame, table2: pd.DataFrame) -> dict[str, float]:
    """The paper's three trends as gaps between 95 % intervals (NaN where a row is missing):

    * ``additivity``: the lower end of A at λ = 1.5 and 2 (L_B, ω = 1) above the upper end of every L_A row;
    * ``masking``: the lower end of the binary-mask SI-SDR at λ = 0.5 above its upper end at λ = 1.5 and 2;
    * ``omega``: the lower end of A at λ = 1.5, ω = 4 above its upper end at ω = 1 (Table 2).
    """
    tv_rows = table1[table1["objective"] == "tv"].dropna(subset=["additivity_mean"])
    l05, l15, l2 = (_row(table1, "sinkhorn", 1.0, lam) for lam in (0.5, 1.5, 2.0))
    w1, w4 = _row(table2, "sinkhorn", 1.0, 1.5), _row(table2, "sinkhorn", 4.0, 1.5)
    nan = math.nan
    additivity = (min(l15["additivity_ci_low"], l2["additivity_ci_low"]) - tv_rows["additivity_ci_high"].max()
                  if l15 is not None and l2 is not None and not tv_rows.empty else nan)
    masking = (l05["si_sdr_mask_ci_low"] - max(l15["si_sdr_mask_ci_high"], l2["si_sdr_mask_ci_high"])
               if l05 is not None and l15 is not None and l2 is not None else nan)
    omega = w4["additivity_ci_low"] - w1["additivity_ci_high"] if w1 is not None and w4 is not None else nan
    return {"additivity": float(additivity), "masking": float(masking), "omega": float(omega)}


def _interval(row: pd.Series, metric: str, decimals: int) -> str:
    return (f"{row[f'{metric}_mean']:.{decimals}f} [{row[f'{metric}_ci_low']:.{decimals}f}, "
            f"{row[f'{metric}_ci_high']:.{decimals}f}]")


def _verdict(gap: float, unit: str = "") -> str:
    if math.isnan(gap):
        return "not measured (rows missing)"
    return f"gap {gap:+.3f}{unit}: {'holds beyond the noise' if gap > 0 else 'NOT beyond the noise'}"


def _tested(test: TrendTest | None, gap: float, unit: str = "") -> str:
    """A trend's difference with its interval and verdict, then the gap between the two sides' intervals."""
    if test is None:
        return "not measured (rows missing)"
    verdict = "holds beyond the noise" if test.holds else "NOT beyond the noise"
    apart = "not measured" if math.isnan(gap) else (f"apart by {gap:+.3f}{unit}" if gap > 0
                                                     else f"overlapping, gap {gap:+.3f}{unit}")
    which = f" (the weakest of {test.pairs} pairs)" if test.pairs > 1 else ""
    return (f"{test.higher} − {test.lower}{which}: {test.difference:+.3f}{unit} [{test.low:+.3f}, "
            f"{test.high:+.3f}]: {verdict} (the two rows' own intervals: {apart})")


def results_snippet(table1: pd.DataFrame, table2: pd.DataFrame, provenance: Mapping[str, Any], label: str,
                    source: str = "", seconds: float | None = None,
                    tests: Mapping[str, TrendTest | None] | None = None) -> str:
    """The Markdown snippet (module docstring) from the tables' numbers (``compare_with_paper`` frames) and the
    trends' tests (``rlsv.study.trends.trend_tests`` of the same runs; without them, only the interval gaps)."""
    tv_rows = table1[table1["objective"] == "tv"].dropna(subset=["additivity_mean"])
    rows: list[tuple[str, pd.Series]] = []
    if not tv_rows.empty:
        best = tv_rows.loc[tv_rows["additivity_ci_high"].idxmax()]
        rows.append((f"L_A ω={best['omega']:g} (its most additive row)", best))
    for lam in (0.5, 1.5, 2.0):
        row = _row(table1, "sinkhorn", 1.0, lam)
        if row is not None:
            rows.append((f"L_B λ={lam:g}", row))
    w4 = _row(table2, "sinkhorn", 4.0, 1.5)
    lines = [f"Numbers of `make reproduce` ({label}); 95 % intervals over seeds and test segments.", "",
             "| run | seeds | A(·) [95 %] | paper | oracle BM SI-SDR, dB [95 %] | median | collapsed | paper | "
             "SI-SDR, dB |", "|---|---|---|---|---|---|---|---|---|"]
    for name, row in rows:
        lines.append(f"| {name} | {int(row['n_seeds'])} | {_interval(row, 'additivity', 2)} | "
                     f"{row['additivity_paper_mean']:.2f} | {_interval(row, 'si_sdr_mask', 2)} | "
                     f"{row['si_sdr_mask_median']:.2f} | {int(row['si_sdr_mask_collapsed'])} of "
                     f"{int(row['si_sdr_mask_count'])} | {row['si_sdr_mask_paper_mean']:.2f} | "
                     f"{row['si_sdr_mean']:.2f} |")
    if w4 is not None:
        lines.append(f"| L_B λ=1.5 ω=4 | {int(w4['n_seeds'])} | {_interval(w4, 'additivity', 2)} | "
                     f"{w4['additivity_paper_mean']:.2f} | | | | | |")
    gaps = trend_gaps(table1, table2)
    over_omega = table2[table2["objective"] == "sinkhorn"].sort_values("omega")
    ours = " / ".join(f"{a:.3f}" for a in over_omega["additivity_mean"])
    paper = " / ".join(f"{a:.2f}" for a in over_omega["additivity_paper_mean"])
    omegas = ", ".join(f"{w:g}" for w in over_omega["omega"])
    if tests is None:
        lines += ["",
                  "The paper's trends, as the gap between 95 % intervals (positive: beyond the seed and segment "
                  "noise):",
                  f"- **additivity**: L_B at λ = 1.5 and 2 above every L_A row, {_verdict(gaps['additivity'])};",
                  f"- **masking**: the binary-mask SI-SDR at λ = 0.5 above λ = 1.5 and 2, "
                  f"{_verdict(gaps['masking'], ' dB')};",
                  f"- **Table 2**: A at λ = 1.5 over ω = {omegas}: {ours} (paper {paper}); ω = 4 above ω = 1, "
                  f"{_verdict(gaps['omega'])}.", ""]
    else:
        lines += ["",
                  "The paper's trends, each as a difference with its 95 % interval (bootstrap over seeds and test "
                  "segments, each row on its own; a trend with several pairs by its weakest pair; "
                  "`rlsv.study.trends`): above 0 is beyond the seed and segment noise. Non-overlapping intervals "
                  "of the two rows are the stricter reading, given last:",
                  f"- **additivity**: L_B at λ = 1.5 and 2 above every L_A row; "
                  f"{_tested(tests.get('additivity'), gaps['additivity'])};",
                  f"- **masking**: the binary-mask SI-SDR at λ = 0.5 above λ = 1.5 and 2; "
                  f"{_tested(tests.get('masking'), gaps['masking'], ' dB')};",
                  f"- **Table 2**: A at λ = 1.5 over ω = {omegas}: {ours} (paper {paper}); ω = 4 above ω = 1; "
                  f"{_tested(tests.get('omega'), gaps['omega'])}.", ""]
    lines += [
              "Collapsed: segments whose oracle mask kept nothing (an all-zero estimate scores the SI-SDR floor, "
              "-240 dB); the mean keeps them, as the published evaluation does, and the median shows the rest.",
              "", f"Made by: {provenance.get('short', 'unknown')}."]
    if seconds is not None:
        lines.append(f"`make reproduce` took {seconds / 60:.1f} min there (data, runs, tables and figures).")
    if source:
        lines.append(f"Source: `{source}` (and `provenance.json` beside it).")
    return "\n".join(lines) + "\n"


def write_snippet(tables_dir: str | Path, label: str, provenance: Mapping[str, Any], seconds: float | None = None,
                  tests: Mapping[str, TrendTest | None] | None = None) -> Path:
    """Write :func:`results_snippet` of the tables in ``tables_dir`` (and the trends' ``tests``) to
    ``tables_dir/results.md``; its path."""
    tables_dir = Path(tables_dir)
    table1 = pd.read_csv(tables_dir / "table1_numbers.csv")
    table2 = pd.read_csv(tables_dir / "table2_numbers.csv")
    path = tables_dir / SNIPPET
    write_text(results_snippet(table1, table2, provenance, label, source=str(tables_dir / "table1_numbers.csv"),
                               seconds=seconds, tests=tests), path)
    return path


def publish(snippet: str | Path, docs_copy: str | Path, readme: str | Path) -> None:
    """Copy ``snippet`` to ``docs_copy`` and put it in ``readme`` between :data:`BEGIN` and :data:`END` (which the
    README must hold once each)."""
    if not Path(snippet).is_file():
        raise RunFolderError(f"No {snippet}: run `make reproduce` (it writes it beside the tables) first.")
    text = Path(snippet).read_text(encoding="utf-8")
    write_text(text, docs_copy)
    readme = Path(readme)
    content = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
    if len(pattern.findall(content)) != 1:
        raise ConfigError(f"{readme} must hold the markers {BEGIN!r} and {END!r} once each.")
    write_text(pattern.sub(lambda _: f"{BEGIN}\n{text}{END}", content), readme)
