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

from pathlib import Path
from typing import Sequence

import pandas as pd

from rlsv.atomic import write_text
from rlsv.run.spec import run_id
from rlsv.run.summary import STATISTICS, summarise
from rlsv.study.paper_values import PUBLISHED_TABLES, PublishedTable
from rlsv.study.results import profile_rows, select_specs

__all__ = [
    "OBJECTIVE_LABELS",
    "METRIC_LABELS",
    "MISSING",
    "compare_with_paper",
    "format_mean_std",
    "format_number",
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
        raise ValueError(f"Unknown table {table!r}; valid: {', '.join(PUBLISHED_TABLES)}.") from None


def compare_with_paper(segments: pd.DataFrame, table: str | PublishedTable,
                       profile: str | None = None) -> pd.DataFrame:
    """Our statistics next to the published ones, one row per row of ``table`` (paper order).

    Args:
        segments: :func:`rlsv.study.results.load_runs` output (one profile, or choose one with ``profile``).
        table: ``"table1"``, ``"table2"`` or a :class:`~rlsv.study.paper_values.PublishedTable`.
        profile: which profile's runs to use; needed only when ``segments`` mixes profiles.

    Returns:
        Columns ``run_id`` (None if no profile is known), ``objective, omega, lam, p`` (NaN where
        unused), ``n_segments``, and for each metric ``m`` of the table: ``m_mean, m_std,
        m_median, m_count`` (ours; NaN / 0 for an absent run), ``m_paper_mean, m_paper_std`` and
        ``m_diff = m_mean - m_paper_mean``.
    """
    table = _resolve(table)
    profile, of_profile = profile_rows(segments, profile)
    rows = []
    for published in table.rows:
        spec = published.spec
        ours = select_specs(of_profile, [spec])
        stats = summarise(ours, table.metrics)
        row = {"run_id": run_id(spec, profile) if profile else None, **spec.as_columns(),
               "n_segments": len(ours)}
        for metric in table.metrics:
            paper_mean, paper_std = published.values[metric]
            row |= {f"{metric}_{stat}": stats.at[metric, stat] for stat in STATISTICS}
            row |= {f"{metric}_paper_mean": paper_mean, f"{metric}_paper_std": paper_std,
                    f"{metric}_diff": stats.at[metric, "mean"] - paper_mean}
        rows.append(row)
    return pd.DataFrame(rows)


def format_mean_std(mean: float, std: float, decimals: int = 2) -> str:
    """The paper's cell format, e.g. ``31.49 (± 2.98)``; ``MISSING`` when ``mean`` is NaN."""
    if pd.isna(mean):
        return MISSING
    spread = _NOT_AVAILABLE if pd.isna(std) else f"{std:.{decimals}f}"
    return f"{mean:.{decimals}f} (± {spread})"


def format_number(value: float, decimals: int, signed: bool = False) -> str:
    """One number with ``decimals`` decimals (with its sign when ``signed``); ``–`` when NaN."""
    if pd.isna(value):
        return _NOT_AVAILABLE
    return f"{value:+.{decimals}f}" if signed else f"{value:.{decimals}f}"


def _format_parameter(value: float) -> str:
    """ω / λ as the paper prints them: one decimal, ``N/A`` where unused."""
    return "N/A" if pd.isna(value) else f"{value:.1f}"


def paper_table(segments: pd.DataFrame, table: str | PublishedTable,
                profile: str | None = None, decimals: int = 2) -> pd.DataFrame:
    """A published table regenerated from ``segments``, formatted like the paper.

    Returns:
        String columns ``Objective, ω, λ, n`` (segments), then for each metric label ``M``
        (e.g. ``SI-SDR (dB)``): ``M`` (ours, ``mean (± std)`` or ``missing``), ``M median``,
        ``M paper`` (published ``mean (± std)``) and ``M Δ`` (our mean − the paper's mean).
        One row per row of the paper, in its order.
    """
    table = _resolve(table)
    return _paper_format(compare_with_paper(segments, table, profile), table, decimals)


def _paper_format(numbers: pd.DataFrame, table: PublishedTable, decimals: int = 2) -> pd.DataFrame:
    """:func:`compare_with_paper` numbers formatted as :func:`paper_table` describes."""
    display = pd.DataFrame({
        "Objective": numbers["objective"].map(OBJECTIVE_LABELS),
        "ω": numbers["omega"].map(_format_parameter),
        "λ": numbers["lam"].map(_format_parameter),
        "n": numbers["n_segments"].astype(str),
    })
    for metric in table.metrics:
        label = METRIC_LABELS[metric]
        display[label] = [format_mean_std(m, s, decimals)
                          for m, s in zip(numbers[f"{metric}_mean"], numbers[f"{metric}_std"])]
        display[f"{label} median"] = numbers[f"{metric}_median"].map(lambda v: format_number(v, decimals))
        display[f"{label} paper"] = [format_mean_std(m, s, decimals) for m, s in
                                     zip(numbers[f"{metric}_paper_mean"], numbers[f"{metric}_paper_std"])]
        display[f"{label} Δ"] = numbers[f"{metric}_diff"].map(lambda v: format_number(v, decimals, True))
    return display


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
    """``frame`` (index dropped) as a booktabs ``tabular`` (needs ``\\usepackage{booktabs}``).

    The first three columns are left-aligned, the rest right-aligned. With a ``caption`` the
    tabular is wrapped in a ``table`` float (with ``\\label{label}`` when given).
    """
    align = "".join("l" if i < 3 else "r" for i in range(frame.shape[1]))
    lines = [rf"\begin{{tabular}}{{{align}}}", r"\toprule",
             " & ".join(_latex_cell(c) for c in frame.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(_latex_cell(v) for v in row) + r" \\" for row in frame.itertuples(index=False)]
    lines += [r"\bottomrule", r"\end{tabular}"]
    if caption is not None:
        head = [r"\begin{table}[t]", r"\centering", rf"\caption{{{_latex_cell(caption)}}}"]
        head += [rf"\label{{{label}}}"] if label else []
        lines = head + lines + [r"\end{table}"]
    return "\n".join(lines) + "\n"


def _to_markdown(frame: pd.DataFrame) -> str:
    """``frame`` as a Markdown table, cells kept exactly as formatted (no re-parsing of numbers)."""
    align = ["left" if i < 3 else "right" for i in range(frame.shape[1])]
    return frame.to_markdown(index=False, disable_numparse=True, colalign=align) + "\n"


def write_table(frame: pd.DataFrame, stem: str | Path, caption: str | None = None) -> list[Path]:
    """Write ``frame`` to ``<stem>.csv``, ``<stem>.md`` and ``<stem>.tex`` (atomically); the paths."""
    stem = Path(stem)
    label = f"tab:{stem.name}"
    contents = {
        ".csv": frame.to_csv(index=False),
        ".md": _to_markdown(frame),
        ".tex": to_latex_booktabs(frame, caption=caption, label=label),
    }
    paths = []
    for suffix, text in contents.items():
        path = stem.with_name(stem.name + suffix)
        write_text(text, path)
        paths.append(path)
    return paths


def write_paper_tables(segments: pd.DataFrame, out_dir: str | Path, profile: str | None = None,
                       tables: Sequence[str] = tuple(PUBLISHED_TABLES)
                       ) -> tuple[dict[str, pd.DataFrame], list[Path]]:
    """Regenerate each published table into ``out_dir``; the tables (:func:`paper_table`, by name)
    and the paths written.

    Per table ``name``: ``name.{csv,md,tex}`` (:func:`paper_table`) and ``name_numbers.csv``
    (:func:`compare_with_paper`, unrounded).
    """
    out_dir = Path(out_dir)
    frames, paths = {}, []
    for name in tables:
        table = _resolve(name)
        numbers = compare_with_paper(segments, table, profile)
        frames[name] = _paper_format(numbers, table)
        paths += write_table(frames[name], out_dir / name, caption=f"{table.caption} Ours vs. published.")
        numbers_path = out_dir / f"{name}_numbers.csv"
        write_text(numbers.to_csv(index=False), numbers_path)
        paths.append(numbers_path)
    return frames, paths
