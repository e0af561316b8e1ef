"""One run, step by step, as notebooks 02 and 03, the sweeps and ``rlsv`` call it.

* :func:`run_training` -- ``fit`` the run into ``<output_root>/<run-id>/`` (resumes from
  ``checkpoint.pt``), ``status.json`` kept up to date (``rlsv.run.status``).
* :func:`run_evaluation` -- evaluate a trained run, or the STFT baseline (objective ``"stft"``).
* :func:`planned_config` -- the ``config.json`` a run will have (what a sweep compares before skipping).
* :func:`stft_on_same_segments` -- the STFT baseline on the segments a run was evaluated on.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import pandas as pd

from rlsv.atomic import write_json
from rlsv.errors import ConfigError, UserError
from rlsv.run.config import RunParameters
from rlsv.run.data import dataset_root
from rlsv.run.evaluate import (
    EVALUATION,
    evaluate_run,
    evaluate_stft,
    iter_test_segments,
    run_test_dataset,
    run_test_segments,
    write_evaluation,
)
from rlsv.run.files import CHECKPOINT, CONFIG, SEGMENTS, SUMMARY
from rlsv.run.folder import read_json_object
from rlsv.run.runtime import Runtime, runtime
from rlsv.run.status import read_status, record_failure, restore_status, write_status

__all__ = ["run_training", "train_folder", "run_evaluation", "stft_config", "planned_config", "stft_on_same_segments"]


def _run_dir(params: RunParameters, output_root: str | os.PathLike) -> Path:
    return Path(output_root).expanduser().resolve() / params.run_id


def run_training(params: RunParameters, output_root: str | os.PathLike = "papermill_runs", device: str = "auto",
                 progress: bool = True, callback: Callable[[pd.DataFrame], None] | None = None,
                 threads: int | None = None, conv_plan: str | None = None, run_dir: str | os.PathLike | None = None,
                 extend: bool = False, **runtime: Any):
    """Train the run into ``<output_root>/<run-id>/`` (or ``run_dir``, a folder of the user's choosing), resuming a
    checkpoint; return the ``FitResult``.

    ``threads``, ``conv_plan`` and ``runtime`` (``tf32``, ``amp``, ``cache_dir``, ``keep_epochs``): how it runs
    (``rlsv.run.train_config``'s runtime settings; None: their defaults). ``extend``: train a finished run on to
    more epochs (``fit``). ``status.json``: ``running`` during training, ``pending`` afterwards (waiting for
    :func:`run_evaluation`; a run that was ``done`` and had nothing left to train stays ``done``), ``failed``
    with the error if training raises (the exception is re-raised).
    """
    from rlsv.run.train import fit

    if not params.is_trained:
        raise ConfigError("The STFT baseline is not trained; run the evaluation step (03_evaluate) only.")
    run_dir = Path(run_dir).expanduser().resolve() if run_dir is not None else _run_dir(params, output_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    before = read_status(run_dir) or {}
    write_status(run_dir, "running")
    try:
        config = params.train_config(dataset_root(params.profile, params.dataset, progress), device,
                                     threads=threads, conv_plan=conv_plan, **runtime)
        result = fit(config, run_dir, progress=progress, callback=callback, extend=extend)
    except UserError as error:
        if before.get("state") == "done":  # refused (other settings, changed data): a finished run stays as it was
            restore_status(run_dir, before)
        else:
            record_failure(run_dir, error)
        raise
    except Exception as error:
        record_failure(run_dir, error)
        raise
    unchanged = before.get("state") == "done" and result.resumed_from_epoch >= config.epochs
    timing = {} if result.resumed_from_epoch >= config.epochs else {"train_seconds": round(result.seconds, 2)}
    write_status(run_dir, "done" if unchanged else "pending", **timing)
    return result


def stft_config(params: RunParameters, root: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of an STFT baseline run (``docs/run_layout.md``): segment length from the
    profile's model, the evaluation settings under ``evaluation``."""
    from rlsv.core.metrics import StftBaseline

    baseline = StftBaseline()
    return {"run_id": params.run_id, "profile": params.profile, "variant": params.variant, "objective": "stft",
            "omega": None, "lam": None, "p": None, "epochs": None, "seed": None,
            "model": params.model_config().to_dict(),
            "dataset": str(root), EVALUATION: params.evaluation_settings().to_dict(),
            "stft": {"n_fft": baseline.n_fft, "hop": baseline.hop, "window": baseline.window}}


def planned_config(params: RunParameters, dataset: str | os.PathLike, device: str = "auto") -> dict[str, Any]:
    """The ``config.json`` a run with ``params`` will have once evaluated (JSON values): the training
    configuration and the evaluation settings, or the STFT baseline's (:func:`stft_config`)."""
    if not params.is_trained:
        return json.loads(json.dumps(stft_config(params, dataset)))
    return params.train_config(dataset, device).to_json() | {EVALUATION: params.evaluation_settings().to_dict()}


def _evaluate_stft_run(params: RunParameters, run_dir: Path, progress: bool):
    """The STFT baseline run: write its ``config.json``, then evaluate it on that configuration's test tracks."""
    config = stft_config(params, dataset_root(params.profile, params.dataset, progress))
    write_json(config, run_dir / CONFIG)
    data = run_test_dataset(config, progress=progress)
    return write_evaluation(evaluate_stft(iter_test_segments(data, config["model"]["segment_length"], progress)),
                            run_dir)


def run_evaluation(params: RunParameters, output_root: str | os.PathLike = "papermill_runs", device: str = "auto",
                   progress: bool = True, threads: int | None = None):
    """Evaluate the run in ``<output_root>/<run-id>/``; return the ``EvalResult`` (segments, summary).

    A trained run needs its ``model.pt``; the STFT baseline (objective ``"stft"``) writes its own
    ``config.json`` first. Writes ``segments.csv`` and ``summary.json`` and records the evaluation
    settings (:meth:`RunParameters.evaluation_settings`) in ``config.json``; ``status.json``
    becomes ``done`` (or ``failed`` with the error, re-raised).
    """
    run_dir = _run_dir(params, output_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_status(run_dir, "running")
    start = time.perf_counter()
    try:
        with runtime(Runtime(threads=threads)):
            result = _evaluate(params, run_dir, device, progress)
    except Exception as error:
        record_failure(run_dir, error)
        raise
    write_status(run_dir, "done", evaluate_seconds=round(time.perf_counter() - start, 2))
    return result


def _evaluate(params: RunParameters, run_dir: Path, device: str, progress: bool):
    """The evaluation step of :func:`run_evaluation`: a trained run's model, or the STFT baseline."""
    if params.is_trained:
        settings = params.evaluation_settings()
        return evaluate_run(run_dir, device=device, max_tracks=settings.max_test_tracks,
                            mask_inclusive=settings.mask_inclusive, progress=progress)
    return _evaluate_stft_run(params, run_dir, progress)


def stft_on_same_segments(run_dir: str | os.PathLike, progress: bool = False) -> pd.DataFrame:
    """The STFT baseline on the test segments ``run_dir`` was evaluated on (same tracks, same N).

    The tracks are those of the run's ``segments.csv`` (only they are read and decoded); the
    segments kept are the same because the silence rule depends on the vocals only.
    """
    evaluated = set(pd.read_csv(Path(run_dir) / SEGMENTS, dtype={"track": str})["track"])
    return evaluate_stft(run_test_segments(run_dir, tracks=evaluated, progress=progress))


def train_folder(params: RunParameters, run_dir: str | os.PathLike, device: str = "auto", extend: bool = False,
                 progress: bool = True, **runtime: Any):
    """``rlsv train``: train ``params``'s run into ``run_dir``, a folder the user chose, under the folder's lock.

    Two commands on one folder never train it at once: the second one stops with a one-line error naming the
    holder (the lock of ``rlsv.run.lock``, which sweeps use too). ``extend`` trains a finished run on to more
    epochs; since the run then has other settings (its run id and variant encode the epochs), its evaluation
    files are removed (``segments.csv``, ``summary.json``) and its status becomes ``pending`` -- a folder a sweep
    made is refused: train its longer run into a new folder instead, or let the sweep do it.
    """
    from rlsv.run.lock import RunBusyError, run_lock

    run_dir = Path(run_dir).expanduser().resolve()
    if run_dir.exists() and not run_dir.is_dir():
        raise ConfigError(f"{run_dir} is a file, not a folder: rlsv train writes a run into a folder. Give a "
                          "folder's path (it is created when missing).")
    if (run_dir / CONFIG).is_file():  # a damaged config.json is named, not trained past and left damaged
        read_json_object(run_dir / CONFIG, "the run's configuration")
    if extend and _made_by_a_sweep(run_dir):
        raise ConfigError(f"{run_dir} is a sweep's run (its folder is named by its run id): extending it in place "
                          f"would make it another run. Train the longer run into a new folder (rlsv train NEW "
                          f"--epochs N), or rerun the sweep with --epochs N.")
    existed = run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        with run_lock(run_dir):
            result = run_training(params, run_dir=run_dir, device=device, progress=progress, extend=extend,
                                  **runtime)
            if extend and result.resumed_from_epoch < params.train_config().epochs:
                for stale in (SEGMENTS, SUMMARY):
                    (run_dir / stale).unlink(missing_ok=True)
    except RunBusyError as busy:
        raise ConfigError(f"{run_dir} is being trained by {busy.holder.describe()}; wait for it to finish, or "
                          "train into another folder.") from None
    except UserError:  # refused before any training (bad data, settings): leave no folder behind
        if not existed and not (run_dir / CHECKPOINT).exists():
            shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return result


def _made_by_a_sweep(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a run named by its run id (how sweeps name their folders)."""
    try:
        config = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(config, dict) and config.get("run_id") == run_dir.name
