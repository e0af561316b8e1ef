"""The parts of ``rlsv report`` that need no trained run: the claims' verdicts, the provenance listing, the pages'
formatting, the notebook copies, the excerpt rule, the missing-results error and the command line."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rlsv.audio.segments import TrackSegments
from rlsv.cli import build_parser, main
from rlsv.study.paper_values import TABLE1, TABLE2
from rlsv.study.report import claims
from rlsv.study.report.listening import choose_excerpts
from rlsv.study.report.notebooks import WIDGET_VIEW, copy_notebook
from rlsv.study.report.pages import demote_headings, interval, number, table_cell
from rlsv.study.report.provenance import flatten, provenance_files
from rlsv.study.report.sources import MissingResultsError, ReportSources


def _numbers(table, values: dict[tuple, tuple[float, float, float]], metric: str) -> pd.DataFrame:
    """A ``*_numbers.csv`` frame of ``table``: ``values[(objective, omega, lam)] = (mean, low, high)``, other rows
    NaN."""
    rows = []
    for published in table.rows:
        spec = published.spec
        mean, low, high = values.get((spec.objective, spec.omega, spec.lam), (math.nan,) * 3)
        rows.append({**spec.as_columns(), "n_seeds": 1, f"{metric}_mean": mean, f"{metric}_ci_low": low,
                     f"{metric}_ci_high": high, f"{metric}_paper_mean": published.values[metric][0]})
    return pd.DataFrame(rows)


def _table1(la: float, lb_high: float, width: float) -> pd.DataFrame:
    """Table 1's additivity: every L_A row at ``la``, L_B λ=1, 1.5, 2 at ``lb_high`` (intervals ± ``width``)."""
    values = {("tv", w, None): (la, la - width, la + width) for w in (0.5, 1.0, 1.5, 2.0, 4.0)}
    values |= {("sinkhorn", 1.0, lam): (lb_high, lb_high - width, lb_high + width) for lam in (1.0, 1.5, 2.0)}
    frame = _numbers(TABLE1, values, "additivity")
    bm = _numbers(TABLE1, {("sinkhorn", 1.0, 0.5): (5.0, 4.0, 6.0), ("sinkhorn", 1.0, 1.5): (0.1, -1.0, 1.0),
                           ("sinkhorn", 1.0, 2.0): (4.9, 3.0, 5.5)}, "si_sdr_mask")
    return frame.join(bm.filter(like="si_sdr_mask"))


def test_claims_are_judged_by_their_rules() -> None:
    table2 = _numbers(TABLE2, {("sinkhorn", w, 1.5): (0.8 + 0.02 * i, 0.79 + 0.02 * i, 0.81 + 0.02 * i)
                               for i, w in enumerate((1.0, 1.5, 2.0, 4.0))}, "additivity")
    additive, collapse, rises = claims.paper_claims(_table1(0.70, 0.90, 0.02), table2)
    assert additive.verdict == claims.HOLDS
    assert [r.label for r in additive.rows][:2] == ["L_A ω=0.5", "L_A ω=1"]
    assert additive.rows[-1].label == "L_B ω=1 λ=2"
    assert additive.rows[0].paper == 0.76 and additive.rows[-1].mean == 0.90
    # λ = 2's SI-SDR-BM is below λ = 0.5's mean, but its interval overlaps: the claim holds in the means only
    assert collapse.verdict == claims.MEANS_ONLY
    assert rises.verdict == claims.HOLDS
    assert claims.paper_claims(_table1(0.70, 0.71, 0.02), table2)[0].verdict == claims.MEANS_ONLY
    assert claims.paper_claims(_table1(0.70, 0.60, 0.02), table2)[0].verdict == claims.DOES_NOT_HOLD
    falling = table2.copy()
    falling.loc[:3, "additivity_mean"] = table2["additivity_mean"][:4][::-1].to_numpy()  # ω = 1 .. 4, STFT last
    assert claims.paper_claims(_table1(0.7, 0.9, 0.02), falling)[2].verdict == claims.DOES_NOT_HOLD
    missing = _table1(0.70, 0.90, 0.02)
    missing.loc[missing["lam"] == 2.0, "additivity_mean"] = math.nan
    assert claims.paper_claims(missing, table2)[0].verdict == claims.MISSING


def test_overlapping_intervals_with_a_difference_beyond_the_noise_are_said_so() -> None:
    from rlsv.study.trends import TrendTest

    table2 = _numbers(TABLE2, {("sinkhorn", w, 1.5): (0.8 + 0.02 * i, 0.79 + 0.02 * i, 0.81 + 0.02 * i)
                               for i, w in enumerate((1.0, 1.5, 2.0, 4.0))}, "additivity")
    table1 = _table1(0.70, 0.90, 0.02)
    beyond = TrendTest("masking", "L_B λ=0.5", "L_B λ=2", 2.5, 0.4, 4.6, 2)
    inside = TrendTest("masking", "L_B λ=0.5", "L_B λ=2", 2.5, -0.4, 4.6, 2)
    collapse = claims.paper_claims(table1, table2, {"masking": beyond})[1]
    assert collapse.verdict == f"{claims.BEYOND_NOISE} (L_B λ=0.5 − L_B λ=2: +2.500 [+0.400, +4.600])"
    assert claims.paper_claims(table1, table2, {"masking": inside})[1].verdict == claims.MEANS_ONLY
    # the stricter verdict stands where the intervals are apart
    assert claims.paper_claims(table1, table2, {"additivity": beyond})[0].verdict == claims.HOLDS


def test_provenance_is_listed_as_dotted_keys_and_absence_is_said() -> None:
    data = {"short": "rlsv 0.1.0 at abc123 on host, 2 threads", "versions": {"torch": "2.13.0", "numpy": "2.1"},
            "seeds": [218, 219], "runs": [f"run-{i}" for i in range(10)], "machine": {"cpu": {"cores": 2}},
            "plans": [{"conv": "direct"}], "empty": {}}
    rows = dict(flatten({k: v for k, v in data.items() if k != "short"}))
    assert rows["versions.torch"] == "2.13.0" and rows["machine.cpu.cores"] == "2" and rows["seeds"] == "218, 219"
    assert rows["runs"].count("\n") == 9 and rows["plans[0].conv"] == "direct" and rows["empty"] == "(none)"
    files = provenance_files({"tables": (Path("t/provenance.json"), data),
                              "figures": (Path("f/provenance.json"), None)},
                             {"tables": "t/provenance.json", "figures": "f/provenance.json"})
    assert files[0].present and files[0].short == data["short"] and ("versions.numpy", "2.1") in files[0].rows
    assert not files[1].present and files[1].rows == () and files[1].shown_path == "f/provenance.json"


def test_page_formatting() -> None:
    assert number(-0.0249) == "−0.02" and number(float("nan")) == "–" and number(None) == "–"
    assert number(0.6812, 3) == "0.681" and interval(0.1, float("nan")) == "" and interval(-1, 2) == "[−1.00, 2.00]"
    assert table_cell("a|b\nc") == "a\\|b<br>c"
    text = "# Title\n\n```bash\n# not a heading\n```\n## Sub"
    assert demote_headings(text, 2) == "### Title\n\n```bash\n# not a heading\n```\n#### Sub"


def test_notebook_copies_lose_their_widgets_and_gain_a_note(tmp_path: Path) -> None:
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    kept = new_output("stream", name="stdout", text="kept")
    cell = new_code_cell("run()", outputs=[new_output("display_data", {WIDGET_VIEW: {"model_id": "x"},
                                                                         "text/plain": "bar"}), kept])
    notebook = new_notebook(cells=[cell], metadata={"widgets": {"state": {}},
                                                    "kernelspec": {"name": "python3", "display_name": "Python 3"}})
    nbformat.write(notebook, tmp_path / "in.ipynb")
    copy_notebook(tmp_path / "in.ipynb", tmp_path / "out" / "copy.ipynb", "**Run `x`**")
    copied = nbformat.read(tmp_path / "out" / "copy.ipynb", as_version=4)
    nbformat.validate(copied)  # the inserted cell has an id, as nbformat 4.5 wants
    assert "widgets" not in copied.metadata and copied.metadata.kernelspec.name == "python3"
    assert copied.cells[0].cell_type == "markdown" and copied.cells[0].source == "**Run `x`**"
    assert copied.cells[1].outputs == [kept]


def _track(name: str, loud: int | None, n: int = 20) -> TrackSegments:
    vocals = np.full((n, 4), 0.01, np.float32)
    active = np.zeros(n, bool)
    if loud is not None:
        active[max(0, loud - 3):loud + 3] = True
        vocals[loud] = 1.0
    return TrackSegments(name, vocals * 2, vocals, vocals, active)


def test_excerpts_are_the_loudest_kept_segments_of_the_first_tracks() -> None:
    tracks = [_track("a", 10), _track("silent", None), _track("b", 1), _track("c", 19), _track("d", 5)]
    chosen = choose_excerpts(tracks, count=3, segment_s=0.25, seconds=3.0)
    assert chosen == [(0, 10, 4, 16), (2, 1, 0, 12), (3, 19, 8, 20)]  # 12 segments of 0.25 s, inside the track
    assert choose_excerpts(tracks, count=10, segment_s=1.0, seconds=3.0)[-1] == (4, 5, 4, 7)


def test_missing_tables_are_one_error_naming_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sources = ReportSources("smoke", tmp_path / "runs", tmp_path / "figures")
    with pytest.raises(MissingResultsError, match=r"runs/tables/smoke/table1\.md is missing: run `make reproduce"):
        sources.check()
    code = main(["report", "--profile", "smoke", "--runs-root", str(tmp_path / "runs"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "table1.md is missing" in err and "make reproduce" in err


def test_figures_are_those_figures_json_lists(tmp_path: Path) -> None:
    sources = ReportSources("smoke", tmp_path / "runs", tmp_path / "figures")
    sources.figures.mkdir(parents=True)
    for name in ("figure2", "figure3"):
        (sources.figures / f"{name}.png").write_bytes(b"png")
    found, missing = sources.figure_files()  # no figures.json: the PNGs that are there
    assert list(found) == ["figure2", "figure3"] and sorted(missing) == ["figure4", "figure5", "figure6"]
    (sources.figures / "figures.json").write_text(json.dumps({"figures": {"figure2": ["figure2.png", "figure2.pdf"]},
                                                              "missing": {"figure3": "no run of L_A"}}))
    found, missing = sources.figure_files()  # figure3.png is left from an earlier run: not shown
    assert found == {"figure2": sources.figures / "figure2.png"} and missing["figure3"] == "no run of L_A"
    assert missing["figure4"].startswith("no figure4.png in ")


def _report_parser() -> argparse.ArgumentParser:
    return next(a for a in build_parser()._actions if a.dest == "command").choices["report"]


def test_command_line_options() -> None:
    parser = _report_parser()
    actions = [a for a in parser._actions if not isinstance(a, argparse._HelpAction)]
    assert actions and all(a.help for a in actions)
    args = parser.parse_args([])
    assert (args.profile, args.runs_root, args.out, args.excerpts, args.seconds) == ("small", "papermill_runs", None,
                                                                                      3, 3.0)
    for bad in (["--excerpts", "0"], ["--seconds", "nan"], ["--seconds", "-1"]):
        with pytest.raises(SystemExit):
            parser.parse_args(bad)


def test_command_line_exit_code_says_whether_a_part_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    import rlsv.study.report as report

    calls = []

    def fake_build(runs_root, profile, **kwargs):
        calls.append((runs_root, profile, kwargs))
        return report.ReportResult(tmp_path / "report" / "index.html", 12.0, 3_000_000, 250_000, 0,
                                   tmp_path / "report" / "build.log", 3, missing=calls[0][2]["missing"],
                                   notes=["no provenance of the figures: figures/small/provenance.json is absent"])

    monkeypatch.setattr(report, "build_report", lambda *a, **k: fake_build(*a, **{**k, "missing": []}))
    assert main(["report", "--quiet", "--excerpts", "2", "--no-run-notebooks"]) == 0
    out = capsys.readouterr().out
    assert "index.html (3.0 MB, of which audio 250 KB in 3 excerpts) in 12 s" in out and "note: no provenance" in out
    assert calls[0][:2] == ("papermill_runs", "small") and calls[0][2]["excerpts"] == 2
    assert calls[0][2]["run_notebooks"] is False and calls[0][2]["progress"] is False and calls[0][2]["docs"] is True
    calls.clear()
    monkeypatch.setattr(report, "build_report", lambda *a, **k: fake_build(*a, **{**k, "missing": ["figure2: x"]}))
    assert main(["report", "--quiet"]) == 1 and "MISSING: figure2: x" in capsys.readouterr().out
