"""``status.json`` of a run folder: its state (``pending``, ``running``, ``done``, ``failed``) and error.

States: ``running`` while a step runs (a ``running`` left by a killed process is resumed by the
next sweep), ``pending`` when trained and waiting for its evaluation, ``done`` when evaluated,
``failed`` with the error (and the end of its traceback).
"""

from __future__ import annotations

import json
import os
import socket
import traceback
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rlsv.atomic import write_json
from rlsv.errors import ConfigError
from rlsv.run.files import STATUS

__all__ = ["STATES", "TIMINGS", "write_status", "read_status", "describe_error", "record_failure"]

STATES: tuple[str, ...] = ("pending", "running", "done", "failed")


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
    from rlsv.run.lock import process_identity

    previous = read_status(run_dir) or {}
    kept = {key: previous[key] for key in (*TIMINGS, "engine") if key in previous}
    status = {"state": state, "error": error, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "pid": os.getpid(), "host": socket.gethostname(), "process": process_identity(os.getpid()),
              **kept, **extra}
    write_json(status, Path(run_dir) / STATUS)
    return status


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
