"""Entropic optimal transport between the frames of a representation (the regulariser L_SK).

Pipeline, published semantics (``docs/paper_vs_code.md`` rows 8-13):

1. ``time_normalise``: ``An = (A + 1/C) / sum_t (A + 1/C)`` per channel, ``(B, C, T) -> (B, C, T)``.
2. ``cost_matrix``: ``M[i, j] = || An[:, :, i] - An[:, :, j] ||_p`` over channels, averaged over the
   batch, ``(B, C, T) -> (T, T)``; computed pairwise (``torch.pdist`` over the pairs ``i < j``)
   without the ``(T, C, T)`` temporary of the published code.
3. ``sinkhorn_plan``: ``K = exp(-M / lam)``, uniform marginals ``1/T``, scalings from ``1/T``,
   updates ``v = b / (K^T u)``, ``u = a / (K v)``; at most ``max_iter`` iterations, stopped when the
   column-marginal error ``||P^T 1 - b||_1`` falls below ``tol``. The check reuses the product the
   next update needs; it runs every iteration on the CPU and every ``check_every=10`` iterations on
   a GPU (one host sync per check, not per iteration). Switches to log-domain updates where the
   kernel would underflow. Solved in float64 (``T x T`` is small).
4. ``sinkhorn_loss``: ``<P*(M), M>`` with one of three gradients:

   * ``"implicit"`` (default): the exact gradient of ``<P*(M), M>`` by implicit differentiation of
     the Sinkhorn fixed point (one ``T x T`` linear solve, ``O(T^2)`` memory). Equal to unrolled
     autograd at convergence, which is what the published code computes (it back-propagates
     through all iterations).
   * ``"unrolled"``: autograd through the iterations (memory grows with the iteration count).
   * ``"envelope"``: ``P`` treated as a constant (``dL/dM = P``). *Not* the published gradient:
     for ``p=1, lam <= 1.3`` it points the other way at initialisation.

Larger ``lam`` = stronger entropic regularisation (``K = exp(-M/lam)``), as in the published code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from rlsv.core.hyperparameters import SINKHORN_GRADIENTS as GRADIENTS
from rlsv.errors import ConfigError

__all__ = [
    "GRADIENTS",
    "SinkhornResult",
    "time_normalise",
    "cost_matrix",
    "sinkhorn_plan",
    "sinkhorn_loss",
    "sinkhorn_loss_and_convergence",
    "implicit_gradient",
]

# Above this max(M)/lam the float64 kernel and scalings risk under/overflow: use log-domain updates.
_LOG_DOMAIN_THRESHOLD = 100.0


@dataclass
class SinkhornResult:
    """Outcome of ``sinkhorn_plan``.

    Attributes:
        plan: transport plan ``P``, ``(T, T)``, float64.
        iterations: Sinkhorn iterations run.
        error: final column-marginal error ``||P^T 1 - b||_1``.
        converged: ``error < tol``.
        log_domain: whether the log-domain updates were used.
    """

    plan: Tensor
    iterations: int
    error: float
    converged: bool
    log_domain: bool


def time_normalise(a: Tensor) -> Tensor:
    """Each channel's profile over time as a distribution: ``(A + 1/C) / sum_t (A + 1/C)``, ``(B, C, T)``."""
    if a.dim() != 3:
        raise ValueError(f"time_normalise expects (batch, C, T), got shape {tuple(a.shape)}.")
    shifted = a + 1.0 / a.shape[1]
    return shifted / shifted.sum(dim=-1, keepdim=True)


def cost_matrix(a_normalised: Tensor, p: int = 1) -> Tensor:
    """Batch-averaged L_p distances between frames: ``(B, C, T) -> (T, T)``, symmetric, zero diagonal.

    ``M[i, j] = mean_b || An[b, :, i] - An[b, :, j] ||_p``. ``p=2`` is the plain Euclidean distance
    (not squared). Computed exactly (no Gram-matrix shortcut) by ``torch.pdist`` on the pairs
    ``i < j`` (``_pairwise_frame_distances``); the gradient is zero where two frames coincide.
    """
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}.")
    if a_normalised.dim() != 3:
        raise ValueError(f"cost_matrix expects (batch, C, T), got shape {tuple(a_normalised.shape)}.")
    batch, _, frames = a_normalised.shape
    upper = _pairwise_frame_distances(a_normalised, p) / batch  # (T (T-1) / 2,), pairs i < j
    return _symmetric_from_upper(upper, frames)


def _pairwise_frame_distances(a_normalised: Tensor, p: int) -> Tensor:
    """``sum_b || An[b, :, i] - An[b, :, j] ||_p`` for the pairs ``i < j`` (row-major), ``(T (T-1) / 2,)``.

    For ``p=1`` the sum over the batch of L1 norms is one L1 norm over the batch and channels
    stacked, so a single ``pdist`` of the ``T`` frames in ``R^(B C)`` does it; ``p=2`` takes one
    ``pdist`` per example. ``pdist`` is vectorised and visits each pair once, unlike ``cdist``'s
    scalar ``p=1`` kernel (about 15x slower forward and backward at paper size on CPU).
    """
    batch, channels, frames = a_normalised.shape
    if p == 1:
        stacked = a_normalised.permute(2, 0, 1).reshape(frames, batch * channels)  # (T, B*C)
        return torch.pdist(stacked, p=1.0)
    per_example = a_normalised.transpose(1, 2).contiguous()  # (B, T, C)
    return torch.stack([torch.pdist(per_example[b], p=2.0) for b in range(batch)]).sum(0)


def _symmetric_from_upper(upper: Tensor, size: int) -> Tensor:
    """The symmetric ``(size, size)`` matrix with zero diagonal whose strict upper triangle is ``upper``."""
    rows, cols = torch.triu_indices(size, size, offset=1, device=upper.device)
    flat = upper.new_zeros(size * size)
    flat = flat.index_put((rows * size + cols,), upper).index_put((cols * size + rows,), upper)
    return flat.view(size, size)


def _check_solver_args(m: Tensor, lam: float, max_iter: int, tol: float, check_every: int | None) -> None:
    if m.dim() != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"The cost matrix must be square (T, T), got shape {tuple(m.shape)}.")
    if not (isinstance(lam, (int, float)) and math.isfinite(lam) and lam > 0):
        raise ConfigError(f"lam (entropic regularisation) must be a positive number, got {lam!r}.")
    if max_iter < 1 or (check_every is not None and check_every < 1):
        raise ConfigError(f"max_iter and check_every must be >= 1, got {max_iter} and {check_every}.")
    if tol < 0:
        raise ConfigError(f"tol must be >= 0, got {tol}.")


def _plain_iterations(m: Tensor, lam: float, max_iter: int, tol: float, check_every: int
                      ) -> tuple[Tensor, int, float]:
    """Scaling-form iterations (differentiable when ``m`` requires grad). Returns ``(P, iterations, error)``.

    The column-marginal error of the current plan, ``||v * (K^T u) - b||_1``, reuses ``K^T u``, which
    the next ``v`` update needs anyway: a check costs two vector operations (and, on a GPU, a host
    sync, hence ``check_every``).
    """
    t = m.shape[0]
    marginal = torch.full((t,), 1.0 / t, dtype=m.dtype, device=m.device)
    kernel = torch.exp(m / -lam)
    u = marginal.clone()
    v = marginal.clone()
    kt_u = kernel.T @ u
    error = math.inf
    iterations = 0
    while True:
        if iterations % check_every == 0 or iterations == max_iter:
            error = float(torch.dist((v * kt_u).detach(), marginal, p=1))  # ||P^T 1 - b||_1
            if error < tol or iterations == max_iter:
                break
        v = marginal / kt_u
        u = marginal / (kernel @ v)
        kt_u = kernel.T @ u
        iterations += 1
    plan = u.unsqueeze(1) * kernel * v.unsqueeze(0)
    return plan, iterations, error


def _log_iterations(m: Tensor, lam: float, max_iter: int, tol: float, check_every: int
                    ) -> tuple[Tensor, int, float]:
    """Log-domain (dual potential) iterations; stable for any ``max(M)/lam``. Returns ``(P, iterations, error)``.

    As in ``_plain_iterations``, the check reuses the column log-sums the next ``g`` update needs.
    """
    t = m.shape[0]
    log_marginal = torch.full((t,), -math.log(t), dtype=m.dtype, device=m.device)
    scaled = -m / lam
    f = torch.zeros(t, dtype=m.dtype, device=m.device)  # f / lam
    g = torch.zeros(t, dtype=m.dtype, device=m.device)  # g / lam
    column_lse = torch.logsumexp(scaled + f.unsqueeze(1), dim=0)
    error = math.inf
    iterations = 0
    while True:
        if iterations % check_every == 0 or iterations == max_iter:
            error = float((torch.exp(column_lse + g) - 1.0 / t).abs().sum().detach())
            if error < tol or iterations == max_iter:
                break
        g = log_marginal - column_lse
        f = log_marginal - torch.logsumexp(scaled + g.unsqueeze(0), dim=1)
        column_lse = torch.logsumexp(scaled + f.unsqueeze(1), dim=0)
        iterations += 1
    plan = torch.exp(scaled + f.unsqueeze(1) + g.unsqueeze(0))
    return plan, iterations, error


def _check_interval(check_every: int | None, device: torch.device) -> int:
    """``check_every`` or, when None, 1 on the CPU (a check is nearly free) and 10 elsewhere (host sync)."""
    if check_every is not None:
        return check_every
    return 1 if device.type == "cpu" else 10


def sinkhorn_plan(m: Tensor, lam: float, max_iter: int = 1000, tol: float = 1e-5, check_every: int | None = None,
                  log_domain: bool | None = None) -> SinkhornResult:
    """Entropic transport plan between uniform marginals for the cost ``m``, ``(T, T) -> (T, T)``.

    Runs in float64 and without autograd. ``log_domain=None`` picks the log-domain updates when
    ``max(M)/lam`` exceeds 100 (the kernel ``exp(-M/lam)`` would underflow); ``True``/``False`` forces.
    """
    _check_solver_args(m, lam, max_iter, tol, check_every)
    with torch.no_grad():
        return _solve(m.detach().to(torch.float64), lam, max_iter, tol, check_every, log_domain)


def _solve(m64: Tensor, lam: float, max_iter: int, tol: float, check_every: int | None, log_domain: bool | None
           ) -> SinkhornResult:
    """``sinkhorn_plan``'s work on a float64 cost (no argument checks).

    Differentiable through the iterations when ``m64`` requires grad (the ``"unrolled"`` gradient).
    Host syncs: one for the finiteness and log-domain checks, one per convergence check, one for
    the plan's finiteness.
    """
    lowest, highest = (float(x) for x in torch.aminmax(m64.detach()))
    if not (math.isfinite(lowest) and math.isfinite(highest)):
        raise ValueError("The cost matrix has NaN or inf entries; check the representation for NaNs.")
    if log_domain is None:
        log_domain = highest / lam > _LOG_DOMAIN_THRESHOLD
    solve = _log_iterations if log_domain else _plain_iterations
    check_every = _check_interval(check_every, m64.device)
    plan, iterations, error = solve(m64, lam, max_iter, tol, check_every)
    if not log_domain and not math.isfinite(float(plan.detach().sum())):  # P >= 0: finite sum, finite entries
        plan, iterations, error = _log_iterations(m64, lam, max_iter, tol, check_every)
        log_domain = True
    return SinkhornResult(plan, iterations, error, error < tol, bool(log_domain))


def implicit_gradient(plan: Tensor, m: Tensor, lam: float) -> Tensor:
    """Exact ``d<P*(M), M> / dM`` at the Sinkhorn fixed point, ``(T, T)``.

    With ``P = exp((f_i + g_j - M_ij)/lam)`` and the marginal constraints, differentiating the
    constraints gives a linear system for the potentials' sensitivities. Its adjoint solution
    ``(alpha, beta)`` of ``[[diag(r), P], [P^T, diag(c)]] (alpha; beta) = ((P*M) 1; (P*M)^T 1)``
    (``r, c`` the plan's marginals) yields

        dL/dM = P * (1 + (alpha_i + beta_j - M_ij) / lam).

    ``beta`` is eliminated (Schur complement); the remaining system is singular along ``1`` only,
    which the rank-one term ``1 1^T`` removes (the right-hand side is orthogonal to ``1``); the
    result is symmetric positive definite and solved by Cholesky. When the plan is numerically a
    permutation (tiny ``lam``), the system is singular in more directions and the minimum-norm
    (pseudo-inverse) solution is used.
    """
    p64, m64 = plan.to(torch.float64), m.to(torch.float64)
    t = p64.shape[0]
    rows, cols = p64.sum(1), p64.sum(0)
    weighted = p64 * m64
    rhs_rows, rhs_cols = weighted.sum(1), weighted.sum(0)
    p_over_c = p64 / cols  # P diag(1/c)
    # Schur complement diag(r) - P diag(1/c) P^T, plus 1 1^T: symmetric positive definite
    ones_plus_diag = torch.ones(t, t, dtype=p64.dtype, device=p64.device)
    ones_plus_diag.diagonal().add_(rows)
    schur_plus_ones = torch.addmm(ones_plus_diag, p_over_c, p64.T, alpha=-1.0)
    rhs = torch.addmv(rhs_rows, p_over_c, rhs_cols, alpha=-1.0)
    rhs = rhs - rhs.mean()  # exact orthogonality to 1 despite the solver's residual marginal error
    factor, info = torch.linalg.cholesky_ex(schur_plus_ones)
    alpha = torch.cholesky_solve(rhs.unsqueeze(1), factor).squeeze(1)
    if int(info) != 0 or not math.isfinite(float(alpha.sum())):
        # plan (numerically) a permutation: its blocks decouple; take the minimum-norm solution
        alpha = torch.linalg.pinv(schur_plus_ones - 1.0, hermitian=True) @ rhs
    beta = torch.addmv(rhs_cols, p64.T, alpha, alpha=-1.0) / cols
    # P * (1 + (alpha_i + beta_j - M_ij) / lam), in three passes over (T, T)
    grad = (1.0 + alpha / lam).unsqueeze(1) + (beta / lam).unsqueeze(0)
    return grad.sub_(m64, alpha=1.0 / lam).mul_(p64)


class _ImplicitSinkhornLoss(torch.autograd.Function):
    """``<P*(M), M>`` with the implicit-differentiation backward."""

    @staticmethod
    def forward(ctx, m: Tensor, lam: float, max_iter: int, tol: float, check_every: int | None,
                log_domain: bool | None) -> Tensor:  # type: ignore[override]
        m64 = m.detach().to(torch.float64)
        result = _solve(m64, lam, max_iter, tol, check_every, log_domain)
        loss = (result.plan * m64).sum()
        ctx.save_for_backward(result.plan, m64)
        ctx.lam, ctx.dtype = lam, m.dtype
        convergence = torch.tensor([float(result.iterations), result.error], dtype=torch.float64, device=m.device)
        ctx.mark_non_differentiable(convergence)
        return loss.to(m.dtype), convergence

    @staticmethod
    def backward(ctx, grad_output: Tensor, _: Tensor):  # type: ignore[override]
        plan, m64 = ctx.saved_tensors
        grad = implicit_gradient(plan, m64, ctx.lam).to(ctx.dtype) * grad_output
        return grad, None, None, None, None, None


def sinkhorn_loss(m: Tensor, lam: float = 1.0, max_iter: int = 1000, tol: float = 1e-5, check_every: int | None = None,
                  grad: str = "implicit", log_domain: bool | None = None) -> Tensor:
    """Sinkhorn distance ``<P*(M), M>`` (no entropy term) for a cost ``(T, T)``; a scalar in ``m``'s dtype.

    Args:
        m: cost matrix ``(T, T)``.
        lam: entropic regularisation (``K = exp(-M/lam)``; larger = smoother plan).
        max_iter, tol, check_every: stopping rule (see ``sinkhorn_plan``).
        grad: ``"implicit"`` (exact, default), ``"unrolled"`` (autograd through the iterations) or
            ``"envelope"`` (plan held constant).
        log_domain: force (True/False) or auto-select (None) the log-domain updates.
    """
    return sinkhorn_loss_and_convergence(m, lam, max_iter, tol, check_every, grad, log_domain)[0]


def sinkhorn_loss_and_convergence(m: Tensor, lam: float = 1.0, max_iter: int = 1000, tol: float = 1e-5,
                                  check_every: int | None = None, grad: str = "implicit",
                                  log_domain: bool | None = None) -> tuple[Tensor, Tensor]:
    """:func:`sinkhorn_loss` and how its solve ended: ``(loss, convergence)``, ``convergence`` a ``(2,)`` float64
    tensor (not differentiable) of the iterations run and the final column-marginal error (what a training run
    records per step)."""
    if grad not in GRADIENTS:
        raise ConfigError(f"grad must be one of {GRADIENTS}, got {grad!r}.")
    _check_solver_args(m, lam, max_iter, tol, check_every)
    if grad == "implicit":
        return _ImplicitSinkhornLoss.apply(m, lam, max_iter, tol, check_every, log_domain)
    if grad == "envelope":
        result = sinkhorn_plan(m, lam, max_iter, tol, check_every, log_domain)
        return (result.plan.to(m.dtype) * m).sum(), _convergence(result, m.device)
    # unrolled: differentiate through the iterations themselves
    m64 = m.to(torch.float64)
    result = _solve(m64, lam, max_iter, tol, check_every, log_domain)
    return (result.plan * m64).sum().to(m.dtype), _convergence(result, m.device)


def _convergence(result: SinkhornResult, device: torch.device) -> Tensor:
    return torch.tensor([float(result.iterations), result.error], dtype=torch.float64, device=device)
