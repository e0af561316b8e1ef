"""One resumable training loop, one checkpoint format, one reader: for every model rlsv trains.

A trainer (the autoencoder's ``rlsv.run.train.fit``, the separator's) describes what differs -- its batches
and its optimisation step -- as a :class:`Loop`; :func:`run_epochs` does the rest the same way for all:

* the state (:class:`TrainingState`: the module, its optimiser, and the trainer's **own** random generators,
  a NumPy one for the data order and a torch one for noise; the global random state is never used);
* per step, the loss terms stay on the device and move to the host in one transfer every ``sync_every``
  steps (one host sync per ``sync_every`` steps, not per step), where they are checked for NaN/inf;
* after each epoch: the checkpoint (:func:`save_checkpoint`, atomic), the loss history (``losses.csv``),
  the SHA-256 of the weights and of the whole state (``epochs.csv``: what ``rlsv verify`` compares epoch by
  epoch), and a kept copy of the checkpoint for the epochs asked for (``checkpoints/epoch-KKK.pt``);
* resuming: :func:`read_checkpoint` reads a checkpoint with ``torch.load(weights_only=True)`` -- a checkpoint
  holds only tensors and plain Python values, so a run folder received from someone else cannot run code --
  and every failure to read it is one :class:`~rlsv.errors.RunFolderError` naming the file.

On the CPU a run interrupted and resumed ends with the same bits as one that never stopped.
"""

from __future__ import annotations

import hashlib
import json
import math
import pickle
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from rlsv.atomic import atomic_path, save_torch, write_text
from rlsv.errors import RunFolderError
from rlsv.run.files import EPOCHS, kept_checkpoint, load_error_text

__all__ = ["CHECKPOINT_FORMAT", "EPOCH_COLUMNS", "TrainingState", "Loop", "tensors_digest", "state_digests",
           "save_checkpoint", "read_checkpoint", "restore_state", "read_epochs", "run_epochs", "history_frame"]

CHECKPOINT_FORMAT = "rlsv-checkpoint/2"
EPOCH_COLUMNS: tuple[str, ...] = ("epoch", "steps", "weights_sha256", "state_sha256")


@dataclass
class TrainingState:
    """Everything a training run carries from one step to the next.

    Attributes:
        module: the model being trained.
        optimizer: its optimiser.
        data_rng: the NumPy generator that orders the data.
        torch_rng: the CPU torch generator of the trainer's random draws (e.g. input noise).
        history: one row per step: ``[epoch, step, *loss terms]``.
        epochs: per finished epoch, ``[epoch, steps, weights_sha256, state_sha256]``.
        epoch: epochs finished.
    """

    module: nn.Module
    optimizer: torch.optim.Optimizer
    data_rng: np.random.Generator
    torch_rng: torch.Generator
    history: list[list[float]] = field(default_factory=list)
    epochs: list[list[Any]] = field(default_factory=list)
    epoch: int = 0

    @classmethod
    def seeded(cls, module: nn.Module, optimizer: torch.optim.Optimizer, seed: int) -> "TrainingState":
        """A fresh state whose generators start from ``seed``."""
        return cls(module, optimizer, np.random.default_rng(seed), torch.Generator().manual_seed(seed))

    def rng_state(self) -> dict[str, Any]:
        """The generators' states as plain values and a tensor (what a checkpoint stores)."""
        return {"data": self.data_rng.bit_generator.state, "torch": self.torch_rng.get_state()}


@dataclass(frozen=True)
class Loop:
    """What one trainer does, for :func:`run_epochs`.

    Attributes:
        columns: the names of the loss terms a step returns (``losses.csv`` columns after ``epoch, step``).
        batches: ``batches(state)``, the batches of one epoch, drawn with the state's generators.
        step: ``step(batch, state) -> (len(columns),)`` tensor of the step's loss terms (detached; any device), or
            None for a batch it skipped (not an optimisation step: not counted, not recorded).
        batches_per_epoch: for the progress bar.
        describe: ``describe(epoch_frame) -> str``, the line printed after each epoch.
        finite_check: which term must stay finite (its index in ``columns``); a NaN/inf stops training.
    """

    columns: tuple[str, ...]
    batches: Callable[[TrainingState], Iterable[Any]]
    step: Callable[[Any, TrainingState], Tensor]
    batches_per_epoch: int
    describe: Callable[[pd.DataFrame], str] | None = None
    finite_check: int = -1


def _hash_tensor(digest: Any, name: str, tensor: Tensor) -> None:
    tensor = tensor.detach().cpu().contiguous()
    digest.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)}:".encode())
    digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")


def tensors_digest(tensors: Mapping[str, Tensor]) -> str:
    """SHA-256 hex digest of named tensors in their order (each name, dtype, shape and bytes): equal digests mean
    bit-identical tensors, e.g. the ``state_dict`` of two ``model.pt`` files."""
    digest = hashlib.sha256()
    for name, tensor in tensors.items():
        _hash_tensor(digest, name, tensor)
    return digest.hexdigest()


def _hash_value(digest: Any, prefix: str, value: Any) -> None:
    """Feed a nested structure of tensors and plain values into ``digest``, in a fixed order."""
    if isinstance(value, Tensor):
        _hash_tensor(digest, prefix, value)
    elif isinstance(value, Mapping):
        for key in sorted(value, key=str):
            _hash_value(digest, f"{prefix}/{key}", value[key])
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _hash_value(digest, f"{prefix}/{i}", item)
    else:
        digest.update(f"{prefix}={json.dumps(value, default=str)};".encode())


def state_digests(state: TrainingState) -> tuple[str, str]:
    """``(weights, state)`` SHA-256 hex digests: of the module's weights, and of the weights, the optimiser's
    state and both generators' states together. Equal digests mean bit-identical tensors."""
    weights = hashlib.sha256()
    _hash_value(weights, "module", state.module.state_dict())
    whole = weights.copy()
    _hash_value(whole, "optimizer", state.optimizer.state_dict())
    _hash_value(whole, "rng", state.rng_state())
    return weights.hexdigest(), whole.hexdigest()


def save_checkpoint(path: str | Path, state: TrainingState, config: Mapping[str, Any],
                    extra: Mapping[str, Any] | None = None) -> None:
    """Write ``state`` after ``state.epoch`` epochs, with the run's ``config`` (JSON values) and the trainer's
    ``extra`` entries (plain values and tensors only), atomically."""
    save_torch({"format": CHECKPOINT_FORMAT, "epoch": state.epoch, "config": dict(config),
                "module": {k: v.detach().cpu() for k, v in state.module.state_dict().items()},
                "optimizer": state.optimizer.state_dict(), "rng": state.rng_state(), "history": state.history,
                "epochs": state.epochs, **(extra or {})}, path)


def read_checkpoint(path: str | Path, device: torch.device | str = "cpu") -> dict[str, Any]:
    """A checkpoint written by :func:`save_checkpoint`, read without unpickling code (``weights_only=True``).

    Raises:
        RunFolderError: the file is not a readable torch file, not a checkpoint of this format, or holds
            objects other than tensors and plain values (a file made by an older rlsv or by someone else);
            the message names it and says what to do.
    """
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location=device, weights_only=True)
    except (pickle.UnpicklingError, EOFError, RuntimeError, ValueError, OSError, AttributeError) as error:
        if isinstance(error, (FileNotFoundError, PermissionError, IsADirectoryError)):
            raise
        raise RunFolderError(f"{path} is not a readable torch file of plain values ({load_error_text(error)}): it "
                             "may be truncated or damaged, made by an older rlsv, or not rlsv's. Delete it (or move "
                             "it away) and rerun: training starts again.") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != CHECKPOINT_FORMAT:
        raise RunFolderError(f"{path} is not an rlsv training checkpoint of format {CHECKPOINT_FORMAT!r} "
                             "(made by an older rlsv, or not a checkpoint); move it away or choose another output "
                             "folder.")
    return ckpt


def restore_state(state: TrainingState, ckpt: Mapping[str, Any]) -> None:
    """Put a checkpoint's module, optimiser, generators and history into ``state``."""
    state.module.load_state_dict(ckpt["module"])
    state.optimizer.load_state_dict(ckpt["optimizer"])
    state.data_rng.bit_generator.state = ckpt["rng"]["data"]
    state.torch_rng.set_state(ckpt["rng"]["torch"].cpu())
    state.history = [list(row) for row in ckpt["history"]]
    state.epochs = [list(row) for row in ckpt.get("epochs", [])]
    state.epoch = int(ckpt["epoch"])


def history_frame(rows: Sequence[Sequence[float]], columns: Sequence[str]) -> pd.DataFrame:
    """The step history as a frame: ``epoch, step, *columns``."""
    frame = pd.DataFrame([list(r) for r in rows], columns=["epoch", "step", *columns])
    return frame.astype({"epoch": int, "step": int})


def read_epochs(run_dir: str | Path) -> pd.DataFrame:
    """A run folder's ``epochs.csv`` (empty frame with :data:`EPOCH_COLUMNS` when absent)."""
    path = Path(run_dir) / EPOCHS
    if not path.is_file():
        return pd.DataFrame(columns=list(EPOCH_COLUMNS))
    return pd.read_csv(path, dtype={"weights_sha256": str, "state_sha256": str})


def _flush(pending: list[Tensor], state: TrainingState, epoch: int, step: int, loop: Loop, bar: tqdm,
           callback: Callable[[pd.DataFrame], None] | None) -> None:
    """Move the pending steps' loss terms to the host (one transfer), check them, record them, call ``callback``
    with the history so far (an epoch's last call comes before its checkpoint is written)."""
    if not pending:
        return
    values = torch.stack(pending).cpu().tolist()
    first = step - len(values) + 1
    for offset, terms in enumerate(values):
        if not math.isfinite(terms[loop.finite_check]):
            raise FloatingPointError(
                f"The loss became {terms[loop.finite_check]} at step {first + offset} (epoch {epoch}); the last "
                "checkpoint is kept. Lower the learning rate or check the data for NaNs.")
        state.history.append([epoch, first + offset, *terms])
    pending.clear()
    bar.set_postfix({name: f"{value:.3g}" for name, value in zip(loop.columns, values[-1])})
    if callback is not None:
        callback(history_frame(state.history, loop.columns))


def run_epochs(state: TrainingState, loop: Loop, epochs: int, run_dir: str | Path, checkpoint: str,
               losses: str, config: Mapping[str, Any], extra: Callable[[], Mapping[str, Any]] | None = None,
               keep: Iterable[int] = (), sync_every: int = 25, progress: bool = True,
               callback: Callable[[pd.DataFrame], None] | None = None, label: str = "epoch") -> pd.DataFrame:
    """Train ``state`` from epoch ``state.epoch + 1`` to ``epochs``; return the whole step history.

    Args:
        state, loop: what trains and how (:class:`TrainingState`, :class:`Loop`).
        epochs: the last epoch to train.
        run_dir, checkpoint, losses: the folder, and the names of its checkpoint and ``losses.csv``.
        config: the run's configuration (JSON values), stored in each checkpoint.
        extra: entries the trainer adds to each checkpoint (e.g. its convolution plan).
        keep: epochs whose checkpoint is also kept as ``checkpoints/epoch-KKK.pt``.
        sync_every: steps between host transfers of the loss terms (and calls of ``callback``).
        progress: tqdm bars; ``callback``: called with the history so far at each transfer and at each epoch's
            end, before its checkpoint (live plots).
        label: the progress bar's description.
    """
    run_dir = Path(run_dir)
    keep = set(keep)
    step = len(state.history)
    state.module.train()
    for epoch in range(state.epoch + 1, epochs + 1):
        bar = tqdm(total=loop.batches_per_epoch, desc=f"{label} {epoch}/{epochs}", unit="batch",
                   disable=not progress, leave=False)
        pending: list[Tensor] = []
        for batch in loop.batches(state):
            bar.update(1)
            terms = loop.step(batch, state)
            if terms is None:
                continue
            pending.append(terms)
            step += 1
            if len(pending) >= sync_every:
                _flush(pending, state, epoch, step, loop, bar, callback)
        _flush(pending, state, epoch, step, loop, bar, callback)
        bar.close()
        state.epoch = epoch
        state.epochs.append([epoch, step, *state_digests(state)])
        save_checkpoint(run_dir / checkpoint, state, config, extra() if extra else None)
        if epoch in keep:
            with atomic_path(run_dir / kept_checkpoint(epoch)) as kept:
                shutil.copyfile(run_dir / checkpoint, kept)
        frame = write_history(state, loop.columns, run_dir, losses)
        if progress and loop.describe is not None:
            tqdm.write(f"{label} {epoch}/{epochs}: {loop.describe(frame[frame['epoch'] == epoch])}")
    state.module.eval()
    return write_history(state, loop.columns, run_dir, losses)


def write_history(state: TrainingState, columns: Sequence[str], run_dir: Path, losses: str) -> pd.DataFrame:
    """``losses.csv`` and ``epochs.csv`` from the state (atomically); the step history's frame."""
    frame = history_frame(state.history, columns)
    write_text(frame.to_csv(index=False), run_dir / losses)
    epochs = pd.DataFrame([list(row) for row in state.epochs], columns=list(EPOCH_COLUMNS))
    write_text(epochs.to_csv(index=False), run_dir / EPOCHS)
    return frame
