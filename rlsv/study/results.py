"""Read run directories (``docs/run_layout.md``) into pandas frames.

A run directory ``<root>/<run-id>/`` holds ``config.json``, ``status.json`` and, once
evaluated, ``segments.csv``. This module only reads them; it never trains or evaluates.

* :func:`load_run` -- one directory -> :class:`Run` (config, status; segments read on first use).
* :func:`scan_runs` -- every run directory under a root, read once (:class:`Run` or :class:`InvalidRun`).
* :func:`load_runs` / :func:`segment_frame` -- every finished run -> one row per test segment, with
  the run's configuration joined (``SEGMENT_FRAME_COLUMNS``); the input of ``tables`` and ``plots``.
* one row per run directory (state, error; ``rlsv status``): ``rlsv.study.run_overview``.
* :func:`select_specs`, :func:`single_profile`, :func:`run_set_rows` -- pick grid points / one
  profile / one run set (profile and settings) out of a :func:`load_runs` frame.
* :func:`config_columns` -- a run's ``CONFIG_COLUMNS`` from its ``config.json``.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from rlsv.errors import ConfigError, RunFolderError
from rlsv.run.evaluate import SEGMENT_COLUMNS
from rlsv.run.files import CONFIG, LOSSES, MODEL, SEGMENTS, STATUS
from rlsv.run.folder import RunFolder, read_json_object
from rlsv.run.spec import RunSpec
from rlsv.run.summary import METRICS

__all__ = [
    "STATES",
    "CONFIG_COLUMNS",
    "SEGMENT_COLUMNS",
    "SEGMENT_FRAME_COLUMNS",
    "RunLayoutError",
    "Run",
    "InvalidRun",
    "load_run",
    "run_dirs",
    "scan_runs",
    "segment_frame",
    "load_runs",
    "config_columns",
    "select_specs",
    "single_profile",
    "default_variant",
    "run_set_rows",
    "DEFAULT_SEED",
    "RunSet",
    "load_run_set",
]

STATES: tuple[str, ...] = ("pending", "running", "done", "failed")
CONFIG_COLUMNS: tuple[str, ...] = ("run_id", "profile", "variant", "objective", "omega", "lam", "p", "seed")
SEGMENT_FRAME_COLUMNS: tuple[str, ...] = (*CONFIG_COLUMNS, *SEGMENT_COLUMNS)


class RunLayoutError(RunFolderError):
    """A run directory that does not follow ``docs/run_layout.md``."""


@dataclass(frozen=True)
class Run:
    """The readable content of one run directory.

    Attributes:
        path: the run directory.
        config: ``config.json`` (``run_id``, ``profile``, ``objective``, ``omega``, ``lam``, ``p``, ...).
        status: ``status.json`` (``state``, ``error``, ``updated``).
        segments: ``segments.csv`` (columns ``SEGMENT_COLUMNS``), ``None`` before evaluation; read
            (and checked) on first access, so listing runs never parses their segments.
        standalone: a folder of the user's (``rlsv train FOLDER``) rather than one named by its run id:
            listed by ``rlsv status``, left out of tables and figures (a copy would count twice).
    """

    path: Path
    config: dict[str, Any]
    status: dict[str, Any]
    standalone: bool = False

    @property
    def run_id(self) -> str:
        return str(self.config["run_id"])

    @property
    def state(self) -> str:
        return str(self.status["state"])

    @property
    def spec(self) -> RunSpec:
        return RunSpec.from_config(self.config)

    @cached_property
    def segments(self) -> pd.DataFrame | None:
        return _read_segments(self.path)


@dataclass(frozen=True)
class InvalidRun:
    """A run directory that could not be read: where, and why (:class:`RunLayoutError`)."""

    path: Path
    error: RunLayoutError


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return read_json_object(path)
    except RunFolderError as error:
        raise RunLayoutError(str(error)) from None


def _read_config(run_dir: Path) -> tuple[dict[str, Any], bool]:
    """``config.json``, checked (``rlsv.run.folder.RunFolder``): the run it names, and whether the folder is a
    grid run (named by its run id) or a standalone run (a folder of the user's, ``rlsv train FOLDER``)."""
    folder = RunFolder(run_dir)
    try:
        config = folder.config
        problem = folder.identity_problem()
    except RunFolderError as error:
        raise RunLayoutError(str(error)) from None
    if problem is not None:
        raise RunLayoutError(f"{run_dir / CONFIG}: {problem}.")
    return config, not folder.is_grid_run


def _read_status(run_dir: Path) -> dict[str, Any]:
    """``status.json``, checked: a known ``state``; only ``state``, ``error`` and ``updated`` kept."""
    path = run_dir / STATUS
    status = _read_json(path)
    if status.get("state") not in STATES:
        raise RunLayoutError(f"{path}: state {status.get('state')!r} is not one of {STATES}.")
    return {"state": status["state"], "error": status.get("error"), "updated": status.get("updated")}


def _read_segments(run_dir: Path) -> pd.DataFrame | None:
    path = run_dir / SEGMENTS
    if not path.exists():
        return None
    segments = pd.read_csv(path, dtype={"track": str})
    missing = [c for c in SEGMENT_COLUMNS if c not in segments.columns]
    if missing:
        raise RunLayoutError(f"{path} lacks columns {missing} (has {list(segments.columns)}).")
    return segments.loc[:, list(SEGMENT_COLUMNS)]


def load_run(path: str | Path) -> Run:
    """Read one run directory; :class:`RunLayoutError` if its config or status breaks ``docs/run_layout.md``
    (a broken ``segments.csv`` raises it when :attr:`Run.segments` is first read)."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run directory at {run_dir}.")
    config, standalone = _read_config(run_dir)
    return Run(run_dir, config, _read_status(run_dir), standalone)


def run_dirs(root: str | Path = "papermill_runs") -> list[Path]:
    """The run directories under ``root`` (sub-directories with a ``config.json``), sorted by name."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Run root {root} does not exist (a sweep creates it; point at another folder "
                                f"with --runs-root, or root= from Python).")
    if not root.is_dir():
        raise NotADirectoryError(f"Run root {root} is not a directory.")
    return sorted(d for d in root.iterdir() if d.is_dir() and (d / CONFIG).is_file())


def _seed(config: dict[str, Any]) -> int | None:
    """The training seed of a run's ``config.json`` (None for the STFT baseline)."""
    seed = config.get("seed")
    return None if seed is None else int(seed)


def config_columns(config: dict[str, Any]) -> dict[str, Any]:
    """The ``CONFIG_COLUMNS`` of a run, unused hyper-parameters and the STFT baseline's seed as NaN."""
    seed = _seed(config)
    return {"run_id": config["run_id"], "profile": config["profile"], "variant": config.get("variant"),
            **RunSpec.from_config(config).as_columns(), "seed": math.nan if seed is None else float(seed)}


def _empty_segment_frame() -> pd.DataFrame:
    dtypes = {"run_id": str, "profile": str, "variant": str, "objective": str, "omega": float, "lam": float,
              "p": float, "seed": float, "track": str, "segment": int, **{m: float for m in METRICS}}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in SEGMENT_FRAME_COLUMNS})


def scan_runs(root: str | Path = "papermill_runs") -> list[Run | InvalidRun]:
    """Every run directory under ``root`` (:func:`run_dirs`), read once: a :class:`Run`, or an
    :class:`InvalidRun` saying why it could not be read (so one broken folder hides nothing)."""
    runs: list[Run | InvalidRun] = []
    for run_dir in run_dirs(root):
        try:
            runs.append(load_run(run_dir))
        except RunLayoutError as err:
            runs.append(InvalidRun(run_dir, err))
    return runs


def _segments_or_reason(run: Run | InvalidRun, states: Sequence[str]) -> pd.DataFrame | str:
    """The run's ``segments.csv`` joined with its configuration, or why it is skipped."""
    if isinstance(run, InvalidRun):
        return "invalid"
    if run.standalone:
        return "standalone (not named by its run id)"
    if run.state not in states:
        return run.state
    try:
        segments = run.segments
    except RunLayoutError:
        return "invalid"
    if segments is None:
        return f"{run.state}, no {SEGMENTS}"
    return segments.assign(**config_columns(run.config))


def segment_frame(runs: Iterable[Run | InvalidRun], profile: str | None = None,
                  states: Sequence[str] = ("done",), source: str = "") -> pd.DataFrame:
    """:func:`load_runs` on runs already read (:func:`scan_runs`); ``source`` names them in the warning."""
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise ConfigError(f"Unknown states {unknown}; valid: {STATES}.")
    frames, skipped = [], Counter()
    for run in runs:
        if profile is not None and isinstance(run, Run) and run.config["profile"] != profile:
            continue
        result = _segments_or_reason(run, states)
        if isinstance(result, str):
            skipped[result] += 1
        else:
            frames.append(result)
    if skipped:
        detail = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        warnings.warn(f"load_runs({source!r}) skipped runs: {detail}; see run_status().", stacklevel=3)
    if not frames:
        return _empty_segment_frame()
    return pd.concat(frames, ignore_index=True).loc[:, list(SEGMENT_FRAME_COLUMNS)]


def load_runs(root: str | Path = "papermill_runs", profile: str | None = None,
              states: Sequence[str] = ("done",)) -> pd.DataFrame:
    """Per-segment results of every run under ``root`` in one of ``states``.

    Runs of another ``profile`` (when given) are ignored. Runs whose state is not in ``states``,
    runs in ``states`` without a ``segments.csv`` (not evaluated yet) and folders that break
    ``docs/run_layout.md`` (counted as ``invalid``, e.g. one written by ``rlsv train`` outside
    the grid) are skipped with one ``UserWarning`` naming them; :func:`run_status` lists every run.

    Returns:
        One row per test segment, columns ``SEGMENT_FRAME_COLUMNS``: ``run_id, profile,
        objective, omega, lam, p`` (float, NaN where unused), ``track, segment, si_sdr,
        si_sdr_mask, additivity``. Empty (same columns) when no run qualifies.
    """
    return segment_frame(scan_runs(root), profile, states, source=str(root))


def _same(column: pd.Series, value: float | None) -> np.ndarray:
    """Rows of ``column`` equal to ``value`` (both NaN/None counts as equal)."""
    values = column.to_numpy(dtype=float)
    if value is None:
        return np.isnan(values)
    return np.isclose(values, value, rtol=0.0, atol=1e-9)


def select_specs(segments: pd.DataFrame, specs: Iterable[RunSpec]) -> pd.DataFrame:
    """The rows of a :func:`load_runs` frame that belong to one of ``specs`` (e.g. a grid)."""
    keep = np.zeros(len(segments), dtype=bool)
    for spec in specs:
        keep |= ((segments["objective"] == spec.objective).to_numpy()
                 & _same(segments["omega"], spec.omega)
                 & _same(segments["lam"], spec.lam)
                 & _same(segments["p"], spec.p))
    return segments.loc[keep]


def single_profile(segments: pd.DataFrame, profile: str | None = None) -> str | None:
    """The one profile of a :func:`load_runs` frame (``profile`` when given and present).

    Returns ``None`` for an empty frame. Raises ``ValueError`` when the frame mixes profiles and
    none was chosen, or when the chosen one is absent.
    """
    present = sorted(segments["profile"].dropna().unique())
    if profile is not None:
        if present and profile not in present:
            raise ConfigError(f"Profile {profile!r} not in the results (profiles: {present}).")
        return profile
    if len(present) > 1:
        raise ConfigError(f"The results mix profiles {present}; choose one with profile=.")
    return present[0] if present else None


def default_variant(profile: str) -> str | None:
    """The variant of ``profile``'s runs made with its own settings and data (no overrides); None for an
    unknown profile name."""
    from rlsv.run.config import RunParameters

    try:
        return RunParameters(profile=profile).variant
    except ValueError:
        return None


def run_set_rows(segments: pd.DataFrame, profile: str | None = None, variant: str | None = None
                 ) -> tuple[str | None, str | None, pd.DataFrame]:
    """One run set of a :func:`load_runs` frame: its profile, its variant and its rows.

    A run set is the runs of one profile made with the same settings (sizes, epochs, learning rate,
    data: the ``variant`` of their run ids), over grid points and seeds: what a table or a figure
    compares. ``profile``: :func:`single_profile`. ``variant``: when None, the only one present, else
    the profile's own (:func:`default_variant`, the runs made without overrides); a ``ValueError``
    lists the variants when none of these applies.
    """
    profile = single_profile(segments, profile)
    rows = segments[segments["profile"] == profile]
    present = sorted(rows["variant"].dropna().unique())
    if variant is None and len(present) > 1:
        variant = default_variant(profile) if profile else None
        if variant not in present:
            counts = ", ".join(f"{v} ({(rows['variant'] == v).groupby(rows['run_id']).any().sum()} runs)"
                               for v in present)
            raise ConfigError(f"The {profile!r} runs were made with {len(present)} different settings (variants "
                             f"{counts}; see each run's config.json); choose one with variant= (--variant).")
    elif variant is None:
        variant = present[0] if present else None
    elif present and variant not in present:
        raise ConfigError(f"No {profile!r} runs of variant {variant!r}; variants present: {present}.")
    return profile, variant, rows[rows["variant"] == variant] if variant is not None else rows


DEFAULT_SEED = 218  # the published seed: the run a figure or the explorer shows when several seeds exist


@dataclass
class RunSet:
    """The runs of one profile made with the same settings (one ``variant``), over grid points and seeds.

    Attributes:
        root: the runs folder.
        profile, variant: what the runs share (None when no run was found).
        runs: every readable run of the set, whatever its state.
        segments: the per-segment results of its finished runs (:func:`segment_frame`).
    """

    root: Path
    profile: str | None
    variant: str | None
    runs: list[Run]
    segments: pd.DataFrame

    def seeds(self) -> list[int]:
        """The training seeds present (sorted)."""
        return sorted({int(run.config["seed"]) for run in self.runs if run.config.get("seed") is not None})

    def run_dir(self, spec: RunSpec, seed: int | None = None) -> Path | None:
        """The folder of ``spec``'s trained run (with a ``model.pt``): of ``seed`` when given, else of the
        published seed 218 when present, else of the lowest seed; None when there is none."""
        trained = sorted(((int(run.config.get("seed") or 0), run.path) for run in self.runs
                          if run.spec == spec and (run.path / MODEL).is_file()), key=lambda item: item[0])
        if seed is not None:
            trained = [item for item in trained if item[0] == seed]
        preferred = [item for item in trained if item[0] == DEFAULT_SEED]
        chosen = preferred or trained
        return chosen[0][1] if chosen else None

    def label(self) -> str:
        """What the runs were, for captions and titles, e.g. ``small profile: synthetic corpus (8 train / 4
        test tracks), C=200 L=512 S=256 N=11025, 20 epochs = 1880 steps, lr 0.003, batch 8, 3 seeds``."""
        trained = [run for run in self.runs if run.spec.is_trained]
        if not self.runs:
            return "no runs"
        config = (trained or self.runs)[0].config
        info = config.get("dataset_info") or {}
        tracks = info.get("tracks") or {}
        data = "synthetic corpus" if info.get("synthetic") else "MUSDB18" if info else "data"
        test = self.segments["track"].nunique() if not self.segments.empty else tracks.get("test")
        if tracks or test:
            data += f" ({tracks.get('train', '?')} train / {test if test is not None else '?'} test tracks)"
        model = config.get("model") or {}
        sizes = " ".join(f"{k}={model[n]}" for k, n in (("C", "channels"), ("L", "kernel_size"), ("S", "stride"),
                                                        ("N", "segment_length")) if n in model)
        parts = [f"{self.profile} profile: {data}", sizes]
        if trained:
            steps = _steps(trained[0].path)
            epochs = config.get("epochs")
            parts.append(f"{epochs} epochs" + (f" = {steps} steps" if steps else ""))
            parts.append(f"lr {config.get('learning_rate'):g}, batch {config.get('batch_size')}")
            seeds = self.seeds()
            parts.append(f"{len(seeds)} seed{'s' if len(seeds) != 1 else ''}")
        return ", ".join(p for p in parts if p)


def _steps(run_dir: Path) -> int | None:
    """Optimisation steps of a run (rows of its ``losses.csv``), None when unknown."""
    try:
        with open(run_dir / LOSSES, encoding="utf-8") as fh:
            return max(0, sum(1 for _ in fh) - 1)
    except OSError:
        return None


def load_run_set(root: str | Path = "papermill_runs", profile: str | None = None, variant: str | None = None
                 ) -> RunSet:
    """The run set of ``profile`` (and ``variant``, chosen as :func:`run_set_rows` does) under ``root``:
    every folder read once; unfinished runs are in ``runs`` but not in ``segments``."""
    scanned = scan_runs(root)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unfinished runs: listed by run_status()
        segments = segment_frame(scanned, profile=profile, source=str(root))
    readable = [run for run in scanned if isinstance(run, Run) and not run.standalone]
    if segments.empty:  # nothing finished yet: choose among the readable runs' configurations
        profiles = sorted({run.config["profile"] for run in readable})
        profile = profile or (profiles[0] if len(profiles) == 1 else profile)
        variants = sorted({run.config.get("variant") for run in readable if run.config["profile"] == profile})
        variant = variant or (variants[0] if len(variants) == 1 else default_variant(profile) if profile else None)
    else:
        profile, variant, segments = run_set_rows(segments, profile, variant)
    runs = [run for run in readable if run.config["profile"] == profile and run.config.get("variant") == variant]
    return RunSet(Path(root), profile, variant, runs, segments.reset_index(drop=True))
