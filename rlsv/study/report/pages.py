"""The report's Markdown pages (MyST), rendered from the Jinja2 templates in ``templates/``.

Every page is a template filled with what the pipeline wrote (``ReportSources``) and what the report
computed (listening examples, claims); the templates hold the prose, this module the formatting of
numbers and the copying of the files the pages show (figures, the docs' images).
"""

from __future__ import annotations

import math
import re
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from rlsv.atomic import write_text

__all__ = ["PAPER_ARXIV", "FIGURE_CAPTIONS", "Page", "number", "interval", "table_cell", "demote_headings",
           "render_page", "copy_doc_page"]

PAPER_ARXIV = "2007.02780"
"""The paper's arXiv identifier (Mimilakis, Drossos, Schuller 2020)."""

FIGURE_CAPTIONS: dict[str, str] = {
    "figure2": "Figure 2: the learned representations of one test segment's mixture, singing voice and "
               "accompaniment, encoder trained with L_B (ω = 4, λ = 1.5).",
    "figure3": "Figure 3: L_A over ω: reconstruction SI-SDR, oracle binary-mask SI-SDR and additivity.",
    "figure4": "Figure 4: the same test segment through three encoders: L_A (ω = 4), L_B (ω = 1, λ = 0.5) and "
               "L_B (ω = 4, λ = 1.5).",
    "figure5": "Figure 5: L_B over λ at ω = 1, for p = 1 and p = 2.",
    "figure6": "Figure 6: L_B over ω for λ ∈ {1.3, 1.5, 2}.",
}
"""What each figure shows (its title on the image says which runs)."""

TEMPLATES = Path(__file__).with_name("templates")
_IMAGE = re.compile(r"!\[([^\]]*)\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^\s*(```|~~~)")


@dataclass(frozen=True)
class Page:
    """A page of the book: its source file (relative to the book, without suffix for the toc) and title."""

    file: str
    title: str


def number(value: Any, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals (a true minus sign); ``–`` for a missing one (None or NaN)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{float(value):.{decimals}f}".replace("-", "−")


def interval(low: Any, high: Any, decimals: int = 2) -> str:
    """``[low, high]``, empty when either end is missing."""
    if any(v is None or (isinstance(v, float) and math.isnan(v)) for v in (low, high)):
        return ""
    return f"[{number(low, decimals)}, {number(high, decimals)}]"


def table_cell(text: str) -> str:
    """``text`` made safe for one cell of a Markdown pipe table (pipes escaped, line breaks as ``<br>``)."""
    return text.replace("|", "\\|").replace("\n", "<br>")


def demote_headings(markdown: str, levels: int) -> str:
    """``markdown`` with every ATX heading (outside code fences) ``levels`` deeper: a snippet placed
    under a page's own headings."""
    lines, fenced = [], False
    for line in markdown.splitlines():
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and re.match(r"^#{1,6}\s", line):
            line = "#" * levels + line
        lines.append(line)
    return "\n".join(lines)


@lru_cache(maxsize=1)
def _environment():
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=False, keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=False)
    env.globals.update(number=number, interval=interval, cell=table_cell)
    return env


def render_page(template: str, out: Path, **values: Any) -> Path:
    """Render ``templates/<template>.md.j2`` with ``values`` into ``out`` (written atomically)."""
    write_text(_environment().get_template(f"{template}.md.j2").render(**values), out)
    return out


def copy_doc_page(doc: Path, book: Path) -> list[str]:
    """Copy the docs page ``doc`` into the book's root with the local images it shows (same relative paths);
    the images that were not found (their links are left as they are)."""
    text = doc.read_text(encoding="utf-8")
    missing = []
    for _, target in _IMAGE.findall(text):
        if "://" in target:
            continue
        source = (doc.parent / target).resolve()
        if source.is_file() and source.is_relative_to(doc.parent.resolve()):
            (book / target).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, book / target)
        else:
            missing.append(target)
    write_text(text, book / doc.name)
    return missing
