"""Evaluation of one run on the test tracks: SI-SDR reconstruction, oracle binary-mask SI-SDR, additivity.

Procedure (published code, SPEC-NOTES "Evaluation (code)"): each test track, mono, cut into
non-overlapping segments of ``N`` samples (tail zero-padded), no mean removal, the real mixture;
segments whose vocals are silent (``10 log10(||v||_2) < -10``) are dropped. Per kept segment:

* ``si_sdr``: SI-SDR of ``D(E(v))`` against ``v`` (reconstruction);
* ``si_sdr_mask``: SI-SDR of ``D(E(m) * 1[E(v) / E(acc) > 0.5])`` against ``v`` (oracle binary mask);
* ``additivity``: ``1 - ||E(m) - E(v) - E(acc)||_1 / ||E(m)||_1``.

The STFT baseline (Table 2's last row) gives ``si_sdr_mask`` and ``additivity`` on the same segments.
Segments are processed in batches (the model acts on each segment independently, so the values
equal one-at-a-time evaluation up to float round-off); metrics are computed in float64.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from .atomic import write_json, write_text
from .data import MusdbDataset, fill_cache, resolve_dataset
from .metrics import StftBaseline, additivity, binary_mask, si_sdr
from .model import DenoisingAutoencoder, load_model
from .segments import TrackSegments, track_segments
from .summary import summarise, summary_to_dict
from .device import resolve_device
from .run_files import CONFIG, MODEL, SEGMENTS, SUMMARY

__all__ = [
    "SEGMENT_COLUMNS",
    "EvalResult",
    "load_test_dataset",
    "iter_test_segments",
    "evaluate_model",
    "evaluate_stft",
    "evaluate_run",
    "write_evaluation",
]

SEGMENT_COLUMNS = ["track", "segment", "si_sdr", "si_sdr_mask", "additivity"]


@dataclass
class EvalResult:
    """Per-segment table (``SEGMENT_COLUMNS``) and its summary (rows: metrics; mean, std, median, count)."""

    segments: pd.DataFrame
    summary: pd.DataFrame
    output_dir: Path | None = None


def load_test_dataset(root: str | Path | None = None, segment_length: int = 44100, sample_rate: int = 44100,
                 is_wav: bool | None = None, cache_dir: str | Path | None = None,
                 max_tracks: int | None = None, progress: bool = True) -> MusdbDataset:
    """The checked ``test`` subset (first ``max_tracks`` tracks), decoded into the cache."""
    dataset = resolve_dataset(root, is_wav=is_wav, subsets=("test",), segment_length=segment_length,
                              sample_rate=sample_rate, cache_dir=cache_dir, progress=progress)
    if max_tracks is not None:
        dataset = dataset.with_first_tracks("test", max_tracks)
    fill_cache(dataset, ("test",), progress=progress)
    return dataset


def iter_test_segments(dataset: MusdbDataset, segment_length: int, progress: bool = False,
                       desc: str = "evaluate") -> Iterator[TrackSegments]:
    """Each test track's evaluation segments (silent ones flagged), track by track, with a tqdm bar."""
    for track in tqdm(dataset.tracks("test"), desc=desc, unit="track", disable=not progress, leave=False):
        yield track_segments(dataset.load(track), segment_length)


def _kept_batches(tracks: Iterable[TrackSegments], batch_size: int
                  ) -> Iterator[tuple[list[tuple[str, int]], np.ndarray, np.ndarray, np.ndarray]]:
    """Batches of kept segments: ``(ids, mixture, vocals, accompaniment)``, signals ``(b, N)``."""
    ids: list[tuple[str, int]] = []
    signals: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for segs in tracks:
        for k in np.flatnonzero(segs.active):
            ids.append((segs.track, int(k)))
            signals.append((segs.mixture[k], segs.vocals[k], segs.accompaniment[k]))
            if len(ids) == batch_size:
                yield ids, *(np.stack(s) for s in zip(*signals))
                ids, signals = [], []
    if ids:
        yield ids, *(np.stack(s) for s in zip(*signals))


def _frame(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=SEGMENT_COLUMNS)


@torch.no_grad()
def evaluate_model(model: DenoisingAutoencoder, tracks: Iterable[TrackSegments], batch_size: int = 16,
                   mask_inclusive: bool = False) -> pd.DataFrame:
    """One row per kept segment (``SEGMENT_COLUMNS``) for ``model`` on ``tracks``.

    Args:
        model: trained autoencoder (its device is used).
        tracks: evaluation segments per track (``test_segments``).
        batch_size: segments encoded together.
        mask_inclusive: the paper's ``>= 0.5`` mask instead of the published ``> 0.5``.
    """
    device = next(model.parameters()).device
    model.eval()
    rows: list[dict] = []
    for ids, mixture, vocals, accompaniment in _kept_batches(tracks, batch_size):
        b = len(ids)
        signals = torch.from_numpy(np.concatenate([mixture, vocals, accompaniment])).to(device)
        a_mix, a_voc, a_acc = model.encode(signals).split(b)
        reconstruction = model.decode(a_voc)
        separated = model.decode(a_mix * binary_mask(a_voc, a_acc, inclusive=mask_inclusive))
        reference = signals[b:2 * b].double()
        values = {
            "si_sdr": si_sdr(reference, reconstruction.double()),
            "si_sdr_mask": si_sdr(reference, separated.double()),
            "additivity": additivity(a_mix.double(), a_voc.double(), a_acc.double()),
        }
        host = {name: v.cpu().numpy() for name, v in values.items()}
        rows += [{"track": t, "segment": k, **{n: float(host[n][i]) for n in host}} for i, (t, k) in enumerate(ids)]
    return _frame(rows)


def evaluate_stft(tracks: Iterable[TrackSegments], baseline: StftBaseline | None = None,
                  batch_size: int = 16) -> pd.DataFrame:
    """The STFT baseline on the same kept segments; ``si_sdr`` (reconstruction) is NaN."""
    baseline = baseline or StftBaseline()
    rows: list[dict] = []
    for ids, mixture, vocals, accompaniment in _kept_batches(tracks, batch_size):
        out = baseline(*(torch.from_numpy(x) for x in (mixture, vocals, accompaniment)))
        host = {name: v.cpu().numpy() for name, v in out.items()}
        rows += [{"track": t, "segment": k, "si_sdr": math.nan, "si_sdr_mask": float(host["si_sdr_mask"][i]),
                  "additivity": float(host["additivity"][i])} for i, (t, k) in enumerate(ids)]
    return _frame(rows)


def write_evaluation(segments: pd.DataFrame, output_dir: str | Path) -> EvalResult:
    """Write ``segments.csv`` and ``summary.json`` (atomically) and return both tables."""
    output_dir = Path(output_dir)
    summary = summarise(segments)
    write_text(segments.to_csv(index=False), output_dir / SEGMENTS)
    write_json(summary_to_dict(summary), output_dir / SUMMARY)
    return EvalResult(segments, summary, output_dir)


def evaluate_run(run_dir: str | Path, dataset: str | Path | None = None, device: str = "auto",
                 max_tracks: int | None = None, batch_size: int = 16, mask_inclusive: bool = False,
                 progress: bool = True) -> EvalResult:
    """Evaluate the trained model of ``run_dir`` and write ``segments.csv``/``summary.json`` next to it.

    The test data defaults to the run's own dataset (its ``config.json``); ``dataset`` overrides it.
    """
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL
    if not model_path.is_file():
        raise FileNotFoundError(f"No trained model at {model_path}; train the run first (rlsv train).")
    config = json.loads((run_dir / CONFIG).read_text()) if (run_dir / CONFIG).is_file() else {}
    model = load_model(model_path, map_location=resolve_device(device))
    n = model.config.segment_length
    data = load_test_dataset(dataset if dataset is not None else config.get("dataset"), segment_length=n,
                        sample_rate=model.config.sample_rate, is_wav=config.get("is_wav"),
                        cache_dir=config.get("cache_dir"), max_tracks=max_tracks, progress=progress)
    segments = evaluate_model(model, iter_test_segments(data, n, progress), batch_size, mask_inclusive)
    return write_evaluation(segments, run_dir)
