"""The autoencoder's three convolutions, each computable two ways, with their shapes.

The three convolutions of the model, on a logical ``(B, C, T)`` representation:

* :func:`analysis`: strided one-input-channel convolution (encoder Eq. 1), ``(B, P), (C, 1, L) -> (B, C, T)``;
* :func:`context`: "same"-padded dilated convolution (encoder Eq. 2), ``(B, C_in, T), (C_out, C_in, L')
  -> (B, C_out, T)``;
* :func:`synthesis`: transposed strided convolution to one channel (decoder Eq. 8),
  ``(B, C, T), (C, 1, L) -> (B, (T-1) S + L)``.

Each takes a ``method``: ``"direct"`` calls torch's convolution kernels (oneDNN on the CPU, cuDNN on
a GPU) on channel-major tensors; ``"gemm"`` computes it as one large matrix product on a time-major
layout (``analysis_conv``, ``dilated_conv`` with its backward as two more products,
``synthesis_conv`` through ``overlap_add``). Which is faster depends on the shapes, the device and
the thread count: a :class:`ConvPlan` holds one method per convolution; a run chooses its plan
(``rlsv.run.conv_plan``: a fixed choice per device by default, so that no timing changes a result). Both
methods equal
``F.conv1d`` / ``F.conv_transpose1d`` up to float round-off (``tests/core/test_conv_gemm.py``).
How the kernels are *parameterised* (``rlsv.core.model``) is kept apart from how they are *applied* (here).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from rlsv.core.conv_methods import METHODS, ConvPlan

__all__ = ["METHODS", "ConvPlan", "analysis", "context", "synthesis", "analysis_conv", "dilated_frames",
           "dilated_conv", "overlap_add", "synthesis_conv", "time_major_gradient", "is_time_major"]


def is_time_major(a: Tensor) -> bool:
    """Whether a ``(B, C, T)`` tensor is laid out as ``(B, T, C)`` in memory (what the GEMM forms produce)."""
    return a.dim() == 3 and a.shape[1] > 1 and a.transpose(1, 2).is_contiguous()


def analysis(x_padded: Tensor, kernels: Tensor, stride: int, method: str = "gemm") -> Tensor:
    """Encoder Eq. 1: ``(B, P), (C, 1, L) -> (B, C, T)``, ``T = (P - L) // S + 1``; time-major in memory for
    ``"gemm"`` (:func:`analysis_conv`), channel-major for ``"direct"`` (``F.conv1d``)."""
    if method == "direct":
        return F.conv1d(x_padded.unsqueeze(1), kernels, stride=stride)
    return analysis_conv(x_padded, kernels, stride).transpose(1, 2)


def context(h: Tensor, kernels: Tensor, dilation: int, method: str = "gemm") -> Tensor:
    """Encoder Eq. 2, "same" zero padding ``dilation (L' - 1) / 2`` on both sides:
    ``(B, C_in, T), (C_out, C_in, L') -> (B, C_out, T)``, any layout in; time-major out for ``"gemm"``
    (:func:`dilated_conv`), channel-major for ``"direct"`` (``F.conv1d``)."""
    if method == "direct":
        taps = kernels.shape[-1]
        return F.conv1d(h.contiguous(), kernels, padding=dilation * (taps - 1) // 2, dilation=dilation)
    return dilated_conv(h.transpose(1, 2), kernels, dilation).transpose(1, 2)


def synthesis(a: Tensor, kernels: Tensor, stride: int, method: str = "gemm") -> Tensor:
    """Decoder Eq. 8: ``(B, C, T), (C, 1, L) -> (B, (T-1) S + L)``, any layout in (:func:`synthesis_conv` for
    ``"gemm"``, ``F.conv_transpose1d`` for ``"direct"``)."""
    if method == "direct":
        return F.conv_transpose1d(a.contiguous(), kernels, stride=stride)[:, 0]
    return synthesis_conv(a, kernels, stride)


def analysis_conv(x_padded: Tensor, kernels: Tensor, stride: int) -> Tensor:
    """Strided one-input-channel convolution as one matrix product: ``(B, P), (C, 1, L) -> (B, T, C)``.

    ``out[b, t, c] = sum_l x_padded[b, t*S + l] kernels[c, 0, l]`` with ``T = (P - L) // S + 1``;
    equal to ``F.conv1d(x_padded[:, None], kernels, stride=S).transpose(1, 2)``. The frames are an
    overlapping view of the signal (copied once into the ``(B*T, L)`` GEMM operand); autograd
    computes the kernels' gradient and, only if the signal requires one, the signal's.
    """
    c, _, l = kernels.shape
    frames = x_padded.unfold(-1, l, stride)  # (B, T, L) view: frame t = x_padded[t*S : t*S + L]
    return frames @ kernels.reshape(c, l).t()


def _tap_ranges(frames: int, taps: int, dilation: int) -> list[tuple[int, int, int, int]]:
    """Per tap ``j`` of a "same"-padded dilated kernel: ``(j, shift, lo, hi)``, output frames ``[lo, hi)``
    reading input frames ``[lo + shift, hi + shift)``, ``shift = (j - (L'-1)/2) * dilation``."""
    half = (taps - 1) // 2
    ranges = []
    for j in range(taps):
        shift = (j - half) * dilation
        ranges.append((j, shift, min(frames, max(0, -shift)), max(0, min(frames, frames - shift))))
    return ranges


def dilated_frames(h: Tensor, taps: int, dilation: int) -> Tensor:
    """im2col of a "same"-padded dilated convolution on time-major input: ``(B, T, C) -> (B, T, L' * C)``.

    Column block ``j`` is the input shifted by ``(j - (L'-1)/2) * dilation`` frames, zeros where that
    falls outside ``[0, T)``: ``out[b, t, j*C + c] = h[b, t + shift_j, c]``. Plain data movement
    (``dilated_conv`` defines the gradient).
    """
    b, t, c = h.shape
    cols = h.new_empty(b, t, taps, c)
    for j, shift, lo, hi in _tap_ranges(t, taps, dilation):
        cols[:, :lo, j].zero_()
        cols[:, hi:, j].zero_()
        if lo < hi:
            cols[:, lo:hi, j] = h[:, lo + shift:hi + shift]
    return cols.view(b, t, taps * c)


class _DilatedConv(torch.autograd.Function):
    """``dilated_conv`` with its backward written as two more tall matrix products.

    * kernels: ``dK = grad^T @ cols`` with the forward's im2col matrix;
    * input: the adjoint of a "same" dilated convolution is the same convolution of the output
      gradient with the kernels reversed in time and transposed (``C_out`` and ``C_in`` swapped),
      so ``dH = dilated_frames(grad) @ reversed`` is a ``(B*T, L'*C_out) x (L'*C_out, C_in)`` product.

    Autograd's own backward of ``cols @ W^T`` would form the ``(B*T, L'*C_in)`` gradient of the
    im2col matrix (a wide product, slower per FLOP here) and then fold it back.
    """

    @staticmethod
    def forward(ctx, h: Tensor, kernels: Tensor, dilation: int) -> Tensor:  # type: ignore[override]
        c_out, c_in, taps = kernels.shape
        cols = dilated_frames(h, taps, dilation)  # (B, T, L' * C_in), tap-major columns
        weights = kernels.permute(0, 2, 1).reshape(c_out, taps * c_in)  # (C_out, L' * C_in), same order
        ctx.save_for_backward(cols, kernels)
        ctx.dilation, ctx.h_dtype = dilation, h.dtype
        return cols @ weights.t()

    @staticmethod
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        cols, kernels = ctx.saved_tensors
        c_out, c_in, taps = kernels.shape
        dtype = cols.dtype  # under autocast the forward product may have run in lower precision
        grad = grad.to(dtype)
        grad_h = grad_k = None
        if ctx.needs_input_grad[0]:
            # reversed[(j, o), i] = K[o, i, L'-1-j]
            reversed_kernels = kernels.to(dtype).permute(2, 0, 1).flip(0).reshape(taps * c_out, c_in)
            grad_h = (dilated_frames(grad, taps, ctx.dilation) @ reversed_kernels).to(ctx.h_dtype)
        if ctx.needs_input_grad[1]:
            per_tap = grad.reshape(-1, c_out).t() @ cols.reshape(-1, taps * c_in)  # (C_out, L' * C_in)
            grad_k = per_tap.view(c_out, taps, c_in).permute(0, 2, 1).to(kernels.dtype)
        return grad_h, grad_k, None


def dilated_conv(h: Tensor, kernels: Tensor, dilation: int) -> Tensor:
    """"Same"-padded dilated convolution on time-major input as one matrix product.

    ``(B, T, C_in), (C_out, C_in, L') -> (B, T, C_out)``, ``L'`` odd, zero padding
    ``dilation * (L' - 1) / 2`` on both sides; equal to ``F.conv1d(h.transpose(1, 2), kernels,
    padding=dilation * (L'-1) // 2, dilation=dilation).transpose(1, 2)``. One ``(B*T, L'*C_in) x
    (L'*C_in, C_out)`` GEMM on the im2col matrix (``dilated_frames``); the backward is two more
    (``_DilatedConv``).
    """
    return _DilatedConv.apply(h, kernels, dilation)


def overlap_add(frames: Tensor, stride: int) -> Tensor:
    """Overlap-add of frames every ``stride`` samples: ``(B, T, L) -> (B, (T-1)*S + L)``.

    ``out[b, t*S + l] += frames[b, t, l]``: the adjoint of framing (``Tensor.unfold``), computed by
    ATen's ``unfold_backward`` kernel (differentiable; its gradient is the framing of the gradient).
    """
    b, t, l = frames.shape
    return torch.ops.aten.unfold_backward(frames, [b, (t - 1) * stride + l], 1, l, stride)


def synthesis_conv(a: Tensor, kernels: Tensor, stride: int) -> Tensor:
    """Transposed strided convolution to one output channel: ``(B, C, T), (C, 1, L) -> (B, (T-1)*S + L)``.

    ``out[b, t*S + l] += sum_c a[b, c, t] kernels[c, 0, l]``; equal to
    ``F.conv_transpose1d(a, kernels, stride=S)[:, 0]``. One ``(B*T, C) x (C, L)`` GEMM gives each
    frame's waveform, then ``overlap_add``. Fastest when ``a.transpose(1, 2)`` is contiguous (the
    encoder's time-major output); any layout works.
    """
    c, _, l = kernels.shape
    frames = a.transpose(1, 2) @ kernels.reshape(c, l)  # (B, T, L)
    return overlap_add(frames, stride)


class _TimeMajorGradient(torch.autograd.Function):
    """Identity on a time-major ``(B, C, T)`` tensor whose backward returns the gradient time-major too.

    Autograd hands the encoder's output its gradient in whatever layout the consumers produced
    (``split``'s backward, a ``cat``, gives the default channel-major one). The ReLU backward on
    mismatched layouts is ~15x slower than on matching ones (6.8 ms against 0.44 ms at paper size on
    CPU); one transposing copy (2.2 ms) avoids that and hands the context convolution's backward a
    contiguous time-major gradient.
    """

    @staticmethod
    def forward(ctx, a: Tensor) -> Tensor:  # type: ignore[override]
        return a.view_as(a)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # type: ignore[override]
        return grad.transpose(1, 2).contiguous().transpose(1, 2)


def time_major_gradient(a: Tensor) -> Tensor:
    """Identity on a time-major ``(B, C, T)`` tensor; its backward returns a time-major gradient (see
    ``_TimeMajorGradient``)."""
    return _TimeMajorGradient.apply(a)
