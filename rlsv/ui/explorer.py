"""The λ explorer of notebook 06: pick a trained run (objective, ω, λ, p) and a test segment, see
its representations, metrics and audio.

Core ipywidgets 8 only (``Dropdown``, ``SelectionSlider``, ``Output``, ``HTML``): it works in
JupyterLab 4 and Notebook 7 without installing any extension. The output is rendered as plain
MIME data (a PNG, HTML tables and ``<audio>`` players) assigned to ``Output.outputs``, so it also
renders outside a live kernel (tests, static viewers keep the last view).

>>> explorer = RepresentationExplorer("papermill_runs", profile="small")   # doctest: +SKIP
>>> explorer            # in a notebook: shows the widgets              # doctest: +SKIP
>>> explorer.lam.value = 0.5; explorer.state["run_id"]                     # doctest: +SKIP
'small-sinkhorn-p1-l0.5-w1-s218-219a5a'
"""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pandas as pd

from rlsv.errors import ConfigError
from rlsv.run.files import MODEL, SUMMARY
from rlsv.run.spec import RunSpec, run_id
from rlsv.study.tables import OBJECTIVE_LABELS
from rlsv.ui.display import audio_bundle, html_bundle, png_bundle

__all__ = ["trained_runs", "RepresentationExplorer"]

_OBJECTIVE_NAMES = {"tv": "L_A (total variation)", "sinkhorn": "L_B (Sinkhorn)"}


def trained_runs(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                 variant: str | None = None) -> pd.DataFrame:
    """Runs under ``root`` with a trained ``model.pt`` (STFT excluded), one row each, of one run set.

    Columns ``CONFIG_COLUMNS`` (``run_id, profile, variant, objective, omega, lam, p, seed``), ``state``,
    ``path``. With ``profile=None`` the profile with the most trained runs is used; with
    ``variant=None`` its settings with the most trained runs.
    """
    from rlsv.study.results import CONFIG_COLUMNS, Run, config_columns, scan_runs

    rows = []
    for run in scan_runs(root):
        if not isinstance(run, Run) or not run.spec.is_trained or not (run.path / MODEL).is_file():
            continue
        rows.append({**config_columns(run.config), "state": run.state, "path": run.path})
    runs = pd.DataFrame(rows, columns=[*CONFIG_COLUMNS, "state", "path"])
    if profile is None and len(runs):
        profile = Counter(runs["profile"]).most_common(1)[0][0]
    if profile is not None:
        runs = runs[runs["profile"] == profile]
    if variant is None and len(runs):
        variant = Counter(runs["variant"]).most_common(1)[0][0]
    if variant is not None:
        runs = runs[runs["variant"] == variant]
    return runs.reset_index(drop=True)


def _options(values) -> list[tuple[str, float]]:
    return [(f"{v:g}", float(v)) for v in sorted({float(v) for v in values if pd.notna(v)})]


def _pick(options: list[tuple[str, float]], preferred: float) -> float:
    """``preferred`` when it is an option, else the option nearest to it."""
    values = [v for _, v in options]
    return preferred if preferred in values else min(values, key=lambda v: abs(v - preferred))


ORACLE = "oracle binary mask (needs the true vocals)"


class RepresentationExplorer:
    """Widgets to browse the learned representations of the runs under ``runs_root``.

    Attributes (widgets): ``objective``, ``omega``, ``lam``, ``p``, ``seed`` (choose the run; each lists
    only the values that have a trained run for the choices above it), ``track``, ``segment`` (choose the
    test segment), ``out`` (``ipywidgets.Output`` with the view), ``widget`` (the whole box; displaying
    the explorer displays it).
    ``state``: what is shown (``run_id``, ``track``, ``segment``, ``window`` (first and last segment heard),
    ``additivity``, ``si_sdr_mask``, ``si_sdr``; or ``run_id=None`` and a ``message``); ``renders``
    counts re-renders.

    The image and the players cover about ``seconds`` of consecutive test segments around the chosen
    one (marked in the image), each segment encoded, masked and decoded as the evaluation does; the
    metrics are the chosen segment's and the run's.

    Args:
        runs_root: the runs folder (``papermill_runs``).
        profile: which profile's runs (None: the one with most trained runs).
        device: where the encoders run (``"cpu"`` is fast enough).
        dpi: resolution of the representation image.
        seconds: how much audio the players play.
    """

    def __init__(self, runs_root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                 device: str = "cpu", dpi: int = 80, seconds: float = 3.0) -> None:
        import ipywidgets as W

        self.root = Path(runs_root)
        self.runs = trained_runs(self.root, profile)
        if self.runs.empty:
            raise ConfigError(f"No trained run with a model.pt under {self.root}"
                             f"{f' for profile {profile!r}' if profile else ''}; run a sweep first "
                             "(rlsv sweep figure5, or make reproduce) or train a run with 02_train.ipynb.")
        self.profile = str(self.runs["profile"].iloc[0])
        self.device, self.dpi, self.seconds = device, dpi, seconds
        self._models: dict[str, Any] = {}
        self._tracks: dict[str, list] = {}
        self._updating = False
        self._track_names: list[str] = []
        self.state: dict[str, Any] = {}
        self.renders = 0

        objectives = [o for o in ("sinkhorn", "tv") if (self.runs["objective"] == o).any()]
        style = {"description_width": "5em"}
        self.objective = W.Dropdown(options=[(_OBJECTIVE_NAMES[o], o) for o in objectives], value=objectives[0],
                                    description="objective", style=style)
        self.omega = W.SelectionSlider(options=[("–", 0.0)], description="ω", continuous_update=False, style=style)
        self.lam = W.SelectionSlider(options=[("–", 0.0)], description="λ", continuous_update=False, style=style)
        self.p = W.Dropdown(options=[("–", 0.0)], description="p", style=style)
        self.seed = W.Dropdown(options=[("–", 0)], description="seed", style=style)
        self.track = W.Dropdown(options=[], description="track", style=style)
        self.segment = W.SelectionSlider(options=[("–", 0)], description="segment", continuous_update=False,
                                         style=style)
        self.out = W.Output()
        self.widget = W.VBox([
            W.HTML(f"<b>Learned representations</b> of the <code>{html.escape(self.profile)}</code> runs in "
                   f"<code>{html.escape(str(self.root))}</code>: choose a run (only values with a trained run "
                   "are offered) and a test segment. Separation here is by the <b>oracle</b> binary mask: it "
                   "needs the true vocals, as in the paper's evaluation."),
            W.HBox([self.objective, self.p, self.seed]), self.omega, self.lam, W.HBox([self.track, self.segment]),
            self.out])

        self._sync_run_options(preferred=(1.0, 1.5, 1.0))
        first = self._selected_run() or Path(self.runs["path"].iloc[0])
        self._sync_track_options(first)
        for widget in (self.objective, self.omega, self.lam, self.p, self.seed, self.track, self.segment):
            widget.observe(self._on_change, names="value")
        self.render()

    # ------------------------------------------------------------------ notebook display

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ options

    @contextmanager
    def _updating_widgets(self) -> Iterator[None]:
        """Widget changes made inside this block do not re-render (:meth:`_on_change` ignores them)."""
        self._updating = True
        try:
            yield
        finally:
            self._updating = False

    def _runs_of(self, **chosen: float) -> pd.DataFrame:
        """The trained runs of the chosen objective with the given ω / λ / p values."""
        runs = self.runs[self.runs["objective"] == self.objective.value]
        for column, value in chosen.items():
            runs = runs[np.isclose(runs[column].astype(float), value)]
        return runs

    @staticmethod
    def _set(widget, options: list, preferred) -> None:
        widget.options = options or [("–", 0.0)]
        widget.value = _pick(widget.options, preferred) if options else 0.0

    def _sync_run_options(self, preferred: tuple[float, float, float] | None = None) -> None:
        """Cascade ω -> λ -> p -> seed from the runs that exist: each lists only the values with a trained
        run for the choices above it, keeping the current value when it is still offered (else the
        nearest). λ and p are disabled for L_A."""
        keep = preferred or (self.omega.value, self.lam.value, self.p.value)
        sinkhorn = self.objective.value == "sinkhorn"
        with self._updating_widgets():
            self._set(self.omega, _options(self._runs_of()["omega"]), keep[0])
            if sinkhorn:
                self._set(self.lam, _options(self._runs_of(omega=self.omega.value)["lam"]), keep[1])
                self._set(self.p, _options(self._runs_of(omega=self.omega.value, lam=self.lam.value)["p"]), keep[2])
            self.lam.disabled = self.p.disabled = not sinkhorn
            self._sync_seed_options()

    def _sync_seed_options(self) -> None:
        seeds = sorted({int(s) for s in self._selected_runs()["seed"].dropna()})
        current = self.seed.value
        self.seed.options = [(str(s), s) for s in seeds] or [("–", 0)]
        if seeds:
            self.seed.value = current if current in seeds else (218 if 218 in seeds else seeds[0])

    def _sync_track_options(self, run_dir: Path) -> None:
        """Track and segment options from the test set of ``run_dir`` (kept segments only)."""
        tracks = self._test_tracks(run_dir)
        names = [ts.track for ts in tracks]
        with self._updating_widgets():
            if names != self._track_names:
                self._track_names = names
                self.track.options = [(name, i) for i, name in enumerate(names)]
                self.track.value = 0
            self._sync_segment_options(tracks)

    def _sync_segment_options(self, tracks: list) -> None:
        """Segment options: the kept segments of the chosen track (the loudest-vocals one by default)."""
        from rlsv.run.segment_view import pick_segment

        ts = tracks[self.track.value]
        kept = [int(k) for k in range(len(ts)) if ts.active[k]]
        if not kept:
            self.segment.options = [("0 (silent)", 0)]
            self.segment.value = 0
            return
        current = self.segment.value
        self.segment.options = [(str(k), k) for k in kept]
        self.segment.value = current if current in kept else pick_segment(tracks, self.track.value)[1]

    # ------------------------------------------------------------------ data

    def spec(self) -> RunSpec:
        """The grid point the widgets select."""
        if self.objective.value == "tv":
            return RunSpec("tv", omega=self.omega.value)
        return RunSpec("sinkhorn", omega=self.omega.value, lam=self.lam.value, p=self.p.value)

    def _selected_runs(self) -> pd.DataFrame:
        from rlsv.study.results import select_specs

        return select_specs(self.runs, [self.spec()])

    def _selected_run(self) -> Path | None:
        """The trained run of the selected grid point and seed (the published seed 218 when there)."""
        from rlsv.study.results import DEFAULT_SEED

        runs = self._selected_runs()
        if runs.empty:
            return None
        chosen = runs[runs["seed"] == self.seed.value]
        if chosen.empty:
            preferred = runs[runs["seed"] == DEFAULT_SEED]
            chosen = preferred if len(preferred) else runs.sort_values("seed")
        return Path(chosen["path"].iloc[0])

    def _model(self, run_dir: Path):
        from rlsv.run.model_file import load_run_model

        key = str(run_dir)
        if key not in self._models:
            self._models[key] = load_run_model(run_dir, MODEL, map_location=self.device)
        return self._models[key]

    def _test_tracks(self, run_dir: Path) -> list:
        """The test segments ``run_dir`` was evaluated on, read once per test set
        (``rlsv.run.evaluate.cached_test_segments``)."""
        from rlsv.run.evaluate import cached_test_segments

        return cached_test_segments(run_dir, self._tracks)

    # ------------------------------------------------------------------ rendering

    def _on_change(self, change: dict) -> None:
        if self._updating:
            return
        owner = change["owner"]
        if owner in (self.objective, self.omega, self.lam, self.p):
            self._sync_run_options()
        elif owner is self.track:
            run_dir = self._selected_run()
            if run_dir is not None:
                with self._updating_widgets():
                    self._sync_segment_options(self._test_tracks(run_dir))
        self.render()

    def _missing_message(self) -> str:
        return (f"No trained run {run_id(self.spec(), self.profile)}-* in {self.root} (not in the sweeps run "
                "so far, or not finished).")

    def render(self) -> None:
        """Show the selected run on the selected segment and its neighbours (called on every widget change)."""
        from rlsv.run.segment_view import represent_window
        from rlsv.study.representation_plots import plot_representations

        self.renders += 1
        run_dir = self._selected_run()
        if run_dir is None:
            message = self._missing_message()
            self.state = {"run_id": None, "message": message}
            self.out.outputs = (html_bundle(f"<p style='color:#a33'>{html.escape(message)}</p>", message),)
            return
        tracks = self._test_tracks(run_dir)
        if self.track.value is None or self.track.value >= len(tracks):
            self._sync_track_options(run_dir)
        ts = tracks[self.track.value]
        k = self.segment.value
        if k >= len(ts):
            with self._updating_widgets():
                self._sync_segment_options(tracks)
            k = self.segment.value
        model = self._model(run_dir)
        view = represent_window(model, ts, k, self.seconds, label=f"{ts.track}, segment {k}")
        segment_s = model.config.segment_length / model.config.sample_rate
        spec = self.spec()
        title = (f"{OBJECTIVE_LABELS[spec.objective]}: " + ", ".join(
            f"{name} = {value:g}" for name, value in (("ω", spec.omega), ("λ", spec.lam), ("p", spec.p))
            if value is not None) + f", seed {self.seed.value} — {ts.track}, segments {view.start}–{view.stop - 1}"
            f" (segment {k} between the lines)")
        fig = plot_representations(view.reps, view.carrier_hz, title=title, frame_rate_hz=view.frame_rate_hz,
                                   marks=(view.offset_s, view.offset_s + segment_s))
        seg = view.segment
        self.state = {"run_id": run_dir.name, "track": ts.track, "segment": k, "window": (view.start, view.stop - 1),
                      "additivity": seg.additivity, "si_sdr_mask": seg.si_sdr_mask, "si_sdr": seg.si_sdr}
        seconds = f"{len(view.signals['mixture']) / view.sample_rate:.1f} s"
        self.out.outputs = (
            html_bundle(self._metrics_html(run_dir, seg), json.dumps(self.state, default=str)),
            png_bundle(fig, self.dpi, title),
            audio_bundle(view.signals["mixture"], view.sample_rate, f"mixture ({seconds})"),
            audio_bundle(view.signals["vocals"], view.sample_rate, "vocals (the reference)"),
            audio_bundle(view.signals["estimate"], view.sample_rate, f"vocals estimated by the {ORACLE}"),
        )

    def _metrics_html(self, run_dir: Path, view) -> str:
        summary = {}
        try:
            summary = json.loads((run_dir / SUMMARY).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            pass

        def run_mean(metric: str, unit: str) -> str:
            stats = summary.get(metric) or {}
            if stats.get("mean") is None:
                return "–"
            return f"{stats['mean']:.2f} ± {stats['std']:.2f}{unit} (median {stats['median']:.2f})"

        rows = [("additivity A(·)", f"{view.additivity:.3f}", run_mean("additivity", "")),
                (f"SI-SDR, {ORACLE}", f"{view.si_sdr_mask:.2f} dB", run_mean("si_sdr_mask", " dB")),
                ("SI-SDR reconstruction", f"{view.si_sdr:.2f} dB", run_mean("si_sdr", " dB"))]
        body = "".join(f"<tr><td>{a}</td><td style='text-align:right'>{b}</td><td>{c}</td></tr>" for a, b, c in rows)
        return (f"<p><code>{html.escape(run_dir.name)}</code></p><table><thead><tr><th>metric</th>"
                "<th>the marked segment</th><th>run (all test segments)</th></tr></thead>"
                f"<tbody>{body}</tbody></table>")
