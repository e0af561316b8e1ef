"""Encoder and decoder against naive loops of Eq. 1-3 and 8-10, over a grid of small sizes."""

from __future__ import annotations

import math

import pytest
import torch

from rlsv.core.model import (
    CosineDecoder,
    DenoisingAutoencoder,
    Encoder,
    ModelConfig,
    from_original_state_dict,
    mel_spaced_carriers,
)
from rlsv.run.model_file import load_model, save_model

# (C, L, S, N): includes N a multiple of S, odd total padding, L == S, and the fixture's size.
SIZES = [(4, 16, 4, 40), (3, 12, 5, 37), (5, 8, 8, 29), (2, 20, 6, 50), (6, 32, 8, 63)]


def _config(c: int, l: int, s: int, n: int, **kw) -> ModelConfig:
    return ModelConfig(channels=c, kernel_size=l, stride=s, segment_length=n, context_kernel=5, dilation=2, **kw)


def naive_encoder(x: torch.Tensor, k: torch.Tensor, kp: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Eq. 1-3 by explicit loops (float64). x (B, N), k (C, 1, L), kp (C, C, L') -> (B, C, T)."""
    b, n = x.shape
    c, l, s, t = cfg.channels, cfg.kernel_size, cfg.stride, cfg.frames
    left, right = cfg.padding
    xp = torch.cat([torch.zeros(b, left), x, torch.zeros(b, right)], dim=1).double()
    h_tilde = torch.zeros(b, c, t, dtype=torch.float64)
    for bi in range(b):
        for ci in range(c):
            for ti in range(t):
                h_tilde[bi, ci, ti] = sum(xp[bi, s * ti + li] * k[ci, 0, li] for li in range(l))
    # Eq. 2 with 'same' zero padding: H[c', t] = sum_c sum_l' H~[c, t + phi (l' - (L'-1)/2)] K'[c', c, l']
    lp, phi = cfg.context_kernel, cfg.dilation
    half = (lp - 1) // 2
    h = torch.zeros_like(h_tilde)
    for bi in range(b):
        for co in range(c):
            for ti in range(t):
                acc = 0.0
                for ci in range(c):
                    for li in range(lp):
                        tt = ti + phi * (li - half)
                        if 0 <= tt < t:
                            acc += h_tilde[bi, ci, tt] * kp[co, ci, li]
                h[bi, co, ti] = acc
    return torch.relu(h + h_tilde)


def naive_decoder(a: torch.Tensor, f: torch.Tensor, rho: torch.Tensor, env: torch.Tensor,
                  cfg: ModelConfig) -> torch.Tensor:
    """Eq. 8-10 by overlap-add loops (float64). a (B, C, T) -> (B, N)."""
    b, c, t = a.shape
    l, s = cfg.kernel_size, cfg.stride
    w = torch.zeros(c, l, dtype=torch.float64)
    for ci in range(c):
        for li in range(l):
            # the published code stores 2 pi l in float32; the decoder keeps that rounding
            two_pi_l = float(torch.tensor(2 * math.pi * li, dtype=torch.float32))
            w[ci, li] = math.cos(two_pi_l * float(f[ci]) ** 2 + float(rho[ci])) * float(env[ci, li])
    full = torch.zeros(b, (t - 1) * s + l, dtype=torch.float64)
    for bi in range(b):
        for ti in range(t):
            for li in range(l):
                full[bi, s * ti + li] += sum(float(a[bi, ci, ti]) * w[ci, li] for ci in range(c))
    left, _ = cfg.padding
    return full[:, left:left + cfg.segment_length]


@pytest.mark.parametrize("c,l,s,n", SIZES)
def test_encoder_matches_naive_loops(c: int, l: int, s: int, n: int) -> None:
    torch.manual_seed(0)
    cfg = _config(c, l, s, n)
    enc = Encoder(cfg).double()
    x = torch.randn(2, n, dtype=torch.float64)
    expected = naive_encoder(x, enc.analysis_kernels.detach(), enc.context_kernels.detach(), cfg)
    got = enc(x)
    assert got.shape == (2, c, math.ceil(n / s))
    torch.testing.assert_close(got.detach(), expected, rtol=1e-10, atol=1e-12)
    assert (got >= 0).all()


@pytest.mark.parametrize("c,l,s,n", SIZES)
def test_decoder_matches_naive_overlap_add(c: int, l: int, s: int, n: int) -> None:
    torch.manual_seed(1)
    cfg = _config(c, l, s, n)
    dec = CosineDecoder(cfg).double()
    with torch.no_grad():
        dec.envelopes.uniform_(-1, 1)
    a = torch.rand(2, c, cfg.frames, dtype=torch.float64)
    expected = naive_decoder(a, dec.carriers.detach(), dec.phases.detach(), dec.envelopes.detach(), cfg)
    got = dec(a)
    assert got.shape == (2, n)
    torch.testing.assert_close(got.detach(), expected, rtol=1e-9, atol=1e-11)


def test_paper_size_shapes_and_padding() -> None:
    cfg = ModelConfig()
    assert cfg.frames == 173
    assert cfg.padding == (990, 990)  # the published pad for N=44100, L=2048, S=256


def test_published_initialisation() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=64, kernel_size=256, stride=32, segment_length=4410)
    model = DenoisingAutoencoder(cfg)
    k1, k2 = model.encoder.analysis_kernels, model.encoder.context_kernels
    assert k1.abs().max() <= math.sqrt(6 / 256) and k1.abs().max() > 0.9 * math.sqrt(6 / 256)
    assert k2.abs().max() <= math.sqrt(6 / (5 * 64)) and k2.abs().max() > 0.9 * math.sqrt(6 / (5 * 64))
    torch.testing.assert_close(model.decoder.envelopes, torch.full((64, 256), 1 / (64 + 256)))
    assert model.decoder.phases.std() > 0.5  # rho ~ N(0, 1)
    hz = model.carrier_frequencies_hz()
    assert float(hz[0]) == pytest.approx(30.0 ** 2 / 44100, rel=1e-4)  # 0.02 Hz, docs/paper_vs_code.md row 3
    assert float(hz[-1]) == pytest.approx(11025.0, rel=1e-5)


def test_paper_text_initialisation() -> None:
    torch.manual_seed(0)
    cfg = ModelConfig(channels=64, kernel_size=256, stride=32, segment_length=4410, init="paper")
    model = DenoisingAutoencoder(cfg)
    bound = math.sqrt(3 / 64)
    for k in (model.encoder.analysis_kernels, model.encoder.context_kernels):
        assert k.abs().max() <= bound and k.abs().max() > 0.9 * bound
    assert torch.count_nonzero(model.decoder.phases) == 0


def test_mel_carriers_closed_form() -> None:
    f = mel_spaced_carriers(3, 44100, 30.0, 22050.0)
    mel_lo, mel_hi = 2595 * math.log10(1 + 30 / 700), 2595 * math.log10(1 + 22050 / 700)
    mid_hz = 700 * (10 ** ((mel_lo + mel_hi) / 2 / 2595) - 1)
    torch.testing.assert_close(f, torch.tensor([30.0, mid_hz, 22050.0]) / 44100, rtol=1e-5, atol=0)


def test_sorting_by_frequency_leaves_output_unchanged() -> None:
    torch.manual_seed(2)
    cfg = _config(6, 32, 8, 63)
    model = DenoisingAutoencoder(cfg).double()
    with torch.no_grad():
        model.decoder.carriers.copy_(torch.rand(6, dtype=torch.float64))
    x = torch.randn(3, 63, dtype=torch.float64)
    a = model.encode(x)
    order = model.decoder.frequency_order()
    hz = model.carrier_frequencies_hz()
    assert torch.all(hz[order][1:] >= hz[order][:-1])
    torch.testing.assert_close(model.carrier_frequencies_hz(sort=True), hz[order])
    permuted = DenoisingAutoencoder(cfg).double()
    with torch.no_grad():
        for name in ("carriers", "phases", "envelopes"):
            getattr(permuted.decoder, name).copy_(getattr(model.decoder, name)[order])
    torch.testing.assert_close(permuted.decode(model.sort_channels(a)), model.decode(a))


def test_save_load_round_trip(tmp_path) -> None:
    torch.manual_seed(3)
    model = DenoisingAutoencoder(_config(4, 16, 4, 40, init="paper"))
    path = tmp_path / "model.pt"
    save_model(model, path)
    loaded = load_model(path)
    assert loaded.config == model.config
    x = torch.randn(2, 40)
    torch.testing.assert_close(loaded(x), model(x))


def test_load_rejects_foreign_files(tmp_path) -> None:
    path = tmp_path / "foreign.pt"
    torch.save({"weights": torch.zeros(3)}, path)
    with pytest.raises(ValueError, match="not an rlsv model"):
        load_model(path)
    with pytest.raises(FileNotFoundError):
        load_model(tmp_path / "missing.pt")


def test_from_original_state_dict_with_shared_envelope() -> None:
    torch.manual_seed(4)
    c, l = 4, 16
    enc = {"conv_a1.weight": torch.randn(c, 1, l), "conv_a2.weight": torch.randn(c, c, 5)}
    dec = {"norm_factor": torch.randn(1, 1, l), "freq_mat": torch.rand(c, 1, 1), "phi": torch.randn(c, 1, 1)}
    model = from_original_state_dict(enc, dec, stride=4, segment_length=40)
    assert model.config.channels == c and model.config.kernel_size == l
    torch.testing.assert_close(model.decoder.envelopes, dec["norm_factor"].reshape(1, l).expand(c, l))
    torch.testing.assert_close(model.decoder.carriers, dec["freq_mat"].reshape(c))
    with pytest.raises(KeyError, match="conv_a1.weight"):
        from_original_state_dict({}, dec)


@pytest.mark.parametrize("bad", [
    dict(channels=0), dict(kernel_size=4, stride=8), dict(context_kernel=4), dict(init="xavier"),
    dict(f_min_hz=100.0, f_max_hz=50.0), dict(stride=2.5),
])
def test_impossible_configurations_are_rejected(bad: dict) -> None:
    with pytest.raises(ValueError):
        ModelConfig(**bad)


def test_wrong_input_shapes_are_rejected() -> None:
    model = DenoisingAutoencoder(_config(4, 16, 4, 40))
    with pytest.raises(ValueError, match="N=40"):
        model.encode(torch.zeros(2, 41))
    with pytest.raises(ValueError, match=r"\(batch, N\)"):
        model.encode(torch.zeros(40))
    with pytest.raises(ValueError, match="T=10"):
        model.decode(torch.zeros(2, 4, 11))
