"""The separation study on a tiny run set: estimators of the grid and the STFT over seeds, the scores, the
table's numbers against an independent computation, and its files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlsv.run.spec import STFT, sinkhorn
from rlsv.study.results import load_run_set
from rlsv.study.separation.comparison import (
    SEPARATION_SPECS,
    evaluate_separation,
    representation_label,
    separation_slots,
    train_separators,
)
from rlsv.study.separation.table import separation_numbers, separation_table, write_separation_table
from rlsv.study.sweeps import run_sweep

pytestmark = pytest.mark.slow  # a tiny run set is trained first (about 15 s)

TINY_MODEL = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}
ESTIMATOR = {"budget": 12000}


@pytest.fixture(scope="module")
def run_set_root(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """The three grid runs and the STFT run at a tiny size, with two estimator seeds of each representation."""
    root = tmp_path_factory.mktemp("separation") / "runs"
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "max_test_tracks": 1,
                 "model": TINY_MODEL}
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("MUSDB_PATH", raising=False)
        mp.setenv("RLSV_CACHE", str(tmp_path_factory.mktemp("cache_separation")))
        report = run_sweep([*SEPARATION_SPECS, STFT], "smoke", root, jobs=1, engine="inline", overrides=overrides,
                           progress=False, run_progress=False)
        assert report.ok, report.text()
        results = train_separators(root, seeds=2, epochs=1, device="cpu", progress=False, **ESTIMATOR)
    assert [o.state for o in results] == ["done"] * 8, [o.error for o in results]
    return root


def test_slots_put_the_stft_estimator_in_the_stft_run(run_set_root: Path) -> None:
    slots = separation_slots(load_run_set(run_set_root))
    assert [s.label for s in slots] == ["L_A ω=4", "L_B λ=0.5 ω=1", "L_B λ=1.5 ω=4", "STFT"]
    stft = slots[-1]
    assert stft.run_dir.name.startswith("smoke-stft-") and stft.data_run == slots[0].run_dir
    assert (stft.folder(219) / "separator.pt").is_file() and stft.folder(219).parent == stft.run_dir
    config = json.loads((slots[0].folder(218) / "config.json").read_text())
    stft_config = json.loads((stft.folder(218) / "config.json").read_text())
    assert config["data"] == stft_config["data"]  # the same batches for every representation
    assert stft_config["parameters"] <= 12000 and config["parameters"] <= 12000


def test_rerunning_trains_nothing_and_each_estimator_is_claimed_like_a_run(run_set_root: Path) -> None:
    from rlsv.run.status import read_status

    again = train_separators(run_set_root, seeds=2, epochs=1, device="cpu", progress=False, **ESTIMATOR)
    assert [r.state for r in again] == ["skipped"] * 8
    folder = Path(again[0].run_dir)
    assert read_status(folder)["state"] == "done" and not (folder / "run.lock").exists()
    # a damaged estimator folder fails alone, with its error, and the next call trains it again
    (folder / "separator.pt").unlink()
    (folder / "checkpoint.pt").write_bytes(b"garbage")
    outcomes = train_separators(run_set_root, seeds=2, epochs=1, device="cpu", progress=False, **ESTIMATOR)
    assert [o.state for o in outcomes] == ["failed"] + ["skipped"] * 7
    assert "is not a readable torch file" in outcomes[0].error and read_status(folder)["state"] == "failed"
    (folder / "checkpoint.pt").unlink()
    retried = train_separators(run_set_root, seeds=2, epochs=1, device="cpu", progress=False, **ESTIMATOR)
    assert [o.state for o in retried] == ["done"] + ["skipped"] * 7 and (folder / "separator.pt").is_file()


def test_missing_grid_runs_say_which_sweep_trains_them(run_set_root: Path) -> None:
    with pytest.raises(ValueError, match="L_B λ=2 ω=1.*rlsv sweep figure4"):
        separation_slots(load_run_set(run_set_root), specs=(sinkhorn(1.0, 2.0),))


def test_scores_table_and_numbers(run_set_root: Path, tmp_path: Path) -> None:
    result = write_separation_table(run_set_root, out_dir=tmp_path / "tables", seeds=2, bss=False, progress=False)
    scores = result.scores
    assert set(scores["data"]) == {"test", "excerpt"} and set(scores["method"]) == {"blind", "oracle"}
    assert set(scores.query("method == 'blind'")["seed"]) == {218.0, 219.0}
    # the numbers: seed-balanced means and std over segments, computed here again
    rows = scores.query("data == 'test' and representation == 'STFT' and method == 'blind' and metric == 'si_sdr'")
    number = result.numbers.query("data == 'test' and representation == 'STFT' and method == 'blind' "
                                  "and metric == 'si_sdr'").iloc[0]
    per_seed = rows.groupby("seed")["value"].mean()
    assert np.isclose(number["mean"], per_seed.mean()) and np.isclose(number["seed_std"], per_seed.std(ddof=1))
    assert (np.isclose(number["std"], rows["value"].std(ddof=0))
            and number["ci_low"] <= number["mean"] <= number["ci_high"])
    assert number["n_seeds"] == 2
    table = pd.read_csv(tmp_path / "tables" / "separation.csv", dtype=str)
    assert len(table) == 8 and list(table["representation"][:4]) == [representation_label(s) for s in
                                                                    (*SEPARATION_SPECS, STFT)]
    assert {"blind SI-SDR (dB)", "oracle SI-SDR (dB)", "estimator parameters"} <= set(table.columns)
    markdown = (tmp_path / "tables" / "separation.md").read_text()
    assert "smoke profile: synthetic corpus" in markdown and "2 estimator seeds" in markdown
    # scores are cached in the estimators' folders: a second table reads them back
    again = evaluate_separation(run_set_root, seeds=2, bss=False, progress=False)
    pd.testing.assert_frame_equal(again.sort_index(axis=1), scores.sort_index(axis=1), check_dtype=False)


def test_bsseval_sdr_per_track(run_set_root: Path) -> None:
    scores = evaluate_separation(run_set_root, seeds=1, specs=(SEPARATION_SPECS[0],), stft=False, excerpt=False,
                                 progress=False)
    bss = scores.query("metric == 'bss_sdr'")
    assert len(bss) == 2 and set(bss["method"]) == {"blind", "oracle"} and (bss["segment"] == -1).all()
    table = separation_table(separation_numbers(scores))
    assert "blind SDR BSSEval v4 (dB)" in table.columns and "oracle SDR BSSEval v4 (dB)" in table.columns


def test_the_separation_command_reuses_the_estimators(run_set_root: Path, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    from rlsv.cli import main

    weights = sorted(run_set_root.glob("*/separator*-s21[89]/separator.pt"))
    assert len(weights) == 8
    before = [p.stat().st_mtime_ns for p in weights]
    code = main(["separation", "--no-sweep", "--profile", "smoke", "--runs-root", str(run_set_root), "--seeds", "2",
                 "--epochs", "1", "--budget", "12000", "--no-bss", "--no-excerpt", "--device", "cpu", "--quiet",
                 "--out", str(tmp_path / "tables")])
    assert code == 0
    assert [p.stat().st_mtime_ns for p in weights] == before  # finished estimators are not trained again
    out = capsys.readouterr().out
    assert "## separation" in out and "L_B λ=1.5 ω=4" in out and (tmp_path / "tables" / "separation.tex").is_file()
