"""Blind separation on the learned representations and on the STFT: training the estimators of a small grid
over seeds, and scoring them next to the oracle binary mask (the table: ``rlsv.study.separation.table``).

The grid (:data:`SEPARATION_SPECS`, the runs of Figure 4: ``rlsv sweep figure4``): L_A ω=4, L_B λ=0.5 ω=1,
L_B λ=1.5 ω=4, each one trained run of a run set (``rlsv.study.results.RunSet``; its published seed 218
when present), plus the STFT. Every representation gets the same mask estimator with the same
parameter budget (``rlsv.core.separation.mask_estimator``), trained on the same batches
(``rlsv.run.separation.training``) for each estimator seed ``218, 219, ...``.

Where the estimators live (``docs/run_layout.md``, "Separators"): ``<run>/separator-s<seed>/`` for a
learned representation; for the STFT ``<stft run>/separator-s<seed>/`` in the run set's STFT run folder
(``<profile>-stft-<variant>``), trained on the data of the grid's first run (every run of a set has the
same data and batches); without an STFT run folder, ``<first run>/separator-stft-s<seed>/``.

* :func:`separation_slots` -- the representations of a run set and where their estimators live.
* :func:`train_separators` -- train (or resume, or skip finished) every estimator (``rlsv separation``), each in
  its folder under its lock with ``status.json``, on the sweeps' executors (``rlsv.study.claims``, ``executors``).
* :func:`evaluate_separation` -- blind and oracle estimates of the run set's test tracks and of the MUSDB18
  excerpt shipped with stempeg, scored by SI-SDR per segment and BSSEval v4 SDR per track
  (``rlsv.run.separation.evaluation``); each estimator's scores are cached in its folder
  (``separation_scores.csv``, which ``rlsv separate`` reports as the quality to expect).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from rlsv.atomic import write_json, write_text
from rlsv.errors import ConfigError
from rlsv.run.spec import STFT, RunSpec, sinkhorn, tv
from rlsv.study.claims import RunOutcome, claim_and_run, record_crash
from rlsv.study.results import RunSet, load_run_set

__all__ = [
    "SEPARATION_SPECS",
    "SeparatorSlot",
    "separation_slots",
    "SeparatorJob",
    "separator_jobs",
    "train_one_separator",
    "train_separators",
    "evaluate_separation",
    "estimator_seeds",
    "SCORE_COLUMNS",
    "representation_label",
]

SEPARATION_SPECS: tuple[RunSpec, ...] = (tv(4.0), sinkhorn(1.0, 0.5), sinkhorn(4.0, 1.5))
"""The learned representations compared (the runs of Figure 4)."""


def representation_label(spec: RunSpec) -> str:
    """``L_A ω=4``, ``L_B λ=0.5 ω=1`` (``p=2`` added when not 1) or ``STFT``."""
    if spec.objective == "tv":
        return f"L_A ω={spec.omega:g}"
    if spec.objective == "sinkhorn":
        p = "" if spec.p in (None, 1) else f" p={spec.p:g}"
        return f"L_B λ={spec.lam:g} ω={spec.omega:g}{p}"
    return "STFT"


@dataclass(frozen=True)
class SeparatorSlot:
    """One representation of the comparison: where its estimators live and what they train on.

    Attributes:
        spec: the grid point (``STFT`` for the baseline).
        run_dir: the run folder holding the estimators (and, for a learned one, the autoencoder).
        data_run: the trained run whose training data and segmentation the estimators use.
        front_end: ``"learned"`` or ``"stft"``.
    """

    spec: RunSpec
    run_dir: Path
    data_run: Path
    front_end: str

    @property
    def label(self) -> str:
        return representation_label(self.spec)

    def folder(self, seed: int) -> Path:
        """The estimator folder of ``seed``."""
        from rlsv.run.separation.files import separator_dir

        return separator_dir(self.run_dir, self.front_end, seed)


def _stft_run_dir(run_set: RunSet) -> Path | None:
    folders = [run.path for run in run_set.runs if run.spec == STFT]
    return folders[0] if folders else None


def separation_slots(run_set: RunSet, specs: Sequence[RunSpec] = SEPARATION_SPECS, stft: bool = True
                     ) -> list[SeparatorSlot]:
    """The representations of ``specs`` in ``run_set`` (each its trained run of seed 218, else the lowest seed),
    then the STFT when ``stft`` (module docstring).

    Raises:
        ValueError: a grid point has no trained run in the set (saying which sweep trains it).
    """
    runs = {spec: run_set.run_dir(spec) for spec in specs}
    missing = [representation_label(spec) for spec, path in runs.items() if path is None]
    if missing:
        raise ConfigError(f"No trained run for {missing} in {run_set.root} ({run_set.profile} profile, variant "
                         f"{run_set.variant}); train them first: rlsv sweep figure4 --profile {run_set.profile} "
                         "(or make reproduce).")
    slots = [SeparatorSlot(spec, path, path, "learned") for spec, path in runs.items()]  # type: ignore[arg-type]
    if stft:
        if not slots:
            raise ConfigError("The STFT estimator trains on the data of a trained run; give at least one grid point.")
        data_run = slots[0].run_dir
        stft_dir = _stft_run_dir(run_set)
        slots.append(SeparatorSlot(STFT, stft_dir or data_run, data_run, "stft"))
    return slots


def estimator_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """A count ``k`` (seeds ``218 .. 218 + k - 1``) or the seeds themselves, as a tuple."""
    from rlsv.study.sweeps import sweep_seeds

    return sweep_seeds(seeds)


@dataclass(frozen=True)
class SeparatorJob:
    """One estimator to train (picklable: sent to worker processes and SLURM): the representation's run folder,
    the run whose data it trains on, its folder, its settings, and how to show progress."""

    label: str
    run_dir: str
    data_run: str
    folder: str
    config: Any  # rlsv.run.separation.training.SeparatorConfig
    progress: bool = True
    force: bool = False


def _finished(job: SeparatorJob) -> list[Path]:
    from rlsv.run.separation.files import SEPARATOR_CHECKPOINT, SEPARATOR_MODEL

    return [Path(job.folder) / SEPARATOR_MODEL, Path(job.folder) / SEPARATOR_CHECKPOINT]


def _already_done(job: SeparatorJob) -> RunOutcome | None:
    """A finished estimator (``status.json`` done and its files there): skipped, without loading anything."""
    from rlsv.run.status import read_status

    if (read_status(job.folder) or {}).get("state") == "done" and all(p.is_file() for p in _finished(job)):
        return RunOutcome(job.label, "skipped", None, 0.0, job.folder)
    return None


def train_one_separator(job: SeparatorJob) -> RunOutcome:
    """Claim the estimator's folder (its lock and ``status.json``, ``rlsv.study.claims``), then train (or resume)
    it; never raises for a failing training: the outcome says what happened."""
    from rlsv.run.separation.training import train_separator

    def work() -> None:
        train_separator(job.run_dir, job.config, output_dir=job.folder, data_run=job.data_run, progress=job.progress)

    return claim_and_run(job.folder, work, run_id=job.label, force=job.force, settled=lambda: _already_done(job),
                         finished=lambda: _finished(job))


def separator_jobs(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                   variant: str | None = None, seeds: int | Sequence[int] = 3, epochs: int = 20,
                   specs: Sequence[RunSpec] = SEPARATION_SPECS, stft: bool = True, device: str = "auto",
                   progress: bool = True, **settings: Any) -> list[SeparatorJob]:
    """The estimators of every representation of :func:`separation_slots` and every seed, representations
    outermost (``settings``: further ``SeparatorConfig`` fields)."""
    from rlsv.run.separation.training import SeparatorConfig

    slots = separation_slots(load_run_set(root, profile, variant), specs, stft)
    return [SeparatorJob(f"{slot.label} s{seed}", str(slot.run_dir), str(slot.data_run), str(slot.folder(seed)),
                         SeparatorConfig(front_end=slot.front_end, epochs=epochs, seed=seed, device=device, **settings),
                         progress)
            for slot in slots for seed in estimator_seeds(seeds)]


def train_separators(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                     variant: str | None = None, seeds: int | Sequence[int] = 3, epochs: int = 20,
                     specs: Sequence[RunSpec] = SEPARATION_SPECS, stft: bool = True, device: str = "auto",
                     progress: bool = True, jobs: int = 1, executor: str = "local", slurm: Any = None,
                     **settings: Any) -> list[RunOutcome]:
    """Train the mask estimator of every representation of :func:`separation_slots` for every seed, like a sweep:
    each in its folder under that folder's lock, with ``status.json``; finished ones skipped, interrupted ones
    resumed, failed ones retried by the next call, one failure never stopping the others.

    Args:
        root, profile, variant: the run set (``rlsv.study.results.load_run_set``).
        seeds: a count ``k`` (seeds ``218 .. 218 + k - 1``) or the seeds.
        epochs: estimator epochs.
        specs, stft: the representations (default: the Figure 4 runs and the STFT).
        device: ``"auto"``, ``"cpu"``, ``"cuda"``.
        progress: tqdm bars.
        jobs, executor, slurm: how many at a time and where (``rlsv.study.executors``, as for a sweep).
        settings: further ``rlsv.run.separation.training.SeparatorConfig`` fields (``learning_rate``, ``budget``, ...).

    Returns:
        The outcome of each (representation, seed), representations outermost (``rlsv.study.claims.RunOutcome``:
        ``done``, ``skipped``, ``failed`` with the error, ``busy``).
    """
    from rlsv.study.executors import make_executor, worker_threads

    todo = separator_jobs(root, profile, variant, seeds, epochs, specs, stft, device, progress, **settings)
    workers = min(jobs, len(todo))
    threads = worker_threads(executor, workers, slurm)
    runner = make_executor(executor, workers, threads, device, slurm, Path(root) / "_submitit")
    with tqdm(total=len(todo), desc="separators", unit="estimator", disable=not progress) as bar:
        executed = runner.run(train_one_separator, todo,
                              lambda job, message, scheduler_job: record_crash(Path(job.folder), message,
                                                                                scheduler_job, job.label),
                              lambda job, outcome: bar.update(1))
    return list(executed.outcomes)


# --------------------------------------------------------------------------- evaluation


@dataclass
class _Data:
    """The tracks scored: the run set's test tracks and the stempeg excerpt, at the runs' rate."""

    tracks: dict[str, list]  # data key -> [TrackAudio]
    segment_length: int
    sample_rate: int

    def key(self) -> dict[str, Any]:
        return {"tracks": {k: [t.name for t in v] for k, v in self.tracks.items()},
                "segment_length": self.segment_length, "sample_rate": self.sample_rate}


def _load_data(data_run: Path, excerpt: bool, max_test_tracks: int | None, progress: bool) -> _Data:
    from rlsv.audio.files import read_stem_track, resample, stempeg_excerpt
    from rlsv.audio.musdb import TrackAudio
    from rlsv.run.evaluate import load_run_config, run_test_dataset

    config = load_run_config(data_run)
    model = config["model"]
    n, rate = int(model["segment_length"]), int(model["sample_rate"])
    test = run_test_dataset(config, progress=progress)
    if max_test_tracks is not None:
        test = test.with_first_tracks("test", max_test_tracks)
    tracks = {"test": [test.load(track) for track in test.tracks("test")]}
    if excerpt:
        audio = read_stem_track(stempeg_excerpt())
        mixture, vocals = (resample(np.asarray(x), 44100, rate) for x in (audio.mixture, audio.vocals))
        tracks["excerpt"] = [TrackAudio(audio.name, mixture, vocals)]
    return _Data(tracks, n, rate)


def _cached_scores(folder: Path, filename: str, key: dict[str, Any], score: Callable[[], pd.DataFrame]
                   ) -> pd.DataFrame:
    """``score()``, or the scores stored in ``folder/filename`` when they were made with the same ``key``."""
    from rlsv.run.separation.files import scores_key

    path, key_path = folder / filename, scores_key(folder / filename)
    key = json.loads(json.dumps(key, default=str))
    if path.is_file() and key_path.is_file() and json.loads(key_path.read_text(encoding="utf-8")) == key:
        return pd.read_csv(path, dtype={"track": str, "data": str})
    frame = score()
    write_text(frame.to_csv(index=False), path)
    write_json(key, key_path)
    return frame


def _score_all(estimator, data: _Data, bss: bool) -> pd.DataFrame:
    from rlsv.run.separation.evaluation import score_tracks

    frames = [score_tracks(estimator, tracks, data.segment_length, data.sample_rate, bss).assign(data=name)
              for name, tracks in data.tracks.items()]
    return pd.concat(frames, ignore_index=True)


def _oracle_front_end(slot: SeparatorSlot, data: _Data, device):
    from rlsv.run.separation.separator import build_front_end

    return build_front_end(slot.front_end, slot.run_dir, data.segment_length, device=device)


def _slot_scores(slot: SeparatorSlot, seeds: Sequence[int], data: _Data, bss: bool, device, batch_size: int
                 ) -> list[pd.DataFrame]:
    """Blind scores of each trained seed, then the oracle's, of one representation (cached in their folders)."""
    from rlsv.run.separation.evaluation import blind_estimator, oracle_estimator
    from rlsv.run.separation.files import ORACLE_SCORES, SEPARATION_SCORES, SEPARATOR_MODEL
    from rlsv.run.separation.separator import file_sha256, load_separator

    frames = []
    for seed in seeds:
        folder = slot.folder(seed)
        if not (folder / SEPARATOR_MODEL).is_file():
            continue
        key = data.key() | {"bss": bss, "separator_sha256": file_sha256(folder / SEPARATOR_MODEL)}
        scores = _cached_scores(folder, SEPARATION_SCORES, key, lambda folder=folder: _score_all(
            blind_estimator(load_separator(folder, device), batch_size), data, bss))
        frames.append(scores.assign(method="blind", seed=float(seed), parameters=_parameters(folder)))
    front_end = None

    def oracle() -> pd.DataFrame:
        nonlocal front_end
        front_end = front_end or _oracle_front_end(slot, data, device)
        return _score_all(oracle_estimator(front_end, batch_size, device), data, bss)

    from rlsv.run.files import MODEL

    own = {"front_end": slot.front_end} | (
        {"model_sha256": file_sha256(slot.run_dir / MODEL)} if slot.front_end == "learned" else {})
    scores = _cached_scores(slot.run_dir, ORACLE_SCORES.format(front_end=slot.front_end),
                            data.key() | {"bss": bss} | own, oracle)
    frames.append(scores.assign(method="oracle", seed=np.nan, parameters=np.nan))
    return [f.assign(representation=slot.label, front_end=slot.front_end, **slot.spec.as_columns()) for f in frames]


def _parameters(folder: Path) -> float:
    """The estimator's parameter count from its ``config.json`` (NaN when unknown)."""
    try:
        return float(json.loads((folder / "config.json").read_text(encoding="utf-8"))["parameters"])
    except (OSError, KeyError, ValueError):
        return float("nan")


SCORE_COLUMNS: tuple[str, ...] = ("data", "representation", "front_end", "objective", "omega", "lam", "p", "method",
                                  "seed", "parameters", "track", "segment", "metric", "value")


def evaluate_separation(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                        variant: str | None = None, seeds: int | Sequence[int] = 3,
                        specs: Sequence[RunSpec] = SEPARATION_SPECS, stft: bool = True, excerpt: bool = True,
                        bss: bool = True, max_test_tracks: int | None = None, device: str = "cpu",
                        batch_size: int = 16, progress: bool = True) -> pd.DataFrame:
    """Scores of every trained estimator (blind) and of the oracle binary mask, per representation.

    The test tracks are those the data run was evaluated on (``rlsv.run.evaluate.run_test_dataset``; the first
    ``max_test_tracks`` of them when given), plus the stempeg excerpt when ``excerpt``; ``bss`` adds BSSEval v4
    (``museval``; slow: about 0.4 s per second of audio and estimate). Estimators not trained yet are skipped.

    Returns:
        One row per value (``SCORE_COLUMNS``): ``data`` (``"test"``/``"excerpt"``), the representation,
        ``method`` (``"blind"``/``"oracle"``), ``seed`` (the estimator's; NaN for the oracle), the estimator's
        ``parameters``, ``track``, ``segment`` (-1 for per-track values), ``metric`` (``"si_sdr"``, ``"bss_sdr"``)
        and ``value`` in dB.
    """
    from rlsv.run.device import resolve_device

    slots = separation_slots(load_run_set(root, profile, variant), specs, stft)
    data = _load_data(slots[0].data_run, excerpt, max_test_tracks, progress)
    torch_device = resolve_device(device)
    frames = []
    for slot in tqdm(slots, desc="evaluate separation", unit="representation", disable=not progress):
        frames += _slot_scores(slot, estimator_seeds(seeds), data, bss, torch_device, batch_size)
    return pd.concat(frames, ignore_index=True).loc[:, list(SCORE_COLUMNS)]
