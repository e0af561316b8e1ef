"""The executors' generic API (``rlsv.study.executors``) with a callable that is not a sweep's: each job squares a
number in a folder of its own through ``rlsv.study.claims.claim_and_run``, so it gets a sweep's lock,
``status.json``, crash record and resume. Worker processes really die here (``os._exit``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

from rlsv.run.lock import LOCK_FILE
from rlsv.run.status import read_status
from rlsv.study.claims import RunOutcome, claim_and_run, record_crash
from rlsv.study.executors import LocalExecutor, SubmititLocalExecutor, make_executor
from rlsv.study.worker_pool import call_in_environment


@dataclass(frozen=True)
class SquareJob:
    """A unit of work of another study: square ``value`` into ``<folder>/square.txt``."""

    folder: str
    value: int
    die: bool = False  # the worker process dies in the middle of the work


def square(job: SquareJob) -> RunOutcome:
    """The work function the executors run (picklable: module level)."""
    folder = Path(job.folder)

    def work() -> None:
        (folder / "seen_threads.txt").write_text(os.environ.get("OMP_NUM_THREADS", "unset"))
        if job.die:
            os._exit(3)  # a killed worker: nothing below runs, no outcome comes back
        (folder / "square.txt").write_text(str(job.value ** 2))

    def settled() -> RunOutcome | None:
        done = (read_status(folder) or {}).get("state") == "done"
        return RunOutcome(folder.name, "skipped", None, 0.0, str(folder)) if done else None

    return claim_and_run(folder, work, settled=settled, finished=lambda: [folder / "square.txt"])


def crashed(job: SquareJob, message: str, scheduler_job: str) -> RunOutcome:
    return record_crash(job.folder, message, scheduler_job)


def _jobs(root: Path, die_at: int | None = None) -> list[SquareJob]:
    return [SquareJob(str(root / f"unit-{k}"), k, die=k == die_at) for k in range(4)]


def test_worker_processes_run_any_callable_and_a_dead_worker_is_recorded_then_resumed(tmp_path: Path) -> None:
    slots = [{"OMP_NUM_THREADS": "1"}, {"OMP_NUM_THREADS": "1"}]
    arrived, environment = [], dict(os.environ)
    executed = LocalExecutor(slots).run(square, _jobs(tmp_path, die_at=2), crashed,
                                        lambda job, outcome: arrived.append(job.value))
    assert [o.state for o in executed.outcomes] == ["done", "done", "failed", "done"]  # in the jobs' order
    assert sorted(arrived) == [0, 1, 2, 3] and executed.job_ids == []
    assert executed.outcomes[2].error == "worker process died (exit code 3)"
    for k in (0, 1, 3):
        assert (tmp_path / f"unit-{k}" / "square.txt").read_text() == str(k * k)
        assert read_status(tmp_path / f"unit-{k}")["state"] == "done"
        assert (tmp_path / f"unit-{k}" / "seen_threads.txt").read_text() == "1"  # the slot's environment
    dead = tmp_path / "unit-2"
    assert read_status(dead)["state"] == "failed" and not (dead / "square.txt").exists()
    assert dict(os.environ) == environment  # the slots are the workers', not this process's

    # Rerun in this process (one slot): finished units are skipped, the dead one is done now, no lock is left.
    executed = LocalExecutor().run(square, _jobs(tmp_path), crashed)
    assert [o.state for o in executed.outcomes] == ["skipped", "skipped", "done", "skipped"]
    assert (dead / "square.txt").read_text() == "4" and not list(tmp_path.glob(f"*/{LOCK_FILE}"))


def test_the_slot_environment_is_set_around_the_call_and_restored(monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    outcome = call_in_environment(square, {"OMP_NUM_THREADS": "3", "CUDA_VISIBLE_DEVICES": "1"},
                                  SquareJob(str(tmp_path / "unit"), 5))
    assert outcome.state == "done" and (tmp_path / "unit" / "seen_threads.txt").read_text() == "3"
    assert os.environ["OMP_NUM_THREADS"] == "7" and "CUDA_VISIBLE_DEVICES" not in os.environ
    executor = make_executor("local", 2, threads=1, device="cpu")
    assert executor == LocalExecutor([{"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}] * 2)
    with pytest.raises(ValueError, match="Unknown executor 'pbs'"):
        make_executor("pbs", 1)


@pytest.mark.slow
def test_submitit_local_jobs_run_any_callable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # the job process unpickles square from here
    executor = SubmititLocalExecutor(tmp_path / "_submitit", [{"OMP_NUM_THREADS": "2"}])
    jobs = _jobs(tmp_path / "units", die_at=1)[:2]
    executed = executor.run(square, jobs, crashed)
    assert [o.state for o in executed.outcomes] == ["done", "failed"], executed.outcomes
    assert len(executed.job_ids) == 2 and executed.job_ids[1] in executed.outcomes[1].error
    assert (tmp_path / "units" / "unit-0" / "seen_threads.txt").read_text() == "2"
    assert read_status(tmp_path / "units" / "unit-1")["state"] == "failed"
