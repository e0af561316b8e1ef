"""The estimator's loss: negative mean SI-SDR over the segments with active vocals."""

from __future__ import annotations

import numpy as np
import torch

from rlsv.core.separation.loss import active_segments, negative_si_sdr


def _si_sdr_numpy(reference: np.ndarray, estimate: np.ndarray) -> float:
    target = reference @ estimate / (reference @ reference) * reference
    return 10 * np.log10(target @ target / ((target - estimate) @ (target - estimate)))


def test_negative_si_sdr_over_active_segments_only() -> None:
    rng = np.random.default_rng(0)
    vocals = rng.standard_normal((4, 500))
    vocals[1] *= 1e-4  # silent: ||v|| < 0.1
    estimate = vocals + 0.3 * rng.standard_normal((4, 500))
    v, e = torch.from_numpy(vocals), torch.from_numpy(estimate).requires_grad_(True)
    active = active_segments(v)
    assert active.tolist() == [True, False, True, True]
    loss = negative_si_sdr(v, e, active)
    expected = -np.mean([_si_sdr_numpy(vocals[k], estimate[k]) for k in (0, 2, 3)])
    assert np.isclose(loss.item(), expected, atol=1e-9)
    loss.backward()
    assert e.grad[1].abs().sum() == 0 and e.grad[0].abs().sum() > 0


def test_a_batch_without_vocals_gives_no_loss() -> None:
    silent = torch.zeros(2, 100)
    assert negative_si_sdr(silent, torch.randn(2, 100), active_segments(silent)) is None
