"""``model.pt``: a trained autoencoder's weights and configuration in one file, written atomically."""

from __future__ import annotations

from pathlib import Path

import torch

from rlsv.atomic import save_torch
from rlsv.core.model import DenoisingAutoencoder, model_from_payload, model_payload

__all__ = ["save_model", "load_model"]


def save_model(model: DenoisingAutoencoder, path: str | Path) -> None:
    """Save weights and configuration together, atomically, to ``path``."""
    save_torch(model_payload(model), path)


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> DenoisingAutoencoder:
    """Load a model written by ``save_model`` (or the ``model`` entry of a training checkpoint)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    payload = torch.load(path, map_location=map_location, weights_only=True)
    if isinstance(payload, dict) and "model" in payload and isinstance(payload["model"], dict):
        payload = payload["model"]  # a training checkpoint
    return model_from_payload(payload, str(path)).to(map_location)
