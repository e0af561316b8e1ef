"""Sweeps: planning, skip-done, retry-failed, resume of a killed run, busy runs, parallel papermill
workers, and the submitit path (local executor)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from rlsv.atomic import save_torch, write_json
from rlsv.data import DatasetNotFoundError
from rlsv.grids import STFT, get_grid, sinkhorn, tv
from rlsv.pipeline import RunParameters, dataset_root, read_status, run_training
from rlsv.profiles import get_profile
from rlsv.sweeps import classify_run, plan_runs, run_sweep

TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}


@pytest.fixture
def tiny(tiny_corpus: Path) -> dict:
    """Overrides that make every run of a sweep take about a second."""
    return {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --------------------------------------------------------------------------- planning and parameters


def test_plan_all_grid_has_each_run_once() -> None:
    runs = plan_runs("all", "quick")
    ids = [r.run_id for r in runs]
    assert len(ids) == len(set(ids)) == 31
    assert "quick-stft" in ids and "quick-tv-w0.5" in ids and "quick-sinkhorn-p2-l10-w1" in ids
    assert sum(r.is_trained for r in runs) == 30
    assert [r.run_id for r in plan_runs("table2", "paper")][-1] == "paper-stft"
    assert {r.run_id for r in plan_runs("figure3", "quick")} <= {r.run_id for r in plan_runs("table1", "quick")}
    assert len(plan_runs("figure5", "quick")) == len(get_grid("figure5")) == 16


def test_run_parameters_normalise_and_validate() -> None:
    run = RunParameters(objective="tv", omega=2, lam=1.5, p=2)
    assert (run.lam, run.p, run.run_id) == (None, None, "quick-tv-w2")
    run = RunParameters(objective="sinkhorn", omega=4, lam=1.5)
    assert run.p == 1 and run.run_id == "quick-sinkhorn-p1-l1.5-w4"
    assert RunParameters.from_dict(run.to_dict()) == run
    assert RunParameters(objective="stft").run_id == "quick-stft"
    config = RunParameters(objective="sinkhorn", omega=1, lam=0.5, p=2, model={"channels": 8}).train_config()
    assert (config.p, config.lam, config.model.channels, config.epochs) == (2, 0.5, 8, get_profile("quick").epochs)
    with pytest.raises(ValueError, match="positive omega"):
        RunParameters(objective="tv", omega=-1)
    with pytest.raises(ValueError, match="needs a positive lam"):
        RunParameters(objective="sinkhorn", omega=1)
    with pytest.raises(ValueError, match="Unknown profile"):
        RunParameters(profile="huge")
    with pytest.raises(ValueError, match="Unknown ModelConfig fields"):
        RunParameters(model={"chanels": 8})
    with pytest.raises(ValueError, match="does not match"):
        RunParameters(omega=1).check_run_id("my-run")


def test_paper_profile_needs_musdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="MUSDB_PATH"):
        dataset_root("paper")
    monkeypatch.setenv("MUSDB_PATH", str(tmp_path))
    assert dataset_root("paper") == tmp_path.resolve()
    assert dataset_root("quick", tmp_path / "x") == (tmp_path / "x").resolve()


# --------------------------------------------------------------------------- skip, retry, resume (inline engine)


def test_failed_run_is_recorded_then_retried_and_done_runs_skipped(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    bad = root / "quick-tv-w2"
    bad.mkdir(parents=True)
    torch.save({"format": "something else"}, bad / "checkpoint.pt")  # fit() refuses it: this run fails

    report = run_sweep([tv(1.0), tv(2.0)], "quick", root, engine="inline", overrides=tiny, progress=False,
                       run_progress=False)
    states = {o.run_id: o.state for o in report.outcomes}
    assert states == {"quick-tv-w1": "done", "quick-tv-w2": "failed"}
    assert not report.ok and "FAILED quick-tv-w2" in report.text()
    status = read_status(bad)
    assert status["state"] == "failed" and "not an rlsv training checkpoint" in status["error"]
    assert read_status(root / "quick-tv-w1")["state"] == "done"

    done_segments = root / "quick-tv-w1" / "segments.csv"
    stamp = done_segments.stat().st_mtime_ns
    (bad / "checkpoint.pt").unlink()
    report = run_sweep([tv(1.0), tv(2.0)], "quick", root, engine="inline", overrides=tiny, progress=False,
                       run_progress=False)
    assert {o.run_id: o.state for o in report.outcomes} == {"quick-tv-w1": "skipped", "quick-tv-w2": "done"}
    assert report.ok and done_segments.stat().st_mtime_ns == stamp
    assert read_status(bad)["state"] == "done" and (bad / "segments.csv").is_file()

    # Another configuration under the same run ids: the finished runs are left alone, and said so.
    report = run_sweep([tv(1.0)], "quick", root, engine="inline", overrides=tiny | {"epochs": 2}, progress=False)
    assert [o.state for o in report.outcomes] == ["conflict"] and not report.ok
    assert "differs in: epochs" in report.outcomes[0].error and "CONFLICT quick-tv-w1" in report.text()
    assert read_status(root / "quick-tv-w1")["state"] == "done" and done_segments.stat().st_mtime_ns == stamp


def test_running_leftover_resumes_from_its_checkpoint(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    params = RunParameters.for_spec(sinkhorn(1.0, 1.5), "quick", **(tiny | {"epochs": 2}))
    run_dir = root / params.run_id

    def killed_in_epoch_two(history: pd.DataFrame) -> None:
        if history["epoch"].max() == 2:
            raise KeyboardInterrupt  # like Ctrl-C / a killed process: no exception handler runs

    with pytest.raises(KeyboardInterrupt):
        run_training(params, root, progress=False, callback=killed_in_epoch_two)
    assert read_status(run_dir)["state"] == "running" and not (run_dir / "model.pt").exists()
    # The process that left "running" is gone; mark the checkpoint so that a restart would show.
    write_json(read_status(run_dir) | {"pid": _dead_pid()}, run_dir / "status.json")
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    assert checkpoint["epoch"] == 1
    checkpoint["history"][0][4] = 123.0  # loss of step 1, only in the checkpoint
    save_torch(checkpoint, run_dir / "checkpoint.pt")

    report = run_sweep([sinkhorn(1.0, 1.5)], "quick", root, engine="inline", overrides=tiny | {"epochs": 2},
                       progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"]
    losses = pd.read_csv(run_dir / "losses.csv")
    assert losses["epoch"].max() == 2 and losses.loc[0, "loss"] == 123.0  # continued, not restarted
    assert read_status(run_dir)["state"] == "done"


def test_run_of_a_live_process_is_left_alone(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    params = RunParameters.for_spec(tv(1.0), "quick", **tiny)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (root / params.run_id).mkdir(parents=True)
        import socket

        write_json({"state": "running", "error": None, "updated": "now", "pid": sleeper.pid,
                    "host": socket.gethostname()}, root / params.run_id / "status.json")
        report = run_sweep([tv(1.0)], "quick", root, engine="inline", overrides=tiny, progress=False)
        assert [o.state for o in report.outcomes] == ["busy"] and report.ok
        assert str(sleeper.pid) in report.outcomes[0].error
    finally:
        sleeper.kill()
        sleeper.wait()
    job_params = RunParameters.for_spec(tv(1.0), "quick", **(tiny | {"dataset": str(Path(tiny["dataset"]).resolve())}))
    from rlsv.sweeps import SweepJob

    assert classify_run(SweepJob(job_params, str(root.resolve()), engine="inline")) == "run"


# --------------------------------------------------------------------------- papermill workers, submitit


@pytest.mark.slow
def test_parallel_papermill_sweep_with_a_failing_run(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    bad = root / "quick-tv-w2"
    bad.mkdir(parents=True)
    torch.save({"format": "something else"}, bad / "checkpoint.pt")
    report = run_sweep([tv(1.0), tv(2.0), STFT], "quick", root, jobs=2, engine="papermill", overrides=tiny,
                       progress=False)
    states = {o.run_id: o.state for o in report.outcomes}
    assert states == {"quick-tv-w1": "done", "quick-tv-w2": "failed", "quick-stft": "done"}, report.text()
    assert "not an rlsv training checkpoint" in read_status(bad)["error"]
    assert (bad / "train.ipynb").is_file()  # the failing notebook is kept, with its traceback
    good = root / "quick-tv-w1"
    for name in ("train.ipynb", "evaluate.ipynb", "config.json", "checkpoint.pt", "model.pt", "losses.csv",
                 "segments.csv", "summary.json", "status.json"):
        assert (good / name).is_file(), name
    assert not list(root.rglob(".*partial*"))
    assert sorted(p.name for p in (root / "quick-stft").iterdir()) == [
        "config.json", "evaluate.ipynb", "segments.csv", "status.json", "summary.json"]
    injected = json.loads((good / "train.ipynb").read_text())["cells"]
    source = "".join("".join(c["source"]) for c in injected if "injected-parameters" in c["metadata"].get("tags", []))
    assert "threads = 1" in source and "live_plot = False" in source  # 2 cores / 2 workers
    summary = json.loads((good / "summary.json").read_text())
    assert summary["si_sdr"]["count"] > 0 and summary["additivity"]["mean"] > 0


@pytest.mark.slow
def test_submitit_local_executor_runs_the_job_array(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    report = run_sweep([tv(1.0)], "quick", root, jobs=1, engine="inline", executor="submitit-local",
                       overrides=tiny, progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"], report.text()
    assert report.submitted and (root / "_submitit").is_dir()
    assert list((root / "_submitit").glob("*_result.pkl"))
    run_dir = root / "quick-tv-w1"
    assert read_status(run_dir)["state"] == "done"
    assert len(pd.read_csv(run_dir / "segments.csv")) > 0
