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
* :func:`read_status`, :func:`write_status` -- ``status.json``.
* :func:`test_segments`, :func:`pick_segment`, :func:`represent_segment` -- one test segment
  through a trained model: sorted representations, carrier Hz, mask estimate and metrics
  (Figures 2 and 4, the explorer).

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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .atomic import write_json
from .configs import dataclass_kwargs
from .grids import RunSpec, run_id
from .model import ModelConfig
from .profiles import Profile, get_profile
from .run_files import CONFIG, SEGMENTS, STATUS

__all__ = [
    "STATUS",
    "RunParameters",
    "set_threads",
    "synthetic_root",
    "dataset_root",
    "prepare_data",
    "read_status",
    "write_status",
    "describe_error",
    "run_training",
    "run_evaluation",
    "stft_config",
    "stft_on_same_segments",
    "SegmentView",
    "load_run_config",
    "test_segments",
    "pick_segment",
    "represent_segment",
]

_NOT_USED: dict[str, tuple[str, ...]] = {"tv": ("lam", "p"), "sinkhorn": (), "stft": ("omega", "lam", "p")}


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
        if self.objective not in _NOT_USED:
            raise ValueError(f"Unknown objective {self.objective!r}; use 'tv' (L_A), 'sinkhorn' (L_B) or 'stft'.")
        for name in _NOT_USED[self.objective]:
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
        p = None if spec.p is None else int(spec.p)
        return cls(objective=spec.objective, omega=spec.omega, lam=spec.lam, p=p, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunParameters":
        """From a mapping (e.g. notebook parameters); unknown keys are an error."""
        return cls(**{k: _plain(v) for k, v in dataclass_kwargs(cls, data).items()})

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
        return self.objective != "stft"

    def model_config(self) -> ModelConfig:
        """The profile's model with the ``model`` overrides applied."""
        base = self.profile_config.model
        if not self.model:
            return base
        return replace(base, **dataclass_kwargs(ModelConfig, self.model))

    def test_tracks(self) -> int | None:
        return self.max_test_tracks if self.max_test_tracks is not None else self.profile_config.max_test_tracks

    def train_config(self, dataset: str | os.PathLike | None = None, device: str = "auto"):
        """The ``rlsv.train.TrainConfig`` of this run (``dataset`` overrides ``self.dataset``)."""
        from .train import TrainConfig

        if not self.is_trained:
            raise ValueError("The STFT baseline is not trained; evaluate it with run_evaluation().")
        profile = self.profile_config
        root = dataset if dataset is not None else self.dataset
        return TrainConfig(
            objective=self.objective, omega=self.omega, lam=self.lam, p=self.p,
            epochs=self.epochs or profile.epochs, batch_size=self.batch_size or profile.batch_size,
            learning_rate=self.learning_rate or profile.learning_rate, seed=self.seed,
            model=self.model_config(), dataset=None if root is None else str(root),
            max_train_tracks=self.max_train_tracks if self.max_train_tracks is not None else profile.max_train_tracks,
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


def _checkout_root() -> Path | None:
    """The git checkout rlsv runs from (``pip install -e .``), or None for an installed copy."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def synthetic_root(profile: str | Profile) -> Path:
    """Folder of a profile's synthetic corpus (absolute): ``$RLSV_DATA/synthetic-<profile>``, else
    ``data/synthetic-<profile>`` in the checkout (the same folder whether a notebook in
    ``notebooks/`` or a command at the top asks), else under the working directory."""
    name = profile.name if isinstance(profile, Profile) else get_profile(profile).name
    configured = os.environ.get("RLSV_DATA")
    base = Path(configured) if configured else (_checkout_root() or Path.cwd()) / "data"
    return (base / f"synthetic-{name}").resolve()


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


def read_status(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """``status.json`` of ``run_dir`` as a dict, or None if absent or unreadable."""
    path = Path(run_dir) / STATUS
    try:
        status = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    return status if isinstance(status, dict) else None


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


def _failing(run_dir: Path, error: BaseException) -> None:
    write_status(run_dir, "failed", describe_error(error),
                 traceback="".join(traceback.format_exception(error))[-4000:])


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
        _failing(run_dir, error)
        raise
    unchanged = before.get("state") == "done" and result.resumed_from_epoch >= config.epochs
    write_status(run_dir, "done" if unchanged else "pending")
    return result


def stft_config(params: RunParameters, root: str | os.PathLike) -> dict[str, Any]:
    """The ``config.json`` of an STFT baseline run (``docs/run_layout.md``): segment length from the profile's model."""
    from .metrics import StftBaseline

    baseline = StftBaseline()
    return {"run_id": params.run_id, "profile": params.profile, "objective": "stft", "omega": None, "lam": None,
            "p": None, "epochs": None, "seed": None, "model": params.model_config().to_dict(),
            "dataset": str(root), "max_test_tracks": params.test_tracks(),
            "stft": {"n_fft": baseline.n_fft, "hop": baseline.hop, "window": baseline.window}}


def run_evaluation(params: RunParameters, output_root: str | os.PathLike = "papermill_runs", device: str = "auto",
                  progress: bool = True, threads: int | None = None):
    """Evaluate the run in ``<output_root>/<run-id>/``; return the ``EvalResult`` (segments, summary).

    A trained run needs its ``model.pt``; the STFT baseline (objective ``"stft"``) writes its own
    ``config.json`` first. Writes ``segments.csv`` and ``summary.json``; ``status.json`` becomes
    ``done`` (or ``failed`` with the error, re-raised).
    """
    from .evaluate import evaluate_run, evaluate_stft, iter_test_segments, load_test_dataset, write_evaluation

    set_threads(threads)
    run_dir = _run_dir(params, output_root)
    run_dir.mkdir(parents=True, exist_ok=True)
    write_status(run_dir, "running")
    try:
        if params.is_trained:
            result = evaluate_run(run_dir, device=device, max_tracks=params.test_tracks(), progress=progress)
        else:
            root = dataset_root(params.profile, params.dataset, progress)
            write_json(stft_config(params, root), run_dir / CONFIG)
            n = params.model_config().segment_length
            data = load_test_dataset(root, segment_length=n, max_tracks=params.test_tracks(), progress=progress)
            result = write_evaluation(evaluate_stft(iter_test_segments(data, n, progress)), run_dir)
    except Exception as error:
        _failing(run_dir, error)
        raise
    write_status(run_dir, "done")
    return result


def load_run_config(run_dir: str | os.PathLike) -> dict[str, Any]:
    """``config.json`` of a run folder (FileNotFoundError with a hint if absent)."""
    path = Path(run_dir) / CONFIG
    if not path.is_file():
        raise FileNotFoundError(f"No config.json in {Path(run_dir)}; train the run first (02_train.ipynb).")
    return json.loads(path.read_text(encoding="utf-8"))


def test_segments(dataset: str | os.PathLike | None, segment_length: int, max_tracks: int | None = None,
                  progress: bool = False) -> list:
    """Every test track's evaluation segments (``rlsv.segments.TrackSegments``), in memory."""
    from .evaluate import iter_test_segments, load_test_dataset

    data = load_test_dataset(dataset, segment_length=segment_length, max_tracks=max_tracks, progress=progress)
    return list(iter_test_segments(data, segment_length, progress))


def stft_on_same_segments(run_dir: str | os.PathLike, progress: bool = False) -> pd.DataFrame:
    """The STFT baseline on the test segments ``run_dir`` was evaluated on (same tracks, same N).

    The tracks are those of the run's ``segments.csv``; the segments kept are the same because
    the silence rule depends on the vocals only.
    """
    from .evaluate import evaluate_stft, iter_test_segments, load_test_dataset

    run_dir = Path(run_dir)
    config = load_run_config(run_dir)
    n = ModelConfig.from_dict(config["model"]).segment_length
    evaluated = set(pd.read_csv(run_dir / SEGMENTS, dtype={"track": str})["track"])
    data = load_test_dataset(config.get("dataset"), segment_length=n, progress=progress)
    data = replace(data, subset_tracks={"test": tuple(t for t in data.tracks("test") if t.name in evaluated)})
    return evaluate_stft(iter_test_segments(data, n, progress))


# --------------------------------------------------------------------------- one segment through a model


def pick_segment(tracks: Sequence, track: str | int | None = None, segment: int | None = None) -> tuple[int, int]:
    """``(track index, segment index)`` of a kept (non-silent) test segment.

    Args:
        tracks: ``TrackSegments`` of the test tracks (:func:`test_segments`).
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
    """Encode one segment's three signals (each ``(N,)``) and compute its metrics, as the evaluation does."""
    import torch

    from .metrics import additivity, binary_mask, si_sdr

    device = next(model.parameters()).device
    model.eval()
    with torch.no_grad():
        signals = torch.from_numpy(np.stack([mixture, vocals, accompaniment]).astype(np.float32)).to(device)
        a = model.encode(signals)
        a_mix, a_voc, a_acc = a[0:1], a[1:2], a[2:3]
        reference = signals[1:2].double()
        reconstruction = model.decode(a_voc)
        estimate = model.decode(a_mix * binary_mask(a_voc, a_acc, inclusive=mask_inclusive))
        sorted_reps = model.sort_channels(a).cpu().numpy()
        view = SegmentView(
            reps={"mixture": sorted_reps[0], "vocals": sorted_reps[1], "accompaniment": sorted_reps[2]},
            carrier_hz=model.carrier_frequencies_hz(sort=True).cpu().numpy(),
            signals={"mixture": np.asarray(mixture, np.float32), "vocals": np.asarray(vocals, np.float32),
                     "accompaniment": np.asarray(accompaniment, np.float32),
                     "estimate": estimate[0].cpu().numpy().astype(np.float32)},
            si_sdr=float(si_sdr(reference, reconstruction.double())[0]),
            si_sdr_mask=float(si_sdr(reference, estimate.double())[0]),
            additivity=float(additivity(a_mix.double(), a_voc.double(), a_acc.double())[0]),
            sample_rate=model.config.sample_rate,
            frame_rate_hz=model.config.sample_rate / model.config.stride,
            label=label,
        )
    return view
