"""The Sinkhorn solve and its exact gradient in NumPy (float64), for cost matrices on the CPU.

The same iterations, stopping rule, log-domain fallback and implicit gradient as the torch code of
``rlsv.core.sinkhorn`` (``tests/core/test_sinkhorn.py`` checks the two against each other), written for
the CPU: a ``(T, T)`` problem with ``T`` = 44 to 173 frames is a few microseconds of arithmetic per
operation, and torch's per-call dispatch (several microseconds per small operation, dozens of
operations per iteration) would cost more than the work. ``rlsv.core.sinkhorn.sinkhorn_loss`` uses
this path for CPU tensors and the torch one elsewhere.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import LinAlgError, cho_factor, cho_solve
from scipy.special import logsumexp

__all__ = ["solve", "implicit_gradient"]

LOG_DOMAIN_THRESHOLD = 100.0  # max(M) / lam above which the kernel exp(-M/lam) risks underflow


def _plain(m: np.ndarray, lam: float, max_iter: int, tol: float) -> tuple[np.ndarray, int, float]:
    """Scaling iterations from ``u = v = 1/T``: ``v = b / (K^T u)``, ``u = a / (K v)``; the column-marginal
    error ``||v * K^T u - b||_1`` checked every iteration. Returns ``(P, iterations, error)``."""
    t = m.shape[0]
    marginal = np.full(t, 1.0 / t)
    kernel = np.exp(m / -lam)
    kernel_t = np.ascontiguousarray(kernel.T)
    u = marginal.copy()
    v = marginal.copy()
    kt_u = kernel_t @ u
    iterations, error = 0, math.inf
    while True:
        error = float(np.abs(v * kt_u - marginal).sum())
        if error < tol or iterations == max_iter:
            break
        v = marginal / kt_u
        u = marginal / (kernel @ v)
        kt_u = kernel_t @ u
        iterations += 1
    return u[:, None] * kernel * v[None, :], iterations, error


def _log(m: np.ndarray, lam: float, max_iter: int, tol: float) -> tuple[np.ndarray, int, float]:
    """Log-domain (dual potential) iterations, stable for any ``max(M) / lam``."""
    t = m.shape[0]
    log_marginal = -math.log(t)
    scaled = -m / lam
    f = np.zeros(t)
    g = np.zeros(t)
    column_lse = logsumexp(scaled + f[:, None], axis=0)
    iterations, error = 0, math.inf
    while True:
        error = float(np.abs(np.exp(column_lse + g) - 1.0 / t).sum())
        if error < tol or iterations == max_iter:
            break
        g = log_marginal - column_lse
        f = log_marginal - logsumexp(scaled + g[None, :], axis=1)
        column_lse = logsumexp(scaled + f[:, None], axis=0)
        iterations += 1
    return np.exp(scaled + f[:, None] + g[None, :]), iterations, error


def solve(m: np.ndarray, lam: float, max_iter: int = 1000, tol: float = 1e-5, log_domain: bool | None = None
          ) -> tuple[np.ndarray, int, float, bool]:
    """The entropic plan for the cost ``m`` ``(T, T)`` float64: ``(P, iterations, error, log_domain)``.

    ``log_domain=None`` picks the log-domain updates when ``max(M)/lam`` exceeds 100, and falls back to
    them when the plain plan is not finite.
    """
    highest = float(m.max())
    if not (math.isfinite(highest) and math.isfinite(float(m.min()))):
        raise ValueError("The cost matrix has NaN or inf entries; check the representation for NaNs.")
    if log_domain is None:
        log_domain = highest / lam > LOG_DOMAIN_THRESHOLD
    if not log_domain:
        plan, iterations, error = _plain(m, lam, max_iter, tol)
        if math.isfinite(float(plan.sum())):
            return plan, iterations, error, False
    plan, iterations, error = _log(m, lam, max_iter, tol)
    return plan, iterations, error, True


def implicit_gradient(plan: np.ndarray, m: np.ndarray, lam: float) -> np.ndarray:
    """Exact ``d<P*(M), M> / dM`` at the Sinkhorn fixed point, ``(T, T)``: the algebra of
    ``rlsv.core.sinkhorn.implicit_gradient`` (Schur complement made definite by ``1 1^T``, Cholesky, the
    minimum-norm solution when the plan is numerically a permutation)."""
    t = plan.shape[0]
    rows, cols = plan.sum(1), plan.sum(0)
    weighted = plan * m
    rhs_rows, rhs_cols = weighted.sum(1), weighted.sum(0)
    p_over_c = plan / cols
    schur_plus_ones = np.ones((t, t)) - p_over_c @ plan.T
    schur_plus_ones[np.diag_indices(t)] += rows
    rhs = rhs_rows - p_over_c @ rhs_cols
    rhs -= rhs.mean()
    try:
        alpha = cho_solve(cho_factor(schur_plus_ones, check_finite=False), rhs, check_finite=False)
        if not math.isfinite(float(alpha.sum())):
            raise LinAlgError("not finite")
    except LinAlgError:
        alpha = np.linalg.pinv(schur_plus_ones - 1.0, hermitian=True) @ rhs
    beta = (rhs_cols - plan.T @ alpha) / cols
    grad = (1.0 + alpha / lam)[:, None] + (beta / lam)[None, :]
    grad -= m / lam
    grad *= plan
    return grad
