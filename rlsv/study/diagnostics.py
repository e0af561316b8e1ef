"""What the Sinkhorn regulariser does to a representation: the diagnostics of the scale study.

Each function takes a model and one fixed batch of test segments and returns plain numbers:

* :func:`gradient_terms` -- the two parts of the training gradient on the encoder's parameters,
  ``||grad neg-SNR||`` and ``omega ||grad L_reg||``, and their ratio: how much the regulariser can
  steer training at all;
* :func:`cost_statistics` -- the scale of the Sinkhorn cost matrix ``M`` of the mixture
  representation (its mean off-diagonal entry and its largest) next to the representation's magnitude:
  ``K = exp(-M / lambda)`` only "sees" ``M / lambda``, so the lambda at which the plan leaves the
  diagonal moves with ``M``'s scale, which grows with ``C / T`` (``docs/scale_study.md``);
* :func:`plan_statistics` -- the transport plan's mass on the diagonal (1 = no transport);
* :func:`envelope_cosine` -- the cosine between the exact gradient of ``L_SK`` with respect to
  ``A_m`` (the published one) and the envelope gradient that holds the plan constant: where it is
  negative, the exact gradient pushes ``A_m`` the other way (``docs/paper_vs_code.md``, row 13).

:func:`diagnose` runs them all on one model; :func:`cost_scale_at_init` measures ``M``'s scale over
model sizes and input gains at initialisation, where nothing has been trained yet.
"""

from __future__ import annotations

import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch

from rlsv.core.losses import Objective, sinkhorn_distance
from rlsv.core.model import DenoisingAutoencoder, ModelConfig
from rlsv.core.sinkhorn import cost_matrix, sinkhorn_plan, time_normalise
from rlsv.core.step import remove_batch_mean, step_forward
from rlsv.errors import ConfigError
from rlsv.run.runtime import seeded

__all__ = ["DiagnosticBatch", "gradient_terms", "cost_statistics", "plan_statistics", "envelope_cosine", "diagnose",
           "cost_scale_at_init", "test_batch"]


class DiagnosticBatch(dict):
    """``{"vocals", "accompaniment"}`` -> ``(B, N)`` float32 tensors: the segments every diagnostic uses."""


def test_batch(tracks: Sequence, batch_size: int = 8) -> DiagnosticBatch:
    """The first ``batch_size`` kept (non-silent) test segments of ``tracks`` (``TrackSegments``)."""
    vocals, accompaniment = [], []
    for ts in tracks:
        for k in np.flatnonzero(ts.active):
            vocals.append(ts.vocals[k])
            accompaniment.append(ts.accompaniment[k])
            if len(vocals) == batch_size:
                return DiagnosticBatch(vocals=torch.from_numpy(np.stack(vocals)).float(),
                                       accompaniment=torch.from_numpy(np.stack(accompaniment)).float())
    if not vocals:
        raise ConfigError("No kept test segment to diagnose.")
    return DiagnosticBatch(vocals=torch.from_numpy(np.stack(vocals)).float(),
                           accompaniment=torch.from_numpy(np.stack(accompaniment)).float())


def _norm(parameters: Iterable[torch.nn.Parameter]) -> float:
    return math.sqrt(sum(float(p.grad.detach().double().pow(2).sum()) for p in parameters if p.grad is not None))


def gradient_terms(model: DenoisingAutoencoder, objective: Objective, batch: Mapping[str, torch.Tensor]
                   ) -> dict[str, float]:
    """The training gradient's two parts on the encoder's parameters, for ``batch`` without input noise.

    Returns:
        ``{"grad_reconstruction": ||d neg-SNR / d theta_E||, "grad_regulariser": omega ||d L_reg / d theta_E||,
        "ratio": their quotient}``: the regulariser's share of the steering (the decoder sees only neg-SNR).
    """
    vocals, accompaniment = batch["vocals"], batch["accompaniment"]
    noise = torch.zeros_like(vocals)
    encoder = list(model.encoder.parameters())
    out = step_forward(model, objective, vocals, accompaniment, noise)
    model.zero_grad(set_to_none=True)
    out.terms.neg_snr.backward(retain_graph=True)
    reconstruction = _norm(encoder)
    model.zero_grad(set_to_none=True)
    (objective.omega * out.terms.regulariser).backward()
    regulariser = _norm(encoder)
    model.zero_grad(set_to_none=True)
    return {"grad_reconstruction": reconstruction, "grad_regulariser": regulariser,
            "ratio": regulariser / reconstruction if reconstruction > 0 else math.inf}


@torch.no_grad()
def _mixture_representation(model: DenoisingAutoencoder, batch: Mapping[str, torch.Tensor]) -> torch.Tensor:
    """``A_m`` of the batch's mixtures as the training step computes it: ``(B, C, T)``."""
    return model.encode(remove_batch_mean(batch["vocals"] + batch["accompaniment"]))


@torch.no_grad()
def cost_statistics(model: DenoisingAutoencoder, batch: Mapping[str, torch.Tensor], p: int = 1) -> dict[str, float]:
    """``M``'s scale for the batch's mixtures: mean off-diagonal and largest entry, the mean of ``A_m``,
    the share of its zeros (ReLU), and ``C / T``."""
    a = _mixture_representation(model, batch)
    m = cost_matrix(time_normalise(a), p=p).double()
    off = m[~torch.eye(m.shape[0], dtype=torch.bool)]
    _, c, t = a.shape
    return {"m_mean": float(off.mean()), "m_max": float(m.max()), "a_mean": float(a.mean()),
            "a_zero_share": float((a == 0).double().mean()), "channels_per_frame": c / t}


@torch.no_grad()
def plan_statistics(model: DenoisingAutoencoder, batch: Mapping[str, torch.Tensor], lam: float, p: int = 1
                    ) -> dict[str, float]:
    """The Sinkhorn plan of the batch's mixtures: its mass on the diagonal (1: nothing transported) and
    ``L_SK = <P, M>`` over the mean of ``M`` (0: the diagonal plan; 1: the uniform, fully entropic one)."""
    m = cost_matrix(time_normalise(_mixture_representation(model, batch)), p=p).double()
    plan = sinkhorn_plan(m, lam).plan
    mean_cost = float(m.mean())
    return {"plan_diagonal": float(plan.diagonal().sum()),
            "cost_share": float((plan * m).sum()) / mean_cost if mean_cost > 0 else math.nan}


def envelope_cosine(model: DenoisingAutoencoder, batch: Mapping[str, torch.Tensor], lam: float, p: int = 1) -> float:
    """Cosine between the exact and the envelope gradient of ``L_SK`` with respect to ``A_m`` (``(B, C, T)``)."""
    a = _mixture_representation(model, batch).detach()
    grads = []
    for kind in ("implicit", "envelope"):
        leaf = a.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(sinkhorn_distance(leaf, p=p, lam=lam, grad=kind), leaf)
        grads.append(grad.double().flatten())
    exact, envelope = grads
    denominator = float(exact.norm() * envelope.norm())
    return float(exact @ envelope) / denominator if denominator > 0 else math.nan


def diagnose(model: DenoisingAutoencoder, objective: Objective, batch: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    """Every diagnostic of one model: :func:`gradient_terms`, :func:`cost_statistics` and, for L_B,
    :func:`plan_statistics` and :func:`envelope_cosine` at the run's own lambda."""
    model.eval()
    result: dict[str, Any] = gradient_terms(model, objective, batch) | cost_statistics(model, batch, objective.p)
    if objective.kind == "sinkhorn":
        result |= plan_statistics(model, batch, objective.lam, objective.p)
        result["envelope_cosine"] = envelope_cosine(model, batch, objective.lam, objective.p)
    return result


def cost_scale_at_init(batch: Mapping[str, torch.Tensor], sizes: Mapping[str, Mapping[str, int]],
                       gains: Sequence[float] = (1.0,), seeds: Sequence[int] = (218,),
                       lambdas: Sequence[float] = (0.5, 1.5, 2.0)) -> pd.DataFrame:
    """``M``'s scale and the plan's diagonal mass for freshly initialised encoders.

    Args:
        batch: segments of the sizes' common segment length ``N`` (:func:`test_batch`).
        sizes: name -> ``ModelConfig`` fields; ``C`` and ``T`` vary with them.
        gains: factors on the input signals (the representation's magnitude against the ``1 / C`` shift
            of the time normalisation).
        seeds: initialisations.
        lambdas: entropic weights for the plan's diagonal mass.

    Returns:
        One row per size, gain and seed: ``size, gain, seed``, :func:`cost_statistics` and
        ``plan_diagonal_l<lam>`` per lambda.
    """
    rows = []
    for name, fields in sizes.items():
        for seed in seeds:
            with seeded(seed):
                model = DenoisingAutoencoder(ModelConfig(**fields)).eval()
            for gain in gains:
                scaled = {key: value * gain for key, value in batch.items()}
                row = {"size": name, "gain": gain, "seed": seed, **cost_statistics(model, scaled)}
                for lam in lambdas:
                    row[f"plan_diagonal_l{lam:g}"] = plan_statistics(model, scaled, lam)["plan_diagonal"]
                rows.append(row)
    return pd.DataFrame(rows)
