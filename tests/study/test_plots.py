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
from rlsv.study.plots import (
    RepresentationRow,
    carrier_ticks,
    format_hz,
    plot_figure3,
    plot_figure5,
    plot_figure6,
    plot_representation_rows,
    plot_representations,
    save_figure,
)

C, T = 12, 20
CARRIERS_HZ = np.array([0.02, 0.5, 3.25, 40.0, 150.0, 400.0, 900.0, 1500.0, 2500.0, 4000.0,
                        7000.0, 11025.0])


@pytest.fixture(scope="module")
def segments() -> pd.DataFrame:
    """A load_runs-like frame: 4 segments for every run of the `all` grid, profile "quick"."""
    rng = np.random.default_rng(0)
    rows = [
        {"run_id": run_id(spec, "quick"), "profile": "quick", "objective": spec.objective,
         "omega": spec.omega or np.nan, "lam": spec.lam or np.nan, "p": spec.p or np.nan,
         "track": "A Track", "segment": k, "si_sdr": rng.normal(30, 3), "si_sdr_mask": rng.normal(5, 5),
         "additivity": rng.uniform(0.6, 0.95)}
        for spec in get_grid("all") for k in range(4)
    ]
    return pd.DataFrame(rows)


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
    fig = plot_representations(reps, CARRIERS_HZ, title=FIGURE2_CAPTION, n_ticks=4)
    images = _image_axes(fig)
    assert len(images) == 3 and len(fig.axes) == 4  # + one colour bar
    assert [ax.get_title() for ax in images] == ["Mixture", "Singing voice", "Accompaniment"]
    rows = [0, 4, 7, 11]
    assert list(images[0].get_yticks()) == rows
    assert [t.get_text() for t in images[0].get_yticklabels()] == [format_hz(CARRIERS_HZ[r]) for r in rows]
    assert [t.get_text() for t in images[0].get_yticklabels()] == ["0.02", "150", "1500", "11025"]
    assert images[0].images[0].origin == "lower"
    np.testing.assert_array_equal(images[1].images[0].get_array(), reps["vocals"])
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


def test_representations_reject_unsorted_carriers_and_bad_shapes(reps) -> None:
    with pytest.raises(ValueError, match="ascending"):
        plot_representations(reps, CARRIERS_HZ[::-1])
    with pytest.raises(ValueError, match="C = 11"):
        plot_representations(reps, CARRIERS_HZ[:-1])
    with pytest.raises(KeyError, match="accompaniment"):
        plot_representations({k: v for k, v in reps.items() if k != "accompaniment"}, CARRIERS_HZ)


def test_carrier_ticks_are_evenly_spread_rows() -> None:
    rows, labels = carrier_ticks(CARRIERS_HZ, n_ticks=6)
    assert rows[0] == 0 and rows[-1] == C - 1 and len(rows) == 6
    assert labels == [format_hz(h) for h in CARRIERS_HZ[rows]]


def test_figure3_mean_and_std_over_omega(segments: pd.DataFrame, tmp_path: Path) -> None:
    fig = plot_figure3(segments)
    assert len(fig.axes) == 3
    assert [ax.get_ylabel() for ax in fig.axes][0] == "Reconstruction SI-SDR (dB)"
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "4"]
    # the first error bar spans mean ± std (ddof as in the tables) of the tv, omega = 0.5 run
    values = segments.loc[segments["run_id"] == "quick-tv-w0.5", "si_sdr"]
    mean_line, first_bar = ax.lines[0], ax.lines[1].get_ydata()  # bars drawn with caps, NaN-separated
    assert mean_line.get_ydata()[0] == pytest.approx(values.mean())
    assert [np.nanmin(first_bar), np.nanmax(first_bar)] == pytest.approx(
        [values.mean() - values.std(ddof=STD_DDOF), values.mean() + values.std(ddof=STD_DDOF)])
    _assert_saved(fig, tmp_path / "figure3")


def test_figure5_over_lambda_with_hue_p(segments: pd.DataFrame) -> None:
    fig = plot_figure5(segments)
    assert len(fig.axes) == 3
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["0.1", "0.5", "1", "1.3", "1.5", "2", "5", "10"]
    legend = fig.axes[2].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == ["$p$ = 1", "$p$ = 2"]
    assert fig.axes[0].get_legend() is None


def test_figure6_over_omega_with_hue_lambda(segments: pd.DataFrame) -> None:
    fig = plot_figure6(segments)
    assert len(fig.axes) == 3
    legend = fig.axes[2].get_legend()
    assert [t.get_text() for t in legend.get_texts()] == [r"$\lambda$ = 1.3", r"$\lambda$ = 1.5",
                                                          r"$\lambda$ = 2"]
    assert [t.get_text() for t in fig.axes[2].get_xticklabels()] == ["1", "1.5", "2", "4"]


def test_error_plots_need_some_runs(segments: pd.DataFrame) -> None:
    only_tv = segments[segments["objective"] == "tv"]
    with pytest.raises(ValueError, match="None of the 16 requested runs"):
        plot_figure5(only_tv)
    gap = plot_figure3(only_tv[only_tv["omega"] != 1.0])  # a missing run leaves a gap
    assert len(gap.axes) == 3
    ax = gap.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0.5", "1", "1.5", "2", "4"]  # ω = 1 keeps its place
    means = np.asarray(ax.lines[0].get_ydata(), dtype=float)
    assert np.isnan(means[1]) and not np.isnan(means[[0, 2, 3, 4]]).any()
    omega_2 = only_tv.loc[only_tv["omega"] == 2.0, "si_sdr"].mean()
    assert means[3] == pytest.approx(omega_2)  # the other runs stay at their own ω
