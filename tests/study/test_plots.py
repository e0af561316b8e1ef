"""The paper's figures (rlsv.study.plots), drawn from made-up numbers with the Agg backend."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from rlsv.run.spec import run_id
from rlsv.run.summary import STD_DDOF
from rlsv.study.grids import get_grid
from rlsv.study.paper_values import FIGURE2_CAPTION, FIGURE4_PANELS
from rlsv.study.plots import metric_points, plot_figure3, plot_figure5, plot_figure6, save_figure
from rlsv.study.representation_plots import (
    LOW_CARRIER_NOTE,
    RepresentationRow,
    carrier_ticks,
    format_hz,
    plot_representation_rows,
    plot_representations,
)

C, T = 12, 20
CARRIERS_HZ = np.array([0.02, 0.5, 3.25, 40.0, 150.0, 400.0, 900.0, 1500.0, 2500.0, 4000.0,
                        7000.0, 11025.0])


def _frame(seeds: tuple[int, ...] = (218,), rng_seed: int = 0, si_sdr: float = 30.0) -> pd.DataFrame:
    """A load_runs-like frame: 4 segments per seed for every run of the `all` grid, profile "smoke"."""
    rng = np.random.default_rng(rng_seed)
    rows = [
        {"run_id": run_id(spec, "smoke", seed, "abc123"), "profile": "smoke", "variant": "abc123",
         "objective": spec.objective, "omega": spec.omega or np.nan, "lam": spec.lam or np.nan,
         "p": spec.p or np.nan, "seed": float(seed) if spec.is_trained else np.nan, "track": "A Track",
         "segment": k, "si_sdr": rng.normal(si_sdr, 3), "si_sdr_mask": rng.normal(5, 5),
         "additivity": rng.uniform(0.6, 0.95)}
        for seed in seeds for spec in get_grid("all") for k in range(4) if spec.is_trained or seed == seeds[0]
    ]
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    return _frame()


@pytest.fixture(scope="module")
def reps() -> dict[str, np.ndarray]:
    rng = np.random.default_rng(1)
    return {key: rng.random((C, T)) for key in ("mixture", "vocals", "accompaniment")}


def _image_axes(fig) -> list:
    return [ax for ax in fig.axes if ax.images]


def _assert_saved(fig, stem: Path) -> None:
    paths = save_figure(fig, stem, dpi=40)
    assert [p.suffix for p in paths] == [".png", ".pdf"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert paths[0].read_bytes()[:4] == b"\x89PNG" and paths[1].read_bytes()[:4] == b"%PDF"


def test_figure2_three_panels_with_carrier_hz_ticks(reps, tmp_path: Path) -> None:
    fig = plot_representations(reps, CARRIERS_HZ, title=FIGURE2_CAPTION, marks=[0.02])
    images = _image_axes(fig)
    assert len(images) == 3 and len(fig.axes) == 4  # + one colour bar
    assert [ax.get_title() for ax in images] == ["Mixture", "Singing voice", "Accompaniment"]
    rows, labels = carrier_ticks(CARRIERS_HZ)
    assert list(images[0].get_yticks()) == list(rows)
    assert [t.get_text() for t in images[0].get_yticklabels()] == labels
    assert images[0].images[0].origin == "lower"
    np.testing.assert_array_equal(images[1].images[0].get_array(), reps["vocals"])
    # one square-root colour scale over the three panels, from 0 to the largest activation of any of them
    norms = [ax.images[0].norm for ax in images]
    top = max(float(a.max()) for a in reps.values())
    assert all(n.vmin == 0 and n.vmax == pytest.approx(top) and getattr(n, "gamma", None) == 0.5 for n in norms)
    assert norms[0](top / 4) == pytest.approx(0.5)
    assert fig.get_supxlabel() == LOW_CARRIER_NOTE  # 3 carriers below 20 Hz: the note says what they are
    assert any(line.get_xdata()[0] == 0.02 for line in images[0].lines)  # the marked time
    _assert_saved(fig, tmp_path / "figure2")


def test_figure4_one_row_per_run_with_seconds_axis(reps) -> None:
    rows = [RepresentationRow(caption, reps, CARRIERS_HZ * (i + 1)) for i, (_, caption)
            in enumerate(FIGURE4_PANELS)]
    fig = plot_representation_rows(rows, frame_rate_hz=44100 / 256)
    images = _image_axes(fig)
    assert len(images) == 9 and len(fig.axes) == 12
    third_row_labels = [t.get_text() for t in images[6].get_yticklabels()]
    assert third_row_labels == carrier_ticks(CARRIERS_HZ * 3)[1]
    assert images[0].get_xlabel() == "Time (s)"
    assert images[0].get_xlim()[1] == pytest.approx(T * 256 / 44100)


def test_carrier_ticks_group_the_low_carriers_and_label_round_frequencies() -> None:
    # carriers: 0.02, 0.5, 3.25 (< 20 Hz: grouped), 40, 150, 400, 900, 1500, 2500, 4000, 7000, 11025
    rows, labels = carrier_ticks(CARRIERS_HZ)
    assert labels == ["< 20 Hz (3)", "50 Hz", "200 Hz", "1 kHz", "2 kHz", "5 kHz", "10 kHz"]  # 500 Hz: too near 200
    # 50 Hz lies between channel 3 (40 Hz) and 4 (150 Hz), log-interpolated; 100 Hz is too close to it
    assert rows[1] == pytest.approx(3 + np.log(50 / 40) / np.log(150 / 40))
    assert rows[2] == pytest.approx(4 + np.log(200 / 150) / np.log(400 / 150))
    assert rows[0] == 1.0 and np.all(np.diff(rows[1:]) >= 1)
    # nothing below 20 Hz: no group
    assert carrier_ticks(np.array([100.0, 200.0, 1000.0]))[1] == ["100 Hz", "200 Hz", "1 kHz"]
    assert [format_hz(h) for h in (0.021, 3.25, 440.0, 2500.0)] == ["0.021 Hz", "3.25 Hz", "440 Hz", "2.5 kHz"]


def test_representations_reject_unsorted_carriers_and_bad_shapes(reps) -> None:
    with pytest.raises(ValueError, match="ascending"):
        plot_representations(reps, CARRIERS_HZ[::-1])
    with pytest.raises(ValueError, match="C = 11"):
        plot_representations(reps, CARRIERS_HZ[:-1])
    with pytest.raises(KeyError, match="accompaniment"):
        plot_representations({k: v for k, v in reps.items() if k != "accompaniment"}, CARRIERS_HZ)


def _legend_texts(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_figure3_mean_interval_and_std_over_omega(segments: pd.DataFrame, tmp_path: Path) -> None:
    fig = plot_figure3(segments, label="smoke profile: made-up numbers")
    assert fig.get_suptitle().endswith("smoke profile: made-up numbers")
    assert [ax.get_ylabel() for ax in fig.axes][0] == "Reconstruction SI-SDR (dB)"
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "4"]
    values = segments.loc[(segments["objective"] == "tv") & (segments["omega"] == 0.5), "si_sdr"].to_numpy()
    points = metric_points(segments, get_grid("figure3"), x="omega").set_index(["metric", "x"])
    first = points.loc[("si_sdr", 0.5)]
    # one seed: the mean over segments, the spread ddof as in the tables, an interval inside the values' range
    assert first["mean"] == pytest.approx(values.mean()) and first["n_seeds"] == 1
    assert first["std"] == pytest.approx(values.std(ddof=STD_DDOF))
    assert values.min() <= first["ci_low"] < values.mean() < first["ci_high"] <= values.max()
    assert first["paper"] == 31.49  # Table 1
    dots = ax.lines[0]
    assert list(dots.get_ydata()) == pytest.approx(points.loc["si_sdr"]["mean"].tolist())
    assert len(fig.axes) == 3  # the paper's 31 dB lies within these made-up ~30 dB: same axis, no other panel
    assert "paper (MUSDB18, C=800): mean" in _legend_texts(fig)
    assert "95 % interval of the mean (seeds × segments)" in _legend_texts(fig)
    _assert_saved(fig, tmp_path / "figure3")


def _panels(fig) -> dict[str, object]:
    return {ax.get_label(): ax for ax in fig.axes}


def test_paper_reconstruction_far_from_ours_gets_a_panel_of_its_own_at_the_same_scale() -> None:
    low = _frame(si_sdr=12.0)  # like the small profile's reconstruction against the paper's 31 dB
    panels = _panels(plot_figure3(low))
    assert set(panels) == {"si_sdr", "si_sdr_paper", "si_sdr_mask", "additivity"}
    ours, theirs = panels["si_sdr"], panels["si_sdr_paper"]
    assert theirs.get_title().startswith("paper (MUSDB18, C=800)") and ours.get_title() == "ours"
    assert theirs.lines[0].get_ydata().tolist() == [31.49, 31.39, 31.01, 30.96, 31.40]
    # a separate panel, never a twin axis: no two axes share a place, and the dB per inch is the same
    boxes = [ax.get_position().bounds for ax in panels.values()]
    assert len(set(boxes)) == 4
    assert np.diff(theirs.get_ylim())[0] == pytest.approx(np.diff(ours.get_ylim())[0])


def test_additivity_and_masking_share_our_axis_with_the_paper_even_when_far() -> None:
    far = _frame()
    far["additivity"] = 0.2  # far from the paper's 0.76-0.93: still drawn on our own axis
    panels = _panels(plot_figure3(far))
    assert set(panels) == {"si_sdr", "si_sdr_mask", "additivity"}
    paper_a = [line for line in panels["additivity"].lines if line.get_marker() == "D"]
    assert paper_a and paper_a[0].get_ydata().tolist() == [0.76, 0.76, 0.75, 0.76, 0.76]


def test_collapsed_segments_are_counted_and_marked_with_the_median() -> None:
    frame = _frame()
    chosen = (frame["objective"] == "tv") & (frame["omega"] == 1.0)
    frame.loc[chosen.idxmax(), "si_sdr_mask"] = -240.0  # one all-zero estimate among its 4 segments
    points = metric_points(frame, get_grid("figure3"), x="omega").set_index(["metric", "x"])
    row = points.loc[("si_sdr_mask", 1.0)]
    values = frame.loc[chosen, "si_sdr_mask"]
    assert row["collapsed"] == 1 and row["median"] == pytest.approx(values.median())
    assert points.loc[("si_sdr_mask", 0.5), "collapsed"] == 0 and points.loc[("additivity", 1.0), "collapsed"] == 0
    fig = plot_figure3(frame)
    marks = [t.get_text() for t in _panels(fig)["si_sdr_mask"].texts]
    assert marks == ["1×"] and any("collapsed to the -240 dB" in t for t in _legend_texts(fig))


def test_more_seeds_give_the_seed_balanced_mean(segments: pd.DataFrame) -> None:
    three = _frame(seeds=(218, 219, 220), rng_seed=3)
    points = metric_points(three, get_grid("figure5"), x="lam", hue="p").set_index(["metric", "hue", "x"])
    row = points.loc[("additivity", 2.0, 10.0)]
    chosen = three[(three["objective"] == "sinkhorn") & (three["p"] == 2) & (three["lam"] == 10)]
    assert row["n_seeds"] == 3 and row["mean"] == pytest.approx(chosen.groupby("seed")["additivity"].mean().mean())
    assert row["position"] == pytest.approx(7.25)  # p = 2 dodged to the right of lambda = 10


def test_figure5_over_lambda_with_hue_p(segments: pd.DataFrame) -> None:
    fig = plot_figure5(segments)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["0.1", "0.5", "1", "1.3", "1.5", "2", "5", "10"]
    legend = _legend_texts(fig)
    assert len(fig.legends) == 1 and legend[:2] == ["$p$ = 1", "$p$ = 2"]  # one legend, below the panels
    assert all(ax.get_legend() is None for ax in fig.axes)


def test_figure6_over_omega_with_hue_lambda(segments: pd.DataFrame) -> None:
    fig = plot_figure6(segments)
    assert _legend_texts(fig)[:3] == [r"$\lambda$ = 1.3", r"$\lambda$ = 1.5", r"$\lambda$ = 2"]
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["1", "1.5", "2", "4"]


def test_error_plots_need_some_runs(segments: pd.DataFrame) -> None:
    only_tv = segments[segments["objective"] == "tv"]
    with pytest.raises(ValueError, match="None of the 16 requested runs"):
        plot_figure5(only_tv)
    gap = plot_figure3(only_tv[only_tv["omega"] != 1.0])  # a missing run leaves a gap
    ax = gap.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "4"]  # ω = 1 keeps its place
    assert list(ax.lines[0].get_xdata()) == [0, 2, 3, 4]
    omega_2 = only_tv.loc[only_tv["omega"] == 2.0, "si_sdr"].mean()
    assert ax.lines[0].get_ydata()[2] == pytest.approx(omega_2)  # the other runs stay at their own ω


def test_the_provenance_footer_fits_the_width_and_never_covers_the_figures_note() -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from rlsv.study.plots import add_provenance_footer

    fig = Figure(figsize=(11, 3.5), layout="constrained")
    fig.add_subplot().plot([0, 1])
    fig.supxlabel("Channels sorted by their decoder carrier; the dashed line bounds the carriers below 20 Hz.")
    add_provenance_footer(fig, "rlsv 0.1.0 @ abc; torch 2.13.0+cpu; AMD EPYC (2 cores, cpu); " + "data x " * 40)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    note, footer = (next(t for t in fig.texts if t.get_text().startswith(start)) for start in ("Channels", "Made by"))
    note_box, footer_box = note.get_window_extent(renderer), footer.get_window_extent(renderer)
    width = fig.get_figwidth() * fig.dpi
    assert footer_box.x1 <= width and note_box.x1 <= width  # nothing cut at the right edge
    assert not note_box.overlaps(footer_box) and footer_box.y1 <= note_box.y0
    assert "\n" in footer.get_text()  # wrapped, not clipped
