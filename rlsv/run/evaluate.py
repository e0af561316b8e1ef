"""Evaluation of one run on the test tracks: SI-SDR reconstruction, oracle binary-mask SI-SDR, additivity.

Procedure (published code, ``docs/paper_vs_code.md`` rows 18-24): each test track, mono, cut into
non-overlapping segments of ``N`` samples (tail zero-padded), no mean removal, the real mixture;
segments whose vocals are silent (``10 log10(||v||_2) < -10``) are dropped. Per kept segment:

* ``si_sdr``: SI-SDR of ``D(E(v))`` against ``v`` (reconstruction);
* ``si_sdr_mask``: SI-SDR of ``D(E(m) * 1[E(v) / E(acc) > 0.5])`` against ``v`` (oracle binary mask);
* ``additivity``: ``1 - ||E(m) - E(v) - E(acc)||_1 / ||E(m)||_1``.

The STFT baseline (Table 2's last row) gives ``si_sdr_mask`` and ``additivity`` on the same segments.
Segments are processed in batches (the model acts on each segment independently, so the values
equal one-at-a-time evaluation up to float round-off); metrics are computed in float64.

How a run was evaluated (test tracks, mask rule, segment length, test data) is recorded as the
``evaluation`` entry of its ``config.json`` (:class:`EvaluationSettings`); :func:`run_test_dataset`
and :func:`run_test_segments` give back exactly those test tracks (figures, the explorer, the STFT
baseline on the same segments).
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, NamedTuple

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from rlsv.atomic import write_json, write_text
from rlsv.audio.musdb import MusdbDataset, fill_cache, resolve_dataset
from rlsv.audio.segments import TrackSegments, track_segments
from rlsv.core.fields import dataclass_kwargs
from rlsv.core.metrics import StftBaseline, additivity, oracle_binary_mask_estimate, si_sdr
from rlsv.core.model import DenoisingAutoencoder
from rlsv.errors import ConfigError
from rlsv.run.device import resolve_device
from rlsv.run.files import CONFIG, MODEL, SEGMENTS, SUMMARY
from rlsv.run.folder import RunFolder
from rlsv.run.model_file import load_run_model
from rlsv.run.status import read_status, write_status
from rlsv.run.summary import METRICS, summarise, summary_to_dict

__all__ = [
    "SEGMENT_COLUMNS",
    "EVALUATION",
    "EvalResult",
    "EvaluationSettings",
    "SegmentOutputs",
    "load_run_config",
    "load_test_dataset",
    "run_test_dataset",
    "run_test_segments",
    "cached_test_segments",
    "evaluation_set_id",
    "iter_test_segments",
    "segment_metrics",
    "evaluate_model",
    "evaluate_stft",
    "evaluate_run",
    "write_evaluation",
]

SEGMENT_COLUMNS: tuple[str, ...] = ("track", "segment", *METRICS)
"""Columns of ``segments.csv`` (``docs/run_layout.md``)."""

EVALUATION = "evaluation"
"""Key of the evaluation settings in a run's ``config.json``."""


@dataclass
class EvalResult:
    """Per-segment table (``SEGMENT_COLUMNS``) and its summary (rows: metrics; mean, std, median, count)."""

    segments: pd.DataFrame
    summary: pd.DataFrame
    output_dir: Path | None = None


@dataclass(frozen=True)
class EvaluationSettings:
    """How a run is evaluated; recorded as the ``evaluation`` entry of its ``config.json``.

    Attributes:
        max_test_tracks: only the first test tracks (None: all).
        mask_inclusive: the paper's ``>= 0.5`` binary mask instead of the published ``> 0.5``.
        segment_length: ``N`` of the evaluation segments (the model's; None: not known yet).
        dataset: test data root; None: the run's own dataset (``config.json``'s ``dataset``).
    """

    max_test_tracks: int | None = None
    mask_inclusive: bool = False
    segment_length: int | None = None
    dataset: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values, as stored in ``config.json``."""
        return asdict(self)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "EvaluationSettings":
        """The settings recorded in a run's ``config.json`` (defaults where none are recorded)."""
        recorded = config.get(EVALUATION) or {}
        return cls(**dataclass_kwargs(cls, recorded))


def load_run_config(run_dir: str | Path) -> dict[str, Any]:
    """``config.json`` of a run folder (``rlsv.run.folder.RunFolder``: a ``RunFolderError`` naming the file when it
    is absent or damaged)."""
    return RunFolder(run_dir).config


def load_test_dataset(root: str | Path | None = None, segment_length: int = 44100, sample_rate: int = 44100,
                      is_wav: bool | None = None, cache_dir: str | Path | None = None,
                      max_tracks: int | None = None, tracks: Collection[str] | None = None,
                      progress: bool = True) -> MusdbDataset:
    """The checked ``test`` subset (first ``max_tracks`` tracks; of those, only ``tracks`` when given),
    decoded into the cache."""
    dataset = resolve_dataset(root, is_wav=is_wav, subsets=("test",), segment_length=segment_length,
                              sample_rate=sample_rate, cache_dir=cache_dir, progress=progress)
    if max_tracks is not None:
        dataset = dataset.with_first_tracks("test", max_tracks)
    if tracks is not None:
        dataset = dataset.with_named_tracks("test", tracks)
    fill_cache(dataset, ("test",), progress=progress)
    return dataset


def run_test_dataset(config: Mapping[str, Any], settings: EvaluationSettings | None = None,
                     tracks: Collection[str] | None = None, progress: bool = False) -> MusdbDataset:
    """The test tracks of the run whose ``config.json`` is ``config``, decoded into the cache.

    Everything comes from the run: its dataset, format (``is_wav``), decode cache, sample rate and
    segment length (``model``), and the test tracks of ``settings`` (default: those recorded in
    ``config``, :meth:`EvaluationSettings.from_config`). ``tracks`` keeps only the named ones.
    """
    settings = settings if settings is not None else EvaluationSettings.from_config(config)
    model = config["model"]
    root = settings.dataset if settings.dataset is not None else config.get("dataset")
    return load_test_dataset(root, segment_length=int(model["segment_length"]), sample_rate=int(model["sample_rate"]),
                             is_wav=config.get("is_wav"), cache_dir=config.get("cache_dir"),
                             max_tracks=settings.max_test_tracks, tracks=tracks, progress=progress)


def evaluation_set_id(config: Mapping[str, Any]) -> str:
    """What identifies the test segments of the run whose ``config.json`` is ``config`` (dataset,
    segment length, test tracks): runs with the same id share them (callers that cache them)."""
    settings = EvaluationSettings.from_config(config)
    root = settings.dataset if settings.dataset is not None else config.get("dataset")
    return json.dumps([root, config["model"]["segment_length"], settings.max_test_tracks])


def iter_test_segments(dataset: MusdbDataset, segment_length: int, progress: bool = False,
                       desc: str = "evaluate") -> Iterator[TrackSegments]:
    """Each test track's evaluation segments (silent ones flagged), track by track, with a tqdm bar."""
    for track in tqdm(dataset.tracks("test"), desc=desc, unit="track", disable=not progress, leave=False):
        yield track_segments(dataset.load(track), segment_length)


def run_test_segments(run_dir: str | Path, tracks: Collection[str] | None = None, progress: bool = False,
                      config: Mapping[str, Any] | None = None) -> list[TrackSegments]:
    """The evaluation segments of every test track of ``run_dir`` (as it was evaluated), in memory.

    ``config``: the run's ``config.json`` when the caller has already read it (default: read here).
    """
    config = config if config is not None else load_run_config(run_dir)
    data = run_test_dataset(config, tracks=tracks, progress=progress)
    return list(iter_test_segments(data, int(config["model"]["segment_length"]), progress))


def cached_test_segments(run_dir: str | Path, cache: dict[str, list[TrackSegments]]) -> list[TrackSegments]:
    """:func:`run_test_segments` of ``run_dir``, read once per test set: ``cache`` (the caller's, keyed by
    :func:`evaluation_set_id`) hands the same list to every run evaluated on the same test segments."""
    config = load_run_config(run_dir)
    key = evaluation_set_id(config)
    if key not in cache:
        cache[key] = run_test_segments(run_dir, config=config)
    return cache[key]


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
    return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))


def _rows(ids: list[tuple[str, int]], metrics: Mapping[str, torch.Tensor], **fixed: float) -> list[dict]:
    """One row per segment of ``ids``: ``track``, ``segment``, the ``fixed`` values and its value of each
    of ``metrics`` (``(b,)`` tensors, any device)."""
    host = {name: v.cpu().numpy() for name, v in metrics.items()}
    return [{"track": t, "segment": k, **fixed, **{n: float(host[n][i]) for n in host}}
            for i, (t, k) in enumerate(ids)]


class SegmentOutputs(NamedTuple):
    """What :func:`segment_metrics` computes for a batch of ``b`` segments.

    Attributes:
        metrics: ``{"si_sdr", "si_sdr_mask", "additivity"}`` -> ``(b,)`` float64.
        representations: ``{"mixture", "vocals", "accompaniment"}`` -> ``(b, C, T)`` (unsorted channels).
        estimate: ``(b, N)`` the oracle binary-mask estimate of the vocals, ``D(E(m) * mask)``.
    """

    metrics: dict[str, torch.Tensor]
    representations: dict[str, torch.Tensor]
    estimate: torch.Tensor


@torch.no_grad()
def segment_metrics(model: DenoisingAutoencoder, mixture: torch.Tensor, vocals: torch.Tensor,
                    accompaniment: torch.Tensor, mask_inclusive: bool = False) -> SegmentOutputs:
    """Encode a batch of segments (each signal ``(b, N)`` float32, on the model's device) and compute
    their metrics: reconstruction SI-SDR, binary-mask SI-SDR and additivity (in float64)."""
    b = len(mixture)
    a_mix, a_voc, a_acc = model.encode(torch.cat([mixture, vocals, accompaniment])).split(b)
    reconstruction = model.decode(a_voc)
    estimate = oracle_binary_mask_estimate(model.decode, a_mix, a_voc, a_acc, inclusive=mask_inclusive)
    reference = vocals.double()
    metrics = {
        "si_sdr": si_sdr(reference, reconstruction.double()),
        "si_sdr_mask": si_sdr(reference, estimate.double()),
        "additivity": additivity(a_mix.double(), a_voc.double(), a_acc.double()),
    }
    return SegmentOutputs(metrics, {"mixture": a_mix, "vocals": a_voc, "accompaniment": a_acc}, estimate)


@torch.no_grad()
def evaluate_model(model: DenoisingAutoencoder, tracks: Iterable[TrackSegments], batch_size: int = 16,
                   mask_inclusive: bool = False) -> pd.DataFrame:
    """One row per kept segment (``SEGMENT_COLUMNS``) for ``model`` on ``tracks``.

    Args:
        model: trained autoencoder (its device is used).
        tracks: evaluation segments per track (:func:`iter_test_segments`).
        batch_size: segments encoded together.
        mask_inclusive: the paper's ``>= 0.5`` mask instead of the published ``> 0.5``.
    """
    device = next(model.parameters()).device
    model.eval()
    rows: list[dict] = []
    for ids, *signals in _kept_batches(tracks, batch_size):
        mixture, vocals, accompaniment = (torch.from_numpy(x).to(device) for x in signals)
        rows += _rows(ids, segment_metrics(model, mixture, vocals, accompaniment, mask_inclusive).metrics)
    return _frame(rows)


def evaluate_stft(tracks: Iterable[TrackSegments], baseline: StftBaseline | None = None,
                  batch_size: int = 16) -> pd.DataFrame:
    """The STFT baseline on the same kept segments; ``si_sdr`` (reconstruction) is NaN."""
    baseline = baseline or StftBaseline()
    rows: list[dict] = []
    for ids, mixture, vocals, accompaniment in _kept_batches(tracks, batch_size):
        out = baseline(*(torch.from_numpy(x) for x in (mixture, vocals, accompaniment)))
        rows += _rows(ids, out, si_sdr=math.nan)
    return _frame(rows)


def write_evaluation(segments: pd.DataFrame, output_dir: str | Path) -> EvalResult:
    """Write ``segments.csv`` and ``summary.json`` (atomically) and return both tables."""
    output_dir = Path(output_dir)
    summary = summarise(segments)
    write_text(segments.to_csv(index=False), output_dir / SEGMENTS)
    write_json(summary_to_dict(summary), output_dir / SUMMARY)
    return EvalResult(segments, summary, output_dir)


def _record_settings(run_dir: Path, config: Mapping[str, Any], settings: EvaluationSettings) -> None:
    """Store ``settings`` as the ``evaluation`` entry of ``config.json`` (a run without one gets none)."""
    if (run_dir / CONFIG).is_file():
        write_json({**config, EVALUATION: settings.to_dict()}, run_dir / CONFIG)


def evaluate_run(run_dir: str | Path, dataset: str | Path | None = None, device: str = "auto",
                 max_tracks: int | None = None, batch_size: int = 16, mask_inclusive: bool = False,
                 progress: bool = True) -> EvalResult:
    """Evaluate the trained model of ``run_dir`` and write ``segments.csv``/``summary.json`` next to it.

    The test data is the run's own (its ``config.json``: dataset, format, decode cache);
    ``dataset`` overrides the root. The settings used (``max_tracks``, ``mask_inclusive``, the
    segment length, ``dataset``) are recorded as ``config.json``'s ``evaluation`` entry.
    """
    run_dir = Path(run_dir)
    model_path = run_dir / MODEL
    if not model_path.is_file():
        raise FileNotFoundError(f"No trained model at {model_path}; train the run first (rlsv train).")
    if max_tracks is not None and max_tracks < 1:
        raise ConfigError(f"max_tracks (--max-tracks) must be >= 1 or None (all test tracks), got {max_tracks}.")
    if batch_size < 1:
        raise ConfigError(f"batch_size (--batch-size) must be >= 1, got {batch_size}.")
    config = load_run_config(run_dir) if (run_dir / CONFIG).is_file() else {}  # a model.pt saved without fit
    model = load_run_model(run_dir, MODEL, map_location=resolve_device(device))  # checked against config.json
    n = model.config.segment_length
    settings = EvaluationSettings(max_tracks, mask_inclusive, n, None if dataset is None else str(dataset))
    data = run_test_dataset({**config, "model": model.config.to_dict()}, settings, progress=progress)
    segments = evaluate_model(model, iter_test_segments(data, n, progress), batch_size, mask_inclusive)
    result = write_evaluation(segments, run_dir)
    _record_settings(run_dir, config, settings)
    if (read_status(run_dir) or {}).get("state") == "pending":  # trained (rlsv train), waiting for this evaluation
        write_status(run_dir, "done")
    return result
