"""The denoising autoencoder of the paper: a strided-conv encoder and a cosine-modulated decoder.

Shapes (paper names):

* ``x``: waveform segment, ``(batch, N)``
* ``A``: non-negative representation, ``(batch, C, T)`` with ``T = ceil(N / S)``
* encoder kernels ``k_c``: ``(C, 1, L)`` (Eq. 1); context kernels ``K'``: ``(C, C, L')`` (Eq. 2)
* decoder kernels ``w_c[l] = cos(2 pi f_c^2 l + rho_c) b_c[l]``: ``(C, 1, L)`` (Eq. 10)

Defaults follow the authors' published code (see ``docs/paper_vs_code.md``): zero padding that
gives ``T = ceil(N/S)``, ``kaiming_uniform_`` encoder initialisation, ``rho ~ N(0, 1)``. The
paper's wording is available as ``ModelConfig(init="paper")``.

How the three convolutions are computed -- as large matrix products or by torch's convolution
kernels -- is a :class:`~rlsv.core.conv.ConvPlan` (``rlsv.core.conv``) given to the model; which plan a
run uses is the run's decision (``rlsv.run.conv_plan``). Every plan equals ``F.conv1d`` /
``F.conv_transpose1d`` up to float round-off (``tests/core/test_conv_gemm.py``, ``docs/benchmarks.md``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rlsv.core.conv import ConvPlan, analysis, context, is_time_major, synthesis, time_major_gradient
from rlsv.core.model_config import ModelConfig
from rlsv.errors import RunFolderError

__all__ = [
    "ModelConfig",
    "Encoder",
    "CosineDecoder",
    "DenoisingAutoencoder",
    "mel_spaced_carriers",
    "from_original_state_dict",
    "ORIGINAL_PARAMETER_NAMES",
    "model_payload",
    "model_from_payload",
]

_MODEL_FORMAT = "rlsv-model/1"


def mel_spaced_carriers(channels: int, sample_rate: int, f_min_hz: float = 30.0,
                        f_max_hz: float = 22050.0) -> Tensor:
    """Initial carriers ``f_c``, ``(C,)``: mel-spaced from ``f_min_hz`` to ``f_max_hz``, divided by fs.

    This is the published code's ``700 (10^(mel/2595) - 1) / fs``. The decoder uses ``f_c**2`` as
    the normalised frequency, so the effective carriers run from ``f_min^2/fs`` to ``f_max^2/fs`` Hz.
    """
    def to_mel(hz: float) -> float:
        return 2595.0 * math.log10(1.0 + hz / 700.0)

    mel = torch.linspace(to_mel(f_min_hz), to_mel(f_max_hz), channels)
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0) / sample_rate


def _check_input(x: Tensor, ndim: int, what: str, shape_doc: str) -> None:
    if x.dim() != ndim:
        raise ValueError(f"{what} expects a tensor of shape {shape_doc}, got shape {tuple(x.shape)}.")


class Encoder(nn.Module):
    """``E(x)``: strided conv (Eq. 1), dilated context conv (Eq. 2), residual and ReLU (Eq. 3).

    Parameters:
        analysis_kernels: ``k_c``, ``(C, 1, L)``.
        context_kernels: ``K'``, ``(C, C, L')``.

    ``conv_plan``: how the two convolutions are computed (``rlsv.core.conv.ConvPlan``; the same values
    up to float round-off either way).
    """

    def __init__(self, config: ModelConfig, conv_plan: ConvPlan = ConvPlan()) -> None:
        super().__init__()
        self.config = config
        self.conv_plan = conv_plan
        c, l, lp = config.channels, config.kernel_size, config.context_kernel
        self.analysis_kernels = nn.Parameter(torch.empty(c, 1, l))
        self.context_kernels = nn.Parameter(torch.empty(c, c, lp))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.config.init == "published":
            # kaiming_uniform_ defaults: uniform(+-sqrt(6 / fan_in)), fan_in = L and 5C.
            nn.init.kaiming_uniform_(self.analysis_kernels)
            nn.init.kaiming_uniform_(self.context_kernels)
        else:
            bound = math.sqrt(3.0 / self.config.channels)
            nn.init.uniform_(self.analysis_kernels, -bound, bound)
            nn.init.uniform_(self.context_kernels, -bound, bound)

    def analysis(self, x: Tensor) -> Tensor:
        """``H~ = conv(x, k)`` with stride S (Eq. 1): ``(B, N) -> (B, C, T)``."""
        _check_input(x, 2, "Encoder", "(batch, N)")
        if x.shape[-1] != self.config.segment_length:
            raise ValueError(
                f"Encoder was built for segments of N={self.config.segment_length} samples, "
                f"got {x.shape[-1]}. Cut the signal into segments of that length first."
            )
        left, right = self.config.padding
        padded = F.pad(x, (left, right))
        return analysis(padded, self.analysis_kernels, self.config.stride, self.conv_plan.analysis)

    def context(self, h: Tensor) -> Tensor:
        """``H = conv(H~, K')`` with dilation phi and 'same' zero padding (Eq. 2): ``(B, C, T) -> (B, C, T)``."""
        return context(h, self.context_kernels, self.config.dilation, self.conv_plan.context)

    def forward(self, x: Tensor) -> Tensor:
        """``A = ReLU(H + H~)`` (Eq. 3): ``(B, N) -> (B, C, T)``, non-negative; time-major in memory when the
        context convolution is a GEMM (what the GEMM decoder wants), channel-major when it is direct."""
        h_tilde = self.analysis(x)
        a = F.relu(self.context(h_tilde) + h_tilde)
        return time_major_gradient(a) if is_time_major(a) else a


class CosineDecoder(nn.Module):
    """``D(A)``: overlap-add of cosine-modulated kernels (Eq. 8-10), exactly ``N`` output samples.

    Parameters:
        carriers: ``f_c``, ``(C,)``, normalised so that ``f_c**2`` is in cycles per sample.
        phases: ``rho_c`` in radians, ``(C,)``.
        envelopes: ``b_c``, ``(C, L)``, the modulating signals.
    """

    two_pi_l: Tensor

    def __init__(self, config: ModelConfig, conv_plan: ConvPlan = ConvPlan()) -> None:
        super().__init__()
        self.config = config
        self.conv_plan = conv_plan
        c, l = config.channels, config.kernel_size
        self.carriers = nn.Parameter(torch.empty(c))
        self.phases = nn.Parameter(torch.empty(c))
        self.envelopes = nn.Parameter(torch.empty(c, l))
        # 2 pi l, computed in float64 and stored in float32 as in the published code.
        two_pi_l = (2.0 * math.pi * torch.arange(l, dtype=torch.float64)).to(torch.float32)
        self.register_buffer("two_pi_l", two_pi_l, persistent=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        cfg = self.config
        with torch.no_grad():
            self.carriers.copy_(mel_spaced_carriers(cfg.channels, cfg.sample_rate, cfg.f_min_hz, cfg.f_max_hz))
            if cfg.init == "published":
                self.phases.normal_()
            else:
                self.phases.zero_()
            self.envelopes.fill_(1.0 / (cfg.channels + cfg.kernel_size))

    def kernels(self) -> Tensor:
        """The synthesis kernels ``w_c[l] = cos(2 pi f_c^2 l + rho_c) b_c[l]`` (Eq. 10), ``(C, 1, L)``."""
        arg = self.two_pi_l * self.carriers.pow(2).unsqueeze(1) + self.phases.unsqueeze(1)
        return (torch.cos(arg) * self.envelopes).unsqueeze(1)

    def forward(self, a: Tensor) -> Tensor:
        """``x^ = D(A)``: ``(B, C, T) -> (B, N)`` by transposed convolution with stride S, cropped to N."""
        _check_input(a, 3, "CosineDecoder", "(batch, C, T)")
        cfg = self.config
        if a.shape[1:] != (cfg.channels, cfg.frames):
            raise ValueError(
                f"CosineDecoder expects (batch, C={cfg.channels}, T={cfg.frames}), got {tuple(a.shape)}."
            )
        full = synthesis(a, self.kernels(), cfg.stride, self.conv_plan.synthesis)
        left, _ = cfg.padding
        return full[:, left:left + cfg.segment_length]

    def carrier_frequencies_hz(self) -> Tensor:
        """Effective carrier frequencies ``f_c**2 * fs`` in Hz, ``(C,)`` (not sorted)."""
        return self.carriers.detach().pow(2) * self.config.sample_rate

    def frequency_order(self) -> Tensor:
        """Channel permutation that sorts the carriers by ``f_c**2`` (ascending), ``(C,)`` long.

        Permuting the kernels and the representation's channels together leaves the output
        unchanged, so the order matters for plots only (``sort_channels``).
        """
        return torch.argsort(self.carriers.detach().pow(2), stable=True)

    def sort_channels(self, a: Tensor) -> Tensor:
        """Reorder a representation ``(..., C, T)`` by ascending carrier frequency."""
        return a.index_select(-2, self.frequency_order().to(a.device))


class DenoisingAutoencoder(nn.Module):
    """Encoder and cosine decoder together: ``encode (B, N) -> (B, C, T)``, ``decode (B, C, T) -> (B, N)``.

    ``conv_plan``: how the three convolutions are computed (``rlsv.core.conv.ConvPlan``, or its text: ``"gemm"``,
    ``"direct"``, ``"gemm,direct,direct"``); the same values up to float round-off either way. The model never
    chooses it by itself: the default is fixed, and a run passes the plan it chose (``rlsv.run.conv_plan``).
    """

    def __init__(self, config: ModelConfig | None = None, conv_plan: ConvPlan | str = ConvPlan(),
                 **overrides: Any) -> None:
        super().__init__()
        config = config or ModelConfig()
        if overrides:
            config = replace(config, **overrides)
        self.config = config
        self.encoder = Encoder(config)
        self.decoder = CosineDecoder(config)
        self.conv_plan = conv_plan

    @property
    def conv_plan(self) -> ConvPlan:
        """The plan in use (``rlsv.core.conv.ConvPlan``)."""
        return self.encoder.conv_plan

    @conv_plan.setter
    def conv_plan(self, plan: ConvPlan | str) -> None:
        plan = plan if isinstance(plan, ConvPlan) else ConvPlan.parse(plan)
        self.encoder.conv_plan = self.decoder.conv_plan = plan

    def encode(self, x: Tensor) -> Tensor:
        """``(B, N) -> (B, C, T)``."""
        return self.encoder(x)

    def decode(self, a: Tensor) -> Tensor:
        """``(B, C, T) -> (B, N)``."""
        return self.decoder(a)

    def forward(self, x: Tensor) -> Tensor:
        """Reconstruction ``D(E(x))``, ``(B, N) -> (B, N)``."""
        return self.decode(self.encode(x))

    def carrier_frequencies_hz(self, sort: bool = False) -> Tensor:
        """Carrier frequencies in Hz, ``(C,)``; ascending when ``sort``."""
        hz = self.decoder.carrier_frequencies_hz()
        return hz[self.decoder.frequency_order()] if sort else hz

    def sort_channels(self, a: Tensor) -> Tensor:
        """Reorder a representation ``(..., C, T)`` by ascending carrier frequency (for plots)."""
        return self.decoder.sort_channels(a)


# Our parameter names -> the authors' names (encoder / decoder state dicts of the published code).
ORIGINAL_PARAMETER_NAMES: dict[str, str] = {
    "encoder.analysis_kernels": "encoder.conv_a1.weight",
    "encoder.context_kernels": "encoder.conv_a2.weight",
    "decoder.envelopes": "decoder.norm_factor",
    "decoder.carriers": "decoder.freq_mat",
    "decoder.phases": "decoder.phi",
}


def _strip_prefix(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    return {k.removeprefix("module."): v for k, v in state.items()}


def from_original_state_dict(
    encoder_state: Mapping[str, Tensor],
    decoder_state: Mapping[str, Tensor],
    stride: int = 256,
    segment_length: int = 44100,
    sample_rate: int = 44100,
    **config_overrides: Any,
) -> DenoisingAutoencoder:
    """Build a model from the authors' state dicts (their pretrained ``analysis_*``/``synthesis_*`` files).

    Args:
        encoder_state: ``{"conv_a1.weight": (C, 1, L), "conv_a2.weight": (C, C, L')}``.
        decoder_state: ``{"norm_factor": (C, 1, L) or (1, 1, L), "freq_mat": (C, 1, 1), "phi": (C, 1, 1)}``.
        stride, segment_length, sample_rate: ``S``, ``N``, fs; not stored in the authors' files.
        config_overrides: further ``ModelConfig`` fields (e.g. ``dilation``).

    ``C``, ``L`` and ``L'`` are read from the tensors. A shared envelope ``(1, 1, L)`` (the authors'
    ``fully_modulated=False``) is copied to every channel.

    Example::

        enc = torch.load("analysis_sinkhorn.pytorch", map_location="cpu")
        dec = torch.load("synthesis_sinkhorn.pytorch", map_location="cpu")
        model = from_original_state_dict(enc, dec)
    """
    enc, dec = _strip_prefix(encoder_state), _strip_prefix(decoder_state)
    missing = [k for k in ("conv_a1.weight", "conv_a2.weight") if k not in enc]
    missing += [k for k in ("norm_factor", "freq_mat", "phi") if k not in dec]
    if missing:
        raise KeyError(f"Not an original rl_singing_voice state dict: missing {missing}.")
    c, _, l = enc["conv_a1.weight"].shape
    lp = enc["conv_a2.weight"].shape[-1]
    config = ModelConfig(channels=int(c), kernel_size=int(l), context_kernel=int(lp), stride=stride,
                         segment_length=segment_length, sample_rate=sample_rate, **config_overrides)
    model = DenoisingAutoencoder(config)
    envelopes = dec["norm_factor"].reshape(-1, l).expand(c, l)
    state = {
        "encoder.analysis_kernels": enc["conv_a1.weight"],
        "encoder.context_kernels": enc["conv_a2.weight"],
        "decoder.envelopes": envelopes,
        "decoder.carriers": dec["freq_mat"].reshape(c),
        "decoder.phases": dec["phi"].reshape(c),
    }
    model.load_state_dict({k: v.detach().float().clone() for k, v in state.items()})
    return model


def model_payload(model: DenoisingAutoencoder) -> dict[str, Any]:
    """Weights and configuration as one plain mapping (the content of a model file), on the CPU."""
    return {
        "format": _MODEL_FORMAT,
        "config": model.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }


def model_from_payload(payload: Any, source: str = "the payload") -> DenoisingAutoencoder:
    """The model of a ``model_payload`` mapping; ``source`` names it in the error for anything else."""
    if not isinstance(payload, dict) or payload.get("format") != _MODEL_FORMAT:
        raise RunFolderError(f"{source} is not an rlsv model file (expected format {_MODEL_FORMAT!r}).")
    model = DenoisingAutoencoder(ModelConfig.from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model
