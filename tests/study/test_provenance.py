"""The provenance of a table or figure counts the runs in it: a run still training or killed is listed as
unfinished, not as one of the runs that made the numbers."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from rlsv.study.provenance import run_set_provenance


def _run(root: Path, run_id: str, seed: int) -> SimpleNamespace:
    folder = root / run_id
    folder.mkdir()
    session = {"machine": {"torch": "2.13.0+cpu", "device_name": "AMD EPYC", "cores": 2, "device": "cpu"},
               "threads": 1, "conv_plan": {"plan": "direct,direct,direct", "how": "fixed"}}
    code = {"version": "0.1.0", "commit": "abc1234567890", "dirty": False}
    (folder / "provenance.json").write_text(json.dumps({"seed": seed, "rlsv": code, "sessions": [session],
                                                        "data": {}}))
    return SimpleNamespace(run_id=run_id, path=folder, config={"dataset": "d", "dataset_info": {}})


def test_only_runs_with_results_count_and_the_others_are_named(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "a-s218", 218), _run(tmp_path, "b-s219", 219), _run(tmp_path, "killed-s220", 220)]
    segments = pd.DataFrame({"run_id": ["a-s218", "a-s218", "b-s219"], "additivity": [0.7, 0.8, 0.9]})
    manifest = run_set_provenance(SimpleNamespace(profile="smoke", variant="v", runs=runs, segments=segments))
    assert [r["run_id"] for r in manifest["runs"]] == ["a-s218", "b-s219"]
    assert manifest["unfinished"] == ["killed-s220"] and manifest["seeds"] == [218, 219]
    assert manifest["short"].endswith("seeds 218, 219; 2 runs")
