"""Planning a sweep: a grid and its seeds -> the runs (:func:`plan_runs`), and the job of each run (:class:`SweepJob`).

Nothing here reads or writes a run folder; what is done with each planned run is decided by
``rlsv.study.sweep_verdicts`` and carried out by ``rlsv.study.sweep_run``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from rlsv.errors import ConfigError
from rlsv.run.config import RunParameters
from rlsv.run.profiles import DEFAULT_PROFILE
from rlsv.run.spec import RunSpec, unique_specs
from rlsv.study.grids import FINDINGS, get_grid
from rlsv.study.results import DEFAULT_SEED

__all__ = ["SweepJob", "sweep_seeds", "plan_runs"]



@dataclass(frozen=True)
class SweepJob:
    """One run to execute: its parameters, where and how (picklable: sent to workers and SLURM).

    ``threads``: torch threads of the run (None: torch's default); ``force``: break locks of other
    hosts (``rlsv.run.lock``); ``extend_shorter``: start a new run from the checkpoint of a shorter run
    of the same settings under ``root`` (``rlsv.study.sweep_run.shorter_run_checkpoint``); ``conv_plan``: the
    convolution plan the sweep fixed for all its runs (``rlsv.run.conv_plan``; None: the run's default). The
    process that runs it gets its GPU and thread limits from the executor (``rlsv.study.executors``).
    """

    params: RunParameters
    root: str
    engine: str = "papermill"
    notebooks: str | None = None
    device: str = "auto"
    threads: int | None = None
    progress: bool = True
    kernel_name: str = "python3"
    timeout_s: float | None = None
    force: bool = False
    extend_shorter: bool = False
    conv_plan: str | None = None

    @property
    def run_id(self) -> str:
        return self.params.run_id

    @property
    def run_dir(self) -> Path:
        return Path(self.root) / self.params.run_id


def sweep_seeds(seeds: int | Sequence[int]) -> tuple[int, ...]:
    """The training seeds of a sweep: ``k`` -> the published seed 218 and the next ``k - 1`` integers
    (``218, 219, ...``), or an explicit sequence of seeds (each once, in order)."""
    if isinstance(seeds, bool) or not isinstance(seeds, (int, Sequence)):
        raise ConfigError(f"seeds must be a count >= 1 or a list of seeds, got {seeds!r}.")
    if isinstance(seeds, int):
        if seeds < 1:
            raise ConfigError(f"seeds (--seeds) must be >= 1, got {seeds}.")
        return tuple(DEFAULT_SEED + k for k in range(seeds))
    chosen = tuple(dict.fromkeys(int(s) for s in seeds))
    if not chosen or any(s < 0 for s in chosen):
        raise ConfigError(f"seeds must be non-negative integers, at least one, got {list(seeds)!r}.")
    return chosen


def _findings_seeds(seeds: tuple[int, ...], count: int) -> tuple[int, ...]:
    """``seeds`` and, until there are ``count``, the next unused seeds after the published one."""
    extra = (DEFAULT_SEED + k for k in range(len(seeds) + count))
    return (seeds + tuple(s for s in extra if s not in seeds))[:max(count, len(seeds))]


def plan_runs(grid: str | Sequence[RunSpec], profile: str = DEFAULT_PROFILE,
              overrides: Mapping[str, Any] | None = None, seeds: int | Sequence[int] = 1,
              findings_seeds: int = 0) -> list[RunParameters]:
    """The runs of ``grid`` (a name of ``rlsv.study.grids`` or run specs) at ``profile``: each grid point
    once per seed of :func:`sweep_seeds` (the STFT baseline, which trains nothing, once), seeds outermost
    (a sweep interrupted after its first seed has one complete set).

    ``findings_seeds``: the grid points that carry the paper's findings (``rlsv.study.grids.FINDINGS``) get at
    least this many seeds (the next ones after those of ``seeds``), planned after every other run.
    ``overrides`` are :class:`rlsv.run.config.RunParameters` settings applied to every run
    (e.g. ``{"epochs": 1, "model": {"channels": 16}}``); ``seed`` is set by ``seeds``.
    """
    specs = get_grid(grid) if isinstance(grid, str) else unique_specs(grid)
    overrides = dict(overrides or {})
    if "seed" in overrides:
        raise ConfigError("Give the seeds with seeds= (--seeds), not as an override.")
    chosen = sweep_seeds(seeds)
    runs: list[RunParameters] = []
    for k, seed in enumerate(chosen):
        runs += [RunParameters.for_spec(spec, profile, seed=seed, **overrides) for spec in specs
                 if spec.is_trained or k == 0]
    findings = [spec for spec in specs if spec in FINDINGS]
    for seed in _findings_seeds(chosen, findings_seeds)[len(chosen):]:
        runs += [RunParameters.for_spec(spec, profile, seed=seed, **overrides) for spec in findings]
    return runs
