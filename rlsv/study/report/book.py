"""The report as a Jupyter Book (1.x: Sphinx, MyST-NB, sphinx-book-theme), built offline into a folder of
static HTML that opens from ``file://``.

* :func:`book_config` -- ``_config.yml``: no notebook execution, no MathJax (the pages use none, and it
  would come from a CDN), no widgets JavaScript, no launch or repository buttons, no copied sources;
  files in ``extra/`` (the audio) are copied to the site's root as they are.
* :func:`toc` -- ``_toc.yml`` (``jb-book``): the pages in order, each run's notebooks under the runs page.
* :func:`build_html` -- ``jupyter-book build``'s own Sphinx entry point, in this process, with Sphinx's
  messages in a log file; a failed build raises :class:`ReportBuildError` with the log's last lines.
* :func:`install_folder` -- move the built site into place: the previous report stays whole until the new
  one is complete, then the two are swapped by renames.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import shutil
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from rlsv.atomic import write_text
from rlsv.errors import UserError

__all__ = ["EXTRA", "TocEntry", "ReportBuildError", "book_config", "toc", "write_book_files", "build_html",
           "install_folder", "prune_static", "folder_bytes"]

EXTRA = "extra"
"""Folder of the book whose files are copied to the site's root unchanged (``html_extra_path``)."""
STATIC, STYLE = "_static", "report.css"
"""The book's static folder and the style sheet (from ``templates/``) that widens the pages for the tables."""
_WARNING = re.compile(r"\bWARNING:")


class ReportBuildError(UserError):
    """Sphinx could not build the report (the message names the log and shows its last lines)."""


@dataclass(frozen=True)
class TocEntry:
    """A page of the table of contents: its file (relative to the book, no suffix), an optional title for
    the navigation, and the pages under it."""

    file: str
    title: str | None = None
    sections: tuple["TocEntry", ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        entry: dict[str, Any] = {"file": self.file}
        if self.title:
            entry["title"] = self.title
        if self.sections:
            entry["sections"] = [s.to_dict() for s in self.sections]
        return entry


def book_config(title: str, footer: str) -> dict[str, Any]:
    """The book's ``_config.yml`` (Jupyter Book 1.x keys; ``sphinx.config`` merged into its Sphinx settings)."""
    return {
        "title": title,
        "author": "rlsv",
        "copyright": "",
        "only_build_toc_files": True,
        "execute": {"execute_notebooks": "off"},
        "parse": {"myst_enable_extensions": ["colon_fence"]},
        "html": {"use_repository_button": False, "use_issues_button": False, "use_edit_page_button": False,
                 "use_multitoc_numbering": False, "home_page_in_navbar": True, "extra_footer": footer},
        "latex": {"use_jupyterbook_latex": False},
        "launch_buttons": {"notebook_interface": "classic", "binderhub_url": "", "jupyterhub_url": "",
                           "thebe": False, "colab_url": "", "deepnote_url": ""},
        "sphinx": {
            "recursive_update": True,
            "config": {
                "myst_enable_extensions": ["colon_fence"],  # no dollarmath: MathJax would come from a CDN
                "myst_heading_anchors": 3,
                # Jupyter Book's extensions less sphinx_thebe (live code; with Sphinx 7 it declares its script
                # twice, an error in the browser) and sphinx_comments (none wanted)
                "extensions": ["sphinx_togglebutton", "sphinx_copybutton", "myst_nb", "jupyter_book",
                               "sphinx_external_toc", "sphinx.ext.intersphinx", "sphinx_design", "sphinx_book_theme"],
                "html_context": {"default_mode": "light"},  # else the theme reports an empty mode as an error
                "numfig": False,  # the captions carry the paper's figure numbers
                "nb_ipywidgets_js": {},  # the widgets' JavaScript would come from a CDN too
                "html_extra_path": [EXTRA],
                "html_static_path": [STATIC],
                "html_css_files": [STYLE],
                "html_copy_source": False,
                "html_show_sourcelink": False,
                "html_show_copyright": False,
                "html_last_updated_fmt": None,
                # links of the docs and notebooks to files outside the report render as plain text
                "suppress_warnings": ["myst.header", "myst.xref_missing", "mystnb.unknown_mime_type"],
                "html_theme_options": {"use_download_button": False, "use_fullscreen_button": False,
                                       "search_bar_text": "Search this report...",
                                       "secondary_sidebar_items": []},  # the tables need the width
            },
        },
    }


def toc(root: str, chapters: Sequence[TocEntry]) -> dict[str, Any]:
    """The book's ``_toc.yml``: ``root`` first, then ``chapters`` with their sections."""
    return {"format": "jb-book", "root": root, "chapters": [c.to_dict() for c in chapters]}


def write_book_files(book: Path, config: dict[str, Any], contents: dict[str, Any]) -> None:
    """Write ``_config.yml``, ``_toc.yml`` and the style sheet into ``book``."""
    import yaml

    (book / STATIC).mkdir(exist_ok=True)
    shutil.copyfile(Path(__file__).with_name("templates") / STYLE, book / STATIC / STYLE)
    write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), book / "_config.yml")
    write_text(yaml.safe_dump(contents, sort_keys=False, allow_unicode=True), book / "_toc.yml")


def build_html(book: Path, log: Path) -> tuple[Path, int]:
    """Build ``book`` into ``book/_build/html``; Sphinx's messages go to ``log``. Returns the HTML folder and
    the number of warnings; :class:`ReportBuildError` if the build fails."""
    from jupyter_book.sphinx import build_sphinx

    html = book / "_build" / "html"
    with open(log, "w", encoding="utf-8") as stream, contextlib.redirect_stdout(stream), \
            contextlib.redirect_stderr(stream), warnings.catch_warnings():
        # the extensions' own deprecation notices (and one from walking torch's modules) are not the report's
        warnings.simplefilter("ignore", (DeprecationWarning, PendingDeprecationWarning, FutureWarning))
        outcome = build_sphinx(book, html, path_config=str(book / "_config.yml"), noconfig=True, freshenv=True,
                               builder="html", quiet=True,
                               confoverrides={"external_toc_path": (book / "_toc.yml").as_posix(),
                                              "latex_individualpages": False})
    text = log.read_text(encoding="utf-8")
    if outcome != 0 or not (html / "index.html").is_file():
        tail = " | ".join(text.strip().splitlines()[-6:])
        raise ReportBuildError(f"jupyter-book could not build the report in {book} (log: {log}): {tail or outcome}")
    return html, len(_WARNING.findall(text))


def install_folder(built: Path, target: Path) -> None:
    """Move the folder ``built`` to ``target``, replacing a previous ``target`` only once ``built`` is complete
    (a rename each; an interruption leaves the old report or the new one, plus at most a hidden leftover)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    old = target.with_name(f".{target.name}.{secrets.token_hex(4)}.old")
    if target.exists():
        target.rename(old)
    built.rename(target)
    shutil.rmtree(old, ignore_errors=True)


def prune_static(html: Path) -> list[Path]:
    """Remove what the theme copies but no page loads: source maps (``*.map``, read by a browser's developer
    tools only) and the theme's translation catalogues (``_static/locales``). The files removed."""
    static = html / "_static"
    removed = sorted(static.rglob("*.map"))
    for path in removed:
        path.unlink()
    if (static / "locales").is_dir():
        removed.append(static / "locales")
        shutil.rmtree(static / "locales")
    return removed


def folder_bytes(folder: Path) -> int:
    """The size of every file under ``folder``, in bytes."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
