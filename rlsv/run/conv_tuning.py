"""Timing the two methods of each convolution on the actual shapes: what ``--conv-plan auto`` does once per
machine (``rlsv.run.conv_plan``).

:func:`tune_conv_plan` times, for each of the model's three convolutions, the methods of
``rlsv.core.conv_methods.METHODS`` with their forward and backward passes at the training step's shapes and
returns the fastest :class:`~rlsv.core.conv_methods.ConvPlan`. Its answer depends on the machine's load at
the moment it runs, which is why a run never calls it unless asked, and then only once per machine.
"""

from __future__ import annotations

import statistics
import time
from typing import Callable

import torch
import torch.nn.functional as F

from rlsv.core.conv import METHODS, ConvPlan, analysis, context, is_time_major, synthesis, time_major_gradient
from rlsv.core.model_config import ModelConfig

__all__ = ["Timer", "tune_conv_plan"]


def _median_seconds(fn: Callable[[], None], device: torch.device, repeats: int) -> float:
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


Timer = Callable[[str, str, Callable[[], None]], float]
"""``timer(convolution, method, call) -> seconds``: how :func:`tune_conv_plan` times a candidate."""


def tune_conv_plan(config: ModelConfig, batch: int, device: torch.device | str = "cpu",
                   dtype: torch.dtype = torch.float32, repeats: int = 3, timer: Timer | None = None) -> ConvPlan:
    """The fastest :class:`ConvPlan` for training steps of ``batch`` segments (the encoder sees ``2 batch``),
    by timing each method of each convolution, forward and backward, at the step's shapes.

    The convolutions are tuned in the order the data flows (analysis, context, synthesis), each on the memory
    layout the previous choice produces, so that a layout change is paid by the method that causes it.
    ``timer`` replaces the wall-clock timing (tests force its answers); by default the median of ``repeats``
    calls after one warm-up call.
    """
    device = torch.device(device)

    def seconds(convolution: str, method: str, call: Callable[[], None]) -> float:
        return _median_seconds(call, device, repeats)

    timer = timer or seconds
    c, l, lp, s = config.channels, config.kernel_size, config.context_kernel, config.stride
    left, right = config.padding
    generator = torch.Generator().manual_seed(0)  # its own: tuning leaves the global random state alone

    def randn(*shape: int, scale: float = 1.0) -> torch.Tensor:
        return (torch.randn(*shape, generator=generator) * scale).to(device=device, dtype=dtype)

    def fastest(convolution: str, run: Callable[[str], None]) -> str:
        times = {method: timer(convolution, method, lambda m=method: run(m)) for method in METHODS}
        return min(METHODS, key=times.__getitem__)  # ties: the first of METHODS

    with torch.enable_grad():
        x = randn(2 * batch, config.segment_length + left + right)
        k_analysis = randn(c, 1, l, scale=l ** -0.5).requires_grad_()
        k_context = randn(c, c, lp, scale=(c * lp) ** -0.5).requires_grad_()
        k_synthesis = randn(c, 1, l, scale=c ** -0.5).requires_grad_()
        chosen_analysis = fastest("analysis", lambda m: analysis(x, k_analysis, s, m).sum().backward())
        h = analysis(x, k_analysis, s, chosen_analysis).detach().requires_grad_()

        def run_context(method: str) -> None:
            a = F.relu(context(h, k_context, config.dilation, method) + h)
            (time_major_gradient(a) if is_time_major(a) else a).sum().backward()

        chosen_context = fastest("context", run_context)
        a = F.relu(context(h, k_context, config.dilation, chosen_context) + h).detach()[:batch].requires_grad_()
        chosen_synthesis = fastest("synthesis", lambda m: synthesis(a, k_synthesis, s, m).sum().backward())
    return ConvPlan(chosen_analysis, chosen_context, chosen_synthesis)
