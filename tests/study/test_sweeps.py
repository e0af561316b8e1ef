"""Sweeps: planning, skip-done, retry-failed, resume of a killed run, busy runs and run locks,
evaluation settings, parallel papermill workers, and the submitit path (local executor)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from rlsv.atomic import save_torch, write_json
from rlsv.audio.musdb import DatasetNotFoundError
from rlsv.run import conv_plan as plans
from rlsv.run.config import RunParameters
from rlsv.run.data import dataset_root
from rlsv.run.lock import LOCK_FILE
from rlsv.run.pipeline import run_training
from rlsv.run.spec import STFT, sinkhorn, tv
from rlsv.run.status import read_status
from rlsv.study.executors import slot_environments, worker_threads
from rlsv.study.grids import get_grid
from rlsv.study.slurm_jobs import SlurmOptions
from rlsv.study.sweep_plan import SweepJob, plan_runs, sweep_seeds
from rlsv.study.sweep_run import execute_run
from rlsv.study.sweep_verdicts import classify_run
from rlsv.study.sweeps import run_sweep

TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}


@pytest.fixture
def tiny(tiny_corpus: Path) -> dict:
    """Overrides that make every run of a sweep take about a second."""
    return {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}


def rid(spec, overrides: dict, profile: str = "smoke") -> str:
    """The run id a sweep of ``profile`` with ``overrides`` gives grid point ``spec`` (seed 218)."""
    return RunParameters.for_spec(spec, profile, **overrides).run_id


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


# --------------------------------------------------------------------------- planning and parameters


def test_plan_all_grid_has_each_run_once() -> None:
    runs = plan_runs("all", "smoke")
    ids = [r.run_id for r in runs]
    variant = RunParameters(profile="smoke").variant
    assert len(ids) == len(set(ids)) == 31 and {r.variant for r in runs} == {variant}
    assert f"smoke-stft-{variant}" in ids and f"smoke-tv-w0.5-s218-{variant}" in ids
    assert f"smoke-sinkhorn-p2-l10-w1-s218-{variant}" in ids
    assert sum(r.is_trained for r in runs) == 30
    assert [r.run_id for r in plan_runs("table2", "paper")][-1].startswith("paper-stft-")
    assert {r.run_id for r in plan_runs("figure3", "smoke")} <= {r.run_id for r in plan_runs("table1", "smoke")}
    assert len(plan_runs("figure5", "smoke")) == len(get_grid("figure5")) == 16


def test_plan_with_seeds_repeats_trained_runs_per_seed_and_the_stft_once() -> None:
    runs = plan_runs("table2", "smoke", seeds=3)
    assert [(r.objective, r.seed) for r in runs] == (
        [("sinkhorn", 218)] * 4 + [("stft", 218)] + [("sinkhorn", 219)] * 4 + [("sinkhorn", 220)] * 4)
    assert len({r.run_id for r in runs}) == 13 and len({r.variant for r in runs}) == 1
    assert [r.seed for r in plan_runs([tv(1.0)], "smoke", seeds=[7, 11, 7])] == [7, 11]
    assert sweep_seeds(2) == (218, 219)
    for bad in (0, -1, [], [-3], True):
        with pytest.raises(ValueError, match="seeds"):
            sweep_seeds(bad)
    with pytest.raises(ValueError, match="seeds="):
        plan_runs("table1", "smoke", overrides={"seed": 3})


def test_the_findings_grid_points_get_more_seeds_after_every_other_run() -> None:
    from rlsv.study.grids import FINDINGS

    assert len(FINDINGS) == 11 and set(FINDINGS) <= set(get_grid("all"))
    assert set(FINDINGS) == {*get_grid("figure3"), sinkhorn(1.0, 0.5), sinkhorn(1.0, 1.5), sinkhorn(1.0, 2.0),
                             *(sinkhorn(w, 1.5) for w in (1.0, 1.5, 2.0, 4.0))}
    runs = plan_runs("all", "smoke", findings_seeds=3)
    assert len(runs) == 31 + 2 * 11 and len({r.run_id for r in runs}) == len(runs)
    assert [r.seed for r in runs[:31]] == [218] * 31  # one complete set first
    assert {(r.spec, r.seed) for r in runs[31:]} == {(spec, seed) for spec in FINDINGS for seed in (219, 220)}
    # the grid's own order within each extra seed, and no extra seeds for a grid without findings
    assert [r.spec for r in runs[31:42]] == [spec for spec in get_grid("all") if spec in FINDINGS]
    assert len(plan_runs([sinkhorn(1.0, 0.1), sinkhorn(1.0, 5.0, 2)], "smoke", findings_seeds=3)) == 2
    assert [r.seed for r in plan_runs([tv(1.0)], "smoke", seeds=[7], findings_seeds=2)] == [7, 218]
    assert len(plan_runs("table1", "smoke", seeds=3, findings_seeds=2)) == 30  # already more: nothing added
    from rlsv.study.sweeps import SweepSettings, _engine

    settings = SweepSettings(profile="smoke", findings_seeds=3, findings_engine="inline")
    engines = {(r.seed, _engine(r, settings)) for r in runs}
    assert engines == {(218, "papermill"), (219, "inline"), (220, "inline")}  # the grid's own runs keep notebooks
    assert {_engine(r, SweepSettings(findings_seeds=3)) for r in runs} == {"papermill"}
    with pytest.raises(ValueError, match="Unknown engine 'fast'"):
        SweepSettings(findings_engine="fast")


def test_paper_profile_needs_musdb(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="MUSDB_PATH"):
        dataset_root("paper")
    monkeypatch.setenv("MUSDB_PATH", str(tmp_path))
    assert dataset_root("paper") == tmp_path.resolve()
    assert dataset_root("small", tmp_path / "x") == (tmp_path / "x").resolve()


# --------------------------------------------------------------------------- skip, retry, resume (inline engine)


def test_failed_run_is_recorded_then_retried_and_done_runs_skipped(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    bad = root / rid(tv(2.0), tiny)
    bad.mkdir(parents=True)
    torch.save({"format": "something else"}, bad / "checkpoint.pt")  # fit() refuses it: this run fails

    report = run_sweep([tv(1.0), tv(2.0)], "smoke", root, engine="inline", overrides=tiny, progress=False,
                       run_progress=False)
    states = {o.run_id: o.state for o in report.outcomes}
    assert states == {rid(tv(1.0), tiny): "done", rid(tv(2.0), tiny): "failed"}
    assert not report.ok and f"FAILED {rid(tv(2.0), tiny)}" in report.text()
    status = read_status(bad)
    assert status["state"] == "failed" and "not an rlsv training checkpoint" in status["error"]
    assert read_status(root / rid(tv(1.0), tiny))["state"] == "done"

    done_segments = root / rid(tv(1.0), tiny) / "segments.csv"
    stamp = done_segments.stat().st_mtime_ns
    (bad / "checkpoint.pt").unlink()
    report = run_sweep([tv(1.0), tv(2.0)], "smoke", root, engine="inline", overrides=tiny, progress=False,
                       run_progress=False)
    assert {o.run_id: o.state for o in report.outcomes} == {rid(tv(1.0), tiny): "skipped", rid(tv(2.0), tiny): "done"}
    assert report.ok and done_segments.stat().st_mtime_ns == stamp
    assert read_status(bad)["state"] == "done" and (bad / "segments.csv").is_file()
    # runs finished by the inline engine are finished for the papermill engine too (no notebook re-executed)
    report = run_sweep([tv(1.0), tv(2.0)], "smoke", root, engine="papermill", overrides=tiny, progress=False,
                       run_progress=False)
    assert [o.state for o in report.outcomes] == ["skipped", "skipped"] and not list(root.glob("*/*.ipynb"))
    # ... but a run the papermill engine made is done only with its executed notebooks (a kill after "done"
    # and before the notebook's rename leaves it unfinished, and the next sweep finishes it)
    good = root / rid(tv(1.0), tiny)
    status = json.loads((good / "status.json").read_text())
    assert status["engine"] == "inline"
    write_json(status | {"engine": "papermill"}, good / "status.json")
    job = SweepJob(RunParameters.for_spec(tv(1.0), "smoke", **tiny), str(root.resolve()), engine="papermill")
    assert classify_run(job) == "run"
    write_json(status, good / "status.json")
    assert classify_run(job) == "skip"
    timings = read_status(bad)  # kept from the training step through the evaluation's and the sweep's writes
    assert timings["train_seconds"] > 0 and timings["evaluate_seconds"] > 0

    # Other settings are another run, in another folder: the finished one is left as it is.
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny | {"epochs": 2}, progress=False,
                       run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"] and report.ok
    assert report.outcomes[0].run_id == rid(tv(1.0), tiny | {"epochs": 2}) != rid(tv(1.0), tiny)
    assert read_status(root / rid(tv(1.0), tiny))["state"] == "done" and done_segments.stat().st_mtime_ns == stamp


def test_a_longer_sweep_starts_from_the_shorter_runs_of_the_same_settings(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    run_sweep([tv(1.0), tv(2.0)], "smoke", root, engine="inline", overrides=tiny, progress=False, run_progress=False)
    short = root / rid(tv(1.0), tiny)
    mark = torch.load(short / "checkpoint.pt", weights_only=False)
    mark["history"][0][4] = 123.0  # only in the shorter run's checkpoint: shows where the longer run started
    save_torch(mark, short / "checkpoint.pt")
    longer = tiny | {"epochs": 2}
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=longer, progress=False,
                       run_progress=False, extend_shorter=True)
    assert [o.state for o in report.outcomes] == ["done"], report.text()
    losses = pd.read_csv(root / rid(tv(1.0), longer) / "losses.csv")
    assert losses["epoch"].max() == 2 and losses.loc[0, "loss"] == 123.0  # epoch 1 is the shorter run's
    config = json.loads((root / rid(tv(1.0), longer) / "config.json").read_text())
    assert config["epochs"] == 2 and config["run_id"] == rid(tv(1.0), longer)
    # without extend_shorter, or with other settings, a run starts from scratch
    other = tiny | {"epochs": 2, "learning_rate": 0.5}
    run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=other, progress=False, run_progress=False,
              extend_shorter=True)
    assert pd.read_csv(root / rid(tv(1.0), other) / "losses.csv").loc[0, "loss"] != 123.0


def test_running_leftover_resumes_from_its_checkpoint(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    params = RunParameters.for_spec(sinkhorn(1.0, 1.5), "smoke", **(tiny | {"epochs": 2}))
    run_dir = root / params.run_id

    def killed_in_epoch_two(history: pd.DataFrame) -> None:
        if history["epoch"].max() == 2:
            raise KeyboardInterrupt  # like Ctrl-C / a killed process: no exception handler runs

    with pytest.raises(KeyboardInterrupt):
        run_training(params, root, progress=False, callback=killed_in_epoch_two)
    assert read_status(run_dir)["state"] == "running" and not (run_dir / "model.pt").exists()
    # The process that left "running" is gone; mark the checkpoint so that a restart would show.
    write_json(read_status(run_dir) | {"pid": _dead_pid()}, run_dir / "status.json")
    checkpoint = torch.load(run_dir / "checkpoint.pt", weights_only=True)
    assert checkpoint["epoch"] == 1
    checkpoint["history"][0][4] = 123.0  # loss of step 1, only in the checkpoint
    save_torch(checkpoint, run_dir / "checkpoint.pt")

    report = run_sweep([sinkhorn(1.0, 1.5)], "smoke", root, engine="inline", overrides=tiny | {"epochs": 2},
                       progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"]
    losses = pd.read_csv(run_dir / "losses.csv")
    assert losses["epoch"].max() == 2 and losses.loc[0, "loss"] == 123.0  # continued, not restarted
    assert read_status(run_dir)["state"] == "done"


def test_run_of_a_live_process_is_left_alone(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    params = RunParameters.for_spec(tv(1.0), "smoke", **tiny)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (root / params.run_id).mkdir(parents=True)
        import socket

        write_json({"state": "running", "error": None, "updated": "now", "pid": sleeper.pid,
                    "host": socket.gethostname()}, root / params.run_id / "status.json")
        report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False)
        assert [o.state for o in report.outcomes] == ["busy"] and report.ok
        assert str(sleeper.pid) in report.outcomes[0].error
        # Claimed directly: under the sweep's own lock the message still names the live process.
        claimed = execute_run(SweepJob(params, str(root), engine="inline"))
        assert claimed.state == "busy"
        assert claimed.error.startswith(f"running in process {sleeper.pid} on ")
        assert not (root / params.run_id / LOCK_FILE).exists()
    finally:
        sleeper.kill()
        sleeper.wait()
    job_params = RunParameters.for_spec(tv(1.0), "smoke", **(tiny | {"dataset": str(Path(tiny["dataset"]).resolve())}))
    assert classify_run(SweepJob(job_params, str(root.resolve()), engine="inline")) == "run"


# --------------------------------------------------------------------------- run locks: one claim per run


def _job(root: Path, tiny: dict, spec=tv(1.0), **fields) -> SweepJob:
    """The job a sweep over ``root`` makes for ``spec`` (dataset resolved as run_sweep does)."""
    params = RunParameters.for_spec(spec, "smoke", **(tiny | {"dataset": str(Path(tiny["dataset"]).resolve())}))
    return SweepJob(params, str(root.resolve()), engine="inline", progress=False, **fields)


def _write_lock(run_dir: Path, host: str, pid: int, age_s: float = 0.0) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    holder = {"host": host, "pid": pid, "started": time.time() - age_s, "token": "someone-else"}
    (run_dir / LOCK_FILE).write_text(json.dumps(holder))


def test_two_concurrent_claims_of_a_run_one_runs_the_other_is_busy(tmp_path: Path, tiny: dict,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import rlsv.run.pipeline

    job = _job(tmp_path / "runs", tiny)
    training, second_done = threading.Event(), threading.Event()
    train = rlsv.run.pipeline.run_training

    def train_while_the_other_claims(*args, **kwargs):
        training.set()  # the first claim holds the lock and is training...
        assert second_done.wait(60)  # ...while the second claim tries
        return train(*args, **kwargs)

    monkeypatch.setattr(rlsv.run.pipeline, "run_training", train_while_the_other_claims)
    outcomes = {}
    first = threading.Thread(target=lambda: outcomes.setdefault("first", execute_run(job)))
    first.start()
    assert training.wait(60)
    outcomes["second"] = execute_run(job)  # like table1 and figure3 started in two terminals
    second_done.set()
    first.join(120)
    assert (outcomes["first"].state, outcomes["second"].state) == ("done", "busy")
    assert f"process {os.getpid()} on {socket.gethostname()}" in outcomes["second"].error
    assert not (job.run_dir / LOCK_FILE).exists()  # released at the end of the run
    # The next claim finds the run finished under the lock: skipped, not run again.
    assert execute_run(job).state == "skipped"


def test_locks_of_live_claims_are_respected_and_stale_ones_broken(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    job = _job(root, tiny)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        _write_lock(job.run_dir, socket.gethostname(), sleeper.pid)  # a live process on this host
        assert classify_run(job) == "busy" and execute_run(job).state == "busy"
        report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False)
        assert [o.state for o in report.outcomes] == ["busy"] and report.ok
        assert f"locked by process {sleeper.pid}" in report.outcomes[0].error
    finally:
        sleeper.kill()
        sleeper.wait()
    # A SLURM node's lock: busy (its process cannot be checked from here) unless --force or too old.
    _write_lock(job.run_dir, "some-node", 4242)
    assert classify_run(job) == "busy" and execute_run(job).state == "busy"
    assert classify_run(replace(job, force=True)) == "run"
    _write_lock(job.run_dir, "some-node", 4242, age_s=49 * 3600)
    assert classify_run(job) == "run"
    # The process that took the lock died: the lock is stale, broken by the next sweep.
    _write_lock(job.run_dir, socket.gethostname(), _dead_pid())
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"], report.text()
    assert not (job.run_dir / LOCK_FILE).exists() and read_status(job.run_dir)["state"] == "done"


def test_a_lock_or_status_of_a_recycled_process_id_is_stale(tmp_path: Path, tiny: dict) -> None:
    from rlsv.run.lock import is_stale, process_identity, read_lock

    root = tmp_path / "runs"
    job = _job(root, tiny)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        identity = process_identity(sleeper.pid)
        assert identity and identity != process_identity(os.getpid())
        # the holder died and its id now belongs to the sleeper: same pid, another process
        job.run_dir.mkdir(parents=True)
        holder = {"host": socket.gethostname(), "pid": sleeper.pid, "started": time.time(), "token": "t",
                  "process": "another-boot:12345"}
        (job.run_dir / LOCK_FILE).write_text(json.dumps(holder))
        assert is_stale(read_lock(job.run_dir)) and classify_run(job) == "run"
        holder["process"] = identity  # the very process: busy
        (job.run_dir / LOCK_FILE).write_text(json.dumps(holder))
        assert not is_stale(read_lock(job.run_dir)) and classify_run(job) == "busy"
        (job.run_dir / LOCK_FILE).unlink()
        status = {"state": "running", "error": None, "updated": "now", "pid": sleeper.pid,
                  "host": socket.gethostname(), "process": "another-boot:12345"}
        write_json(status, job.run_dir / "status.json")
        assert classify_run(job) == "run"  # a "running" left by a dead process whose id was reused
        write_json(status | {"process": identity}, job.run_dir / "status.json")
        assert classify_run(job) == "busy"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_killed_slurm_job_leaves_no_lock_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from rlsv.run.lock import read_lock, release_lock_of_job, run_lock

    run_dir = tmp_path / "smoke-tv-w1-s218-abc123"
    monkeypatch.setenv("SLURM_ARRAY_JOB_ID", "77")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    with run_lock(run_dir):
        holder = read_lock(run_dir)
        assert holder.job == "77_3" and "SLURM job 77_3" in holder.describe()
        keep = (run_dir / LOCK_FILE).read_bytes()
    # as if the job had been killed inside the block: its lock is left, seen from the login node
    (run_dir / LOCK_FILE).write_bytes(keep.replace(socket.gethostname().encode(), b"some-node"))
    assert not release_lock_of_job(run_dir, "77_4") and read_lock(run_dir) is not None  # another job's
    assert release_lock_of_job(run_dir, "77_3") and read_lock(run_dir) is None
    assert sorted(p.name for p in run_dir.iterdir()) == []


def test_unique_names_for_the_notebook_being_executed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import papermill

    from rlsv.study.notebook_runs import execute_notebook

    written = []

    def fake_execute(notebook, output, **kwargs):
        written.append(Path(output).name)
        Path(output).write_text("{}")

    monkeypatch.setattr(papermill, "execute_notebook", fake_execute)
    execute_notebook("02_train.ipynb", tmp_path / "train.ipynb", {})
    execute_notebook("02_train.ipynb", tmp_path / "train.ipynb", {})
    assert len(set(written)) == 2 and all(name.startswith(".train.") for name in written)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train.ipynb"]


# --------------------------------------------------------------------------- evaluation settings, data preparation


def test_a_run_evaluated_on_fewer_test_tracks_is_evaluated_again(tmp_path: Path, tiny: dict,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "runs"
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny | {"max_test_tracks": 1},
                       progress=False, run_progress=False)
    run_dir = root / rid(tv(1.0), tiny)
    assert [o.state for o in report.outcomes] == ["done"]
    assert json.loads((run_dir / "config.json").read_text())["evaluation"]["max_test_tracks"] == 1
    assert pd.read_csv(run_dir / "segments.csv")["track"].nunique() == 1
    model_stamp = (run_dir / "model.pt").stat().st_mtime_ns

    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done"], report.text()  # not skipped: all test tracks asked
    assert json.loads((run_dir / "config.json").read_text())["evaluation"]["max_test_tracks"] is None
    assert pd.read_csv(run_dir / "segments.csv")["track"].nunique() == 2
    assert (run_dir / "model.pt").stat().st_mtime_ns == model_stamp  # the training is kept

    # Everything done: the sweep skips before it lists, checks or decodes any track.
    monkeypatch.setattr("rlsv.study.sweeps.prepare_data", lambda *a, **k: pytest.fail("data prepared for nothing"))
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=tiny, progress=False)
    assert [o.state for o in report.outcomes] == ["skipped"]


def test_worker_slots_get_their_own_gpu_and_threads() -> None:
    envs = slot_environments(3, ("0", "1"), 4)
    assert [e["CUDA_VISIBLE_DEVICES"] for e in envs] == ["0", "1", "0"]
    assert all(e["OMP_NUM_THREADS"] == e["MKL_NUM_THREADS"] == "4" for e in envs)
    assert slot_environments(2, (), None) == [{}, {}]
    assert worker_threads("local", 1) is None  # one local worker: the sweep's own process, torch's default
    cores = len(os.sched_getaffinity(0))
    assert worker_threads("local", 2) == worker_threads("submitit-local", 2) == max(1, cores // 2)
    assert worker_threads("submitit-local", 1) == cores
    assert worker_threads("slurm", 4, SlurmOptions(cpus_per_job=6)) == 6


# --------------------------------------------------------------------------- papermill workers, submitit


@pytest.mark.slow
def test_parallel_papermill_sweep_with_a_failing_run(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    bad = root / rid(tv(2.0), tiny)
    bad.mkdir(parents=True)
    torch.save({"format": "something else"}, bad / "checkpoint.pt")
    report = run_sweep([tv(1.0), tv(2.0), STFT], "smoke", root, jobs=2, engine="papermill", overrides=tiny,
                       progress=False)
    states = {o.run_id: o.state for o in report.outcomes}
    assert states == {rid(tv(1.0), tiny): "done", rid(tv(2.0), tiny): "failed", rid(STFT, tiny): "done"}, report.text()
    assert "not an rlsv training checkpoint" in read_status(bad)["error"]
    assert (bad / "train.ipynb").is_file()  # the failing notebook is kept, with its traceback
    good = root / rid(tv(1.0), tiny)
    for name in ("train.ipynb", "evaluate.ipynb", "config.json", "checkpoint.pt", "model.pt", "losses.csv",
                 "segments.csv", "summary.json", "status.json"):
        assert (good / name).is_file(), name
    assert not list(root.rglob(".*partial*"))
    assert sorted(p.name for p in (root / rid(STFT, tiny)).iterdir()) == [
        "config.json", "evaluate.ipynb", "segments.csv", "status.json", "summary.json"]
    injected = json.loads((good / "train.ipynb").read_text())["cells"]
    source = "".join("".join(c["source"]) for c in injected if "injected-parameters" in c["metadata"].get("tags", []))
    assert f"threads = {worker_threads('local', 2)}" in source and "live_plot = False" in source  # cores // 2
    # one convolution plan, fixed by the sweep before its runs started, handed to every run and recorded
    plan = plans.fixed_plan("cpu").text
    assert f'conv_plan = "{plan}"' in source and report.conv_plan.startswith(f"{plan} (fixed; cpu")
    session = json.loads((good / "provenance.json").read_text())["sessions"][-1]
    assert session["conv_plan"] == {"plan": plan, "how": "given"} and session["threads"] == worker_threads("local", 2)
    summary = json.loads((good / "summary.json").read_text())
    assert summary["si_sdr"]["count"] > 0 and summary["additivity"]["mean"] > 0


@pytest.mark.slow
def test_submitit_local_executor_runs_at_most_jobs_at_a_time(tmp_path: Path, tiny: dict) -> None:
    root = tmp_path / "runs"
    report = run_sweep([tv(1.0), tv(2.0)], "smoke", root, jobs=1, engine="inline", executor="submitit-local",
                       overrides=tiny, progress=False, run_progress=False)
    assert [o.state for o in report.outcomes] == ["done", "done"], report.text()
    assert len(report.submitted) == 2 and (root / "_submitit").is_dir()
    assert len(list((root / "_submitit").glob("*_result.pkl"))) == 2
    spans = []
    for name in (rid(tv(1.0), tiny), rid(tv(2.0), tiny)):
        run_dir = root / name
        assert read_status(run_dir)["state"] == "done"
        assert len(pd.read_csv(run_dir / "segments.csv")) > 0
        # training writes config.json when it starts, the evaluation segments.csv when the run ends
        spans.append(((run_dir / "config.json").stat().st_mtime_ns, (run_dir / "segments.csv").stat().st_mtime_ns))
    (start_a, end_a), (start_b, end_b) = sorted(spans)
    assert end_a <= start_b, "with jobs=1 the two runs must not overlap"
