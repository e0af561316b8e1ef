"""The mask estimator: shapes and range, the closed-form parameter count, the budget, the input statistics."""

from __future__ import annotations

import pytest
import torch

from rlsv.core.separation.mask_estimator import (
    DEFAULT_BUDGET,
    EstimatorConfig,
    MaskEstimator,
    hidden_for_budget,
    input_statistics,
    parameter_count,
)


def _trainable(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.mark.parametrize("bins, hidden, layers", [(16, 8, 1), (200, 152, 1), (1025, 88, 1), (33, 20, 2)])
def test_parameter_count_matches_the_module(bins: int, hidden: int, layers: int) -> None:
    model = MaskEstimator(EstimatorConfig(bins, hidden, layers))
    assert parameter_count(bins, hidden, layers) == _trainable(model)


@pytest.mark.parametrize("bins", [16, 200, 1025])
def test_budget_gives_the_widest_estimator_that_fits(bins: int) -> None:
    hidden = hidden_for_budget(bins, DEFAULT_BUDGET)
    assert hidden % 2 == 0
    assert parameter_count(bins, hidden) <= DEFAULT_BUDGET < parameter_count(bins, hidden + 2)


def test_both_front_ends_get_the_same_budget_within_two_percent() -> None:
    counts = [parameter_count(bins, hidden_for_budget(bins)) for bins in (200, 1025)]
    assert all(0.98 * DEFAULT_BUDGET <= c <= DEFAULT_BUDGET for c in counts), counts


def test_a_budget_too_small_is_explained() -> None:
    with pytest.raises(ValueError, match="too small.*raise the budget"):
        hidden_for_budget(1025, budget=100)
    with pytest.raises(ValueError, match="even"):
        EstimatorConfig(10, 7)


def test_mask_shape_and_range() -> None:
    torch.manual_seed(0)
    model = MaskEstimator(EstimatorConfig(12, 8))
    x = torch.rand(3, 12, 20) * 10
    mask = model(x)
    assert mask.shape == x.shape and mask.min() >= 0 and mask.max() <= 1
    with pytest.raises(ValueError, match=r"\(batch, F=12, T\)"):
        model(torch.rand(3, 11, 20))


def test_frames_interact_through_the_blstm_only() -> None:
    torch.manual_seed(0)
    model = MaskEstimator(EstimatorConfig(6, 4)).eval()
    x = torch.rand(1, 6, 10)
    y = x.clone()
    y[..., 9] += 1.0  # change the last frame: the first frame's mask changes (the backward LSTM carries it)
    assert not torch.allclose(model(x)[..., 0], model(y)[..., 0])


def test_input_statistics_standardise_the_compressed_input() -> None:
    torch.manual_seed(1)
    x = torch.rand(4, 5, 30) * torch.tensor([1.0, 2.0, 5.0, 0.1, 3.0])[:, None]
    stats = input_statistics(x)
    assert torch.isclose(stats["reference"], x.mean())
    compressed = torch.log1p(x / stats["reference"]).transpose(0, 1).reshape(5, -1)
    standard = (compressed - stats["input_mean"][:, None]) * stats["input_scale"][:, None]
    torch.testing.assert_close(standard.mean(1), torch.zeros(5), atol=1e-5, rtol=0)
    torch.testing.assert_close(standard.std(1, correction=0), torch.ones(5), atol=1e-4, rtol=0)
    model = MaskEstimator(EstimatorConfig(5, 4))
    model.set_input_statistics(stats)
    assert torch.equal(model.input_mean.detach(), stats["input_mean"])
