"""Claiming a run folder and working in it: the lock, ``status.json`` and the outcome, for any study.

A sweep's run and any other unit of work kept in a folder of its own (a blind-separation
estimator, say) go through :func:`claim_and_run`: take the folder's exclusive lock
(``rlsv.run.lock``), check under the lock that the work is still to do, clear what a killed
process left, write ``status.json`` ``running``, do the work, and write ``done`` once the
finished files are in place, or ``failed`` with the error. It never raises for failing work: the
:class:`RunOutcome` says what happened, so one failure never stops the others. Killed work
(``running`` left behind, a stale lock) is taken up again by the next claim, and resumes as far
as the work itself resumes (a training run from its last epoch checkpoint).

:func:`record_crash` is what an executor (``rlsv.study.executors``) records when the process doing
the work died and no outcome came back.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from rlsv.atomic import remove_leftover_temporaries
from rlsv.run.lock import RunBusyError, release_lock_of_job, run_lock
from rlsv.run.status import PARTIAL_NOTEBOOKS, describe_error, record_failure, write_status

__all__ = ["OUTCOME_STATES", "RunOutcome", "claim_and_run", "record_crash"]

OUTCOME_STATES: tuple[str, ...] = ("done", "skipped", "failed", "conflict", "busy", "submitted")


@dataclass
class RunOutcome:
    """What happened to one run (one claimed folder).

    ``state``: ``done`` (worked on now), ``skipped`` (already done), ``failed`` (``error`` says why),
    ``conflict`` (a finished run with another configuration is in the way), ``busy`` (another live
    process is at work on it), ``submitted`` (sent to SLURM without waiting).
    """

    run_id: str
    state: str
    error: str | None = None
    seconds: float = 0.0
    run_dir: str = ""


def claim_and_run(run_dir: str | Path, work: Callable[[], None], *, run_id: str | None = None,
                  force: bool = False, settled: Callable[[], RunOutcome | None] | None = None,
                  finished: Callable[[], Sequence[Path]] | None = None, engine: str | None = None,
                  failure_note: str = "") -> RunOutcome:
    """Claim ``run_dir`` (its exclusive lock), then ``work()`` in it; see the module docstring.

    Args:
        run_dir: the folder (created if needed).
        work: does the work, writing into ``run_dir``; an exception marks the run ``failed``.
        run_id: the run's name in the outcome (default: the folder's name).
        force: break locks of other hosts (``rlsv.run.lock``); live locks of this host are always respected.
        settled: called under the lock: the outcome of a run that is not to be worked on (done meanwhile,
            busy, in conflict), or None to go on.
        finished: the files the finished run holds; work that ends without one of them is ``failed``.
        engine: recorded in ``status.json`` (``"papermill"`` or ``"inline"`` for a sweep's run).
        failure_note: appended to a failed run's error (where to look).

    Returns:
        ``busy`` when another live claim holds the lock; ``failed`` when the folder cannot even be
        claimed (not writable, a full disk) or the work failed; else ``settled()``'s outcome or ``done``.
    """
    run_dir = Path(run_dir)
    name = run_id or run_dir.name
    start = time.perf_counter()
    try:
        with run_lock(run_dir, force=force):
            decided = settled() if settled is not None else None
            if decided is not None:  # finished by another claim (or at work elsewhere) since the caller looked
                return decided
            return _work_claimed(run_dir, name, work, finished, engine, failure_note, start)
    except RunBusyError as busy:
        return RunOutcome(name, "busy", f"locked by {busy.holder.describe()}", 0.0, str(run_dir))
    except OSError as error:  # the lock or the folder itself: nothing of the run could be written
        message = f"cannot claim {run_dir}: {describe_error(error)}; check that the folder is writable"
        return RunOutcome(name, "failed", message, time.perf_counter() - start, str(run_dir))


def _work_claimed(run_dir: Path, name: str, work: Callable[[], None],
                  finished: Callable[[], Sequence[Path]] | None, engine: str | None, failure_note: str,
                  start: float) -> RunOutcome:
    """:func:`claim_and_run` once the lock is held and the run is to be worked on."""
    remove_leftover_temporaries(run_dir)  # of writes a killed process left (the folder is ours now)
    for partial in run_dir.glob(PARTIAL_NOTEBOOKS):
        partial.unlink(missing_ok=True)
    # "running" from the claim on; the work may keep status.json current itself, "done" included
    write_status(run_dir, "running", **({"engine": engine} if engine else {}))
    try:
        work()
        missing = [path.name for path in (finished() if finished is not None else ()) if not path.is_file()]
        if missing:
            raise RuntimeError(f"the run ended without {missing}")
        write_status(run_dir, "done")  # once every file is in place
    except Exception as error:  # a failed run is recorded, the others go on
        message = record_failure(run_dir, error, failure_note)
        return RunOutcome(name, "failed", message, time.perf_counter() - start, str(run_dir))
    return RunOutcome(name, "done", None, time.perf_counter() - start, str(run_dir))


def record_crash(run_dir: str | Path, message: str, scheduler_job: str = "", run_id: str | None = None
                 ) -> RunOutcome:
    """The outcome of work whose process died (no outcome came back): ``status.json`` says ``failed`` with
    ``message``, and the lock of its SLURM job ``scheduler_job`` is removed (a dead local process's lock
    is stale by itself), so the next claim retries it."""
    run_dir = Path(run_dir)
    if run_dir.is_dir():  # a job cancelled before it started has no folder yet: nothing to record
        write_status(run_dir, "failed", message)
        release_lock_of_job(run_dir, scheduler_job)
    return RunOutcome(run_id or run_dir.name, "failed", message, 0.0, str(run_dir))
