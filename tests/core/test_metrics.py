"""Metrics against closed-form cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rlsv.core.metrics import (
    StftBaseline,
    additivity,
    binary_mask,
    oracle_binary_mask_estimate,
    segment_is_active,
    si_sdr,
)


def _orthogonal_noise(x: torch.Tensor, snr_db: float, seed: int = 0) -> torch.Tensor:
    """Noise orthogonal to each row of x with ||n||^2 = ||x||^2 / 10^(snr/10)."""
    n = torch.randn(x.shape, generator=torch.Generator().manual_seed(seed), dtype=x.dtype)
    n = n - (n * x).sum(-1, keepdim=True) / x.pow(2).sum(-1, keepdim=True) * x
    target = x.pow(2).sum(-1, keepdim=True) / 10 ** (snr_db / 10)
    return n * (target / n.pow(2).sum(-1, keepdim=True)).sqrt()


@pytest.mark.parametrize("snr_db", [-5.0, 0.0, 12.5, 40.0])
def test_si_sdr_of_signal_plus_noise_at_known_snr(snr_db: float) -> None:
    x = torch.randn(3, 1000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    got = si_sdr(x, x + _orthogonal_noise(x, snr_db))
    torch.testing.assert_close(got, torch.full((3,), snr_db, dtype=torch.float64), rtol=0, atol=1e-9)


def test_si_sdr_is_scale_invariant() -> None:
    x = torch.randn(2, 500, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    est = x + 0.3 * torch.randn(2, 500, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(si_sdr(x, 7.5 * est), si_sdr(x, est))
    torch.testing.assert_close(si_sdr(x, -0.01 * est), si_sdr(x, est))


def test_si_sdr_matches_the_paper_formula_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0, -1.0, 0.5]], dtype=torch.float64)
    e = torch.tensor([[0.9, 2.2, -0.7, 0.1]], dtype=torch.float64)
    a = float((x * e).sum() / (x * x).sum())
    expected = 10 * math.log10(float(((a * x) ** 2).sum()) / float(((a * x - e) ** 2).sum()))
    assert float(si_sdr(x, e)) == pytest.approx(expected, rel=1e-12)


def test_additivity_of_a_linear_map_is_one() -> None:
    g = torch.Generator().manual_seed(4)
    w = torch.randn(6, 40, dtype=torch.float64, generator=g)
    v, acc = torch.randn(2, 40, dtype=torch.float64, generator=g), torch.randn(2, 40, dtype=torch.float64, generator=g)
    encode = lambda s: (s @ w.T).unsqueeze(-1)  # (B, 6, 1)
    torch.testing.assert_close(additivity(encode(v + acc), encode(v), encode(acc)), torch.ones(2, dtype=torch.float64))


def test_additivity_closed_form() -> None:
    a_m = torch.tensor([[[2.0, 2.0]]])
    a_v = torch.tensor([[[1.0, 0.0]]])
    a_acc = torch.tensor([[[0.0, 1.0]]])
    # residual |2-1-0| + |2-0-1| = 2, ||A_m||_1 = 4 -> 1 - 0.5
    assert float(additivity(a_m, a_v, a_acc)) == pytest.approx(0.5)


def test_binary_mask_rules() -> None:
    a_v = torch.tensor([0.0, 1.0, 1.0, 2.0, 0.0])
    a_acc = torch.tensor([0.0, 0.0, 2.0, 1.0, 3.0])  # 0/0, x/0, exactly 0.5, 2, 0
    assert binary_mask(a_v, a_acc).tolist() == [0.0, 1.0, 0.0, 1.0, 0.0]
    assert binary_mask(a_v, a_acc, inclusive=True).tolist() == [0.0, 1.0, 1.0, 1.0, 0.0]


def test_binary_mask_on_disjoint_sources_is_perfect() -> None:
    """Vocals and accompaniment on disjoint supports of an identity 'representation' separate exactly."""
    g = torch.Generator().manual_seed(5)
    vocals = torch.zeros(2, 64, dtype=torch.float64)
    acc = torch.zeros(2, 64, dtype=torch.float64)
    vocals[:, :32] = torch.rand(2, 32, generator=g, dtype=torch.float64) + 0.1
    acc[:, 32:] = torch.rand(2, 32, generator=g, dtype=torch.float64) + 0.1
    encode = lambda s: s.unsqueeze(1)  # non-negative signals: (B, 1, N)
    decode = lambda a: a.squeeze(1)
    estimate = oracle_binary_mask_estimate(decode, encode(vocals + acc), encode(vocals), encode(acc))
    torch.testing.assert_close(estimate, vocals)
    assert (si_sdr(vocals, estimate) > 200).all()


@pytest.mark.parametrize("rule", ["published", "paper"])
def test_silence_rule_threshold(rule: str) -> None:
    # published: 10 log10(||v||) >= -10  <=> ||v|| >= 0.1 ; paper: 10 log10(||v||^2) >= -10 <=> ||v|| >= 10^-0.5
    limit = 0.1 if rule == "published" else 10 ** -0.5
    unit = np.ones(100) / 10.0  # ||unit|| = 1
    assert bool(segment_is_active(unit * limit * 1.01, rule=rule))
    assert not bool(segment_is_active(unit * limit * 0.99, rule=rule))
    batch = torch.stack([torch.zeros(100), torch.as_tensor(unit * 2.0)])
    assert segment_is_active(batch, rule=rule).tolist() == [False, True]
    with pytest.raises(ValueError, match="rule"):
        segment_is_active(batch, rule="energy")


@pytest.mark.parametrize("window", ["hann", "hamming"])
def test_stft_round_trip(window: str) -> None:
    base = StftBaseline(n_fft=512, hop=64, window=window)
    x = torch.randn(2, 4410, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    torch.testing.assert_close(base.istft(base.stft(x), length=4410), x, rtol=0, atol=1e-10)


def test_stft_baseline_on_frequency_disjoint_sources() -> None:
    t = torch.arange(44100, dtype=torch.float64) / 44100
    vocals = (0.5 * torch.sin(2 * math.pi * 440 * t)).unsqueeze(0)
    acc = (0.5 * torch.sin(2 * math.pi * 5000 * t)).unsqueeze(0)
    out = StftBaseline()(vocals + acc, vocals, acc)
    assert float(out["si_sdr_mask"]) > 30.0
    assert float(out["additivity"]) > 0.95
    # identical "sources": the magnitude of the mixture is twice each part, perfectly additive
    out_same = StftBaseline()(2 * vocals, vocals, vocals)
    assert float(out_same["additivity"]) == pytest.approx(1.0, abs=1e-12)


def test_stft_baseline_options_are_checked() -> None:
    with pytest.raises(ValueError, match="window"):
        StftBaseline(window="kaiser")
    with pytest.raises(ValueError, match="hop"):
        StftBaseline(n_fft=256, hop=512)
