"""Hyper-parameter sweeps: every run of a grid through ``02_train.ipynb`` and ``03_evaluate.ipynb``.

``run_sweep("table1", profile="quick", jobs=2)`` executes, for each grid point (``rlsv.grids``),
notebook 02 (training) then notebook 03 (evaluation) with papermill into
``<root>/<run-id>/{train,evaluate}.ipynb``, next to the run's ``config.json``, ``checkpoint.pt``,
``model.pt``, ``losses.csv``, ``segments.csv``, ``summary.json`` and ``status.json``
(``docs/run_layout.md``). The STFT row is its own run (``<profile>-stft``; notebook 03 only).

Re-running a sweep is always safe:

* a ``done`` run (evaluated, same configuration) is skipped; one made with another
  configuration (other epochs, sizes or data: run ids do not encode them) is left untouched and
  reported as a ``conflict``;
* a ``failed`` run is retried; a ``running`` run left behind by a killed process resumes from
  its last epoch checkpoint (a run whose recorded process is still alive on this host is left
  alone and reported as ``busy``);
* a failed run never stops the sweep: its error goes to ``status.json`` and to the report, and
  :attr:`SweepReport.ok` is False (``rlsv sweep`` exits with code 1).

Execution (``executor``):

* ``"local"``: ``jobs`` worker processes. With GPUs each worker gets one
  (``CUDA_VISIBLE_DEVICES``, round-robin when ``jobs`` exceeds the GPUs); on CPU each worker gets
  ``cores // jobs`` torch threads (``OMP_NUM_THREADS`` and ``torch.set_num_threads``).
* ``"slurm"``: one submitit job array (``SlurmOptions``: partition, time, GPUs, CPUs, memory),
  at most ``jobs`` runs at a time; the command waits and reports (or returns at once with ``wait=False``).
* ``"submitit-local"``: the same job array through submitit's local executor (no cluster needed).

``engine="inline"`` calls the notebooks' functions (``rlsv.pipeline.run_training`` /
``run_evaluation``) directly instead of executing the notebooks: same results, no executed
notebooks, no kernel start-up (about 7 s per run saved).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import sys
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from functools import lru_cache
from typing import Any, Mapping, Sequence

from tqdm.auto import tqdm

from .grids import RunSpec, get_grid, unique_specs
from .pipeline import RunParameters, describe_error, prepare_data, read_status, write_status
from .run_files import CONFIG, MODEL, SEGMENTS
from .train import config_differences

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
    "plan_runs",
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
    folder = Path(configured) if configured else Path(__file__).resolve().parents[1] / "notebooks"
    if not (folder / TRAIN_NOTEBOOK).is_file():
        raise FileNotFoundError(
            f"The notebooks are not in {folder}. Run rlsv from its git checkout (pip install -e .), "
            "set RLSV_NOTEBOOKS to the folder holding 02_train.ipynb, or use --engine inline."
        )
    return folder.resolve()


def execute_notebook(notebook: str | os.PathLike, output: str | os.PathLike, parameters: Mapping[str, Any],
                     kernel_name: str = "python3", timeout_s: float | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (replaced atomically, also on failure).

    The executed copy is written next to ``output`` under a temporary name and renamed when the
    execution ends, so ``output`` is never half-written; a failing notebook is kept (with its
    traceback) and the papermill error is re-raised.
    """
    import papermill as pm

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.partial{output.suffix}")
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
    """One run to execute: its parameters, where and how (picklable: sent to workers and SLURM)."""

    params: RunParameters
    root: str
    engine: str = "papermill"
    notebooks: str | None = None
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    kernel_name: str = "python3"
    timeout_s: float | None = None

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


def plan_runs(grid: str | Sequence[RunSpec], profile: str = "quick",
              overrides: Mapping[str, Any] | None = None) -> list[RunParameters]:
    """The runs of ``grid`` (a name of ``rlsv.grids`` or run specs), each once, at ``profile``.

    ``overrides`` are :class:`rlsv.pipeline.RunParameters` fields applied to every run
    (e.g. ``{"epochs": 1, "model": {"channels": 16}}``).
    """
    specs = get_grid(grid) if isinstance(grid, str) else unique_specs(grid)
    return [RunParameters.for_spec(spec, profile, **dict(overrides or {})) for spec in specs]


def _config_differences(job: SweepJob) -> list[str] | None:
    """Fields in which the run folder's ``config.json`` differs from what ``job`` would run (None: no config)."""
    path = job.run_dir / CONFIG
    try:
        stored = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    if not job.params.is_trained:
        from .pipeline import stft_config

        planned = json.loads(json.dumps(stft_config(job.params, job.params.dataset)))
    else:
        planned = job.params.train_config(job.params.dataset, job.device).to_json()
    return config_differences(stored, planned)


def _config_matches(job: SweepJob) -> bool:
    """Whether the run folder's ``config.json`` is the configuration ``job`` would train/evaluate."""
    return _config_differences(job) == []


def _process_alive(pid: Any) -> bool:
    try:
        pid = int(pid)
        if pid <= 0 or pid == os.getpid():
            return False
        os.kill(pid, 0)
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def classify_run(job: SweepJob) -> str:
    """What a sweep does with a run folder.

    ``"skip"``: done with the same configuration; ``"conflict"``: done with another configuration
    (e.g. other epochs or sizes: run ids do not encode them), left untouched; ``"busy"``: its
    recorded process is alive on this host; ``"run"``: everything else (new, failed, pending,
    or ``running`` left by a killed process).
    """
    status = read_status(job.run_dir) or {}
    state = status.get("state")
    if state == "done" and (job.run_dir / SEGMENTS).is_file():
        return "skip" if _config_matches(job) else "conflict"
    if state == "running" and status.get("host") == socket.gethostname() and _process_alive(status.get("pid")):
        return "busy"
    return "run"


# --------------------------------------------------------------------------- one run


def _notebook_parameters(job: SweepJob, notebook: str) -> dict[str, Any]:
    common = {**job.params.to_dict(), "output_root": str(job.root), "device": job.device,
              "threads": job.threads, "progress": job.progress}
    if notebook == TRAIN_NOTEBOOK:
        return {**common, "live_plot": False}
    return {**common, "compare_stft": False}


def _trained_already(job: SweepJob) -> bool:
    """Training finished earlier (``model.pt`` of the same configuration and its executed notebook)."""
    return ((job.run_dir / MODEL).is_file() and (job.run_dir / _EXECUTED[TRAIN_NOTEBOOK]).is_file()
            and _config_matches(job))


def execute_run(job: SweepJob) -> RunOutcome:
    """Train (unless done) and evaluate one run; never raises for a failing run (see ``RunOutcome``).

    ``status.json`` is ``running`` while it works, then ``done``, or ``failed`` with the error.
    """
    from .pipeline import run_evaluation, run_training

    start = time.perf_counter()
    run_dir = job.run_dir
    run_dir.mkdir(parents=True, exist_ok=True)
    write_status(run_dir, "running")
    try:
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
                execute_notebook(folder / notebook, run_dir / _EXECUTED[notebook],
                                 _notebook_parameters(job, notebook), job.kernel_name, job.timeout_s)
        else:
            raise ValueError(f"Unknown engine {job.engine!r}; use one of {ENGINES}.")
    except Exception as error:  # a failed run is recorded, the sweep goes on
        message = describe_error(error)
        if job.engine == "papermill":
            message += f" (executed notebooks in {run_dir})"
        write_status(run_dir, "failed", message, traceback="".join(traceback.format_exception(error))[-4000:])
        return RunOutcome(job.run_id, "failed", message, time.perf_counter() - start, str(run_dir))
    write_status(run_dir, "done")
    return RunOutcome(job.run_id, "done", None, time.perf_counter() - start, str(run_dir))


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


def _slot_environments(jobs: int, gpus: Sequence[str]) -> tuple[list[dict[str, str]], int]:
    """Environment of each worker (GPU, thread limits) and torch threads per worker."""
    threads = max(1, _cpu_count() // jobs)
    envs = []
    for slot in range(jobs):
        env = {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        envs.append(env)
    return envs, threads


def _init_worker(slots) -> None:
    """Worker process start: take a slot (GPU, thread limits) and export it to the kernels it starts.

    Ctrl-C is left to the parent, which then terminates the workers; their kernels notice that
    their parent is gone and exit, and the interrupted runs stay ``running`` (resumable).
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.update(slots.get())


def _run_local(jobs_to_run: list[SweepJob], n_workers: int, bar) -> list[RunOutcome]:
    outcomes: list[RunOutcome] = []

    def record(outcome: RunOutcome) -> None:
        outcomes.append(outcome)
        bar.update(1)
        bar.set_postfix(failed=sum(o.state == "failed" for o in outcomes), last=outcome.run_id, refresh=True)

    if n_workers <= 1:
        for job in jobs_to_run:
            bar.set_postfix(running=job.run_id, refresh=True)
            record(execute_run(job))
        return outcomes
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    gpus = _visible_gpus(jobs_to_run[0].device)
    envs, _ = _slot_environments(n_workers, gpus)
    slots = context.Queue()
    for env in envs:
        slots.put(env)
    with ProcessPoolExecutor(max_workers=n_workers, mp_context=context, initializer=_init_worker,
                             initargs=(slots,)) as pool:
        futures = {pool.submit(execute_run, job): job for job in jobs_to_run}
        try:
            for future in as_completed(futures):
                job = futures[future]
                try:
                    record(future.result())
                except Exception as error:  # the worker process itself died
                    message = f"worker failed: {describe_error(error)}"
                    write_status(job.run_dir, "failed", message)
                    record(RunOutcome(job.run_id, "failed", message, 0.0, str(job.run_dir)))
        except KeyboardInterrupt:
            for future in futures:
                future.cancel()
            for process in list(getattr(pool, "_processes", {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return outcomes


def _run_submitit(jobs_to_run: list[SweepJob], executor: str, folder: Path, parallel: int,
                  slurm: SlurmOptions, bar) -> tuple[list[RunOutcome], list[str]]:
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
        params["gpus_per_node"] = len(_visible_gpus(jobs_to_run[0].device)) and 1
    ex.update_parameters(**params)
    threads = slurm.cpus_per_job if cluster == "slurm" else max(1, _cpu_count() // max(1, parallel))
    jobs_to_run = [replace(job, threads=threads) for job in jobs_to_run]
    submitted = ex.map_array(execute_run, jobs_to_run)
    ids = [j.job_id for j in submitted]
    if not slurm.wait:
        return [RunOutcome(job.run_id, "submitted", None, 0.0, str(job.run_dir)) for job in jobs_to_run], ids
    by_job = dict(zip(ids, jobs_to_run))
    outcomes = []
    for done in submitit.helpers.as_completed(submitted, poll_frequency=2):
        job = by_job[done.job_id]
        try:
            outcome = done.result()
        except Exception as error:  # the job was killed (time limit, node failure, ...)
            message = f"submitit job {done.job_id} failed: {describe_error(error).splitlines()[0]}"
            write_status(job.run_dir, "failed", message)
            outcome = RunOutcome(job.run_id, "failed", message, 0.0, str(job.run_dir))
        outcomes.append(outcome)
        bar.update(1)
        bar.set_postfix(failed=sum(o.state == "failed" for o in outcomes), refresh=True)
    return outcomes, ids


# --------------------------------------------------------------------------- the sweep


def run_sweep(grid: str | Sequence[RunSpec] = "all", profile: str = "quick", root: str | os.PathLike = "papermill_runs",
              jobs: int = 1, engine: str = "papermill", executor: str = "local", device: str = "auto",
              overrides: Mapping[str, Any] | None = None, slurm: SlurmOptions | None = None,
              progress: bool = True, run_progress: bool = True, kernel_name: str = "python3",
              timeout_s: float | None = None, notebooks: str | os.PathLike | None = None) -> SweepReport:
    """Run every run of ``grid`` at ``profile`` that is not done yet; see the module docstring.

    Args:
        grid: a grid name (``table1``, ``table2``, ``figure3``, ``figure5``, ``figure6``, ``all``, ...)
            or a sequence of ``RunSpec``.
        profile: ``quick`` or ``paper`` (``rlsv.profiles``).
        root: the runs folder (``papermill_runs``).
        jobs: runs at a time (local worker processes, or the SLURM array's parallelism).
        engine: ``"papermill"`` (execute notebooks 02 and 03) or ``"inline"`` (call their functions).
        executor: ``"local"``, ``"slurm"`` or ``"submitit-local"``.
        device: ``"auto"`` (a GPU per worker when present), ``"cpu"``, ``"cuda"``.
        overrides: ``RunParameters`` fields for every run (e.g. a dataset root, smaller models).
        slurm: resources for the SLURM executors.
        progress: a tqdm bar over the runs; ``run_progress``: progress bars inside each run.
        kernel_name, timeout_s, notebooks: papermill kernel, time limit per notebook cell, notebook folder.

    Returns:
        A :class:`SweepReport`; nothing is raised for failing runs (check ``report.ok``).

    Raises:
        ValueError (unknown grid, profile, engine, executor or parameter) and
        ``rlsv.data.DatasetError`` (data missing) before any run starts.
    """
    if engine not in ENGINES:
        raise ValueError(f"Unknown engine {engine!r}; use one of {ENGINES}.")
    if executor not in EXECUTORS:
        raise ValueError(f"Unknown executor {executor!r}; use one of {EXECUTORS}.")
    if not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be an integer >= 1, got {jobs!r}.")
    if executor == "slurm" and shutil.which("sbatch") is None:
        raise ValueError("executor 'slurm' needs a SLURM cluster, but sbatch is not on PATH: run the sweep on the "
                         "cluster's login node, or try the job array here with executor 'submitit-local'.")
    start = time.perf_counter()
    runs = plan_runs(grid, profile, overrides)
    grid_name = grid if isinstance(grid, str) else "custom"
    root = Path(root).expanduser().resolve()
    notebook_folder = None
    if engine == "papermill":
        notebook_folder = str(Path(notebooks).resolve() if notebooks else notebooks_dir())
    dataset = prepare_data(runs[0], progress=progress)  # once, before any worker starts
    all_jobs = [SweepJob(replace(params, dataset=str(dataset)), str(root), engine, notebook_folder, device,
                         None, run_progress, kernel_name, timeout_s) for params in runs]
    report = SweepReport(grid_name, profile, root)
    todo, decided = [], {}
    for job in all_jobs:
        verdict = classify_run(job)
        if verdict == "skip":
            decided[job.run_id] = RunOutcome(job.run_id, "skipped", None, 0.0, str(job.run_dir))
        elif verdict == "conflict":
            differences = ", ".join(_config_differences(job) or [])
            decided[job.run_id] = RunOutcome(job.run_id, "conflict", f"{job.run_dir} holds a finished run with "
                                             f"another configuration (differs in: {differences}); left as it is. "
                                             "Delete that folder to redo it, or use another runs root.", 0.0,
                                             str(job.run_dir))
        elif verdict == "busy":
            status = read_status(job.run_dir) or {}
            decided[job.run_id] = RunOutcome(job.run_id, "busy", f"running in process {status.get('pid')} on "
                                             f"{status.get('host')} since {status.get('updated')}", 0.0,
                                             str(job.run_dir))
        else:
            todo.append(job)
    n_workers = min(jobs, len(todo)) if todo else 0
    if todo and executor == "local" and n_workers > 1:
        threads = _slot_environments(n_workers, _visible_gpus(device))[1]
        todo = [replace(job, threads=threads) for job in todo]
    with tqdm(total=len(todo), desc=f"sweep {grid_name} ({profile})", unit="run", disable=not progress,
              file=sys.stderr, dynamic_ncols=True) as bar:
        if not todo:
            outcomes = []
        elif executor == "local":
            outcomes = _run_local(todo, n_workers, bar)
        else:
            outcomes, report.submitted = _run_submitit(todo, executor, root / "_submitit", jobs,
                                                       slurm or SlurmOptions(), bar)
    decided |= {o.run_id: o for o in outcomes}
    report.outcomes = [decided[job.run_id] for job in all_jobs]
    report.seconds = time.perf_counter() - start
    return report

