"""``rlsv verify RUN``: re-derive a finished run from what it recorded, and compare it bit for bit.

A run folder records what made it: its configuration (``config.json``), and per training session the
machine, torch threads and convolution plan (``provenance.json``, ``rlsv.run.provenance``), the SHA-256 of
its weights and whole training state after each epoch (``epochs.csv``), the kept epoch checkpoints
(``checkpoints/epoch-KKK.pt``), its final state (``checkpoint.pt``, ``model.pt``), its losses and its evaluation
(``segments.csv``). :func:`verify_run` trains the run again in a temporary folder -- from scratch, or from a
kept epoch (``from_epoch``) -- session by session with the recorded threads and plan, evaluates it again with
the recorded settings, and compares:

1. the per-epoch digests (the first epoch whose weights or state differ);
2. ``model.pt`` and the final optimiser state, tensor by tensor (the first tensor that differs, and by how much);
3. ``losses.csv``, step by step;
4. ``segments.csv``, segment by segment (unless ``evaluate=False``).

The run is **bit-identical** only if every comparison is exact. On another machine (another CPU model, torch
version or thread count) the float order differs, and the report's differences measure that drift.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import pandas as pd
import torch

from rlsv.errors import ConfigError, RunFolderError
from rlsv.run.evaluate import EvaluationSettings, evaluate_run, load_run_config
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL, SEGMENTS, kept_checkpoint
from rlsv.run.machine import machine_description
from rlsv.run.model_file import read_torch_file
from rlsv.run.provenance import read_provenance
from rlsv.run.resumable import read_checkpoint, read_epochs
from rlsv.run.train_config import TrainConfig

__all__ = ["Difference", "VerifyReport", "Session", "recorded_sessions", "kept_epochs_of", "compare_tensors",
           "verify_run"]


@dataclass(frozen=True)
class Difference:
    """One thing that is not bit-identical: ``what`` (e.g. ``model.pt: encoder.context_kernels``) and ``detail``
    (how much)."""

    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


@dataclass(frozen=True)
class Session:
    """A stretch of epochs trained in one go, and how: ``threads`` torch threads, convolution ``plan`` (text),
    on ``device``."""

    first_epoch: int
    last_epoch: int
    threads: int | None
    plan: str | None
    device: str


@dataclass
class VerifyReport:
    """What :func:`verify_run` compared and found."""

    run_dir: Path
    from_epoch: int
    epochs: int
    compared: list[str] = field(default_factory=list)
    differences: list[Difference] = field(default_factory=list)
    first_differing_epoch: int | None = None
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def identical(self) -> bool:
        return not self.differences

    def text(self) -> str:
        """The report for the terminal: ``bit-identical`` or the first difference, then the rest."""
        start = "from scratch" if self.from_epoch == 0 else f"from epoch {self.from_epoch}"
        head = f"rlsv verify {self.run_dir}: re-derived {start} to epoch {self.epochs} in {self.seconds:.0f} s"
        lines = [head] + [f"  note: {note}" for note in self.notes]
        if self.identical:
            lines.append(f"  bit-identical: {', '.join(self.compared)}")
            return "\n".join(lines)
        where = f" (first differing epoch: {self.first_differing_epoch})" if self.first_differing_epoch else ""
        lines.append(f"  NOT bit-identical{where}; first difference: {self.differences[0]}")
        lines += [f"  also: {d}" for d in self.differences[1:]]
        lines.append(f"  compared: {', '.join(self.compared)}")
        return "\n".join(lines)


def recorded_sessions(run_dir: Path, config: TrainConfig, device: str | None = None) -> list[Session]:
    """The training sessions a run recorded (``provenance.json``); a run without provenance (an older rlsv) is
    one session with its configuration's threads and its checkpoint's plan."""
    provenance = read_provenance(run_dir) or {}
    sessions = []
    for record in provenance.get("sessions", []):
        last = record.get("last_epoch")
        if last is None:
            continue
        recorded_device = str((record.get("machine") or {}).get("device", "cpu"))
        sessions.append(Session(int(record["first_epoch"]), int(last), record.get("threads"),
                                (record.get("conv_plan") or {}).get("plan"), device or recorded_device))
    if sessions:
        return sessions
    plan = None
    if (run_dir / CHECKPOINT).is_file():
        plan = (read_checkpoint(run_dir / CHECKPOINT).get("conv_plan") or {}).get("plan")
    return [Session(1, config.epochs, config.threads, plan, device or "cpu")]


def kept_epochs_of(run_dir: Path) -> list[int]:
    """The epochs whose checkpoint ``run_dir`` kept (``checkpoints/epoch-KKK.pt``)."""
    folder = run_dir / Path(kept_checkpoint(1)).parent
    return sorted(int(p.stem.split("-")[1]) for p in folder.glob("epoch-*.pt")) if folder.is_dir() else []


def _bits(tensor: torch.Tensor) -> torch.Tensor:
    return tensor.detach().cpu().contiguous().reshape(-1).view(torch.uint8)


def compare_tensors(ours: Mapping[str, Any], theirs: Mapping[str, Any], prefix: str) -> Difference | None:
    """The first tensor (in ``theirs``' order) whose bits differ between two state mappings, with its largest
    absolute difference and how many values differ; None when every tensor is bit-identical."""
    for name, reference in _flat(theirs, prefix).items():
        flat_ours = _flat(ours, prefix)
        if name not in flat_ours:
            return Difference(name, "missing in the re-derived run")
        value = flat_ours[name]
        if not isinstance(reference, torch.Tensor):
            if value != reference:
                return Difference(name, f"recorded {reference!r}, re-derived {value!r}")
            continue
        if value.shape != reference.shape or value.dtype != reference.dtype:
            return Difference(name, f"shape/dtype {tuple(reference.shape)}/{reference.dtype} recorded, "
                                    f"{tuple(value.shape)}/{value.dtype} re-derived")
        if not torch.equal(_bits(value), _bits(reference)):
            a, b = value.detach().cpu().double(), reference.detach().cpu().double()
            delta = (a - b).abs()
            scale = float(b.abs().max()) if b.numel() else 0.0
            return Difference(name, f"max |Δ| {float(delta.max()):.3g} (largest |value| {scale:.3g}) in "
                                    f"{int((delta > 0).sum())} of {b.numel()} values")
    return None


def _flat(value: Any, prefix: str) -> dict[str, Any]:
    """A nested mapping of tensors and plain values, flattened to ``prefix/key/...`` names in order."""
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out |= _flat(item, f"{prefix}/{key}")
        return out
    if isinstance(value, (list, tuple)) and any(isinstance(v, (Mapping, torch.Tensor)) for v in value):
        out = {}
        for i, item in enumerate(value):
            out |= _flat(item, f"{prefix}/{i}")
        return out
    return {prefix: value}


def _compare_frames(ours: pd.DataFrame, theirs: pd.DataFrame, what: str, key: str) -> Difference | None:
    """The first row (by ``key``) whose values differ between two frames read from CSV; exact comparison."""
    if list(ours.columns) != list(theirs.columns) or len(ours) != len(theirs):
        return Difference(what, f"{len(theirs)} rows {list(theirs.columns)} recorded, {len(ours)} rows "
                                f"{list(ours.columns)} re-derived")
    for column in theirs.columns:
        a, b = ours[column].to_numpy(), theirs[column].to_numpy()
        same = (a == b) | (pd.isna(a) & pd.isna(b)) if a.dtype.kind in "fc" else (a == b)
        if not np.all(same):
            row = int(np.flatnonzero(~same)[0])
            detail = f"first at {key} {theirs[key].iloc[row]!r}: recorded {b[row]!r}, re-derived {a[row]!r}"
            if a.dtype.kind in "fc":
                detail += f"; max |Δ| {np.nanmax(np.abs(a.astype(float) - b.astype(float))):.3g} over the column"
            return Difference(f"{what} column {column}", detail)
    return None


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype={"track": str})


def _first_differing_epoch(ours: pd.DataFrame, theirs: pd.DataFrame) -> tuple[int, str] | None:
    merged = theirs.merge(ours, on="epoch", suffixes=("_recorded", "_ours"))
    for _, row in merged.iterrows():
        for digest in ("weights_sha256", "state_sha256"):
            if row[f"{digest}_recorded"] != row[f"{digest}_ours"]:
                return int(row["epoch"]), digest.split("_")[0]
    return None


def _check_run(run_dir: Path) -> tuple[dict, TrainConfig]:
    if not run_dir.is_dir():
        raise RunFolderError(f"No run folder at {run_dir}.")
    stored = load_run_config(run_dir)
    if stored.get("objective") not in ("tv", "sinkhorn"):
        raise ConfigError(f"{run_dir / CONFIG}: objective {stored.get('objective')!r} trains nothing; rlsv verify "
                          "re-derives trained runs (an STFT row is re-derived by evaluating it again).")
    if not (run_dir / MODEL).is_file():
        raise RunFolderError(f"{run_dir} is not a finished run (no {MODEL}); finish it first (rerun its training), "
                             "then verify it.")
    read_torch_file(run_dir / MODEL)  # a damaged or unsafe model.pt is named now, not after re-deriving the run
    return stored, TrainConfig.from_json(stored)


def _training_data(run_dir: Path, config: TrainConfig, dataset: str | None) -> tuple[TrainConfig, list[str]]:
    """The configuration to re-derive with, its data where it lies here, and notes. The recorded dataset folder
    when it is here; else, for a profile with a synthetic corpus, that corpus on this machine (written if needed)
    once its content hash is the one the run recorded; ``dataset`` (``--dataset``) overrides."""
    from rlsv.run.data import dataset_root
    from rlsv.run.profiles import PROFILES

    if dataset is not None:
        return replace(config, dataset=str(Path(dataset).expanduser().resolve())), [f"data from {dataset}"]
    if config.dataset is None or Path(config.dataset).is_dir():
        return config, []
    profile = PROFILES.get(config.profile)
    if profile is None or profile.data != "synthetic":
        raise RunFolderError(f"{run_dir} trained on {config.dataset}, which is not on this machine; pass the same "
                             "data with --dataset.")
    root = dataset_root(profile, None, progress=False)
    recorded = (((read_provenance(run_dir) or {}).get("data") or {}).get("fingerprint") or {}).get("sha256")
    if recorded is not None:
        from rlsv.audio.fingerprint import dataset_fingerprint
        from rlsv.audio.musdb import resolve_dataset

        here = resolve_dataset(root, subsets=("train",), segment_length=config.model.segment_length,
                               sample_rate=config.model.sample_rate, progress=False)
        here = here.with_first_tracks("train", config.max_train_tracks)
        if dataset_fingerprint(here, ("train",))["sha256"] != recorded:
            raise RunFolderError(f"{run_dir} trained on {config.dataset}, not on this machine, and the "
                                 f"{config.profile} profile's corpus here ({root}) has other content; pass the "
                                 "run's data with --dataset.")
    return replace(config, dataset=str(root)), [f"the recorded data folder is not here: the {config.profile} "
                                                f"profile's corpus at {root}, the same content, is used"]


def _start(run_dir: Path, work: Path, from_epoch: int, config: TrainConfig) -> None:
    """Put the kept checkpoint of ``from_epoch`` into ``work`` (nothing for a start from scratch)."""
    if from_epoch == 0:
        return
    kept = run_dir / kept_checkpoint(from_epoch)
    if not kept.is_file():
        available = kept_epochs_of(run_dir)
        raise ConfigError(f"{run_dir} kept no checkpoint of epoch {from_epoch} (--from-epoch); it kept "
                          f"{available or 'none'} (rlsv train --keep-epochs chooses them); verify from scratch "
                          "by leaving out --from-epoch.")
    read_checkpoint(kept)  # a damaged or unsafe kept checkpoint is named where it lies, not as the work copy
    work.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, work / CHECKPOINT)


def _rederive(run_dir: Path, work: Path, config: TrainConfig, sessions: list[Session], from_epoch: int,
              progress: bool) -> None:
    from rlsv.run.train import fit

    for session in sessions:
        if session.last_epoch <= from_epoch:
            continue
        runtime: dict[str, Any] = {"epochs": session.last_epoch, "device": session.device, "keep_epochs": ()}
        if session.threads is not None:
            runtime["threads"] = int(session.threads)
        if session.plan is not None:
            runtime["conv_plan"] = session.plan
        fit(replace(config, **runtime), work, progress=progress, extend=True)


def _machine_notes(run_dir: Path, device: str) -> list[str]:
    provenance = read_provenance(run_dir) or {}
    sessions = provenance.get("sessions") or []
    if not sessions:
        return ["the run records no provenance (made by an older rlsv): its threads are taken from its "
                "configuration and its convolution plan from its checkpoint"]
    recorded, here = sessions[-1].get("machine") or {}, machine_description(device)
    changed = [f"{key} {recorded.get(key)!r} there, {here.get(key)!r} here" for key in ("cpu_model", "torch",
               "device_name") if recorded.get(key) != here.get(key)]
    return [f"re-derived on another machine ({'; '.join(changed)}): differences measure the drift between "
            "machines, not a fault"] if changed else []


def verify_run(run_dir: str | Path, from_epoch: int | None = None, evaluate: bool = True, device: str | None = None,
               progress: bool = True, keep_work: str | Path | None = None, dataset: str | None = None) -> VerifyReport:
    """Re-derive the finished run in ``run_dir`` and compare it bit for bit (module docstring).

    Args:
        run_dir: a finished trained run.
        from_epoch: start from the run's kept checkpoint of this epoch (None or 0: from scratch).
        evaluate: evaluate the re-derived model and compare ``segments.csv`` too.
        device: where to re-derive (default: where each session ran).
        progress: tqdm bars.
        keep_work: a folder to re-derive into and keep (default: a temporary folder, removed afterwards).
        dataset: the run's data on this machine (default: where it was recorded, or the profile's corpus).
    """
    started = time.perf_counter()
    run_dir = Path(run_dir).expanduser().resolve()
    stored, config = _check_run(run_dir)
    from_epoch = int(from_epoch or 0)
    if not 0 <= from_epoch <= config.epochs:
        raise ConfigError(f"--from-epoch must be between 0 and the run's {config.epochs} epochs, got {from_epoch}.")
    report = VerifyReport(run_dir, from_epoch, config.epochs)
    config, notes = _training_data(run_dir, config, dataset)
    report.notes += notes
    sessions = recorded_sessions(run_dir, config, device)
    report.notes += _machine_notes(run_dir, sessions[-1].device)
    work = Path(keep_work).expanduser().resolve() if keep_work else Path(tempfile.mkdtemp(prefix="rlsv-verify-"))
    try:
        _start(run_dir, work, from_epoch, config)
        _rederive(run_dir, work, config, sessions, from_epoch, progress)
        _compare_training(run_dir, work, from_epoch, report)
        if evaluate and (run_dir / SEGMENTS).is_file():
            settings = EvaluationSettings.from_config(stored)
            evaluate_run(work, dataset=settings.dataset if settings.dataset and Path(settings.dataset).is_dir()
                         else None, device=sessions[-1].device, max_tracks=settings.max_test_tracks,
                         mask_inclusive=settings.mask_inclusive, progress=progress)
            _record(report, f"evaluation ({len(_csv(run_dir / SEGMENTS))} segments)",
                    _compare_frames(_csv(work / SEGMENTS), _csv(run_dir / SEGMENTS), SEGMENTS, "segment"))
    finally:
        if keep_work is None:
            shutil.rmtree(work, ignore_errors=True)
    report.seconds = time.perf_counter() - started
    return report


def _record(report: VerifyReport, what: str, difference: Difference | None) -> None:
    report.compared.append(what)
    if difference is not None:
        report.differences.append(difference)


def _compare_training(run_dir: Path, work: Path, from_epoch: int, report: VerifyReport) -> None:
    recorded_epochs, our_epochs = read_epochs(run_dir), read_epochs(work)
    recorded_epochs = recorded_epochs[recorded_epochs["epoch"] > from_epoch]
    if len(recorded_epochs):
        first = _first_differing_epoch(our_epochs, recorded_epochs)
        what = f"epoch digests ({len(recorded_epochs)} epochs)"
        if first is None:
            _record(report, what, None)
        else:
            report.first_differing_epoch = first[0]
            _record(report, what, Difference(f"epoch {first[0]}", f"the {first[1]} digest differs"))
    model_ours, model_theirs = read_torch_file(work / MODEL), read_torch_file(run_dir / MODEL)
    _record(report, "weights (model.pt)",
            compare_tensors(model_ours.get("state_dict", {}), model_theirs.get("state_dict", {}), "model.pt"))
    if (run_dir / CHECKPOINT).is_file():
        ckpt_ours, ckpt_theirs = read_checkpoint(work / CHECKPOINT), read_checkpoint(run_dir / CHECKPOINT)
        _record(report, "optimiser and random states (checkpoint.pt)",
                compare_tensors({"optimizer": ckpt_ours["optimizer"], "rng": ckpt_ours["rng"]},
                                {"optimizer": ckpt_theirs["optimizer"], "rng": ckpt_theirs["rng"]}, "checkpoint.pt"))
    else:
        report.notes.append(f"{run_dir} holds no {CHECKPOINT} (a shipped run): the optimiser state is compared "
                            "through the epoch digests")
    if (run_dir / LOSSES).is_file():
        losses_theirs = _csv(run_dir / LOSSES)
        _record(report, f"losses ({len(losses_theirs)} steps)",
                _compare_frames(_csv(work / LOSSES), losses_theirs, LOSSES, "step"))
    else:
        report.notes.append(f"{run_dir} holds no {LOSSES}: the losses are compared through the epoch digests")
