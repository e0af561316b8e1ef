"""Statistics (rlsv.run.summary), run directories (rlsv.study.results) and the paper's tables (rlsv.study.tables).

The run directories built here follow docs/run_layout.md with made-up per-segment numbers.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlsv.run.spec import STFT, RunSpec, run_id, sinkhorn, tv
from rlsv.run.summary import summarise, summary_to_dict
from rlsv.study.grids import get_grid
from rlsv.study.paper_values import PUBLISHED_TABLES, TABLE1, TABLE2
from rlsv.study.results import SEGMENT_FRAME_COLUMNS, RunLayoutError, load_run, load_runs, select_specs, single_profile
from rlsv.study.run_overview import run_status
from rlsv.study.tables import (
    MISSING,
    compare_with_paper,
    format_mean_std,
    paper_table,
    to_latex_booktabs,
    write_paper_tables,
)

# --- helpers: fake run directories -------------------------------------------------------------


V = "abc123"  # the settings hash (variant) of the made-up runs


def write_run(root: Path, spec: RunSpec, profile: str = "smoke", state: str = "done",
              metrics: dict[str, list[float]] | None = None, error: str | None = None, seed: int = 218,
              variant: str = V) -> Path:
    """A run directory as sweep/train/evaluate write it (config, status, optional segments)."""
    seed = seed if spec.is_trained else None
    run_dir = root / run_id(spec, profile, seed, variant)
    run_dir.mkdir(parents=True)
    config = {"run_id": run_dir.name, "profile": profile, "variant": variant, "objective": spec.objective,
              "omega": spec.omega, "lam": spec.lam, "p": spec.p, "epochs": 1, "seed": seed,
              "model": {"channels": 8}, "dataset": {"root": "synthetic", "synthetic": True}}
    (run_dir / "config.json").write_text(json.dumps(config))
    (run_dir / "status.json").write_text(json.dumps(
        {"state": state, "error": error, "updated": "2020-01-01T00:00:00"}))
    if metrics is not None:
        n = len(metrics["additivity"])
        pd.DataFrame({"track": ["A Track"] * n, "segment": range(n), **metrics}).to_csv(
            run_dir / "segments.csv", index=False)
    return run_dir


TV05 = {"si_sdr": [30.0, 32.0, 34.0], "si_sdr_mask": [1.0, 2.0, 6.0], "additivity": [0.7, 0.8, 0.9]}
SK_L15 = {"si_sdr": [28.0, 29.0], "si_sdr_mask": [0.0, -1.0], "additivity": [0.85, 0.95]}
STFT_M = {"si_sdr": [math.nan] * 2, "si_sdr_mask": [9.0, 11.0], "additivity": [0.8, 0.9]}


@pytest.fixture()
def runs_root(tmp_path: Path) -> Path:
    root = tmp_path / "papermill_runs"
    write_run(root, tv(0.5), metrics=TV05)
    write_run(root, sinkhorn(1.0, 1.5), metrics=SK_L15)
    write_run(root, STFT, metrics=STFT_M)
    write_run(root, tv(1.0), state="failed", error="RuntimeError: boom")
    write_run(root, tv(2.0), state="running")
    write_run(root, tv(0.5), profile="paper", metrics={k: [v[0]] for k, v in TV05.items()})
    (root / "README.md").write_text("not a run")
    return root


@pytest.fixture()
def segments(runs_root: Path) -> pd.DataFrame:
    with pytest.warns(UserWarning):
        return load_runs(runs_root, profile="smoke")


# --- summary ------------------------------------------------------------------------------------


def test_summarise_matches_numpy_with_ddof0() -> None:
    frame = pd.DataFrame({"si_sdr": [1.0, 2.0, 4.0, 8.0], "si_sdr_mask": [0.5, -1.0, 2.0, -240.0],
                          "additivity": [0.1, 0.2, 0.3, 0.9]})
    table = summarise(frame)
    assert list(table.index) == ["si_sdr", "si_sdr_mask", "additivity"]
    assert list(table.columns) == ["mean", "std", "median", "count", "collapsed"]
    # collapsed: values at the SI-SDR floor of an all-zero estimate, counted for the dB metrics only
    assert table.at["si_sdr_mask", "collapsed"] == 1 and table.at["si_sdr", "collapsed"] == 0
    assert math.isnan(table.at["additivity", "collapsed"])
    for metric in table.index:
        values = frame[metric].to_numpy()
        assert table.at[metric, "mean"] == pytest.approx(np.mean(values))
        assert table.at[metric, "std"] == pytest.approx(np.std(values))  # numpy default ddof=0
        assert table.at[metric, "median"] == pytest.approx(np.median(values))
        assert table.at[metric, "count"] == 4
    assert table.at["si_sdr", "std"] != pytest.approx(np.std(frame["si_sdr"], ddof=1))
    assert summarise(frame, ddof=1).at["si_sdr", "std"] == pytest.approx(np.std(frame["si_sdr"], ddof=1))


def test_summarise_skips_nan_and_handles_all_nan() -> None:
    frame = pd.DataFrame({"si_sdr": [math.nan, math.nan], "additivity": [0.5, math.nan]})
    table = summarise(frame, metrics=("si_sdr", "additivity"))
    assert math.isnan(table.at["si_sdr", "mean"]) and table.at["si_sdr", "count"] == 0
    assert table.at["additivity", "mean"] == 0.5 and table.at["additivity", "std"] == 0.0
    assert table.at["additivity", "count"] == 1
    assert summary_to_dict(table)["si_sdr"] == {"mean": None, "std": None, "median": None, "count": 0,
                                                 "collapsed": 0}
    assert summary_to_dict(table)["additivity"]["collapsed"] is None
    json.dumps(summary_to_dict(table))  # JSON-safe


def test_summarise_names_missing_columns() -> None:
    with pytest.raises(KeyError, match="additivity"):
        summarise(pd.DataFrame({"si_sdr": [1.0]}))


# --- runs ---------------------------------------------------------------------------------------


def test_load_runs_joins_config_and_keeps_done_runs_of_the_profile(runs_root: Path) -> None:
    with pytest.warns(UserWarning, match="1 failed, 1 running"):
        frame = load_runs(runs_root, profile="smoke")
    assert list(frame.columns) == list(SEGMENT_FRAME_COLUMNS)
    assert sorted(frame["run_id"].unique()) == [f"smoke-sinkhorn-p1-l1.5-w1-s218-{V}", f"smoke-stft-{V}",
                                                f"smoke-tv-w0.5-s218-{V}"]
    assert len(frame) == 3 + 2 + 2 and set(frame["profile"]) == {"smoke"}
    tv_rows = frame[frame["run_id"] == f"smoke-tv-w0.5-s218-{V}"]
    assert tv_rows["omega"].eq(0.5).all() and tv_rows["lam"].isna().all() and tv_rows["p"].isna().all()
    assert tv_rows["si_sdr"].tolist() == TV05["si_sdr"]
    assert frame.loc[frame["objective"] == "sinkhorn", "p"].eq(1.0).all()


def test_load_runs_without_profile_and_with_other_states(runs_root: Path) -> None:
    with pytest.warns(UserWarning):
        assert set(load_runs(runs_root)["profile"]) == {"smoke", "paper"}
    with pytest.warns(UserWarning, match="no segments.csv"):
        frame = load_runs(runs_root, profile="smoke", states=("done", "failed"))
    assert f"smoke-tv-w1-s218-{V}" not in set(frame["run_id"])  # failed before evaluation: no segments
    with pytest.raises(ValueError, match="finished"):
        load_runs(runs_root, states=("finished",))


def test_load_runs_skips_folders_that_break_the_layout(runs_root: Path) -> None:
    from rlsv.run.train_config import TrainConfig

    foreign = runs_root / "x"  # `rlsv train papermill_runs/x`: a run outside the grid (run_id "")
    foreign.mkdir()
    config = TrainConfig(objective="tv", omega=1.0, profile="paper").to_json()
    assert config["run_id"] == ""
    (foreign / "config.json").write_text(json.dumps(config))
    broken = write_run(runs_root, tv(4.0), metrics=TV05)
    pd.DataFrame({"track": ["A Track"], "si_sdr": [1.0]}).to_csv(broken / "segments.csv", index=False)
    with pytest.warns(UserWarning, match=r"1 failed, 2 invalid, 1 running"):
        frame = load_runs(runs_root, profile="smoke")
    assert sorted(frame["run_id"].unique()) == [f"smoke-sinkhorn-p1-l1.5-w1-s218-{V}", f"smoke-stft-{V}",
                                                f"smoke-tv-w0.5-s218-{V}"]
    status = run_status(runs_root).set_index("run_id")
    assert status.at["x", "state"] == "invalid"
    assert status.at[f"smoke-tv-w4-s218-{V}", "state"] == "done"  # listing runs does not parse their segments.csv


def test_load_runs_empty_root_gives_empty_frame(tmp_path: Path) -> None:
    frame = load_runs(tmp_path)
    assert frame.empty and list(frame.columns) == list(SEGMENT_FRAME_COLUMNS)


def test_missing_root_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_runs(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError):
        run_status(tmp_path / "nowhere")


def test_run_status_lists_every_run_and_flags_broken_ones(runs_root: Path) -> None:
    (runs_root / f"smoke-tv-w4-s218-{V}").mkdir()
    (runs_root / f"smoke-tv-w4-s218-{V}" / "config.json").write_text("{not json")
    status = run_status(runs_root).set_index("run_id")
    assert list(status.columns) == ["profile", "state", "error", "updated"]
    assert len(status) == 7
    assert status.at[f"smoke-tv-w1-s218-{V}", "state"] == "failed"
    assert status.at[f"smoke-tv-w1-s218-{V}", "error"] == "RuntimeError: boom"
    assert status.at[f"smoke-tv-w2-s218-{V}", "state"] == "running"
    broken = f"smoke-tv-w4-s218-{V}"
    assert status.at[broken, "state"] == "invalid" and "JSON" in status.at[broken, "error"]
    assert status.at[f"paper-tv-w0.5-s218-{V}", "profile"] == "paper"


def test_load_run_checks_the_run_id(runs_root: Path) -> None:
    run = load_run(runs_root / f"smoke-tv-w0.5-s218-{V}")
    assert run.state == "done" and run.spec == tv(0.5) and len(run.segments) == 3
    assert load_run(runs_root / f"smoke-tv-w2-s218-{V}").segments is None
    # a folder not named by its run id is a standalone run (rlsv train FOLDER): readable, never in the tables
    renamed = runs_root / f"smoke-tv-w3-s218-{V}"
    (runs_root / f"smoke-tv-w0.5-s218-{V}").rename(renamed)
    moved = load_run(renamed)
    assert moved.standalone and moved.run_id == f"smoke-tv-w0.5-s218-{V}" and len(moved.segments) == 3
    with pytest.warns(UserWarning, match="standalone"):
        assert select_specs(load_runs(runs_root, profile="smoke"), [tv(0.5)]).empty
    # a config.json whose run id does not follow from its settings is refused, naming the expected id
    config = json.loads((renamed / "config.json").read_text())
    (renamed / "config.json").write_text(json.dumps(config | {"omega": 3.0}))
    with pytest.raises(RunLayoutError, match=f"must be 'smoke-tv-w3-s218-{V}'"):
        load_run(renamed)


def test_select_specs_and_single_profile(runs_root: Path, segments: pd.DataFrame) -> None:
    assert set(select_specs(segments, [tv(0.5), STFT])["run_id"]) == {f"smoke-tv-w0.5-s218-{V}", f"smoke-stft-{V}"}
    assert select_specs(segments, [sinkhorn(1.0, 1.5, p=2)]).empty
    assert single_profile(segments) == "smoke"
    with pytest.warns(UserWarning):
        mixed = load_runs(runs_root)
    with pytest.raises(ValueError, match="mix profiles"):
        single_profile(mixed)
    with pytest.raises(ValueError, match="nope"):
        single_profile(mixed, "nope")


# --- published values ---------------------------------------------------------------------------

# Copied verbatim from paper.txt (Tables 1 and 2): an independent check of the transcription.
PAPER_TABLE1_TEXT = r"""
\mathcal{L}_A	0.5	N/A	31.49 (± 2.98)	4.43 (± 4.98)	0.76 (± 0.10)
	1.0	N/A	31.39 (± 3.16)	4.66 (± 4.92)	0.76 (± 0.10)
	1.5	N/A	31.01 (± 3.13)	4.97 (± 4.93)	0.75 (± 0.10)
	2.0	N/A	30.96 (± 2.98)	4.65 (± 4.90)	0.76 (± 0.10)
	4.0	N/A	31.40 (± 2.83)	5.06 (± 4.97)	0.76 (± 0.10)
\mathcal{L}_B	1.0	0.1	31.28(± 2.98)	5.40(± 5.31)	0.76(± 0.09)
	1.0	0.5	31.61 (± 3.38)	5.63 (± 5.29)	0.77(± 0.09)
	1.0	1.0	31.29(± 3.25)	4.33(± 5.28)	0.86(± 0.08)
	1.0	1.5	29.98(± 3.48)	0.06 (± 6.43)	0.89 (± 0.08)
	1.0	2.0	31.13(± 3.66)	-0.02(± 6.44)	0.89 (± 0.08)
"""
PAPER_TABLE2_TEXT = r"""
\mathcal{L}_B	1.0	1.5	0.89 (± 0.08)
	1.5	1.5	0.90 (± 0.07)
	2.0	1.5	0.92 (± 0.07)
	4.0	1.5	0.93 (± 0.06)
STFT	N/A	N/A	0.86 (± 0.06)
"""
_CELL = re.compile(r"(-?\d+\.\d+)\s*\(±\s*(\d+\.\d+)\)")


def _parse(text: str) -> list[list[tuple[float, float]]]:
    return [[(float(m), float(s)) for m, s in _CELL.findall(line)] for line in text.strip().splitlines()]


@pytest.mark.parametrize(("table", "text"), [(TABLE1, PAPER_TABLE1_TEXT), (TABLE2, PAPER_TABLE2_TEXT)])
def test_published_values_equal_the_paper_text(table, text: str) -> None:
    parsed = _parse(text)
    assert len(table.rows) == len(parsed)
    for row, cells in zip(table.rows, parsed):
        assert [row.values[m] for m in table.metrics] == cells
        omega = text.strip().splitlines()[table.rows.index(row)].split("\t")[1]
        assert omega == ("N/A" if row.spec.omega is None else f"{row.spec.omega:.1f}")


def test_published_spot_checks_and_rows_follow_the_grids() -> None:
    assert TABLE1.rows[0].values["si_sdr"] == (31.49, 2.98)
    assert TABLE1.rows[6].values["si_sdr_mask"] == (5.63, 5.29)
    assert TABLE1.rows[9].values["si_sdr_mask"] == (-0.02, 6.44)
    assert TABLE2.rows[3].values["additivity"] == (0.93, 0.06)
    assert TABLE2.rows[4].spec == STFT and TABLE2.rows[4].values["additivity"] == (0.86, 0.06)
    assert [r.spec for r in TABLE1.rows] == list(get_grid("table1"))
    assert [r.spec for r in TABLE2.rows] == list(get_grid("table2"))


# --- tables -------------------------------------------------------------------------------------


def test_format_mean_std_uses_the_paper_format() -> None:
    assert format_mean_std(31.4949, 2.981) == "31.49 (± 2.98)"
    assert format_mean_std(-0.0234, 6.44) == "-0.02 (± 6.44)"
    assert format_mean_std(math.nan, math.nan) == MISSING


def test_notebook_summaries_use_the_paper_format_too() -> None:
    from rlsv.ui.display import summary_frame

    frame = summary_frame(pd.DataFrame(STFT_M))
    assert frame.loc["SI-SDR binary mask (dB)", "mean ± std"] == "10.00 (± 1.00)"  # ddof = 0, as in the tables
    assert frame.loc["additivity A(·)", "median"] == "0.85" and frame.loc["additivity A(·)", "count"] == 2
    assert frame.loc["SI-SDR (dB)", "mean ± std"] == "–"  # the STFT has no reconstruction


def test_paper_table1_has_every_row_in_order(segments: pd.DataFrame) -> None:
    table = paper_table(segments, "table1")
    assert len(table) == 10
    assert list(table.columns) == ["Objective", "ω", "λ", "seeds × segments",
                                   "SI-SDR (dB)", "SI-SDR (dB) median", "SI-SDR (dB) collapsed", "SI-SDR (dB) paper",
                                   "SI-SDR-BM (dB)", "SI-SDR-BM (dB) median", "SI-SDR-BM (dB) collapsed",
                                   "SI-SDR-BM (dB) paper", "A(·)", "A(·) paper"]
    assert table["Objective"].tolist() == ["L_A"] * 5 + ["L_B"] * 5
    assert table["ω"].tolist() == ["0.5", "1.0", "1.5", "2.0", "4.0"] + ["1.0"] * 5
    assert table["λ"].tolist() == ["N/A"] * 5 + ["0.1", "0.5", "1.0", "1.5", "2.0"]
    assert table["SI-SDR (dB) paper"].tolist()[0] == "31.49 (± 2.98)"
    # ours: tv 0.5 -> mean 32, std sqrt(8/3) (ddof=0), then the interval of the mean; absent runs: "missing"
    cell = table.at[0, "SI-SDR (dB)"]
    assert re.fullmatch(rf"32\.00 \(± {math.sqrt(8 / 3):.2f}\) \[3[0-2]\.\d\d, 3[2-4]\.\d\d\]", cell)
    assert table.at[0, "seeds × segments"] == "1 × 3"
    assert table.at[1, "SI-SDR (dB)"] == MISSING and table.at[1, "seeds × segments"] == "0"
    assert table.at[8, "A(·)"].startswith("0.90 (± 0.05) [0.85, 0.95]")


def test_compare_with_paper_diff_is_ours_minus_paper(segments: pd.DataFrame) -> None:
    numbers = compare_with_paper(segments, "table1")
    row = numbers.iloc[0]
    assert row["n_segments"] == 3 and row["n_seeds"] == 1 and row["seeds"] == "218"
    assert row["si_sdr_mask_mean"] == pytest.approx(3.0) and row["si_sdr_mask_median"] == pytest.approx(2.0)
    assert row["si_sdr_mask_diff"] == pytest.approx(3.0 - 4.43)
    assert 1.0 <= row["si_sdr_mask_ci_low"] < 3.0 < row["si_sdr_mask_ci_high"] <= 6.0
    assert numbers.iloc[9]["si_sdr_mask_diff"] != numbers.iloc[9]["si_sdr_mask_diff"]  # absent: NaN
    sk = numbers.iloc[8]
    assert sk["si_sdr_mask_diff"] == pytest.approx(-0.5 - 0.06)
    assert sk["additivity_std"] == pytest.approx(np.std(SK_L15["additivity"]))


def test_several_seeds_pool_their_segments_and_widen_the_interval(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    one = {"si_sdr": [10.0, 11.0, 12.0], "si_sdr_mask": [1.0, 2.0, 3.0], "additivity": [0.80, 0.81, 0.82]}
    write_run(root, tv(0.5), metrics=one)
    single = compare_with_paper(load_runs(root), "table1").iloc[0]
    write_run(root, tv(0.5), metrics={k: [v + 5 for v in values] for k, values in one.items()}, seed=219)
    both = compare_with_paper(load_runs(root), "table1").iloc[0]
    assert (both["n_seeds"], both["seeds"], both["n_segments"]) == (2, "218 219", 6)
    assert both["si_sdr_mean"] == pytest.approx(13.5) and both["si_sdr_std"] == pytest.approx(np.std(
        one["si_sdr"] + [v + 5 for v in one["si_sdr"]]))
    # seed-to-seed differences (5 dB) dwarf the segment noise: the interval widens to cover them
    assert both["si_sdr_ci_high"] - both["si_sdr_ci_low"] > 3 * (single["si_sdr_ci_high"] - single["si_sdr_ci_low"])
    assert paper_table(load_runs(root), "table1").at[0, "seeds × segments"] == "2 × 3"


def test_paper_table2_includes_the_stft_row(segments: pd.DataFrame) -> None:
    table = paper_table(segments, "table2")
    assert table["Objective"].tolist() == ["L_B"] * 4 + ["STFT"]
    assert list(table.columns) == ["Objective", "ω", "λ", "seeds × segments", "A(·)", "A(·) paper"]
    assert table.iloc[4].tolist()[:4] == ["STFT", "N/A", "N/A", "1 × 2"]
    assert table.iloc[4]["A(·)"].startswith("0.85 (± 0.05) [0.80, 0.90]")
    assert table.iloc[4]["A(·) paper"] == "0.86 (± 0.06)"
    assert table.at[0, "A(·)"].startswith("0.90 (± 0.05)") and table.at[1, "A(·)"] == MISSING


def test_tables_without_any_run_show_all_rows_missing(tmp_path: Path) -> None:
    table = paper_table(load_runs(tmp_path), TABLE2)
    assert len(table) == 5 and (table["A(·)"] == MISSING).all()
    assert table["A(·) paper"].tolist()[-1] == "0.86 (± 0.06)"


def test_unknown_table_and_mixed_profiles_are_errors(runs_root: Path, segments: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="table1, table2"):
        paper_table(segments, "table3")
    with pytest.warns(UserWarning):
        mixed = load_runs(runs_root)
    with pytest.raises(ValueError, match="profile"):
        paper_table(mixed, "table1")
    assert paper_table(mixed, "table1", profile="paper").at[0, "SI-SDR (dB)"] == "30.00 (± 0.00) [30.00, 30.00]"


def test_runs_of_other_settings_are_kept_apart(runs_root: Path, segments: pd.DataFrame) -> None:
    write_run(runs_root, tv(0.5), metrics={k: [v[0] - 20] for k, v in TV05.items()}, variant="def456")
    with pytest.warns(UserWarning):
        two = load_runs(runs_root, profile="smoke")
    with pytest.raises(ValueError, match="2 different settings.*abc123.*def456.*variant="):
        paper_table(two, "table1")
    assert paper_table(two, "table1", variant="def456").at[0, "SI-SDR (dB)"].startswith("10.00")
    pd.testing.assert_frame_equal(paper_table(two, "table1", variant=V), paper_table(segments, "table1"))


def test_an_old_run_folder_gets_a_clear_message(runs_root: Path) -> None:
    old = runs_root / "smoke-tv-w4"  # made before run ids carried the seed and the settings hash
    old.mkdir()
    (old / "config.json").write_text(json.dumps({"run_id": "smoke-tv-w4", "profile": "smoke", "objective": "tv",
                                                 "omega": 4.0, "seed": 218}))
    (old / "status.json").write_text(json.dumps({"state": "done", "error": None, "updated": "x"}))
    status = run_status(runs_root).set_index("run_id")
    assert status.at["smoke-tv-w4", "state"] == "invalid"
    error = status.at["smoke-tv-w4", "error"]
    assert "older rlsv" in error and "Delete the folder" in error


def test_latex_is_booktabs_with_escaped_cells() -> None:
    frame = pd.DataFrame({"Objective": ["L_A"], "ω": ["0.5"], "λ": ["N/A"], "A(·)": ["0.76 (± 0.10)"],
                          "note": ["50% a_b"]})
    tex = to_latex_booktabs(frame, caption="Cap", label="tab:x")
    assert r"\toprule" in tex and r"\midrule" in tex and r"\bottomrule" in tex
    assert r"$\mathcal{L}_A$ & 0.5 & N/A & 0.76 ($\pm$ 0.10) & 50\% a\_b \\" in tex
    assert r"$\omega$" in tex and r"\label{tab:x}" in tex and "{lllrr}" in tex


def test_write_paper_tables_writes_csv_md_tex(segments: pd.DataFrame, tmp_path: Path) -> None:
    frames, paths = write_paper_tables(segments, tmp_path / "tables")
    assert list(frames) == list(PUBLISHED_TABLES)
    for name, frame in frames.items():
        pd.testing.assert_frame_equal(frame, paper_table(segments, name))
        written = pd.read_csv(tmp_path / "tables" / f"{name}.csv", dtype=str, keep_default_na=False)
        pd.testing.assert_frame_equal(written, frame, check_dtype=False)
    names = sorted(p.name for p in paths)
    assert names == sorted(f"{t}{ext}" for t in PUBLISHED_TABLES
                           for ext in (".csv", ".md", ".tex", "_numbers.csv"))
    assert all(p.stat().st_size > 0 for p in paths)
    assert len(pd.read_csv(tmp_path / "tables" / "table1.csv")) == 10
    markdown = (tmp_path / "tables" / "table1.md").read_text(encoding="utf-8")
    assert " 31.49 (± 2.98) |" in markdown and markdown.startswith("Ours: rlsv runs; mean (± std")
    # one narrow table per metric (the wide form is the CSV): ours, its interval and the paper's value
    assert [line for line in markdown.splitlines() if line.startswith("**")] == [
        "**SI-SDR (dB)**", "**SI-SDR-BM (dB)**", "**A(·)**"]
    # 110 before the median and collapsed columns
    long = [line for line in markdown.splitlines()[1:] if len(line) > 125]
    assert not long, long
    wide = pd.read_csv(tmp_path / "tables" / "table1.csv", dtype=str)
    mean, interval = wide["A(·)"][0].split(" [")
    first_row = markdown.split("**A(·)**")[1].strip().splitlines()[2]
    cells = [cell.strip() for cell in first_row.strip("|").split("|")]
    assert cells[-3:] == [mean, "[" + interval, wide["A(·) paper"][0]]
    assert "Paper (MUSDB18, C=800" in (tmp_path / "tables" / "table1.tex").read_text(encoding="utf-8")
    assert r"\begin{tabular}" in (tmp_path / "tables" / "table2.tex").read_text(encoding="utf-8")
