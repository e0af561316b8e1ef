"""Sinkhorn distance: cost matrix, plan, value against POT, exact gradient, robustness."""

from __future__ import annotations

import numpy as np
import ot
import pytest
import torch

from rlsv.core.losses import sinkhorn_distance
from rlsv.core.sinkhorn import (
    cost_matrix,
    implicit_gradient,
    sinkhorn_loss,
    sinkhorn_loss_and_convergence,
    sinkhorn_plan,
    time_normalise,
)

LAMBDAS = [0.05, 0.1, 0.5, 1.0, 1.3, 5.0, 20.0]


def _representation(b: int = 3, c: int = 12, t: int = 9, seed: int = 0, scale: float = 1.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.relu(torch.randn(b, c, t, generator=g, dtype=torch.float64)) * scale


def _peaked(b: int, c: int = 480, t: int = 12) -> torch.Tensor:
    """Each channel's mass on one frame (channel c on frame c mod t): ``(b, c, t)``, float64."""
    a = torch.zeros(b, c, t, dtype=torch.float64)
    a[:, torch.arange(c), torch.arange(c) % t] = 1e4
    return a


def _cost(seed: int = 0, p: int = 1, t: int = 9) -> torch.Tensor:
    return cost_matrix(time_normalise(_representation(t=t, seed=seed)), p=p)


def test_time_normalise_makes_each_channel_a_distribution() -> None:
    a = _representation()
    an = time_normalise(a)
    torch.testing.assert_close(an.sum(-1), torch.ones(3, 12, dtype=torch.float64))
    c = a.shape[1]
    torch.testing.assert_close(an[1, 2, 3], (a[1, 2, 3] + 1 / c) / (a[1, 2] + 1 / c).sum())


@pytest.mark.parametrize("p", [1, 2])
def test_cost_matrix_matches_the_published_broadcast(p: int) -> None:
    """Against the published formula: sum_b ||x[b] - x[b].t().unsqueeze(2)||_p over dim 1, divided by B."""
    an = time_normalise(_representation())
    expected = sum((an[b] - an[b].t().unsqueeze(2)).norm(p=p, dim=1) for b in range(an.shape[0])) / an.shape[0]
    got = cost_matrix(an, p=p)
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-14)
    assert torch.count_nonzero(torch.diagonal(got)) == 0
    torch.testing.assert_close(got, got.T)


@pytest.mark.parametrize("lam", [0.1, 1.0, 10.0])
def test_plan_has_uniform_marginals(lam: float) -> None:
    m = _cost()
    result = sinkhorn_plan(m, lam, tol=1e-10)
    t = m.shape[0]
    assert result.converged and result.iterations < 1000
    torch.testing.assert_close(result.plan.sum(1), torch.full((t,), 1 / t, dtype=torch.float64), atol=1e-10, rtol=0)
    torch.testing.assert_close(result.plan.sum(0), torch.full((t,), 1 / t, dtype=torch.float64), atol=1e-10, rtol=0)
    assert (result.plan >= 0).all()


@pytest.mark.parametrize("lam", [0.1, 0.5, 1.5, 10.0])
@pytest.mark.parametrize("p", [1, 2])
def test_value_matches_pot(lam: float, p: int) -> None:
    m = _cost(seed=1, p=p)
    t = m.shape[0]
    a = np.full(t, 1 / t)
    expected = float(ot.sinkhorn2(a, a, m.numpy(), reg=lam, stopThr=1e-10, numItermax=20000))
    got = float(sinkhorn_loss(m, lam=lam, tol=1e-10, max_iter=20000))
    assert got == pytest.approx(expected, rel=1e-6)


def test_log_domain_agrees_with_plain_iterations() -> None:
    m = _cost(seed=2)
    plain = sinkhorn_plan(m, 0.2, tol=1e-12, log_domain=False)
    logd = sinkhorn_plan(m, 0.2, tol=1e-12, log_domain=True)
    assert logd.log_domain and not plain.log_domain
    torch.testing.assert_close(plain.plan, logd.plan, rtol=1e-8, atol=1e-14)


@pytest.mark.parametrize("lam", [0.3, 1.0, 5.0])
def test_implicit_gradient_matches_finite_differences(lam: float) -> None:
    m = _cost(seed=3).clone()
    grad = implicit_gradient(sinkhorn_plan(m, lam, tol=1e-13, max_iter=100000).plan, m, lam)
    h = 1e-6
    g = torch.Generator().manual_seed(0)
    for _ in range(6):
        i, j = torch.randint(0, m.shape[0], (2,), generator=g).tolist()
        plus, minus = m.clone(), m.clone()
        plus[i, j] += h
        minus[i, j] -= h
        fd = (float(sinkhorn_loss(plus, lam, tol=1e-13, max_iter=100000))
              - float(sinkhorn_loss(minus, lam, tol=1e-13, max_iter=100000))) / (2 * h)
        assert float(grad[i, j]) == pytest.approx(fd, rel=1e-5, abs=1e-9)


@pytest.mark.parametrize("p", [1, 2])
def test_end_to_end_gradient_wrt_representation_matches_finite_differences(p: int) -> None:
    a = _representation(b=2, c=6, t=7, seed=4).requires_grad_()
    sinkhorn_distance(a, p=p, lam=0.7, tol=1e-13, max_iter=100000).backward()
    h = 1e-6
    for idx in [(0, 0, 0), (1, 3, 4), (0, 5, 6), (1, 2, 1)]:
        plus, minus = a.detach().clone(), a.detach().clone()
        plus[idx] += h
        minus[idx] -= h
        fd = (float(sinkhorn_distance(plus, p=p, lam=0.7, tol=1e-13, max_iter=100000))
              - float(sinkhorn_distance(minus, p=p, lam=0.7, tol=1e-13, max_iter=100000))) / (2 * h)
        assert float(a.grad[idx]) == pytest.approx(fd, rel=1e-4, abs=1e-9), idx


@pytest.mark.parametrize("lam", [0.3, 1.3, 10.0])
def test_implicit_equals_unrolled_at_convergence(lam: float) -> None:
    grads = []
    for grad in ("implicit", "unrolled"):
        m = _cost(seed=5).clone().requires_grad_()
        sinkhorn_loss(m, lam, tol=1e-13, max_iter=100000, grad=grad).backward()
        grads.append(m.grad)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-12)


def test_envelope_gradient_is_the_plan() -> None:
    m = _cost(seed=6).clone().requires_grad_()
    sinkhorn_loss(m, 1.0, tol=1e-12, grad="envelope").backward()
    torch.testing.assert_close(m.grad, sinkhorn_plan(m, 1.0, tol=1e-12).plan)


def test_convergence_is_checked_not_run_to_the_limit() -> None:
    """The published stopping test never fires (1000 iterations always); ours stops at the tolerance."""
    m = _cost(seed=7, t=40)
    result = sinkhorn_plan(m, 1.0, tol=1e-5, check_every=10)
    assert result.converged and result.error < 1e-5
    assert result.iterations <= 200 and result.iterations % 10 == 0


@pytest.mark.parametrize("grad", ["implicit", "unrolled", "envelope"])
def test_the_loss_reports_how_its_solve_ended(grad: str) -> None:
    """What a training step records per step (losses.csv): the iterations and final error of the plan's solve,
    the same as the plan's own solver reports, and no gradient through them."""
    m = _cost(seed=7, t=40).requires_grad_()
    loss, convergence = sinkhorn_loss_and_convergence(m, 1.0, tol=1e-5, grad=grad)
    reference = sinkhorn_plan(m, 1.0, tol=1e-5)
    assert convergence.tolist() == [float(reference.iterations), reference.error]
    assert not convergence.requires_grad and loss.requires_grad
    torch.testing.assert_close(loss, sinkhorn_loss(m, 1.0, tol=1e-5, grad=grad), rtol=0, atol=0)
    loss.backward()
    assert m.grad is not None and torch.isfinite(m.grad).all()


@pytest.mark.parametrize("lam", [0.3, 1.0, 5.0])
def test_cpu_default_stops_at_the_first_converged_iteration(lam: float) -> None:
    """On the CPU the (free) check runs every iteration: one iteration fewer would not have converged."""
    m = _cost(seed=9, t=40)
    result = sinkhorn_plan(m, lam, tol=1e-8)
    assert result.converged and result.iterations >= 1
    earlier = sinkhorn_plan(m, lam, tol=1e-8, max_iter=result.iterations - 1) if result.iterations > 1 else None
    assert earlier is None or not earlier.converged
    assert result.iterations <= sinkhorn_plan(m, lam, tol=1e-8, check_every=10).iterations


@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("lam", LAMBDAS)
@pytest.mark.parametrize("kind", ["random", "zeros", "peaked"])
def test_finite_values_and_gradients(kind: str, lam: float, p: int) -> None:
    """No NaN/inf over lambda in [0.05, 20], p in {1, 2}, incl. all-zero and extreme (underflowing) input."""
    if kind == "random":
        a = _representation(b=2, c=480, t=12, seed=8).float()
    elif kind == "zeros":
        a = torch.zeros(2, 480, 12)
    else:  # each channel's mass at one frame: M/lam up to ~4e3, exp(-M/lam) underflows
        a = _peaked(2).float()
    a.requires_grad_()
    loss = sinkhorn_distance(a, p=p, lam=lam)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(a.grad).all()
    assert float(loss.detach()) >= 0
    if kind == "zeros":
        assert float(loss.detach()) == 0.0


@pytest.mark.parametrize("grad", ["unrolled", "envelope"])
@pytest.mark.parametrize("lam", [0.05, 20.0])
@pytest.mark.parametrize("kind", ["zeros", "peaked"])
def test_other_gradients_are_finite_on_degenerate_input(kind: str, lam: float, grad: str) -> None:
    """The unrolled and envelope paths share the solver's log-domain selection and fallback."""
    a = (torch.zeros(2, 480, 12, dtype=torch.float64) if kind == "zeros" else _peaked(2)).requires_grad_()
    loss = sinkhorn_distance(a, p=1, lam=lam, grad=grad, max_iter=200)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(a.grad).all()


def test_peaked_input_uses_the_log_domain() -> None:
    m = cost_matrix(time_normalise(_peaked(1)), p=1)
    assert float(m.max()) / 0.05 > 1000
    assert sinkhorn_plan(m, 0.05).log_domain


@pytest.mark.parametrize("bad", [dict(lam=0.0), dict(lam=-1.0), dict(lam=float("nan")), dict(max_iter=0),
                                 dict(tol=-1.0), dict(grad="adjoint")])
def test_bad_arguments_are_rejected(bad: dict) -> None:
    args = dict(lam=1.0)
    args.update(bad)
    with pytest.raises(ValueError):
        sinkhorn_loss(_cost(), **args)


def test_bad_p_and_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="p must be 1 or 2"):
        cost_matrix(time_normalise(_representation()), p=3)
    with pytest.raises(ValueError, match="square"):
        sinkhorn_plan(torch.zeros(3, 4), 1.0)
    with pytest.raises(ValueError, match=r"\(batch, C, T\)"):
        time_normalise(torch.zeros(3, 4))


def test_checking_convergence_less_often_changes_nothing_but_the_last_iterations() -> None:
    m = torch.rand(12, 12, dtype=torch.float64) * 3
    m = (m + m.T) / 2
    m.fill_diagonal_(0)
    values, grads = [], []
    for check_every in (1, 2):  # 1: the CPU's default; a GPU checks every 10 iterations
        leaf = m.clone().requires_grad_()
        loss = sinkhorn_loss(leaf, lam=1.5, tol=1e-10, check_every=check_every)
        loss.backward()
        values.append(float(loss.detach()))
        grads.append(leaf.grad)
    assert values[0] == pytest.approx(values[1], rel=1e-12)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-7, atol=1e-12)
