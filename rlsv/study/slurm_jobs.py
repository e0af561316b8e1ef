"""submitit on SLURM: the resources of each job (:class:`SlurmOptions`), the submitit executor, and
waiting for a job array with ``squeue`` (:func:`wait_for_array`).

submitit follows its jobs with ``sacct``. Where SLURM accounting is off (many small clusters, a
one-node SLURM), ``sacct`` fails: submitit then logs a warning on every poll and never learns that a
job ended without a result (``scancel``, a time limit, a dead node), so waiting for it never ends.
:func:`wait_for_array` therefore asks ``squeue --states=all``, which knows every job, running or
ended, whether or not accounting is on (ended ones for ``MinJobAge``, 300 s by default), and never
calls ``sacct``: a job that ended without a result is reported at once, and nothing floods the output.

submitit also makes its jobs ignore SIGTERM (for its own checkpointing, which rlsv does not use), so
a cancelled job would go on until SIGKILL comes (``KillWait`` later, 30 s by default) and might even
finish. :func:`run_as_slurm_job` makes SIGTERM (``scancel``, a time limit, preemption) stop the work
at once instead, unwinding it like Ctrl-C: the run's lock is released and its checkpoints stay, and
the next sweep resumes it.
"""

from __future__ import annotations

import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

__all__ = ["SlurmOptions", "JobStopped", "run_as_slurm_job", "submitit_executor", "queue_states", "wait_for_array",
           "RESULT_GRACE_S"]

RESULT_GRACE_S = 15.0
"""How long a job that ended ``COMPLETED`` (or that SLURM forgot) may take to show its result file on a
shared filesystem before it counts as failed (submitit waits as long)."""

# squeue states of a job that has not ended (it may still write its result)
_NOT_ENDED = frozenset({"PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED", "REQUEUED", "REQUEUE_FED",
                        "REQUEUE_HOLD", "RESIZING", "SIGNALING", "STAGE_OUT", "STOPPED", "RESV_DEL_HOLD"})


@dataclass(frozen=True)
class SlurmOptions:
    """Resources of each job when the work goes to SLURM through submitit.

    Attributes:
        partition: SLURM partition (None: the cluster's default).
        time_min: wall-time limit per job in minutes.
        gpus_per_job, cpus_per_job, mem_gb: resources per job.
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


class JobStopped(BaseException):
    """SLURM told the job to stop (SIGTERM): like ``KeyboardInterrupt``, not an error of the work, so the work's
    ``except Exception`` handlers let it through and its ``finally`` blocks (a run's lock) run."""


def _stop_job(signum: int, frame: object) -> None:
    raise JobStopped(f"SLURM sent {signal.Signals(signum).name} (scancel, the time limit or preemption)")


def run_as_slurm_job(work: Callable[[Any], Any], job: Any) -> Any:
    """In a SLURM job: ``work(job)``, stopped at once by SIGTERM (:class:`JobStopped`) rather than ignored as
    submitit would (see the module docstring)."""
    signal.signal(signal.SIGTERM, _stop_job)
    return work(job)


def submitit_executor(cluster: str, folder: Path, parallel: int, options: SlurmOptions, name: str = "rlsv"):
    """A submitit executor writing its job files to ``folder``: ``cluster`` ``"slurm"`` (a job array of at
    most ``parallel`` jobs at a time, with ``options``' resources) or ``"local"`` (submitit's local one;
    each job gets its GPU from the caller, see ``rlsv.study.executors``)."""
    import submitit

    ex = submitit.AutoExecutor(folder=str(folder), cluster=cluster)
    params: dict[str, Any] = {"timeout_min": options.time_min, "name": name, "cpus_per_task": options.cpus_per_job}
    if cluster == "slurm":
        params |= {"gpus_per_node": options.gpus_per_job, "mem_gb": options.mem_gb,
                   "slurm_array_parallelism": parallel}
        params |= {f"slurm_{k}": v for k, v in (("partition", options.partition), ("account", options.account),
                                                 ("qos", options.qos), ("constraint", options.constraint)) if v}
    else:
        params["gpus_per_node"] = 0
    ex.update_parameters(**params)
    return ex


def queue_states(job_ids: Iterable[str]) -> dict[str, str] | None:
    """The SLURM state of each job of ``job_ids`` (``<array>_<task>`` or ``<job>``) that ``squeue`` knows,
    ended ones included (``COMPLETED``, ``CANCELLED``, ``TIMEOUT``...); a job missing from the answer is no
    longer known. None when ``squeue`` cannot answer (the controller is unreachable): ask again later."""
    arrays = sorted({job_id.split("_")[0] for job_id in job_ids})
    if not arrays:
        return {}
    command = ["squeue", "--noheader", "--array", "--states=all", "--format=%i %T", f"--jobs={','.join(arrays)}"]
    try:
        answer = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if answer.returncode != 0:
        # every job of the list forgotten (ended longer than MinJobAge ago): squeue refuses the ids
        return {} if "invalid job id" in answer.stderr.lower() else None
    states = {}
    for line in answer.stdout.splitlines():
        parts = line.split()
        if len(parts) == 2:
            states[parts[0]] = parts[1].upper()
    return states


def _ended_without_result(submitted, state: str | None) -> str:
    """One line for a job that ended without writing its result."""
    how = f"ended {state}" if state else "is no longer known to SLURM"
    return (f"SLURM job {submitted.job_id} {how} without a result (cancelled, out of time or memory, or its node "
            f"failed); its log: {submitted.paths.stderr}")


def wait_for_array(submitted: Sequence[Any], on_result: Callable[[int, Any], None],
                   on_crash: Callable[[int, str], None], poll_s: float = 2.0,
                   grace_s: float = RESULT_GRACE_S) -> None:
    """Wait for every submitit job of ``submitted``: ``on_result(i, value)`` for the i-th job's returned value
    as soon as its result file is there, ``on_crash(i, message)`` for one that raised or ended without a
    result (its state from :func:`queue_states`, never from ``sacct``)."""
    waiting = dict(enumerate(submitted))
    silent_since: dict[int, float] = {}  # ended COMPLETED or forgotten, no result file yet
    while waiting:
        missing = [i for i, job in waiting.items() if not job.paths.result_pickle.exists()]
        states = queue_states(waiting[i].job_id for i in missing) if missing else {}
        now = time.monotonic()
        for i in list(waiting):
            job = waiting[i]
            if i not in missing or job.paths.result_pickle.exists():
                del waiting[i]
                try:
                    value = job.result()
                except Exception as error:  # the function raised, or its result cannot be read
                    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                    on_crash(i, f"SLURM job {job.job_id} failed: {first}")
                    continue
                on_result(i, value)
                continue
            if states is None:  # squeue did not answer: ask again
                continue
            state = states.get(job.job_id)
            if state in _NOT_ENDED:
                silent_since.pop(i, None)
                continue
            if state not in (None, "COMPLETED") or now - silent_since.setdefault(i, now) >= grace_s:
                del waiting[i]
                on_crash(i, _ended_without_result(job, state))
        if waiting:
            time.sleep(poll_s)
