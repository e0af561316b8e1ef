"""The runs shipped with rlsv (``rlsv/shipped_runs/``): what ``provenance.json`` records matches what
``scripts/make_shipped_runs.py`` would make (the runs, their parameters and calls, the files' sizes) and the
files themselves, without retraining; they are small; the explorer opens on them with no runs folder."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from rlsv.run.files import CONFIG, MODEL, SEGMENTS, STATUS, SUMMARY
from rlsv.ui.shipped import (
    OPTIONAL_FILES,
    SCRIPT_COMMAND,
    SHIPPED_FILES,
    SIZE_BUDGET_BYTES,
    model_bytes,
    planned_runs,
    read_provenance,
    recorded_plan,
    shipped_parameters,
    shipped_root,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def provenance() -> dict:
    return read_provenance()


def test_shipped_runs_are_figure4s_and_lambdas_at_omega_1() -> None:
    specs = {(p.objective, p.omega, p.lam, p.p) for p in shipped_parameters()}
    assert {("tv", 4.0, None, None), ("sinkhorn", 1.0, 0.5, 1), ("sinkhorn", 4.0, 1.5, 1)} <= specs  # Figure 4
    lams = sorted(lam for objective, omega, lam, _ in specs if objective == "sinkhorn" and omega == 1.0)
    assert lams == [0.5, 1.5, 5.0]
    assert {(p.profile, p.seed) for p in shipped_parameters()} == {("small", 218)}


def test_provenance_matches_what_the_script_would_make(provenance: dict) -> None:
    recorded = [{k: run[k] for k in ("run_id", "parameters", "calls")} for run in provenance["runs"]]
    assert recorded == planned_runs()
    assert provenance["command"] == SCRIPT_COMMAND
    environment = provenance["environment"]
    assert environment["device"] == "cpu" and environment["threads_per_run"] == 1
    plans = {json.dumps(run["conv_plan"], sort_keys=True) for run in provenance["runs"]}
    assert len(plans) == 1 and "null" not in plans and environment["conv_plan"]  # one plan, not timed, for all
    assert environment["torch"] and environment["rlsv"] and len(environment["commit"] or "") == 40
    folders = sorted(p.name for p in shipped_root().iterdir() if p.is_dir() and not p.name.startswith("__"))
    assert folders == sorted(run["run_id"] for run in planned_runs())


def test_script_dry_run_prints_the_plan() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "make_shipped_runs.py"), "--dry-run"],
                          capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(done.stdout) == {"command": SCRIPT_COMMAND, "runs": planned_runs()}


def test_shipped_files_are_the_recorded_ones_and_small(provenance: dict) -> None:
    total = 0
    for run in provenance["runs"]:
        folder = shipped_root() / run["run_id"]
        assert sorted(run["files"]) == sorted(p.name for p in folder.iterdir())
        assert set(SHIPPED_FILES) <= set(run["files"]) <= set(SHIPPED_FILES) | set(OPTIONAL_FILES)
        for name, recorded in run["files"].items():
            data = (folder / name).read_bytes()
            assert len(data) == recorded["size"] and hashlib.sha256(data).hexdigest() == recorded["sha256"], name
            total += len(data)
    assert total == provenance["total_bytes"] <= SIZE_BUDGET_BYTES


def test_model_size_is_what_the_small_profile_gives(provenance: dict) -> None:
    """A trained model.pt is as large as an untrained one of the same sizes written the same way, stamp
    included: the size the script would produce, known without training."""
    from rlsv.core.model import DenoisingAutoencoder, model_payload

    for params, run in zip(shipped_parameters(), provenance["runs"]):
        payload = model_payload(DenoisingAutoencoder(params.model_config())) | {"run": "0" * 6}
        assert run["files"][MODEL]["size"] == len(model_bytes(payload))


def test_each_shipped_run_is_its_parameters_run(provenance: dict) -> None:
    from rlsv.run.model_file import load_run_model
    from rlsv.study.results import load_run

    for params, run in zip(shipped_parameters(), provenance["runs"]):
        folder = shipped_root() / params.run_id
        shown = load_run(folder)  # config.json and status.json follow docs/run_layout.md
        assert shown.state == "done" and shown.run_id == params.run_id
        config = json.loads((folder / CONFIG).read_text())
        # the run id's variant hashes every setting that changes the weights; the grid point and seed are its own
        assert (config["run_id"], config["variant"], config["profile"]) == (params.run_id, params.variant, "small")
        assert [config[k] for k in ("objective", "omega", "lam", "p", "seed")] == [
            params.objective, params.omega, params.lam, params.p, params.seed]
        assert config["evaluation"] == params.evaluation_settings().to_dict()
        assert recorded_plan(folder) == run["conv_plan"]
        status = json.loads((folder / STATUS).read_text())
        assert set(status) == {"state", "error", "train_seconds", "evaluate_seconds"}  # no host, pid, time
        model = load_run_model(folder)  # the stamp matches config.json
        assert model.config.to_dict() == config["model"]
        summary = json.loads((folder / SUMMARY).read_text())
        segments = (folder / SEGMENTS).read_text().splitlines()
        assert summary["additivity"]["count"] == len(segments) - 1 > 0


def test_package_data_lists_the_shipped_files() -> None:
    import tomllib

    patterns = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["rlsv"]
    package = ROOT / "rlsv"
    matched = {p for pattern in patterns for p in package.glob(pattern)}
    shipped = {p for p in shipped_root().rglob("*") if p.is_file()}
    assert shipped and shipped == matched


@pytest.mark.slow
def test_explorer_opens_on_the_shipped_runs_without_a_runs_folder(tmp_path: Path) -> None:
    from rlsv.ui.explorer import RepresentationExplorer

    explorer = RepresentationExplorer(tmp_path / "papermill_runs")
    assert explorer.state["source"] == "shipped" and explorer.state["run_id"] == shipped_parameters()[3].run_id
    assert len(explorer.runs.listing()) == len(shipped_parameters())
    assert explorer.state["segment_s"] == pytest.approx(0.25) and not (tmp_path / "papermill_runs").exists()
