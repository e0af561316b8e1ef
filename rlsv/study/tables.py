"""Tables 1 and 2 of the paper, regenerated from many runs and set against the published values.

Pipeline (``segments`` is the :func:`rlsv.study.results.load_runs` frame):

1. :func:`compare_with_paper` -- numbers: for every row of a published table (in the paper's
   order, always all rows) our mean / std / median / count per metric, the paper's mean and std,
   and ``diff = ours - paper`` (means). A run that is absent gives NaN.
2. :func:`paper_table` -- the same, formatted like the paper (``31.49 (± 2.98)``, ``missing``).
3. :func:`write_table` / :func:`write_paper_tables` -- CSV, Markdown and LaTeX (booktabs) files.

Statistics come from :mod:`rlsv.run.summary` (std with ``ddof=0``, NaN skipped).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import pandas as pd

from rlsv.atomic import write_text
from rlsv.errors import ConfigError
from rlsv.run.summary import SI_SDR_METRICS, STATISTICS, summarise
from rlsv.study.intervals import interval_by_seed
from rlsv.study.paper_values import PUBLISHED_TABLES, PublishedTable
from rlsv.study.results import run_set_rows, select_specs

__all__ = [
    "OBJECTIVE_LABELS",
    "METRIC_LABELS",
    "MISSING",
    "compare_with_paper",
    "format_mean_std",
    "format_interval",
    "format_number",
    "format_collapsed",
    "seeds_count",
    "table_caption",
    "paper_table",
    "to_latex_booktabs",
    "write_table",
    "write_paper_tables",
]

OBJECTIVE_LABELS: dict[str, str] = {"tv": "L_A", "sinkhorn": "L_B", "stft": "STFT"}
METRIC_LABELS: dict[str, str] = {"si_sdr": "SI-SDR (dB)", "si_sdr_mask": "SI-SDR-BM (dB)",
                                 "additivity": "A(·)"}
MISSING = "missing"
_NOT_AVAILABLE = "–"


def _resolve(table: str | PublishedTable) -> PublishedTable:
    if isinstance(table, PublishedTable):
        return table
    try:
        return PUBLISHED_TABLES[table]
    except KeyError:
        raise ConfigError(f"Unknown table {table!r}; valid: {', '.join(PUBLISHED_TABLES)}.") from None


def compare_with_paper(segments: pd.DataFrame, table: str | PublishedTable, profile: str | None = None,
                       variant: str | None = None) -> pd.DataFrame:
    """Our statistics next to the published ones, one row per row of ``table`` (paper order).

    Args:
        segments: :func:`rlsv.study.results.load_runs` output (one row per seed and test segment).
        table: ``"table1"``, ``"table2"`` or a :class:`~rlsv.study.paper_values.PublishedTable`.
        profile, variant: which runs to use (:func:`rlsv.study.results.run_set_rows`): needed only
            when ``segments`` holds several.

    Returns:
        Columns ``objective, omega, lam, p`` (NaN where unused), ``n_seeds``, ``seeds`` (e.g.
        ``"218 219 220"``), ``n_segments`` (rows over all seeds), and for each metric ``m`` of the
        table: ``m_mean, m_std, m_median, m_count, m_collapsed`` (over all segments of all seeds, the paper's
        statistics; NaN / 0 for an absent run), ``m_ci_low, m_ci_high`` (95 % bootstrap interval of
        the mean over seeds and segments, :mod:`rlsv.study.intervals`), ``m_paper_mean,
        m_paper_std`` and ``m_diff = m_mean - m_paper_mean``.
    """
    table = _resolve(table)
    _, _, of_set = run_set_rows(segments, profile, variant)
    rows = []
    for published in table.rows:
        spec = published.spec
        ours = select_specs(of_set, [spec])
        stats = summarise(ours, table.metrics)
        seeds = sorted(int(s) for s in ours["seed"].dropna().unique())
        row = {**spec.as_columns(), "n_seeds": seeds_count(ours), "seeds": " ".join(map(str, seeds)),
               "n_segments": len(ours)}
        for metric in table.metrics:
            paper_mean, paper_std = published.values[metric]
            interval = interval_by_seed(ours, metric) if len(ours) else {"ci_low": math.nan, "ci_high": math.nan}
            row |= {f"{metric}_{stat}": stats.at[metric, stat] for stat in STATISTICS}
            row |= {f"{metric}_ci_low": interval["ci_low"], f"{metric}_ci_high": interval["ci_high"]}
            row |= {f"{metric}_paper_mean": paper_mean, f"{metric}_paper_std": paper_std,
                    f"{metric}_diff": stats.at[metric, "mean"] - paper_mean}
        rows.append(row)
    return pd.DataFrame(rows)


def seeds_count(rows: pd.DataFrame) -> int:
    """Training seeds among ``rows`` (the STFT baseline, with no seed, counts as one when present)."""
    if rows.empty:
        return 0
    return max(1, int(rows["seed"].nunique()))


def format_mean_std(mean: float, std: float, decimals: int = 2) -> str:
    """The paper's cell format, e.g. ``31.49 (± 2.98)``; ``MISSING`` when ``mean`` is NaN."""
    if pd.isna(mean):
        return MISSING
    spread = _NOT_AVAILABLE if pd.isna(std) else f"{std:.{decimals}f}"
    return f"{mean:.{decimals}f} (± {spread})"


def format_interval(low: float, high: float, decimals: int = 2) -> str:
    """A confidence interval, e.g. ``[12.41, 13.70]``; empty when unknown."""
    if pd.isna(low) or pd.isna(high):
        return ""
    return f"[{low:.{decimals}f}, {high:.{decimals}f}]"


def format_number(value: float, decimals: int, signed: bool = False) -> str:
    """One number with ``decimals`` decimals (with its sign when ``signed``); ``–`` when NaN."""
    if pd.isna(value):
        return _NOT_AVAILABLE
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def _format_parameter(value: float) -> str:
    """ω / λ as the paper prints them: one decimal, ``N/A`` where unused."""
    return "N/A" if pd.isna(value) else f"{value:.1f}"


def paper_table(segments: pd.DataFrame, table: str | PublishedTable, profile: str | None = None,
                variant: str | None = None, decimals: int = 2) -> pd.DataFrame:
    """A published table regenerated from ``segments``, formatted like the paper, narrow enough to read.

    Returns:
        String columns ``Objective, ω, λ, seeds × segments``, then for each metric label ``M``
        (e.g. ``SI-SDR (dB)``): ``M`` (ours: ``mean (± std) [95 % interval]``, or ``missing``) and
        ``M paper`` (published ``mean (± std)``). One row per row of the paper, in its order. The
        medians and the differences to the paper are in :func:`compare_with_paper`'s numbers.
    """
    table = _resolve(table)
    return _paper_format(compare_with_paper(segments, table, profile, variant), table, decimals)


def _paper_format(numbers: pd.DataFrame, table: PublishedTable, decimals: int = 2) -> pd.DataFrame:
    """:func:`compare_with_paper` numbers formatted as :func:`paper_table` describes."""
    display = pd.DataFrame({
        "Objective": numbers["objective"].map(OBJECTIVE_LABELS),
        "ω": numbers["omega"].map(_format_parameter),
        "λ": numbers["lam"].map(_format_parameter),
        "seeds × segments": [f"{k} × {n // k}" if k else "0"
                             for k, n in zip(numbers["n_seeds"], numbers["n_segments"])],
    })
    for metric in table.metrics:
        label = METRIC_LABELS[metric]
        display[label] = [
            f"{format_mean_std(m, s, decimals)} {format_interval(lo, hi, decimals)}".strip()
            for m, s, lo, hi in zip(numbers[f"{metric}_mean"], numbers[f"{metric}_std"],
                                    numbers[f"{metric}_ci_low"], numbers[f"{metric}_ci_high"])]
        if metric in SI_SDR_METRICS:
            display[f"{label} median"] = [format_number(m, decimals) for m in numbers[f"{metric}_median"]]
            display[f"{label} collapsed"] = [format_collapsed(c, n) for c, n in
                                             zip(numbers[f"{metric}_collapsed"], numbers[f"{metric}_count"])]
        display[f"{label} paper"] = [format_mean_std(m, s, decimals) for m, s in
                                     zip(numbers[f"{metric}_paper_mean"], numbers[f"{metric}_paper_std"])]
    return display


def format_collapsed(collapsed: float, count: float) -> str:
    """``3 of 107``: segments at the SI-SDR floor (-240 dB) among the values; ``–`` when there are none to count."""
    if pd.isna(collapsed) or not count:
        return _NOT_AVAILABLE
    return f"{int(collapsed)} of {int(count)}"


_LATEX_ESCAPES = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#",
                  "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\^{}"}
_LATEX_SYMBOLS = {"±": r"$\pm$", "ω": r"$\omega$", "λ": r"$\lambda$", "Δ": r"$\Delta$",
                  "·": r"$\cdot$", "−": "$-$", "–": "--"}
_LATEX_CELLS = {"L_A": r"$\mathcal{L}_A$", "L_B": r"$\mathcal{L}_B$", "A(·)": r"$\mathcal{A}(\cdot)$"}


def _latex_cell(value: object) -> str:
    """One cell as LaTeX: known labels as maths, special characters escaped, symbols as maths."""
    text = str(value)
    if text in _LATEX_CELLS:
        return _LATEX_CELLS[text]
    for label, latex in _LATEX_CELLS.items():
        if text.startswith(label + " "):  # column headers such as "A(·) paper"
            return latex + _latex_cell(text[len(label):])
    text = "".join(_LATEX_ESCAPES.get(ch, ch) for ch in text)
    return "".join(_LATEX_SYMBOLS.get(ch, ch) for ch in text)


def to_latex_booktabs(frame: pd.DataFrame, caption: str | None = None,
                      label: str | None = None) -> str:
    """``frame`` (index dropped) as a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``), by pandas'
    ``Styler.to_latex``; cells and headers go through :func:`_latex_cell` (escapes and maths symbols).

    The first three columns are left-aligned, the rest right-aligned. With a ``caption`` the
    tabular is wrapped in a ``table`` float (with ``\\label{label}`` when given).
    """
    align = "".join("l" if i < 3 else "r" for i in range(frame.shape[1]))
    styler = frame.style.hide(axis="index").format(_latex_cell).format_index(_latex_cell, axis=1)
    if caption is None:
        return styler.to_latex(column_format=align, hrules=True)
    return styler.to_latex(column_format=align, hrules=True, caption=_latex_cell(caption), label=label,
                           position="t", position_float="centering")


def _paired_metrics(frame: pd.DataFrame) -> list[str]:
    """The columns ``X`` of ``frame`` that have a ``"X paper"`` column next to them (the tables' metrics)."""
    return [c for c in frame.columns if f"{c} paper" in frame.columns]


def _markdown_table(frame: pd.DataFrame, n_left: int) -> str:
    align = ["left" if i < n_left else "right" for i in range(frame.shape[1])]
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def _to_markdown(frame: pd.DataFrame, caption: str | None = None) -> str:
    """``frame`` as Markdown, cells kept exactly as formatted (no re-parsing of numbers), with the caption as
    a paragraph above it.

    A table of metrics next to the paper's (columns ``X`` and ``"X paper"``) becomes one narrow table per
    metric: the row keys, ``mean (± std)``, ``95 % CI``, for an SI-SDR ``median`` and ``collapsed``
    (segments at the -240 dB floor), and ``paper`` (the wide form is in the CSV).
    """
    metrics = _paired_metrics(frame)
    if not metrics:
        table = _markdown_table(frame, 3)
        return f"{caption}\n\n{table}" if caption else table
    extras = ("median", "collapsed")
    used = set(metrics) | {f"{m} {suffix}" for m in metrics for suffix in ("paper", *extras)}
    keys = [c for c in frame.columns if c not in used]
    parts = [caption + "\n"] if caption else []
    for metric in metrics:
        ours = frame[metric].astype(str)
        split = ours.str.partition(" [")
        narrow = frame[keys].copy()
        narrow["mean (± std)"] = split[0]
        narrow["95 % CI"] = (split[1].str.strip() + split[2]).where(split[2] != "", "")
        for suffix in extras:
            if f"{metric} {suffix}" in frame.columns:
                narrow[suffix] = frame[f"{metric} {suffix}"]
        narrow["paper"] = frame[f"{metric} paper"]
        parts.append(f"**{metric}**\n\n{_markdown_table(narrow, min(3, len(keys)))}")
    return "\n".join(parts)


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str | None = None) -> list[Path]:
    """Write ``frame`` to ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex`` (atomically; the caption above the
    Markdown table and in the LaTeX float); the paths."""
    stem = Path(stem)
    label = f"tab:{stem.name}"
    contents = {
        ".csv": frame.to_csv(index=False),
        ".md": _to_markdown(frame, caption),
        ".tex": to_latex_booktabs(frame, caption=caption, label=label),
    }
    paths = []
    for suffix, text in contents.items():
        path = stem.with_name(stem.name + suffix)
        write_text(text, path)
        paths.append(path)
    return paths


def table_caption(table: PublishedTable, label: str, provenance: str = "") -> str:
    """The caption of a regenerated table: what the runs were (``label``), how to read the numbers, the
    paper's caption, and the runs' provenance (``rlsv.study.provenance.short_provenance``)."""
    made = f" Made by: {provenance}." if provenance else ""
    return (f"Ours: {label}; mean (± std over test segments) [95 % interval of the mean over seeds and segments]; "
            f"for the SI-SDRs also the median and the segments collapsed to the -240 dB floor (an all-zero "
            f"estimate), which the mean keeps, as the published evaluation does. "
            f"Paper (MUSDB18, C=800, published code): {table.caption}{made}")


def write_paper_tables(segments: pd.DataFrame, out_dir: str | Path, profile: str | None = None,
                       tables: Sequence[str] = tuple(PUBLISHED_TABLES), variant: str | None = None,
                       label: str = "", provenance: str = "") -> tuple[dict[str, pd.DataFrame], list[Path]]:
    """Regenerate each published table into ``out_dir``; the tables (:func:`paper_table`, by name)
    and the paths written.

    Per table ``name``: ``name.{csv,md,tex}`` (:func:`paper_table`, captioned with ``label``, which says
    what the runs were: data, sizes, steps, seeds) and ``name_numbers.csv`` (:func:`compare_with_paper`,
    unrounded).
    """
    out_dir = Path(out_dir)
    frames, paths = {}, []
    for name in tables:
        table = _resolve(name)
        numbers = compare_with_paper(segments, table, profile, variant)
        frames[name] = _paper_format(numbers, table)
        paths += write_table(frames[name], out_dir / name,
                             caption=table_caption(table, label or "rlsv runs", provenance))
        numbers_path = out_dir / f"{name}_numbers.csv"
        write_text(numbers.to_csv(index=False), numbers_path)
        paths.append(numbers_path)
    return frames, paths
