"""Read run directories (``docs/run_layout.md``) into pandas frames.

A run directory ``<root>/<run-id>/`` holds ``config.json``, ``status.json`` and, once
evaluated, ``segments.csv``. This module only reads them; it never trains or evaluates.

* :func:`load_run` -- one directory -> :class:`Run` (config, status, segments).
* :func:`load_runs` -- every finished run under a root -> one row per test segment, with the
  run's configuration joined (``SEGMENT_FRAME_COLUMNS``); the input of ``tables`` and ``plots``.
* :func:`run_status` -- one row per run directory: state and error, for a sweep overview.
* :func:`select_specs`, :func:`single_profile` -- pick grid points / one profile out of a
  :func:`load_runs` frame.
"""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from .grids import RunSpec, run_id
from .run_files import CONFIG, SEGMENTS, STATUS
from .summary import METRICS

__all__ = [
    "STATES",
    "CONFIG_COLUMNS",
    "SEGMENT_COLUMNS",
    "SEGMENT_FRAME_COLUMNS",
    "STATUS_COLUMNS",
    "RunLayoutError",
    "Run",
    "load_run",
    "run_dirs",
    "load_runs",
    "run_status",
    "select_specs",
    "single_profile",
]

STATES: tuple[str, ...] = ("pending", "running", "done", "failed")
CONFIG_COLUMNS: tuple[str, ...] = ("run_id", "profile", "objective", "omega", "lam", "p")
SEGMENT_COLUMNS: tuple[str, ...] = ("track", "segment", *METRICS)
SEGMENT_FRAME_COLUMNS: tuple[str, ...] = (*CONFIG_COLUMNS, *SEGMENT_COLUMNS)
STATUS_COLUMNS: tuple[str, ...] = ("run_id", "profile", "state", "error", "updated")



class RunLayoutError(ValueError):
    """A run directory that does not follow ``docs/run_layout.md``."""


@dataclass(frozen=True)
class Run:
    """The readable content of one run directory.

    Attributes:
        path: the run directory.
        config: ``config.json`` (``run_id``, ``profile``, ``objective``, ``omega``, ``lam``, ``p``, ...).
        status: ``status.json`` (``state``, ``error``, ``updated``).
        segments: ``segments.csv`` (columns ``SEGMENT_COLUMNS``), ``None`` before evaluation.
    """

    path: Path
    config: dict[str, Any]
    status: dict[str, Any]
    segments: pd.DataFrame | None

    @property
    def run_id(self) -> str:
        return str(self.config["run_id"])

    @property
    def state(self) -> str:
        return str(self.status["state"])

    @property
    def spec(self) -> RunSpec:
        return RunSpec.from_config(self.config)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunLayoutError(f"{path} is missing.") from None
    except json.JSONDecodeError as err:
        raise RunLayoutError(f"{path} is not valid JSON: {err}.") from None
    if not isinstance(data, dict):
        raise RunLayoutError(f"{path} must hold a JSON object, got {type(data).__name__}.")
    return data


def _read_config(run_dir: Path) -> dict[str, Any]:
    """``config.json``, checked: the config keys present and ``run_id`` = directory = grid run id."""
    path = run_dir / CONFIG
    config = _read_json(path)
    missing = [key for key in ("run_id", "profile", "objective") if key not in config]
    if missing:
        raise RunLayoutError(f"{path} lacks {missing}.")
    try:
        expected = run_id(RunSpec.from_config(config), str(config["profile"]))
    except ValueError as err:
        raise RunLayoutError(f"{path}: {err}") from None
    if config["run_id"] != expected or run_dir.name != expected:
        raise RunLayoutError(f"{path}: run_id {config['run_id']!r} and directory {run_dir.name!r} "
                             f"must both be {expected!r} for this configuration.")
    return config


def _read_status(run_dir: Path) -> dict[str, Any]:
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
    """Read one run directory; :class:`RunLayoutError` if it breaks ``docs/run_layout.md``."""
    run_dir = Path(path)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run directory at {run_dir}.")
    return Run(run_dir, _read_config(run_dir), _read_status(run_dir), _read_segments(run_dir))


def run_dirs(root: str | Path = "papermill_runs") -> list[Path]:
    """The run directories under ``root`` (sub-directories with a ``config.json``), sorted by name."""
    root = Path(root)
    if not root.exists():
        raise FileNotFoundError(f"Run root {root} does not exist (a sweep creates it; "
                                f"pass root= to point at another folder).")
    if not root.is_dir():
        raise NotADirectoryError(f"Run root {root} is not a directory.")
    return sorted(d for d in root.iterdir() if d.is_dir() and (d / CONFIG).is_file())


def _config_columns(config: dict[str, Any]) -> dict[str, Any]:
    """The ``CONFIG_COLUMNS`` of a run, unused hyper-parameters as NaN."""
    return {"run_id": config["run_id"], "profile": config["profile"],
            **RunSpec.from_config(config).as_columns()}


def _empty_segment_frame() -> pd.DataFrame:
    dtypes = {"run_id": str, "profile": str, "objective": str, "omega": float, "lam": float,
              "p": float, "track": str, "segment": int, **{m: float for m in METRICS}}
    return pd.DataFrame({c: pd.Series(dtype=dtypes[c]) for c in SEGMENT_FRAME_COLUMNS})


def load_runs(root: str | Path = "papermill_runs", profile: str | None = None,
              states: Sequence[str] = ("done",)) -> pd.DataFrame:
    """Per-segment results of every run under ``root`` in one of ``states``.

    Runs of another ``profile`` (when given) are ignored. Runs whose state is not in ``states``
    and runs in ``states`` without a ``segments.csv`` (not evaluated yet) are skipped with one
    ``UserWarning`` naming them; :func:`run_status` lists every run.

    Returns:
        One row per test segment, columns ``SEGMENT_FRAME_COLUMNS``: ``run_id, profile,
        objective, omega, lam, p`` (float, NaN where unused), ``track, segment, si_sdr,
        si_sdr_mask, additivity``. Empty (same columns) when no run qualifies.
    """
    unknown = [s for s in states if s not in STATES]
    if unknown:
        raise ValueError(f"Unknown states {unknown}; valid: {STATES}.")
    frames, skipped = [], Counter()
    for run_dir in run_dirs(root):
        run = load_run(run_dir)
        if profile is not None and run.config["profile"] != profile:
            continue
        if run.state not in states:
            skipped[run.state] += 1
        elif run.segments is None:
            skipped[f"{run.state}, no {SEGMENTS}"] += 1
        else:
            frames.append(run.segments.assign(**_config_columns(run.config)))
    if skipped:
        detail = ", ".join(f"{n} {why}" for why, n in sorted(skipped.items()))
        warnings.warn(f"load_runs({str(root)!r}) skipped runs: {detail}; see run_status().",
                      stacklevel=2)
    if not frames:
        return _empty_segment_frame()
    return pd.concat(frames, ignore_index=True).loc[:, list(SEGMENT_FRAME_COLUMNS)]


def run_status(root: str | Path = "papermill_runs") -> pd.DataFrame:
    """One row per run directory under ``root``: columns ``STATUS_COLUMNS``.

    A directory whose files cannot be read gets state ``"invalid"`` and the reason as ``error``,
    so a single broken run does not hide the others.
    """
    rows = []
    for run_dir in run_dirs(root):
        try:
            run = load_run(run_dir)
            rows.append({"run_id": run.run_id, "profile": run.config["profile"], **run.status})
        except RunLayoutError as err:
            rows.append({"run_id": run_dir.name, "profile": None, "state": "invalid",
                         "error": str(err), "updated": None})
    return pd.DataFrame(rows, columns=list(STATUS_COLUMNS))


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
            raise ValueError(f"Profile {profile!r} not in the results (profiles: {present}).")
        return profile
    if len(present) > 1:
        raise ValueError(f"The results mix profiles {present}; choose one with profile=.")
    return present[0] if present else None
