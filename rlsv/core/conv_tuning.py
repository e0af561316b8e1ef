"""Choosing the fastest way to compute each convolution, by timing the candidates on the actual shapes.

``tune_conv_plan(config, batch, device)`` times, for each of the model's three convolutions, the
methods of ``rlsv.core.conv.METHODS`` (matrix products, or torch's own convolution kernels: oneDNN on
the CPU, cuDNN on a GPU) with their forward and backward passes at the training step's shapes, and
returns the fastest :class:`~rlsv.core.conv.ConvPlan`. The convolutions are tuned in the order the
data flows (analysis, context, synthesis), each on the memory layout the previous choice produces, so
that a layout change is paid by the method that causes it.

Choices are cached per shapes, dtype, device and thread count for the life of the process
(:func:`cached_plans`); a run records its plan in its checkpoint so that a resumed run computes
exactly as before (``rlsv.run.train``). The plans differ in float round-off only: the reference
fixture of the published code passes with every plan (``tests/core/test_reference_fixture.py``).
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from rlsv.core.conv import METHODS, ConvPlan, analysis, context, is_time_major, synthesis, time_major_gradient
from rlsv.core.model import ModelConfig

__all__ = ["tune_conv_plan", "resolve_conv_plan", "cached_plans", "plan_key"]

_CACHE: dict[tuple, ConvPlan] = {}


def plan_key(config: ModelConfig, batch: int, device: torch.device | str, dtype: torch.dtype) -> tuple:
    """What a tuned plan depends on: the convolutions' shapes, the batch, dtype, device and CPU threads."""
    device = torch.device(device)
    return (config.channels, config.kernel_size, config.stride, config.segment_length, config.context_kernel,
            config.dilation, batch, str(dtype), device.type, device.index, torch.get_num_threads())


def resolve_conv_plan(config: ModelConfig, plan: ConvPlan | str, batch: int, device: torch.device | str,
                      dtype: torch.dtype = torch.float32) -> ConvPlan:
    """``plan`` itself, or for ``"auto"`` the tuned one (:func:`tune_conv_plan`), for ``"gemm"`` / ``"direct"``
    that method for every convolution."""
    if isinstance(plan, ConvPlan):
        return plan
    if plan == "auto":
        return tune_conv_plan(config, batch, device, dtype)
    if plan in METHODS:
        return ConvPlan(plan, plan, plan)
    raise ValueError(f"conv plan must be a ConvPlan, 'auto' or one of {METHODS}, got {plan!r}.")


def cached_plans() -> dict[tuple, ConvPlan]:
    """The plans tuned so far in this process, by :func:`plan_key` (a copy)."""
    return dict(_CACHE)


def _seconds(fn: Callable[[], None], device: torch.device, repeats: int) -> float:
    """Median wall time of ``fn`` after one warm-up call, waiting for the device."""
    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _fastest(candidates: dict[str, Callable[[], None]], device: torch.device, repeats: int) -> str:
    seconds = {method: _seconds(fn, device, repeats) for method, fn in candidates.items()}
    return min(seconds, key=seconds.__getitem__)


def tune_conv_plan(config: ModelConfig, batch: int, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32, repeats: int = 3, cache: bool = True) -> ConvPlan:
    """The fastest :class:`ConvPlan` for training steps of ``batch`` segments (the encoder sees ``2 batch``).

    Args:
        config: the model's sizes.
        batch: segments per training batch (``B``).
        device, dtype: where and in which precision the model runs.
        repeats: timed calls per candidate (median), after one warm-up call.
        cache: reuse (and store) the choice for the same :func:`plan_key`.

    Each candidate runs its convolution's forward and backward pass on random data of the step's
    shapes: the analysis convolution on ``(2B, P)`` signals (kernel gradient only, as in training), the
    context convolution with the residual and ReLU on the analysis output, the synthesis on a ``(B, C,
    T)`` representation in the layout the encoder then produces.
    """
    device = torch.device(device)
    key = plan_key(config, batch, device, dtype)
    if cache and key in _CACHE:
        return _CACHE[key]
    c, l, lp, s = config.channels, config.kernel_size, config.context_kernel, config.stride
    left, right = config.padding
    generator = torch.Generator().manual_seed(0)  # its own: tuning leaves the global random state alone

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=generator) * scale).to(device=device, dtype=dtype)

    with torch.enable_grad():
        x = randn(2 * batch, config.segment_length + left + right)
        k_analysis = randn(c, 1, l, scale=l ** -0.5).requires_grad_()
        k_context = randn(c, c, lp, scale=(c * lp) ** -0.5).requires_grad_()
        k_synthesis = randn(c, 1, l, scale=c ** -0.5).requires_grad_()

        def run_analysis(method: str) -> None:
            analysis(x, k_analysis, s, method).sum().backward()

        chosen_analysis = _fastest({m: lambda m=m: run_analysis(m) for m in METHODS}, device, repeats)
        h = analysis(x, k_analysis, s, chosen_analysis).detach().requires_grad_()

        def run_context(method: str) -> None:
            a = F.relu(context(h, k_context, config.dilation, method) + h)
            (time_major_gradient(a) if is_time_major(a) else a).sum().backward()

        chosen_context = _fastest({m: lambda m=m: run_context(m) for m in METHODS}, device, repeats)
        a = F.relu(context(h, k_context, config.dilation, chosen_context) + h).detach()[:batch].requires_grad_()

        def run_synthesis(method: str) -> None:
            synthesis(a, k_synthesis, s, method).sum().backward()

        chosen_synthesis = _fastest({m: lambda m=m: run_synthesis(m) for m in METHODS}, device, repeats)
    plan = ConvPlan(chosen_analysis, chosen_context, chosen_synthesis)
    if cache:
        _CACHE[key] = plan
    return plan
