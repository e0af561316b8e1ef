"""Waiting for a SLURM job array without ``sacct`` (``rlsv.study.slurm_jobs``), on every machine: a stand-in
``squeue`` on PATH answers as SLURM does, and the jobs are stand-ins for submitit's. The real cluster is
``test_slurm.py``'s."""

from __future__ import annotations

import os
import signal
import stat
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from rlsv.study import slurm_jobs
from rlsv.study.slurm_jobs import JobStopped, queue_states, run_as_slurm_job, wait_for_array


def _fake_command(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script)
    path.chmod(path.stat().st_mode | stat.S_IXUSR)


@pytest.fixture
def fake_bin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder first on PATH, with an ``sacct`` that fails the test if anything calls it."""
    folder = tmp_path / "bin"
    folder.mkdir()
    _fake_command(folder, "sacct", f"touch {tmp_path}/sacct-was-called\nexit 1\n")
    monkeypatch.setenv("PATH", f"{folder}{os.pathsep}{os.environ['PATH']}")
    return folder


def test_queue_states_read_squeue_and_tell_a_forgotten_array_from_no_answer(fake_bin: Path) -> None:
    _fake_command(fake_bin, "squeue", 'echo "$@" > "$(dirname "$0")/args"\nprintf "7_0 RUNNING\\n7_1 CANCELLED\\n"\n')
    assert queue_states(["7_0", "7_1", "7_2"]) == {"7_0": "RUNNING", "7_1": "CANCELLED"}
    args = (fake_bin / "args").read_text()
    assert "--states=all" in args and "--array" in args and "--jobs=7" in args
    _fake_command(fake_bin, "squeue", 'echo "slurm_load_jobs error: Invalid job id specified" >&2\nexit 1\n')
    assert queue_states(["7_0"]) == {}  # ended longer ago than MinJobAge: SLURM forgot the whole array
    _fake_command(fake_bin, "squeue", 'echo "Unable to contact slurm controller" >&2\nexit 1\n')
    assert queue_states(["7_0"]) is None  # no answer: ask again later
    assert queue_states([]) == {}


@dataclass
class _FakeJob:
    """Just what ``wait_for_array`` uses of a submitit job."""

    job_id: str
    folder: Path
    value: object = None

    @property
    def paths(self) -> SimpleNamespace:
        return SimpleNamespace(result_pickle=self.folder / f"{self.job_id}_result.pkl",
                               stderr=self.folder / f"{self.job_id}_log.err")

    def result(self) -> object:
        if isinstance(self.value, Exception):
            raise self.value
        return self.value


def test_wait_for_array_reports_results_failures_and_jobs_that_ended_without_a_result(
        fake_bin: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # 9_0 finished with a result; 9_1 raised; 9_2 was cancelled; 9_3 ended COMPLETED but its result never shows
    # (waited for grace_s); 9_4 is running, then writes its result.
    _fake_command(fake_bin, "squeue", 'printf "9_1 FAILED\\n9_2 CANCELLED\\n9_3 COMPLETED\\n9_4 RUNNING\\n"\n')
    jobs = [_FakeJob(f"9_{k}", tmp_path) for k in range(5)]
    jobs[0].value, jobs[1].value, jobs[4].value = "zero", RuntimeError("boom\nmore"), "four"
    for k in (0, 1):
        jobs[k].paths.result_pickle.write_text("x")
    results, crashes, polls = {}, {}, []
    sleep = slurm_jobs.time.sleep

    def poll(seconds: float) -> None:  # the 3rd poll: 9_4 writes its result (time.sleep is the module's: others too)
        if seconds == 1.0:
            polls.append(seconds)
            if len(polls) == 3:
                jobs[4].paths.result_pickle.write_text("x")
        sleep(min(seconds, 0.01))

    monkeypatch.setattr(slurm_jobs.time, "sleep", poll)
    wait_for_array(jobs, results.__setitem__, crashes.__setitem__, poll_s=1.0, grace_s=0.05)
    assert results == {0: "zero", 4: "four"}
    assert crashes[1] == "SLURM job 9_1 failed: boom"
    assert crashes[2].startswith("SLURM job 9_2 ended CANCELLED without a result") and "9_2_log.err" in crashes[2]
    assert crashes[3].startswith("SLURM job 9_3 ended COMPLETED without a result")
    assert len(polls) >= 3 and not (tmp_path / "sacct-was-called").exists()


def test_sigterm_stops_the_work_of_a_slurm_job_as_an_interrupt() -> None:
    previous = signal.getsignal(signal.SIGTERM)
    unwound = []

    def work(job: str) -> str:
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # scancel
            return "finished anyway"
        except Exception:  # the work's own error handling does not swallow it
            return "caught as an error"
        finally:
            unwound.append(job)

    try:
        with pytest.raises(JobStopped, match="SIGTERM"):
            run_as_slurm_job(work, "run-1")
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert unwound == ["run-1"]
