"""Front ends of blind separation: resynthesis inverts analysis, oracle estimates equal the paper's evaluation."""

from __future__ import annotations

import torch

from rlsv.core.metrics import StftBaseline, oracle_binary_mask_estimate, si_sdr
from rlsv.core.model import DenoisingAutoencoder, ModelConfig
from rlsv.core.separation.front_ends import LearnedFrontEnd, StftFrontEnd

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=600)


def _signals(n: int = 600, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    vocals, accompaniment = torch.randn(3, n, generator=g), torch.randn(3, n, generator=g)
    return vocals + accompaniment, vocals, accompaniment


def test_stft_mask_of_ones_resynthesises_the_input() -> None:
    front = StftFrontEnd(600, n_fft=128, hop=32)
    x, _, _ = _signals()
    analysis = front.analyse(x)
    assert analysis.magnitude.shape == (3, 65, 600 // 32 + 1) and analysis.magnitude.dtype == torch.float32
    torch.testing.assert_close(analysis.magnitude.double(), analysis.coefficients.abs() / 128 ** 0.5)
    torch.testing.assert_close(front.synthesise(analysis, torch.ones_like(analysis.magnitude)), x, atol=1e-5, rtol=0)


def test_stft_oracle_estimate_scores_as_the_table2_baseline() -> None:
    front, baseline = StftFrontEnd(600, n_fft=128, hop=32), StftBaseline(n_fft=128, hop=32)
    mixture, vocals, accompaniment = _signals(seed=1)
    estimate = front.oracle_estimate(mixture, vocals, accompaniment)
    expected = baseline(mixture, vocals, accompaniment)["si_sdr_mask"]
    torch.testing.assert_close(si_sdr(vocals.double(), estimate.double()), expected, atol=1e-4, rtol=0)


def test_learned_front_end_is_the_frozen_autoencoder() -> None:
    torch.manual_seed(0)
    model = DenoisingAutoencoder(TINY, conv_plan="direct")
    front = LearnedFrontEnd(model)
    assert not any(p.requires_grad for p in model.parameters())
    mixture, vocals, accompaniment = _signals(seed=2)
    analysis = front.analyse(mixture)
    assert analysis.magnitude.shape == (3, 8, TINY.frames) and front.n_bins == 8
    ones = torch.ones_like(analysis.magnitude)
    torch.testing.assert_close(front.synthesise(analysis, ones), model(mixture))
    mask = torch.rand_like(ones, requires_grad=True)
    front.synthesise(analysis, mask).sum().backward()  # the mask takes a gradient through the decoder
    assert mask.grad is not None and mask.grad.abs().sum() > 0
    a = [model.encode(s) for s in (mixture, vocals, accompaniment)]
    torch.testing.assert_close(front.oracle_estimate(mixture, vocals, accompaniment),
                               oracle_binary_mask_estimate(model.decode, *a))
    assert set(front.oracle_mask(mixture, vocals, accompaniment).unique().tolist()) <= {0.0, 1.0}
