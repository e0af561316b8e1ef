"""The run's convolution plan: chosen without timing by default, timed once per machine only when asked.

The tuner's timings are forced (``timer=``), so these tests cover every choice without timing anything.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlsv.core.conv_methods import METHODS, ConvPlan
from rlsv.core.model_config import ModelConfig
from rlsv.run import conv_plan as plans
from rlsv.run.conv_tuning import tune_conv_plan

CONFIG = ModelConfig(channels=5, kernel_size=24, stride=6, segment_length=55)


def _never(convolution: str, method: str, call) -> float:
    raise AssertionError(f"timed {convolution} {method}: a plan was chosen by timing")


def _forced(fastest: dict[str, str], calls: list[tuple[str, str]] | None = None):
    """A timer under which ``fastest[convolution]`` wins each convolution (the call itself still runs once)."""
    def timer(convolution: str, method: str, call) -> float:
        call()
        if calls is not None:
            calls.append((convolution, method))
        return 1.0 if method == fastest[convolution] else 2.0
    return timer


@pytest.fixture
def plan_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "conv_plans.json"
    monkeypatch.setenv("RLSV_PLAN_CACHE", str(path))
    return path


@pytest.mark.parametrize("threads", [1, 2])
def test_fixed_plan_times_nothing_and_is_the_table(threads: int, plan_cache: Path) -> None:
    choice = plans.resolve_conv_plan("fixed", CONFIG, 4, "cpu", threads=threads, timer=_never)
    assert choice == plans.PlanChoice(plans.FIXED_PLANS["cpu"], "fixed") == plans.PlanChoice(ConvPlan(), "fixed")
    assert not plan_cache.exists()


def test_explicit_plans_are_given_as_they_are(plan_cache: Path) -> None:
    assert plans.resolve_conv_plan("gemm,direct,gemm", CONFIG, 4, "cpu", timer=_never) == plans.PlanChoice(
        ConvPlan("gemm", "direct", "gemm"), "given")
    assert plans.resolve_conv_plan(ConvPlan.everywhere("gemm"), CONFIG, 4, "cpu", timer=_never).how == "given"
    with pytest.raises(ValueError, match=r"conv_plan \(--conv-plan\) must be"):
        plans.resolve_conv_plan("fastest", CONFIG, 4, "cpu")


@pytest.mark.parametrize("fastest", [{"analysis": "gemm", "context": "direct", "synthesis": "gemm"},
                                     {"analysis": "direct", "context": "gemm", "synthesis": "direct"}])
def test_tuner_takes_the_forced_fastest_of_each_convolution(fastest: dict[str, str]) -> None:
    calls: list[tuple[str, str]] = []
    plan = tune_conv_plan(CONFIG, 2, timer=_forced(fastest, calls))
    assert plan == ConvPlan(**fastest)
    assert calls == [(c, m) for c in ("analysis", "context", "synthesis") for m in METHODS]  # data-flow order


def test_tuner_breaks_ties_by_the_order_of_the_methods() -> None:
    assert tune_conv_plan(CONFIG, 2, timer=lambda convolution, method, call: 1.0) == ConvPlan.everywhere(METHODS[0])


def test_auto_is_timed_once_per_machine_then_read(plan_cache: Path) -> None:
    fastest = {"analysis": "gemm", "context": "direct", "synthesis": "gemm"}
    first = plans.resolve_conv_plan("auto", CONFIG, 4, "cpu", threads=2, timer=_forced(fastest))
    assert first == plans.PlanChoice(ConvPlan(**fastest), "timed now")
    stored = json.loads(plan_cache.read_text())
    key = plans.machine_key(CONFIG, 4, "cpu", torch.float32, 2)
    assert stored == {key: "gemm,direct,gemm"}
    # the same machine and shapes: read, never timed again, whatever the load
    again = plans.resolve_conv_plan("auto", CONFIG, 4, "cpu", threads=2, timer=_never)
    assert again == plans.PlanChoice(ConvPlan(**fastest), "machine cache")
    # another thread count is another key: timed (here to another answer) and stored beside the first
    other = {"analysis": "direct", "context": "direct", "synthesis": "direct"}
    assert plans.resolve_conv_plan("auto", CONFIG, 4, "cpu", threads=1, timer=_forced(other)).plan == ConvPlan(**other)
    assert len(json.loads(plan_cache.read_text())) == 2


def test_machine_key_names_what_the_float_order_depends_on() -> None:
    key = json.loads(plans.machine_key(CONFIG, 8, "cpu", torch.float32, 2))
    from rlsv.run.machine import cpu_model

    assert key[:4] == ["cpu", cpu_model(), torch.__version__, 2]
    assert key[4] == [5, 24, 6, 55, 5, 10] and key[5] == 8 and key[6] == "torch.float32"
    assert (plans.machine_key(CONFIG, 8, "cpu", torch.float32, 1)
            != plans.machine_key(CONFIG, 8, "cpu", torch.float32, 2))
