"""The scale study: at which model size, training length and learning rate do λ and ω change the learned
representation as in the paper? (``docs/scale_study.md``, ``notebooks/07_scale_study.ipynb``)

A *budget* is one point of the free axes -- model size (``C, L, S, N``), epochs, learning rate and
training tracks -- with the paper's method, ω and λ kept exactly. For every budget the six runs of
``SCALE_SPECS`` are trained with ``k`` seeds (``run_scale_study``, through ``rlsv.study.sweeps``:
resumable, each run in its own folder). Budgets that differ only in their epochs share their
training: the longer run starts from the shorter run's checkpoint, which gives the same weights as
training from scratch.

:func:`trend_verdicts` then asks, per budget, the two questions of the findings issue with intervals
over seeds and test segments (``rlsv.study.trends.compare``, the test of the results snippet):

* (a) additivity of L_B at λ ∈ {1.5, 2} (ω = 1) at least ``0.03`` above every L_A row;
* (b) oracle binary-mask SI-SDR of L_B at λ ∈ {1.5, 2} at least ``2 dB`` below λ = 0.5;

each "beyond the noise" when the 95 % interval of the difference excludes zero, and reports how
much the reconstruction SI-SDR of the rows spreads.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd

from rlsv.run.config import RunParameters
from rlsv.run.runtime import seeded
from rlsv.run.spec import RunSpec, sinkhorn, tv
from rlsv.study.intervals import interval_by_seed
from rlsv.study.results import load_runs, select_specs
from rlsv.study.sweeps import SweepReport, run_sweep, sweep_seeds
from rlsv.study.trends import compare

__all__ = [
    "SCALE_PROFILE",
    "SCALE_SPECS",
    "SIZES",
    "Budget",
    "budget_grid",
    "STUDY",
    "run_scale_study",
    "scale_segments",
    "scale_summary",
    "trend_verdicts",
    "diagnose_study",
    "summary_table",
    "verdict_table",
    "study_batch",
    "study_root",
    "A_GAP",
    "BM_DROP",
]

SCALE_PROFILE = "small"  # the profile whose data and batch size every budget uses (its sizes are overridden)
SCALE_SPECS: tuple[RunSpec, ...] = (tv(1.0), tv(4.0), sinkhorn(1.0, 0.5), sinkhorn(1.0, 1.5), sinkhorn(1.0, 2.0),
                                    sinkhorn(4.0, 1.5))
"""L_A at ω = 1 and 4; L_B (p = 1) at ω = 1 and λ ∈ {0.5, 1.5, 2}; L_B at λ = 1.5, ω = 4."""

A_GAP = 0.03  # criterion (a): additivity of L_B at lambda in {1.5, 2} above every L_A row
BM_DROP = 2.0  # criterion (b): binary-mask SI-SDR (dB) of L_B at lambda in {1.5, 2} below lambda = 0.5
_LAMBDAS_HIGH = (1.5, 2.0)

SIZES: Mapping[str, Mapping[str, int]] = {
    # name: ModelConfig fields; C / T = channels / ceil(N / S) (paper: 800 / 173 = 4.6)
    "C96 T87 (smoke)": {"channels": 96, "kernel_size": 512, "stride": 128, "segment_length": 11025},
    "C100 T44": {"channels": 100, "kernel_size": 512, "stride": 256, "segment_length": 11025},
    "C200 T44 (small)": {"channels": 200, "kernel_size": 512, "stride": 256, "segment_length": 11025},
    "C200 T44 L1024": {"channels": 200, "kernel_size": 1024, "stride": 256, "segment_length": 11025},
}


@dataclass(frozen=True)
class Budget:
    """One point of the free axes: a model size, a training length, a learning rate, the training tracks.

    Attributes:
        size: a name for the model size (e.g. ``"C200 T44"``).
        model: its ``ModelConfig`` fields (``channels, kernel_size, stride, segment_length``).
        epochs: passes over the training tracks.
        learning_rate: Adam's step size.
        max_train_tracks: use only the first training tracks (None: all).
    """

    size: str
    model: Mapping[str, int] = field(hash=False)
    epochs: int
    learning_rate: float = 1e-3
    max_train_tracks: int | None = None

    @property
    def name(self) -> str:
        tracks = "" if self.max_train_tracks is None else f", {self.max_train_tracks} tracks"
        return f"{self.size}, lr {self.learning_rate:g}, {self.epochs} ep{tracks}"

    def overrides(self) -> dict[str, Any]:
        """The ``RunParameters`` overrides of this budget's runs."""
        return {"model": dict(self.model), "epochs": self.epochs, "learning_rate": self.learning_rate,
                "max_train_tracks": self.max_train_tracks}

    def parameters(self, spec: RunSpec, seed: int = 218, dataset: str | None = None) -> RunParameters:
        """The run of ``spec`` with ``seed`` at this budget."""
        return RunParameters.for_spec(spec, SCALE_PROFILE, seed=seed, dataset=dataset, **self.overrides())

    def variant(self, dataset: str | None = None) -> str:
        """The settings hash of this budget's runs (the last part of their run ids)."""
        return self.parameters(SCALE_SPECS[0], dataset=dataset).variant

    @property
    def channels_per_frame(self) -> float:
        """``C / T``: the scale of the Sinkhorn cost matrix M grows with it (``docs/scale_study.md``)."""
        n, s = self.model["segment_length"], self.model["stride"]
        return self.model["channels"] / -(-n // s)


def budget_grid(sizes: Mapping[str, Mapping[str, int]], epochs: Sequence[int],
                learning_rates: Sequence[float] = (1e-3,), max_train_tracks: Sequence[int | None] = (None,)
                ) -> tuple[Budget, ...]:
    """Every combination of the axes, as budgets (sizes outermost, epochs innermost)."""
    return tuple(Budget(name, sizes[name], e, lr, tracks)
                 for name, lr, tracks, e in product(sizes, learning_rates, max_train_tracks, epochs))


STUDY: tuple[Budget, ...] = budget_grid(SIZES, epochs=(5, 10, 20), learning_rates=(1e-3, 3e-3))
"""The study of ``docs/scale_study.md``: four sizes (C/T = 1.1, 2.3, 4.5, and 4.5 with the longer kernels)
x 5, 10, 20 epochs x learning rates 1e-3 and 3e-3."""


def run_scale_study(budgets: Sequence[Budget] = STUDY, seeds: int | Sequence[int] = 3,
                    root: str | os.PathLike = "papermill_runs/scale", jobs: int = 2,
                    specs: Sequence[RunSpec] = SCALE_SPECS, dataset: str | None = None, progress: bool = True,
                    run_progress: bool = False) -> list[SweepReport]:
    """Train and evaluate ``specs`` x ``seeds`` at every budget into ``root`` (finished runs are skipped).

    Budgets run shortest first within each size and learning rate, so that a longer budget's runs
    start from the shorter ones' checkpoints (``extend_shorter``): the 5-, 10- and 20-epoch budgets
    of a size cost 20 epochs of training, not 35. Runs use the inline engine (no notebooks).
    """
    ordered = sorted(budgets, key=lambda b: (b.size, b.learning_rate, str(b.max_train_tracks), b.epochs))
    overrides_data = {} if dataset is None else {"dataset": dataset}
    return [run_sweep(list(specs), SCALE_PROFILE, root, jobs=jobs, engine="inline",
                      overrides=budget.overrides() | overrides_data, seeds=seeds, progress=progress,
                      run_progress=run_progress, extend_shorter=True)
            for budget in ordered]


def scale_segments(root: str | os.PathLike, budgets: Sequence[Budget] = STUDY, dataset: str | None = None
                   ) -> pd.DataFrame:
    """Every finished run of ``budgets`` under ``root``, one row per seed and test segment
    (``rlsv.study.results.load_runs`` columns), with the budget's ``budget``, ``size``, ``epochs``,
    ``learning_rate`` and ``channels_per_frame``. Runs of other settings are left out."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # unfinished runs
        segments = load_runs(root, profile=SCALE_PROFILE)
    by_variant = {budget.variant(dataset): budget for budget in budgets}
    segments = segments[segments["variant"].isin(by_variant)]
    budget_of = segments["variant"].map(by_variant)
    return segments.assign(budget=budget_of.map(lambda b: b.name), size=budget_of.map(lambda b: b.size),
                           epochs=budget_of.map(lambda b: b.epochs),
                           learning_rate=budget_of.map(lambda b: b.learning_rate),
                           channels_per_frame=budget_of.map(lambda b: b.channels_per_frame)).reset_index(drop=True)


def _in_budget_order(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` (columns ``size``, ``learning_rate``, ``epochs``) sorted as the study reads: sizes in the
    order of :data:`SIZES` (others after, by name), then learning rate, then epochs."""
    if frame.empty:
        return frame
    order = {name: k for k, name in enumerate(SIZES)}
    position = frame["size"].map(lambda name: (order.get(name, len(order)), name))
    return (frame.assign(_position=position).sort_values(["_position", "learning_rate", "epochs"], kind="stable")
            .drop(columns="_position").reset_index(drop=True))


def _label(spec: RunSpec) -> str:
    if spec.objective == "tv":
        return f"L_A ω={spec.omega:g}"
    return f"L_B λ={spec.lam:g} ω={spec.omega:g}"


def scale_summary(segments: pd.DataFrame, specs: Sequence[RunSpec] = SCALE_SPECS) -> pd.DataFrame:
    """Per budget and run: the seed-balanced mean of each metric, its 95 % interval over seeds and test
    segments, the seeds' own means (their spread is the seed noise), from :func:`scale_segments` rows."""
    rows = []
    for budget, of_budget in segments.groupby("budget", sort=False):
        for spec in specs:
            of_run = select_specs(of_budget, [spec])
            if of_run.empty:
                continue
            row: dict[str, Any] = {"budget": budget, "size": of_run["size"].iloc[0],
                                   "epochs": of_run["epochs"].iloc[0], "learning_rate": of_run["learning_rate"].iloc[0],
                                   "run": _label(spec), "n_seeds": int(of_run["seed"].nunique())}
            for metric in ("additivity", "si_sdr_mask", "si_sdr"):
                stats = interval_by_seed(of_run, metric)
                seed_means = of_run.groupby("seed")[metric].mean()
                row |= {metric: stats["mean"], f"{metric}_ci_low": stats["ci_low"],
                        f"{metric}_ci_high": stats["ci_high"],
                        f"{metric}_seeds": " / ".join(f"{v:.3g}" for v in seed_means)}
            rows.append(row)
    return _in_budget_order(pd.DataFrame(rows))


def _difference(segments: pd.DataFrame, metric: str, higher: RunSpec, lower: RunSpec) -> tuple[float, float, float]:
    """``metric`` of ``higher`` minus ``lower`` with its 95 % interval (``rlsv.study.trends.compare``, the test of
    the results snippet); NaN where a run has no values."""
    test = compare(segments, metric, higher, lower)
    return (math.nan, math.nan, math.nan) if test is None else (test.difference, test.low, test.high)


def trend_verdicts(segments: pd.DataFrame, a_gap: float = A_GAP, bm_drop: float = BM_DROP) -> pd.DataFrame:
    """The findings issue's two trends per budget, with intervals (see the module docstring).

    Returns:
        One row per budget: ``a_gap_l1.5``, ``a_gap_l2`` (additivity of L_B λ = 1.5 / 2 minus that of the
        better L_A row) with ``*_low``/``*_high`` (95 % interval); ``bm_drop_l1.5``, ``bm_drop_l2``
        (binary-mask SI-SDR of λ = 0.5 minus that of λ = 1.5 / 2) with intervals; ``si_sdr_spread``
        (largest minus smallest reconstruction SI-SDR mean of the six rows); ``a_ok`` and ``bm_ok``:
        both λ reach the threshold and their intervals exclude zero; ``both``.
    """
    rows = []
    for budget, of_budget in segments.groupby("budget", sort=False):
        runs = {spec: select_specs(of_budget, [spec]) for spec in SCALE_SPECS}
        if any(frame.empty for frame in runs.values()):
            continue
        row: dict[str, Any] = {"budget": budget, "size": of_budget["size"].iloc[0],
                               "epochs": of_budget["epochs"].iloc[0],
                               "learning_rate": of_budget["learning_rate"].iloc[0],
                               "n_seeds": int(of_budget["seed"].nunique())}
        best_tv = max((tv(1.0), tv(4.0)), key=lambda spec: runs[spec]["additivity"].mean())
        a_ok = bm_ok = True
        for lam in _LAMBDAS_HIGH:
            high = sinkhorn(1.0, lam)
            gap, low, up = _difference(of_budget, "additivity", high, best_tv)
            row |= {f"a_gap_l{lam:g}": gap, f"a_gap_l{lam:g}_low": low, f"a_gap_l{lam:g}_high": up}
            a_ok &= gap >= a_gap and low > 0
            drop, low, up = _difference(of_budget, "si_sdr_mask", sinkhorn(1.0, 0.5), high)
            row |= {f"bm_drop_l{lam:g}": drop, f"bm_drop_l{lam:g}_low": low, f"bm_drop_l{lam:g}_high": up}
            bm_ok &= drop >= bm_drop and low > 0
        si = [frame["si_sdr"].mean() for frame in runs.values()]
        row |= {"si_sdr_spread": max(si) - min(si), "a_ok": bool(a_ok), "bm_ok": bool(bm_ok),
                "both": bool(a_ok and bm_ok)}
        rows.append(row)
    return _in_budget_order(pd.DataFrame(rows))


def diagnose_study(root: str | os.PathLike, batch: Mapping[str, Any], budgets: Sequence[Budget] = STUDY,
                   seeds: int | Sequence[int] = 1, specs: Sequence[RunSpec] = SCALE_SPECS,
                   dataset: str | None = None) -> pd.DataFrame:
    """``rlsv.study.diagnostics.diagnose`` of every trained model of the study, over training.

    For each budget, run of ``specs`` and seed in ``seeds`` whose ``model.pt`` exists under ``root``, plus
    each size's initialisation (the weights ``fit`` starts from, ``epochs = 0``), one row: ``size,
    learning_rate, epochs, run, seed`` and the diagnostics on ``batch`` (``diagnostics.test_batch``).
    """

    from rlsv.core.model import DenoisingAutoencoder, ModelConfig
    from rlsv.run.files import MODEL
    from rlsv.run.model_file import load_run_model
    from rlsv.study.diagnostics import diagnose

    rows = []
    initialised: set[tuple[str, float, int, RunSpec]] = set()
    for budget in sorted(budgets, key=lambda b: (b.size, b.learning_rate, b.epochs)):
        for spec, seed in product(specs, sweep_seeds(seeds)):
            params = budget.parameters(spec, seed, dataset)
            objective = params.train_config().loss_objective()
            key = (budget.size, budget.learning_rate, seed, spec)
            models = []
            if key not in initialised:
                initialised.add(key)
                with seeded(seed):
                    models.append((0, DenoisingAutoencoder(ModelConfig(**budget.model))))
            path = Path(root) / params.run_id / MODEL
            if path.is_file():
                models.append((budget.epochs, load_run_model(path.parent)))
            for epochs, model in models:
                rows.append({"size": budget.size, "learning_rate": budget.learning_rate, "epochs": epochs,
                             "run": _label(spec), "seed": seed, **diagnose(model, objective, batch)})
    return pd.DataFrame(rows).sort_values(["size", "learning_rate", "run", "seed", "epochs"], ignore_index=True)


def summary_table(summary: pd.DataFrame, metrics: Sequence[str] = ("additivity", "si_sdr_mask", "si_sdr")
                  ) -> pd.DataFrame:
    """:func:`scale_summary` for reading: one row per budget and run, each metric as ``mean [low, high]``
    followed by the seeds' own means."""
    decimals = {"additivity": 3, "si_sdr_mask": 2, "si_sdr": 2}
    table = summary[["budget", "run", "n_seeds"]].copy()
    for metric in metrics:
        d = decimals.get(metric, 2)
        table[metric] = [f"{m:.{d}f} [{lo:.{d}f}, {hi:.{d}f}]" for m, lo, hi in
                         zip(summary[metric], summary[f"{metric}_ci_low"], summary[f"{metric}_ci_high"])]
        table[f"{metric} by seed"] = summary[f"{metric}_seeds"]
    return table.set_index(["budget", "run"])


def verdict_table(verdicts: pd.DataFrame) -> pd.DataFrame:
    """:func:`trend_verdicts` for reading: the four differences with their 95 % intervals, the spread of
    the reconstruction SI-SDR and whether each trend holds beyond the noise."""
    def cell(frame: pd.DataFrame, name: str, d: int) -> list[str]:
        return [f"{v:+.{d}f} [{lo:+.{d}f}, {hi:+.{d}f}]" for v, lo, hi in
                zip(frame[name], frame[f"{name}_low"], frame[f"{name}_high"])]

    return pd.DataFrame({
        "budget": verdicts["budget"], "seeds": verdicts["n_seeds"],
        "A(λ=1.5) − best L_A": cell(verdicts, "a_gap_l1.5", 3), "A(λ=2) − best L_A": cell(verdicts, "a_gap_l2", 3),
        "BM(λ=0.5) − BM(λ=1.5), dB": cell(verdicts, "bm_drop_l1.5", 2),
        "BM(λ=0.5) − BM(λ=2), dB": cell(verdicts, "bm_drop_l2", 2),
        "SI-SDR spread, dB": verdicts["si_sdr_spread"].map(lambda v: f"{v:.2f}"),
        f"(a) ≥ {A_GAP:g}": verdicts["a_ok"].map({True: "yes", False: "no"}),
        f"(b) ≥ {BM_DROP:g} dB": verdicts["bm_ok"].map({True: "yes", False: "no"}),
    }).set_index("budget")


def study_batch(segment_length: int, dataset: str | None = None, batch_size: int = 8):
    """The diagnostics' fixed batch: the first kept test segments of the study's data (the small profile's
    corpus unless ``dataset``), cut to ``segment_length`` (``rlsv.study.diagnostics.test_batch``)."""
    from rlsv.run.data import dataset_root
    from rlsv.run.evaluate import iter_test_segments, load_test_dataset
    from rlsv.study.diagnostics import test_batch

    root = dataset_root(SCALE_PROFILE, dataset, progress=False)
    data = load_test_dataset(root, segment_length=segment_length, progress=False)
    return test_batch(list(iter_test_segments(data, segment_length)), batch_size)


def study_root(root: str | os.PathLike = "papermill_runs") -> Path:
    """Where the scale study keeps its runs by default: ``<runs root>/scale``."""
    return Path(root) / "scale"
