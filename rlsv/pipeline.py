"""One run, step by step, as notebooks 01-03, the sweeps and the explorer call it.

A run is described by :class:`RunParameters` (the parameters cell of ``02_train.ipynb`` and
``03_evaluate.ipynb``): a grid point (objective, omega, lambda, p), a profile (``quick`` or
``paper``, ``rlsv.profiles``) and optional overrides of the profile's sizes. Its folder is
``<output_root>/<run-id>/`` (``docs/run_layout.md``).

* :func:`dataset_root` / :func:`prepare_data` -- the tracks of a profile: its synthetic corpus
  (``quick``, written on first use) or MUSDB18 (``paper``: ``$MUSDB_PATH``), decoded into the cache.
* :func:`run_training` -- ``fit`` the run (resumes from ``checkpoint.pt``), ``status.json`` kept up to date.
* :func:`run_evaluation` -- evaluate a trained run, or the STFT baseline (objective ``"stft"``).
* :func:`stft_on_same_segments` -- the STFT baseline on the segments a run was evaluated on.
* :func:`read_status`, :func:`write_status`, :func:`record_failure` -- ``status.json``.
* :func:`pick_segment`, :func:`represent_segment` -- one test segment (of
  ``rlsv.evaluate.run_test_segments``) through a trained model: sorted representations, carrier
  Hz, mask estimate and metrics (Figures 2 and 4, the explorer).

States in ``status.json``: ``running`` while a step runs (a ``running`` left by a killed process
is resumed by the next sweep), ``pending`` when trained and waiting for its evaluation, ``done``
when evaluated, ``failed`` with the error.
"""

from __future__ import annotations

import json
import math
import os
import socket
import traceback
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import numpy as np
import pandas as pd

from .atomic import write_json
from .configs import dataclass_kwargs
from .evaluate import (EVALUATION, EvaluationSettings, evaluate_run, evaluate_stft, iter_test_segments,
                       run_test_dataset, run_test_segments, segment_metrics, write_evaluation)
from .grids import OBJECTIVES, USED_PARAMETERS, RunSpec, run_id
from .model import ModelConfig
from .profiles import Profile, get_profile
from .run_files import CONFIG, SEGMENTS, STATUS
from .runs import read_status
from .synth import corpus_root

__all__ = [
    "RunParameters",
    "or_default",
    "set_threads",
    "synthetic_root",
    "dataset_root",
    "prepare_data",
    "read_status",
    "write_status",
    "describe_error",
    "record_failure",
    "run_training",
    "run_evaluation",
    "stft_config",
    "planned_config",
    "stft_on_same_segments",
    "SegmentView",
    "pick_segment",
    "represent_segment",
]

_GRID_PARAMETERS: tuple[str, ...] = ("omega", "lam", "p")
_T = TypeVar("_T")


def or_default(value: _T | None, default: _T) -> _T:
    """``value`` unless it is None: an override (or a command-line option) that was not given.

    An override of 0 stays 0, and is then refused as such (``--epochs 0`` is not "the profile's").
    """
    return default if value is None else value


def _plain(value: Any) -> Any:
    """JSON/papermill-friendly scalars: numpy numbers to Python, NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class RunParameters:
    """Everything that identifies a run: the notebooks' parameters (JSON-friendly values only).

    Attributes:
        objective: ``"tv"`` (L_A), ``"sinkhorn"`` (L_B) or ``"stft"`` (the untrained baseline).
        omega, lam, p: the grid point; parameters the objective does not use are set to None
            (``p`` defaults to 1 for ``"sinkhorn"``).
        profile: ``"quick"`` or ``"paper"`` (``rlsv.profiles``): sizes, epochs and data.
        epochs, batch_size, learning_rate, max_train_tracks, max_test_tracks: override the
            profile's values (None: the profile's).
        model: ``ModelConfig`` fields overriding the profile's model, e.g. ``{"channels": 16}``.
        dataset: dataset root; None: the profile's data (see :func:`dataset_root`).
        seed: training seed (published: 218).
    """

    objective: str = "tv"
    omega: float | None = 1.0
    lam: float | None = None
    p: int | None = None
    profile: str = "quick"
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_train_tracks: int | None = None
    max_test_tracks: int | None = None
    model: Mapping[str, Any] | None = None
    dataset: str | None = None
    seed: int = 218

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ValueError(f"Unknown objective {self.objective!r}; use 'tv' (L_A), 'sinkhorn' (L_B) or 'stft'.")
        for name in _GRID_PARAMETERS:  # what the objective does not use is dropped (rlsv.grids)
            if name not in USED_PARAMETERS[self.objective]:
                object.__setattr__(self, name, None)
        if self.objective == "sinkhorn" and self.p is None:
            object.__setattr__(self, "p", 1)
        if self.p is not None:
            if float(self.p) != int(float(self.p)):
                raise ValueError(f"p must be a whole number (1 or 2), got {self.p!r}.")
            object.__setattr__(self, "p", int(float(self.p)))
        for name in ("omega", "lam"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.model is not None:
            object.__setattr__(self, "model", dict(self.model))
        if self.dataset is not None:
            object.__setattr__(self, "dataset", str(self.dataset))
        self.spec  # validates omega, lam, p for the objective
        self.profile_config  # validates the profile name
        self.model_config()  # validates the model overrides

    @classmethod
    def for_spec(cls, spec: RunSpec, profile: str = "quick", **overrides: Any) -> "RunParameters":
        """The parameters of grid point ``spec`` at ``profile``, with optional overrides."""
        return cls(objective=spec.objective, omega=spec.omega, lam=spec.lam, p=spec.p, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunParameters":
        """From a mapping (e.g. notebook parameters); unknown keys are an error."""
        return cls(**{k: _plain(v) for k, v in dataclass_kwargs(cls, data).items()})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> "RunParameters":
        """From a namespace that holds every field among other names: a notebook's ``globals()``
        after its parameters cell (``RunParameters.from_namespace(globals())``)."""
        missing = [f.name for f in fields(cls) if f.name not in namespace]
        if missing:
            raise ValueError(f"The parameters cell does not set {missing}.")
        return cls.from_dict({f.name: namespace[f.name] for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the papermill parameters of the run)."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def spec(self) -> RunSpec:
        return RunSpec(self.objective, self.omega, self.lam, None if self.p is None else float(self.p))

    @property
    def run_id(self) -> str:
        """The run folder name, ``docs/run_layout.md`` (e.g. ``quick-sinkhorn-p1-l1.5-w4``)."""
        return run_id(self.spec, self.profile)

    def check_run_id(self, expected: str | None) -> str:
        """The run id, checked against a requested one (None: no request).

        Run folders under a runs root must carry the grid name of their configuration
        (``docs/run_layout.md``) for tables, figures and sweeps to find them; to keep runs apart,
        use another ``output_root`` instead.
        """
        if expected is not None and expected != self.run_id:
            raise ValueError(f"run_id {expected!r} does not match these parameters, whose run is {self.run_id!r} "
                             "(docs/run_layout.md). Leave run_id=None, or use another output_root to keep runs apart.")
        return self.run_id

    @property
    def profile_config(self) -> Profile:
        return get_profile(self.profile)

    @property
    def is_trained(self) -> bool:
        """Whether the run trains an autoencoder (every objective but the STFT baseline)."""
        return self.spec.is_trained

    def model_config(self) -> ModelConfig:
        """The profile's model with the ``model`` overrides applied."""
        base = self.profile_config.model
        if not self.model:
            return base
        return replace(base, **dataclass_kwargs(ModelConfig, self.model))

    def test_tracks(self) -> int | None:
        """How many test tracks the run is evaluated on (None: all)."""
        return or_default(self.max_test_tracks, self.profile_config.max_test_tracks)

    def evaluation_settings(self) -> EvaluationSettings:
        """How the run is evaluated (recorded in ``config.json``; a sweep compares it before skipping)."""
        return EvaluationSettings(max_test_tracks=self.test_tracks(), segment_length=self.model_config().segment_length)

    def train_config(self, dataset: str | os.PathLike | None = None, device: str = "auto"):
        """The ``rlsv.train.TrainConfig`` of this run (``dataset`` overrides ``self.dataset``)."""
        from .train import TrainConfig

        if not self.is_trained:
            raise ValueError("The STFT baseline is not trained; evaluate it with run_evaluation().")
        profile = self.profile_config
        root = dataset if dataset is not None else self.dataset
        return TrainConfig(
            objective=self.objective, omega=self.omega, lam=self.lam, p=self.p,
            epochs=or_default(self.epochs, profile.epochs),
            batch_size=or_default(self.batch_size, profile.batch_size),
            learning_rate=or_default(self.learning_rate, profile.learning_rate), seed=self.seed,
            model=self.model_config(), dataset=None if root is None else str(root),
            max_train_tracks=or_default(self.max_train_tracks, profile.max_train_tracks),
            device=device, run_id=self.run_id, profile=self.profile,
        )


# --------------------------------------------------------------------------- environment and data


def set_threads(threads: int | None) -> None:
    """Limit torch's CPU threads for this process (None: leave torch's default)."""
    if threads is None:
        return
    import torch

    threads = int(threads)
    if threads < 1:
        raise ValueError(f"threads must be >= 1 or None, got {threads}.")
    torch.set_num_threads(threads)


def synthetic_root(profile: str | Profile) -> Path:
    """Folder of a profile's synthetic corpus (absolute): ``rlsv.synth.corpus_root`` of its name,
    ``<$RLSV_DATA or checkout/data>/synthetic-<profile>``; the ``quick`` one is the default corpus
    (``rlsv.synth.default_synthetic_root``)."""
    return corpus_root(profile.name if isinstance(profile, Profile) else get_profile(profile).name)


def dataset_root(profile: str | Profile = "quick", dataset: str | os.PathLike | None = None,
                 progress: bool = True) -> Path:
    """The dataset folder of a run, absolute; writes the profile's synthetic corpus if needed.

    ``dataset`` when given; else, for a profile with ``data="synthetic"`` (``quick``) its own
    synthetic corpus (:func:`synthetic_root`, written on first use with the profile's
    ``synthetic_tracks``); for ``data="musdb"`` (``paper``) ``$MUSDB_PATH``.

    Raises:
        rlsv.data.DatasetNotFoundError: ``paper`` without ``dataset`` and without ``$MUSDB_PATH``.
    """
    from .data import DatasetNotFoundError
    from .synth import make_corpus

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    if dataset is not None:
        return Path(dataset).expanduser().resolve()
    if profile.data == "synthetic":
        root = synthetic_root(profile)
        n_train, n_test, seconds = profile.synthetic_tracks
        return make_corpus(root, n_train=n_train, n_test=n_test, duration_s=seconds, progress=progress).resolve()
    musdb = os.environ.get("MUSDB_PATH")
    if not musdb:
        raise DatasetNotFoundError(
            f"The {profile.name!r} profile trains on MUSDB18: set MUSDB_PATH to the folder holding train/ and "
            "test/ (or pass a dataset root, --dataset). Get MUSDB18 from https://sigsep.github.io/datasets/musdb.html. "
            "To try the pipeline without it, use the quick profile (synthetic corpus)."
        )
    return Path(musdb).expanduser().resolve()


def prepare_data(params: RunParameters, progress: bool = True) -> Path:
    """Find (or write) the run's dataset, check it and decode every track into the cache.

    Done once before a sweep starts, so that parallel runs never write the same corpus or cache
    entry. Returns the absolute dataset root.
    """
    from .data import fill_cache, resolve_dataset

    root = dataset_root(params.profile, params.dataset, progress)
    model = params.model_config()
    data = resolve_dataset(root, segment_length=model.segment_length, sample_rate=model.sample_rate,
                           progress=progress)
    fill_cache(data, progress=progress)
    return root


# --------------------------------------------------------------------------- status.json


def write_status(run_dir: str | os.PathLike, state: str, error: str | None = None, **extra: Any) -> dict[str, Any]:
    """Write ``status.json`` atomically: ``state``, ``error``, ``updated`` (UTC ISO), ``pid``, ``host``."""
    if state not in ("pending", "running", "done", "failed"):
        raise ValueError(f"Unknown state {state!r}.")
    status = {"state": state, "error": error, "updated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "pid": os.getpid(), "host": socket.gethostname(), **extra}
    write_json(status, Path(run_dir) / STATUS)
    return status


def describe_error(error: BaseException) -> str:
    """One line for ``status.json``: exception type and message (papermill errors: the cell's error)."""
    ename, evalue = getattr(error, "ename", None), getattr(error, "evalue", None)
    if ename:
        return f"{ename}: {evalue}"
    message = str(error) or repr(error)
    return f"{type(error).__name__}: {message}"


def record_failure(run_dir: str | os.PathLike, error: BaseException, note: str = "") -> str:
    """Write ``status.json`` as ``failed``: the error's line (:func:`describe_error`) plus ``note``, and
    the end of its traceback; return the line."""
    message = describe_error(error) + note
    write_status(run_dir, "failed", message, traceback="".join(traceback.format_exception(error))[-4000:])
    return message


# --------------------------------------------------------------------------- train and evaluate


def _run_dir(params: RunParameters, output_root: str | os.PathLike) -> Path:
    return Path(output_root).expanduser().resolve() / params.run_id


def run_training(params: RunParameters, output_root: str | os.PathLike = "papermill_runs", device: str = "auto",
               progress: bool = True, callback: Callable[[pd.DataFrame], None] | None = None,
               threads: int | None = None):
    """Train the run into ``<output_root>/<run-id>/`` (resuming a checkpoint); return the ``FitResult``.

    ``status.json``: ``running`` during training, ``pending`` afterwards (waiting for
    :func:`run_evaluation`; a run that was ``done`` and had nothing left to train stays ``done``),
    ``failed`` with the error if training raises (the exception is re-raised).
    """
    from .train import fit

    set_threads(threads)
    if not params.is_trained:
        raise ValueError("The STFT baseline is not trained; run the evaluation step (03_evaluate) only.")
    run_dir = _run_dir(params, output_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    before = read_status(run_dir) or {}
    write_status(run_dir, "running")
    try:
        config = params.train_config(dataset_root(params.profile, params.dataset, progress), device)
        result = fit(config, run_dir, progress=progress, callback=callback)
    except Exception as error:
        record_failure(run_dir, error)
        raise
    unchanged = before.get("state") == "done" and result.resumed_from_epoch >= config.epochs
    write_status(run_dir, "done" if unchanged else "pending")
    return result


def stft_config(params: RunParameters, root: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of an STFT baseline run (``docs/run_layout.md``): segment length from the
    profile's model, the evaluation settings under ``evaluation``."""
    from .metrics import StftBaseline

    baseline = StftBaseline()
    return {"run_id": params.run_id, "profile": params.profile, "objective": "stft", "omega": None, "lam": None,
            "p": None, "epochs": None, "seed": None, "model": params.model_config().to_dict(),
            "dataset": str(root), EVALUATION: params.evaluation_settings().to_dict(),
            "stft": {"n_fft": baseline.n_fft, "hop": baseline.hop, "window": baseline.window}}


def planned_config(params: RunParameters, dataset: str | os.PathLike, device: str = "auto") -> dict[str, Any]:
    """The ``config.json`` a run with ``params`` will have once evaluated (JSON values): the training
    configuration and the evaluation settings, or the STFT baseline's (:func:`stft_config`)."""
    if not params.is_trained:
        return json.loads(json.dumps(stft_config(params, dataset)))
    return params.train_config(dataset, device).to_json() | {EVALUATION: params.evaluation_settings().to_dict()}


def _evaluate_stft_run(params: RunParameters, run_dir: Path, progress: bool):
    """The STFT baseline run: write its ``config.json``, then evaluate it on that configuration's test tracks."""
    config = stft_config(params, dataset_root(params.profile, params.dataset, progress))
    write_json(config, run_dir / CONFIG)
    data = run_test_dataset(config, progress=progress)
    return write_evaluation(evaluate_stft(iter_test_segments(data, config["model"]["segment_length"], progress)),
                            run_dir)


def run_evaluation(params: RunParameters, output_root: str | os.PathLike = "papermill_runs", device: str = "auto",
                   progress: bool = True, threads: int | None = None):
    """Evaluate the run in ``<output_root>/<run-id>/``; return the ``EvalResult`` (segments, summary).

    A trained run needs its ``model.pt``; the STFT baseline (objective ``"stft"``) writes its own
    ``config.json`` first. Writes ``segments.csv`` and ``summary.json`` and records the evaluation
    settings (:meth:`RunParameters.evaluation_settings`) in ``config.json``; ``status.json``
    becomes ``done`` (or ``failed`` with the error, re-raised).
    """
    set_threads(threads)
    run_dir = _run_dir(params, output_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_status(run_dir, "running")
    try:
        if params.is_trained:
            settings = params.evaluation_settings()
            result = evaluate_run(run_dir, device=device, max_tracks=settings.max_test_tracks,
                                  mask_inclusive=settings.mask_inclusive, progress=progress)
        else:
            result = _evaluate_stft_run(params, run_dir, progress)
    except Exception as error:
        record_failure(run_dir, error)
        raise
    write_status(run_dir, "done")
    return result


def stft_on_same_segments(run_dir: str | os.PathLike, progress: bool = False) -> pd.DataFrame:
    """The STFT baseline on the test segments ``run_dir`` was evaluated on (same tracks, same N).

    The tracks are those of the run's ``segments.csv`` (only they are read and decoded); the
    segments kept are the same because the silence rule depends on the vocals only.
    """
    evaluated = set(pd.read_csv(Path(run_dir) / SEGMENTS, dtype={"track": str})["track"])
    return evaluate_stft(run_test_segments(run_dir, tracks=evaluated, progress=progress))


# --------------------------------------------------------------------------- one segment through a model


def pick_segment(tracks: Sequence, track: str | int | None = None, segment: int | None = None) -> tuple[int, int]:
    """``(track index, segment index)`` of a kept (non-silent) test segment.

    Args:
        tracks: ``TrackSegments`` of the test tracks (``rlsv.evaluate.run_test_segments``).
        track: a track name or index (None: the first track).
        segment: a segment index within the track (None: its kept segment with the loudest vocals).
    """
    if not tracks:
        raise ValueError("No test tracks.")
    if track is None:
        t = 0
    elif isinstance(track, (int, np.integer)):
        t = int(track)
        if not 0 <= t < len(tracks):
            raise ValueError(f"track index {t} out of range (0..{len(tracks) - 1}).")
    else:
        names = [ts.track for ts in tracks]
        if track not in names:
            raise ValueError(f"No test track {track!r}; tracks: {names}.")
        t = names.index(track)
    kept = np.flatnonzero(tracks[t].active)
    if segment is None:
        if not len(kept):
            raise ValueError(f"Track {tracks[t].track!r} has no segment with audible vocals.")
        energy = np.sum(np.square(tracks[t].vocals[kept], dtype=np.float64), axis=1)
        return t, int(kept[int(np.argmax(energy))])
    if not 0 <= segment < len(tracks[t]):
        raise ValueError(f"segment {segment} out of range for {tracks[t].track!r} (0..{len(tracks[t]) - 1}).")
    return t, int(segment)


@dataclass
class SegmentView:
    """One test segment through one model (Figures 2/4, the explorer).

    Attributes:
        reps: ``{"mixture", "vocals", "accompaniment"}`` -> ``A`` ``(C, T)``, channels sorted by carrier.
        carrier_hz: ``(C,)`` ascending carrier frequencies in Hz (same order).
        signals: ``{"mixture", "vocals", "accompaniment", "estimate"}`` -> ``(N,)`` float32; ``estimate``
            is the oracle binary-mask estimate of the vocals, ``D(A_m * mask)``.
        si_sdr, si_sdr_mask, additivity: the segment's metrics (dB, dB, fraction).
        sample_rate, frame_rate_hz: for audio players and time axes.
    """

    reps: dict[str, np.ndarray]
    carrier_hz: np.ndarray
    signals: dict[str, np.ndarray]
    si_sdr: float
    si_sdr_mask: float
    additivity: float
    sample_rate: int
    frame_rate_hz: float
    label: str = field(default="")


def represent_segment(model, mixture: np.ndarray, vocals: np.ndarray, accompaniment: np.ndarray,
                      mask_inclusive: bool = False, label: str = "") -> SegmentView:
    """Encode one segment's three signals (each ``(N,)``) and compute its metrics, as the evaluation
    does (``rlsv.evaluate.segment_metrics`` on a batch of one)."""
    import torch

    device = next(model.parameters()).device
    model.eval()
    signals = {"mixture": mixture, "vocals": vocals, "accompaniment": accompaniment}
    batch = {name: torch.from_numpy(np.asarray(x, np.float32)[None]).to(device) for name, x in signals.items()}
    outputs = segment_metrics(model, *batch.values(), mask_inclusive=mask_inclusive)
    with torch.no_grad():
        reps = {name: model.sort_channels(a)[0].cpu().numpy() for name, a in outputs.representations.items()}
        carrier_hz = model.carrier_frequencies_hz(sort=True).cpu().numpy()
    metrics = {name: float(value[0]) for name, value in outputs.metrics.items()}
    return SegmentView(
        reps=reps, carrier_hz=carrier_hz,
        signals={**{name: np.asarray(x, np.float32) for name, x in signals.items()},
                 "estimate": outputs.estimate[0].cpu().numpy().astype(np.float32)},
        si_sdr=metrics["si_sdr"], si_sdr_mask=metrics["si_sdr_mask"], additivity=metrics["additivity"],
        sample_rate=model.config.sample_rate, frame_rate_hz=model.config.sample_rate / model.config.stride,
        label=label,
    )
