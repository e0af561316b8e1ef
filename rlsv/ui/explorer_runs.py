"""Where the λ explorer finds runs: by run id (``RunParameters.run_id``) in its folders, in order.

The folders (:class:`RunFolders`): the runs folder of the sweeps (``papermill_runs``), the explorer's own
folder (runs trained with "train this run now", ``papermill_runs/explorer-runs`` by default) and the
runs shipped with rlsv (``rlsv.ui.shipped``). A grid point and seed name one run id per run set; the
run set is the profile with the explorer's ``train_overrides`` (what "train this run now" makes), else
the profile's own settings (the sweeps' and the shipped runs'). The first folder holding a finished run
of that id wins, so a sweep's run is preferred to the shipped one and nothing is trained twice.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from rlsv.run.config import RunParameters
from rlsv.run.files import MODEL, STATUS
from rlsv.run.spec import RunSpec

__all__ = ["FoundRun", "RunFolders", "TestSegmentsCache"]

RUN_COLUMNS: tuple[str, ...] = ("run_id", "objective", "omega", "lam", "p", "seed", "source", "path")


@dataclass(frozen=True)
class FoundRun:
    """A finished run: its parameters, its folder and which of the explorer's folders holds it."""

    params: RunParameters
    path: Path
    source: str

    @property
    def run_id(self) -> str:
        return self.params.run_id


def _is_finished(run_dir: Path) -> bool:
    """A trained model and ``status.json`` saying ``done`` (training and evaluation both ended)."""
    if not (run_dir / MODEL).is_file():
        return False
    try:
        return json.loads((run_dir / STATUS).read_text(encoding="utf-8")).get("state") == "done"
    except (OSError, ValueError, AttributeError):
        return False


class RunFolders:
    """The explorer's folders, searched in order, and the run sets it shows.

    Args:
        folders: ``(source name, folder)`` pairs, searched in this order (missing folders hold nothing).
        profile: the runs' profile.
        train_overrides: ``RunParameters`` overrides of the runs trained here (``{}``: the profile's own).
    """

    def __init__(self, folders: Sequence[tuple[str, str | os.PathLike]], profile: str,
                 train_overrides: Mapping[str, Any] | None = None) -> None:
        self.folders = [(name, Path(folder)) for name, folder in folders]
        self.profile = profile
        self.train_overrides = dict(train_overrides or {})
        self._listing: pd.DataFrame | None = None

    def parameters(self, spec: RunSpec, seed: int, own: bool = False) -> RunParameters:
        """The run of ``spec`` and ``seed`` that "train this run now" makes (``own``: the profile's own
        settings instead of ``train_overrides``)."""
        overrides = {} if own else self.train_overrides
        return RunParameters.for_spec(spec, self.profile, seed=seed, **overrides)

    def _candidates(self, spec: RunSpec, seed: int) -> list[RunParameters]:
        candidates = [self.parameters(spec, seed)]
        if self.train_overrides:
            candidates.append(self.parameters(spec, seed, own=True))
        return candidates

    @property
    def variants(self) -> set[str]:
        """The settings hashes of the run sets shown (the explorer's, then the profile's own)."""
        return {params.variant for params in self._candidates(RunSpec("tv", omega=1.0), 0)}

    def find(self, spec: RunSpec, seed: int) -> FoundRun | None:
        """The finished run of ``spec`` and ``seed``: the explorer's settings first, then the profile's own;
        within each, the first folder that holds it. None: no finished run."""
        for params in self._candidates(spec, seed):
            for source, folder in self.folders:
                if _is_finished(folder / params.run_id):
                    return FoundRun(params, folder / params.run_id, source)
        return None

    def invalidate(self) -> None:
        """Forget :meth:`listing` (a run was trained)."""
        self._listing = None

    def listing(self) -> pd.DataFrame:
        """Every finished run of the shown run sets, once per run id (the first folder's), columns
        ``RUN_COLUMNS``; read once, until :meth:`invalidate`."""
        if self._listing is None:
            self._listing = self._scan()
        return self._listing

    def _scan(self) -> pd.DataFrame:
        from rlsv.study.results import Run, scan_runs

        variants, rows, seen = self.variants, [], set()
        for source, folder in self.folders:
            if not folder.is_dir():
                continue
            for run in scan_runs(folder):
                if (not isinstance(run, Run) or run.run_id in seen or run.config.get("profile") != self.profile
                        or run.config.get("variant") not in variants or not run.spec.is_trained
                        or not _is_finished(run.path)):
                    continue
                seen.add(run.run_id)
                rows.append({"run_id": run.run_id, **run.spec.as_columns(), "seed": int(run.config["seed"]),
                             "source": source, "path": run.path})
        return pd.DataFrame(rows, columns=list(RUN_COLUMNS)).sort_values(
            ["objective", "omega", "p", "lam", "seed"], na_position="first", ignore_index=True)

    def found(self, row: Mapping[str, Any]) -> FoundRun:
        """The :class:`FoundRun` of a :meth:`listing` row."""
        spec = RunSpec.from_config(row)
        for params in self._candidates(spec, int(row["seed"])):
            if params.run_id == row["run_id"]:
                return FoundRun(params, Path(row["path"]), str(row["source"]))
        raise KeyError(row["run_id"])


class TestSegmentsCache:
    """The test segments of a run set, read once per test set. They come from the run's parameters (the
    profile's synthetic corpus, written on first use, or the ``dataset`` override; the test tracks and
    segment length of the profile), not from the folder a run was made in: a shipped run made on another
    machine finds its test tracks here, and a run not trained yet has them too."""

    __test__ = False  # not a pytest class

    def __init__(self, progress: bool = True) -> None:
        self.progress = progress
        self._segments: dict[str, list] = {}

    @staticmethod
    def key_of(params: RunParameters) -> str:
        """What identifies a run's test segments: its data, segment length and number of test tracks."""
        return json.dumps([params.data_identity(), params.model_config().segment_length, params.test_tracks()])

    def get(self, params: RunParameters) -> list:
        """``TrackSegments`` of every test track of the runs of ``params`` (``rlsv.audio.segments``)."""
        from rlsv.run.data import dataset_root
        from rlsv.run.evaluate import iter_test_segments, run_test_dataset
        from rlsv.run.pipeline import planned_config

        key = self.key_of(params)
        if key not in self._segments:
            config = planned_config(params, dataset_root(params.profile, params.dataset, self.progress), "cpu")
            data = run_test_dataset(config, progress=self.progress)
            self._segments[key] = list(iter_test_segments(data, int(config["model"]["segment_length"])))
        return self._segments[key]
