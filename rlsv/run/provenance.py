"""Where a run's numbers come from: code, data, seeds and machine, recorded beside them (``provenance.json``).

A number can be re-derived only if one knows what made it. Every run folder holds ``provenance.json``
(:func:`write_run_provenance`), written when training starts and completed when it ends:

* ``rlsv``: version, git commit of the checkout it ran from and whether that checkout had uncommitted
  changes (``dirty``), :func:`code_version`;
* ``sessions``: one entry per training session (a resumed run has several): the epochs it trained, when,
  the command line, the machine (:func:`rlsv.run.machine.machine_description`: torch version, CPU/GPU
  model, cores), the torch threads, the convolution plan and how it was chosen (``rlsv.run.conv_plan``),
  TF32, autocast;
* ``data``: what the run trained on (``rlsv.audio`` describes it: format, tracks, and the fingerprint of the
  files' content when available);
* ``seed``, ``run_id``, ``variant``, ``profile``.

``rlsv.study.provenance`` gathers these over the runs of a table or figure into one manifest.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping

import rlsv
from rlsv.atomic import write_json
from rlsv.errors import RunFolderError
from rlsv.run.files import PROVENANCE
from rlsv.run.machine import machine_description

__all__ = ["code_version", "session_record", "read_provenance", "write_run_provenance", "finish_session"]


@lru_cache(maxsize=1)
def code_version() -> dict[str, Any]:
    """``{"version", "commit", "dirty"}`` of the rlsv that runs: the package version, and where rlsv runs from
    a git checkout, its ``HEAD`` commit and whether tracked files have uncommitted changes (None outside git)."""
    root = Path(rlsv.__file__).resolve().parents[1]

    def git(*args: str) -> str | None:
        try:
            result = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return None
        return result.stdout.strip() if result.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    dirty = None if commit is None else bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"version": rlsv.__version__, "commit": commit, "dirty": dirty}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def session_record(device: Any, threads: int, conv_plan: Mapping[str, str], first_epoch: int, tf32: bool = False,
                   amp: bool = False) -> dict[str, Any]:
    """One training session: from ``first_epoch`` on, on ``device`` with ``threads`` torch threads and the
    convolution plan ``conv_plan`` (``PlanChoice.to_dict()``); ``last_epoch`` and ``finished`` are added by
    :func:`finish_session`."""
    return {"first_epoch": first_epoch, "started": _now(), "command": " ".join(sys.argv),
            "code": code_version(), "machine": machine_description(device), "threads": threads,
            "conv_plan": dict(conv_plan), "tf32": tf32, "amp": amp}


def read_provenance(run_dir: str | Path) -> dict[str, Any] | None:
    """A run folder's ``provenance.json`` (None when it has none: a run made by an older rlsv)."""
    path = Path(run_dir) / PROVENANCE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{path} is not valid JSON ({error}); delete it: the next training session of the "
                             "run writes it again.") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} must hold a JSON object; delete it and rerun the run.")
    return data


def write_run_provenance(run_dir: str | Path, config: Mapping[str, Any], data: Mapping[str, Any],
                         session: Mapping[str, Any]) -> dict[str, Any]:
    """Start a training session in ``run_dir/provenance.json``: the run's labels and seed, its data, and
    ``session`` appended to those before it (a session that was interrupted before it finished an epoch is
    replaced)."""
    previous = read_provenance(run_dir) or {}
    sessions = [s for s in previous.get("sessions", []) if s.get("last_epoch") is not None
                and s["last_epoch"] < session["first_epoch"]]
    record = {"rlsv": code_version(), "run_id": config.get("run_id"), "variant": config.get("variant"),
              "profile": config.get("profile"), "seed": config.get("seed"), "data": dict(data),
              "sessions": [*sessions, dict(session)]}
    write_json(record, Path(run_dir) / PROVENANCE)
    return record


def finish_session(run_dir: str | Path, last_epoch: int) -> None:
    """Mark the current (last) session of ``run_dir``'s provenance as having trained up to ``last_epoch``."""
    record = read_provenance(run_dir)
    if not record or not record.get("sessions"):
        return
    record["sessions"][-1] |= {"last_epoch": last_epoch, "finished": _now()}
    write_json(record, Path(run_dir) / PROVENANCE)
