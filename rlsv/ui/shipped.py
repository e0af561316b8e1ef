"""The runs that ship with rlsv (package data ``rlsv/shipped_runs/``): a newcomer's explorer works on them
before any training.

Which runs (:data:`SHIPPED_SPECS`, small profile, seed 218): Figure 4's three (L_A ω = 4; L_B ω = 1
λ = 0.5; L_B ω = 4 λ = 1.5) and L_B at ω = 1 with λ = 1.5 and 5, so that the explorer's λ at ω = 1
walks from below the paper's transition (0.5) through it (1.5) to far above it (5). Each run folder
holds what the explorer reads: ``config.json``, ``model.pt`` (~1.6 MB), ``summary.json``,
``segments.csv`` and a ``status.json`` without host or process; ``provenance.json`` next to them
records how they were made (:func:`make_shipped_runs`, ``scripts/make_shipped_runs.py``): each run's
``RunParameters`` and the exact calls, rlsv's version and commit, torch's version, and each file's
size and SHA-256.

Made deterministically: on the CPU, one torch thread per run (the thread count changes the order of
float reductions), rlsv's fixed convolution plan (``rlsv.run.conv_plan``: chosen without timing), each run
from scratch in a fresh folder, ``model.pt`` written with fixed record names (:func:`model_bytes`); retraining
with the same code on the same CPU and torch gives the same bytes (``status.json`` aside: it records the
times), and ``rlsv verify`` re-derives each run bit for bit. The test suite
checks the recorded provenance against :func:`planned_runs` and the files without retraining
(``tests/ui/test_shipped_runs.py``).
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import os
import platform
import shutil
import subprocess
import tempfile
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping

from rlsv.atomic import atomic_path, write_json
from rlsv.errors import RunFolderError
from rlsv.run.config import RunParameters
from rlsv.run.files import CONFIG, MODEL, SEGMENTS, STATUS, SUMMARY
from rlsv.run.spec import RunSpec, sinkhorn, tv

__all__ = ["SHIPPED_SPECS", "SHIPPED_PROFILE", "SHIPPED_SEED", "SHIPPED_FILES", "OPTIONAL_FILES",
           "PROVENANCE", "SIZE_BUDGET_BYTES", "SCRIPT_COMMAND", "model_bytes", "shipped_root", "shipped_parameters",
           "run_calls", "planned_runs", "read_provenance", "recorded_plan", "make_shipped_runs"]

SHIPPED_SPECS: tuple[RunSpec, ...] = (tv(4.0), sinkhorn(1.0, 0.5), sinkhorn(4.0, 1.5), sinkhorn(1.0, 1.5),
                                      sinkhorn(1.0, 5.0))
"""Figure 4's three grid points, then λ = 1.5 and 5 at ω = 1 (p = 1)."""

SHIPPED_PROFILE = "small"
SHIPPED_SEED = 218
SHIPPED_FILES: tuple[str, ...] = (CONFIG, STATUS, MODEL, SUMMARY, SEGMENTS)
PROVENANCE = "provenance.json"
OPTIONAL_FILES: tuple[str, ...] = (PROVENANCE, "epochs.csv")
"""Shipped too where a run has them (newer rlsv writes them): its own provenance (code, machine, threads,
convolution plan, data) and the SHA-256 of its weights after each epoch, a few kB each."""
SIZE_BUDGET_BYTES = 10 * 2 ** 20
"""What the shipped runs may cost together (package data)."""
SCRIPT_COMMAND = "python scripts/make_shipped_runs.py"
"""The one command that regenerates every shipped run and ``provenance.json``."""

_DEVICE = "cpu"
_THREADS = 1
_STATUS_KEPT = ("state", "error", "train_seconds", "evaluate_seconds")  # no host, pid, process, time


def shipped_root() -> Path:
    """The folder of the shipped runs: ``rlsv/shipped_runs`` inside the installed package."""
    return Path(__file__).resolve().parents[1] / "shipped_runs"


def shipped_parameters() -> tuple[RunParameters, ...]:
    """The :class:`RunParameters` of every shipped run, in :data:`SHIPPED_SPECS` order."""
    return tuple(RunParameters.for_spec(spec, SHIPPED_PROFILE, seed=SHIPPED_SEED) for spec in SHIPPED_SPECS)


def _parameters_call(params: RunParameters) -> str:
    """``RunParameters(...)`` with the fields that differ from the defaults, as Python source."""
    given = {k: v for k, v in params.to_dict().items() if v is not None}
    return "RunParameters(" + ", ".join(f"{k}={v!r}" for k, v in given.items()) + ")"


def _options(function: Any, conv_plan: bool = False) -> dict[str, Any]:
    """The keyword arguments a shipped run passes to ``run_training`` / ``run_evaluation``: the CPU, one thread,
    no bars, and (``conv_plan``) rlsv's fixed convolution plan."""
    accepted = inspect.signature(function).parameters
    options: dict[str, Any] = {"device": _DEVICE, "threads": _THREADS, "progress": False}
    if conv_plan:
        options["conv_plan"] = "fixed"
    return {k: v for k, v in options.items() if k in accepted}


def _training_options() -> dict[str, Any]:
    from rlsv.run.pipeline import run_training

    return _options(run_training, conv_plan=True)


def _evaluation_options() -> dict[str, Any]:
    from rlsv.run.pipeline import run_evaluation

    return _options(run_evaluation)


def run_calls(params: RunParameters) -> list[str]:
    """The exact calls that make one shipped run in a folder ``WORK`` (Python source, in order)."""
    parameters = _parameters_call(params)
    train = ", ".join(f"{k}={v!r}" for k, v in _training_options().items())
    evaluate = ", ".join(f"{k}={v!r}" for k, v in _evaluation_options().items())
    return [f"run_training({parameters}, WORK, {train})", f"run_evaluation({parameters}, WORK, {evaluate})"]


def planned_runs() -> list[dict[str, Any]]:
    """What :func:`make_shipped_runs` records for each run before anything is trained: ``run_id``,
    ``parameters`` (``RunParameters.to_dict``) and ``calls`` (:func:`run_calls`)."""
    return [{"run_id": params.run_id, "parameters": params.to_dict(), "calls": run_calls(params)}
            for params in shipped_parameters()]


def read_provenance(root: str | os.PathLike | None = None) -> dict[str, Any]:
    """``provenance.json`` of the shipped runs (``root``: default :func:`shipped_root`)."""
    path = Path(root) if root is not None else shipped_root()
    try:
        return json.loads((path / PROVENANCE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"No {PROVENANCE} in {path}: the shipped runs are missing; make them with "
                             f"`{SCRIPT_COMMAND}`.") from None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _git(*args: str) -> str | None:
    try:
        done = subprocess.run(["git", *args], cwd=Path(__file__).resolve().parents[2], capture_output=True,
                              text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


def environment() -> dict[str, Any]:
    """What made the runs: rlsv's version and commit (``dirty``: uncommitted changes), torch, numpy,
    Python, the machine."""
    import numpy
    import torch

    import rlsv

    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"rlsv": rlsv.__version__, "commit": _git("rev-parse", "HEAD"),
            "dirty": None if status is None else bool(status), "torch": torch.__version__,
            "numpy": numpy.__version__, "python": platform.python_version(), "machine": platform.machine(),
            "processor": platform.processor() or None, "device": _DEVICE, "threads_per_run": _THREADS,
            "conv_plan": _training_options().get("conv_plan")}


def _make_run(params: RunParameters, work: str) -> None:
    """Train and evaluate one run into ``work`` (a process of its own when ``jobs > 1``)."""
    from rlsv.run.pipeline import run_evaluation, run_training

    run_training(params, work, **_training_options())
    run_evaluation(params, work, **_evaluation_options())


def recorded_plan(run_dir: Path) -> Any:
    """The convolution plan a run used: the last training session's in the run's own ``provenance.json`` (newer
    rlsv: the plan and how it was chosen), else ``config.json``'s ``conv_plan``; None when neither says."""
    try:
        sessions = json.loads((run_dir / PROVENANCE).read_text(encoding="utf-8")).get("sessions") or [{}]
        if sessions[-1].get("conv_plan") is not None:
            return sessions[-1]["conv_plan"]
    except (OSError, ValueError, AttributeError):
        pass
    return json.loads((run_dir / CONFIG).read_text(encoding="utf-8")).get("conv_plan")


def model_bytes(payload: Mapping[str, Any]) -> bytes:
    """A ``model.pt`` payload (``rlsv.core.model.model_payload`` and its stamp) as the bytes of a torch file
    whose records are named ``archive/``: ``torch.save`` to a path names them after the file, and the
    run wrote its model through a randomly named temporary file, so its bytes differ from run to run
    for the same weights; these depend on the payload only."""
    import torch

    buffer = io.BytesIO()
    torch.save(dict(payload), buffer)
    return buffer.getvalue()


def _copy_run(source: Path, target: Path) -> dict[str, dict[str, Any]]:
    """Copy the :data:`SHIPPED_FILES` of a finished run, each atomically: ``status.json`` without host and
    process, ``model.pt`` re-saved by :func:`model_bytes` (same payload, fixed record names). Returns each
    file's ``size`` and ``sha256``."""
    from rlsv.run.model_file import read_torch_file

    target.mkdir(parents=True, exist_ok=True)
    names = [*SHIPPED_FILES, *(name for name in OPTIONAL_FILES if (source / name).is_file())]
    for name in names:
        with atomic_path(target / name) as tmp:
            if name == STATUS:
                status = json.loads((source / STATUS).read_text(encoding="utf-8"))
                tmp.write_text(json.dumps({k: status.get(k) for k in _STATUS_KEPT}, indent=2, sort_keys=True) + "\n",
                               encoding="utf-8")
            elif name == MODEL:
                tmp.write_bytes(model_bytes(read_torch_file(source / MODEL)))
            else:
                shutil.copyfile(source / name, tmp)
    return {name: {"size": (target / name).stat().st_size, "sha256": _sha256(target / name)} for name in names}


def _train_all(parameters: Iterable[RunParameters], work: Path, jobs: int, progress: bool) -> None:
    from tqdm.auto import tqdm

    parameters = list(parameters)
    with tqdm(total=len(parameters), desc="shipped runs", unit="run", disable=not progress) as bar:
        if jobs == 1:
            for params in parameters:
                _make_run(params, str(work))
                bar.update(1)
            return
        import multiprocessing

        with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            for future in [pool.submit(_make_run, params, str(work)) for params in parameters]:
                future.result()
                bar.update(1)


def make_shipped_runs(out: str | os.PathLike | None = None, jobs: int = 1, progress: bool = True
                      ) -> dict[str, Any]:
    """Train and evaluate every shipped run from scratch, copy its files to ``out`` (default
    :func:`shipped_root`) and write ``provenance.json``; return the provenance.

    Each run trains in a fresh temporary folder (a run left from older code is never reused), on the CPU
    with one torch thread, so the result does not depend on ``jobs`` (parallel runs, one process each) or
    on the machine's core count. Run folders in ``out`` that are no longer shipped are removed.
    """
    out = Path(out) if out is not None else shipped_root()
    out.mkdir(parents=True, exist_ok=True)
    plan, made_by = planned_runs(), environment()  # before anything is written: the checkout's state
    with tempfile.TemporaryDirectory(prefix="rlsv-shipped-") as work:
        _train_all(shipped_parameters(), Path(work), jobs, progress)
        runs = [{**entry, "conv_plan": recorded_plan(Path(work) / entry["run_id"]),
                 "files": _copy_run(Path(work) / entry["run_id"], out / entry["run_id"])} for entry in plan]
    keep = {entry["run_id"] for entry in plan}
    for folder in out.iterdir():
        if folder.is_dir() and folder.name not in keep and (folder / CONFIG).is_file():
            shutil.rmtree(folder)
    provenance = {"command": SCRIPT_COMMAND, "made": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                  "environment": made_by, "runs": runs,
                  "total_bytes": sum(f["size"] for run in runs for f in run["files"].values())}
    write_json(provenance, out / PROVENANCE)
    return provenance
