"""The method of the paper's Section 2 on live tensors, for ``notebooks/00_method.ipynb``.

Each function takes a model and a batch and returns a table or a figure built from ``rlsv.core``:

* :func:`example_batch` -- a few kept test segments of a profile's data;
* :func:`shape_table` -- every tensor of a training step with its shape (Eq. 1-3, 8-11);
* :func:`plot_decoder` -- the decoder's carriers ``f_c^2 fs`` (mel-spaced at initialisation) and kernels (Eq. 10);
* :func:`plot_transport` -- the time-normalised mixture representation, the cost matrix ``M`` (Eq. 6) and the
  entropic plans ``P_lambda`` (Eq. 7) side by side;
* :func:`regulariser_table` -- L_TV and L_SK on the same batch, with the plans' diagonal mass.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure

from rlsv.core.losses import neg_snr, sinkhorn_distance, total_variation
from rlsv.core.model import DenoisingAutoencoder
from rlsv.core.sinkhorn import cost_matrix, sinkhorn_plan, time_normalise
from rlsv.core.step import remove_batch_mean
from rlsv.errors import ConfigError

__all__ = ["example_batch", "shape_table", "plot_decoder", "plot_transport", "regulariser_table"]


def example_batch(profile: str = "small", dataset: str | None = None, batch_size: int = 4) -> dict[str, torch.Tensor]:
    """``{"vocals", "accompaniment"}`` -> ``(B, N)``: the first kept test segments of the profile's data."""
    from rlsv.run.data import dataset_root
    from rlsv.run.evaluate import iter_test_segments, load_test_dataset
    from rlsv.run.profiles import get_profile

    n = get_profile(profile).model.segment_length
    data = load_test_dataset(dataset_root(profile, dataset, progress=False), segment_length=n, progress=False)
    vocals, accompaniment = [], []
    for ts in iter_test_segments(data, n):
        for k in np.flatnonzero(ts.active):
            vocals.append(ts.vocals[k])
            accompaniment.append(ts.accompaniment[k])
    if len(vocals) < batch_size:
        raise ConfigError(f"The test tracks hold {len(vocals)} segments with vocals; ask for at most that many.")
    return {"vocals": torch.from_numpy(np.stack(vocals[:batch_size])).float(),
            "accompaniment": torch.from_numpy(np.stack(accompaniment[:batch_size])).float()}


def _shape(t: torch.Tensor) -> str:
    return "(" + ", ".join(str(d) for d in t.shape) + ")"


@torch.no_grad()
def shape_table(model: DenoisingAutoencoder, batch: dict[str, torch.Tensor]) -> pd.DataFrame:
    """Every tensor of one training step's forward pass, its shape and what it is (paper equation)."""
    cfg = model.config
    clean = remove_batch_mean(batch["vocals"])
    mixture = remove_batch_mean(batch["vocals"] + batch["accompaniment"])
    left, right = cfg.padding
    padded = torch.nn.functional.pad(clean, (left, right))
    h_tilde = model.encoder.analysis(clean)
    h = model.encoder.context(h_tilde)
    a_v = model.encode(clean)
    a_m = model.encode(mixture)
    x_hat = model.decode(a_v)
    rows = [
        ("x", clean, "vocal segments, batch mean removed (B, N)", "—"),
        ("x padded", padded, f"zero-padded by {left} + {right} so that T = ceil(N / S)", "Eq. 1"),
        ("k", model.encoder.analysis_kernels, "encoder kernels (C, 1, L)", "Eq. 1"),
        ("H~ = conv(x, k), stride S", h_tilde, "(B, C, T)", "Eq. 1"),
        ("K'", model.encoder.context_kernels, "context kernels (C, C, L'), dilation φ", "Eq. 2"),
        ("H = conv(H~, K')", h, "(B, C, T)", "Eq. 2"),
        ("A_v = ReLU(H + H~)", a_v, "representation of the vocals, non-negative (B, C, T)", "Eq. 3"),
        ("A_m", a_m, "representation of the mixture (B, C, T): what L_TV / L_SK see", "Eq. 12-13"),
        ("w_c[l]", model.decoder.kernels(), "decoder kernels cos(2π f_c² l + ρ_c) b_c[l] (C, 1, L)", "Eq. 10"),
        ("x^ = D(A_v)", x_hat, "reconstruction, overlap-added and cropped to N (B, N)", "Eq. 8-9"),
        ("neg-SNR(x, x^)", neg_snr(clean, x_hat), f"{float(neg_snr(clean, x_hat)):.2f} dB (untrained model)", "Eq. 11"),
    ]
    return pd.DataFrame([(name, _shape(t), what, eq) for name, t, what, eq in rows],
                        columns=["tensor", "shape", "what", "paper"]).set_index("tensor")


@torch.no_grad()
def plot_decoder(model: DenoisingAutoencoder, carriers_hz: Sequence[float] = (110.0, 440.0, 1760.0),
                 milliseconds: float = 10.0) -> Figure:
    """Left: the carriers ``f_c^2 fs`` in Hz over the channel index (log scale); right: the synthesis kernels
    ``w_c[l]`` (Eq. 10) of the channels whose carriers lie nearest ``carriers_hz``, their first ``milliseconds``."""
    hz = model.carrier_frequencies_hz(sort=True).numpy()
    kernels = model.decoder.kernels()[:, 0][model.decoder.frequency_order()].numpy()
    channels = [int(np.argmin(np.abs(hz - target))) for target in carriers_hz]
    fig = Figure(figsize=(11, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2)
    left.semilogy(np.maximum(hz, 1e-3), marker=".", linestyle="none")
    left.set_xlabel("channel c (sorted by carrier)")
    left.set_ylabel("carrier f_c² · fs (Hz)")
    left.set_title("Carriers: mel-spaced f_c, squared (Eq. 10)", fontsize="medium")
    left.grid(alpha=0.3)
    samples = min(kernels.shape[1], int(milliseconds * model.config.sample_rate / 1e3))
    time_ms = np.arange(samples) / model.config.sample_rate * 1e3
    for c in channels:
        right.plot(time_ms, kernels[c, :samples], linewidth=0.9, label=f"c = {c}: {hz[c]:.4g} Hz")
    right.set_xlabel("l (ms)")
    right.set_ylabel("w_c[l]")
    right.set_title("Synthesis kernels cos(2π f_c² l + ρ_c) b_c[l]", fontsize="medium")
    right.legend(fontsize="small", loc="upper right")
    return fig


@torch.no_grad()
def plot_transport(model: DenoisingAutoencoder, batch: dict[str, torch.Tensor], lambdas: Sequence[float],
                   p: int = 1) -> Figure:
    """The time-normalised mixture representation of the first segment (each channel's profile over time
    sums to 1), the batch-averaged cost matrix ``M`` (Eq. 6), and the plan ``P_lambda`` for each lambda (Eq. 7)."""
    a_m = model.encode(remove_batch_mean(batch["vocals"] + batch["accompaniment"]))
    normalised = time_normalise(a_m)
    m = cost_matrix(normalised, p=p)
    panels = 2 + len(lambdas)
    fig = Figure(figsize=(3.3 * panels, 3.6), layout="constrained")
    axes = fig.subplots(1, panels)
    image = axes[0].imshow(model.sort_channels(normalised)[0].numpy(), origin="lower", aspect="auto", cmap="magma")
    axes[0].set_title("time-normalised A_m (segment 1)", fontsize="medium")
    axes[0].set_xlabel("frame t")
    axes[0].set_ylabel("channel (sorted by carrier)")
    fig.colorbar(image, ax=axes[0], shrink=0.8)
    image = axes[1].imshow(m.numpy(), origin="lower", cmap="viridis")
    axes[1].set_title(f"M: L{p} distance of frames (Eq. 6)", fontsize="medium")
    axes[1].set_xlabel("frame t'")
    axes[1].set_ylabel("frame t")
    fig.colorbar(image, ax=axes[1], shrink=0.8)
    for ax, lam in zip(axes[2:], lambdas):
        result = sinkhorn_plan(m, lam)
        image = ax.imshow(result.plan.numpy() * m.shape[0], origin="lower", cmap="Blues", vmin=0)
        ax.set_title(f"P, λ = {lam:g}: diagonal {float(result.plan.diagonal().sum()):.2f}", fontsize="medium")
        ax.set_xlabel("frame t'")
        fig.colorbar(image, ax=ax, shrink=0.8, label="T · P")
    fig.suptitle(f"Entropic transport between the frames of the mixture representation (mean M = "
                 f"{float(m.mean()):.2f}; K = exp(−M/λ))", fontsize="medium")
    return fig


@torch.no_grad()
def regulariser_table(model: DenoisingAutoencoder, batch: dict[str, torch.Tensor], lambdas: Sequence[float],
                      p: int = 1) -> pd.DataFrame:
    """L_TV (Eq. 4, published form) and L_SK (Eq. 5, for each lambda) of the batch's mixture representation,
    with the plan's mass on the diagonal (1: nothing moves, L_SK = 0 and no gradient)."""
    a_m = model.encode(remove_batch_mean(batch["vocals"] + batch["accompaniment"]))
    m = cost_matrix(time_normalise(a_m), p=p)
    rows = [{"regulariser": "L_TV", "λ": "", "value": f"{float(total_variation(a_m)):.4g}", "plan diagonal": ""}]
    for lam in lambdas:
        rows.append({"regulariser": f"L_SK (p = {p})", "λ": f"{lam:g}",
                     "value": f"{float(sinkhorn_distance(a_m, p=p, lam=lam)):.4g}",
                     "plan diagonal": f"{float(sinkhorn_plan(m, lam).plan.diagonal().sum()):.3f}"})
    return pd.DataFrame(rows).set_index(["regulariser", "λ"])
