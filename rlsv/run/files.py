"""File names inside a run folder (the contract of ``docs/run_layout.md``).

Used by ``train``, ``evaluate`` (one run each) and by the layers over many runs (sweeps, results,
tables, figures, the explorer), so that every module agrees on where a run keeps what. Plain
names only: reading them needs no torch.
"""

from __future__ import annotations

__all__ = ["CONFIG", "STATUS", "LOCK", "CHECKPOINT", "MODEL", "LOSSES", "SEGMENTS", "SUMMARY", "PROVENANCE", "EPOCHS",
           "KEPT_CHECKPOINTS", "kept_checkpoint", "load_error_text"]

CONFIG = "config.json"  # the run's configuration (TrainConfig, or the STFT row's description)
STATUS = "status.json"  # pending / running / done / failed, with the error
LOCK = "run.lock"  # held (host, pid, start) while a sweep trains and evaluates the run
CHECKPOINT = "checkpoint.pt"  # latest epoch: model, optimiser, RNG states, history
MODEL = "model.pt"  # the trained model (rlsv.run.model_file.save_model)
LOSSES = "losses.csv"  # one row per optimisation step
SEGMENTS = "segments.csv"  # one row per kept test segment
SUMMARY = "summary.json"  # mean, std, median, count per metric
PROVENANCE = "provenance.json"  # code, machine, threads, convolution plan, data, per session (rlsv.run.provenance)
EPOCHS = "epochs.csv"  # one row per epoch: the SHA-256 of the weights and of the whole training state after it
KEPT_CHECKPOINTS = "checkpoints"  # epoch checkpoints kept for `rlsv verify --from-epoch K`


def kept_checkpoint(epoch: int) -> str:
    """The path, relative to a run folder, of the checkpoint kept after ``epoch``."""
    return f"{KEPT_CHECKPOINTS}/epoch-{epoch:03d}.pt"


def load_error_text(error: BaseException) -> str:
    """Why ``torch.load(..., weights_only=True)`` refused a file, in a few words. A file holding other objects
    than tensors and plain values (which rlsv never writes, and whose loading could run code) is said to be
    so, without torch's advice to load it unsafely."""
    text = str(error)
    if "Weights only load failed" in text or "Unsupported global" in text:
        return "it holds objects other than tensors and plain values, which rlsv never writes and never loads"
    return f"{type(error).__name__}: {(text.splitlines() or [''])[0][:160]}"
