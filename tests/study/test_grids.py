"""The paper's hyper-parameter grids (rlsv.study.grids), grid points and run ids (rlsv.run.spec)."""

from __future__ import annotations

import math

import pytest

from rlsv.run.spec import STFT, VARIANT_LENGTH, RunSpec, run_id, sinkhorn, tv, unique_specs, variant_id
from rlsv.study.grids import GRID_NAMES, get_grid


@pytest.mark.parametrize(("name", "trained", "total"), [
    ("table1", 10, 10),
    ("table2", 4, 5),
    ("figure2", 1, 1),
    ("figure3", 5, 5),
    ("figure4", 3, 3),
    ("figure5", 16, 16),
    ("figure6", 12, 12),
    ("all", 30, 31),
    ("tables", 13, 14),
])
def test_grid_sizes(name: str, trained: int, total: int) -> None:
    grid = get_grid(name)
    assert len(grid) == total
    assert sum(spec.is_trained for spec in grid) == trained
    assert len(set(grid)) == len(grid), "a grid lists a run twice"


def test_all_is_the_deduplicated_union_of_the_paper_grids() -> None:
    union = {spec for name in GRID_NAMES if name != "all" for spec in get_grid(name)}
    assert set(get_grid("all")) == union
    assert len(get_grid("all")) == 31 and get_grid("all").count(STFT) == 1
    # Table 1's L_B rows, Table 2 and Figure 6's omega = 1 runs are all shared with Figure 5/6.
    assert set(get_grid("table1")[5:]) <= set(get_grid("figure5"))
    assert set(get_grid("table2")[:4]) <= set(get_grid("figure6"))


def test_grid_contents_match_the_paper() -> None:
    assert get_grid("table1")[:5] == tuple(tv(w) for w in (0.5, 1, 1.5, 2, 4))
    assert [s.lam for s in get_grid("table1")[5:]] == [0.1, 0.5, 1.0, 1.5, 2.0]
    assert all(s.omega == 1 and s.p == 1 for s in get_grid("table1")[5:])
    assert get_grid("table2") == (*(sinkhorn(w, 1.5) for w in (1, 1.5, 2, 4)), STFT)
    assert get_grid("figure3") == get_grid("table1")[:5]
    assert {(s.lam, s.p) for s in get_grid("figure5")} == {
        (lam, p) for lam in (0.1, 0.5, 1.0, 1.3, 1.5, 2.0, 5.0, 10.0) for p in (1, 2)}
    assert {s.omega for s in get_grid("figure5")} == {1.0}
    assert {(s.lam, s.omega, s.p) for s in get_grid("figure6")} == {
        (lam, w, 1) for lam in (1.3, 1.5, 2.0) for w in (1, 1.5, 2, 4)}
    assert get_grid("figure4") == (tv(4), sinkhorn(1, 0.5), sinkhorn(4, 1.5))
    assert set(get_grid("figure4")) <= set(get_grid("all")) - {STFT}


@pytest.mark.parametrize(("spec", "expected"), [
    (tv(0.5), "small-tv-w0.5-s218-abc123"),
    (tv(4.0), "small-tv-w4-s218-abc123"),
    (sinkhorn(4, 1.5), "small-sinkhorn-p1-l1.5-w4-s218-abc123"),
    (sinkhorn(1.0, 10.0, p=2), "small-sinkhorn-p2-l10-w1-s218-abc123"),
    (sinkhorn(1.5, 0.1), "small-sinkhorn-p1-l0.1-w1.5-s218-abc123"),
    (STFT, "small-stft-abc123"),  # nothing trained: no seed
])
def test_run_id_format(spec: RunSpec, expected: str) -> None:
    assert run_id(spec, "small", seed=218, variant="abc123") == expected


def test_run_ids_of_all_are_unique_over_grid_points_and_seeds() -> None:
    ids = [run_id(spec, "paper", seed, "abc123") for spec in get_grid("all") for seed in (218, 219)]
    assert len(set(ids)) == len(ids) - 1 == 61  # the STFT baseline once


def test_variant_id_is_a_stable_hash_of_the_settings() -> None:
    settings = {"epochs": 20, "model": {"channels": 200}, "learning_rate": 0.001}
    assert variant_id(settings) == variant_id(dict(reversed(list(settings.items()))))  # key order does not count
    # pinned: run folders outlive versions
    assert len(variant_id(settings)) == VARIANT_LENGTH and variant_id(settings) == "0406e0"
    changed = [settings | {"epochs": 21}, settings | {"model": {"channels": 201}},
               settings | {"learning_rate": 2e-3}]
    assert len({variant_id(s) for s in [settings, *changed]}) == 4


def test_unknown_grid_names_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="table7") as err:
        get_grid("table7")
    for name in ("table1", "table2", "figure3", "figure5", "figure6", "all"):
        assert name in str(err.value)


@pytest.mark.parametrize("kwargs", [
    {"objective": "l2"},
    {"objective": "tv"},
    {"objective": "tv", "omega": 1.0, "lam": 1.5},
    {"objective": "sinkhorn", "omega": 1.0, "lam": 1.5},
    {"objective": "sinkhorn", "omega": 1.0, "lam": 0.0, "p": 1},
    {"objective": "stft", "omega": 1.0},
])
def test_runspec_rejects_inconsistent_parameters(kwargs: dict) -> None:
    with pytest.raises(ValueError):
        RunSpec(**kwargs)


def test_runspec_from_config_reads_nan_and_none_as_unused() -> None:
    config = {"objective": "tv", "omega": 2, "lam": None, "p": math.nan, "epochs": 8}
    assert RunSpec.from_config(config) == tv(2.0)
    assert RunSpec.from_config({"objective": "sinkhorn", "omega": 4, "lam": 1.5, "p": 1}) == sinkhorn(4, 1.5)
    assert RunSpec.from_config({"objective": "stft"}) == STFT


def test_unique_specs_keeps_first_appearance_order() -> None:
    assert unique_specs([tv(1), STFT, tv(1), tv(0.5)]) == (tv(1), STFT, tv(0.5))


def test_as_columns_gives_nan_for_unused_parameters() -> None:
    columns = tv(0.5).as_columns()
    assert columns["objective"] == "tv" and columns["omega"] == 0.5
    assert math.isnan(columns["lam"]) and math.isnan(columns["p"])
    assert RunSpec.from_config(sinkhorn(2, 1.3, p=2).as_columns()) == sinkhorn(2, 1.3, p=2)
