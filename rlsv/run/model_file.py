"""``model.pt``: a trained autoencoder's weights and configuration in one file, written atomically, and
stamped with the training configuration of the run that made it.

The stamp (:func:`training_stamp`: a hash of the run's ``config.json`` without the settings that do
not change the weights) lets every reader check that a run folder's ``model.pt`` is that run's
(:func:`load_run_model`): a model copied from another run, or of other sizes, is refused with a
message that says which.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any, Mapping

import torch

from rlsv.atomic import save_torch
from rlsv.core.model import DenoisingAutoencoder, model_from_payload, model_payload
from rlsv.errors import RunFolderError
from rlsv.run.files import CONFIG, load_error_text
from rlsv.run.folder import read_json_object
from rlsv.run.spec import variant_id
from rlsv.run.train_config import TRAINING_FIELDS

__all__ = ["save_model", "load_model", "load_run_model", "training_stamp", "model_stamp", "read_torch_file"]


def training_stamp(config: Mapping[str, Any]) -> str:
    """A short hash of a run's training configuration: the ``training`` fields of its ``config.json`` mapping
    (``rlsv.run.train_config.TRAINING_FIELDS``; where and how it ran, its labels and its records do not count)."""
    return variant_id({k: config[k] for k in TRAINING_FIELDS if k in config})


def read_torch_file(path: str | Path, map_location: str | torch.device = "cpu", weights_only: bool = True) -> Any:
    """``torch.load`` of ``path``; a file that is not a readable torch file (truncated, garbage, another
    format) gives a ``ValueError`` naming it and saying what to do."""
    path = Path(path)
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise RunFolderError(f"{path} is not a readable torch file ({load_error_text(error)}); it may be truncated, "
                             "damaged or not rlsv's. Delete it (or move it away) and rerun: a run is trained again "
                             "from its last good checkpoint, or from the start.") from None


def save_model(model: DenoisingAutoencoder, path: str | Path, stamp: str | None = None) -> None:
    """Save weights and configuration together, atomically, to ``path``; ``stamp``: the
    :func:`training_stamp` of the run that trained it."""
    save_torch(model_payload(model) | ({"run": stamp} if stamp else {}), path)


def _payload(path: Path, map_location: str | torch.device) -> dict:
    if not path.is_file():
        raise FileNotFoundError(f"No model file at {path}.")
    payload = read_torch_file(path, map_location)
    if isinstance(payload, dict) and "model" in payload and isinstance(payload["model"], dict):
        payload = payload["model"]  # a training checkpoint
    return payload


def model_stamp(path: str | Path) -> str | None:
    """The training stamp a model file carries (None: none, e.g. a model saved by hand)."""
    payload = _payload(Path(path), "cpu")
    return payload.get("run") if isinstance(payload, dict) else None


def load_model(path: str | Path, map_location: str | torch.device = "cpu") -> DenoisingAutoencoder:
    """Load a model written by ``save_model`` (or the ``model`` entry of a training checkpoint)."""
    path = Path(path)
    return model_from_payload(_payload(path, map_location), str(path)).to(map_location)


def load_run_model(run_dir: str | Path, model_file: str = "model.pt",
                   map_location: str | torch.device = "cpu") -> DenoisingAutoencoder:
    """The model of a run folder, checked against the folder's ``config.json`` (when there is one).

    A stamped model must carry the stamp of that configuration; an unstamped one (saved by hand) must
    at least have its sizes. Raises ``ValueError`` naming both files otherwise.
    """
    run_dir = Path(run_dir)
    path = run_dir / model_file
    payload = _payload(path, map_location)
    model = model_from_payload(payload, str(path)).to(map_location)
    config_path = run_dir / CONFIG
    if not config_path.is_file():
        return model
    config = read_json_object(config_path, "the run's configuration")
    stamp = payload.get("run") if isinstance(payload, dict) else None
    if stamp is not None and "objective" in config and stamp != training_stamp(config):
        raise RunFolderError(f"{path} and {config_path} do not belong together: the model was trained with another "
                             "configuration than config.json records. If config.json was edited, restore it; if the "
                             "model was copied from another run, delete it (rerunning the run restores its own model "
                             "from its checkpoint).")
    recorded = config.get("model")
    if isinstance(recorded, Mapping) and model.config.to_dict() != dict(recorded):
        differing = sorted(k for k in recorded if model.config.to_dict().get(k) != recorded[k])
        raise RunFolderError(f"{path} has other model sizes than {config_path} records (differs in {differing}); "
                         "it does not belong to this run. Delete it, or evaluate it in a folder of its own.")
    return model
