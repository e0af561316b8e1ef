"""The λ explorer of notebook 06: choose any run (objective, ω, λ, p, seed) and a test segment, see its
learned representations, metrics and audio; a run that does not exist yet is trained on request.

Core ipywidgets 8 only (``Dropdown``, ``SelectionSlider``, ``FloatText``, ``Checkbox``, ``Button``,
``IntText``, ``IntProgress``, ``Output``, ``HTML``): it works in JupyterLab 4 and Notebook 7 without any extension.
The view is plain MIME data (a PNG, HTML tables and ``<audio>`` players) assigned to ``Output.outputs``.

* λ is any value in [0.05, 20] and ω any value in [0, 100] (a slider of round values, or type one), p
  1 or 2, any seed. Runs are found by run id (``rlsv.ui.explorer_runs``): the runs folder first, then the
  explorer's own folder, then the runs shipped with rlsv (``rlsv.ui.shipped``).
* A choice without a finished run offers "train this run now" (``rlsv.ui.explorer_train``): nothing
  trains unless it is clicked; the run goes to the explorer's folder, never into a sweep's.
* "same colour scale for every run": the images of every run share one scale, stated in the figure.
* A change that forces another (L_A has no λ, a track without the chosen segment) says so in the notice
  line; a control that does not apply says so in its readout.

>>> explorer = RepresentationExplorer("papermill_runs")                 # doctest: +SKIP
>>> explorer            # in a notebook: shows the widgets              # doctest: +SKIP
>>> explorer.lam.set_value(0.5); explorer.render(); explorer.state["run_id"]   # doctest: +SKIP
'small-sinkhorn-p1-l0.5-w1-s218-fe9e0d'
"""

from __future__ import annotations

import html
import json
import os
import traceback
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from rlsv.errors import UserError
from rlsv.run.files import MODEL
from rlsv.run.profiles import get_profile
from rlsv.run.spec import RunSpec
from rlsv.study.tables import OBJECTIVE_LABELS
from rlsv.ui.display import audio_bundle, html_bundle, png_bundle
from rlsv.ui.explorer_controls import ValueControl, log_grid
from rlsv.ui.explorer_runs import FoundRun, RunFolders, TestSegmentsCache
from rlsv.ui.explorer_train import TRAIN_THREADS, TrainingTime, TrainProgress, train_and_evaluate
from rlsv.ui.explorer_view import (
    ORACLE,
    SegmentTiming,
    activation_peak,
    apply_colour_scale,
    metrics_html,
    summary_of,
    window_metrics,
)
from rlsv.ui.shipped import shipped_root

__all__ = ["RepresentationExplorer", "LAMBDA_RANGE", "OMEGA_RANGE", "EXPLORER_RUNS"]

_OBJECTIVE_NAMES = {"sinkhorn": "L_B (Sinkhorn)", "tv": "L_A (total variation)"}
LAMBDA_RANGE = (0.05, 20.0)
OMEGA_RANGE = (0.0, 100.0)
EXPLORER_RUNS = "explorer-runs"
"""The explorer's own runs folder inside the runs folder (default ``output_root``)."""
_OMEGA_GRID = (0.0, 0.1, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0)
_NO_RUN = "– none: choose a finished run to show it –"
_SOURCES = {"runs": "runs folder", "explorer": "trained in the explorer", "shipped": "shipped with rlsv"}


def _color(text: str, colour: str) -> str:
    return f"<span style='color:{colour}'>{text}</span>"


class RepresentationExplorer:
    """Widgets to see and hear the learned representations of any run.

    Attributes (widgets): ``objective``, ``omega`` and ``lam`` (:class:`ValueControl`: ``.value``,
    ``.set_value``, ``.slider``, ``.box``), ``p``, ``seed`` (the run), ``runs_menu`` (the finished runs; shows
    the current one), ``same_scale`` (one colour scale for every run), ``track``, ``segment``, ``train_button``,
    ``progress`` (:class:`TrainProgress`), ``notice`` (what changed and why), ``out`` (the view), ``widget``
    (everything; displaying the explorer displays it).
    ``state``: what is shown (``run_id``, ``source``, ``track``, ``segment``, ``window``, ``segment_s``,
    ``window_s``, the segment's ``additivity``, ``si_sdr_mask``, ``si_sdr``, the window's ``window_metrics``,
    ``colour_scale``, ``shared_scale``; or ``run_id=None``, ``missing`` (the run id "train this run now"
    makes) and a ``message``); ``renders`` counts renders; ``last_training``: the last training's times.

    Args:
        runs_root: the sweeps' runs folder (``papermill_runs``; need not exist).
        profile: the runs' profile (the shipped runs are ``small``).
        device: where the encoders run and runs train (``"cpu"``).
        dpi: resolution of the representation image.
        seconds: how much audio the players play (consecutive segments around the chosen one).
        output_root: where "train this run now" puts runs (None: ``<runs_root>/explorer-runs``).
        train_overrides: ``RunParameters`` overrides for the runs trained here (e.g. ``{"epochs": 5}``); runs
            are looked up with them first, then with the profile's own settings.
        shipped: also show the runs shipped with rlsv.
        threads: torch threads while training (default 1, ``explorer_train.TRAIN_THREADS``; None: as they are).
        start: the first run shown: ``objective``, ``omega``, ``lam``, ``p``, ``seed`` (defaults: L_B, ω = 1,
            λ = 1.5, p = 1, seed 218).
        same_scale: start with one colour scale for every run (it encodes each finished run once per track).
    """

    def __init__(self, runs_root: str | os.PathLike = "papermill_runs", profile: str = "small", device: str = "cpu",
                 dpi: int = 80, seconds: float = 3.0, output_root: str | os.PathLike | None = None,
                 train_overrides: Mapping[str, Any] | None = None, shipped: bool = True,
                 threads: int | None = TRAIN_THREADS, start: Mapping[str, Any] | None = None,
                 same_scale: bool = True) -> None:
        import ipywidgets as W

        get_profile(profile)  # a clear error for an unknown profile
        self.root = Path(runs_root)
        self.output_root = Path(output_root) if output_root is not None else self.root / EXPLORER_RUNS
        folders = [("runs", self.root), ("explorer", self.output_root)] + ([("shipped", shipped_root())] if shipped
                                                                           else [])
        self.runs = RunFolders(folders, profile, train_overrides)
        self.runs.parameters(RunSpec("tv", omega=1.0), 218)  # the overrides checked now, not at the first click
        self.profile, self.device, self.dpi, self.seconds, self.threads = profile, device, dpi, seconds, threads
        self.segments = TestSegmentsCache(progress=True)
        self._models: dict[str, Any] = {}
        self._peaks: dict[tuple[str, str, str], float] = {}
        self._updating = False
        self._test_set: str | None = None
        self.state: dict[str, Any] = {}
        self.renders = 0
        self.last_training: TrainingTime | None = None
        first = {"objective": "sinkhorn", "omega": 1.0, "lam": 1.5, "p": 1, "seed": 218, **(start or {})}

        style = {"description_width": "5em"}
        self.objective = W.Dropdown(options=[(name, key) for key, name in _OBJECTIVE_NAMES.items()],
                                    value=first["objective"], description="objective", style=style)
        self.p = W.Dropdown(options=[("1", 1), ("2", 2)], value=int(first["p"]), description="p", style=style,
                            tooltip="norm of the Sinkhorn cost matrix", layout=W.Layout(width="14em"))
        self.seed = W.IntText(value=int(first["seed"]), description="seed", style=style,
                              tooltip="training seed (218: the published one)", layout=W.Layout(width="14em"))
        self.omega = ValueControl("ω", _OMEGA_GRID, *OMEGA_RANGE, first["omega"], "weight of the regulariser")
        self.lam = ValueControl("λ", log_grid(*LAMBDA_RANGE), *LAMBDA_RANGE, first["lam"],
                                "entropic weight of the Sinkhorn distance")
        self.lam_runs = W.HTML()
        self.runs_menu = W.Dropdown(options=[(_NO_RUN, "")], value="", description="finished", style=style,
                                    layout=W.Layout(width="38em"), tooltip="every finished run: choose one to show it")
        self.same_scale = W.Checkbox(value=same_scale, description="same colour scale for every run", indent=False)
        self.track = W.Dropdown(options=[], description="track", style=style)
        self.segment = W.SelectionSlider(options=[("–", 0)], description="segment", continuous_update=False,
                                         style=style, layout=W.Layout(width="34em"))
        self.notice = W.HTML()
        self.train_button = W.Button(description="train this run now", button_style="primary",
                                     layout=W.Layout(width="16em", display="none"))
        self.progress = TrainProgress()
        self.out = W.Output()
        self.widget = W.VBox([
            W.HTML(f"<b>Learned representations</b> of the <code>{html.escape(profile)}</code> runs: any objective, "
                   f"ω, λ and p. Runs come from <code>{html.escape(str(self.root))}</code>, then "
                   f"<code>{html.escape(str(self.output_root))}</code> (runs trained here), then the runs shipped "
                   "with rlsv. Separation here is by the <b>oracle</b> binary mask: it needs the true vocals, as in "
                   "the paper's evaluation."),
            W.HBox([self.objective, self.p, self.seed]), self.omega.widget, self.lam.widget, self.lam_runs,
            W.HBox([self.runs_menu, self.same_scale]), W.HBox([self.track, self.segment]), self.notice,
            W.HBox([self.train_button, self.progress.widget]), self.out])
        self.widget.add_class("rlsv-explorer")
        self.out.add_class("rlsv-view")
        self.train_button.add_class("rlsv-train")

        for control in (self.omega, self.lam):
            control.observe(lambda _value: self._on_change(None))
            control.on_notice = self._say
        self.objective.observe(self._on_objective, names="value")
        for widget in (self.p, self.same_scale, self.segment):
            widget.observe(self._on_change, names="value")
        self.seed.observe(self._on_seed, names="value")
        self.track.observe(self._on_track, names="value")
        self.runs_menu.observe(self._on_menu, names="value")
        self.train_button.on_click(self.train)
        if self.objective.value == "tv":
            self._apply_objective(announce=False)
        self._refresh_runs()
        self.render()

    # ------------------------------------------------------------------ notebook display

    def _repr_mimebundle_(self, **kwargs: Any):
        return self.widget._repr_mimebundle_(**kwargs)

    # ------------------------------------------------------------------ what is chosen

    def spec(self) -> RunSpec:
        """The grid point the controls select."""
        if self.objective.value == "tv":
            return RunSpec("tv", omega=self.omega.value)
        return RunSpec("sinkhorn", omega=self.omega.value, lam=self.lam.value, p=float(self.p.value))

    def _describe(self, spec: RunSpec, seed: int) -> str:
        pairs = (("ω", spec.omega), ("λ", spec.lam), ("p", spec.p))
        values = ", ".join(f"{name} = {value:g}" for name, value in pairs if value is not None)
        return f"{OBJECTIVE_LABELS[spec.objective]}: {values}, seed {seed}"

    # ------------------------------------------------------------------ notices

    def _say(self, message: str, colour: str = "#8a5a00") -> None:
        """Add a line to the notice (what changed and why)."""
        line = f"<div>{_color(html.escape(message), colour)}</div>"
        self.notice.value = (self.notice.value or "") + line

    def _clear_notice(self) -> None:
        self.notice.value = ""

    # ------------------------------------------------------------------ events

    def _on_change(self, change: dict | None) -> None:
        if self._updating:
            return
        self._clear_notice()
        self.render()

    def _on_seed(self, change: dict) -> None:
        """Any seed >= 0; a negative one is refused with a notice (not clamped)."""
        if self._updating:
            return
        if change["new"] is None or change["new"] < 0:
            self._updating = True
            try:
                self.seed.value = change["old"]
            finally:
                self._updating = False
            self._clear_notice()
            self._say(f"seed = {change['new']} is not a seed (a whole number >= 0): kept seed {change['old']}.")
            return
        self._on_change(change)

    def _apply_objective(self, announce: bool = True) -> None:
        """L_A has no λ and no p: their controls say so and keep their values for when L_B comes back."""
        tv = self.objective.value == "tv"
        self.lam.set_not_used("not used by L_A" if tv else None)
        p_value = int(self.p.value)
        self._updating = True
        try:
            self.p.options = [("not used by L_A", p_value)] if tv else [("1", 1), ("2", 2)]
            self.p.value = p_value
            self.p.disabled = tv
        finally:
            self._updating = False
        if announce:
            self._say(f"L_A (total variation) has no λ and no p: they are set aside (λ = {self.lam.value:g}, p = "
                      f"{p_value} come back with L_B)." if tv else
                      f"L_B (Sinkhorn) uses λ and p again: λ = {self.lam.value:g}, p = {p_value}, as before.")

    def _on_objective(self, change: dict) -> None:
        if self._updating:
            return
        self._clear_notice()
        self._apply_objective()
        self._refresh_lambda_hint()
        self.render()

    def _on_track(self, change: dict) -> None:
        if self._updating:
            return
        self._clear_notice()
        self.render()

    def _on_menu(self, change: dict) -> None:
        """A finished run chosen from the menu: every control set to its values, and said so."""
        if self._updating or not change["new"]:
            return
        rows = self.runs.listing()
        row = rows[rows["run_id"] == change["new"]].iloc[0]
        self._clear_notice()
        self._updating = True
        try:
            self.objective.value = row["objective"]
            self.omega.set_value(row["omega"])
            if row["objective"] == "sinkhorn":
                self.lam.set_value(row["lam"])
                self.p.value = int(row["p"])
            self.seed.value = int(row["seed"])
        finally:
            self._updating = False
        self._apply_objective(announce=False)
        self._refresh_lambda_hint()
        self._say(f"Showing the finished run {row['run_id']}: objective, ω, λ, p and seed set to its values.",
                  "#555")
        self.render()

    # ------------------------------------------------------------------ runs

    def _refresh_runs(self) -> None:
        """Re-read the finished runs: the menu, the slider stops at their λ and ω, the λ hint."""
        rows = self.runs.listing()
        self.lam.add_to_grid(rows["lam"].dropna())
        self.omega.add_to_grid(rows["omega"].dropna())
        options = [(_NO_RUN, "")]
        for row in rows.itertuples():
            spec = RunSpec.from_config(row._asdict())
            options.append((f"{self._describe(spec, row.seed)} ({_SOURCES.get(row.source, row.source)})", row.run_id))
        self._updating = True
        try:
            self.runs_menu.options = options
        finally:
            self._updating = False
        self._refresh_lambda_hint()

    def _refresh_lambda_hint(self) -> None:
        """Which λ have a finished run at the chosen ω, p and seed (the slider reaches any λ)."""
        if self.objective.value == "tv":
            self.lam_runs.value = _color("λ: not used by L_A.", "#666")
            return
        rows = self.runs.listing()
        rows = rows[(rows["objective"] == "sinkhorn") & np.isclose(rows["omega"], self.omega.value)
                    & np.isclose(rows["p"], self.p.value) & (rows["seed"] == self.seed.value)]
        lams = ", ".join(f"{v:g}" for v in sorted(set(rows["lam"])))
        self.lam_runs.value = _color(
            f"Finished runs at ω = {self.omega.value:g}, p = {self.p.value}, seed {self.seed.value}: λ = {lams}. "
            "Any other λ can be trained here." if lams else
            f"No finished run at ω = {self.omega.value:g}, p = {self.p.value}, seed {self.seed.value} yet: "
            "any λ can be trained here.", "#666")

    def _sync_menu(self, found: FoundRun | None) -> None:
        value = found.run_id if found is not None else ""
        if value not in [v for _, v in self.runs_menu.options]:
            value = ""
        self._updating = True
        try:
            self.runs_menu.value = value
        finally:
            self._updating = False

    def _model(self, run: FoundRun):
        """The run's model (loaded once), computing with the convolution plan the run trained with: a model
        left on ``"auto"`` would time the candidate plans for every new batch size (~2 s each)."""
        from rlsv.run.model_file import load_run_model

        key = str(run.path)
        if key not in self._models:  # the model's fixed plan: the one the evaluation computed the run's metrics with
            self._models[key] = load_run_model(run.path, MODEL, map_location=self.device)
        return self._models[key]

    # ------------------------------------------------------------------ track and segment

    def _sync_tracks(self, params, tracks: list) -> None:
        """Track and segment options of the test set ``tracks`` (of run set ``params``); a change forced by a
        new test set, or a segment the track does not have, is said."""
        from rlsv.run.segment_view import pick_segment

        key = self.segments.key_of(params)
        names = [ts.track for ts in tracks]
        self._updating = True
        try:
            if key != self._test_set:
                had = self._test_set is not None
                previous = self.track.label
                self._test_set = key
                self.track.options = [(name, i) for i, name in enumerate(names)]
                self.track.value = names.index(previous) if previous in names else 0
                if had:
                    self._say("This run was evaluated on other test segments: the track and segment lists changed.")
            ts = tracks[self.track.value]
            kept = [int(k) for k in range(len(ts)) if ts.active[k]]
            current = self.segment.value
            options = [(str(k), k) for k in kept] or [("0 (silent)", 0)]
            if [v for _, v in self.segment.options] != [v for _, v in options]:
                self.segment.options = options
            if kept and current not in kept:
                chosen = pick_segment(tracks, self.track.value)[1]
                if self.renders > 1:
                    self._say(f"Track {ts.track} has no segment {current} with audible vocals: segment set to "
                              f"{chosen}, its loudest vocals.")
                self.segment.value = chosen
            elif not kept:
                self.segment.value = 0
        finally:
            self._updating = False

    # ------------------------------------------------------------------ rendering

    def _colour_scale(self, run: FoundRun, track: str, own_peak: float) -> tuple[float, str]:
        """The top of the colour scale and the sentence that states it."""
        if not self.same_scale.value:
            return own_peak, (f"colour: this run's own scale, 0–{own_peak:.3g} (brightness is not comparable "
                              "across runs; tick 'same colour scale' to compare)")
        key = self.segments.key_of(run.params)
        rows = self.runs.listing()
        peaks = []
        for row in rows.itertuples():
            other = self.runs.found(row._asdict())
            if self.segments.key_of(other.params) != key:
                continue
            cache_key = (other.run_id, key, track)
            if cache_key not in self._peaks:
                ts = next(t for t in self.segments.get(other.params) if t.track == track)
                self._peaks[cache_key] = activation_peak(self._model(other), ts)
            peaks.append(self._peaks[cache_key])
        top = max([own_peak, *peaks])
        return top, (f"colour: one scale for every run, 0–{top:.3g} = the largest activation of the {len(peaks)} "
                     f"finished runs on track {track}")

    def _show_missing(self, spec: RunSpec, seed: int) -> None:
        params = self.runs.parameters(spec, seed)
        config = params.train_config()
        where = self.output_root / params.run_id
        epochs = f"{config.epochs} epoch{'s' if config.epochs > 1 else ''}"
        message = (f"No finished run of {self._describe(spec, seed)} yet (run id {params.run_id}). 'train this run "
                   f"now' trains it ({params.profile} profile, {epochs}"
                   f"{', with ' + json.dumps(self.runs.train_overrides) if self.runs.train_overrides else ''}) into "
                   f"{where}, evaluates it on the test tracks and shows it. Nothing trains until you click.")
        self.state = {"run_id": None, "missing": params.run_id, "message": message}
        self.train_button.layout.display = "flex"
        self.out.outputs = (html_bundle(f"<p class='rlsv-missing' style='color:#7a4a00'>{html.escape(message)}</p>",
                                        message),)

    def render(self) -> None:
        """Show the chosen run on the chosen segment and its neighbours (called on every change)."""
        from rlsv.run.segment_view import represent_window
        from rlsv.study.representation_plots import plot_representations

        self.renders += 1
        self._refresh_lambda_hint()
        spec, seed = self.spec(), int(self.seed.value)
        found = self.runs.find(spec, seed)
        self._sync_menu(found)
        params = found.params if found is not None else self.runs.parameters(spec, seed)
        tracks = self.segments.get(params)
        self._sync_tracks(params, tracks)
        if found is None:
            self._show_missing(spec, seed)
            return
        self.train_button.layout.display = "none"
        ts, k = tracks[self.track.value], int(self.segment.value)
        model = self._model(found)
        view = represent_window(model, ts, k, self.seconds, label=f"{ts.track}, segment {k}")
        timing = SegmentTiming(model.config.segment_length, model.config.sample_rate, view.start, view.stop, k)
        window = window_metrics(found.path, ts.track, view.start, view.stop)
        own_peak = max(float(np.max(rep)) for rep in view.reps.values())
        top, scale_text = self._colour_scale(found, ts.track, own_peak)
        title = (f"{self._describe(spec, seed)} — {ts.track}, segments {view.start}–{view.stop - 1} "
                 f"({timing.window_s:g} s), segment {k} ({timing.segment_s:g} s) between the cyan lines\n{scale_text}")
        fig = plot_representations(view.reps, view.carrier_hz, title=title, frame_rate_hz=view.frame_rate_hz,
                                   marks=(view.offset_s, view.offset_s + timing.segment_s))
        apply_colour_scale(fig, top)
        seg = view.segment
        self.state = {"run_id": found.run_id, "source": found.source, "track": ts.track, "segment": k,
                      "window": (view.start, view.stop - 1), "segment_s": timing.segment_s,
                      "window_s": timing.window_s, "additivity": seg.additivity, "si_sdr_mask": seg.si_sdr_mask,
                      "si_sdr": seg.si_sdr, "window_metrics": window, "colour_scale": (0.0, top),
                      "shared_scale": bool(self.same_scale.value)}
        segment_metrics = {"additivity": seg.additivity, "si_sdr_mask": seg.si_sdr_mask, "si_sdr": seg.si_sdr}
        heard = f"{timing.window_s:g} s"
        self.out.outputs = (
            html_bundle(metrics_html(found.run_id, _SOURCES.get(found.source, found.source), segment_metrics, window,
                                     summary_of(found.path), timing), json.dumps(self.state, default=str)),
            png_bundle(fig, self.dpi, title),
            audio_bundle(view.signals["mixture"], view.sample_rate, f"mixture ({heard})"),
            audio_bundle(view.signals["vocals"], view.sample_rate, f"vocals, the reference ({heard})"),
            audio_bundle(view.signals["estimate"], view.sample_rate, f"vocals by the {ORACLE} ({heard})"),
        )

    # ------------------------------------------------------------------ train this run now

    def _freeze(self, frozen: bool) -> None:
        for widget in (self.objective, self.seed, self.runs_menu, self.same_scale, self.track, self.segment,
                       self.train_button):
            widget.disabled = frozen
        self.p.disabled = frozen or self.objective.value == "tv"
        self.omega.set_disabled(frozen)
        self.lam.set_disabled(frozen)

    def train(self, _button: Any = None) -> None:
        """Train and evaluate the chosen run into the explorer's folder, with a progress bar, then show it."""
        from rlsv.run.lock import RunBusyError

        spec, seed = self.spec(), int(self.seed.value)
        if self.runs.find(spec, seed) is not None:
            self.render()
            return
        params = self.runs.parameters(spec, seed)
        self._clear_notice()
        self._freeze(True)
        try:
            self.last_training = train_and_evaluate(params, self.output_root, self.progress, self.device, self.threads)
        except RunBusyError as error:
            self._say(f"Not trained: {error}", "#a33")
        except UserError as error:
            self._say(f"Not trained: {error}", "#a33")
        except Exception as error:  # shown in the notice: a widget callback's traceback would go to the log only
            self._say(f"Training {params.run_id} failed ({type(error).__name__}: {error}); its status.json keeps the "
                      f"error.\n{traceback.format_exc(limit=6)}", "#a33")
        else:
            t = self.last_training
            self._say(f"Trained {params.run_id} ({t.steps} Adam steps) in {t.train_s:.0f} s and evaluated it in "
                      f"{t.evaluate_s:.0f} s; it is in {self.output_root}.", "#2a6a2a")
        finally:
            self.progress.finish()
            self._freeze(False)
            self.runs.invalidate()
            self._refresh_runs()
        self.render()
