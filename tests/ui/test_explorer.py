"""The λ explorer's class (``rlsv.ui.explorer``) on tiny runs: any λ, runs found by run id in its folders in
order, "train this run now" into its own folder, one colour scale, no silent jumps, stated lengths.

The runs are tiny (``TINY_MODEL``, 1 epoch, one training track of the tiny corpus; segments of 0.1 s), made
once per module by the inline sweep; the explorer finds them through ``train_overrides``. The browser test
(``test_explorer_browser.py``) runs the notebook on the shipped runs."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest

from rlsv.run.spec import RunSpec
from rlsv.study.sweeps import run_sweep
from rlsv.ui.explorer_controls import ValueControl, log_grid, round_value

TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}
LAMS = (0.5, 1.5)


def _mime(explorer, mime: str) -> list:
    return [out["data"][mime] for out in explorer.out.outputs if mime in out.get("data", {})]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> tuple[Path, dict]:
    """``(runs root, overrides)``: L_B at λ = 0.5 and 1.5 (ω = 1, p = 1) and L_A at ω = 1, tiny, seed 218."""
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}
    root = tmp_path_factory.mktemp("explorer_runs") / "papermill_runs"
    grid = [*(RunSpec("sinkhorn", omega=1.0, lam=lam, p=1.0) for lam in LAMS), RunSpec("tv", omega=1.0)]
    with pytest.MonkeyPatch.context() as mp:  # module fixture: the autouse env fixture is not active yet
        mp.delenv("MUSDB_PATH", raising=False)
        mp.setenv("RLSV_CACHE", str(tmp_path_factory.mktemp("cache_explorer")))
        report = run_sweep(grid, "smoke", root, jobs=1, engine="inline", overrides=overrides, progress=False,
                           run_progress=False)
    assert report.ok and report.counts()["done"] == len(grid), report.text()
    return root, overrides


def _explorer(root: Path, overrides: dict, **kwargs):
    from rlsv.ui.explorer import RepresentationExplorer

    kwargs.setdefault("shipped", False)
    return RepresentationExplorer(root, profile="smoke", train_overrides=overrides, **kwargs)


# --------------------------------------------------------------------------- the controls


def test_log_grid_is_round_log_spaced_and_holds_figure5s_values() -> None:
    grid = log_grid(0.05, 20.0)
    assert grid[0] == 0.05 and grid[-1] == 20.0 and grid == sorted(set(grid))
    assert {0.1, 0.5, 1.0, 1.3, 1.5, 2.0, 5.0, 10.0} <= set(grid)
    ratios = [b / a for a, b in zip(grid, grid[1:])]
    assert max(ratios) <= 1.34 and min(ratios) >= 1.04  # log-spaced: no step bigger than a third
    assert round_value(0.123456) == 0.1235 and log_grid(1, 2, extra=[1.234]).count(1.234) == 1


def test_value_control_takes_any_value_refuses_out_of_range_and_says_when_unused() -> None:
    control = ValueControl("λ", log_grid(0.05, 20), 0.05, 20, 1.5)
    seen, notices = [], []
    control.observe(seen.append)
    control.on_notice = notices.append
    control.box.value = 0.73  # typed: joins the slider's stops
    assert control.value == 0.73 and control.slider.value == 0.73 and seen == [0.73]
    control.box.value = 30.0  # out of range: refused and said, not clamped
    assert control.value == 0.73 and control.box.value == 0.73 and seen == [0.73]
    assert notices and "outside [0.05, 20]" in notices[-1] and "kept λ = 0.73" in notices[-1]
    control.slider.value = 2.0
    assert control.box.value == 2.0 and seen == [0.73, 2.0]
    control.set_not_used("not used by L_A")
    assert control.slider.disabled and control.slider.options == (("not used by L_A", 2.0),)
    assert control.box.layout.visibility == "hidden" and not control.applies
    control.set_not_used(None)
    assert not control.slider.disabled and control.value == 2.0 and control.slider.label == "2"
    assert seen == [0.73, 2.0]  # none of this called the observers


# --------------------------------------------------------------------------- the explorer


def test_explorer_shows_any_trained_lambda_and_states_what_it_shows(tiny: tuple[Path, dict]) -> None:
    root, overrides = tiny
    explorer = _explorer(root, overrides, start={"lam": 0.5})
    assert explorer.state["run_id"].startswith("smoke-sinkhorn-p1-l0.5-w1-s218-") and explorer.state["source"] == "runs"
    first_png = _mime(explorer, "image/png")
    assert len(first_png) == 1 and base64.b64decode(first_png[0])[:4] == b"\x89PNG"
    assert sum("<audio" in html for html in _mime(explorer, "text/html")) == 3
    # lengths and what each metric covers are stated
    assert explorer.state["segment_s"] == pytest.approx(0.1) and explorer.state["window_s"] == pytest.approx(3.0)
    start, stop = explorer.state["window"]
    assert start <= explorer.state["segment"] <= stop and stop - start + 1 == 30
    table = _mime(explorer, "text/html")[0]
    assert "N = 4410 samples = 0.1 s" in table and "the 3 s you hear" in table and "all " in table
    assert 0 < explorer.state["window_metrics"]["count"] <= 30
    assert "0.1 s" in _mime(explorer, "text/plain")[1]  # the image's title

    renders = explorer.renders
    explorer.lam.slider.value = 1.5  # as the browser does
    assert explorer.renders == renders + 1 and explorer.state["run_id"].startswith("smoke-sinkhorn-p1-l1.5-w1-s218-")
    assert _mime(explorer, "image/png") != first_png
    assert [o for o in explorer.runs_menu.options if o[1] == explorer.state["run_id"]]
    assert explorer.runs_menu.value == explorer.state["run_id"]  # the menu shows the run on view


def test_explorer_says_why_a_control_changed_and_keeps_lambda_for_later(tiny: tuple[Path, dict]) -> None:
    root, overrides = tiny
    explorer = _explorer(root, overrides)
    explorer.lam.slider.value = 1.5
    explorer.omega.slider.value = 1.5  # no run there: λ stays where it is (no silent jump), a run is offered
    assert explorer.lam.value == 1.5 and explorer.state["run_id"] is None
    assert explorer.state["missing"].startswith("smoke-sinkhorn-p1-l1.5-w1.5-s218-")
    assert explorer.train_button.layout.display == "flex"
    explorer.omega.slider.value = 1.0
    explorer.objective.value = "tv"
    assert explorer.state["run_id"].startswith("smoke-tv-w1-s218-")
    assert explorer.lam.slider.disabled and explorer.lam.slider.label == "not used by L_A"
    assert explorer.p.disabled and explorer.p.label == "not used by L_A"
    assert "no λ and no p" in explorer.notice.value and "λ = 1.5, p = 1 come back" in explorer.notice.value
    explorer.objective.value = "sinkhorn"
    assert explorer.lam.value == 1.5 and explorer.lam.slider.label == "1.5" and not explorer.lam.slider.disabled
    assert "uses λ and p again: λ = 1.5, p = 1" in explorer.notice.value
    assert explorer.state["run_id"].startswith("smoke-sinkhorn-p1-l1.5-w1-s218-")
    explorer.omega.slider.value = 1.5  # an ordinary change clears the notice
    assert explorer.notice.value == ""
    explorer.seed.value = -3  # refused and said, not clamped
    assert explorer.seed.value == 218 and "kept seed 218" in explorer.notice.value


def test_one_colour_scale_for_every_run_or_each_its_own(tiny: tuple[Path, dict]) -> None:
    root, overrides = tiny
    explorer = _explorer(root, overrides, start={"lam": 0.5})
    shared = explorer.state["colour_scale"]
    assert explorer.state["shared_scale"] and "one scale for every run" in _mime(explorer, "text/plain")[1]
    explorer.lam.slider.value = 1.5
    assert explorer.state["colour_scale"] == shared  # the same scale on another run
    explorer.same_scale.value = False
    own = explorer.state["colour_scale"]
    assert own[1] <= shared[1] and "this run's own scale" in _mime(explorer, "text/plain")[1]
    explorer.lam.slider.value = 0.5
    assert explorer.state["colour_scale"] != own and explorer.state["colour_scale"][1] <= shared[1]  # its own top


def test_train_this_run_now_trains_only_on_click_into_its_own_folder(tiny: tuple[Path, dict],
                                                                      tmp_path: Path) -> None:
    root, overrides = tiny
    runs = tmp_path / "papermill_runs"
    shutil.copytree(root, runs)
    before = {p.name for p in runs.iterdir()}
    explorer = _explorer(runs, overrides)
    explorer.lam.box.value = 0.7  # never trained
    assert explorer.state["run_id"] is None and explorer.train_button.layout.display == "flex"
    assert not (runs / "explorer-runs").exists()  # nothing trains unless asked
    import torch

    threads = torch.get_num_threads()
    explorer.train_button.click()
    assert torch.get_num_threads() == threads  # trained on one thread, the kernel's count restored
    assert explorer.state["run_id"].startswith("smoke-sinkhorn-p1-l0.7-w1-s218-"), explorer.notice.value
    assert explorer.state["source"] == "explorer" and explorer.train_button.layout.display == "none"
    assert (runs / "explorer-runs" / explorer.state["run_id"] / "summary.json").is_file()
    assert {p.name for p in runs.iterdir()} == before | {"explorer-runs"}  # never into the sweep's folder
    assert explorer.progress.bar.value == explorer.progress.bar.max == explorer.last_training.steps > 0
    assert "Trained smoke-sinkhorn-p1-l0.7" in explorer.notice.value
    assert 0.7 in [v for _, v in explorer.lam.slider.options]
    assert any(v == explorer.state["run_id"] for _, v in explorer.runs_menu.options)
    # a new explorer finds it by its run id, and does not train it again
    again = _explorer(runs, overrides, start={"lam": 0.7})
    assert again.state["run_id"] == explorer.state["run_id"] and again.state["source"] == "explorer"


def test_runs_folder_comes_before_the_explorers_and_the_shipped_runs(tiny: tuple[Path, dict], tmp_path: Path) -> None:
    from rlsv.ui.explorer_runs import RunFolders

    root, overrides = tiny
    spec = RunSpec("sinkhorn", omega=1.0, lam=0.5, p=1.0)
    name = next(p.name for p in root.iterdir() if p.name.startswith("smoke-sinkhorn-p1-l0.5-"))
    shutil.copytree(root / name, tmp_path / "b" / name)
    folders = RunFolders([("runs", tmp_path / "a"), ("explorer", tmp_path / "b"), ("shipped", root)], "smoke",
                         overrides)
    assert folders.find(spec, 218).source == "explorer"
    assert folders.find(spec, 219) is None
    in_order = RunFolders([("runs", root), ("explorer", tmp_path / "b")], "smoke", overrides)
    assert in_order.find(spec, 218).source == "runs"
    listing = folders.listing()
    assert list(listing["run_id"]).count(name) == 1 and len(listing) == 3
    assert listing.set_index("run_id").loc[name, "source"] == "explorer"
    # without the overrides the tiny runs are another run set: not shown
    assert RunFolders([("runs", root)], "smoke").find(spec, 218) is None


def test_explorer_without_any_run_offers_training(tmp_path: Path, tiny_corpus: Path) -> None:
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY_MODEL}
    explorer = _explorer(tmp_path / "missing", overrides)
    assert explorer.state["run_id"] is None and "Nothing trains until you click" in explorer.state["message"]
    assert explorer.train_button.layout.display == "flex" and explorer.track.options
