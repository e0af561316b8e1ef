"""One row per run folder: what ``rlsv status`` prints and what the tables report beside their numbers.

* :func:`status_frame` / :func:`run_status` -- state, error and time of each run folder (a folder that breaks
  ``docs/run_layout.md`` is ``invalid``, with the reason);
* :func:`run_overview` -- ``rlsv status``: state (``interrupted`` when the process that ran it is gone), epochs
  trained and asked for, mean metrics, error.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import pandas as pd

from rlsv.run.files import LOSSES
from rlsv.run.summary import METRICS
from rlsv.study.results import InvalidRun, Run, scan_runs

__all__ = ["STATUS_COLUMNS", "status_frame", "run_status", "run_overview"]

STATUS_COLUMNS: tuple[str, ...] = ("run_id", "profile", "state", "error", "updated")


def status_frame(runs: Iterable[Run | InvalidRun]) -> pd.DataFrame:
    """:func:`run_status` on runs already read (:func:`scan_runs`); a run whose owner died is ``interrupted``
    (``rlsv.run.status.shown_state``), as ``rlsv status`` shows it."""
    from rlsv.run.status import shown_state

    rows = []
    for run in runs:
        if isinstance(run, InvalidRun):
            rows.append({"run_id": run.path.name, "profile": None, "state": "invalid",
                         "error": str(run.error), "updated": None})
        else:
            state, error = shown_state(run.path, run.state, run.status.get("error"))
            rows.append({"run_id": run.run_id, "profile": run.config["profile"],
                         **run.status, "state": state, "error": error or None})
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


def run_status(root: str | Path = "papermill_runs") -> pd.DataFrame:
    """One row per run directory under ``root``: columns ``STATUS_COLUMNS``.

    A directory whose files cannot be read gets state ``"invalid"`` and the reason as ``error``,
    so a single broken run does not hide the others.
    """
    return status_frame(scan_runs(root))


def _last_epoch(run_dir: Path) -> int | None:
    """The last epoch in a run's ``losses.csv`` (its last line's first field), None when there is none."""
    try:
        with open(run_dir / LOSSES, "rb") as fh:
            fh.seek(0, 2)
            fh.seek(max(0, fh.tell() - 256))
            last = fh.read().decode("utf-8", errors="replace").strip().splitlines()[-1]
        return int(last.split(",")[0])
    except (OSError, ValueError, IndexError):
        return None


def _summary_means(run_dir: Path) -> dict[str, float]:
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        return {metric: summary[metric]["mean"] for metric in METRICS if summary.get(metric)}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def run_overview(root: str | Path = "papermill_runs", profile: str | None = None) -> pd.DataFrame:
    """``rlsv status``: one row per run folder under ``root`` (of ``profile``, when given): ``run_id`` (a
    folder not named by its run id: ``folder (run id)``), ``state, epochs`` (trained / asked for), the mean
    ``additivity, si_sdr_mask, si_sdr`` of its evaluation and its ``error``; folders that break
    ``docs/run_layout.md`` are listed as ``invalid`` with the reason, and runs whose owner died as
    ``interrupted`` (``rlsv.run.status.shown_state``)."""
    from rlsv.run.status import shown_state

    rows = []
    for run in scan_runs(root):
        if isinstance(run, InvalidRun):
            if profile is None:
                rows.append({"run_id": run.path.name, "state": "invalid", "error": str(run.error)})
            continue
        if profile is not None and run.config["profile"] != profile:
            continue
        trained, asked = _last_epoch(run.path), run.config.get("epochs")
        epochs = "" if asked is None else f"{trained or 0}/{asked}"
        state, error = shown_state(run.path, run.state, run.status.get("error"))
        # a run of one's own (rlsv train) lives in a folder of any name, and several may share a run id
        name = run.run_id if run.path.name == run.run_id else f"{run.path.name} ({run.run_id})"
        rows.append({"run_id": name, "state": state, "epochs": epochs, **_summary_means(run.path), "error": error})
    columns = ["run_id", "state", "epochs", *METRICS, "error"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.round({"si_sdr": 2, "si_sdr_mask": 2, "additivity": 3})
