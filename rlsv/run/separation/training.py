"""Training a blind mask estimator on a run: ``train_separator(run_dir)``, resumable like ``rlsv train``.

The run's autoencoder is frozen (learned front end), or the STFT is used (baseline front end); only the
mask estimator (``rlsv.core.separation.mask_estimator``) learns. Data: the run's own training tracks and
segmentation (``rlsv.run.separation.training_data``), vocals and accompaniment shuffled independently and
re-mixed, ``mixture = vocals + accompaniment`` (no mean removal, as in the evaluation). Loss: negative
SI-SDR of the resynthesised vocals over the segments with active vocals (``rlsv.core.separation.loss``,
which says why). Adam, one step per batch.

Before the first epoch the estimator's input normalisation is set from the magnitudes of up to
``statistics_batches`` training batches (drawn with a generator of their own, so the training batches
do not depend on it).

The loop, its checkpoint format and its reader are the autoencoder's (``rlsv.run.resumable``): the
estimator's own generators, one host transfer of the losses every ``callback_every`` steps (whether a batch
has active vocals is decided on the host, before it moves to the device), checkpoints read without
unpickling code. Files in the separator folder (``docs/run_layout.md``, "Separators"): ``config.json``,
``checkpoint.pt``, ``losses.csv`` and ``epochs.csv`` (each epoch), ``separator.pt`` (at the end), all written
atomically. Calling it again resumes from the last checkpoint (the estimator, the optimiser and both random
generators), or returns at once when it is complete; on the CPU a resumed training ends with the same weights
as an uninterrupted one.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from rlsv.atomic import write_json
from rlsv.audio.musdb import fill_cache
from rlsv.audio.segments import count_training_batches, training_batches
from rlsv.core.conv import ConvPlan
from rlsv.core.separation.front_ends import FRONT_ENDS, FrontEnd, LearnedFrontEnd
from rlsv.core.separation.loss import active_segments, negative_si_sdr
from rlsv.core.separation.mask_estimator import (
    DEFAULT_BUDGET,
    EstimatorConfig,
    MaskEstimator,
    hidden_for_budget,
    input_statistics,
    parameter_count,
)
from rlsv.errors import ConfigError
from rlsv.run.conv_plan import resolve_conv_plan
from rlsv.run.device import resolve_device
from rlsv.run.files import MODEL
from rlsv.run.resumable import Loop, TrainingState, history_frame, read_checkpoint, restore_state, run_epochs
from rlsv.run.runtime import seeded
from rlsv.run.separation.files import (
    SEPARATOR_CHECKPOINT,
    SEPARATOR_CONFIG,
    SEPARATOR_LOSSES,
    SEPARATOR_MODEL,
    read_json_config,
    run_front_end,
    separator_dir,
)
from rlsv.run.separation.separator import Separator, build_front_end, file_sha256, load_separator, save_separator
from rlsv.run.separation.training_data import TrainingData, data_run_for

__all__ = ["SeparatorConfig", "SeparatorResult", "train_separator", "estimator_config", "resolve_front_end",
           "HISTORY_COLUMNS"]

LOSS_COLUMNS: tuple[str, ...] = ("loss", "active")
HISTORY_COLUMNS = ["epoch", "step", *LOSS_COLUMNS]
# config.json entries that may differ between a training and its resumption (where it ran, and where
# the folders lie) without changing its result
_RESUMABLE = frozenset({"device", "run_dir", "data_run", "dataset_info", "conv_plan"})


@dataclass(frozen=True)
class SeparatorConfig:
    """Settings of a mask estimator's training (``config.json``'s ``separator`` entry).

    Attributes:
        front_end: ``"learned"`` (the run's frozen autoencoder) or ``"stft"`` (Hann, ``n_fft``, ``stft_hop``).
        epochs: passes over the run's training tracks.
        learning_rate: Adam's step size.
        seed: estimator seed (initial weights, batch order); ``218, 219, ...`` for several.
        budget: the estimator's parameter budget; its width ``H`` is the largest that fits
            (``rlsv.core.separation.mask_estimator.hidden_for_budget``), so both front ends get the same budget.
        lstm_layers: stacked bidirectional LSTM layers.
        n_fft, stft_hop: the STFT front end's transform (Table 2's baseline: 2048, 256).
        statistics_batches: training batches that set the input normalisation.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ...
    """

    front_end: str = "learned"
    epochs: int = 20
    learning_rate: float = 1e-3
    seed: int = 218
    budget: int = DEFAULT_BUDGET
    lstm_layers: int = 1
    n_fft: int = 2048
    stft_hop: int = 256
    statistics_batches: int = 100
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.front_end not in FRONT_ENDS:
            raise ConfigError(f"Unknown front end {self.front_end!r}; use 'learned' or 'stft' (--front-end).")
        for name in ("epochs", "budget", "lstm_layers", "n_fft", "stft_hop", "statistics_batches"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}.")
        if not (math.isfinite(self.learning_rate) and self.learning_rate > 0):
            raise ConfigError(f"learning_rate must be > 0, got {self.learning_rate!r}.")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SeparatorResult:
    """What :func:`train_separator` returns."""

    separator: Separator
    history: pd.DataFrame
    output_dir: Path
    resumed_from_epoch: int
    seconds: float

    @property
    def parameters(self) -> int:
        """Trainable parameters of the estimator."""
        return sum(p.numel() for p in self.separator.estimator.parameters())


def estimator_config(n_bins: int, config: SeparatorConfig) -> EstimatorConfig:
    """The estimator of ``config``'s budget on ``n_bins`` bins."""
    hidden = hidden_for_budget(n_bins, config.budget, config.lstm_layers)
    return EstimatorConfig(n_bins=n_bins, hidden=hidden, lstm_layers=config.lstm_layers)


def _history_frame(rows: list[list[float]] | pd.DataFrame) -> pd.DataFrame:
    frame = rows if isinstance(rows, pd.DataFrame) else history_frame(rows, LOSS_COLUMNS)
    return frame.astype({"epoch": int, "step": int, "active": int})


def _stored_settings(config: dict[str, Any]) -> dict[str, Any]:
    """What must agree between a checkpoint and a resumption: everything but ``_RESUMABLE``."""
    settings = {k: v for k, v in config.items() if k not in _RESUMABLE}
    settings["separator"] = {k: v for k, v in config["separator"].items() if k not in _RESUMABLE}
    return settings


def _differences(stored: dict[str, Any], current: dict[str, Any]) -> list[str]:
    a, b = _stored_settings(stored), _stored_settings(current)
    top = sorted(k for k in a.keys() | b.keys() if k != "separator" and a.get(k) != b.get(k))
    inner = sorted(k for k in a["separator"].keys() | b["separator"].keys()
                   if a["separator"].get(k) != b["separator"].get(k))
    return inner + top


def _read_checkpoint(path: Path, config: dict[str, Any]) -> dict | None:
    if not path.is_file():
        return None
    ckpt = read_checkpoint(path)
    changed = _differences(ckpt["config"], config)
    if changed:
        raise ConfigError(f"{path.parent} holds a separator trained with other settings (differs in {changed}). "
                          "Delete that folder to start over, or use another seed (--seed).")
    return ckpt


def _conv_plan(ckpt: dict | None, front_end: FrontEnd, batch_size: int, device: torch.device) -> dict | None:
    """Fix the frozen autoencoder's convolution plan: the checkpoint's (a resumed training computes exactly as
    before on the same kind of device), else the device's fixed plan (``rlsv.run.conv_plan``); None for the STFT."""
    if not isinstance(front_end, LearnedFrontEnd):
        return None
    recorded = (ckpt or {}).get("conv_plan")
    if recorded and recorded.get("device") == device.type:
        front_end.model.conv_plan = ConvPlan.parse(recorded["plan"])
    else:
        front_end.model.conv_plan = resolve_conv_plan("fixed", front_end.model.config, batch_size, device).plan
    return {"device": device.type, "plan": front_end.model.conv_plan.text}


def _set_input_statistics(separator: Separator, dataset, data: TrainingData, config: SeparatorConfig,
                          device: torch.device) -> None:
    """Input normalisation from up to ``config.statistics_batches`` training batches (a generator of their own)."""
    rng = np.random.default_rng([config.seed, 1])
    magnitudes = []
    for k, batch in enumerate(training_batches(dataset, rng, data.segmentation())):
        if k >= config.statistics_batches:
            break
        mixture = torch.from_numpy(batch.vocals + batch.accompaniment).to(device)
        magnitudes.append(separator.front_end.analyse(mixture).magnitude.cpu())
    separator.estimator.set_input_statistics(
        {k: v.to(device) for k, v in input_statistics(torch.cat(magnitudes)).items()})


def _planned_config(run_dir: Path, data_run: Path, config: SeparatorConfig, data: TrainingData,
                    estimator: EstimatorConfig, front_end: FrontEnd) -> dict[str, Any]:
    """The separator's ``config.json`` (JSON values)."""
    learned = config.front_end == "learned"
    return {
        "separator": config.to_dict(), "data": data.to_dict(), "estimator": estimator.to_dict(),
        "parameters": parameter_count(estimator.n_bins, estimator.hidden, estimator.lstm_layers),
        "front_end": front_end.describe(), "run_id": read_json_config(run_dir).get("run_id"),
        "run_dir": str(run_dir.resolve()), "data_run": str(data_run.resolve()),
        "model_sha256": file_sha256(run_dir / MODEL) if learned else None,
    }


def train_separator(run_dir: str | Path, config: SeparatorConfig = SeparatorConfig(),
                    output_dir: str | Path | None = None, data_run: str | Path | None = None, progress: bool = True,
                    callback: Callable[[pd.DataFrame], None] | None = None,
                    callback_every: int = 25) -> SeparatorResult:
    """Train (or resume, or return a finished) mask estimator on the run in ``run_dir``.

    Args:
        run_dir: a trained run (its ``model.pt`` and ``config.json``), an imported model, or -- for
            ``config.front_end == "stft"`` -- any run folder, e.g. the run set's STFT run.
        config: the estimator's settings.
        output_dir: where its files go (default ``rlsv.run.separation.files.separator_dir(run_dir, front end, seed)``).
        data_run: the run whose training data and segmentation are used (default: ``run_dir``, or for an STFT
            run folder a trained run of the same run set, ``rlsv.run.separation.training_data.data_run_for``).
        progress: tqdm bars.
        callback: called with the loss history every ``callback_every`` steps and after each epoch.

    Raises:
        FileNotFoundError: the learned front end and no ``model.pt`` (train the run first).
        ValueError / rlsv.audio.musdb.DatasetError: bad settings or data, before any training.
        FloatingPointError: the loss became NaN or infinite (the last checkpoint is kept).
    """
    start = time.perf_counter()
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder at {run_dir}.")
    device = resolve_device(config.device)
    data_run = Path(data_run) if data_run is not None else data_run_for(run_dir)
    data = TrainingData.from_run_config(_data_run_config(data_run))
    front_end = build_front_end(config.front_end, run_dir, data.segment_length, config.n_fft, config.stft_hop, device)
    if isinstance(front_end, LearnedFrontEnd) and front_end.model.config.segment_length != data.segment_length:
        raise ConfigError(f"The model of {run_dir} takes segments of {front_end.model.config.segment_length} samples, "
                         f"but the training data of {data_run} is cut into {data.segment_length}; pass a data run "
                         "of the same run set.")
    estimator_cfg = estimator_config(front_end.n_bins, config)
    output_dir = Path(output_dir) if output_dir is not None else separator_dir(run_dir, config.front_end, config.seed)
    planned = _planned_config(run_dir, data_run, config, data, estimator_cfg, front_end)
    ckpt = _read_checkpoint(output_dir / SEPARATOR_CHECKPOINT, planned)
    if ckpt is not None and ckpt["epoch"] >= config.epochs and (output_dir / SEPARATOR_MODEL).is_file():
        return SeparatorResult(load_separator(output_dir, device), _history_frame(ckpt["history"]), output_dir,
                               ckpt["epoch"], time.perf_counter() - start)

    dataset = data.load(progress)
    segmentation = data.segmentation()
    batches_per_epoch = count_training_batches(dataset, segmentation)
    if batches_per_epoch == 0:
        raise ConfigError(f"The training tracks of {data_run} give fewer segments than one batch ({data.batch_size}).")
    fill_cache(dataset, ("train",), progress=progress)

    with seeded(config.seed):  # the estimator's initial weights, the global random state untouched
        estimator = MaskEstimator(estimator_cfg)
    separator = Separator(front_end, estimator.to(device), data.sample_rate)
    state = TrainingState.seeded(separator.estimator, torch.optim.Adam(separator.estimator.parameters(),
                                                                       lr=config.learning_rate), config.seed)
    conv_plan = _conv_plan(ckpt, front_end, data.batch_size, device)
    if ckpt is None:
        _set_input_statistics(separator, dataset, data, config, device)
    else:
        restore_state(state, ckpt)
    resumed_from = state.epoch
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(planned | {"dataset_info": dataset.describe(), "conv_plan": conv_plan}, output_dir / SEPARATOR_CONFIG)
    history = run_epochs(state, _separator_loop(separator, dataset, data, device, batches_per_epoch), config.epochs,
                         output_dir, SEPARATOR_CHECKPOINT, SEPARATOR_LOSSES, planned,
                         extra=lambda: {"conv_plan": conv_plan}, sync_every=callback_every, progress=progress,
                         callback=callback, label="separator epoch")
    save_separator(separator, output_dir / SEPARATOR_MODEL, model_sha256=planned["model_sha256"],
                   run_id=planned["run_id"])
    return SeparatorResult(separator, _history_frame(history), output_dir, resumed_from,
                           time.perf_counter() - start)


def _data_run_config(run_dir: Path) -> dict[str, Any]:
    """``config.json`` of the run whose training data the separator uses (FileNotFoundError saying what to do)."""
    config = read_json_config(run_dir)
    if not config:
        raise FileNotFoundError(f"No config.json in {run_dir}: the separator needs the run's training data and "
                                "segmentation. Train the run with rlsv train, or import it with rlsv import-weights.")
    return config


def _separator_loop(separator: Separator, dataset, data: TrainingData, device: torch.device,
                    batches_per_epoch: int) -> Loop:
    """The separator's batches (the run's training batches) and step: one Adam step per batch with active vocals."""
    segmentation = data.segmentation()

    def step(batch: Any, state: TrainingState) -> torch.Tensor | None:
        vocals = torch.from_numpy(batch.vocals)
        active = active_segments(vocals)  # on the host, before the batch moves: no device sync
        if not bool(active.any()):  # no vocals in the whole batch: nothing to learn from it
            return None
        vocals = vocals.to(device)
        mixture = vocals + torch.from_numpy(batch.accompaniment).to(device)
        loss = negative_si_sdr(vocals, separator(mixture), active.to(device))
        state.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        state.optimizer.step()
        return torch.stack([loss.detach().float(), active.sum().to(device=loss.device, dtype=torch.float32)])

    def describe(epoch: pd.DataFrame) -> str:
        return f"SI-SDR {-epoch['loss'].mean():.2f} dB"

    return Loop(LOSS_COLUMNS, lambda state: training_batches(dataset, state.data_rng, segmentation), step,
                batches_per_epoch, describe, finite_check=0)


def resolve_front_end(run_dir: str | Path, front_end: str | None) -> str:
    """``front_end``, or the run's own when None (``"stft"`` for an STFT run folder, else ``"learned"``)."""
    return front_end or run_front_end(run_dir)
