"""A blind separator: a front end (the run's frozen autoencoder, or the STFT) and its mask estimator.

``separator.pt`` (:func:`save_separator`) holds the estimator's sizes and weights, the front end's
description, the segment length and rate, and -- for the learned representation -- the SHA-256 of
the run's ``model.pt`` it was trained on. :func:`load_separator` rebuilds the separator from its folder:
the autoencoder is read from the run folder above it, and a ``model.pt`` changed since is refused.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rlsv.atomic import save_torch
from rlsv.core.separation.front_ends import FRONT_ENDS, Analysis, FrontEnd, LearnedFrontEnd, StftFrontEnd
from rlsv.core.separation.mask_estimator import EstimatorConfig, MaskEstimator
from rlsv.errors import ConfigError
from rlsv.run.files import MODEL
from rlsv.run.model_file import load_run_model, read_torch_file
from rlsv.run.separation.files import SEPARATOR_MODEL

__all__ = ["Separator", "build_front_end", "file_sha256", "save_separator", "load_separator", "SEPARATOR_FORMAT"]

SEPARATOR_FORMAT = "rlsv-separator/1"


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_front_end(front_end: str, run_dir: str | Path, segment_length: int, n_fft: int = 2048, hop: int = 256,
                    device: torch.device | str = "cpu") -> FrontEnd:
    """The ``"learned"`` front end (the frozen ``model.pt`` of ``run_dir``) or the ``"stft"`` one.

    The run's model is read by ``rlsv.run.model_file.load_run_model``, the reader ``rlsv evaluate`` uses: a
    ``model.pt`` that is not the run's, or whose sizes differ from its ``config.json``, is refused by every
    separation command as by evaluate.

    Raises:
        FileNotFoundError: ``"learned"`` and ``run_dir`` has no ``model.pt``.
        rlsv.errors.RunFolderError: the ``model.pt`` does not belong to the run's ``config.json``.
    """
    if front_end not in FRONT_ENDS:
        raise ConfigError(f"Unknown front end {front_end!r}; use one of {FRONT_ENDS}.")
    if front_end == "stft":
        return StftFrontEnd(segment_length, n_fft=n_fft, hop=hop)
    model_path = Path(run_dir) / MODEL
    if not model_path.is_file():
        raise FileNotFoundError(f"No trained model at {model_path}: the learned front end needs the run's autoencoder. "
                                "Train the run first (rlsv train), or import one (rlsv import-weights).")
    return LearnedFrontEnd(load_run_model(run_dir, MODEL, map_location=device))


class Separator(nn.Module):
    """A front end and a mask estimator: mixture segments ``(batch, N)`` -> vocal estimates ``(batch, N)``.

    An ``nn.Module``: ``separator(mixture)`` is the estimate (differentiable in the estimator's weights),
    ``.to(device)``, ``.eval()`` and ``.train()`` act on both parts (the autoencoder of a learned front end
    stays frozen and in evaluation mode); only the estimator has trainable parameters.

    Attributes:
        front_end: the representation (``rlsv.core.separation.front_ends``).
        estimator: the mask estimator on its magnitudes.
        sample_rate: the rate the separator works at (the run's).
    """

    def __init__(self, front_end: FrontEnd, estimator: MaskEstimator, sample_rate: int) -> None:
        super().__init__()
        self.front_end = front_end
        self.estimator = estimator
        self.sample_rate = int(sample_rate)

    @property
    def segment_length(self) -> int:
        """``N``, the samples of a segment."""
        return int(self.front_end.segment_length)

    @property
    def device(self) -> torch.device:
        return self.estimator.reference.device

    def mask(self, mixture: Tensor) -> tuple[Tensor, Analysis]:
        """The estimated vocal mask ``(batch, F, T)`` of ``mixture`` ``(batch, N)`` and the mixture's analysis."""
        analysis = self.front_end.analyse(mixture)
        return self.estimator(analysis.magnitude), analysis

    def forward(self, mixture: Tensor) -> Tensor:
        """Vocal estimates ``(batch, N)`` of ``mixture`` ``(batch, N)``, differentiable in the estimator's weights."""
        mask, analysis = self.mask(mixture)
        return self.front_end.synthesise(analysis, mask)

    @torch.no_grad()
    def apply(self, mask: Tensor, signal: Tensor) -> Tensor:
        """``mask`` ``(batch, F, T)`` applied to ``signal``'s own coefficients and resynthesised, ``(batch, N)``
        (a mask estimated on the mono mix, applied to each channel of a stereo file)."""
        return self.front_end.synthesise(self.front_end.analyse(signal), mask)

    @torch.no_grad()
    def separate(self, mixture: Tensor) -> Tensor:
        """Vocal estimates ``(batch, N)`` of ``mixture`` ``(batch, N)``, in evaluation mode, no gradient."""
        self.eval()
        return self(mixture)


def save_separator(separator: Separator, path: str | Path, **info: Any) -> None:
    """Write ``separator.pt`` atomically; ``info`` (e.g. ``model_sha256``, ``run_id``) is stored with it."""
    save_torch({
        "format": SEPARATOR_FORMAT,
        "front_end": separator.front_end.describe(),
        "estimator": separator.estimator.config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in separator.estimator.state_dict().items()},
        "segment_length": separator.segment_length,
        "sample_rate": separator.sample_rate,
        **info,
    }, path)


def load_separator(folder: str | Path, device: torch.device | str = "cpu") -> Separator:
    """The separator trained into ``folder`` (a run's ``separator-*`` sub-folder), on ``device``.

    Raises:
        FileNotFoundError: no ``separator.pt`` (train one: ``rlsv train-separator RUN``), or the run's ``model.pt``
            is missing.
        ValueError: not a separator file, or the run's ``model.pt`` changed since the separator was trained.
    """
    folder = Path(folder)
    path = folder / SEPARATOR_MODEL
    if not path.is_file():
        raise FileNotFoundError(f"No trained separator at {path}. "
                                f"Train one with `rlsv train-separator {folder.parent}`.")
    payload = read_torch_file(path)
    if not isinstance(payload, dict) or payload.get("format") != SEPARATOR_FORMAT:
        raise ConfigError(f"{path} is not an rlsv separator file (expected format {SEPARATOR_FORMAT!r}).")
    described = payload["front_end"]
    front_end = build_front_end(described["name"], folder.parent, int(payload["segment_length"]),
                                n_fft=int(described.get("n_fft", 2048)), hop=int(described.get("hop", 256)),
                                device=device)
    expected = payload.get("model_sha256")
    if described["name"] == "learned" and expected and file_sha256(folder.parent / MODEL) != expected:
        raise ConfigError(f"{folder.parent / MODEL} changed since the separator in {folder} was trained on it; "
                         f"retrain it (delete {folder} and run `rlsv train-separator {folder.parent}`).")
    estimator = MaskEstimator(EstimatorConfig.from_dict(payload["estimator"]))
    estimator.load_state_dict(payload["state_dict"])
    return Separator(front_end, estimator, int(payload["sample_rate"])).to(device).eval()
