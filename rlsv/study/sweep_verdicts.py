"""What a sweep does with each planned run: skip it, leave it (conflict, busy), or run it.

:func:`classify_run` reads the run folder (``status.json``, ``config.json``, ``run.lock``, the
finished files) and gives the verdict; :func:`settled_outcome` turns a verdict other than ``run``
into the run's :class:`rlsv.study.claims.RunOutcome`. The sweep asks before it starts any work, and
each run asks again under its own lock (``rlsv.study.sweep_run``), so a run another sweep finished
meanwhile is not redone.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Sequence

from rlsv.run.evaluate import EVALUATION
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL, SEGMENTS, SUMMARY
from rlsv.run.lock import FOREIGN_LOCK_MAX_AGE_S, is_stale, read_lock
from rlsv.run.pipeline import planned_config
from rlsv.run.status import read_status, running_elsewhere
from rlsv.run.train_config import config_differences
from rlsv.study.claims import RunOutcome
from rlsv.study.notebook_runs import EVALUATE_NOTEBOOK, EXECUTED, TRAIN_NOTEBOOK
from rlsv.study.sweep_plan import SweepJob

__all__ = [
    "VERDICTS",
    "stored_config",
    "training_differences",
    "training_matches",
    "finished_files",
    "classify_run",
    "verdict",
    "state_verdict",
    "settled_outcome",
]

VERDICTS: tuple[str, ...] = ("skip", "conflict", "busy", "run")

# config.json fields that only say how a run is evaluated: a run differing in them alone is evaluated
# again. "max_test_tracks" is where STFT runs recorded their test tracks before the "evaluation" entry.
_EVALUATION_FIELDS = frozenset({EVALUATION, "max_test_tracks"})


def stored_config(job: SweepJob) -> dict[str, Any] | None:
    """The run folder's ``config.json`` (None: absent or unreadable)."""
    try:
        return json.loads((job.run_dir / CONFIG).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _config_differences(job: SweepJob) -> list[str] | None:
    """Fields in which the run folder's ``config.json`` differs from what ``job`` would write, its
    evaluation settings included (``"evaluation"``); None when there is no config."""
    stored = stored_config(job)
    if stored is None:
        return None
    return config_differences(stored, planned_config(job.params, job.params.dataset, job.device))


def training_differences(differences: Sequence[str]) -> list[str]:
    """The fields of ``differences`` (of ``rlsv.run.train.config_differences``) that are not evaluation
    settings: none means the run's training is kept (at most, it is evaluated again)."""
    return [d for d in differences if d not in _EVALUATION_FIELDS]


def training_matches(job: SweepJob) -> bool:
    """Whether the run folder's configuration is the one ``job`` trains (evaluation settings aside)."""
    differences = _config_differences(job)
    return differences is not None and not training_differences(differences)


def finished_files(job: SweepJob, engine: str | None = None) -> list[Path]:
    """The files a finished run holds: its configuration and evaluation, for a trained run its checkpoint,
    losses and model, and for a run made by the papermill engine (``engine``, default the job's) the executed
    notebooks. A run made inline is finished for a papermill sweep too: the sweep does not redo it for its
    notebooks."""
    names = [CONFIG, SEGMENTS, SUMMARY]
    if job.params.is_trained:
        names += [CHECKPOINT, LOSSES, MODEL]
    if (engine or job.engine) == "papermill":
        names += [EXECUTED[EVALUATE_NOTEBOOK]] + ([EXECUTED[TRAIN_NOTEBOOK]] if job.params.is_trained else [])
    return [job.run_dir / name for name in names]


def state_verdict(job: SweepJob) -> tuple[str, list[str]]:
    """:func:`classify_run` from the run folder's files, locks aside, with the training fields that
    differ for a ``"conflict"`` (``[]`` otherwise).

    ``done`` counts only with every file of :func:`finished_files` present (a kill between the last
    step's end and its last file is finished on the next sweep) and a readable ``config.json``.
    """
    status = read_status(job.run_dir) or {}
    if running_elsewhere(status):
        return "busy", []
    made_by = status.get("engine", "inline")  # what made the run (runs of notebooks 02/03 by hand: no notebooks here)
    if status.get("state") == "done" and all(path.is_file() for path in finished_files(job, made_by)):
        differences = _config_differences(job)
        if differences is None:  # config.json unreadable: the run is redone (training resumes its checkpoint)
            return "run", []
        if not differences:
            return "skip", []
        training = training_differences(differences)
        return ("conflict", training) if training else ("run", [])
    return "run", []


def verdict(job: SweepJob) -> tuple[str, list[str]]:
    """:func:`classify_run`'s verdict, with the training fields that differ for a ``"conflict"``."""
    holder = read_lock(job.run_dir)
    if holder is not None and not is_stale(holder, FOREIGN_LOCK_MAX_AGE_S, job.force):
        return "busy", []
    return state_verdict(job)


def classify_run(job: SweepJob) -> str:
    """What a sweep does with a run folder (one of :data:`VERDICTS`).

    ``"skip"``: done with the same configuration and evaluation settings; ``"conflict"``: done
    with another configuration (e.g. other epochs or sizes: run ids do not encode them), left
    untouched; ``"busy"``: locked by another live claim (``rlsv.run.lock``), or its recorded
    process is alive on this host; ``"run"``: everything else (new, failed, pending, ``running``
    left by a killed process, or done but evaluated with other settings: evaluated again).
    """
    return verdict(job)[0]


def settled_outcome(job: SweepJob, decided: str, differences: Sequence[str] = ()) -> RunOutcome | None:
    """The outcome of a run the sweep does not execute (verdict ``decided``: ``skip``, ``conflict``,
    ``busy``); None for ``run``.

    ``differences``: for a ``conflict``, the training fields in which the run folder's configuration
    differs (as the verdict found them, :func:`state_verdict`).
    """
    if decided == "run":
        return None
    if decided == "skip":
        return RunOutcome(job.run_id, "skipped", None, 0.0, str(job.run_dir))
    if decided == "conflict":
        message = (f"{job.run_dir} holds a finished run with another configuration (differs in: "
                   f"{', '.join(differences)}); left as it is. Delete that folder to redo it, "
                   "or use another runs root.")
        return RunOutcome(job.run_id, "conflict", message, 0.0, str(job.run_dir))
    # status.json first: under the sweep's own claim (rlsv.study.sweep_run) the lock is the sweep's
    status = read_status(job.run_dir) or {}
    holder = None if running_elsewhere(status) else read_lock(job.run_dir)
    if holder is not None:
        message = f"locked by {holder.describe()}"
    else:
        message = f"running in process {status.get('pid')} on {status.get('host')} since {status.get('updated')}"
    return RunOutcome(job.run_id, "busy", message, 0.0, str(job.run_dir))
