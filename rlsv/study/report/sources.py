"""Where the report's inputs are: what ``rlsv reproduce`` (and ``rlsv separation``) wrote for one profile.

:class:`ReportSources` names every file the report reads and says which are missing; it never writes.
The layout is the one of ``rlsv.study.reproduce``: tables in ``<runs root>/tables/<profile>/``, figures
in ``<figures root>/<profile>/``, the executed notebooks 04 and 05 in ``<runs root>/reports/<profile>/``,
one folder per run in ``<runs root>/<run-id>/`` (``docs/run_layout.md``), and the lead's provenance
files ``provenance.json`` beside the tables and the figures, with ``results.md`` beside the tables.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from rlsv.errors import RunFolderError
from rlsv.study.reproduce import (
    FIGURE_NAMES,
    FIGURES_NOTEBOOK,
    TABLES_NOTEBOOK,
    figures_dir,
    read_manifest,
    reports_dir,
    tables_dir,
)

__all__ = ["TABLE_NAMES", "PROVENANCE", "RESULTS_SNIPPET", "SEPARATION_TABLE", "DOC_PAGES", "MissingResultsError",
           "ReportSources", "checkout_docs", "relative_to_cwd"]

TABLE_NAMES: tuple[str, ...] = ("table1", "table2")
PROVENANCE = "provenance.json"
RESULTS_SNIPPET = "results.md"
SEPARATION_TABLE = "separation"
DOC_PAGES: tuple[str, ...] = ("scale_study", "separation")
"""The pages of ``docs/`` that the report carries when they are there (with the images they show)."""


class MissingResultsError(RunFolderError):
    """The results the report is built from are not there (no ``make reproduce`` yet, or another folder)."""


def checkout_docs() -> Path:
    """``docs/`` of the checkout this package runs from (it may be missing in an installed copy)."""
    return Path(__file__).resolve().parents[3] / "docs"


@dataclass(frozen=True)
class ReportSources:
    """The inputs of one profile's report.

    Attributes:
        profile: whose results (``small``, ``smoke``, ``paper``).
        runs_root: the runs folder (``papermill_runs``).
        figures_root: the figures folder (``figures``); the profile's figures are in a sub-folder.
        docs: the checkout's ``docs/`` (scale study, separation), None to leave them out.
        variant: the run set's settings hash (None: the only one, else the profile's own).
    """

    profile: str
    runs_root: Path
    figures_root: Path
    docs: Path | None = None
    variant: str | None = None

    @property
    def tables(self) -> Path:
        return tables_dir(self.runs_root, self.profile)

    @property
    def figures(self) -> Path:
        return figures_dir(self.figures_root, self.profile)

    @property
    def reports(self) -> Path:
        return reports_dir(self.runs_root, self.profile)

    def check(self) -> None:
        """Raise :class:`MissingResultsError` when the tables the report is built around are missing."""
        for name in TABLE_NAMES:
            for path in (self.tables / f"{name}.md", self.tables / f"{name}_numbers.csv"):
                if not path.is_file():
                    raise MissingResultsError(
                        f"{path} is missing: run `make reproduce PROFILE={self.profile}` (or `rlsv reproduce "
                        f"--profile {self.profile}`) first, or point --runs-root / --profile at its results.")

    def table_markdown(self, name: str) -> str:
        """``<name>.md`` as ``rlsv tables`` wrote it (a caption line and a pipe table)."""
        return (self.tables / f"{name}.md").read_text(encoding="utf-8")

    def numbers(self, name: str) -> pd.DataFrame:
        """``<name>_numbers.csv``: one row per row of the paper's table (``rlsv.study.tables.compare_with_paper``)."""
        return pd.read_csv(self.tables / f"{name}_numbers.csv")

    def separation_markdown(self) -> str | None:
        """The blind-separation table of ``rlsv separation`` (``separation.md`` beside the tables), if made."""
        path = self.tables / f"{SEPARATION_TABLE}.md"
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def figure_files(self) -> tuple[dict[str, Path], dict[str, str]]:
        """``({figure name: PNG}, {figure name: why it is missing})``, as the figures folder's ``figures.json`` lists
        them (a PNG it does not list may be left from an earlier run); without a ``figures.json``, the PNGs there."""
        manifest = read_manifest(self.figures)
        drawn = manifest.get("figures", {}) if manifest else {name: [f"{name}.png"] for name in FIGURE_NAMES}
        found, missing = {}, {}
        for name in FIGURE_NAMES:
            png = next((self.figures / f for f in drawn.get(name, []) if f.endswith(".png")), None)
            if png is not None and png.is_file():
                found[name] = png
            else:
                why = manifest.get("missing", {}).get(name)
                missing[name] = why or f"no {name}.png in {relative_to_cwd(self.figures)}"
        return found, missing

    def figures_label(self) -> dict[str, Any]:
        """What ``figures.json`` says about the runs and the segment of Figures 2 and 4 (empty if absent)."""
        manifest = read_manifest(self.figures)
        return {key: manifest[key] for key in ("runs", "segment") if manifest.get(key)}

    def executed_notebooks(self) -> dict[str, Path | None]:
        """``{"04_tables": path or None, "05_figures": path or None}``: the notebooks ``rlsv reproduce`` executed."""
        return {Path(name).stem: (self.reports / name if (self.reports / name).is_file() else None)
                for name in (TABLES_NOTEBOOK, FIGURES_NOTEBOOK)}

    def provenance(self) -> dict[str, tuple[Path, dict[str, Any] | None]]:
        """``{"tables" | "figures": (where provenance.json is or would be, its content or None)}``."""
        found = {}
        for what, folder in (("tables", self.tables), ("figures", self.figures)):
            path = folder / PROVENANCE
            found[what] = (path, _read_json_object(path))
        return found

    def results_snippet(self) -> str | None:
        """``results.md`` beside the tables (the lead's results snippet), if there."""
        path = self.tables / RESULTS_SNIPPET
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def doc_pages(self) -> dict[str, Path]:
        """``{name: path}`` of the :data:`DOC_PAGES` present in :attr:`docs`."""
        if self.docs is None:
            return {}
        return {name: self.docs / f"{name}.md" for name in DOC_PAGES if (self.docs / f"{name}.md").is_file()}


def _read_json_object(path: Path) -> dict[str, Any] | None:
    """A JSON object file, or None when absent; :class:`MissingResultsError` naming it when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise MissingResultsError(f"{path} is not valid JSON ({error}); rerun `make reproduce` or delete it.") from None
    if not isinstance(data, dict):
        raise MissingResultsError(f"{path} must hold a JSON object, got {type(data).__name__}; rerun `make reproduce` "
                                  "or delete it.")
    return data


def relative_to_cwd(path: str | os.PathLike) -> str:
    """``path`` relative to the working folder when it is inside it (for messages and pages), else absolute."""
    path = Path(path).resolve()
    cwd = Path.cwd()
    return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)
