"""One run of a sweep: claim its folder, train it (unless trained) and evaluate it: :func:`execute_run`.

The claim (lock, ``status.json``, leftovers of a killed process, the outcome) is
``rlsv.study.claims.claim_and_run``; under the lock the verdict is asked again
(``rlsv.study.sweep_verdicts``). The steps run ``inline`` (``rlsv.run.pipeline``) or as the
executed notebooks 02 and 03 (``papermill``). :func:`execute_run` is the picklable function of one
job that the executors (``rlsv.study.executors``) run in worker processes and SLURM jobs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rlsv.errors import ConfigError
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL
from rlsv.run.train_config import EXTENDABLE_FIELDS, config_differences
from rlsv.study.claims import RunOutcome, claim_and_run
from rlsv.study.notebook_runs import (
    ENGINES,
    EVALUATE_NOTEBOOK,
    EXECUTED,
    TRAIN_NOTEBOOK,
    execute_notebook,
    notebooks_dir,
)
from rlsv.study.sweep_plan import SweepJob
from rlsv.study.sweep_verdicts import (
    finished_files,
    settled_outcome,
    state_verdict,
    stored_config,
    training_differences,
    training_matches,
)

__all__ = ["execute_run", "shorter_run_checkpoint"]


def execute_run(job: SweepJob) -> RunOutcome:
    """Claim the run (exclusive lock), then train (unless done) and evaluate it; never raises for a
    failing run (see ``RunOutcome``).

    A run locked by another live claim is ``busy``; under the lock its state is checked again, so
    a run another sweep finished meanwhile is ``skipped`` (or a ``conflict``). ``status.json`` is
    ``running`` while it works, then ``done``, or ``failed`` with the error. A run folder that cannot
    even be claimed (no permission to write it, a full disk) is ``failed`` too, and the sweep goes on.
    """
    note = f" (executed notebooks in {job.run_dir})" if job.engine == "papermill" else ""
    return claim_and_run(job.run_dir, lambda: _run_steps(job), run_id=job.run_id, force=job.force,
                         settled=lambda: settled_outcome(job, *state_verdict(job)),
                         finished=lambda: finished_files(job), engine=job.engine, failure_note=note)


def _run_steps(job: SweepJob) -> None:
    """The claimed run's work: start from a shorter run's checkpoint (when asked), train and evaluate."""
    if job.extend_shorter:
        _start_from_shorter_run(job)
    _train_and_evaluate(job)


def _notebook_parameters(job: SweepJob, notebook: str) -> dict[str, Any]:
    common = {"run": job.params.to_dict(), "output_root": str(job.root), "device": job.device,
              "threads": job.threads, "progress": job.progress}
    if notebook == TRAIN_NOTEBOOK:
        return {**common, "live_plot": False, "conv_plan": job.conv_plan}
    return {**common, "compare_stft": False}


def _trained_already(job: SweepJob) -> bool:
    """Training finished earlier: ``model.pt`` of this run's configuration (its stamp, not only its
    presence: a model copied from another run is trained again from the run's checkpoint), its losses and
    its executed notebook."""
    from rlsv.run.model_file import model_stamp, training_stamp

    if not ((job.run_dir / MODEL).is_file() and (job.run_dir / LOSSES).is_file()
            and (job.run_dir / EXECUTED[TRAIN_NOTEBOOK]).is_file() and training_matches(job)):
        return False
    try:
        return model_stamp(job.run_dir / MODEL) == training_stamp(stored_config(job) or {})
    except ValueError:  # model.pt unreadable
        return False


def _train_and_evaluate(job: SweepJob) -> None:
    """Run the job's steps: training (unless done) and evaluation, inline or as executed notebooks."""
    from rlsv.run.pipeline import run_evaluation, run_training

    if job.engine == "inline":
        if job.params.is_trained:
            run_training(job.params, job.root, job.device, progress=job.progress, threads=job.threads,
                         conv_plan=job.conv_plan)
        run_evaluation(job.params, job.root, job.device, progress=job.progress, threads=job.threads)
    elif job.engine == "papermill":
        folder = Path(job.notebooks) if job.notebooks else notebooks_dir()
        steps = [EVALUATE_NOTEBOOK]
        if job.params.is_trained and not _trained_already(job):
            steps.insert(0, TRAIN_NOTEBOOK)
        for notebook in steps:
            execute_notebook(folder / notebook, job.run_dir / EXECUTED[notebook],
                             _notebook_parameters(job, notebook), job.kernel_name, job.timeout_s)
    else:
        raise ConfigError(f"Unknown engine {job.engine!r}; use one of {ENGINES}.")


def shorter_run_checkpoint(job: SweepJob) -> Path | None:
    """The epoch checkpoint under ``job.root`` that can start ``job``'s run: of a run with the same settings
    and fewer epochs (``rlsv.run.train.EXTENDABLE_FIELDS``), the one with the most; None if there is none."""
    if not job.params.is_trained:
        return None
    planned = job.params.train_config(job.params.dataset, job.device).to_json()
    best: tuple[int, Path] | None = None
    for run_dir in Path(job.root).iterdir():
        if run_dir == job.run_dir or not (run_dir / CHECKPOINT).is_file():
            continue
        try:
            stored = json.loads((run_dir / CONFIG).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        differences = set(training_differences(config_differences(stored, planned)))
        epochs = stored.get("epochs")
        if differences <= EXTENDABLE_FIELDS and isinstance(epochs, int) and epochs < planned["epochs"]:
            if best is None or epochs > best[0]:
                best = (epochs, run_dir / CHECKPOINT)
    return None if best is None else best[1]


def _start_from_shorter_run(job: SweepJob) -> None:
    """A new trained run (no checkpoint of its own yet) starts from :func:`shorter_run_checkpoint`, if any."""
    from rlsv.run.train import start_from_shorter_run

    if (job.run_dir / CHECKPOINT).is_file():
        return
    donor = shorter_run_checkpoint(job)
    if donor is not None:
        start_from_shorter_run(donor, job.run_dir, job.params.train_config(job.params.dataset, job.device))
