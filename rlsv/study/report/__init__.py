"""``rlsv report``: the results of the last ``rlsv reproduce`` as a static HTML report, built with Jupyter Book
1.x, that opens from ``file://`` without a server (``<runs root>/report/index.html``; ``docs/report.md``).

Pages: the paper's claims and ours side by side, with the provenance line (``index``); Tables 1-2
(``tables``); Figures 2-6 (``figures``); listening examples of the oracle binary mask (``listening``); the
executed notebooks 04 and 05; every run with its executed notebooks 02 and 03 (``runs``); the scale study
and the separation results of ``docs/`` where present; the provenance files (``provenance``).

Modules: ``sources`` (where the inputs are), ``claims`` (the paper's claims judged on the tables' numbers),
``listening`` (the audio examples), ``provenance``, ``notebooks`` (copies of the executed notebooks),
``pages`` (the Markdown pages from ``templates/``), ``assemble`` (the book's source folder), ``book``
(Jupyter Book configuration and build).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from rlsv.run.profiles import DEFAULT_PROFILE

__all__ = ["REPORT_FOLDER", "ReportResult", "report_dir", "build_report"]

REPORT_FOLDER = "report"


def report_dir(root: str | os.PathLike = "papermill_runs") -> Path:
    """Where the report goes by default: ``<runs root>/report``."""
    return Path(root) / REPORT_FOLDER


@dataclass
class ReportResult:
    """What :func:`build_report` made: the index page, the folder's size, the audio's size, the build time,
    Sphinx's warnings (count and log), the listening excerpts, the parts missing from the report (``missing``)
    and the records it found absent and says so (``notes``: provenance, results snippet)."""

    index: Path
    seconds: float
    bytes: int
    audio_bytes: int
    warnings: int
    log: Path
    excerpts: int
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        """A few lines for the terminal."""
        from rlsv.study.report.sources import relative_to_cwd

        lines = [f"rlsv report: {relative_to_cwd(self.index)} ({self.bytes / 1e6:.1f} MB, of which audio "
                 f"{self.audio_bytes / 1e3:.0f} KB in {self.excerpts} excerpts) in {self.seconds:.0f} s; open it in a "
                 f"browser (file://{self.index.resolve()})"]
        if self.warnings:
            lines.append(f"  {self.warnings} Sphinx warnings: {relative_to_cwd(self.log)}")
        lines += [f"  MISSING: {m}" for m in self.missing] + [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def build_report(runs_root: str | os.PathLike = "papermill_runs", profile: str = DEFAULT_PROFILE,
                 figures_root: str | os.PathLike = "figures", out_dir: str | os.PathLike | None = None,
                 variant: str | None = None, docs: str | os.PathLike | None | bool = True, excerpts: int = 3,
                 seconds: float = 3.0, run_notebooks: bool = True, progress: bool = True) -> ReportResult:
    """Build the report of ``profile``'s results under ``runs_root`` into ``out_dir`` (default ``<runs root>/report``).

    Args:
        figures_root: where ``rlsv reproduce`` put the figures (``<figures_root>/<profile>``).
        variant: the run set's settings hash, when the runs folder holds several.
        docs: the ``docs/`` folder whose scale study and separation pages to include; True: the checkout's,
            None or False: none.
        excerpts, seconds: how many listening excerpts, and about how long each.
        run_notebooks: render each run's executed notebooks 02 and 03 (else the runs page lists the runs only).

    Raises ``MissingResultsError`` (a ``UserError``) when the tables are missing; other missing parts (figures,
    notebooks, runs for the listening examples) are said on the pages and in ``missing``, absent provenance
    files on the pages and in ``notes``.
    """
    from tqdm.auto import tqdm

    from rlsv.study.report.assemble import assemble_book
    from rlsv.study.report.book import build_html, folder_bytes, install_folder, prune_static
    from rlsv.study.report.sources import ReportSources, checkout_docs

    start = time.perf_counter()
    docs_dir = checkout_docs() if docs is True else (Path(docs) if docs else None)
    sources = ReportSources(profile, Path(runs_root), Path(figures_root), docs_dir, variant)
    sources.check()
    out = (Path(out_dir) if out_dir is not None else report_dir(runs_root)).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    log = out.with_name(f"{out.name}-build.log")  # kept beside the report when the build fails
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-build-") as tmp:
        book = Path(tmp) / "book"
        book.mkdir()
        steps = tqdm(total=3, desc="rlsv report", unit="step", disable=not progress, leave=False)
        steps.set_postfix_str("pages, notebooks, audio")
        assembled = assemble_book(sources, book, excerpts, seconds, run_notebooks)
        steps.update()
        steps.set_postfix_str("jupyter-book build")
        html, warnings = build_html(book, log)
        shutil.move(log, html / "build.log")
        prune_static(html)
        steps.update()
        steps.set_postfix_str("install")
        install_folder(html, out)
        steps.update()
        steps.close()
    return ReportResult(out / "index.html", time.perf_counter() - start, folder_bytes(out),
                        assembled.audio_bytes, warnings, out / "build.log", assembled.excerpts, assembled.missing,
                        assembled.notes)
