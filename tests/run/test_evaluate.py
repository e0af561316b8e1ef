"""Evaluation of a trained tiny run: per-segment table, summary, STFT row, agreement with a by-hand loop."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from rlsv.core.metrics import StftBaseline, additivity, binary_mask, segment_is_active, si_sdr
from rlsv.core.model import ModelConfig
from rlsv.run.evaluate import (
    SEGMENT_COLUMNS,
    EvaluationSettings,
    evaluate_model,
    evaluate_run,
    evaluate_stft,
    iter_test_segments,
    load_test_dataset,
    run_test_segments,
)
from rlsv.run.train import fit
from rlsv.run.train_config import TrainConfig

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=2205)


def _kept(test_data) -> list[tuple[str, int]]:
    """(track, segment) pairs the silence rule keeps, from the raw segment arrays."""
    return [(s.track, int(k)) for s in iter_test_segments(test_data, TINY.segment_length)
            for k in np.flatnonzero(segment_is_active(s.vocals).numpy())]


@pytest.fixture(scope="module")
def trained_run(tiny_corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("eval") / "run"
    config = TrainConfig(objective="tv", omega=1.0, epochs=2, model=TINY, dataset=str(tiny_corpus), learning_rate=1e-3)
    fit(config, run, progress=False)
    return run


@pytest.fixture(scope="module")
def test_data(tiny_corpus: Path):
    return load_test_dataset(tiny_corpus, segment_length=TINY.segment_length, progress=False)


def test_evaluate_run_writes_segments_and_summary(trained_run: Path, test_data) -> None:
    result = evaluate_run(trained_run, progress=False)
    segments = pd.read_csv(trained_run / "segments.csv")
    assert list(segments.columns) == list(SEGMENT_COLUMNS)
    assert np.isfinite(segments[["si_sdr", "si_sdr_mask", "additivity"]].to_numpy()).all()
    assert (segments.additivity <= 1.0).all()
    assert segments.si_sdr.median() > 0.0  # a trained autoencoder reconstructs better than silence
    # exactly the segments the silence rule keeps, computed independently
    assert list(zip(segments.track, segments.segment)) == _kept(test_data)
    assert 0 < len(segments) < sum(len(s) for s in iter_test_segments(test_data, TINY.segment_length))
    summary = json.loads((trained_run / "summary.json").read_text())
    assert summary["si_sdr"]["mean"] == pytest.approx(segments.si_sdr.mean())
    assert summary["additivity"]["median"] == pytest.approx(segments.additivity.median())
    assert summary["si_sdr_mask"]["std"] == pytest.approx(segments.si_sdr_mask.std(ddof=0))
    pd.testing.assert_frame_equal(result.segments, segments, check_dtype=False)


def test_batched_evaluation_equals_a_segment_by_segment_loop(trained_run: Path, test_data) -> None:
    from rlsv.run.model_file import load_model

    model = load_model(trained_run / "model.pt")
    batched = evaluate_model(model, iter_test_segments(test_data, TINY.segment_length), batch_size=7)
    rows = []
    with torch.no_grad():
        for segs in iter_test_segments(test_data, TINY.segment_length):
            for k, seg in enumerate(segs):
                if not seg.active:
                    continue
                m, v, a = (torch.from_numpy(np.ascontiguousarray(x))[None]
                           for x in (seg.mixture, seg.vocals, seg.accompaniment))
                a_m, a_v, a_a = model.encode(m), model.encode(v), model.encode(a)
                rows.append({
                    "si_sdr": float(si_sdr(v.double(), model.decode(a_v).double())),
                    "si_sdr_mask": float(si_sdr(v.double(), model.decode(a_m * binary_mask(a_v, a_a)).double())),
                    "additivity": float(additivity(a_m.double(), a_v.double(), a_a.double())),
                })
    by_hand = pd.DataFrame(rows)
    for column in ("si_sdr", "si_sdr_mask", "additivity"):
        np.testing.assert_allclose(batched[column], by_hand[column], rtol=1e-4, atol=1e-4)


def test_stft_baseline_on_the_same_segments(test_data) -> None:
    stft = evaluate_stft(iter_test_segments(test_data, TINY.segment_length), StftBaseline(n_fft=512, hop=64))
    assert list(stft.columns) == list(SEGMENT_COLUMNS)
    assert stft.si_sdr.isna().all()
    assert np.isfinite(stft[["si_sdr_mask", "additivity"]].to_numpy()).all()
    assert list(zip(stft.track, stft.segment)) == _kept(test_data)
    assert stft.si_sdr_mask.median() > 0.0


def test_missing_model_is_explained(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="train the run first"):
        evaluate_run(tmp_path, progress=False)


def test_max_tracks_limits_the_test_set(tiny_corpus: Path, test_data) -> None:
    data = load_test_dataset(tiny_corpus, segment_length=TINY.segment_length, max_tracks=1, progress=False)
    assert [s.track for s in iter_test_segments(data, TINY.segment_length)] == [test_data.tracks("test")[0].name]


def test_evaluation_settings_are_recorded_and_give_back_the_same_test_tracks(trained_run: Path, tmp_path: Path,
                                                                            test_data) -> None:
    import shutil

    run = Path(shutil.copytree(trained_run, tmp_path / "run"))
    trained_config = {k: v for k, v in json.loads((run / "config.json").read_text()).items() if k != "evaluation"}
    evaluate_run(run, max_tracks=1, mask_inclusive=True, progress=False)
    config = json.loads((run / "config.json").read_text())
    assert config["evaluation"] == {"max_test_tracks": 1, "mask_inclusive": True,
                                    "segment_length": TINY.segment_length, "dataset": None}
    assert {k: v for k, v in config.items() if k != "evaluation"} == trained_config  # the rest is kept
    assert EvaluationSettings.from_config(config).max_test_tracks == 1
    first = test_data.tracks("test")[0].name
    segments = pd.read_csv(run / "segments.csv", dtype={"track": str})
    assert set(segments.track) == {first}
    assert [s.track for s in run_test_segments(run)] == [first]  # readers see the recorded test set

    evaluate_run(run, progress=False)  # all tracks again: recorded as such
    assert json.loads((run / "config.json").read_text())["evaluation"]["max_test_tracks"] is None
    assert [s.track for s in run_test_segments(run)] == [t.name for t in test_data.tracks("test")]


def test_one_segment_view_agrees_with_the_evaluation(trained_run: Path, test_data) -> None:
    from rlsv.run.model_file import load_model
    from rlsv.run.segment_view import pick_segment, represent_segment

    model = load_model(trained_run / "model.pt")
    tracks = list(iter_test_segments(test_data, TINY.segment_length))
    t, k = pick_segment(tracks)
    view = represent_segment(model, tracks[t].mixture[k], tracks[t].vocals[k], tracks[t].accompaniment[k])
    row = evaluate_model(model, tracks).set_index(["track", "segment"]).loc[(tracks[t].track, k)]
    assert (view.si_sdr, view.si_sdr_mask, view.additivity) == pytest.approx(
        (row.si_sdr, row.si_sdr_mask, row.additivity), rel=1e-4, abs=1e-4)
    assert view.reps["vocals"].shape == (TINY.channels, view.reps["vocals"].shape[1])
    assert np.all(np.diff(view.carrier_hz) >= 0)
