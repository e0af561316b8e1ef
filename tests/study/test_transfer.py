"""Runs evaluated on real audio they were not trained on (rlsv.study.transfer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsv.run.config import RunParameters
from rlsv.run.files import SEGMENTS
from rlsv.run.spec import tv
from rlsv.study.results import load_run_set
from rlsv.study.sweeps import run_sweep
from rlsv.study.transfer import evaluate_on, stempeg_excerpt, transfer_summary

TINY = {"channels": 16, "kernel_size": 128, "stride": 64, "segment_length": 4410}


@pytest.mark.slow
def test_runs_are_evaluated_on_the_real_excerpt_and_left_untouched(tmp_path: Path, tiny_corpus: Path) -> None:
    overrides = {"dataset": str(tiny_corpus), "epochs": 1, "max_train_tracks": 1, "model": TINY}
    root = tmp_path / "runs"
    report = run_sweep([tv(1.0)], "smoke", root, engine="inline", overrides=overrides, seeds=2, progress=False,
                       run_progress=False)
    assert report.ok, report.text()
    own = root / RunParameters.from_dict({"objective": "tv", "profile": "smoke", **overrides}).run_id / SEGMENTS
    before = own.read_bytes()
    excerpt = stempeg_excerpt(tmp_path / "real")
    assert stempeg_excerpt(tmp_path / "real") == excerpt  # a second call reuses the link
    frame = evaluate_on(load_run_set(root, "smoke"), excerpt, progress=False)
    assert set(frame["track"]) == {"The Easton Ellises - Falcon 69"} and sorted(frame["seed"].unique()) == [218, 219]
    # the excerpt is 6.08 s: 61 segments of 0.1 s (tail padded), the silent ones dropped
    per_seed = frame.groupby("seed").size()
    assert (per_seed == per_seed.iloc[0]).all() and 10 <= per_seed.iloc[0] <= 61
    assert frame[["si_sdr", "si_sdr_mask", "additivity"]].notna().all().all()
    row = transfer_summary(frame, [tv(1.0)]).iloc[0]
    assert row["n_seeds"] == 2 and row["additivity_ci_low"] <= row["additivity"] <= row["additivity_ci_high"]
    assert row["additivity"] == pytest.approx(frame.groupby("seed")["additivity"].mean().mean())
    assert own.read_bytes() == before  # the runs' own evaluation is not touched
    with pytest.raises(ValueError, match="No trained run"):
        evaluate_on(load_run_set(root, "smoke"), excerpt, specs=[tv(4.0)])
