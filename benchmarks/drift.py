#!/usr/bin/env python
"""How far the findings' numbers move under another float order: two `make reproduce` results compared.

    rlsv reproduce --jobs 2 --runs-root /tmp/other --figures-root /tmp/other-figures --conv-plan gemm
    .venv/bin/python benchmarks/drift.py papermill_runs/tables/small /tmp/other/tables/small \\
        --names "fixed plan (direct)" "every convolution a GEMM" --out docs/results/drift.md

Another machine computes the same runs with other kernels (another CPU's BLAS and oneDNN paths, another thread
count), so its float order differs and training amplifies the difference. Swapping every convolution's method
on this machine changes the float order the same way, with everything else equal -- a measurable stand-in for
another machine. For each row that carries the paper's findings the report gives both results' means with their
95 % intervals and the difference, per seed where there are several, and each trend's interval gap in both.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from rlsv.atomic import write_text
from rlsv.errors import UserError
from rlsv.study.results import load_run_set
from rlsv.study.results_snippet import trend_gaps
from rlsv.study.trends import TREND_NAMES, TrendTest, trend_tests

ROWS = [("L_A", "tv", None, None), ("L_B λ=0.5", "sinkhorn", 1.0, 0.5), ("L_B λ=1.5", "sinkhorn", 1.0, 1.5),
        ("L_B λ=2", "sinkhorn", 1.0, 2.0)]


def _row(frame: pd.DataFrame, objective: str, omega: float | None, lam: float | None) -> pd.DataFrame:
    rows = frame[frame["objective"] == objective]
    if omega is not None:
        rows = rows[(rows["omega"] - omega).abs() < 1e-9]
    if lam is not None:
        rows = rows[(rows["lam"] - lam).abs() < 1e-9]
    return rows


def _cell(row: pd.Series, metric: str) -> str:
    return f"{row[f'{metric}_mean']:.3f} [{row[f'{metric}_ci_low']:.3f}, {row[f'{metric}_ci_high']:.3f}]"


def _short(tables: Path) -> str:
    try:
        return json.loads((tables / "provenance.json").read_text(encoding="utf-8"))["short"]
    except (OSError, KeyError, ValueError):
        return "no provenance.json"


def _tests(tables: Path) -> dict[str, TrendTest | None]:
    """The trends' difference tests of the runs behind ``tables`` (``RUNS_ROOT/tables/PROFILE``); empty when
    the runs are not there."""
    try:
        return trend_tests(load_run_set(tables.parent.parent, tables.name).segments)
    except (OSError, UserError):
        return {}


def _tested(test: TrendTest | None, gap: float) -> str:
    if test is None:
        return f"gap {gap:+.3f} (runs not found)"
    return (f"{test.difference:+.3f} [{test.low:+.3f}, {test.high:+.3f}] "
            f"{'holds' if test.holds else 'NOT beyond the noise'}; gap {gap:+.3f}")


def report(a: Path, b: Path, names: tuple[str, str]) -> str:
    t1 = [pd.read_csv(p / "table1_numbers.csv") for p in (a, b)]
    t2 = [pd.read_csv(p / "table2_numbers.csv") for p in (a, b)]
    lines = [f"Two `make reproduce` results, the same commands with another float order: **{names[0]}** "
             f"(`{a}`) and **{names[1]}** (`{b}`), written by `benchmarks/drift.py`.", "",
             f"- {names[0]}: {_short(a)}", f"- {names[1]}: {_short(b)}", "",
             f"| row | metric | {names[0]} [95 %] | {names[1]} [95 %] | difference |", "|---|---|---|---|---|"]
    for label, objective, omega, lam in ROWS:
        first, second = (_row(t, objective, omega, lam) for t in t1)
        if objective == "tv":  # every L_A row
            pairs = [(f"L_A ω={w:g}", first[first["omega"] == w].iloc[0], second[second["omega"] == w].iloc[0])
                     for w in first["omega"]]
        else:
            pairs = [(label, first.iloc[0], second.iloc[0])]
        for name, x, y in pairs:
            for metric, unit in (("additivity", ""), ("si_sdr_mask", " dB")):
                diff = y[f"{metric}_mean"] - x[f"{metric}_mean"]
                lines.append(f"| {name} | {'A(·)' if metric == 'additivity' else 'BM SI-SDR'} | {_cell(x, metric)} | "
                             f"{_cell(y, metric)} | {diff:+.3f}{unit} |")
    for w in (1.0, 4.0):
        x, y = (_row(t, "sinkhorn", w, 1.5).iloc[0] for t in t2)
        lines.append(f"| L_B λ=1.5 ω={w:g} | A(·) | {_cell(x, 'additivity')} | {_cell(y, 'additivity')} | "
                     f"{y['additivity_mean'] - x['additivity_mean']:+.3f} |")
    gaps = [trend_gaps(x, y) for x, y in zip(t1, t2)]
    tests = [_tests(a), _tests(b)]
    lines += ["", "The trends (`rlsv.study.trends`): each trend's weakest difference with its 95 % interval (above 0: "
              "beyond the noise), then the gap between the two rows' own intervals (positive: they do not overlap):",
              "", f"| trend | {names[0]} | {names[1]} |", "|---|---|---|"]
    for trend in TREND_NAMES:
        lines.append(f"| {trend} | {_tested(tests[0].get(trend), gaps[0][trend])} | "
                     f"{_tested(tests[1].get(trend), gaps[1][trend])} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="tables folder of the first result (papermill_runs/tables/small)")
    parser.add_argument("b", type=Path, help="tables folder of the second result")
    parser.add_argument("--names", nargs=2, default=("first", "second"), help="what each result was")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    text = report(args.a, args.b, tuple(args.names))
    print(text)
    if args.out:
        write_text(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
