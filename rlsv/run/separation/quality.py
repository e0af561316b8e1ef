"""The quality to expect from a run's separator: its own separation scores, where they were measured.

``rlsv separation`` (``rlsv.study.separation.comparison``) scores every estimator it trains and keeps the scores
in the estimator's folder: ``separation_scores.csv`` (``data, track, segment, metric, value``: SI-SDR per
test segment with active vocals, BSSEval v4 SDR per track) with ``separation_scores.json``, what they were
computed on (the ``separator.pt`` hash among it); the oracle binary mask's scores lie in the run folder
(``oracle_<front end>_separation_scores.csv``). :func:`expected_quality` puts them into one line, and
says so when this separator was never scored (or was retrained since).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rlsv.run.separation.files import ORACLE_SCORES, SEPARATION_SCORES, SEPARATOR_CONFIG, SEPARATOR_MODEL, scores_key
from rlsv.run.separation.separator import file_sha256

__all__ = ["expected_quality"]

_DATA = {"test": "on the run's {tracks} test track(s)", "excerpt": "on the real MUSDB18 excerpt"}


def _read_key(path: Path) -> dict:
    try:
        key = json.loads(scores_key(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return key if isinstance(key, dict) else {}


def _mean(scores: pd.DataFrame, data: str, metric: str) -> tuple[float, int] | None:
    """Mean and count of the finite values of ``metric`` on ``data``; None when there are none."""
    values = scores.loc[(scores["data"] == data) & (scores["metric"] == metric), "value"].astype(float)
    values = values[values.notna() & (values.abs() != float("inf"))]
    return (float(values.mean()), len(values)) if len(values) else None


def _oracle_scores(folder: Path) -> pd.DataFrame | None:
    """The oracle mask's scores of the separator's front end, from the run folder above it (None: none)."""
    try:
        front_end = json.loads((folder / SEPARATOR_CONFIG).read_text(encoding="utf-8"))["front_end"]["name"]
        return pd.read_csv(folder.parent / ORACLE_SCORES.format(front_end=front_end), dtype={"track": str})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def expected_quality(folder: str | Path) -> str:
    """One line: the vocal scores measured for the separator in ``folder`` (mean SI-SDR over test segments and
    mean BSSEval v4 SDR over tracks, per data set, next to the oracle mask's SI-SDR), or that none were measured."""
    folder = Path(folder)
    path = folder / SEPARATION_SCORES
    model = folder / SEPARATOR_MODEL
    if not path.is_file():
        return (f"rlsv: no separation scores were measured for this separator ({folder}), so no quality can be "
                "promised; `rlsv separation` scores the separators of the Figure 4 runs (docs/separation.md)")
    if not model.is_file() or _read_key(path).get("separator_sha256") != file_sha256(model):
        return (f"rlsv: no separation scores were measured for this separator: those in {path} are of an earlier "
                "one, trained before it; `rlsv separation` scores it again")
    try:
        scores = pd.read_csv(path, dtype={"track": str, "data": str})
    except (OSError, ValueError) as error:
        return f"rlsv: the separation scores in {path} cannot be read ({type(error).__name__}); rerun `rlsv separation`"
    oracle = _oracle_scores(folder)
    parts = []
    for data, label in _DATA.items():
        si_sdr, bss = _mean(scores, data, "si_sdr"), _mean(scores, data, "bss_sdr")
        if si_sdr is None and bss is None:
            continue
        tracks = scores.loc[scores["data"] == data, "track"].nunique()
        values = []
        if si_sdr is not None:
            reached = _mean(oracle, data, "si_sdr") if oracle is not None else None
            values.append(f"vocals SI-SDR {si_sdr[0]:.1f} dB (mean of {si_sdr[1]} segments"
                          + (f"; the oracle mask reaches {reached[0]:.1f} dB)" if reached else ")"))
        if bss is not None:
            values.append(f"BSSEval v4 SDR {bss[0]:.1f} dB (mean of {bss[1]} track(s))")
        parts.append(f"{label.format(tracks=tracks)}, " + ", ".join(values))
    if not parts:
        return f"rlsv: no separation scores were measured for this separator ({path} holds none)"
    return "rlsv: quality to expect (this separator's scores, measured by rlsv separation): " + "; ".join(parts)
