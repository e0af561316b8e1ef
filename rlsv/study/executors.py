"""Executors: run a function over many jobs, at most N at a time, here or on SLURM; for any study.

An executor takes ``work``, any picklable function of one job (``rlsv.study.sweep_run.execute_run``
for a sweep; a study's own for its units of work), and the jobs (picklable too), and returns what
``work`` returned for each job, in the jobs' order (:class:`Executed`). A job whose process died
with no value back (a killed worker, a cancelled SLURM job) gets ``crashed(job, message,
scheduler_job)`` instead; with ``rlsv.study.claims`` (``claim_and_run`` as the work,
``record_crash`` as ``crashed``) a study gets the sweeps' locks, ``status.json`` and resume.

Kinds (:data:`EXECUTORS`, :func:`make_executor`):

* ``"local"`` (:class:`LocalExecutor`): one worker process per slot (``rlsv.study.worker_pool``: a
  worker that dies costs only its own job), or this process for a single slot. With GPUs each slot gets one
  (``CUDA_VISIBLE_DEVICES``, round-robin when there are more slots than GPUs); on CPU each gets
  ``cores // slots`` threads (``OMP_NUM_THREADS``); the
  slot's variables are set around each call with ``rlsv.run.runtime.runtime``, so a process that
  runs the work starts its kernels with them.
* ``"submitit-local"`` (:class:`SubmititLocalExecutor`): submitit's local jobs on this machine, at
  most one per slot at a time, each with its slot's variables.
* ``"slurm"`` (:class:`SlurmExecutor`): one submitit job array on SLURM (``SlurmOptions``: partition,
  time, GPUs, CPUs, memory), at most N jobs at a time, followed with ``squeue``
  (``rlsv.study.slurm_jobs``; SIGTERM, as from ``scancel``, stops a job's work at once); it waits and
  reports, or returns the job ids at once (``wait=False``).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Callable, Generic, Mapping, Protocol, Sequence, TypeVar

from rlsv.errors import ConfigError
from rlsv.run.status import describe_error
from rlsv.study.slurm_jobs import SlurmOptions, run_as_slurm_job, submitit_executor, wait_for_array
from rlsv.study.worker_pool import call_in_environment, run_in_workers

__all__ = [
    "EXECUTORS",
    "Executed",
    "Executor",
    "LocalExecutor",
    "SubmititLocalExecutor",
    "SlurmExecutor",
    "make_executor",
    "worker_threads",
    "slot_environments",
]

EXECUTORS: tuple[str, ...] = ("local", "slurm", "submitit-local")

Job = TypeVar("Job")
Outcome = TypeVar("Outcome")
Crashed = Callable[[Job, str, str], Outcome]
"""``crashed(job, message, scheduler_job)``: the outcome to record for a job whose process died (``message``
says how; ``scheduler_job`` is its submitit job id, ``""`` for a local worker)."""
Finished = Callable[[Job, Outcome], None]
"""``finished(job, outcome)``: called for each outcome as it arrives (a progress bar)."""


@dataclass
class Executed(Generic[Outcome]):
    """What an executor ran: ``outcomes`` in the jobs' order (None for a job submitted without waiting) and the
    submitit ``job_ids`` of the jobs it submitted (empty for local processes)."""

    outcomes: list[Outcome | None]
    job_ids: list[str] = field(default_factory=list)


class Executor(Protocol):
    """Runs ``work`` on each job of ``jobs``; see the module docstring."""

    def run(self, work: Callable[[Job], Outcome], jobs: Sequence[Job], crashed: Crashed,
            finished: Finished | None = None) -> Executed[Outcome]:
        ...


def _recorder(jobs: Sequence[Job], outcomes: list, finished: Finished | None) -> Callable[[int, Outcome], None]:
    """``record(i, outcome)``: keep the i-th job's outcome and tell ``finished``."""

    def record(index: int, outcome: Outcome) -> None:
        outcomes[index] = outcome
        if finished is not None:
            finished(jobs[index], outcome)

    return record


# --------------------------------------------------------------------------- slots: GPUs and threads


def _cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@lru_cache(maxsize=None)
def _visible_gpus(device: str) -> tuple[str, ...]:
    """The CUDA devices the slots may be given (empty on CPU or when ``device`` is a CPU)."""
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
    """Torch threads per job: the SLURM job's CPUs; ``cores // workers`` for worker processes on this
    machine; None (torch's default) when a single local worker runs the jobs in this process."""
    if executor == "slurm":
        return (slurm or SlurmOptions()).cpus_per_job
    if executor == "local" and workers <= 1:
        return None
    return max(1, _cpu_count() // max(1, workers))


def slot_environments(workers: int, gpus: Sequence[str], threads: int | None) -> list[dict[str, str]]:
    """Environment of each worker slot: its GPU (round-robin over ``gpus``) and thread limits."""
    envs = []
    for slot in range(workers):
        env = {} if threads is None else {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
        if gpus:
            env["CUDA_VISIBLE_DEVICES"] = gpus[slot % len(gpus)]
        envs.append(env)
    return envs


# --------------------------------------------------------------------------- local worker processes


@dataclass(frozen=True)
class LocalExecutor:
    """One worker process per slot (``slots``: each slot's environment), or this process for a single slot."""

    slots: Sequence[Mapping[str, str]] = ({},)

    def run(self, work: Callable[[Job], Outcome], jobs: Sequence[Job], crashed: Crashed,
            finished: Finished | None = None) -> Executed[Outcome]:
        outcomes: list = [None] * len(jobs)
        record = _recorder(jobs, outcomes, finished)
        if len(self.slots) <= 1:  # in this process, as it is (its kernels get its own environment)
            for index, job in enumerate(jobs):
                record(index, work(job))
            return Executed(outcomes)
        run_in_workers(work, jobs, self.slots, record,
                       lambda index, message: record(index, crashed(jobs[index], message, "")))
        return Executed(outcomes)


# --------------------------------------------------------------------------- submitit: local jobs, SLURM


def _submitit_value(submitted, job: Job, crashed: Crashed) -> Outcome:
    """What a finished submitit job returned, or ``crashed``'s outcome when it raised or was killed."""
    try:
        return submitted.result()
    except Exception as error:
        first = describe_error(error).splitlines()[0]
        return crashed(job, f"submitit job {submitted.job_id} failed: {first}", submitted.job_id)


@dataclass(frozen=True)
class SubmititLocalExecutor:
    """submitit's local jobs, at most one per slot at a time, each with its slot's environment."""

    folder: Path
    slots: Sequence[Mapping[str, str]] = ({},)
    options: SlurmOptions = SlurmOptions()
    poll_s: float = 0.5

    def run(self, work: Callable[[Job], Outcome], jobs: Sequence[Job], crashed: Crashed,
            finished: Finished | None = None) -> Executed[Outcome]:
        ex = submitit_executor("local", Path(self.folder), len(self.slots), self.options)
        outcomes: list = [None] * len(jobs)
        record = _recorder(jobs, outcomes, finished)
        pending, free = list(range(len(jobs))), list(range(len(self.slots)))
        running: dict = {}
        ids = [""] * len(jobs)
        while pending or running:
            while pending and free:
                index, slot = pending.pop(0), free.pop(0)
                submitted = ex.submit(call_in_environment, work, dict(self.slots[slot]), jobs[index])
                running[submitted] = (index, slot)
                ids[index] = submitted.job_id
            done = [submitted for submitted in running if submitted.done()]
            if not done:
                time.sleep(self.poll_s)
            for submitted in done:
                index, slot = running.pop(submitted)
                free.append(slot)
                record(index, _submitit_value(submitted, jobs[index], crashed))
        return Executed(outcomes, ids)


@dataclass(frozen=True)
class SlurmExecutor:
    """One SLURM job array of at most ``parallel`` jobs at a time, with ``options``' resources."""

    folder: Path
    parallel: int = 1
    options: SlurmOptions = SlurmOptions()
    poll_s: float = 2.0

    def run(self, work: Callable[[Job], Outcome], jobs: Sequence[Job], crashed: Crashed,
            finished: Finished | None = None) -> Executed[Outcome]:
        ex = submitit_executor("slurm", Path(self.folder), self.parallel, self.options)
        submitted = ex.map_array(partial(run_as_slurm_job, work), list(jobs))
        outcomes: list = [None] * len(jobs)
        ids = [job.job_id for job in submitted]
        if not self.options.wait:
            return Executed(outcomes, ids)
        record = _recorder(jobs, outcomes, finished)
        wait_for_array(submitted, record,
                       lambda index, message: record(index, crashed(jobs[index], message, ids[index])),
                       poll_s=self.poll_s)
        return Executed(outcomes, ids)


def make_executor(kind: str, workers: int, threads: int | None = None, device: str = "auto",
                  slurm: SlurmOptions | None = None, folder: str | os.PathLike = "_submitit") -> Executor:
    """The executor of ``kind`` (:data:`EXECUTORS`) for ``workers`` jobs at a time.

    ``threads``: the thread limit of each local slot (:func:`worker_threads`); ``device``: ``"cpu"`` gives
    the slots no GPU; ``slurm``: the resources of the submitit jobs; ``folder``: submitit's job files.
    """
    if kind not in EXECUTORS:
        raise ConfigError(f"Unknown executor {kind!r}; use one of {EXECUTORS}.")
    options = slurm or SlurmOptions()
    if kind == "slurm":  # SLURM gives each job its resources: no slots (nor GPUs looked up here)
        return SlurmExecutor(Path(folder), workers, options)
    slots = slot_environments(workers, _visible_gpus(device), threads)
    if kind == "local":
        return LocalExecutor(slots)
    return SubmititLocalExecutor(Path(folder), slots, options)
