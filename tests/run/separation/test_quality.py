"""The quality a separator promises: its own measured scores (against an independent mean), or a plain "none"."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rlsv.core.separation.front_ends import StftFrontEnd
from rlsv.core.separation.mask_estimator import EstimatorConfig, MaskEstimator
from rlsv.run.separation.quality import expected_quality
from rlsv.run.separation.separator import Separator, file_sha256, save_separator


def _separator_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "run" / "separator-s218"
    torch.manual_seed(0)
    save_separator(Separator(StftFrontEnd(1024, n_fft=256, hop=64), MaskEstimator(EstimatorConfig(129, 8)), 8000),
                   folder / "separator.pt")
    (folder / "config.json").write_text(json.dumps({"front_end": {"name": "stft"}}))
    return folder


def _scores(rng: np.random.Generator, shift: float) -> pd.DataFrame:
    rows = [("test", f"t{k}", s, "si_sdr", shift + rng.normal()) for k in range(2) for s in range(5)]
    rows += [("test", f"t{k}", -1, "bss_sdr", shift + 1 + rng.normal()) for k in range(2)]
    rows += [("excerpt", "Falcon 69", s, "si_sdr", shift - 10 + rng.normal()) for s in range(3)]
    rows += [("test", "t0", 7, "si_sdr", float("nan"))]  # a missing value is not counted
    return pd.DataFrame(rows, columns=["data", "track", "segment", "metric", "value"])


def test_the_measured_scores_are_what_is_promised(tmp_path: Path) -> None:
    folder = _separator_folder(tmp_path)
    rng = np.random.default_rng(0)
    blind, oracle = _scores(rng, 2.0), _scores(rng, 6.0)
    blind.to_csv(folder / "separation_scores.csv", index=False)
    key = {"separator_sha256": file_sha256(folder / "separator.pt")}
    (folder / "separation_scores.json").write_text(json.dumps(key))
    oracle.to_csv(folder.parent / "oracle_stft_separation_scores.csv", index=False)
    line = expected_quality(folder)
    test_si = blind.query("data == 'test' and metric == 'si_sdr'")["value"].dropna()
    test_bss = blind.query("data == 'test' and metric == 'bss_sdr'")["value"]
    excerpt_si = blind.query("data == 'excerpt' and metric == 'si_sdr'")["value"]
    oracle_si = oracle.query("data == 'test' and metric == 'si_sdr'")["value"].dropna()
    oracle_excerpt = oracle.query("data == 'excerpt'")["value"]
    assert line == ("rlsv: quality to expect (this separator's scores, measured by rlsv separation): on the run's "
                    f"2 test track(s), vocals SI-SDR {test_si.mean():.1f} dB (mean of 10 segments; the oracle mask "
                    f"reaches {oracle_si.mean():.1f} dB), BSSEval v4 SDR {test_bss.mean():.1f} dB (mean of 2 "
                    f"track(s)); on the real MUSDB18 excerpt, vocals SI-SDR {excerpt_si.mean():.1f} dB (mean of 3 "
                    f"segments; the oracle mask reaches {oracle_excerpt.mean():.1f} dB)")


def test_no_scores_or_scores_of_an_earlier_separator_promise_nothing(tmp_path: Path) -> None:
    folder = _separator_folder(tmp_path)
    assert expected_quality(folder).startswith("rlsv: no separation scores were measured for this separator (")
    _scores(np.random.default_rng(1), 2.0).to_csv(folder / "separation_scores.csv", index=False)
    (folder / "separation_scores.json").write_text(json.dumps({"separator_sha256": "0" * 64}))  # retrained since
    assert "those in" in expected_quality(folder) and "are of an earlier one" in expected_quality(folder)
