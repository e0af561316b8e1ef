"""Hyper-parameter sweeps: every run of a grid through ``02_train.ipynb`` and ``03_evaluate.ipynb``.

``run_sweep("table1", profile="small", jobs=2)`` (or ``sweep("table1", SweepSettings(...))``)
executes, for each grid point (``rlsv.run.spec``), notebook 02 (training) then notebook 03
(evaluation) with papermill into ``<root>/<run-id>/{train,evaluate}.ipynb``, next to the run's
``config.json``, ``checkpoint.pt``, ``model.pt``, ``losses.csv``, ``segments.csv``, ``summary.json``
and ``status.json`` (``docs/run_layout.md``). The STFT row is its own run (``<profile>-stft``;
notebook 03 only). How it runs is one :class:`SweepSettings`.

A sweep is four jobs, one module each:

* planning: the grid and its seeds -> the runs and their jobs (``rlsv.study.sweep_plan``);
* verdicts: skip, conflict, busy or run, from each run folder (``rlsv.study.sweep_verdicts``);
* claiming and executing one run (``rlsv.study.sweep_run``, on ``rlsv.study.claims``);
* executors: local worker processes, submitit's local jobs or a SLURM job array
  (``rlsv.study.executors``, ``rlsv.study.slurm_jobs``).

Re-running a sweep is always safe:

* a ``done`` run (evaluated, same configuration) is skipped; one made with another
  configuration (other epochs, sizes or data: run ids do not encode them) is left untouched and
  reported as a ``conflict``;
* a ``done`` run evaluated with other evaluation settings (e.g. fewer test tracks) is evaluated
  again; its training is kept;
* a ``failed`` run is retried; a ``running`` run left behind by a killed process (``rlsv status``
  shows it ``interrupted``) resumes from its last epoch checkpoint;
* a run is claimed with an exclusive lock for the whole run (training and evaluation,
  ``rlsv.run.lock``), and its state is checked again under the lock: a run that another sweep
  (another terminal, a SLURM job) is working on, or whose recorded notebook process is alive on
  this host, is left alone and reported as ``busy``. A lock from another host counts as busy until
  it is older than ``rlsv.run.lock.FOREIGN_LOCK_MAX_AGE_S`` (48 h) or ``force=True``;
* a failed run never stops the sweep: its error goes to ``status.json`` and to the report, and
  :attr:`SweepReport.ok` is False (``rlsv sweep`` exits with code 1).

``engine="inline"`` calls the notebooks' functions (``rlsv.run.pipeline.run_training`` /
``run_evaluation``) directly instead of executing the notebooks: same results, no executed
notebooks, no kernel start-up (about 7 s per run saved).
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from tqdm.auto import tqdm

from rlsv.errors import ConfigError
from rlsv.run.conv_plan import parse_conv_plan, resolve_conv_plan
from rlsv.run.data import dataset_root, prepare_data
from rlsv.run.profiles import DEFAULT_PROFILE
from rlsv.run.spec import RunSpec
from rlsv.study.claims import OUTCOME_STATES, RunOutcome, record_crash
from rlsv.study.executors import EXECUTORS, make_executor, worker_threads
from rlsv.study.notebook_runs import ENGINES, notebooks_dir
from rlsv.study.slurm_jobs import SlurmOptions
from rlsv.study.sweep_plan import SweepJob, plan_runs, sweep_seeds
from rlsv.study.sweep_run import execute_run
from rlsv.study.sweep_verdicts import settled_outcome, verdict

__all__ = ["SweepSettings", "SweepReport", "sweep", "run_sweep"]


@dataclass(frozen=True)
class SweepSettings:
    """How a sweep runs: everything but the grid.

    Attributes:
        profile: ``small`` (default), ``smoke`` or ``paper`` (``rlsv.run.profiles``).
        root: the runs folder (``papermill_runs``).
        jobs: runs at a time (local worker processes or submitit-local jobs, or the SLURM array's parallelism).
        engine: ``"papermill"`` (execute notebooks 02 and 03) or ``"inline"`` (call their functions).
        executor: ``"local"``, ``"slurm"`` or ``"submitit-local"`` (``rlsv.study.executors``).
        device: ``"auto"`` (a GPU per worker when present), ``"cpu"``, ``"cuda"``.
        overrides: ``RunParameters`` fields for every run (e.g. a dataset root, smaller models).
        seeds: training seeds per grid point: a count ``k`` (218, 219, ...; ``sweep_seeds``) or a list;
            kept as the tuple of seeds.
        slurm: resources of the submitit jobs (``SlurmOptions``; None: the defaults).
        progress: a tqdm bar over the runs; ``run_progress``: progress bars inside each run.
        kernel_name, timeout_s, notebooks: papermill kernel, time limit per notebook cell, notebook folder.
        force: treat run locks of other hosts as stale (a SLURM job that died without removing its
            lock); locks of live processes on this host are always respected.
        extend_shorter: start each new run from the checkpoint of a finished shorter run of the same
            settings under ``root`` (same results as from scratch: a budget study over epochs trains
            each seed's longest run once).
        findings_seeds: the grid points that carry the paper's findings (``rlsv.study.grids.FINDINGS``) get at
            least this many seeds (``rlsv.study.sweep_plan.plan_runs``).
        findings_engine: the engine of those extra seeds' runs (None: ``engine``). ``reproduce`` runs them
            ``"inline"``: they are there for the statistics, and skipping two notebook kernels each saves a minute
            of ``make reproduce``; the grid's own runs keep their executed notebooks.
        conv_plan: the convolution plan of every run (``rlsv.run.conv_plan``: ``"fixed"``, ``"auto"`` or a plan),
            resolved once before any run starts, for the device and threads of the sweep's workers, and handed
            to each run (a SLURM node resolves ``fixed`` and ``auto`` itself, without timing for ``fixed``).

    Raises:
        rlsv.errors.ConfigError: an unknown engine or executor, ``jobs`` < 1, or bad ``seeds``.
    """

    profile: str = DEFAULT_PROFILE
    root: str | os.PathLike = "papermill_runs"
    jobs: int = 1
    engine: str = "papermill"
    executor: str = "local"
    device: str = "auto"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    seeds: int | Sequence[int] = 1
    slurm: SlurmOptions | None = None
    progress: bool = True
    run_progress: bool = True
    kernel_name: str = "python3"
    timeout_s: float | None = None
    notebooks: str | os.PathLike | None = None
    force: bool = False
    extend_shorter: bool = False
    findings_seeds: int = 0
    findings_engine: str | None = None
    conv_plan: str = "fixed"

    def __post_init__(self) -> None:
        for engine in (self.engine, self.findings_engine or self.engine):
            if engine not in ENGINES:
                raise ConfigError(f"Unknown engine {engine!r}; use one of {ENGINES}.")
        if self.executor not in EXECUTORS:
            raise ConfigError(f"Unknown executor {self.executor!r}; use one of {EXECUTORS}.")
        if isinstance(self.jobs, bool) or not isinstance(self.jobs, int) or self.jobs < 1:
            raise ConfigError(f"jobs must be an integer >= 1, got {self.jobs!r}.")
        object.__setattr__(self, "seeds", sweep_seeds(self.seeds))
        object.__setattr__(self, "overrides", dict(self.overrides or {}))
        object.__setattr__(self, "slurm", self.slurm or SlurmOptions())
        parse_conv_plan(self.conv_plan)


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
    conv_plan: str | None = None  # the convolution plan the sweep fixed for its runs, and how it was chosen

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
        return {state: len(self._with(state)) for state in OUTCOME_STATES}

    def text(self) -> str:
        """A few lines for the terminal: counts, then each failed or busy run with its error."""
        counts = ", ".join(f"{n} {state}" for state, n in self.counts().items() if n)
        lines = [f"rlsv sweep {self.grid} ({self.profile}): {len(self.outcomes)} runs in {self.root}: "
                 f"{counts or 'nothing to do'} ({self.seconds:.0f} s)"]
        if self.conv_plan:
            lines.append(f"  convolution plan of every run: {self.conv_plan}")
        if self.submitted:
            lines.append(f"  submitted jobs: {', '.join(self.submitted)}")
        for o in self.outcomes:
            if o.state in ("failed", "conflict", "busy"):
                lines.append(f"  {o.state.upper()} {o.run_id}: {o.error}")
        if self.failed:
            lines.append("  See status.json and the executed notebooks in each failed run's folder; "
                         "rerun the same command to retry the failed runs.")
        return "\n".join(lines)


def run_sweep(grid: str | Sequence[RunSpec] = "all", profile: str = DEFAULT_PROFILE,
              root: str | os.PathLike = "papermill_runs", **settings: Any) -> SweepReport:
    """:func:`sweep` in keyword form, for notebooks and scripts: ``settings`` are the other fields of
    :class:`SweepSettings` (``jobs=2``, ``engine="inline"``, ``seeds=3``...)."""
    return sweep(grid, SweepSettings(profile=profile, root=root, **settings))


def sweep(grid: str | Sequence[RunSpec], settings: SweepSettings) -> SweepReport:
    """Run every run of ``grid`` that is not done yet, as ``settings`` say; see the module docstring.

    Args:
        grid: a grid name (``table1``, ``table2``, ``figure3``, ``figure5``, ``figure6``, ``all``, ...)
            or a sequence of ``RunSpec``.
        settings: how (:class:`SweepSettings`).

    Returns:
        A :class:`SweepReport`; nothing is raised for failing runs (check ``report.ok``).

    Raises:
        ``rlsv.errors.UserError`` (unknown grid or profile, a bad override, SLURM without a cluster,
        data missing) before any run starts.
    """
    _check_cluster(settings.executor)
    start = time.perf_counter()
    runs = plan_runs(grid, settings.profile, settings.overrides, settings.seeds, settings.findings_seeds)
    grid_name = grid if isinstance(grid, str) else "custom"
    root = Path(settings.root).expanduser().resolve()
    notebook_folder = None
    if settings.engine == "papermill":
        notebook_folder = str(Path(settings.notebooks).resolve() if settings.notebooks else notebooks_dir())
    dataset = dataset_root(settings.profile, runs[0].dataset, settings.progress)
    all_jobs = [SweepJob(replace(params, dataset=str(dataset)), str(root), _engine(params, settings), notebook_folder,
                         settings.device, None, settings.run_progress, settings.kernel_name, settings.timeout_s,
                         settings.force, settings.extend_shorter) for params in runs]
    decided = {job.run_id: settled_outcome(job, *verdict(job)) for job in all_jobs}
    todo = [job for job in all_jobs if decided[job.run_id] is None]
    report = SweepReport(grid_name, settings.profile, root, variant=runs[0].variant)
    if todo:
        started = time.perf_counter()
        prepare_data(todo[0].params, progress=settings.progress)  # once, before any worker starts
        report.prepare_seconds = time.perf_counter() - started
        outcomes, report.submitted, report.conv_plan = _execute(todo, settings, root / "_submitit", grid_name)
        decided |= {o.run_id: o for o in outcomes}
    report.outcomes = [decided[job.run_id] for job in all_jobs]
    report.seconds = time.perf_counter() - start
    return report


def _engine(params: Any, settings: SweepSettings) -> str:
    """The engine of a run: ``findings_engine`` for the findings' extra seeds, else the sweep's."""
    return settings.engine if params.seed in settings.seeds else (settings.findings_engine or settings.engine)


def _check_cluster(executor: str) -> None:
    """A ``ConfigError`` for SLURM without a cluster (no ``sbatch`` here)."""
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise ConfigError("executor 'slurm' needs a SLURM cluster, but sbatch is not on PATH: run the sweep on the "
                          "cluster's login node, or try the job array here with executor 'submitit-local'.")


def _crashed(job: SweepJob, message: str, scheduler_job: str) -> RunOutcome:
    """A run whose process died: recorded as failed in its folder (``rlsv.study.claims.record_crash``)."""
    return record_crash(job.run_dir, message, scheduler_job, job.run_id)


def _sweep_plan(todo: list[SweepJob], settings: SweepSettings, threads: int | None) -> tuple[str, str]:
    """The convolution plan of the sweep's runs, fixed before any starts: ``(request for the runs, what to
    report)``. On this machine's workers it is resolved here, once; a SLURM node resolves it itself."""
    if settings.executor == "slurm":
        return settings.conv_plan, f"{settings.conv_plan} (resolved by each node)"
    import torch

    from rlsv.run.device import resolve_device

    params = next((job.params for job in todo if job.params.is_trained), None)
    if params is None:
        return settings.conv_plan, ""
    device = resolve_device(settings.device)
    config = params.train_config()
    choice = resolve_conv_plan(settings.conv_plan, config.model, config.batch_size, device,
                               threads or torch.get_num_threads())
    return choice.plan.text, f"{choice.plan.text} ({choice.how}; {device.type}, {threads or 'default'} threads)"


def _execute(todo: list[SweepJob], settings: SweepSettings, submitit_folder: Path,
             grid_name: str) -> tuple[list[RunOutcome], list[str], str]:
    """Run ``todo`` on the settings' executor, at most ``jobs`` at a time: the outcomes, the submitit job ids
    (runs sent to SLURM without waiting are ``submitted``) and the convolution plan the runs share.

    The torch threads of every run, its convolution plan and the worker slots (GPU, thread limits) are decided
    here, once.
    """
    workers = min(settings.jobs, len(todo))
    threads = worker_threads(settings.executor, workers, settings.slurm)
    plan, plan_text = _sweep_plan(todo, settings, threads)
    todo = [replace(job, threads=threads, conv_plan=plan) for job in todo]
    executor = make_executor(settings.executor, workers, threads, settings.device, settings.slurm, submitit_folder)
    with tqdm(total=len(todo), desc=f"sweep {grid_name} ({settings.profile})", unit="run",
              disable=not settings.progress, file=sys.stderr, dynamic_ncols=True) as bar:
        failed = 0

        def finished(job: SweepJob, outcome: RunOutcome) -> None:
            nonlocal failed
            failed += outcome.state == "failed"
            bar.update(1)
            bar.set_postfix(failed=failed, last=job.run_id, refresh=True)

        executed = executor.run(execute_run, todo, _crashed, finished)
    outcomes = [outcome or RunOutcome(job.run_id, "submitted", None, 0.0, str(job.run_dir))
                for job, outcome in zip(todo, executed.outcomes)]
    return outcomes, executed.job_ids, plan_text
