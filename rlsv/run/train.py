"""Training of one run: ``fit(config, output_dir)``, resumable, with atomic per-epoch checkpoints.

Procedure (published code, ``docs/paper_vs_code.md`` rows 15-17): Adam (lr 1e-4), batches of 8 one-second
segments, vocals and accompaniment shuffled independently and re-mixed, Gaussian noise (std 1e-4)
on the vocal input, scalar batch mean removed, ``L = neg-SNR + omega * regulariser``; 10 epochs
(the shipped settings file says 8), seed 218.

Files written in ``output_dir`` (see ``docs/run_layout.md``): ``config.json``, ``checkpoint.pt``
(each epoch), ``losses.csv`` (each epoch), ``model.pt`` (at the end). All writes are atomic. Calling
``fit`` again on the same folder resumes from the last checkpoint (or returns at once when the run
is complete); on CPU the resumed run ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import ctypes
import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
import torch
from tqdm.auto import tqdm

from rlsv.atomic import remove_leftover_temporaries, save_torch, write_json, write_text
from rlsv.audio.musdb import MusdbDataset, fill_cache, resolve_dataset
from rlsv.audio.segments import TrainingSegmentation, count_training_batches, training_batches
from rlsv.core.conv import ConvPlan
from rlsv.core.losses import OBJECTIVES, Objective
from rlsv.core.model import DenoisingAutoencoder, ModelConfig, model_from_payload, model_payload
from rlsv.core.step import make_optimizer, sample_input_noise, train_step
from rlsv.errors import ConfigError
from rlsv.run.device import resolve_device
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL
from rlsv.run.model_file import model_stamp, read_torch_file, save_model, training_stamp

__all__ = ["TrainConfig", "FitResult", "fit", "start_from_shorter_run", "retain_freed_memory", "config_differences",
           "RESUMABLE_FIELDS", "EXTENDABLE_FIELDS"]

_CHECKPOINT_FORMAT = "rlsv-checkpoint/1"
# Fields that may change between a run and its resumption without changing its result
# (``dataset_info`` is what config.json records about the data, not a setting).
RESUMABLE_FIELDS = frozenset({"device", "cache_dir", "tf32", "amp", "dataset_info", "conv_plan"})
HISTORY_COLUMNS = ["epoch", "step", "neg_snr", "regulariser", "loss"]


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (written to ``config.json``).

    Attributes:
        objective: ``"tv"`` (L_A) or ``"sinkhorn"`` (L_B).
        omega: weight of the representation term.
        lam, p: Sinkhorn entropic regularisation (> 0) and cost norm (1 or 2); None for ``"tv"``
            (``p`` defaults to 1 for ``"sinkhorn"``).
        epochs, batch_size, learning_rate, seed, noise_std: the published 10, 8, 1e-4, 218, 1e-4.
        model: autoencoder sizes and initialisation.
        hop: training segment hop in samples (None: half a segment, the published 50 % overlap).
        set_size: tracks shuffled together (4).
        pad_sets_with_silence: reproduce the published all-zero padding of each set (off).
        dataset, is_wav, cache_dir: data root (None: ``$MUSDB_PATH``, else the synthetic corpus),
            its format (None: detect) and the decode cache folder.
        max_train_tracks: use only the first training tracks (None: all).
        tv_form, sinkhorn_grad, sinkhorn_max_iter, sinkhorn_tol: loss options (see ``rlsv.core.losses``).
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:1"``...
        tf32: allow TF32 matmuls/convolutions on CUDA (off: full float32).
        amp: bfloat16 autocast for the encoder/decoder on CUDA (off).
        run_id, profile, variant: labels, kept in ``config.json`` (``rlsv.run.config.RunParameters``).
    """

    objective: str = "tv"
    omega: float = 1.0
    lam: float | None = None
    p: int | None = None
    epochs: int = 10
    batch_size: int = 8
    learning_rate: float = 1e-4
    seed: int = 218
    noise_std: float = 1e-4
    model: ModelConfig = field(default_factory=ModelConfig)
    hop: int | None = None
    set_size: int = 4
    pad_sets_with_silence: bool = False
    dataset: str | None = None
    is_wav: bool | None = None
    cache_dir: str | None = None
    max_train_tracks: int | None = None
    tv_form: str = "published"
    sinkhorn_grad: str = "implicit"
    sinkhorn_max_iter: int = 1000
    sinkhorn_tol: float = 1e-5
    device: str = "auto"
    tf32: bool = False
    amp: bool = False
    run_id: str = ""
    profile: str = "custom"
    variant: str = ""

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"Unknown objective {self.objective!r}: use 'tv' (L_A) or 'sinkhorn' (L_B).")
        if self.objective == "sinkhorn":
            if self.lam is None:
                raise ConfigError("The Sinkhorn objective needs lam (entropic regularisation), e.g. lam=1.5.")
            if self.p is None:
                object.__setattr__(self, "p", 1)
        else:
            unused = [f"{name}={getattr(self, name)!r}" for name in ("lam", "p") if getattr(self, name) is not None]
            if unused:
                raise ConfigError(f"The tv objective (L_A) does not use {' and '.join(unused)}; leave them out, or "
                                 "choose objective='sinkhorn' (L_B).")
        for name in ("epochs", "batch_size", "set_size", "sinkhorn_max_iter"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{name} must be an integer >= 1, got {value!r}.")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}.")
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 1):
            raise ConfigError(f"learning_rate must be in (0, 1] (Adam moves each weight by about the learning rate "
                             f"per step; the paper uses 1e-4), got {self.learning_rate!r}.")
        if not (math.isfinite(self.noise_std) and self.noise_std >= 0):
            raise ConfigError(f"noise_std must be >= 0, got {self.noise_std!r}.")
        if self.hop is not None and not 1 <= self.hop <= self.model.segment_length:
            raise ConfigError(f"hop must be in [1, segment_length={self.model.segment_length}], got {self.hop}.")
        if self.max_train_tracks is not None and self.max_train_tracks < 1:
            raise ConfigError(f"max_train_tracks must be >= 1 or None, got {self.max_train_tracks}.")
        self.loss_objective()  # validates omega, lam, p and the loss options

    def loss_objective(self) -> Objective:
        """The ``rlsv.core.losses.Objective`` of this run."""
        return Objective(kind=self.objective, omega=self.omega, lam=self.lam if self.lam is not None else 1.0,
                         p=self.p if self.p is not None else 1, tv_form=self.tv_form,
                         sinkhorn_grad=self.sinkhorn_grad, max_iter=self.sinkhorn_max_iter, tol=self.sinkhorn_tol)

    def segmentation(self) -> TrainingSegmentation:
        n = self.model.segment_length
        return TrainingSegmentation(segment_length=n, hop=self.hop or n // 2, set_size=self.set_size,
                                    batch_size=self.batch_size, pad_sets_with_silence=self.pad_sets_with_silence)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> dict[str, Any]:
        """The configuration as plain JSON types (as stored in checkpoints and ``config.json``)."""
        return json.loads(json.dumps(self.to_dict()))


@dataclass
class FitResult:
    """What ``fit`` returns: the trained model, the loss history and where things were written."""

    model: DenoisingAutoencoder
    history: pd.DataFrame
    output_dir: Path
    resumed_from_epoch: int
    seconds: float


def retain_freed_memory() -> bool:
    """Let this process's C allocator keep freed memory for reuse (glibc only); True if it was applied.

    A CPU training step at paper size allocates and frees a few hundred MB of tensors. By default
    glibc serves large blocks (all above 32 MB, and the others once it trims the heap) with fresh
    pages from the kernel, so the next step touches new memory again: about 25,000 page faults per
    step, some 50 ms of CPU time (2 us each here). With ``mmap`` for large blocks off and heap
    trimming raised to 2 GB, steps after the first reuse the same memory and fault no more. The
    process keeps its peak memory instead of returning it between steps. Process-wide; a no-op
    on other platforms and C libraries.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_max = -1, -4  # <malloc.h>
        return bool(libc.mallopt(m_mmap_max, 0)) and bool(libc.mallopt(m_trim_threshold, 2 ** 31 - 1))
    except (OSError, AttributeError):
        return False






def _training_dataset(config: TrainConfig, progress: bool) -> MusdbDataset:
    dataset = resolve_dataset(config.dataset, is_wav=config.is_wav, subsets=("train",),
                              segment_length=config.model.segment_length, sample_rate=config.model.sample_rate,
                              cache_dir=config.cache_dir, progress=progress)
    dataset = dataset.with_first_tracks("train", config.max_train_tracks)  # None: all
    if not dataset.tracks("train"):
        raise ConfigError(f"No training tracks found under {dataset.root / 'train'}.")
    return dataset


def _require_some_vocals(dataset: MusdbDataset) -> None:
    """A training set whose vocals are all silent trains nothing (neg-SNR is then 240 dB with a zero
    gradient): refuse it. Stops at the first track with vocals (usually the first)."""
    for track in dataset.tracks("train"):
        if np.any(dataset.load(track).vocals):
            return
    names = ", ".join(t.name for t in dataset.tracks("train")[:5])
    raise ConfigError(f"Every training track's vocals are silent ({names}{', ...' if len(dataset.tracks('train')) > 5 else ''} "
                     f"under {dataset.root / 'train'}): there is nothing to learn. Check the vocals stems.")


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """Fields in which two run configurations (JSON dicts) differ, ignoring ``RESUMABLE_FIELDS``."""
    keys = (stored.keys() | current.keys()) - RESUMABLE_FIELDS
    return sorted(k for k in keys if stored.get(k) != current.get(k))


# Fields in which a shorter run may differ from the run that extends it: the length, and the labels
# that name it (a run id and a settings hash encode the epochs).
EXTENDABLE_FIELDS = frozenset({"epochs", "run_id", "variant"})


def _read_checkpoint(path: Path, device: torch.device | str = "cpu") -> dict:
    ckpt = read_torch_file(path, device, weights_only=False)
    if not isinstance(ckpt, dict) or ckpt.get("format") != _CHECKPOINT_FORMAT:
        raise ConfigError(f"{path} is not an rlsv training checkpoint; move it away or choose another output folder.")
    return ckpt


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
    ckpt = _read_checkpoint(path, device)
    changed = config_differences(ckpt["config"], config.to_json())
    if not changed:
        return ckpt
    if extend:
        problem = _extension_problem(ckpt, config)
        if problem is None:
            return ckpt
        raise ConfigError(f"{path.parent} cannot be extended to this run: {problem}.")
    hint = " To train it for more epochs, pass extend=True (rlsv train --extend)." if changed == ["epochs"] else ""
    raise ConfigError(
        f"{path.parent} holds a run with a different configuration (differs in {changed}). "
        f"Use another output folder, or delete that folder to start over.{hint}"
    )


def start_from_shorter_run(checkpoint: str | Path, output_dir: str | Path, config: TrainConfig) -> int:
    """Start ``config``'s run in ``output_dir`` from the epoch checkpoint of a shorter run with the same
    settings (another folder); return the epochs it already holds.

    The checkpoint holds the model, the optimiser and both random generators after its last epoch,
    so training on from it gives exactly the weights a run of ``config.epochs`` from scratch gives (on
    the CPU): its first epochs *are* the shorter run. It is written to ``output_dir/checkpoint.pt``
    with ``config`` as its configuration, so :func:`fit` resumes it like an interrupted run.

    Raises:
        ValueError: the checkpoint is not one, was trained with other settings, or holds more epochs.
    """
    ckpt = _read_checkpoint(Path(checkpoint))
    problem = _extension_problem(ckpt, config)
    if problem is not None:
        raise ConfigError(f"{checkpoint} cannot start this run: {problem}.")
    save_torch(ckpt | {"config": config.to_json()}, Path(output_dir) / CHECKPOINT)
    return int(ckpt["epoch"])


def _rng_state(data_rng: np.random.Generator, noise_rng: torch.Generator) -> dict[str, Any]:
    return {"data": data_rng.bit_generator.state, "noise": noise_rng.get_state()}


def _conv_plan(ckpt: dict | None, model: DenoisingAutoencoder, config: TrainConfig, device: torch.device) -> ConvPlan:
    """How the run computes its convolutions: the plan its checkpoint recorded (a resumed run computes
    exactly as before, on the same kind of device), else the fastest for this device
    (``rlsv.core.conv_tuning``, timed once per process and shape)."""
    recorded = (ckpt or {}).get("conv_plan")
    if recorded and recorded.get("device") == device.type:
        return ConvPlan.from_dict(recorded["plan"])
    return model.tune(config.batch_size)


def _save_checkpoint(path: Path, model: DenoisingAutoencoder, optimizer: torch.optim.Optimizer, epoch: int,
                     config: TrainConfig, rng: dict[str, Any], history: list[list[float]]) -> None:
    device = model.encoder.analysis_kernels.device
    save_torch({
        "format": _CHECKPOINT_FORMAT,
        "epoch": epoch,
        "config": config.to_json(),
        "model": model_payload(model),
        "optimizer": optimizer.state_dict(),
        "rng": rng,
        "history": history,
        "conv_plan": {"device": device.type, "plan": model.conv_plan.to_dict()},
    }, path)


def _history_frame(rows: list[list[float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=HISTORY_COLUMNS)
    return frame.astype({"epoch": int, "step": int})


def fit(config: TrainConfig, output_dir: str | Path, progress: bool = True,
        callback: Callable[[pd.DataFrame], None] | None = None, callback_every: int = 25,
        extend: bool = False) -> FitResult:
    """Train (or resume, or return a finished) run in ``output_dir``.

    Args:
        config: the run's configuration (validated when built).
        output_dir: folder of the run; created if needed.
        progress: tqdm bars (notebook-aware) with the running losses.
        callback: called with the loss history so far every ``callback_every`` steps and at each
            epoch's end (live plots in notebooks).
        extend: let ``config`` ask for more epochs than the run in ``output_dir`` was made with (and
            carry other labels): training goes on from its last checkpoint. Without it a changed
            configuration is refused.

    Raises:
        ValueError / rlsv.audio.musdb.DatasetError before any training for bad configurations or data;
        FloatingPointError if a loss becomes NaN/inf (the last checkpoint is kept).
    """
    start = time.perf_counter()
    output_dir = Path(output_dir)
    remove_leftover_temporaries(output_dir)  # of writes a kill interrupted
    device = resolve_device(config.device)
    objective = config.loss_objective()
    segmentation = config.segmentation()
    checkpoint_path = output_dir / CHECKPOINT
    ckpt = _load_checkpoint(checkpoint_path, config, device, extend)
    if ckpt is not None and ckpt["epoch"] >= config.epochs and (output_dir / MODEL).is_file():
        return _finished_run(ckpt, output_dir, device, start, config)  # nothing to train, no data work
    dataset = _training_dataset(config, progress)
    batches_per_epoch = count_training_batches(dataset, segmentation)
    if batches_per_epoch == 0:
        raise ConfigError(
            f"The training tracks give fewer segments than one batch ({config.batch_size}); "
            "use more tracks or a smaller batch size."
        )
    fill_cache(dataset, ("train",), progress=progress)
    _require_some_vocals(dataset)

    if device.type == "cpu":
        retain_freed_memory()
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = config.tf32
        torch.backends.cudnn.allow_tf32 = config.tf32
    precision = torch.autocast(device.type, dtype=torch.bfloat16) if config.amp else None

    torch.manual_seed(config.seed)
    model = DenoisingAutoencoder(config.model).to(device)
    optimizer = make_optimizer(model, config.learning_rate)
    data_rng = np.random.default_rng(config.seed)
    noise_rng = torch.Generator().manual_seed(config.seed)
    history: list[list[float]] = []
    first_epoch = 1
    if ckpt is not None:
        model.load_state_dict(ckpt["model"]["state_dict"])
        optimizer.load_state_dict(ckpt["optimizer"])
        data_rng.bit_generator.state = ckpt["rng"]["data"]
        noise_rng.set_state(ckpt["rng"]["noise"])
        history = ckpt["history"]
        first_epoch = ckpt["epoch"] + 1
    model.conv_plan = _conv_plan(ckpt, model, config, device)
    resumed_from = first_epoch - 1
    output_dir.mkdir(parents=True, exist_ok=True)
    write_json(config.to_json() | {"dataset_info": dataset.describe(), "conv_plan": model.conv_plan.to_dict()},
               output_dir / CONFIG)

    step = len(history)
    model.train()
    for epoch in range(first_epoch, config.epochs + 1):
        bar = tqdm(total=batches_per_epoch, desc=f"epoch {epoch}/{config.epochs}", unit="batch",
                   disable=not progress, leave=False)
        pending: list[torch.Tensor] = []
        for batch in training_batches(dataset, data_rng, segmentation):
            vocals = torch.from_numpy(batch.vocals).to(device, non_blocking=True)
            accompaniment = torch.from_numpy(batch.accompaniment).to(device, non_blocking=True)
            noise = sample_input_noise(vocals.shape, config.noise_std, noise_rng).to(device, non_blocking=True)
            out = train_step(model, optimizer, objective, vocals, accompaniment, noise, precision)
            step += 1
            pending.append(torch.stack([t.detach().float() for t in out.terms]))
            bar.update(1)
            if len(pending) >= callback_every:
                _flush(pending, history, epoch, step, bar, callback)
        _flush(pending, history, epoch, step, bar, callback)
        bar.close()
        _save_checkpoint(checkpoint_path, model, optimizer, epoch, config, _rng_state(data_rng, noise_rng), history)
        frame = _write_losses(history, output_dir)
        if progress:
            last = frame.query("epoch == @epoch")[["neg_snr", "regulariser", "loss"]].mean()
            tqdm.write(f"epoch {epoch}/{config.epochs}: neg_snr {last.neg_snr:.3f} dB, "
                       f"regulariser {last.regulariser:.4f}, loss {last.loss:.3f}")
    _write_losses(history, output_dir)  # again: a run killed after its last checkpoint ends here on its rerun
    save_model(model, output_dir / MODEL, training_stamp(config.to_json()))  # last: the run is complete
    model.eval()
    return FitResult(model, _history_frame(history), output_dir, resumed_from, time.perf_counter() - start)


def _write_losses(history: list[list[float]], output_dir: Path) -> pd.DataFrame:
    """``losses.csv`` from the loss history (atomically); the history's frame."""
    frame = _history_frame(history)
    write_text(frame.to_csv(index=False), output_dir / LOSSES)
    return frame


def _losses_rows(path: Path) -> int | None:
    try:
        with open(path, encoding="utf-8") as fh:
            return sum(1 for _ in fh) - 1
    except (OSError, UnicodeDecodeError):
        return None


def _finished_run(ckpt: dict, output_dir: Path, device: torch.device, start: float, config: TrainConfig) -> FitResult:
    """The result of a run whose checkpoint already holds every epoch (and whose model file exists).

    The files a kill or a hand may have left wrong are restored from the checkpoint: ``losses.csv`` when
    it lacks rows, ``model.pt`` when it is not this run's (another run's copy, or unreadable).
    """
    model = model_from_payload(ckpt["model"], str(output_dir / CHECKPOINT)).to(device).eval()
    if _losses_rows(output_dir / LOSSES) != len(ckpt["history"]):
        _write_losses(ckpt["history"], output_dir)
    stamp = training_stamp(config.to_json())
    try:
        belongs = model_stamp(output_dir / MODEL) == stamp
    except ValueError:  # not a readable torch file
        belongs = False
    if not belongs:
        save_model(model, output_dir / MODEL, stamp)
    return FitResult(model, _history_frame(ckpt["history"]), output_dir, ckpt["epoch"], time.perf_counter() - start)


def _flush(pending: list[torch.Tensor], history: list[list[float]], epoch: int, step: int, bar: tqdm,
           callback: Callable[[pd.DataFrame], None] | None) -> None:
    """Move the pending step losses to the host (one sync), check them, update the bar and callback."""
    if not pending:
        return
    values = torch.stack(pending).cpu().tolist()
    first = step - len(values) + 1
    for offset, (rec, reg, loss) in enumerate(values):
        if not math.isfinite(loss):
            raise FloatingPointError(
                f"The loss became {loss} at step {first + offset} (epoch {epoch}); the last checkpoint is kept. "
                "Lower the learning rate or check the data for NaNs."
            )
        history.append([epoch, first + offset, rec, reg, loss])
    pending.clear()
    bar.set_postfix(neg_snr=f"{values[-1][0]:.2f}", reg=f"{values[-1][1]:.4f}", loss=f"{values[-1][2]:.3f}")
    if callback is not None:
        callback(_history_frame(history))
