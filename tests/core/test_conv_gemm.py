"""The model's convolutions as matrix products, against ``F.conv1d`` / ``F.conv_transpose1d``.

Values and gradients (float64) over a grid of sizes: odd and even kernels, stride equal to and
smaller than the kernel, kernels longer than the signal's frame count, dilations whose reach
exceeds the number of frames, and both memory layouts of the representation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rlsv.core.conv import (
    METHODS,
    ConvPlan,
    analysis,
    analysis_conv,
    context,
    dilated_conv,
    dilated_frames,
    is_time_major,
    overlap_add,
    synthesis,
    synthesis_conv,
)
from rlsv.core.model import DenoisingAutoencoder, ModelConfig

# (B, C, L, S, T): frames T of a signal of (T-1) S + L samples
ANALYSIS_SIZES = [(1, 1, 4, 4, 1), (2, 3, 8, 4, 5), (3, 5, 12, 5, 7), (2, 4, 7, 3, 9), (1, 6, 32, 8, 3)]
# (B, C_in, C_out, T, L', dilation)
CONTEXT_SIZES = [(2, 3, 3, 9, 5, 2), (1, 4, 2, 5, 5, 10), (3, 2, 5, 12, 3, 1), (2, 5, 5, 1, 5, 3),
                 (1, 3, 3, 30, 7, 4), (2, 1, 1, 6, 1, 1)]


def _rand(*shape: int, seed: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _grads(output: torch.Tensor, inputs: list[torch.Tensor], seed: int) -> list[torch.Tensor]:
    """Gradients of ``<output, R>`` for a fixed random ``R``."""
    weights = _rand(*output.shape, seed=seed)
    return list(torch.autograd.grad((output * weights).sum(), inputs))


@pytest.mark.parametrize("b,c,l,s,t", ANALYSIS_SIZES)
def test_analysis_conv_matches_conv1d(b: int, c: int, l: int, s: int, t: int) -> None:
    x = _rand(b, (t - 1) * s + l, seed=0).requires_grad_()
    k = _rand(c, 1, l, seed=1).requires_grad_()
    ours = analysis_conv(x, k, s)
    theirs = F.conv1d(x.unsqueeze(1), k, stride=s).transpose(1, 2)
    assert ours.shape == (b, t, c)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for g_ours, g_theirs in zip(_grads(ours, [x, k], 2), _grads(theirs, [x, k], 2)):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)


def test_analysis_conv_ignores_samples_past_the_last_whole_frame() -> None:
    x, k = _rand(2, 4 * 5 + 3, seed=3), _rand(3, 1, 8, seed=4)  # (23 - 8) // 5 + 1 = 4 frames, 0 samples spare
    x_long = torch.cat([x, _rand(2, 4, seed=5)], dim=1)  # 4 more samples: still 4 frames
    torch.testing.assert_close(analysis_conv(x_long, k, 5), F.conv1d(x_long.unsqueeze(1), k, stride=5).transpose(1, 2))


@pytest.mark.parametrize("b,c_in,c_out,t,taps,dilation", CONTEXT_SIZES)
def test_dilated_conv_matches_conv1d(b: int, c_in: int, c_out: int, t: int, taps: int, dilation: int) -> None:
    h = _rand(b, t, c_in, seed=6).requires_grad_()
    k = _rand(c_out, c_in, taps, seed=7).requires_grad_()
    ours = dilated_conv(h, k, dilation)
    theirs = F.conv1d(h.transpose(1, 2), k, padding=dilation * (taps - 1) // 2, dilation=dilation).transpose(1, 2)
    assert ours.shape == (b, t, c_out)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for g_ours, g_theirs in zip(_grads(ours, [h, k], 8), _grads(theirs, [h, k], 8)):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)


def test_dilated_conv_gradcheck() -> None:
    h = _rand(2, 7, 3, seed=9).requires_grad_()
    k = _rand(2, 3, 5, seed=10).requires_grad_()
    assert torch.autograd.gradcheck(lambda h, k: dilated_conv(h, k, 2), (h, k))


@pytest.mark.parametrize("b,c,l,s,t", ANALYSIS_SIZES)
@pytest.mark.parametrize("time_major", [False, True])
def test_synthesis_conv_matches_conv_transpose1d(b: int, c: int, l: int, s: int, t: int, time_major: bool) -> None:
    a = _rand(b, t, c, seed=11).transpose(1, 2) if time_major else _rand(b, c, t, seed=11)
    a.requires_grad_()
    w = _rand(c, 1, l, seed=12).requires_grad_()
    ours = synthesis_conv(a, w, s)
    theirs = F.conv_transpose1d(a, w, stride=s)[:, 0]
    assert ours.shape == (b, (t - 1) * s + l)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for g_ours, g_theirs in zip(_grads(ours, [a, w], 13), _grads(theirs, [a, w], 13)):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("t,l,s", [(1, 5, 2), (4, 6, 2), (5, 7, 3), (3, 4, 4)])
def test_overlap_add_is_the_adjoint_of_framing(t: int, l: int, s: int) -> None:
    frames = _rand(2, t, l, seed=14).requires_grad_()
    out = overlap_add(frames, s)
    expected = torch.zeros(2, (t - 1) * s + l, dtype=torch.float64)
    for ti in range(t):
        expected[:, ti * s:ti * s + l] += frames.detach()[:, ti]
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-14)
    signal = _rand(*out.shape, seed=15)
    (grad,) = torch.autograd.grad((out * signal).sum(), frames)
    torch.testing.assert_close(grad, signal.unfold(-1, l, s))  # <OLA(f), y> = <f, frames(y)>


PLANS = [ConvPlan.everywhere("gemm"), ConvPlan("direct", "direct", "direct"), ConvPlan("gemm", "direct", "direct"),
         ConvPlan("direct", "gemm", "gemm"), ConvPlan("gemm", "gemm", "direct")]


@pytest.mark.parametrize("plan", PLANS, ids=str)
@pytest.mark.parametrize("c,l,s,n", [(4, 16, 4, 40), (3, 12, 5, 37), (5, 8, 8, 29), (6, 32, 8, 63)])
def test_model_matches_conv_reference(c: int, l: int, s: int, n: int, plan: ConvPlan) -> None:
    """The whole autoencoder (float32), with every plan, against the same equations written with
    F.conv1d / conv_transpose1d."""
    torch.manual_seed(0)
    model = DenoisingAutoencoder(ModelConfig(channels=c, kernel_size=l, stride=s, segment_length=n, dilation=2),
                                 conv_plan=plan)
    x = torch.randn(3, n)
    cfg = model.config
    left, right = cfg.padding
    h = F.conv1d(F.pad(x.unsqueeze(1), (left, right)), model.encoder.analysis_kernels, stride=s)
    a_ref = F.relu(F.conv1d(h, model.encoder.context_kernels, padding=4, dilation=2) + h)
    y_ref = F.conv_transpose1d(a_ref, model.decoder.kernels(), stride=s)[:, 0, left:left + n]
    a = model.encode(x)
    assert a.shape == a_ref.shape and is_time_major(a) == (plan.context == "gemm")
    torch.testing.assert_close(a, a_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model.decode(a), y_ref, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(model.decode(a_ref.contiguous()), y_ref, rtol=1e-5, atol=1e-6)


def test_dilated_frames_layout() -> None:
    h = _rand(2, 6, 3, seed=16)
    cols = dilated_frames(h, taps=3, dilation=2).view(2, 6, 3, 3)  # (B, T, tap, C)
    zeros = torch.zeros(2, 2, 3, dtype=torch.float64)
    torch.testing.assert_close(cols[:, :, 1], h)  # centre tap: no shift
    torch.testing.assert_close(cols[:, 2:, 0], h[:, :-2])  # shift -2
    torch.testing.assert_close(cols[:, :2, 0], zeros)
    torch.testing.assert_close(cols[:, :-2, 2], h[:, 2:])  # shift +2
    torch.testing.assert_close(cols[:, -2:, 2], zeros)


@pytest.mark.parametrize("needs", [(True, False), (False, True)])
def test_dilated_conv_partial_gradients(needs: tuple[bool, bool]) -> None:
    h = _rand(2, 9, 3, seed=17).requires_grad_(needs[0])
    k = _rand(4, 3, 5, seed=18).requires_grad_(needs[1])
    leaf = h if needs[0] else k
    (ours,) = _grads(dilated_conv(h, k, 2), [leaf], 19)
    ref = F.conv1d(h.transpose(1, 2), k, padding=4, dilation=2).transpose(1, 2)
    (theirs,) = _grads(ref, [leaf], 19)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)


def test_autocast_forward_and_backward() -> None:
    """Under bfloat16 autocast the products run in bfloat16; gradients come back in the parameters' dtype."""
    torch.manual_seed(0)
    model = DenoisingAutoencoder(ModelConfig(channels=6, kernel_size=32, stride=8, segment_length=63, dilation=2))
    x = torch.randn(2, 63)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = model(x)
    y.float().pow(2).sum().backward()
    reference = DenoisingAutoencoder(model.config)
    reference.load_state_dict(model.state_dict())
    reference(x).pow(2).sum().backward()
    for (name, p), q in zip(model.named_parameters(), reference.parameters()):
        assert p.grad is not None and p.grad.dtype == torch.float32, name
        assert float((p.grad - q.grad).norm() / q.grad.norm()) < 0.1, name  # bfloat16 accuracy


@pytest.mark.parametrize("method", METHODS)
def test_each_method_of_each_convolution_matches_torch(method: str) -> None:
    """The dispatchers (float64, values and gradients) on a logical (B, C, T) layout, either memory layout in."""
    x = _rand(2, 4 * 5 + 12, seed=20).requires_grad_()
    k1 = _rand(3, 1, 12, seed=21).requires_grad_()
    ours, theirs = analysis(x, k1, 5, method), F.conv1d(x.unsqueeze(1), k1, stride=5)
    torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
    for g_ours, g_theirs in zip(_grads(ours, [x, k1], 22), _grads(theirs, [x, k1], 22)):
        torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)
    for time_major in (False, True):
        h = (_rand(2, 9, 3, seed=23).transpose(1, 2) if time_major else _rand(2, 3, 9, seed=23)).requires_grad_()
        k2 = _rand(4, 3, 5, seed=24).requires_grad_()
        ours, theirs = context(h, k2, 2, method), F.conv1d(h, k2, padding=4, dilation=2)
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        for g_ours, g_theirs in zip(_grads(ours, [h, k2], 25), _grads(theirs, [h, k2], 25)):
            torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)
        a = (_rand(2, 6, 3, seed=26).transpose(1, 2) if time_major else _rand(2, 3, 6, seed=26)).requires_grad_()
        w = _rand(3, 1, 10, seed=27).requires_grad_()
        ours, theirs = synthesis(a, w, 4, method), F.conv_transpose1d(a, w, stride=4)[:, 0]
        torch.testing.assert_close(ours, theirs, rtol=1e-12, atol=1e-12)
        for g_ours, g_theirs in zip(_grads(ours, [a, w], 28), _grads(theirs, [a, w], 28)):
            torch.testing.assert_close(g_ours, g_theirs, rtol=1e-12, atol=1e-12)


def test_plans_are_checked_and_round_trip() -> None:
    plan = ConvPlan("gemm", "direct", "direct")
    assert ConvPlan.from_dict(plan.to_dict()) == plan and str(plan) == "analysis gemm, context direct, synthesis direct"
    assert ConvPlan.parse(plan.text) == plan and plan.text == "gemm,direct,direct"
    assert ConvPlan.parse("gemm") == ConvPlan.everywhere("gemm") == ConvPlan("gemm", "gemm", "gemm")
    with pytest.raises(ValueError, match="ConvPlan.context must be one of"):
        ConvPlan(context="fft")
    for text in ("fastest", "gemm,direct", "gemm,direct,fft", ""):
        with pytest.raises(ValueError, match="A convolution plan is one of"):
            ConvPlan.parse(text)
    model = DenoisingAutoencoder(ModelConfig(channels=4, kernel_size=16, stride=4, segment_length=40))
    assert model.conv_plan == ConvPlan() == ConvPlan.everywhere("direct")  # fixed, never chosen by the model
    model.conv_plan = "gemm"
    assert model.conv_plan == ConvPlan.everywhere("gemm") == model.encoder.conv_plan == model.decoder.conv_plan
    with pytest.raises(ValueError, match="A convolution plan is one of"):
        model.conv_plan = "auto"  # timing is the run's decision (rlsv.run.conv_plan), never the model's


def test_the_model_draws_nothing_and_times_nothing_on_its_first_call() -> None:
    config = ModelConfig(channels=5, kernel_size=24, stride=6, segment_length=55)
    torch.manual_seed(3)
    model = DenoisingAutoencoder(config)
    state = torch.get_rng_state()
    a = model.encode(torch.zeros(4, 55))
    assert a.shape == (4, 5, 10) and model.conv_plan == ConvPlan()
    assert torch.equal(torch.get_rng_state(), state)
