"""The separation table: blind against oracle, per data set and representation, with intervals.

From the scores of ``rlsv.study.separation.comparison.evaluate_separation`` (one row per value):

* :func:`separation_numbers` -- per data set, representation, method and metric: mean, std, the spread of
  the seeds' means and the seed x segment 95 % interval (``rlsv.study.intervals``);
* :func:`separation_table` -- the numbers formatted, one row per data set and representation;
* :func:`write_separation_table` -- evaluation (cached scores reused) and all of it into
  ``<root>/tables/<profile>/separation.{csv,md,tex}``, ``separation_numbers.csv`` and
  ``separation_scores.csv``, captioned with what the runs were (``RunSet.label``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from rlsv.atomic import write_text
from rlsv.run.spec import RunSpec
from rlsv.study.intervals import interval_by_seed
from rlsv.study.results import load_run_set
from rlsv.study.separation.comparison import SEPARATION_SPECS, estimator_seeds, evaluate_separation
from rlsv.study.tables import format_interval, format_mean_std, write_table

__all__ = ["DATA_LABELS", "METHODS", "separation_numbers", "separation_table", "SeparationTables",
           "separation_caption", "write_separation_table"]

DATA_LABELS: dict[str, str] = {"test": "test tracks", "excerpt": "MUSDB18 excerpt (stempeg)"}
METHODS: tuple[str, ...] = ("blind", "oracle")
_METRICS: dict[str, str] = {"si_sdr": "SI-SDR (dB)", "bss_sdr": "SDR BSSEval v4 (dB)"}


def _statistics(rows: pd.DataFrame) -> dict[str, float]:
    """Mean (seeds weighted alike), std over values, std of the seeds' means, 95 % interval, counts."""
    values = rows["value"].to_numpy(dtype=float)
    count = int(np.isfinite(values).sum())
    interval = interval_by_seed(rows, "value")
    per_seed = rows.groupby(rows["seed"].fillna(-1))["value"].mean()
    spread = count > 1  # one value (one track, one seed) has no spread and no interval
    return {"mean": interval["mean"], "std": float(np.nanstd(values)) if spread else np.nan,
            "seed_std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else np.nan,
            "ci_low": interval["ci_low"] if spread else np.nan, "ci_high": interval["ci_high"] if spread else np.nan,
            "n_seeds": interval["n_seeds"], "n_values": count}


def separation_numbers(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per ``data, representation, method, metric`` of :func:`evaluate_separation`'s scores: ``mean``
    (over seeds of each seed's mean), ``std`` (over all values, ddof 0: the paper's spread), ``seed_std``
    (of the seeds' means, ddof 1), ``ci_low``/``ci_high`` (seed × segment bootstrap, 95 %), ``n_seeds``,
    ``n_values`` and the estimator's ``parameters``. Rows in the order data, representation (as scored), method."""
    rows = []
    order = list(dict.fromkeys(scores["representation"]))
    for (data, representation, method, metric), group in scores.groupby(
            ["data", "representation", "method", "metric"], sort=False):
        rows.append({"data": data, "representation": representation, "method": method, "metric": metric,
                     "parameters": group["parameters"].max(), **_statistics(group)})
    numbers = pd.DataFrame(rows)
    numbers["_r"] = numbers["representation"].map(order.index)
    numbers["_d"] = numbers["data"].map(list(DATA_LABELS).index)
    numbers["_m"] = numbers["method"].map(METHODS.index)
    return numbers.sort_values(["_d", "_r", "_m", "metric"]).drop(columns=["_r", "_d", "_m"]).reset_index(drop=True)


def _cell(row: pd.Series | None) -> str:
    if row is None:
        return "missing"
    return f"{format_mean_std(row['mean'], row['std'])} {format_interval(row['ci_low'], row['ci_high'])}".strip()


def separation_table(numbers: pd.DataFrame) -> pd.DataFrame:
    """:func:`separation_numbers` formatted, one row per data set and representation: the estimator's parameters,
    seeds × segments of the blind SI-SDR, then ``mean (± std) [95 % interval]`` of blind and oracle SI-SDR and
    BSSEval SDR, and the spread of the blind SI-SDR over estimator seeds."""
    rows = []
    for (data, representation), group in numbers.groupby(["data", "representation"], sort=False):
        cells = {(r["method"], r["metric"]): r for _, r in group.iterrows()}
        blind = cells.get(("blind", "si_sdr"))
        params = blind["parameters"] if blind is not None else np.nan
        row = {"data": DATA_LABELS.get(data, data), "representation": representation,
               "estimator parameters": "–" if pd.isna(params) else f"{int(params):,}",
               "seeds × segments": "0" if blind is None else
               f"{int(blind['n_seeds'])} × {int(blind['n_values']) // max(1, int(blind['n_seeds']))}"}
        for metric, label in _METRICS.items():
            for method in METHODS:
                if (method, metric) in cells or metric == "si_sdr":
                    row[f"{method} {label}"] = _cell(cells.get((method, metric)))
        seed_std = blind["seed_std"] if blind is not None else np.nan
        row["blind SI-SDR sd over seeds"] = "–" if pd.isna(seed_std) else f"{seed_std:.2f}"
        rows.append(row)
    return pd.DataFrame(rows)


@dataclass
class SeparationTables:
    """What :func:`write_separation_table` wrote: the formatted table, its numbers, the scores and the paths."""

    table: pd.DataFrame
    numbers: pd.DataFrame
    scores: pd.DataFrame
    caption: str
    paths: list[Path] = field(default_factory=list)


def separation_caption(label: str, seeds: int, epochs_note: str = "") -> str:
    """The caption: what the runs were, how the estimators were trained and what the cells hold."""
    return (f"Blind separation (mask estimator, {seeds} estimator seeds{epochs_note}) vs the oracle binary mask. Runs: "
            f"{label}. Cells: mean (± std over test segments, or tracks for BSSEval) [95 % interval of the mean over "
            "estimator seeds and segments]; SI-SDR on 1-segment pieces with active vocals, BSSEval v4 SDR the median "
            "over 1-s windows per track.")


def write_separation_table(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                           variant: str | None = None, out_dir: str | os.PathLike | None = None,
                           seeds: int | Sequence[int] = 3, specs: Sequence[RunSpec] = SEPARATION_SPECS,
                           stft: bool = True, excerpt: bool = True, bss: bool = True,
                           max_test_tracks: int | None = None, device: str = "cpu",
                           progress: bool = True) -> SeparationTables:
    """Evaluate (:func:`evaluate_separation`; cached scores are reused) and write the separation table.

    Files in ``out_dir`` (default ``<root>/tables/<profile>/``): ``separation.csv``, ``.md``, ``.tex`` (the
    formatted table, captioned with ``RunSet.label()``), ``separation_numbers.csv`` (unrounded) and
    ``separation_scores.csv`` (every value).
    """
    run_set = load_run_set(root, profile, variant)
    scores = evaluate_separation(root, run_set.profile, run_set.variant, seeds, specs, stft, excerpt, bss,
                                 max_test_tracks, device, progress=progress)
    numbers = separation_numbers(scores)
    table = separation_table(numbers)
    out = Path(out_dir) if out_dir is not None else Path(root) / "tables" / str(run_set.profile)
    caption = separation_caption(run_set.label(), len(estimator_seeds(seeds)))
    paths = write_table(table, out / "separation", caption=caption)
    for name, frame in (("separation_numbers.csv", numbers), ("separation_scores.csv", scores)):
        write_text(frame.to_csv(index=False), out / name)
        paths.append(out / name)
    return SeparationTables(table, numbers, scores, caption, paths)
