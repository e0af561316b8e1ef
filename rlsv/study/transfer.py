"""Trained runs evaluated on other audio than their own test set, for instance real MUSDB18 multitracks.

The synthetic corpus lets every user train; whether what the runs learned carries over to real music
is checked by evaluating their models, unchanged, on real multitracks: :func:`evaluate_on` gives the
``rlsv.study.results.load_runs``-like frame (one row per seed and test segment) of a run set on the
``test`` tracks of any MUSDB18-shaped folder, which the tables' statistics and intervals then read
(:func:`transfer_summary`). The run folders are not touched.

:func:`stempeg_excerpt` makes such a folder from the real 6 s MUSDB18 excerpt that ships with the
``stempeg`` package (a link, no copy), so that the check runs on any machine.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import pandas as pd

from rlsv.errors import ConfigError
from rlsv.run.files import MODEL
from rlsv.run.spec import RunSpec
from rlsv.study.intervals import interval_by_seed
from rlsv.study.results import RunSet, config_columns, select_specs

__all__ = ["STEMPEG_EXCERPT", "stempeg_excerpt", "evaluate_on", "transfer_summary"]

STEMPEG_EXCERPT = "The Easton Ellises - Falcon 69.stem.mp4"


def stempeg_excerpt(folder: str | os.PathLike) -> Path:
    """A MUSDB18 (``.stem.mp4``) folder in ``folder`` whose ``test/`` holds the real excerpt shipped with
    stempeg (linked); returns its root."""
    import stempeg

    source = Path(stempeg.__file__).parent / "data" / STEMPEG_EXCERPT
    if not source.is_file():
        raise FileNotFoundError(f"The stempeg package has no {STEMPEG_EXCERPT} (looked in {source.parent}).")
    root = Path(folder)
    (root / "test").mkdir(parents=True, exist_ok=True)
    link = root / "test" / STEMPEG_EXCERPT
    if not link.exists():
        link.symlink_to(source)
    return root


def evaluate_on(run_set: RunSet, dataset: str | os.PathLike, specs: Sequence[RunSpec] | None = None,
                device: str = "cpu", progress: bool = True) -> pd.DataFrame:
    """Every trained run of ``run_set`` (of ``specs``, when given) evaluated on the ``test`` tracks of
    ``dataset``, each model as it is: one row per run and kept test segment, columns
    ``rlsv.study.results.SEGMENT_FRAME_COLUMNS``."""
    from tqdm.auto import tqdm

    from rlsv.run.evaluate import evaluate_model, iter_test_segments, load_test_dataset
    from rlsv.run.model_file import load_run_model

    runs = [run for run in run_set.runs if run.spec.is_trained and (run.path / MODEL).is_file()
            and (specs is None or run.spec in specs)]
    if not runs:
        raise ConfigError(f"No trained run in the run set of {run_set.root} (profile {run_set.profile!r}).")
    segments: dict[int, list] = {}
    frames = []
    for run in tqdm(runs, desc="evaluate on other audio", unit="run", disable=not progress):
        model = load_run_model(run.path, MODEL, map_location=device)
        n = model.config.segment_length
        if n not in segments:
            data = load_test_dataset(dataset, segment_length=n, sample_rate=model.config.sample_rate,
                                     progress=False)
            segments[n] = list(iter_test_segments(data, n))
        frames.append(evaluate_model(model, segments[n]).assign(**config_columns(run.config)))
    return pd.concat(frames, ignore_index=True)


def transfer_summary(segments: pd.DataFrame, specs: Sequence[RunSpec]) -> pd.DataFrame:
    """Per grid point of ``specs``: the seed-balanced mean of each metric and its 95 % interval over seeds
    and segments, and the counts, from :func:`evaluate_on`'s frame."""
    rows = []
    for spec in specs:
        of_spec = select_specs(segments, [spec])
        if of_spec.empty:
            continue
        row = {**spec.as_columns(), "n_seeds": int(of_spec["seed"].nunique()),
               "n_segments": int(len(of_spec) // max(1, of_spec["seed"].nunique()))}
        for metric in ("additivity", "si_sdr_mask", "si_sdr"):
            stats = interval_by_seed(of_spec, metric)
            row |= {metric: stats["mean"], f"{metric}_ci_low": stats["ci_low"], f"{metric}_ci_high": stats["ci_high"]}
        rows.append(row)
    return pd.DataFrame(rows)
