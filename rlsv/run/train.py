"""Training of one run: ``fit(config, output_dir)``, resumable, bit for bit.

Procedure (published code, ``docs/paper_vs_code.md`` rows 15-17): Adam (lr 1e-4), batches of 8 one-second
segments, vocals and accompaniment shuffled independently and re-mixed, Gaussian noise (std 1e-4) on the
vocal input, scalar batch mean removed, ``L = neg-SNR + omega * regulariser``; 10 epochs, seed 218.

The loop, its checkpoints and its digests are ``rlsv.run.resumable``'s (shared with the separator). Files
written in ``output_dir`` (``docs/run_layout.md``): ``config.json``, ``provenance.json`` (code, machine,
threads, convolution plan, data: ``rlsv.run.provenance``), ``checkpoint.pt`` and ``losses.csv`` and
``epochs.csv`` (each epoch), ``checkpoints/epoch-KKK.pt`` (the kept epochs), ``model.pt`` (at the end). All
writes are atomic. Calling ``fit`` again on the same folder resumes from the last checkpoint (or returns at
once when the run is complete); on the CPU the resumed run ends with the same bits as an uninterrupted one.

Nothing here depends on timing: the convolution plan is resolved without timing unless asked
(``rlsv.run.conv_plan``), the thread count is the configuration's, and process-wide settings go through
``rlsv.run.runtime`` and are restored afterwards. The same command on the same machine gives the same bits.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from rlsv.atomic import remove_leftover_temporaries, save_torch, write_json
from rlsv.audio.fingerprint import dataset_fingerprint, fingerprint_changes
from rlsv.audio.musdb import MusdbDataset, fill_cache, resolve_dataset
from rlsv.audio.segments import count_training_batches, training_batches
from rlsv.core.conv import ConvPlan
from rlsv.core.model import DenoisingAutoencoder
from rlsv.core.step import make_optimizer, sample_input_noise, train_step
from rlsv.errors import ConfigError, DatasetError, RunFolderError
from rlsv.run.conv_plan import PlanChoice, resolve_conv_plan
from rlsv.run.device import resolve_device
from rlsv.run.files import CHECKPOINT, CONFIG, EPOCHS, LOSSES, MODEL, PROVENANCE
from rlsv.run.model_file import model_stamp, save_model, training_stamp
from rlsv.run.provenance import finish_session, read_provenance, session_record, write_run_provenance
from rlsv.run.resumable import (
    Loop,
    TrainingState,
    history_frame,
    read_checkpoint,
    restore_state,
    run_epochs,
    write_history,
)
from rlsv.run.runtime import Runtime, runtime, seeded
from rlsv.run.train_config import EXTENDABLE_FIELDS, TrainConfig, config_differences

__all__ = ["FitResult", "fit", "start_from_shorter_run", "HISTORY_COLUMNS", "CONVERGENCE_COLUMNS", "history_columns",
           "kept_epochs"]

HISTORY_COLUMNS: tuple[str, ...] = ("neg_snr", "regulariser", "loss")
"""The loss terms of a step (``losses.csv``: ``epoch, step`` and these)."""
CONVERGENCE_COLUMNS: tuple[str, ...] = ("sinkhorn_iterations", "sinkhorn_error")
"""For L_B, how each step's Sinkhorn solve ended (``losses.csv`` columns after the loss terms)."""


def history_columns(config: TrainConfig) -> tuple[str, ...]:
    """The columns of a run's step history after ``epoch, step``: the loss terms, and for L_B the convergence."""
    return HISTORY_COLUMNS + (CONVERGENCE_COLUMNS if config.objective == "sinkhorn" else ())


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model, the loss history, where things were written, and how."""

    model: DenoisingAutoencoder
    history: pd.DataFrame
    output_dir: Path
    resumed_from_epoch: int
    seconds: float
    conv_plan: PlanChoice | None = None


def kept_epochs(config: TrainConfig) -> tuple[int, ...]:
    """The epochs whose checkpoint a run keeps for ``rlsv verify --from-epoch``: ``config.keep_epochs``, by default
    the middle epoch (none for a one-epoch run)."""
    if config.keep_epochs is not None:
        return tuple(e for e in config.keep_epochs if 1 <= e < config.epochs)
    return (math.ceil(config.epochs / 2),) if config.epochs > 1 else ()


def _training_dataset(config: TrainConfig, progress: bool) -> MusdbDataset:
    dataset = resolve_dataset(config.dataset, is_wav=config.is_wav, subsets=("train",),
                              segment_length=config.model.segment_length, sample_rate=config.model.sample_rate,
                              cache_dir=config.cache_dir, progress=progress)
    dataset = dataset.with_first_tracks("train", config.max_train_tracks)  # None: all
    if not dataset.tracks("train"):
        raise DatasetError(f"No training tracks found under {dataset.root / 'train'}.")
    return dataset


def _require_some_vocals(dataset: MusdbDataset) -> None:
    """A training set whose vocals are all silent trains nothing (neg-SNR is then 240 dB with a zero
    gradient): refuse it. Stops at the first track with vocals (usually the first)."""
    for track in dataset.tracks("train"):
        if np.any(dataset.load(track).vocals):
            return
    names = ", ".join(t.name for t in dataset.tracks("train")[:5])
    more = ", ..." if len(dataset.tracks("train")) > 5 else ""
    raise DatasetError(f"Every training track's vocals are silent ({names}{more} under {dataset.root / 'train'}): "
                       "there is nothing to learn. Check the vocals stems.")


def _extension_problem(ckpt: dict, config: TrainConfig) -> str | None:
    """Why the checkpoint ``ckpt`` cannot start ``config``'s training by extension (None: it can): it must
    differ only in ``EXTENDABLE_FIELDS`` and hold no more epochs than ``config`` trains."""
    changed = [d for d in config_differences(ckpt["config"], config.to_json()) if d not in EXTENDABLE_FIELDS]
    if changed:
        return f"it was trained with other settings (differs in {changed})"
    if ckpt["epoch"] > config.epochs:
        return f"it already holds {ckpt['epoch']} epochs, more than the {config.epochs} asked for"
    return None


def _load_checkpoint(path: Path, config: TrainConfig, device: torch.device, extend: bool = False) -> dict | None:
    if not path.is_file():
        return None
    ckpt = read_checkpoint(path, device)
    changed = config_differences(ckpt["config"], config.to_json())
    if not changed:
        return ckpt
    if extend:
        problem = _extension_problem(ckpt, config)
        if problem is None:
            return ckpt
        raise ConfigError(f"{path.parent} cannot be extended to this run: {problem}.")
    hint = (" To train it on to more epochs, pass extend=True (rlsv train --extend)."
            if _extension_problem(ckpt, config) is None else "")
    raise ConfigError(f"{path.parent} holds a run with a different configuration (differs in {changed}). "
                      f"Use another output folder, or delete that folder to start over.{hint}")


def start_from_shorter_run(checkpoint: str | Path, output_dir: str | Path, config: TrainConfig) -> int:
    """Start ``config``'s run in ``output_dir`` from the epoch checkpoint of a shorter run with the same
    settings (another folder); return the epochs it already holds.

    The checkpoint holds the model, the optimiser and both random generators after its last epoch, so
    training on from it gives exactly the weights a run of ``config.epochs`` from scratch gives (on the
    CPU): its first epochs *are* the shorter run. It is written to ``output_dir/checkpoint.pt`` with
    ``config`` as its configuration, with the shorter run's provenance sessions and epoch digests, so
    :func:`fit` resumes it like an interrupted run and ``rlsv verify`` knows how its first epochs were made.

    Raises:
        ConfigError / RunFolderError: the checkpoint is not one, was trained with other settings, or holds
            more epochs.
    """
    checkpoint, output_dir = Path(checkpoint), Path(output_dir)
    ckpt = read_checkpoint(checkpoint)
    problem = _extension_problem(ckpt, config)
    if problem is not None:
        raise ConfigError(f"{checkpoint} cannot start this run: {problem}.")
    donor = read_provenance(checkpoint.parent)
    if donor is not None:
        write_json(donor | {"run_id": config.run_id, "variant": config.variant}, output_dir / PROVENANCE)
    save_torch(ckpt | {"config": config.to_json()}, output_dir / CHECKPOINT)
    return int(ckpt["epoch"])


def _check_same_data(ckpt: dict | None, fingerprint: dict[str, Any], output_dir: Path) -> None:
    """Refuse to go on training a run whose training data changed since its checkpoint (replaced at the same path,
    tracks added, removed or edited): the resumed epochs would train on other data than the first ones."""
    recorded = (ckpt or {}).get("data_sha256")
    if recorded is None or recorded == fingerprint["sha256"]:
        return
    before = ((read_provenance(output_dir) or {}).get("data") or {}).get("fingerprint")
    changes = fingerprint_changes(before, fingerprint) if before else []
    what = "; ".join(changes[:5]) + (f"; and {len(changes) - 5} more" if len(changes) > 5 else "") if changes else \
        "its content hash differs"
    raise DatasetError(f"The training data of the run in {output_dir} changed since it trained ({what}); its "
                       "remaining epochs would train on other data. Restore the data, or train into a new folder.")


def _plan_choice(ckpt: dict | None, config: TrainConfig, device: torch.device) -> PlanChoice:
    """How the run computes its convolutions: the plan its checkpoint recorded (a resumed run computes exactly
    as before, on the same kind of device), else ``config.conv_plan`` resolved (``rlsv.run.conv_plan``)."""
    recorded = (ckpt or {}).get("conv_plan")
    if recorded and recorded.get("device") == device.type:
        return PlanChoice(ConvPlan.parse(recorded["plan"]), "checkpoint")
    return resolve_conv_plan(config.conv_plan, config.model, config.batch_size, device)


def _new_model(config: TrainConfig, plan: ConvPlan, device: torch.device) -> DenoisingAutoencoder:
    """The run's initial model, drawn from ``config.seed`` without touching the global random state."""
    with seeded(config.seed):
        model = DenoisingAutoencoder(config.model, conv_plan=plan)
    return model.to(device)


def _autoencoder_loop(model: DenoisingAutoencoder, config: TrainConfig, dataset: MusdbDataset, device: torch.device,
                      batches_per_epoch: int) -> Loop:
    """The autoencoder's batches (``rlsv.audio.segments.training_batches``) and step (``rlsv.core.step``)."""
    objective = config.loss_objective()
    segmentation = config.segmentation()
    precision = torch.autocast(device.type, dtype=torch.bfloat16) if config.amp else None

    def step(batch: Any, state: TrainingState) -> torch.Tensor:
        vocals = torch.from_numpy(batch.vocals).to(device, non_blocking=True)
        accompaniment = torch.from_numpy(batch.accompaniment).to(device, non_blocking=True)
        noise = sample_input_noise(vocals.shape, config.noise_std, state.torch_rng).to(device, non_blocking=True)
        out = train_step(model, state.optimizer, objective, vocals, accompaniment, noise, precision)
        terms = [out.terms.neg_snr, out.terms.regulariser, out.terms.loss]
        if out.terms.convergence is not None:
            terms += list(out.terms.convergence.to(out.terms.loss.device))
        return torch.stack([t.detach().double() for t in terms])

    def describe(epoch: pd.DataFrame) -> str:
        last = epoch[list(HISTORY_COLUMNS)].mean()
        return f"neg_snr {last.neg_snr:.3f} dB, regulariser {last.regulariser:.4f}, loss {last.loss:.3f}"

    return Loop(history_columns(config), lambda state: training_batches(dataset, state.data_rng, segmentation), step,
                batches_per_epoch, describe, finite_check=HISTORY_COLUMNS.index("loss"))


def _training_state(model: DenoisingAutoencoder, config: TrainConfig) -> TrainingState:
    """A fresh training state: the model, its optimiser (``rlsv.core.step.make_optimizer`` with the run's
    settings) and the run's own generators, seeded by ``config.seed``."""
    return TrainingState.seeded(model, make_optimizer(model, config.learning_rate), config.seed)


def _runtime(config: TrainConfig, device: torch.device) -> Runtime:
    """The process settings of the run: its threads, CUDA's TF32 and deterministic cuDNN, glibc's allocator."""
    cuda = device.type == "cuda"
    return Runtime(threads=config.threads, tf32=config.tf32 if cuda else None, deterministic=True if cuda else None,
                   retain_freed_memory=device.type == "cpu")


def fit(config: TrainConfig, output_dir: str | Path, progress: bool = True,
        callback: Callable[[pd.DataFrame], None] | None = None, callback_every: int = 25,
        extend: bool = False) -> FitResult:
    """Train (or resume, or return a finished) run in ``output_dir``.

    Args:
        config: the run's configuration (validated when built).
        output_dir: folder of the run; created if needed.
        progress: tqdm bars (notebook-aware) with the running losses.
        callback: called with the loss history so far every ``callback_every`` steps (one host transfer of
            the losses each time) and at each epoch's end (live plots in notebooks).
        extend: let ``config`` ask for more epochs than the run in ``output_dir`` was made with (and carry
            other labels): training goes on from its last checkpoint. Without it a changed configuration
            is refused.

    Raises:
        rlsv.errors.UserError before any training for bad configurations or data; FloatingPointError if a
        loss becomes NaN/inf (the last checkpoint is kept).
    """
    start = time.perf_counter()
    output_dir = Path(output_dir)
    remove_leftover_temporaries(output_dir)  # of writes a kill interrupted
    device = resolve_device(config.device)
    ckpt = _load_checkpoint(output_dir / CHECKPOINT, config, device, extend)
    if ckpt is not None and ckpt["epoch"] >= config.epochs and (output_dir / MODEL).is_file():
        return _finished_run(ckpt, config, output_dir, device, start)  # nothing to train, no data work
    dataset = _training_dataset(config, progress)
    batches_per_epoch = count_training_batches(dataset, config.segmentation())
    if batches_per_epoch == 0:
        raise DatasetError(f"The training tracks under {dataset.root / 'train'} give fewer segments than one batch "
                           f"({config.batch_size}); use more tracks or a smaller batch size (--batch-size).")
    fill_cache(dataset, ("train",), progress=progress)
    _require_some_vocals(dataset)
    fingerprint = dataset_fingerprint(dataset, ("train",))
    _check_same_data(ckpt, fingerprint, output_dir)
    with runtime(_runtime(config, device)):
        choice = _plan_choice(ckpt, config, device)
        model = _new_model(config, choice.plan, device)
        state = _training_state(model, config)
        if ckpt is not None:
            restore_state(state, ckpt)
        resumed_from = state.epoch
        output_dir.mkdir(parents=True, exist_ok=True)
        write_json(config.to_json() | {"dataset_info": dataset.describe()}, output_dir / CONFIG)
        write_run_provenance(output_dir, config.to_json(), dataset.describe() | {"fingerprint": fingerprint},
                             session_record(device, torch.get_num_threads(), choice.to_dict(), resumed_from + 1,
                                            config.tf32, config.amp))
        history = run_epochs(
            state, _autoencoder_loop(model, config, dataset, device, batches_per_epoch), config.epochs, output_dir,
            CHECKPOINT, LOSSES, config.to_json(),
            extra=lambda: {"conv_plan": {"device": device.type, "plan": choice.plan.text},
                           "data_sha256": fingerprint["sha256"]},
            keep=kept_epochs(config), sync_every=callback_every, progress=progress, callback=callback)
    save_model(model, output_dir / MODEL, training_stamp(config.to_json()))  # last: the run is complete
    finish_session(output_dir, config.epochs)
    return FitResult(model, history, output_dir, resumed_from, time.perf_counter() - start, choice)


def _losses_rows(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return sum(1 for _ in fh) - 1
    except (OSError, UnicodeDecodeError):
        return None


def _finished_run(ckpt: dict, config: TrainConfig, output_dir: Path, device: torch.device,
                  start: float) -> FitResult:
    """The result of a run whose checkpoint already holds every epoch (and whose model file exists).

    The files a kill or a hand may have left wrong are restored from the checkpoint: ``losses.csv`` and
    ``epochs.csv`` when they lack rows, ``model.pt`` when it is not this run's (another run's copy, or
    unreadable).
    """
    plan = ConvPlan.parse((ckpt.get("conv_plan") or {}).get("plan", ConvPlan().text))
    model = DenoisingAutoencoder(config.model, conv_plan=plan)
    model.load_state_dict(ckpt["module"])
    model = model.to(device).eval()
    state = _training_state(model, config)
    state.history, state.epochs, state.epoch = ckpt["history"], ckpt.get("epochs", []), ckpt["epoch"]
    if _losses_rows(output_dir / LOSSES) != len(ckpt["history"]) or _losses_rows(output_dir / EPOCHS) != ckpt["epoch"]:
        write_history(state, history_columns(config), output_dir, LOSSES)
    stamp = training_stamp(config.to_json())
    try:
        belongs = model_stamp(output_dir / MODEL) == stamp
    except RunFolderError:  # not a readable torch file
        belongs = False
    if not belongs:
        save_model(model, output_dir / MODEL, stamp)
    return FitResult(model, history_frame(ckpt["history"], history_columns(config)), output_dir, ckpt["epoch"],
                     time.perf_counter() - start, PlanChoice(plan, "checkpoint"))

