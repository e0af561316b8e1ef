"""The Sinkhorn cost matrix (``torch.pdist`` over frame pairs) against ``torch.cdist``: values and gradients."""

from __future__ import annotations

import pytest
import torch

from rlsv.core.sinkhorn import cost_matrix, time_normalise


def _cdist_cost(an: torch.Tensor, p: int) -> torch.Tensor:
    """The straightforward form: exact pairwise distances per example, averaged over the batch."""
    frames = an.transpose(1, 2)
    return torch.cdist(frames, frames, p=float(p), compute_mode="donot_use_mm_for_euclid_dist").mean(0)


def _representation(b: int, c: int, t: int, seed: int, time_major: bool = False) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    if time_major:  # the encoder's memory layout
        return torch.relu(torch.randn(b, t, c, generator=g, dtype=torch.float64)).transpose(1, 2)
    return torch.relu(torch.randn(b, c, t, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("b,c,t", [(1, 1, 2), (3, 7, 9), (2, 16, 31), (4, 5, 1)])
@pytest.mark.parametrize("time_major", [False, True])
def test_values_and_gradients_match_cdist(p: int, b: int, c: int, t: int, time_major: bool) -> None:
    a = _representation(b, c, t, seed=b + c + t, time_major=time_major).requires_grad_()
    ours, theirs = cost_matrix(time_normalise(a), p), _cdist_cost(time_normalise(a), p)
    assert ours.shape == (t, t)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-14)
    weights = torch.rand(t, t, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    (g_ours,) = torch.autograd.grad((ours * weights).sum(), a)
    (g_theirs,) = torch.autograd.grad((theirs * weights).sum(), a)
    torch.testing.assert_close(g_ours, g_theirs, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("p", [1, 2])
def test_coinciding_frames_get_a_finite_zero_distance_gradient(p: int) -> None:
    a = _representation(2, 6, 5, seed=3)
    a[:, :, 3] = a[:, :, 1]  # frames 1 and 3 coincide in every example
    a.requires_grad_()
    m = cost_matrix(time_normalise(a), p)
    assert float(m[1, 3].detach()) == 0.0 and float(m[3, 1].detach()) == 0.0
    weights = torch.zeros(5, 5, dtype=torch.float64)
    weights[1, 3] = weights[3, 1] = 1.0
    (grad,) = torch.autograd.grad((m * weights).sum(), a)
    assert torch.isfinite(grad).all() and float(grad.abs().max()) == 0.0


def test_float32_matches_float64() -> None:
    a = _representation(8, 64, 40, seed=4)
    m64 = cost_matrix(time_normalise(a), 1)
    m32 = cost_matrix(time_normalise(a.float()), 1)
    assert m32.dtype == torch.float32
    torch.testing.assert_close(m32.double(), m64, rtol=2e-6, atol=1e-7)
