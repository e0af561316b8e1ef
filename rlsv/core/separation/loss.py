"""The training loss of the blind mask estimator: negative SI-SDR of the resynthesised vocals.

``loss = - mean_k SI-SDR(v_k, v^_k)`` over the segments ``k`` of a batch whose vocals are active
(``rlsv.core.metrics.segment_is_active``, the evaluation's silence rule), where ``v^ = D(M * A_m)`` for
the learned representation and ``iSTFT(M * X_m)`` for the STFT (``rlsv.core.separation.front_ends``).

Why this loss rather than a distance between ``M * A_m`` and ``A_v``:

* it is the measure the estimates are judged by (SI-SDR, Eq. 15 of the paper), in the same units for
  both front ends, so neither is favoured by the choice of a representation-domain distance;
* the learned representation is not additive (``A_m != A_v + A_acc``, the paper's ``A(.)`` < 1), so the
  mask that makes ``M * A_m`` closest to ``A_v`` is not the one whose decoding is closest to ``v``; the
  waveform loss optimises what is heard, through the frozen decoder (or the iSTFT with the
  mixture's phase, the usual resynthesis of STFT masking);
* a segment without vocals has no SI-SDR (the reference is ~0): such segments are left out, as the
  evaluation leaves them out.
"""

from __future__ import annotations

from torch import Tensor

from rlsv.core.metrics import segment_is_active, si_sdr

__all__ = ["negative_si_sdr", "active_segments"]


def active_segments(vocals: Tensor) -> Tensor:
    """Which segments of ``vocals`` ``(batch, N)`` have active vocals (``(batch,)`` bool, on their device)."""
    return segment_is_active(vocals.detach()).to(vocals.device)


def negative_si_sdr(vocals: Tensor, estimate: Tensor, active: Tensor | None = None) -> Tensor | None:
    """``- mean SI-SDR(vocals, estimate)`` in dB over the ``active`` segments (default: all), a scalar;
    None when no segment is active (the batch teaches nothing).

    Args:
        vocals, estimate: ``(batch, N)``.
        active: ``(batch,)`` bool (:func:`active_segments`).
    """
    if active is not None:
        if not bool(active.any()):
            return None
        vocals, estimate = vocals[active], estimate[active]
    return -si_sdr(vocals, estimate).mean()
