"""The book's source folder: every page, notebook, figure and audio file of the report, and its table of contents.

:func:`assemble_book` reads the pipeline's files (``ReportSources``) and the run set, writes the listening
examples, copies the figures, notebooks and docs pages, renders the Markdown pages from ``templates/`` and
writes ``_config.yml`` and ``_toc.yml``. What it could not find is listed in :attr:`Assembled.missing` and
said on the pages; nothing is made up for it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from rlsv.study.report.book import EXTRA, TocEntry, book_config, toc, write_book_files
from rlsv.study.report.claims import paper_claims, spec_caption
from rlsv.study.report.listening import LISTENING_RUNS, ListeningExamples, write_listening
from rlsv.study.report.notebooks import RunEntry, copy_notebook, run_entries
from rlsv.study.report.pages import FIGURE_CAPTIONS, PAPER_ARXIV, Page, copy_doc_page, demote_headings, render_page
from rlsv.study.report.provenance import provenance_files
from rlsv.study.report.sources import RESULTS_SNIPPET, TABLE_NAMES, ReportSources, relative_to_cwd
from rlsv.study.results import RunSet, load_run_set
from rlsv.study.trends import trend_tests

__all__ = ["Assembled", "Chapter", "assemble_book"]


@dataclass
class Assembled:
    """What went into the book: the audio's size, the number of listening excerpts, the parts that are missing
    (``missing``: figures, notebooks, runs) and the records that are absent (``notes``: provenance)."""

    audio_bytes: int = 0
    excerpts: int = 0
    missing: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Chapter:
    """A page after the index: the page, a line on what it holds (the index's contents), its sub-pages."""

    page: Page
    what: str
    sections: tuple[TocEntry, ...] = ()

    def toc_entry(self) -> TocEntry:
        return TocEntry(self.page.file.rsplit(".", 1)[0], None, self.sections)


def _copy_figures(sources: ReportSources, book: Path, result: Assembled) -> tuple[dict[str, Path], dict[str, str]]:
    figures, missing = sources.figure_files()
    for png in figures.values():
        (book / "figures").mkdir(exist_ok=True)
        shutil.copyfile(png, book / "figures" / png.name)
    result.missing += [f"{name}: {why}" for name, why in missing.items()]
    return figures, missing


def _notebook_chapters(sources: ReportSources, book: Path, result: Assembled) -> list[Chapter]:
    """The executed notebooks 04 and 05, copied into ``notebooks/``."""
    chapters = []
    for stem, path in sources.executed_notebooks().items():
        if path is None:
            result.missing.append(f"executed notebook {stem}.ipynb: not in {relative_to_cwd(sources.reports)} "
                                  "(rlsv reproduce --engine inline executes none)")
            continue
        copy_notebook(path, book / "notebooks" / f"{stem}.ipynb",
                      f"As `rlsv reproduce` executed it: `{relative_to_cwd(path)}`.")
        made = "tables" if stem.startswith("04") else "figures"
        chapters.append(Chapter(Page(f"notebooks/{stem}.ipynb", f"Notebook {stem[:2]}, executed"),
                                f"the notebook that made the {made}, as rlsv reproduce executed it"))
    return chapters


def _runs_chapter(run_set: RunSet, sources: ReportSources, book: Path, render: bool) -> tuple[Chapter, list[RunEntry]]:
    """The runs page, with each run's executed notebooks as its sub-pages (when ``render``)."""
    entries = run_entries(run_set, book if render else None, shown_root=relative_to_cwd(sources.runs_root))
    sections = tuple(TocEntry(link.removesuffix(".ipynb"), f"{entry.run_id} · {label}")
                     for entry in entries for label, link in entry.notebooks)
    return Chapter(Page("runs.md", "The runs"), "every run of the set, its metrics and its executed notebooks 02 "
                   "and 03", sections), entries


def _doc_chapters(sources: ReportSources, book: Path, result: Assembled) -> list[Chapter]:
    """The scale study and separation pages of ``docs/``, with their images."""
    chapters = []
    for name, doc in sources.doc_pages().items():
        result.missing += [f"{doc}: image {target} not found" for target in copy_doc_page(doc, book)]
        title = next((line.lstrip("# ").strip() for line in doc.read_text(encoding="utf-8").splitlines()
                      if line.startswith("# ")), name)
        chapters.append(Chapter(Page(doc.name, title), f"from docs/{doc.name}"))
    return chapters


def _listening(run_set: RunSet, book: Path, excerpts: int, seconds: float, result: Assembled) -> ListeningExamples:
    listening = write_listening(run_set, book / EXTRA, count=excerpts, seconds=seconds)
    result.audio_bytes, result.excerpts = listening.total_bytes(book / EXTRA), len(listening.excerpts)
    result.missing += [f"listening example {name}: {why}" for name, why in listening.missing.items()]
    return listening


def assemble_book(sources: ReportSources, book: Path, excerpts: int = 3, seconds: float = 3.0,
                  run_notebooks: bool = True) -> Assembled:
    """Write the report's book into the empty folder ``book``; what went in, and what is missing."""
    result = Assembled()
    run_set = load_run_set(sources.runs_root, sources.profile, sources.variant)
    label, profile, runs_root = run_set.label(), sources.profile, relative_to_cwd(sources.runs_root)
    listening = _listening(run_set, book, excerpts, seconds, result)
    figures, missing_figures = _copy_figures(sources, book, result)
    runs, entries = _runs_chapter(run_set, sources, book, run_notebooks)
    chapters = [Chapter(Page("tables.md", "Tables 1 and 2"), "our numbers with their 95 % intervals next to the "
                        "paper's"),
                Chapter(Page("figures.md", "Figures 2–6"), "as rlsv figures drew them"),
                Chapter(Page("listening.md", "Listening examples"), "the oracle binary mask of L_A and of L_B at "
                        "λ = 0.5 and 1.5, heard on a few test excerpts"),
                *_notebook_chapters(sources, book, result), runs, *_doc_chapters(sources, book, result),
                Chapter(Page("provenance.md", "Provenance"), "versions, machine, data and seeds behind the results")]
    shown = {what: relative_to_cwd(path) for what, (path, _) in sources.provenance().items()}
    provenance = provenance_files(sources.provenance(), shown)
    result.notes += [f"no provenance of the {p.what}: {p.shown_path} is absent" for p in provenance if not p.present]
    if sources.results_snippet() is None:
        result.notes.append(f"no results snippet: {relative_to_cwd(sources.tables / RESULTS_SNIPPET)} is absent")
    numbers = {name: sources.numbers(name) for name in TABLE_NAMES}
    figure_label = sources.figures_label()
    segment_s = listening.excerpts[0].segment_s if listening.excerpts else None

    render_page("index", book / "index.md", profile=profile, runs_root=runs_root, arxiv=PAPER_ARXIV,
                provenance=provenance, label=label, built=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                claims=paper_claims(numbers["table1"], numbers["table2"], trend_tests(run_set.segments)),
                contents=[(c.page, c.what) for c in chapters])
    render_page("tables", book / "tables.md", tables_path=relative_to_cwd(sources.tables),
                tables=[(name.replace("table", "Table "), demote_headings(sources.table_markdown(name), 2))
                        for name in TABLE_NAMES],
                separation=sources.separation_markdown())
    render_page("figures", book / "figures.md", figures_path=relative_to_cwd(sources.figures),
                runs=figure_label.get("runs", ""), segment=figure_label.get("segment", ""),
                figures=[(name, f"figures/{png.name}", FIGURE_CAPTIONS[name]) for name, png in figures.items()],
                missing=missing_figures)
    render_page("listening", book / "listening.md", runs=", ".join(spec_caption(s) for s in LISTENING_RUNS),
                rule=listening.rule, segment_s=f"{segment_s:g}" if segment_s else "–", seconds=f"{seconds:g}",
                excerpts=listening.excerpts, missing=listening.missing)
    render_page("runs", book / "runs.md", runs=entries, label=label, runs_root=runs_root, rendered=run_notebooks)
    render_page("provenance", book / "provenance.md", provenance=provenance,
                results=demote_headings(sources.results_snippet() or "", 2) or None,
                results_path=relative_to_cwd(sources.tables / RESULTS_SNIPPET))
    write_book_files(book, book_config(f"rlsv: reproduction report ({profile} profile)",
                                       f"Built by rlsv report from {runs_root}/."),
                     toc("index", [c.toc_entry() for c in chapters]))
    return result
