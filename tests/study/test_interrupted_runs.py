"""Issue 20 case 7b: after SIGINT or SIGTERM of a sweep, ``rlsv status`` says ``interrupted`` (not ``running``
with a dead pid, nor ``pending`` with a stale lock), and rerunning the sweep cleans up and resumes.

Owners are real processes: a sweep in a child process stopped by a signal, and sleepers whose pid is
alive, dead or recycled (the recorded process identity tells them apart)."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from rlsv.atomic import write_json
from rlsv.cli import main
from rlsv.run.config import RunParameters
from rlsv.run.lock import LOCK_FILE, process_identity, read_lock
from rlsv.run.spec import tv
from rlsv.run.status import INTERRUPTED, interruption, read_status, shown_state
from rlsv.study.run_overview import run_overview
from rlsv.study.sweeps import run_sweep

TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}

# A sweep in a child process whose training stops in its second epoch: it has claimed the run (run.lock,
# status.json "running") and written config.json and the first epoch's checkpoint; it says so on stdout and
# waits for the signal.
_STUCK_SWEEP = """
import json, signal, sys, time
import rlsv.run.pipeline as pipeline

signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C as in a terminal, also under a background job

training = pipeline.run_training

def stop_in_epoch_two(history):
    if history["epoch"].max() >= 2:
        print("training", flush=True)
        time.sleep(120)

def stuck(*args, **kwargs):
    return training(*args, **kwargs, callback=stop_in_epoch_two)

pipeline.run_training = stuck
from rlsv.run.spec import tv
from rlsv.study.sweeps import run_sweep

run_sweep([tv(1.0)], "smoke", sys.argv[1], engine="inline", overrides=json.loads(sys.argv[2]), progress=False,
          run_progress=False)
"""


@pytest.fixture
def tiny(tiny_corpus: Path) -> dict:
    return {"dataset": str(tiny_corpus.resolve()), "epochs": 2, "max_train_tracks": 1, "model": TINY_MODEL}


@pytest.fixture
def sleeper():
    """A live process of this host (its pid and identity are a live owner's)."""
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    yield process
    process.kill()
    process.wait()


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def _status(run_dir: Path, state: str, pid: int, host: str | None = None, identity: str | None = None) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json({"state": state, "error": None, "updated": "2026-01-01T00:00:00+00:00", "pid": pid,
                "host": host or socket.gethostname(), "process": identity}, run_dir / "status.json")


def _lock(run_dir: Path, pid: int, identity: str | None = None) -> None:
    holder = {"host": socket.gethostname(), "pid": pid, "started": time.time(), "token": "t",
              "process": identity or ""}
    (run_dir / LOCK_FILE).write_text(json.dumps(holder))


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_sweep_stopped_by_a_signal_leaves_an_interrupted_run_that_a_rerun_resumes(
        stop: signal.Signals, tmp_path: Path, tiny: dict, capsys: pytest.CaptureFixture[str]) -> None:
    root = tmp_path / "runs"
    run_dir = root / RunParameters.for_spec(tv(1.0), "smoke", **tiny).run_id
    child = subprocess.Popen([sys.executable, "-c", _STUCK_SWEEP, str(root), json.dumps(tiny)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "training", child.stderr.read()
        assert read_status(run_dir)["pid"] == child.pid and read_lock(run_dir).pid == child.pid
        assert shown_state(run_dir, "running", None) == ("running", "")  # its owner is alive: at work
        child.send_signal(stop)
        child.wait(60)
    finally:
        child.kill()
        child.wait()
    # SIGINT unwinds (the lock is released, "running" stays); SIGTERM ends it at once (the lock stays)
    assert (run_dir / LOCK_FILE).exists() == (stop == signal.SIGTERM)
    assert read_status(run_dir)["state"] == "running" and (run_dir / "checkpoint.pt").is_file()
    # what a killed papermill execution and a killed atomic write leave behind
    (run_dir / ".evaluate.123-0badcafe.partial.ipynb").write_text("{}")
    (run_dir / ".losses.csv.0123abcd.tmp").write_text("epoch")

    overview = run_overview(root)
    assert overview["state"].tolist() == [INTERRUPTED], overview.to_string()
    error = overview["error"].iloc[0]
    assert str(child.pid) in error
    assert "rerunning the command that made it (the sweep, or rlsv train) resumes it" in error
    assert main(["status", "--runs-root", str(root)]) == 0  # what the user reads
    out = capsys.readouterr().out
    assert f" {INTERRUPTED} " in out and "rerunning the command that made it" in out and "1 interrupted" in out

    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"], report.text()
    assert run_overview(root)["state"].tolist() == ["done"]
    assert pd.read_csv(run_dir / "losses.csv")["epoch"].max() == 2
    assert not (run_dir / LOCK_FILE).exists()
    assert not list(run_dir.glob(".*partial*")) and not list(run_dir.glob(".*.tmp"))


def test_running_is_interrupted_when_its_process_is_dead_or_its_pid_recycled(tmp_path: Path, sleeper) -> None:
    run_dir = tmp_path / "run"
    identity = process_identity(sleeper.pid)
    _status(run_dir, "running", sleeper.pid, identity=identity)
    assert interruption(run_dir) is None and shown_state(run_dir, "running", None) == ("running", "")
    _status(run_dir, "running", sleeper.pid)  # written by an older rlsv: no identity, the pid alone counts
    assert interruption(run_dir) is None
    _status(run_dir, "running", sleeper.pid, identity="another-boot:12345")  # the pid now belongs to the sleeper
    assert "is gone" in interruption(run_dir)
    dead = _dead_pid()
    _status(run_dir, "running", dead, identity="another-boot:12345")
    state, error = shown_state(run_dir, "running", None)
    assert state == INTERRUPTED and f"process {dead} on {socket.gethostname()}" in error
    _status(run_dir, "running", dead, host="some-node")  # a SLURM node's process cannot be checked from here
    assert interruption(run_dir) is None


def test_pending_is_interrupted_by_a_stale_lock_or_a_cut_short_notebook(tmp_path: Path, sleeper) -> None:
    run_dir = tmp_path / "run"
    _status(run_dir, "pending", _dead_pid())  # trained, waiting for its evaluation: its writer may be gone
    assert interruption(run_dir) is None and shown_state(run_dir, "pending", None) == ("pending", "")
    _lock(run_dir, sleeper.pid, process_identity(sleeper.pid))  # a live sweep is evaluating it
    (run_dir / ".evaluate.77-0badcafe.partial.ipynb").write_text("{}")
    assert interruption(run_dir) is None
    _lock(run_dir, sleeper.pid, "another-boot:12345")  # the sweep died and its pid was reused
    assert interruption(run_dir).startswith(f"the process that held it (process {sleeper.pid} on ")
    _lock(run_dir, _dead_pid())
    assert shown_state(run_dir, "pending", None)[0] == INTERRUPTED
    (run_dir / LOCK_FILE).unlink()  # SIGINT released the lock; the notebook papermill was writing stays
    assert "cut short" in interruption(run_dir)
    # finished or failed runs are what they say, whatever was left beside them
    _lock(run_dir, _dead_pid())
    for state in ("done", "failed"):
        _status(run_dir, state, _dead_pid())
        assert interruption(run_dir) is None and shown_state(run_dir, state, "why")[0] == state
