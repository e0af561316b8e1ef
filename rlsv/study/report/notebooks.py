"""The executed notebooks in the report: 04 and 05 of ``rlsv reproduce``, and each run's 02 and 03.

They are copied into the book as the sweep executed them, less their widget outputs: the progress bars
(tqdm's ipywidgets) need the Jupyter widgets JavaScript, which would come from a CDN, and a report that
opens offline carries none. Everything else (text, tables, figures, tracebacks) is kept.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rlsv.atomic import write_text
from rlsv.run.files import SUMMARY
from rlsv.run.summary import METRICS
from rlsv.study.results import RunSet

__all__ = ["WIDGET_VIEW", "RUN_NOTEBOOKS", "RunEntry", "copy_notebook", "run_entries"]

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUN_NOTEBOOKS: tuple[tuple[str, str], ...] = (("train", "train.ipynb"), ("evaluate", "evaluate.ipynb"))
"""``(label, file)`` of a run folder's executed notebooks (02 and 03)."""


def copy_notebook(source: Path, target: Path, note: str = "") -> None:
    """Copy the executed notebook ``source`` to ``target`` without its widget outputs and widget state; ``note``
    (Markdown), when given, becomes a first cell saying what the notebook is."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    if note:
        cell = {"cell_type": "markdown", "metadata": {}, "source": note}
        if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) >= (4, 5):  # cells have ids from 4.5 on
            cell["id"] = "rlsv-report-note"
        notebook.setdefault("cells", []).insert(0, cell)
    notebook.get("metadata", {}).pop("widgets", None)
    for cell in notebook.get("cells", []):
        if "outputs" in cell:
            cell["outputs"] = [o for o in cell["outputs"] if WIDGET_VIEW not in o.get("data", {})]
    write_text(json.dumps(notebook, ensure_ascii=False), target)


@dataclass
class RunEntry:
    """One run of the runs page: its id, state, mean metrics and ``(label, link)`` of its rendered notebooks."""

    run_id: str
    state: str
    si_sdr: float | None = None
    si_sdr_mask: float | None = None
    additivity: float | None = None
    notebooks: list[tuple[str, str]] = field(default_factory=list)


def _means(run_dir: Path) -> dict[str, Any]:
    try:
        summary = json.loads((run_dir / SUMMARY).read_text(encoding="utf-8"))
        return {metric: (summary.get(metric) or {}).get("mean") for metric in METRICS}
    except (OSError, ValueError, AttributeError):
        return {}


def run_entries(run_set: RunSet, book: Path | None, folder: str = "runs", shown_root: str = "") -> list[RunEntry]:
    """One :class:`RunEntry` per run of ``run_set`` (sorted by run id); with ``book``, each run's executed
    notebooks are copied to ``book/<folder>/<run-id>/`` and linked (``<folder>/<run-id>/train.ipynb``), each
    headed by a line naming the run (in ``shown_root``) and linking back to ``<folder>.md``."""
    entries = []
    for run in sorted(run_set.runs, key=lambda r: r.run_id):
        entry = RunEntry(run.run_id, run.state, **{k: v for k, v in _means(run.path).items() if v is not None})
        for label, name in RUN_NOTEBOOKS:
            if book is not None and (run.path / name).is_file():
                link = f"{folder}/{run.run_id}/{name}"
                note = (f"**Run `{run.run_id}`**: its notebook `{name}` as the sweep executed it "
                        f"(`{shown_root or run_set.root}/{run.run_id}/{name}`); [all runs](../../{folder}.md).")
                copy_notebook(run.path / name, book / link, note)
                entry.notebooks.append((label, link))
        entries.append(entry)
    return entries
