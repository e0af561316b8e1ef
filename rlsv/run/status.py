"""``status.json`` of a run folder: its state (``pending``, ``running``, ``done``, ``failed``) and error.

States: ``running`` while a step runs (a ``running`` left by a killed process is resumed by the
next sweep), ``pending`` when trained and waiting for its evaluation, ``done`` when evaluated,
``failed`` with the error (and the end of its traceback).

Whose run it is: ``status.json`` records the process that wrote it (``pid``, ``host`` and its
``process`` identity, so a recycled pid does not count), and a sweep's claim is ``run.lock``
(``rlsv.run.lock``). :func:`owner_alive` checks the writer; :func:`interruption` tells a run whose
owner died (a sweep stopped by SIGINT or SIGTERM, a killed ``rlsv train``) from one at work: such a
run is shown as :data:`INTERRUPTED`, and the next sweep resumes it.
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from rlsv.atomic import write_json
from rlsv.errors import ConfigError
from rlsv.run.files import STATUS
from rlsv.run.lock import is_stale, process_alive_here, process_identity, read_lock

__all__ = [
    "STATES",
    "INTERRUPTED",
    "PARTIAL_NOTEBOOKS",
    "TIMINGS",
    "write_status",
    "read_status",
    "describe_error",
    "record_failure",
    "owner_alive",
    "running_elsewhere",
    "interruption",
    "restore_status",
    "shown_state",
]

STATES: tuple[str, ...] = ("pending", "running", "done", "failed")
INTERRUPTED = "interrupted"
"""What ``rlsv status`` shows for a ``running`` or ``pending`` run whose owner died (:func:`interruption`)."""
PARTIAL_NOTEBOOKS = ".*.partial.ipynb"
"""Glob of the notebooks papermill is still writing in a run folder (``rlsv.study.notebook_runs``):
one left without a live claim means the execution was cut short."""


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """``status.json`` of ``run_dir`` as it is (every key), or None if absent or unreadable."""
    try:
        data = json.loads((Path(run_dir) / STATUS).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


TIMINGS: tuple[str, ...] = ("train_seconds", "evaluate_seconds")
"""Seconds the last training and evaluation of a run took (inside their step, without start-up), kept in
``status.json`` from one write to the next: what ``rlsv reproduce`` adds up into its time per stage."""


def write_status(run_dir: str | os.PathLike, state: str, error: str | None = None, **extra: Any) -> dict[str, Any]:
    """Write ``status.json`` atomically: ``state``, ``error``, ``updated`` (UTC ISO), ``pid``, ``host``, the
    process's identity (``rlsv.run.lock.process_identity``), and what earlier writes recorded: the
    :data:`TIMINGS` and the sweep's ``engine`` (``"papermill"`` or ``"inline"``)."""
    if state not in STATES:
        raise ConfigError(f"Unknown state {state!r}.")
    previous = read_status(run_dir) or {}
    kept = {key: previous[key] for key in (*TIMINGS, "engine") if key in previous}
    status = {"state": state, "error": error, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "pid": os.getpid(), "host": socket.gethostname(), "process": process_identity(os.getpid()),
              **kept, **extra}
    write_json(status, Path(run_dir) / STATUS)
    return status


def restore_status(run_dir: str | os.PathLike, before: Mapping[str, Any] | None) -> None:
    """Put back the ``status.json`` read before a command that was refused (``before``, as
    :func:`read_status` returned it; None: remove the file), so that a refusal never changes a run's state."""
    path = Path(run_dir) / STATUS
    if before is None:
        path.unlink(missing_ok=True)
    else:
        write_json(dict(before), path)


def describe_error(error: BaseException) -> str:
    """One line for ``status.json``: exception type and message (papermill errors: the cell's error)."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    message = str(error) or repr(error)
    return f"{type(error).__name__}: {message}"


def record_failure(run_dir: str | os.PathLike, error: BaseException, note: str = "") -> str:
    """Write ``status.json`` as ``failed``: the error's line (:func:`describe_error`) plus ``note``, and
    the end of its traceback; return the line."""
    message = describe_error(error) + note
    write_status(run_dir, "failed", message, traceback="".join(traceback.format_exception(error))[-4000:])
    return message


def owner_alive(status: Mapping[str, Any]) -> bool | None:
    """Whether the process that wrote ``status`` (its ``pid``, ``host`` and ``process`` identity) is alive:
    True or False on this host (a pid now held by another process counts as dead), None where it cannot be
    told (written on another host, e.g. a SLURM node, or no pid recorded)."""
    try:
        pid = int(status.get("pid"))
    except (TypeError, ValueError):
        return None
    host = status.get("host")
    if pid <= 0 or host != socket.gethostname():
        return None
    return process_alive_here(host, pid, status.get("process") or None)


def running_elsewhere(status: Mapping[str, Any]) -> bool:
    """``status`` says ``running`` by a live process of this host other than this one (a notebook run by hand,
    another sweep): a sweep leaves such a run alone. A ``running`` that this process left behind (an
    interrupted sweep in the same notebook) is not: it is resumed."""
    if status.get("state") != "running" or owner_alive(status) is not True:
        return False
    return int(status["pid"]) != os.getpid()


def interruption(run_dir: str | os.PathLike) -> str | None:
    """Why the run in ``run_dir`` is interrupted, or None when it is not.

    A ``running`` or ``pending`` run is interrupted when its owner died: the sweep holding its
    ``run.lock`` is gone (``rlsv.run.lock.is_stale``: a dead or recycled pid on this host), or, with no
    lock, the process that wrote ``running`` is gone (:func:`owner_alive`), or a notebook execution was
    cut short (a :data:`PARTIAL_NOTEBOOKS` file). A live lock means someone is at work on it; a process of
    another host cannot be checked from here, so its run stays as it says.
    """
    run_dir = Path(run_dir)
    status = read_status(run_dir) or {}
    if status.get("state") not in ("running", "pending"):
        return None
    holder = read_lock(run_dir)
    if holder is not None:
        return None if not is_stale(holder) else f"the process that held it ({holder.describe()}) is gone"
    if status.get("state") == "running" and owner_alive(status) is False:
        return f"process {status.get('pid')} on {status.get('host')} that ran it is gone"
    partial = next(run_dir.glob(PARTIAL_NOTEBOOKS), None)
    if partial is not None:
        return f"a notebook execution was cut short ({partial.name} left)"
    return None


def shown_state(run_dir: str | os.PathLike, state: str, error: str | None) -> tuple[str, str]:
    """The state and error ``rlsv status`` shows for the run in ``run_dir`` whose ``status.json`` says ``state``
    and ``error``: :data:`INTERRUPTED`, with why and that rerunning its command resumes it, when
    :func:`interruption` finds its owner dead; else ``state`` and ``error`` (``""`` for none)."""
    why = interruption(run_dir)
    if why is not None:
        return INTERRUPTED, f"{why}; rerunning the command that made it (the sweep, or rlsv train) resumes it"
    return state, error or ""
