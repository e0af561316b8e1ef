"""Importing the authors' released models as an rlsv run folder (``rlsv import-weights``).

The authors' training script (GitHub repository ``Js-Mim/rl_singing_voice``) saves, per experiment
``exp_id``, the encoder's and the decoder's state dicts:

* ``results/analysis_<exp_id>.pytorch``: ``conv_a1.weight`` ``(C, 1, L)``, ``conv_a2.weight`` ``(C, C, L')``;
* ``results/synthesis_<exp_id>.pytorch``: ``norm_factor`` ``(C, 1, L)`` or ``(1, 1, L)``, ``freq_mat``
  ``(C, 1, 1)``, ``phi`` ``(C, 1, 1)``.

:func:`import_weights` reads the two files (or finds them in a results folder by ``exp_id``), builds the
model with ``rlsv.core.model.from_original_state_dict`` and writes a run folder that ``rlsv evaluate``,
``rlsv train-separator`` and ``rlsv separate`` accept: ``model.pt`` and a ``config.json`` holding the
model's sizes, the dataset and the published training settings (batch 8, sets of 4 tracks, 50 %
overlap: what a separator trains on), with ``objective: "imported"`` and where the weights came from.
The stride, segment length, rate and dilation are not in the authors' files; the defaults are the
published ones (256, 44100, 44100, 10).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

import torch

from rlsv.atomic import write_json
from rlsv.core.model import DenoisingAutoencoder, from_original_state_dict
from rlsv.errors import ConfigError
from rlsv.run.files import CONFIG, MODEL
from rlsv.run.model_file import save_model

__all__ = ["AUTHORS_REPOSITORY", "original_files", "read_state_dict", "import_weights", "imported_config"]

AUTHORS_REPOSITORY = "https://github.com/Js-Mim/rl_singing_voice"


def original_files(results_dir: str | os.PathLike, exp_id: str) -> tuple[Path, Path]:
    """``(analysis_<exp_id>.pytorch, synthesis_<exp_id>.pytorch)`` in ``results_dir``; FileNotFoundError naming
    what is missing and listing the experiments present."""
    results_dir = Path(results_dir)
    if not results_dir.is_dir():
        raise FileNotFoundError(f"No results folder at {results_dir}.")
    paths = (results_dir / f"analysis_{exp_id}.pytorch", results_dir / f"synthesis_{exp_id}.pytorch")
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        present = sorted(p.name[len("analysis_"):-len(".pytorch")] for p in results_dir.glob("analysis_*.pytorch"))
        raise FileNotFoundError(f"{results_dir} lacks {missing}; experiments present: {present or 'none'}. "
                                f"Download the authors' results from {AUTHORS_REPOSITORY}.")
    return paths


def read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """A state dict saved with ``torch.save`` (tensors only), on the CPU; ValueError for anything else."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No weights file at {path}.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # a pickled module, a truncated download, another format
        raise ConfigError(f"Cannot read {path} as a PyTorch state dict ({type(exc).__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else ''}). Pass the authors' "
                         "analysis_<exp_id>.pytorch and synthesis_<exp_id>.pytorch files.") from exc
    if not isinstance(state, Mapping) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ConfigError(f"{path} does not hold a state dict (a mapping of parameter names to tensors).")
    return dict(state)


def imported_config(model: DenoisingAutoencoder, run_id: str, dataset: str | None,
                    source: Mapping[str, Any]) -> dict[str, Any]:
    """The ``config.json`` of an imported model's run folder (see the module docstring)."""
    return {
        "run_id": run_id, "profile": "imported", "objective": "imported", "omega": None, "lam": None, "p": None,
        "seed": None, "epochs": None, "model": model.config.to_dict(), "dataset": dataset,
        "is_wav": None, "cache_dir": None, "max_train_tracks": None,
        # the published training procedure: what a separator's training batches follow
        "batch_size": 8, "learning_rate": 1e-4, "hop": None, "set_size": 4, "pad_sets_with_silence": False,
        "imported": dict(source),
    }


def import_weights(output_dir: str | os.PathLike, analysis: str | os.PathLike | None = None,
                   synthesis: str | os.PathLike | None = None, results_dir: str | os.PathLike | None = None,
                   exp_id: str | None = None, dataset: str | os.PathLike | None = None, stride: int = 256,
                   segment_length: int = 44100, sample_rate: int = 44100, dilation: int = 10) -> Path:
    """Write the authors' model as a run folder in ``output_dir``: ``model.pt`` and ``config.json``.

    Give either ``analysis`` and ``synthesis`` (the two files), or ``results_dir`` and ``exp_id``.
    ``dataset``: the data the run is evaluated on and a separator is trained on (None: ``$MUSDB_PATH``
    when set, else the synthetic corpus). Returns ``output_dir``.

    Raises:
        ValueError: neither or both ways of naming the files, or files that are not the authors' state dicts.
        FileNotFoundError: a file is missing.
    """
    by_files = analysis is not None or synthesis is not None
    by_folder = results_dir is not None or exp_id is not None
    if by_files == by_folder or (by_files and (analysis is None or synthesis is None)) or \
            (by_folder and (results_dir is None or exp_id is None)):
        raise ConfigError("Give either the two files (--analysis and --synthesis) or a results folder and an "
                         "experiment id (RESULTS_DIR --exp-id ID).")
    if by_folder:
        analysis, synthesis = original_files(results_dir, str(exp_id))  # type: ignore[arg-type]
    analysis, synthesis = Path(analysis), Path(synthesis)  # type: ignore[arg-type]
    try:
        model = from_original_state_dict(read_state_dict(analysis), read_state_dict(synthesis), stride=stride,
                                         segment_length=segment_length, sample_rate=sample_rate, dilation=dilation)
    except KeyError as exc:
        raise ConfigError(f"{analysis} and {synthesis} are not the authors' encoder and decoder state dicts: "
                         f"{exc.args[0]}") from exc
    except RuntimeError as exc:  # shapes that do not fit together
        raise ConfigError(f"The state dicts in {analysis} and {synthesis} do not fit one model: "
                         f"{str(exc).splitlines()[0]}") from exc
    output_dir = Path(output_dir)
    name = exp_id or analysis.stem.removeprefix("analysis_")
    source = {"analysis": str(analysis.resolve()), "synthesis": str(synthesis.resolve()), "exp_id": name,
              "published_by": AUTHORS_REPOSITORY}
    root = None if dataset is None else str(Path(dataset).expanduser().resolve())
    save_model(model, output_dir / MODEL)
    write_json(imported_config(model, f"imported-{name}", root, source), output_dir / CONFIG)
    return output_dir
