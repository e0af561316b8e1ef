"""Training losses: neg-SNR (Eq. 11), total variation (Eq. 4), the Sinkhorn distance (Eq. 5-7)
and the objectives L_A (Eq. 12) and L_B (Eq. 13).

Defaults are the published code's forms (``docs/paper_vs_code.md`` rows 6-13); the paper's wording is an option.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import NamedTuple

import torch
from torch import Tensor

from rlsv.core.hyperparameters import SINKHORN_GRADIENTS as GRADIENTS
from rlsv.core.hyperparameters import TRAINED_OBJECTIVES, TV_FORMS, check_objective
from rlsv.core.metrics import EPS
from rlsv.core.sinkhorn import cost_matrix, sinkhorn_loss, sinkhorn_loss_and_convergence, time_normalise
from rlsv.errors import ConfigError

__all__ = [
    "neg_snr",
    "total_variation",
    "sinkhorn_distance",
    "Objective",
    "LossTerms",
    "OBJECTIVES",
    "TV_FORMS",
]

OBJECTIVES = TRAINED_OBJECTIVES


def neg_snr(x: Tensor, x_hat: Tensor) -> Tensor:
    """Negative SNR in dB over the whole batch (published form): ``(B, N), (B, N) -> ()``.

    ``-10 log10(||x||^2 / (||x - x^||^2 + 1e-24) + 1e-24)`` with Frobenius norms over the batch
    (one ratio, not a mean of per-example SNRs).
    """
    if x.shape != x_hat.shape:
        raise ValueError(f"neg_snr needs equal shapes, got {tuple(x.shape)} and {tuple(x_hat.shape)}.")
    ratio = x.pow(2).sum() / ((x - x_hat).pow(2).sum() + EPS)
    return -10.0 * torch.log10(ratio + EPS)


def total_variation(a: Tensor, form: str = "published") -> Tensor:
    """Anisotropic total variation of a representation ``(B, C, T) -> ()``.

    ``form="published"``: ``||A[:, :, 1:] - A[:, :, :-1]||_F / T + ||A[:, 1:, :] - A[:, :-1, :]||_F / C``
    over the whole batch (L2 norms, not squared).
    ``form="paper"``: Eq. 4, ``(sum |dA/dc| + sum |dA/dt|) / (C T)`` per example, averaged over the batch.
    """
    if a.dim() != 3:
        raise ValueError(f"total_variation expects (batch, C, T), got shape {tuple(a.shape)}.")
    if form not in TV_FORMS:
        raise ValueError(f"form must be one of {TV_FORMS}, got {form!r}.")
    _, c, t = a.shape
    d_time = a[:, :, 1:] - a[:, :, :-1]
    d_chan = a[:, 1:, :] - a[:, :-1, :]
    if form == "published":
        return torch.linalg.vector_norm(d_time) / t + torch.linalg.vector_norm(d_chan) / c
    per_example = d_time.abs().sum(dim=(1, 2)) + d_chan.abs().sum(dim=(1, 2))
    return (per_example / (c * t)).mean()


def sinkhorn_distance(a: Tensor, p: int = 1, lam: float = 1.0, max_iter: int = 1000, tol: float = 1e-5,
                      check_every: int | None = None, grad: str = "implicit") -> Tensor:
    """L_SK of a batch of representations (Eq. 5-7, published semantics): ``(B, C, T) -> ()``.

    Time-normalise each channel, average the batch's ``L_p`` frame-to-frame cost matrices into one
    ``M (T, T)``, solve one entropic transport problem with ``K = exp(-M / lam)``, return ``<P, M>``.
    See ``rlsv.core.sinkhorn`` for the solver, the stopping rule and the gradient options.
    """
    return sinkhorn_loss(cost_matrix(time_normalise(a), p=p), lam=lam, max_iter=max_iter, tol=tol,
                         check_every=check_every, grad=grad)


class LossTerms(NamedTuple):
    """The three scalars of one training step, and for L_B how its Sinkhorn solve ended: ``convergence``, a
    ``(2,)`` tensor of the iterations run and the final column-marginal error (None for L_A)."""

    neg_snr: Tensor
    regulariser: Tensor
    loss: Tensor
    convergence: Tensor | None = None


@dataclass(frozen=True)
class Objective:
    """``L_A = neg-SNR + omega L_TV`` (``kind="tv"``) or ``L_B = neg-SNR + omega L_SK`` (``kind="sinkhorn"``).

    Attributes:
        kind: ``"tv"`` or ``"sinkhorn"``.
        omega: weight of the representation term (>= 0).
        lam: entropic regularisation of L_SK (> 0; Sinkhorn only).
        p: cost-matrix norm of L_SK, 1 or 2 (Sinkhorn only).
        tv_form: ``"published"`` or ``"paper"`` (see ``total_variation``).
        sinkhorn_grad: ``"implicit"``, ``"unrolled"`` or ``"envelope"``.
        max_iter, tol: Sinkhorn stopping rule.
    """

    kind: str = "tv"
    omega: float = 1.0
    lam: float = 1.0
    p: int = 1
    tv_form: str = "published"
    sinkhorn_grad: str = "implicit"
    max_iter: int = 1000
    tol: float = 1e-5

    def __post_init__(self) -> None:
        check_objective(self.kind, self.omega, self.lam, self.p)
        if self.kind == "sinkhorn":
            if self.sinkhorn_grad not in GRADIENTS:
                raise ConfigError(f"sinkhorn_grad must be one of {GRADIENTS}, got {self.sinkhorn_grad!r}.")
            if self.max_iter < 1 or self.tol < 0:
                raise ConfigError(f"Need max_iter >= 1 and tol >= 0, got {self.max_iter} and {self.tol}.")
        if self.tv_form not in TV_FORMS:
            raise ConfigError(f"tv_form must be one of {TV_FORMS}, got {self.tv_form!r}.")

    @property
    def name(self) -> str:
        """``"L_A"`` or ``"L_B"`` as in the paper."""
        return "L_A" if self.kind == "tv" else "L_B"

    def regulariser(self, a_mixture: Tensor) -> Tensor:
        """L_TV or L_SK of the mixture representation ``(B, C, T) -> ()``."""
        return self._regulariser(a_mixture)[0]

    def _regulariser(self, a_mixture: Tensor) -> tuple[Tensor, Tensor | None]:
        if self.kind == "tv":
            return total_variation(a_mixture, form=self.tv_form), None
        m = cost_matrix(time_normalise(a_mixture), p=self.p)
        return sinkhorn_loss_and_convergence(m, lam=self.lam, max_iter=self.max_iter, tol=self.tol,
                                             grad=self.sinkhorn_grad)

    def __call__(self, x: Tensor, x_hat: Tensor, a_mixture: Tensor) -> LossTerms:
        """Loss terms for clean vocals ``x (B, N)``, reconstruction ``x_hat (B, N)``, ``A_m (B, C, T)``."""
        rec = neg_snr(x, x_hat)
        reg, convergence = self._regulariser(a_mixture)
        return LossTerms(rec, reg, rec + self.omega * reg, convergence)

    def to_dict(self) -> dict:
        return asdict(self)
