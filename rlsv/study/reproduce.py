"""Tables 1-2 and Figures 2-6 from the runs in ``papermill_runs/``, and the whole reproduction.

* :func:`make_tables` -- Tables 1 and 2 (mean ± std as in the paper, median, the paper's values
  and the difference) into ``<runs root>/tables/<profile>/`` as CSV, Markdown and LaTeX
  (``rlsv.study.tables.write_paper_tables``). Notebook ``04_tables.ipynb`` and ``rlsv tables``.
* :func:`make_figures` -- Figures 2-6 into ``figures/<profile>/figureN.{png,pdf}``. Figures 2
  and 4 show one test segment through the trained encoders (channels sorted by carrier
  frequency); 3, 5 and 6 are mean ± std error plots. Notebook ``05_figures.ipynb`` and ``rlsv figures``.
* :func:`reproduce` -- ``rlsv reproduce``: the ``all`` sweep (30 runs + STFT), then notebooks 04
  and 05 executed with papermill (so the notebooks are the single source of both), then a list of
  where every result is (:meth:`ReproduceResult.text`).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from rlsv.atomic import write_json
from rlsv.errors import RunFolderError
from rlsv.run.files import MODEL
from rlsv.run.profiles import DEFAULT_PROFILE
from rlsv.run.spec import RunSpec, run_id
from rlsv.study.notebook_runs import execute_notebook, notebooks_dir
from rlsv.study.paper_values import FIGURE2_CAPTION, FIGURE4_PANELS
from rlsv.study.sweeps import SweepReport, SweepSettings, sweep

__all__ = [
    "TABLES_NOTEBOOK",
    "FIGURES_NOTEBOOK",
    "FIGURE_NAMES",
    "tables_dir",
    "figures_dir",
    "reports_dir",
    "TablesResult",
    "FiguresResult",
    "make_tables",
    "make_figures",
    "ReproduceResult",
    "reproduce",
    "read_manifest",
]

TABLES_NOTEBOOK, FIGURES_NOTEBOOK = "04_tables.ipynb", "05_figures.ipynb"
FIGURE_NAMES: tuple[str, ...] = ("figure2", "figure3", "figure4", "figure5", "figure6")
FIGURE2_SPEC = FIGURE4_PANELS[2][0]  # L_B, omega = 4, lambda = 1.5
MANIFEST = "figures.json"


def tables_dir(root: str | os.PathLike = "papermill_runs", profile: str = DEFAULT_PROFILE) -> Path:
    """Where the tables of ``profile`` go: ``<root>/tables/<profile>``."""
    return Path(root) / "tables" / profile


def figures_dir(figures_root: str | os.PathLike = "figures", profile: str = DEFAULT_PROFILE) -> Path:
    """Where the figures of ``profile`` go: ``<figures_root>/<profile>``."""
    return Path(figures_root) / profile


def reports_dir(root: str | os.PathLike = "papermill_runs", profile: str = DEFAULT_PROFILE) -> Path:
    """Where ``rlsv reproduce`` keeps the executed notebooks 04 and 05: ``<root>/reports/<profile>``."""
    return Path(root) / "reports" / profile


# --------------------------------------------------------------------------- tables


@dataclass
class TablesResult:
    """The regenerated tables: ``frames`` (paper format, by table name), ``paths`` written,
    ``status`` (one row per run of the run set: state and error), ``label`` (what the runs were),
    ``provenance`` (``rlsv.study.provenance.run_set_provenance``, also in ``provenance.json`` beside them)."""

    frames: dict[str, pd.DataFrame]
    paths: list[Path]
    status: pd.DataFrame
    label: str = ""
    provenance: dict[str, Any] = field(default_factory=dict)


def make_tables(root: str | os.PathLike = "papermill_runs", profile: str = DEFAULT_PROFILE,
                out_dir: str | os.PathLike | None = None, variant: str | None = None) -> TablesResult:
    """Tables 1 and 2 from the finished runs of ``profile`` under ``root``, written to ``out_dir``.

    Every row of the paper is present; a run that is not finished reads ``missing``. The runs are one
    run set (``rlsv.study.results.load_run_set``: ``variant`` chooses among several settings); every
    seed of a grid point counts. Files per table ``name``: ``name.csv``, ``name.md``, ``name.tex``
    (paper format, captioned with what the runs were and what made them) and ``name_numbers.csv``; and
    ``provenance.json`` (``rlsv.study.provenance``).
    """
    from rlsv.study.provenance import write_provenance
    from rlsv.study.results import load_run_set
    from rlsv.study.run_overview import status_frame
    from rlsv.study.tables import write_paper_tables

    run_set = load_run_set(root, profile, variant)
    if run_set.segments.empty:  # every row would read "missing": say so instead of writing such tables
        raise RunFolderError(f"No finished runs of profile {profile!r} in {root}: nothing to put in Tables 1-2. "
                             f"`rlsv status --runs-root {root}` lists its runs; `rlsv sweep` makes them.")
    out = Path(out_dir) if out_dir is not None else tables_dir(root, profile)
    label = run_set.label()
    provenance = write_provenance(run_set, out)
    frames, paths = write_paper_tables(run_set.segments, out, profile=run_set.profile, variant=run_set.variant,
                                       label=label, provenance=provenance["short"])
    return TablesResult(frames, paths + [out / "provenance.json"], status_frame(run_set.runs), label, provenance)


# --------------------------------------------------------------------------- figures


@dataclass
class FiguresResult:
    """``figures`` (name -> matplotlib Figure), ``paths`` (name -> PNG and PDF), ``missing``
    (name -> why it could not be drawn), ``segment`` (track and index used for Figures 2 and 4),
    ``label`` (what the runs were), ``provenance`` (one line: what made them), and the run set's
    ``profile``, ``variant`` and per-segment results ``segments`` (what ``rlsv.study.readings`` reads)."""

    figures: dict[str, Figure] = field(default_factory=dict)
    paths: dict[str, list[Path]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    segment: str | None = None
    label: str = ""
    provenance: str = ""
    profile: str | None = None
    variant: str | None = None
    segments: pd.DataFrame = field(default_factory=pd.DataFrame)


class _SegmentSource:
    """The chosen test segment through the trained model of a run, once per run (Figures 2 and 4
    share a run); the test segments are read once per test set."""

    def __init__(self, run_set, track: str | int | None, segment: int | None, device: str):
        self.run_set, self.track, self.segment, self.device = run_set, track, segment, device
        self._tracks: dict[str, list] = {}
        self._views: dict[RunSpec, Any] = {}
        self.label: str | None = None

    def view(self, spec: RunSpec):
        """The chosen segment through the model of ``spec``'s run (``rlsv.run.segment_view.SegmentView``)."""
        if spec not in self._views:
            self._views[spec] = self._represent(spec)
        self.label = self._views[spec].label
        return self._views[spec]

    def _represent(self, spec: RunSpec):
        from rlsv.run.evaluate import cached_test_segments
        from rlsv.run.model_file import load_run_model
        from rlsv.run.segment_view import pick_segment, represent_segment

        run_dir = self.run_set.run_dir(spec)
        if run_dir is None:
            raise FileNotFoundError(f"no trained run {run_id(spec, str(self.run_set.profile))}-* "
                                    f"(variant {self.run_set.variant}) with a model.pt in {self.run_set.root}")
        model = load_run_model(run_dir, MODEL, map_location=self.device)
        tracks = cached_test_segments(run_dir, self._tracks)  # shared by runs with the same test set
        t, k = pick_segment(tracks, self.track, self.segment)
        seed = run_dir.name.rsplit("-s", 1)[-1].split("-")[0]
        label = (f"{tracks[t].track}, segment {k} ({model.config.segment_length / model.config.sample_rate:g} s), "
                 f"seed {seed}")
        ts = tracks[t]
        return represent_segment(model, ts.mixture[k], ts.vocals[k], ts.accompaniment[k], label=label)


def make_figures(root: str | os.PathLike = "papermill_runs", profile: str = DEFAULT_PROFILE,
                 out_dir: str | os.PathLike | None = None, track: str | int | None = None,
                 segment: int | None = None, device: str = "cpu", variant: str | None = None) -> FiguresResult:
    """Figures 2-6 from the runs of ``profile`` under ``root``, saved as PNG and PDF in ``out_dir``.

    Args:
        out_dir: default ``figures/<profile>``.
        track, segment: the test segment of Figures 2 and 4 (default: the first test track, its
            kept segment with the loudest vocals), through the published seed's model (218) when
            several seeds were trained.
        device: where the encoders run for Figures 2 and 4.
        variant: which settings' runs, when the runs folder holds several (``load_run_set``).

    A figure whose runs are missing is skipped and listed in ``missing`` (never an exception).
    Every figure's title says what the runs were. ``figures.json`` in ``out_dir`` lists what was
    drawn and what is missing (paths relative to ``out_dir``).
    """
    from rlsv.study.plots import (
        add_provenance_footer,
        plot_figure3,
        plot_figure5,
        plot_figure6,
        save_figure,
        wrap_title,
    )
    from rlsv.study.provenance import write_provenance
    from rlsv.study.representation_plots import RepresentationRow, plot_representation_rows, plot_representations
    from rlsv.study.results import load_run_set

    out = Path(out_dir) if out_dir is not None else figures_dir("figures", profile)
    run_set = load_run_set(root, profile, variant)
    segments, label = run_set.segments, run_set.label()
    out.mkdir(parents=True, exist_ok=True)
    provenance = write_provenance(run_set, out)["short"]
    source = _SegmentSource(run_set, track, segment, device)
    result = FiguresResult(label=label, provenance=provenance, profile=run_set.profile, variant=run_set.variant,
                           segments=segments)

    def figure2() -> Figure:
        view = source.view(FIGURE2_SPEC)
        return plot_representations(view.reps, view.carrier_hz, f"{FIGURE2_CAPTION}\n{view.label}; {label}",
                                    frame_rate_hz=view.frame_rate_hz)

    def figure4() -> Figure:
        rows = []
        for spec, caption in FIGURE4_PANELS:
            view = source.view(spec)
            rows.append(RepresentationRow(caption, view.reps, view.carrier_hz))
        fig = plot_representation_rows(rows, frame_rate_hz=view.frame_rate_hz)
        fig.suptitle(wrap_title(f"Figure 4: {view.label}\n{label}", fig), fontsize="medium")
        return fig

    kwargs = {"profile": run_set.profile, "variant": run_set.variant, "label": label}
    builders = {"figure2": figure2, "figure3": lambda: plot_figure3(segments, **kwargs), "figure4": figure4,
                "figure5": lambda: plot_figure5(segments, **kwargs),
                "figure6": lambda: plot_figure6(segments, **kwargs)}
    for name in FIGURE_NAMES:
        try:
            fig = builders[name]()
        except (FileNotFoundError, ValueError) as error:
            result.missing[name] = str(error)
            continue
        add_provenance_footer(fig, provenance)
        result.figures[name] = fig
        result.paths[name] = save_figure(fig, out / name)
    result.segment = source.label
    write_json({"profile": run_set.profile, "variant": run_set.variant, "runs": label, "segment": result.segment,
                "provenance": provenance,
                "figures": {name: [p.name for p in paths] for name, paths in result.paths.items()},
                "missing": result.missing}, out / MANIFEST)
    return result


# --------------------------------------------------------------------------- reproduce


@dataclass
class ReproduceResult:
    """What ``rlsv reproduce`` made and where it is."""

    profile: str
    report: SweepReport
    tables: list[Path] = field(default_factory=list)
    figures: dict[str, list[Path]] = field(default_factory=dict)
    missing_figures: dict[str, str] = field(default_factory=dict)
    notebooks: list[Path] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    seconds: float = 0.0
    report_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.report.ok and not self.errors and not self.missing_figures

    def stages(self) -> dict[str, float]:
        """Where the time went, in seconds: wall times (data, the runs, the tables and figures) and, summed
        over the runs that worked now (the workers run in parallel), training, evaluation and the rest of
        each run (notebook kernels, imports, bookkeeping)."""
        from rlsv.run.status import read_status

        worked = [o for o in self.report.outcomes if o.state == "done"]
        statuses = [read_status(o.run_dir) or {} for o in worked]
        train = sum(float(s.get("train_seconds") or 0) for s in statuses)
        evaluate = sum(float(s.get("evaluate_seconds") or 0) for s in statuses)
        runs_total = sum(o.seconds for o in worked)
        return {"data (corpus, decode cache), wall": self.report.prepare_seconds,
                "runs, wall": self.report.seconds - self.report.prepare_seconds,
                "  training, summed over runs": train, "  evaluation, summed over runs": evaluate,
                "  notebooks and the rest, summed over runs": max(0.0, runs_total - train - evaluate),
                "tables and figures (notebooks 04, 05), wall": self.report_seconds, "total, wall": self.seconds}

    def text(self) -> str:
        """Where each result is, for the terminal."""
        root = self.report.root
        cwd = Path.cwd()

        def show(path: Path) -> str:
            path = Path(path).resolve()
            return str(path.relative_to(cwd)) if path.is_relative_to(cwd) else str(path)

        lines = [self.report.text(), "", f"rlsv reproduce ({self.profile}) finished in {self.seconds:.0f} s. Results:",
                 f"  runs (executed notebooks, metrics, checkpoints): {show(root)}/{self.profile}-*/"]
        md = [p for p in self.tables if p.suffix == ".md" and p.stem != "results"]
        if md:
            folder = show(md[0].parent)
            lines.append(f"  tables: {folder}/ ({', '.join(p.stem for p in md)}: .md .csv .tex, *_numbers.csv; "
                         "provenance.json)")
        for path in self.tables:
            if path.name == "results.md":
                lines.append(f"  results snippet (what the README quotes; `make results` publishes it): {show(path)}")
        for name, paths in self.figures.items():
            lines.append(f"  {name}: {' '.join(show(p) for p in paths)}")
        for name, why in self.missing_figures.items():
            lines.append(f"  {name}: NOT DRAWN ({why})")
        if self.notebooks:
            lines.append(f"  executed notebooks: {' '.join(show(p) for p in self.notebooks)}")
        lines += [f"  ERROR: {e}" for e in self.errors]
        lines += ["Time per stage:"] + [f"  {name}: {seconds:.0f} s" for name, seconds in self.stages().items()]
        return "\n".join(lines)


def reproduce(settings: SweepSettings | None = None, figures_root: str | os.PathLike = "figures",
              **options: Any) -> ReproduceResult:
    """The ``all`` sweep (30 runs + STFT per seed), then Tables 1-2 and Figures 2-6 of its runs.

    ``settings``: how the sweep runs (:class:`rlsv.study.sweeps.SweepSettings`; default: its defaults with
    2 jobs and 3 seeds for the grid points that carry the findings, ``findings_seeds=3``, run inline); ``options``:
    fields of it to replace, so ``reproduce(profile="smoke", jobs=1)`` works too. After the tables it writes the results
    snippet the README quotes (``results.md`` beside them, ``rlsv.study.results_snippet``).
    With ``engine="papermill"`` the tables and figures come from executing ``04_tables.ipynb``
    and ``05_figures.ipynb`` (kept in ``<root>/reports/<profile>/``); with ``"inline"`` from
    :func:`make_tables` / :func:`make_figures` directly. Tables and figures are made from
    whatever finished, also when some runs failed (their rows read ``missing``), and only from the
    runs of this sweep's settings (its variant).
    """
    start = time.perf_counter()
    settings = replace(settings or SweepSettings(jobs=2, findings_seeds=3, findings_engine="inline"), **options)
    profile, engine, kernel_name = settings.profile, settings.engine, settings.kernel_name
    report = sweep("all", settings)
    result = ReproduceResult(profile, report)
    root = report.root
    reports_started = time.perf_counter()
    out_tables, out_figures = tables_dir(root, profile), figures_dir(Path(figures_root).resolve(), profile)
    if engine == "papermill":
        folder = notebooks_dir()
        reports = reports_dir(root, profile)
        for notebook, parameters in (
                (TABLES_NOTEBOOK, {"runs_root": str(root), "profile": profile, "variant": report.variant,
                                   "out_dir": str(out_tables)}),
                (FIGURES_NOTEBOOK, {"runs_root": str(root), "profile": profile, "variant": report.variant,
                                    "out_dir": str(out_figures)})):
            output = reports / notebook
            try:
                execute_notebook(folder / notebook, output, parameters, kernel_name)
            except Exception as error:  # report and go on: the other notebook may still work
                from rlsv.run.status import describe_error

                result.errors.append(f"{notebook}: {describe_error(error)} (see {output})")
            result.notebooks.append(output)
        result.tables = sorted(p for p in out_tables.glob("*") if p.suffix in (".md", ".csv", ".tex"))
        manifest = read_manifest(out_figures)
        for name in FIGURE_NAMES:
            if name in manifest.get("figures", {}):
                result.figures[name] = [out_figures / p for p in manifest["figures"][name]]
            else:
                why = manifest.get("missing", {}).get(name, "not drawn")
                result.missing_figures[name] = f"{why}; see {reports / FIGURES_NOTEBOOK}"
    else:
        result.tables = make_tables(root, profile, out_tables, variant=report.variant).paths
        figures = make_figures(root, profile, out_figures, variant=report.variant)
        result.figures, result.missing_figures = figures.paths, figures.missing
    try:
        result.tables.append(_write_results(root, profile, report.variant, out_tables, time.perf_counter() - start))
    except (OSError, ValueError, KeyError) as error:  # no tables: said above; the snippet needs them
        result.errors.append(f"results snippet: {error}")
    result.report_seconds = time.perf_counter() - reports_started
    result.seconds = time.perf_counter() - start
    return result


def _write_results(root: Path, profile: str, variant: str | None, out_tables: Path, seconds: float) -> Path:
    """The results snippet of the tables in ``out_tables`` (``rlsv.study.results_snippet``), with what the runs
    were and what made them."""
    from rlsv.study.provenance import PROVENANCE_FILE
    from rlsv.study.results import load_run_set
    from rlsv.study.results_snippet import write_snippet
    from rlsv.study.trends import trend_tests

    provenance = json.loads((out_tables / PROVENANCE_FILE).read_text(encoding="utf-8"))
    run_set = load_run_set(root, profile, variant)
    return write_snippet(out_tables, run_set.label(), provenance, seconds, tests=trend_tests(run_set.segments))


def read_manifest(out_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``figures.json`` that :func:`make_figures` wrote in ``out_dir`` (empty if none)."""
    try:
        return json.loads((Path(out_dir) / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
