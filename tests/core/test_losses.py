"""neg-SNR, total variation and the objectives against closed forms and naive loops."""

from __future__ import annotations

import math

import pytest
import torch

from rlsv.core.losses import Objective, neg_snr, sinkhorn_distance, total_variation


def test_neg_snr_closed_form() -> None:
    x = torch.randn(3, 100, dtype=torch.float64)
    # x^ = 0.9 x -> error 0.1 x -> SNR = 20 dB exactly
    assert float(neg_snr(x, 0.9 * x)) == pytest.approx(-20.0, abs=1e-10)
    assert float(neg_snr(x, x)) == pytest.approx(-10 * math.log10(float(x.pow(2).sum()) / 1e-24), rel=1e-12)


def test_neg_snr_is_one_ratio_over_the_batch() -> None:
    x = torch.tensor([[1.0, 0.0], [0.0, 10.0]], dtype=torch.float64)
    x_hat = torch.tensor([[0.0, 0.0], [0.0, 10.0]], dtype=torch.float64)  # example 0 lost, example 1 perfect
    # batch form: ||x||^2 = 101, ||e||^2 = 1 -> -10 log10(101); a mean of per-example SNRs would be inf
    assert float(neg_snr(x, x_hat)) == pytest.approx(-10 * math.log10(101.0), rel=1e-12)


def naive_tv(a: torch.Tensor, form: str) -> float:
    b, c, t = a.shape
    if form == "published":
        dt = math.sqrt(sum((float(a[i, k, j + 1] - a[i, k, j])) ** 2
                           for i in range(b) for k in range(c) for j in range(t - 1)))
        dc = math.sqrt(sum((float(a[i, k + 1, j] - a[i, k, j])) ** 2
                           for i in range(b) for k in range(c - 1) for j in range(t)))
        return dt / t + dc / c
    total = 0.0
    for i in range(b):  # Eq. 4, per example
        s = sum(abs(float(a[i, k, j] - a[i, k - 1, j])) for k in range(1, c) for j in range(t))
        s += sum(abs(float(a[i, k, j] - a[i, k, j - 1])) for j in range(1, t) for k in range(c))
        total += s / (c * t)
    return total / b


@pytest.mark.parametrize("form", ["published", "paper"])
@pytest.mark.parametrize("shape", [(1, 3, 4), (2, 5, 7), (3, 2, 2)])
def test_total_variation_matches_naive_loops(form: str, shape: tuple[int, int, int]) -> None:
    a = torch.rand(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(sum(shape)))
    assert float(total_variation(a, form=form)) == pytest.approx(naive_tv(a, form), rel=1e-12)


def test_total_variation_of_a_constant_is_zero() -> None:
    assert float(total_variation(torch.full((2, 4, 5), 3.0))) == 0.0


@pytest.mark.parametrize("kind", ["tv", "sinkhorn"])
def test_objective_is_reconstruction_plus_weighted_regulariser(kind: str) -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 50, generator=g, dtype=torch.float64)
    x_hat = x + 0.1 * torch.randn(2, 50, generator=g, dtype=torch.float64)
    a = torch.rand(2, 6, 8, generator=g, dtype=torch.float64)
    obj = Objective(kind, omega=2.5, lam=1.5, p=1)
    terms = obj(x, x_hat, a)
    reg = total_variation(a) if kind == "tv" else sinkhorn_distance(a, p=1, lam=1.5)
    assert float(terms.regulariser) == pytest.approx(float(reg), rel=1e-12)
    assert float(terms.loss) == pytest.approx(float(neg_snr(x, x_hat)) + 2.5 * float(reg), rel=1e-12)
    assert obj.name == ("L_A" if kind == "tv" else "L_B")


@pytest.mark.parametrize("bad,match", [
    (dict(kind="wasserstein"), "Unknown objective"),
    (dict(kind="sinkhorn", lam=0.0), r"lambda \(lam\) must be a finite number > 0"),
    (dict(kind="sinkhorn", lam=-0.5), r"lambda \(lam\) must be a finite number > 0"),
    (dict(kind="sinkhorn", p=3), "p must be 1 or 2"),
    (dict(kind="tv", omega=-1.0), "omega"),
    (dict(kind="tv", tv_form="l2"), "tv_form"),
    (dict(kind="sinkhorn", sinkhorn_grad="adjoint"), "sinkhorn_grad"),
])
def test_impossible_objectives_are_rejected(bad: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Objective(**bad)


@pytest.mark.parametrize("fn", [lambda: neg_snr(torch.zeros(2, 3), torch.zeros(2, 4)),
                                lambda: total_variation(torch.zeros(3, 4)),
                                lambda: total_variation(torch.zeros(1, 3, 4), form="l2")])
def test_shape_and_option_errors(fn) -> None:
    with pytest.raises(ValueError):
        fn()
