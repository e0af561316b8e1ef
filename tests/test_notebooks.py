"""The numbered notebooks: stored without outputs, thin and parameterised, and each one executed
with papermill at a tiny size (tiny corpus, tiny model) with its products checked. (The λ explorer's
class is tested in ``tests/ui/test_explorer.py``.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pandas as pd
import papermill as pm
import pytest

from rlsv.study.notebook_runs import execute_notebook
from rlsv.study.paper_values import TABLE1, TABLE2
from rlsv.study.sweeps import run_sweep

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = ("00_method.ipynb", "01_data.ipynb", "02_train.ipynb", "03_evaluate.ipynb", "04_tables.ipynb",
         "05_figures.ipynb", "06_explorer.ipynb", "07_scale_study.ipynb", "08_separation.ipynb")
TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}


def _read(name: str) -> nbformat.NotebookNode:
    return nbformat.read(NOTEBOOKS / name, as_version=4)


def _outputs(notebook: Path) -> list[dict]:
    book = nbformat.read(notebook, as_version=4)
    return [out for cell in book.cells if cell.cell_type == "code" for out in cell.outputs]


def _mime(outputs: list[dict], mime: str) -> list:
    return [out["data"][mime] for out in outputs if mime in out.get("data", {})]


@pytest.fixture(scope="module")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> tuple[Path, dict]:
    """Every run of the `all` grid (30 + STFT) at a tiny size, through the sweep's inline engine (2 workers)."""
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}
    root = tmp_path_factory.mktemp("tiny_runs") / "papermill_runs"
    with pytest.MonkeyPatch.context() as mp:  # module fixture: the autouse env fixture is not active yet
        mp.delenv("MUSDB_PATH", raising=False)
        mp.setenv("RLSV_CACHE", str(tmp_path_factory.mktemp("cache_tiny_runs")))
        report = run_sweep("all", "smoke", root, jobs=2, engine="inline", overrides=overrides, progress=False,
                           run_progress=False)
    assert report.ok and report.counts()["done"] == 31, report.text()
    return root, overrides


# --------------------------------------------------------------------------- stored form


def test_the_six_numbered_notebooks_exist() -> None:
    assert tuple(sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))) == NAMES


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs_and_parameterised(name: str) -> None:
    book = _read(name)
    nbformat.validate(book)
    code = [c for c in book.cells if c.cell_type == "code"]
    assert all(c.outputs == [] and c.execution_count is None for c in code), "run `make notebooks-clean`"
    assert "widgets" not in book.metadata
    assert book.cells[0].cell_type == "markdown" and book.cells[0].source.startswith(f"# {name[:2]}")
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and code[0] is tagged[0]
    assigned = [line.split("=")[0].strip() for line in tagged[0].source.splitlines()
                if line.strip() and not line.lstrip().startswith("#")]
    assert list(pm.inspect_notebook(str(NOTEBOOKS / name))) == assigned  # papermill parses every parameter
    assert sum(len(c.source.splitlines()) for c in code) < 40, "keep logic in rlsv modules, not in notebooks"


def test_nbstripout_verify_passes_and_filter_is_configured() -> None:
    notebooks = map(str, sorted(NOTEBOOKS.glob("*.ipynb")))
    result = subprocess.run([sys.executable, "-m", "nbstripout", "--verify", *notebooks],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "notebooks/*.ipynb filter=nbstripout" in (ROOT / ".gitattributes").read_text()


def test_paper_vs_code_pointer_and_paper_items() -> None:
    assert "docs/paper_vs_code.md" in _read("02_train.ipynb").cells[0].source
    assert "Table 1" in _read("04_tables.ipynb").cells[0].source
    assert all(f"Figure {n}" in _read("05_figures.ipynb").cells[0].source for n in range(2, 7))


def test_run_notebooks_take_the_run_as_one_parameter() -> None:
    """Notebooks 02 and 03 name the run with one ``run`` mapping, read by ``RunParameters.from_dict`` (each setting
    declared once, in TrainConfig / ModelConfig / RunParameters), not a copy of every field."""
    import ast

    from rlsv.run.config import RunParameters

    for name, extra in (("02_train.ipynb", {"conv_plan", "live_plot"}), ("03_evaluate.ipynb", {"compare_stft"})):
        declared = pm.inspect_notebook(str(NOTEBOOKS / name))
        assert {"run", "output_root", "device", "threads", "progress", "run_id"} | extra <= set(declared)
        default = RunParameters.from_dict(ast.literal_eval(declared["run"]["default"]))
        assert default.objective == "tv" and default.profile == "small"
        assert len(declared) <= 10  # the run's settings are not copied field by field


# --------------------------------------------------------------------------- executed at a tiny size


@pytest.mark.slow
def test_00_method_shows_the_tensors_of_section_2(tmp_path: Path, tiny_corpus: Path) -> None:
    out = execute_notebook(NOTEBOOKS / "00_method.ipynb", tmp_path / "00.ipynb",
                           {"profile": "smoke", "dataset": str(tiny_corpus), "batch_size": 2})
    outputs = _outputs(out)
    assert len(_mime(outputs, "image/png")) == 2  # the decoder's kernels, the cost matrix and plans
    tables = "".join(_mime(outputs, "text/html"))
    assert "(2, 96, 87)" in tables and "Eq. 10" in tables and "L_SK (p = 1)" in tables


@pytest.mark.slow
def test_01_data(tmp_path: Path, tiny_corpus: Path) -> None:
    out = execute_notebook(NOTEBOOKS / "01_data.ipynb", tmp_path / "01.ipynb",
                           {"dataset": str(tiny_corpus), "n_tracks": 1, "seconds": 2.0})
    outputs = _outputs(out)
    assert len(_mime(outputs, "image/png")) == 1
    assert sum("<audio" in html for html in _mime(outputs, "text/html")) == 3


@pytest.mark.slow
def test_02_train_then_03_evaluate(tmp_path: Path, tiny_corpus: Path) -> None:
    run = {"objective": "sinkhorn", "omega": 1.0, "lam": 1.5, "epochs": 1, "max_train_tracks": 1,
           "model": TINY_MODEL, "dataset": str(tiny_corpus)}
    params = {"run": run, "output_root": str(tmp_path / "runs"), "threads": 1}
    trained = execute_notebook(NOTEBOOKS / "02_train.ipynb", tmp_path / "02.ipynb", params | {"live_plot": True})
    from rlsv.run.config import RunParameters

    run_dir = tmp_path / "runs" / RunParameters.from_dict(run).run_id
    assert (run_dir / "model.pt").is_file() and len(pd.read_csv(run_dir / "losses.csv")) > 0
    assert json.loads((run_dir / "status.json").read_text())["state"] == "pending"
    assert _mime(_outputs(trained), "image/png"), "loss curves"

    evaluated = execute_notebook(NOTEBOOKS / "03_evaluate.ipynb", tmp_path / "03.ipynb", params)
    assert json.loads((run_dir / "status.json").read_text())["state"] == "done"
    segments = pd.read_csv(run_dir / "segments.csv")
    assert len(segments) > 0 and segments[["si_sdr", "si_sdr_mask", "additivity"]].notna().all().all()
    tables = "".join(_mime(_outputs(evaluated), "text/html"))
    assert "mean ± std" in tables and "median" in tables and "STFT" in tables


@pytest.mark.slow
def test_reproduce_executes_04_tables_and_05_figures(tiny_runs: tuple[Path, dict], tmp_path: Path) -> None:
    from rlsv.study.reproduce import reproduce

    root, overrides = tiny_runs
    result = reproduce(profile="smoke", jobs=1, root=root, figures_root=tmp_path / "figures", overrides=overrides,
                       progress=False, findings_seeds=0)
    assert result.ok, result.text()
    assert result.report.counts()["skipped"] == 31  # nothing retrained: the sweep skips finished runs
    assert [p.name for p in result.notebooks] == ["04_tables.ipynb", "05_figures.ipynb"]

    tables = root / "tables" / "smoke"
    for table in (TABLE1, TABLE2):
        for suffix in (".csv", ".md", ".tex", "_numbers.csv"):
            assert (tables / f"{table.name}{suffix}").stat().st_size > 0
        frame = pd.read_csv(tables / f"{table.name}.csv", dtype=str)
        assert len(frame) == len(table.rows)  # every row of the paper, in its order
        ours = [c for c in frame.columns if c.endswith("(dB)") or c == "A(·)"]
        assert ours and not frame[ours].isin(["missing"]).any().any()
        assert any(c.endswith(" paper") for c in frame.columns) and "seeds × segments" in frame.columns
        numbers = pd.read_csv(tables / f"{table.name}_numbers.csv")
        assert {"additivity_ci_low", "additivity_ci_high", "additivity_median", "additivity_diff"} <= set(numbers)
        assert "smoke profile: synthetic corpus" in (tables / f"{table.name}.md").read_text()
    assert "STFT" in (tables / "table2.md").read_text()
    assert (tables / "table1.tex").read_text().count(r"\\") >= len(TABLE1.rows) + 1

    figures = tmp_path / "figures" / "smoke"
    for n in range(2, 7):
        for ext in ("png", "pdf"):
            assert (figures / f"figure{n}.{ext}").stat().st_size > 5000, f"figure{n}.{ext}"
    assert sorted(result.figures) == [f"figure{n}" for n in range(2, 7)] and not result.missing_figures
    shown = _outputs(result.notebooks[1])
    assert len(_mime(shown, "image/png")) == 5
    assert "figure2" in result.text() and str(Path("tables") / "smoke") in result.text()
    stages = result.stages()  # nothing was run again: the report notebooks only
    assert stages["tables and figures (notebooks 04, 05), wall"] > 0 and stages["  training, summed over runs"] == 0
    assert "Time per stage:" in result.text()
    manifest = json.loads((figures / "figures.json").read_text())
    assert manifest["figures"]["figure5"] == ["figure5.png", "figure5.pdf"]  # relative: the folder can move
    assert manifest["runs"].startswith("smoke profile: synthetic corpus")


@pytest.mark.slow
def test_figures_load_each_model_and_the_test_segments_once(tiny_runs: tuple[Path, dict], tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    import rlsv.run.evaluate
    import rlsv.run.model_file
    from rlsv.study.reproduce import make_figures

    root, _ = tiny_runs
    calls = {"models": [], "segments": 0}
    load_run_model, run_test_segments = rlsv.run.model_file.load_run_model, rlsv.run.evaluate.run_test_segments

    def counting_load_model(run_dir, *args, **kwargs):
        calls["models"].append(Path(run_dir).name)
        return load_run_model(run_dir, *args, **kwargs)

    def counting_segments(*args, **kwargs):
        calls["segments"] += 1
        return run_test_segments(*args, **kwargs)

    monkeypatch.setattr(rlsv.run.model_file, "load_run_model", counting_load_model)
    monkeypatch.setattr(rlsv.run.evaluate, "run_test_segments", counting_segments)
    result = make_figures(root, "smoke", tmp_path / "figures")
    assert not result.missing and {"figure2", "figure4"} <= set(result.figures)
    # Figure 2's run is one of Figure 4's three: three models, each loaded once; one test set
    assert sorted(calls["models"]) == sorted(set(calls["models"])) and len(calls["models"]) == 3
    assert calls["segments"] == 1


@pytest.mark.slow
def test_06_explorer_notebook_builds_its_widgets(tiny_runs: tuple[Path, dict], tmp_path: Path) -> None:
    root, overrides = tiny_runs
    out = execute_notebook(NOTEBOOKS / "06_explorer.ipynb", tmp_path / "06.ipynb",
                           {"runs_root": str(root), "profile": "smoke", "train_overrides": overrides})
    views = _mime(_outputs(out), "application/vnd.jupyter.widget-view+json")
    state = nbformat.read(out, as_version=4).metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    # the explorer's box last; before it, tqdm's bars (decoding the test tracks) are the only other widgets
    assert views and state["state"][views[-1]["model_id"]]["model_name"] == "VBoxModel"
    assert all(state["state"][v["model_id"]]["model_name"] == "HBoxModel" for v in views[:-1])
    models = {m["model_name"] for m in state["state"].values()}
    assert {"DropdownModel", "SelectionSliderModel", "FloatTextModel", "ButtonModel", "OutputModel"} <= models
    assert not models & {"FigureModel", "PlotlyModel", "BqplotModel"}  # core widgets only
    assert not (root / "explorer-runs").exists()  # opening the explorer trains nothing


@pytest.mark.slow
def test_07_scale_study_at_a_tiny_size(tmp_path: Path, tiny_corpus: Path) -> None:
    sizes = {"tiny": TINY_MODEL}
    out = execute_notebook(NOTEBOOKS / "07_scale_study.ipynb", tmp_path / "07.ipynb", {
        "runs_root": str(tmp_path / "runs"), "sizes": sizes, "epochs": [1, 2], "learning_rates": [0.001], "seeds": 2,
        "dataset": str(tiny_corpus), "jobs": 1, "gains": [0.5, 1.0], "figures_dir": str(tmp_path / "figures")})
    outputs = _outputs(out)
    assert len(_mime(outputs, "image/png")) == 3  # trends over training, M's scale, the diagnostics
    tables = "".join(_mime(outputs, "text/html"))
    assert "tiny, lr 0.001, 2 ep" in tables and "BM(λ=0.5) − BM(λ=2), dB" in tables
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        f"{name}.{ext}" for name in ("budget_trends_lr0.001", "cost_scale", "diagnostics") for ext in ("pdf", "png")]
    # 6 runs x 2 seeds x 2 budgets; the 2-epoch runs continued the 1-epoch ones
    runs = [p for p in (tmp_path / "runs").iterdir() if (p / "model.pt").is_file()]
    assert len(runs) == 24


@pytest.mark.slow
def test_08_separation_at_a_tiny_size(tmp_path: Path, tiny_corpus: Path) -> None:
    from rlsv.run.spec import STFT
    from rlsv.study.separation.comparison import SEPARATION_SPECS

    root = tmp_path / "runs"
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "max_test_tracks": 1,
                 "model": TINY_MODEL}
    report = run_sweep([*SEPARATION_SPECS, STFT], "smoke", root, jobs=1, engine="inline", overrides=overrides,
                       progress=False, run_progress=False)
    assert report.ok, report.text()
    out = execute_notebook(NOTEBOOKS / "08_separation.ipynb", tmp_path / "08.ipynb", {
        "runs_root": str(root), "profile": "smoke", "seeds": 1, "epochs": 1, "budget": 12000, "bss": False,
        "device": "cpu"})
    outputs = _outputs(out)
    tables = "".join(_mime(outputs, "text/html"))
    assert "blind SI-SDR (dB)" in tables and "oracle SI-SDR (dB)" in tables and "STFT" in tables
    assert tables.count("<audio") == 6  # mixture, vocals, blind and oracle for L_B and the STFT
    assert len(_mime(outputs, "image/png")) == 1
    assert "smoke profile" in "".join(_mime(outputs, "text/markdown"))
    for suffix in (".csv", ".md", "_numbers.csv"):
        assert (root / "tables" / "smoke" / f"separation{suffix}").stat().st_size > 0
