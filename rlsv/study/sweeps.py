"""Hyper-parameter sweeps: every run of a grid through ``02_train.ipynb`` and ``03_evaluate.ipynb``.

``run_sweep("table1", profile="small", jobs=2)`` executes, for each grid point (``rlsv.run.spec``),
notebook 02 (training) then notebook 03 (evaluation) with papermill into
``<root>/<run-id>/{train,evaluate}.ipynb``, next to the run's ``config.json``, ``checkpoint.pt``,
``model.pt``, ``losses.csv``, ``segments.csv``, ``summary.json`` and ``status.json``
(``docs/run_layout.md``). The STFT row is its own run (``<profile>-stft``; notebook 03 only).

Re-running a sweep is always safe:

* a ``done`` run (evaluated, same configuration) is skipped; one made with another
  configuration (other epochs, sizes or data: run ids do not encode them) is left untouched and
  reported as a ``conflict``;
* a ``done`` run evaluated with other evaluation settings (e.g. fewer test tracks) is evaluated
  again; its training is kept;
* a ``failed`` run is retried; a ``running`` run left behind by a killed process resumes from
  its last epoch checkpoint;
* a run is claimed with an exclusive lock for the whole run (training and evaluation,
  ``rlsv.run.lock``), and its state is checked again under the lock: a run that another sweep
  (another terminal, a SLURM job) is working on, or whose recorded notebook process is alive on
  this host, is left alone and reported as ``busy``. A lock from another host counts as busy until
  it is older than ``rlsv.run.lock.FOREIGN_LOCK_MAX_AGE_S`` (48 h) or ``force=True``;
* a failed run never stops the sweep: its error goes to ``status.json`` and to the report, and
  :attr:`SweepReport.ok` is False (``rlsv sweep`` exits with code 1).

Execution (``executor``):

* ``"local"``: ``jobs`` worker processes. With GPUs each worker gets one
  (``CUDA_VISIBLE_DEVICES``, round-robin when ``jobs`` exceeds the GPUs); on CPU each worker gets
  ``cores // jobs`` torch threads (``OMP_NUM_THREADS`` and ``torch.set_num_threads``).
* ``"slurm"``: one submitit job array (``SlurmOptions``: partition, time, GPUs, CPUs, memory),
  at most ``jobs`` runs at a time; the command waits and reports (or returns at once with ``wait=False``).
* ``"submitit-local"``: the runs as submitit jobs on this machine (no cluster needed), at most
  ``jobs`` at a time, each with its worker slot's GPU and threads as with ``"local"``.

``engine="inline"`` calls the notebooks' functions (``rlsv.run.pipeline.run_training`` /
``run_evaluation``) directly instead of executing the notebooks: same results, no executed
notebooks, no kernel start-up (about 7 s per run saved).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any, Mapping, Sequence

from tqdm.auto import tqdm

from rlsv.atomic import remove_leftover_temporaries
from rlsv.errors import ConfigError
from rlsv.run.config import RunParameters
from rlsv.run.data import dataset_root, prepare_data
from rlsv.run.evaluate import EVALUATION
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL, SEGMENTS, SUMMARY
from rlsv.run.lock import (
    FOREIGN_LOCK_MAX_AGE_S,
    RunBusyError,
    is_stale,
    process_alive_here,
    read_lock,
    release_lock_of_job,
    run_lock,
)
from rlsv.run.pipeline import planned_config
from rlsv.run.profiles import DEFAULT_PROFILE
from rlsv.run.spec import RunSpec, unique_specs
from rlsv.run.status import describe_error, read_status, record_failure, write_status
from rlsv.run.train_config import EXTENDABLE_FIELDS, config_differences
from rlsv.study.grids import get_grid
from rlsv.study.results import DEFAULT_SEED

__all__ = [
    "ENGINES",
    "EXECUTORS",
    "TRAIN_NOTEBOOK",
    "EVALUATE_NOTEBOOK",
    "notebooks_dir",
    "execute_notebook",
    "SlurmOptions",
    "SweepJob",
    "RunOutcome",
    "SweepReport",
    "sweep_seeds",
    "plan_runs",
    "worker_threads",
    "classify_run",
    "execute_run",
    "run_sweep",
]

ENGINES: tuple[str, ...] = ("papermill", "inline")
EXECUTORS: tuple[str, ...] = ("local", "slurm", "submitit-local")
TRAIN_NOTEBOOK, EVALUATE_NOTEBOOK = "02_train.ipynb", "03_evaluate.ipynb"
_EXECUTED = {TRAIN_NOTEBOOK: "train.ipynb", EVALUATE_NOTEBOOK: "evaluate.ipynb"}
_KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks: ``$RLSV_NOTEBOOKS``, else ``notebooks/`` of this checkout."""
    configured = os.environ.get("RLSV_NOTEBOOKS")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "notebooks"
    if not (folder / TRAIN_NOTEBOOK).is_file():
        raise FileNotFoundError(
            f"The notebooks are not in {folder}. Run rlsv from its git checkout (pip install -e .), "
            "set RLSV_NOTEBOOKS to the folder holding 02_train.ipynb, or use --engine inline."
        )
    return folder.resolve()


def execute_notebook(notebook: str | os.PathLike, output: str | os.PathLike, parameters: Mapping[str, Any],
                     kernel_name: str = "python3", timeout_s: float | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (replaced atomically, also on failure).

    The executed copy is written next to ``output`` under a temporary name of its own (two
    executions into the same folder never share it) and renamed when the execution ends, so
    ``output`` is never half-written; a failing notebook is kept (with its traceback) and the
    papermill error is re-raised.
    """
    import papermill as pm

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial{output.suffix}")
    try:
        pm.execute_notebook(str(notebook), str(partial), parameters=dict(parameters), kernel_name=kernel_name,
                            progress_bar=False, log_output=False, execution_timeout=timeout_s,
                            extra_arguments=_KERNEL_ARGUMENTS)
    finally:
        if partial.exists():
            os.replace(partial, output)
    return output


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each run when the sweep goes to SLURM through submitit.

    Attributes:
        partition: SLURM partition (None: the cluster's default).
        time_min: wall-time limit per run in minutes.
        gpus_per_job, cpus_per_job, mem_gb: resources per run.
        account, qos, constraint: optional SLURM settings (None: unset).
        wait: wait for the array and report (False: print the job ids and return).
    """

    partition: str | None = None
    time_min: int = 240
    gpus_per_job: int = 1
    cpus_per_job: int = 8
    mem_gb: int = 32
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    wait: bool = True


@dataclass(frozen=True)
class SweepJob:
    """One run to execute: its parameters, where and how (picklable: sent to workers and SLURM).

    ``threads``: torch threads of the run (None: torch's default); ``environment``: variables set
    in the process that runs it (a submitit job's GPU and thread limits; local worker processes
    get theirs when they start); ``force``: break locks of other hosts (``rlsv.run.lock``);
    ``extend_shorter``: start a new run from the checkpoint of a shorter run of the same settings
    under ``root`` (:func:`shorter_run_checkpoint`).
    """

    params: RunParameters
    root: str
    engine: str = "papermill"
    notebooks: str | None = None
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    kernel_name: str = "python3"
    timeout_s: float | None = None
    force: bool = False
    environment: Mapping[str, str] | None = None
    extend_shorter: bool = False

    @property
    def run_id(self) -> str:
        return self.params.run_id

    @property
    def run_dir(self) -> Path:
        return Path(self.root) / self.params.run_id


@dataclass
class RunOutcome:
    """What happened to one run in a sweep.

    ``state``: ``done`` (trained and evaluated now), ``skipped`` (already done), ``failed``
    (``error`` says why), ``conflict`` (a finished run with another configuration is in the way),
    ``busy`` (another live process is running it), ``submitted`` (sent to SLURM without waiting).
    """

    run_id: str
    state: str
    error: str | None = None
    seconds: float = 0.0
    run_dir: str = ""


@dataclass
class SweepReport:
    """The outcome of every run of a sweep, in grid order."""

    grid: str
    profile: str
    root: Path
    outcomes: list[RunOutcome] = field(default_factory=list)
    seconds: float = 0.0
    submitted: list[str] = field(default_factory=list)
    variant: str | None = None  # the settings hash the sweep's runs share (rlsv.run.spec.variant_id)
    prepare_seconds: float = 0.0  # finding, writing and decoding the data, before any run

    def _with(self, state: str) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.state == state]

    @property
    def failed(self) -> list[RunOutcome]:
        return self._with("failed")

    @property
    def ok(self) -> bool:
        """True when no run failed or conflicts with an existing run (busy runs are not failures)."""
        return not self.failed and not self._with("conflict")

    def counts(self) -> dict[str, int]:
        return {state: len(self._with(state))
                for state in ("done", "skipped", "failed", "conflict", "busy", "submitted")}

    def text(self) -> str:
        """A few lines for the terminal: counts, then each failed or busy run with its error."""
        counts = ", ".join(f"{n} {state}" for state, n in self.counts().items() if n)
        lines = [f"rlsv sweep {self.grid} ({self.profile}): {len(self.outcomes)} runs in {self.root}: "
                 f"{counts or 'nothing to do'} ({self.seconds:.0f} s)"]
        if self.submitted:
            lines.append(f"  submitted jobs: {', '.join(self.submitted)}")
        for o in self.outcomes:
            if o.state in ("failed", "conflict", "busy"):
                lines.append(f"  {o.state.upper()} {o.run_id}: {o.error}")
        if self.failed:
            lines.append("  See status.json and the executed notebooks in each failed run's folder; "
                         "rerun the same command to retry the failed runs.")
        return "\n".join(lines)


# --------------------------------------------------------------------------- planning


def sweep_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """The training seeds of a sweep: ``k`` -> the published seed 218 and the next ``k - 1`` integers
    (``218, 219, ...``), or an explicit sequence of seeds (each once, in order)."""
    if isinstance(seeds, bool) or not isinstance(seeds, (int, Sequence)):
        raise ConfigError(f"seeds must be a count >= 1 or a list of seeds, got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds (--seeds) must be >= 1, got {seeds}.")
        return tuple(DEFAULT_SEED + k for k in range(seeds))
    chosen = tuple(dict.fromkeys(int(s) for s in seeds))
    if not chosen or any(s < 0 for s in chosen):
        raise ConfigError(f"seeds must be non-negative integers, at least one, got {list(seeds)!r}.")
    return chosen


def plan_runs(grid: str | Sequence[RunSpec], profile: str = DEFAULT_PROFILE,
              overrides: Mapping[str, Any] | None = None, seeds: int | Sequence[int] = 1) -> list[RunParameters]:
    """The runs of ``grid`` (a name of ``rlsv.study.grids`` or run specs) at ``profile``: each grid point
    once per seed of :func:`sweep_seeds` (the STFT baseline, which trains nothing, once), seeds outermost
    (a sweep interrupted after its first seed has one complete set).

    ``overrides`` are :class:`rlsv.run.config.RunParameters` fields applied to every run
    (e.g. ``{"epochs": 1, "model": {"channels": 16}}``); ``seed`` is set by ``seeds``.
    """
    specs = get_grid(grid) if isinstance(grid, str) else unique_specs(grid)
    overrides = dict(overrides or {})
    if "seed" in overrides:
        raise ConfigError("Give the seeds with seeds= (--seeds), not as an override.")
    runs: list[RunParameters] = []
    for k, seed in enumerate(sweep_seeds(seeds)):
        runs += [RunParameters.for_spec(spec, profile, seed=seed, **overrides) for spec in specs
                 if spec.is_trained or k == 0]
    return runs


# config.json fields that only say how a run is evaluated: a run differing in them alone is evaluated
# again. "max_test_tracks" is where STFT runs recorded their test tracks before the "evaluation" entry.
_EVALUATION_FIELDS = frozenset({EVALUATION, "max_test_tracks"})


def _stored_config(job: SweepJob) -> dict[str, Any] | None:
    """The run folder's ``config.json`` (None: absent or unreadable)."""
    try:
        return json.loads((job.run_dir / CONFIG).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def _config_differences(job: SweepJob) -> list[str] | None:
    """Fields in which the run folder's ``config.json`` differs from what ``job`` would write, its
    evaluation settings included (``"evaluation"``); None when there is no config."""
    stored = _stored_config(job)
    if stored is None:
        return None
    return config_differences(stored, planned_config(job.params, job.params.dataset, job.device))


def _training_differences(differences: Sequence[str]) -> list[str]:
    """The fields of ``differences`` (of :func:`_config_differences`) that are not evaluation settings:
    none means the run's training is kept (at most, it is evaluated again)."""
    return [d for d in differences if d not in _EVALUATION_FIELDS]


def _training_matches(job: SweepJob) -> bool:
    """Whether the run folder's configuration is the one ``job`` trains (evaluation settings aside)."""
    differences = _config_differences(job)
    return differences is not None and not _training_differences(differences)


def _status_busy(status: Mapping[str, Any]) -> bool:
    """``status.json`` says ``running`` by a process alive on this host (e.g. a notebook run by hand).

    Not this process (a ``running`` it left behind, e.g. an interrupted sweep in the same notebook,
    is resumed), nor a pid <= 0 (not a process).
    """
    if status.get("state") != "running":
        return False
    try:
        pid = int(status.get("pid"))
    except (TypeError, ValueError):
        return False
    return pid > 0 and pid != os.getpid() and process_alive_here(status.get("host"), pid, status.get("process"))


def finished_files(job: SweepJob, engine: str | None = None) -> list[Path]:
    """The files a finished run holds: its configuration and evaluation, for a trained run its checkpoint,
    losses and model, and for a run made by the papermill engine (``engine``, default the job's) the executed
    notebooks. A run made inline is finished for a papermill sweep too: the sweep does not redo it for its
    notebooks."""
    names = [CONFIG, SEGMENTS, SUMMARY]
    if job.params.is_trained:
        names += [CHECKPOINT, LOSSES, MODEL]
    if (engine or job.engine) == "papermill":
        names += [_EXECUTED[EVALUATE_NOTEBOOK]] + ([_EXECUTED[TRAIN_NOTEBOOK]] if job.params.is_trained else [])
    return [job.run_dir / name for name in names]


def _state_verdict(job: SweepJob) -> tuple[str, list[str]]:
    """:func:`classify_run` from the run folder's files, locks aside, with the training fields that
    differ for a ``"conflict"`` (``[]`` otherwise).

    ``done`` counts only with every file of :func:`finished_files` present (a kill between the last
    step's end and its last file is finished on the next sweep) and a readable ``config.json``.
    """
    status = read_status(job.run_dir) or {}
    if _status_busy(status):
        return "busy", []
    made_by = status.get("engine", "inline")  # what made the run (runs of notebooks 02/03 by hand: no notebooks here)
    if status.get("state") == "done" and all(path.is_file() for path in finished_files(job, made_by)):
        differences = _config_differences(job)
        if differences is None:  # config.json unreadable: the run is redone (training resumes its checkpoint)
            return "run", []
        if not differences:
            return "skip", []
        training = _training_differences(differences)
        return ("conflict", training) if training else ("run", [])
    return "run", []


def _verdict(job: SweepJob) -> tuple[str, list[str]]:
    """:func:`classify_run`'s verdict, with the training fields that differ for a ``"conflict"``."""
    holder = read_lock(job.run_dir)
    if holder is not None and not is_stale(holder, FOREIGN_LOCK_MAX_AGE_S, job.force):
        return "busy", []
    return _state_verdict(job)


def classify_run(job: SweepJob) -> str:
    """What a sweep does with a run folder.

    ``"skip"``: done with the same configuration and evaluation settings; ``"conflict"``: done
    with another configuration (e.g. other epochs or sizes: run ids do not encode them), left
    untouched; ``"busy"``: locked by another live claim (``rlsv.run.lock``), or its recorded
    process is alive on this host; ``"run"``: everything else (new, failed, pending, ``running``
    left by a killed process, or done but evaluated with other settings: evaluated again).
    """
    return _verdict(job)[0]


def _settled_outcome(job: SweepJob, verdict: str, training_differences: Sequence[str] = ()) -> RunOutcome | None:
    """The outcome of a run the sweep does not execute (``skip``, ``conflict``, ``busy``); None for ``run``.

    ``training_differences``: for a ``conflict``, the training fields in which the run folder's
    configuration differs (as the verdict found them, :func:`_state_verdict`).
    """
    if verdict == "run":
        return None
    if verdict == "skip":
        return RunOutcome(job.run_id, "skipped", None, 0.0, str(job.run_dir))
    if verdict == "conflict":
        differences = ", ".join(training_differences)
        message = (f"{job.run_dir} holds a finished run with another configuration (differs in: {differences}); "
                   "left as it is. Delete that folder to redo it, or use another runs root.")
        return RunOutcome(job.run_id, "conflict", message, 0.0, str(job.run_dir))
    # status.json first: under the sweep's own claim (``_execute_claimed``) the lock is the sweep's
    status = read_status(job.run_dir) or {}
    holder = None if _status_busy(status) else read_lock(job.run_dir)
    if holder is not None:
        message = f"locked by {holder.describe()}"
    else:
        message = f"running in process {status.get('pid')} on {status.get('host')} since {status.get('updated')}"
    return RunOutcome(job.run_id, "busy", message, 0.0, str(job.run_dir))


# --------------------------------------------------------------------------- one run


def _notebook_parameters(job: SweepJob, notebook: str) -> dict[str, Any]:
    common = {"run": job.params.to_dict(), "output_root": str(job.root), "device": job.device,
              "threads": job.threads, "progress": job.progress}
    if notebook == TRAIN_NOTEBOOK:
        return {**common, "live_plot": False}
    return {**common, "compare_stft": False}


def _trained_already(job: SweepJob) -> bool:
    """Training finished earlier: ``model.pt`` of this run's configuration (its stamp, not only its
    presence: a model copied from another run is trained again from the run's checkpoint), its losses and
    its executed notebook."""
    from rlsv.run.model_file import model_stamp, training_stamp

    if not ((job.run_dir / MODEL).is_file() and (job.run_dir / LOSSES).is_file()
            and (job.run_dir / _EXECUTED[TRAIN_NOTEBOOK]).is_file() and _training_matches(job)):
        return False
    try:
        return model_stamp(job.run_dir / MODEL) == training_stamp(_stored_config(job) or {})
    except ValueError:  # model.pt unreadable
        return False


def _train_and_evaluate(job: SweepJob) -> None:
    """Run the job's steps: training (unless done) and evaluation, inline or as executed notebooks."""
    from rlsv.run.pipeline import run_evaluation, run_training

    if job.engine == "inline":
        if job.params.is_trained:
            run_training(job.params, job.root, job.device, progress=job.progress, threads=job.threads)
        run_evaluation(job.params, job.root, job.device, progress=job.progress, threads=job.threads)
    elif job.engine == "papermill":
        folder = Path(job.notebooks) if job.notebooks else notebooks_dir()
        steps = [EVALUATE_NOTEBOOK]
        if job.params.is_trained and not _trained_already(job):
            steps.insert(0, TRAIN_NOTEBOOK)
        for notebook in steps:
            execute_notebook(folder / notebook, job.run_dir / _EXECUTED[notebook],
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
        differences = set(_training_differences(config_differences(stored, planned)))
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


def _execute_claimed(job: SweepJob, start: float) -> RunOutcome:
    """:func:`execute_run` once the run's lock is held: check its state again, then run it."""
    settled = _settled_outcome(job, *_state_verdict(job))
    if settled is not None:  # another sweep finished it (or a notebook runs it) since the sweep looked
        return settled
    remove_leftover_temporaries(job.run_dir)  # of writes a killed process left (the folder is ours now)
    for partial in job.run_dir.glob(".*.partial.ipynb"):
        partial.unlink(missing_ok=True)
    # "running" from the claim on, before a notebook's kernel starts; the steps (rlsv.run.pipeline.run_training /
    # run_evaluation, inline or in the notebooks) then keep status.json current, "done" included.
    write_status(job.run_dir, "running", engine=job.engine)
    try:
        if job.extend_shorter:
            _start_from_shorter_run(job)
        _train_and_evaluate(job)
        missing = [path.name for path in finished_files(job) if not path.is_file()]
        if missing:
            raise RuntimeError(f"the run ended without {missing}")
        write_status(job.run_dir, "done")  # once every file is in place
    except Exception as error:  # a failed run is recorded, the sweep goes on
        note = f" (executed notebooks in {job.run_dir})" if job.engine == "papermill" else ""
        message = record_failure(job.run_dir, error, note)
        return RunOutcome(job.run_id, "failed", message, time.perf_counter() - start, str(job.run_dir))
    return RunOutcome(job.run_id, "done", None, time.perf_counter() - start, str(job.run_dir))


def execute_run(job: SweepJob) -> RunOutcome:
    """Claim the run (exclusive lock), then train (unless done) and evaluate it; never raises for a
    failing run (see ``RunOutcome``).

    A run locked by another live claim is ``busy``; under the lock its state is checked again, so
    a run another sweep finished meanwhile is ``skipped`` (or a ``conflict``). ``status.json`` is
    ``running`` while it works, then ``done``, or ``failed`` with the error. A run folder that cannot
    even be claimed (no permission to write it, a full disk) is ``failed`` too, and the sweep goes on.
    """
    start = time.perf_counter()
    os.environ.update(job.environment or {})
    try:
        with run_lock(job.run_dir, force=job.force):
            return _execute_claimed(job, start)
    except RunBusyError as busy:
        return RunOutcome(job.run_id, "busy", f"locked by {busy.holder.describe()}", 0.0, str(job.run_dir))
    except OSError as error:  # the lock or the folder itself: nothing of the run could be written
        message = f"cannot claim {job.run_dir}: {describe_error(error)}; check that the folder is writable"
        return RunOutcome(job.run_id, "failed", message, time.perf_counter() - start, str(job.run_dir))


# --------------------------------------------------------------------------- executors


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=None)
def _visible_gpus(device: str) -> tuple[str, ...]:
    """The CUDA devices a sweep may hand out (empty on CPU or when ``device`` is a CPU)."""
    if device.startswith("cpu"):
        return ()
    import torch

    count = torch.cuda.device_count()
    if count == 0:
        return ()
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    ids = [d.strip() for d in visible.split(",") if d.strip()] if visible else [str(i) for i in range(count)]
    return tuple(ids[:count])


def worker_threads(executor: str, workers: int, slurm: SlurmOptions | None = None) -> int | None:
    """Torch threads per run: the SLURM job's CPUs; ``cores // workers`` for worker processes on this
    machine; None (torch's default) when a single local worker runs the sweep in this process."""
    if executor == "slurm":
        return (slurm or SlurmOptions()).cpus_per_job
    if executor == "local" and workers <= 1:
        return None
    return max(1, _cpu_count() // max(1, workers))


def _slot_environments(workers: int, gpus: Sequence[str], threads: int | None) -> list[dict[str, str]]:
    """Environment of each worker slot: its GPU (round-robin over ``gpus``) and thread limits."""
    envs = []
    for slot in range(workers):
        env = {} if threads is None else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        envs.append(env)
    return envs


def _init_worker(slots) -> None:
    """Worker process start: take a slot (GPU, thread limits) and export it to the kernels it starts.

    Ctrl-C is left to the parent, which then terminates the workers; their kernels notice that
    their parent is gone and exit, and the interrupted runs stay ``running`` (resumable).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(slots.get())


class _Progress:
    """The sweep's outcomes as they arrive, counted on the tqdm bar."""

    def __init__(self, bar) -> None:
        self.bar = bar
        self.outcomes: list[RunOutcome] = []

    def record(self, outcome: RunOutcome) -> None:
        self.outcomes.append(outcome)
        self.bar.update(1)
        self.bar.set_postfix(failed=sum(o.state == "failed" for o in self.outcomes), last=outcome.run_id,
                             refresh=True)

    def record_crash(self, job: SweepJob, message: str, scheduler_job: str = "") -> None:
        """A run whose process died (no outcome came back): recorded as failed; the lock of its SLURM
        job ``scheduler_job`` is removed (a dead local process's lock is stale by itself)."""
        write_status(job.run_dir, "failed", message)
        release_lock_of_job(job.run_dir, scheduler_job)
        self.record(RunOutcome(job.run_id, "failed", message, 0.0, str(job.run_dir)))


def _run_local(jobs_to_run: list[SweepJob], slots: list[dict[str, str]], bar) -> list[RunOutcome]:
    """Run the jobs in this process (one slot) or in one worker process per slot."""
    progress = _Progress(bar)
    if len(slots) <= 1:
        for job in jobs_to_run:
            bar.set_postfix(running=job.run_id, refresh=True)
            progress.record(execute_run(job))
        return progress.outcomes
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    for env in slots:
        queue.put(env)
    with ProcessPoolExecutor(max_workers=len(slots), mp_context=context, initializer=_init_worker,
                             initargs=(queue,)) as pool:
        futures = {pool.submit(execute_run, job): job for job in jobs_to_run}
        try:
            for future in as_completed(futures):
                try:
                    progress.record(future.result())
                except Exception as error:  # the worker process itself died
                    progress.record_crash(futures[future], f"worker failed: {describe_error(error)}")
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return progress.outcomes


def _submitit_executor(executor: str, folder: Path, parallel: int, slurm: SlurmOptions):
    """A submitit executor for the sweep: SLURM with the job resources, or submitit's local one."""
    import submitit

    cluster = "local" if executor == "submitit-local" else "slurm"
    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params: dict[str, Any] = {"timeout_min": slurm.time_min, "name": "rlsv-sweep",
                              "cpus_per_task": slurm.cpus_per_job}
    if cluster == "slurm":
        params |= {"gpus_per_node": slurm.gpus_per_job, "mem_gb": slurm.mem_gb,
                   "slurm_array_parallelism": parallel}
        params |= {f"slurm_{k}": v for k, v in (("partition", slurm.partition), ("account", slurm.account),
                                                 ("qos", slurm.qos), ("constraint", slurm.constraint)) if v}
    else:
        params["gpus_per_node"] = 0  # each job gets its slot's GPU through SweepJob.environment
    ex.update_parameters(**params)
    return ex


def _submitit_outcome(done, job: SweepJob, progress: _Progress) -> None:
    """Record what a finished submitit job returned (or that it was killed: time limit, node failure, ...)."""
    try:
        progress.record(done.result())
    except Exception as error:
        progress.record_crash(job, f"submitit job {done.job_id} failed: {describe_error(error).splitlines()[0]}",
                              done.job_id)


def _run_slurm(jobs_to_run: list[SweepJob], ex, wait: bool, bar) -> tuple[list[RunOutcome], list[str]]:
    """One SLURM job array (its parallelism set on ``ex``); wait for it unless ``wait`` is False."""
    import submitit

    submitted = ex.map_array(execute_run, jobs_to_run)
    ids = [j.job_id for j in submitted]
    if not wait:
        return [RunOutcome(job.run_id, "submitted", None, 0.0, str(job.run_dir)) for job in jobs_to_run], ids
    by_job = dict(zip(ids, jobs_to_run))
    progress = _Progress(bar)
    for done in submitit.helpers.as_completed(submitted, poll_frequency=2):
        _submitit_outcome(done, by_job[done.job_id], progress)
    return progress.outcomes, ids


def _run_submitit_local(jobs_to_run: list[SweepJob], ex, slots: list[dict[str, str]], bar,
                        poll_s: float = 0.5) -> tuple[list[RunOutcome], list[str]]:
    """submitit's local executor, at most one job per slot at a time, each with its slot's environment."""
    pending, free = list(jobs_to_run), list(range(len(slots)))
    running: dict[Any, tuple[SweepJob, int]] = {}
    progress, ids = _Progress(bar), []
    while pending or running:
        while pending and free:
            slot = free.pop(0)
            job = replace(pending.pop(0), environment=slots[slot])
            submitted = ex.submit(execute_run, job)
            running[submitted] = (job, slot)
            ids.append(submitted.job_id)
        finished = [submitted for submitted in running if submitted.done()]
        if not finished:
            time.sleep(poll_s)
        for submitted in finished:
            job, slot = running.pop(submitted)
            free.append(slot)
            _submitit_outcome(submitted, job, progress)
    return progress.outcomes, ids


# --------------------------------------------------------------------------- the sweep


def run_sweep(grid: str | Sequence[RunSpec] = "all", profile: str = DEFAULT_PROFILE, root: str | os.PathLike = "papermill_runs",
              jobs: int = 1, engine: str = "papermill", executor: str = "local", device: str = "auto",
              overrides: Mapping[str, Any] | None = None, seeds: int | Sequence[int] = 1,
              slurm: SlurmOptions | None = None,
              progress: bool = True, run_progress: bool = True, kernel_name: str = "python3",
              timeout_s: float | None = None, notebooks: str | os.PathLike | None = None,
              force: bool = False, extend_shorter: bool = False) -> SweepReport:
    """Run every run of ``grid`` at ``profile`` that is not done yet; see the module docstring.

    Args:
        grid: a grid name (``table1``, ``table2``, ``figure3``, ``figure5``, ``figure6``, ``all``, ...)
            or a sequence of ``RunSpec``.
        profile: ``small`` (default), ``smoke`` or ``paper`` (``rlsv.run.profiles``).
        root: the runs folder (``papermill_runs``).
        jobs: runs at a time (local worker processes or submitit-local jobs, or the SLURM array's parallelism).
        engine: ``"papermill"`` (execute notebooks 02 and 03) or ``"inline"`` (call their functions).
        executor: ``"local"``, ``"slurm"`` or ``"submitit-local"``.
        device: ``"auto"`` (a GPU per worker when present), ``"cpu"``, ``"cuda"``.
        overrides: ``RunParameters`` fields for every run (e.g. a dataset root, smaller models).
        seeds: training seeds per grid point: a count ``k`` (218, 219, ...; :func:`sweep_seeds`) or a list.
        slurm: resources for the SLURM executors.
        progress: a tqdm bar over the runs; ``run_progress``: progress bars inside each run.
        kernel_name, timeout_s, notebooks: papermill kernel, time limit per notebook cell, notebook folder.
        force: treat run locks of other hosts as stale (a SLURM job that died without removing its
            lock); locks of live processes on this host are always respected.
        extend_shorter: start each new run from the checkpoint of a finished shorter run of the same
            settings under ``root`` (same results as from scratch: a budget study over epochs trains
            each seed's longest run once).

    Returns:
        A :class:`SweepReport`; nothing is raised for failing runs (check ``report.ok``).

    Raises:
        ValueError (unknown grid, profile, engine, executor or parameter) and
        ``rlsv.audio.musdb.DatasetError`` (data missing) before any run starts.
    """
    _check_arguments(engine, executor, jobs)
    start = time.perf_counter()
    runs = plan_runs(grid, profile, overrides, seeds)
    grid_name = grid if isinstance(grid, str) else "custom"
    root = Path(root).expanduser().resolve()
    notebook_folder = None
    if engine == "papermill":
        notebook_folder = str(Path(notebooks).resolve() if notebooks else notebooks_dir())
    dataset = dataset_root(profile, runs[0].dataset, progress)
    all_jobs = [SweepJob(replace(params, dataset=str(dataset)), str(root), engine, notebook_folder, device,
                         None, run_progress, kernel_name, timeout_s, force, extend_shorter=extend_shorter)
                for params in runs]
    decided = {job.run_id: _settled_outcome(job, *_verdict(job)) for job in all_jobs}
    todo = [job for job in all_jobs if decided[job.run_id] is None]
    report = SweepReport(grid_name, profile, root, variant=runs[0].variant)
    if todo:
        started = time.perf_counter()
        prepare_data(todo[0].params, progress=progress)  # once, before any worker starts
        report.prepare_seconds = time.perf_counter() - started
        with tqdm(total=len(todo), desc=f"sweep {grid_name} ({profile})", unit="run", disable=not progress,
                  file=sys.stderr, dynamic_ncols=True) as bar:
            outcomes, report.submitted = _execute(todo, executor, jobs, device, slurm or SlurmOptions(),
                                                  root / "_submitit", bar)
        decided |= {o.run_id: o for o in outcomes}
    report.outcomes = [decided[job.run_id] for job in all_jobs]
    report.seconds = time.perf_counter() - start
    return report


def _check_arguments(engine: str, executor: str, jobs: int) -> None:
    """``ValueError`` for an unknown engine or executor, a bad ``jobs``, or SLURM without a cluster."""
    if engine not in ENGINES:
        raise ConfigError(f"Unknown engine {engine!r}; use one of {ENGINES}.")
    if executor not in EXECUTORS:
        raise ConfigError(f"Unknown executor {executor!r}; use one of {EXECUTORS}.")
    if not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(f"jobs must be an integer >= 1, got {jobs!r}.")
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("executor 'slurm' needs a SLURM cluster, but sbatch is not on PATH: run the sweep on the "
                         "cluster's login node, or try the job array here with executor 'submitit-local'.")


def _execute(todo: list[SweepJob], executor: str, jobs: int, device: str, slurm: SlurmOptions,
             submitit_folder: Path, bar) -> tuple[list[RunOutcome], list[str]]:
    """Run ``todo`` on ``executor``, at most ``jobs`` at a time: the outcomes and the submitit job ids.

    The torch threads of every run and the worker slots (GPU, thread limits) are decided here, once.
    """
    workers = min(jobs, len(todo))
    threads = worker_threads(executor, workers, slurm)
    todo = [replace(job, threads=threads) for job in todo]
    if executor == "slurm":  # SLURM gives each job its resources: no worker slots (nor GPUs looked up here)
        return _run_slurm(todo, _submitit_executor(executor, submitit_folder, jobs, slurm), slurm.wait, bar)
    slots = _slot_environments(workers, _visible_gpus(device), threads)
    if executor == "local":
        return _run_local(todo, slots, bar), []
    return _run_submitit_local(todo, _submitit_executor(executor, submitit_folder, jobs, slurm), slots, bar)
