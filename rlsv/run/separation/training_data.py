"""The training data of a mask estimator: the run's own training tracks and segmentation.

A separator is trained on exactly what its run was trained on: the same dataset, training tracks,
segment length, hop, sets and batch size (``rlsv.run.train.TrainConfig.segmentation``), vocals and
accompaniment shuffled independently and re-mixed (``rlsv.audio.segments.training_batches``).
:class:`TrainingData` reads these from a run's ``config.json``; where a field is absent (a model
imported with ``rlsv import-weights``) the published default of ``TrainConfig`` is used.

An STFT baseline run folder records no training settings: its estimator takes them from a trained
run of the same run set (same profile and variant, hence the same data and batches),
:func:`data_run_for`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, Mapping

from rlsv.audio.musdb import MusdbDataset, resolve_dataset
from rlsv.audio.segments import TrainingSegmentation
from rlsv.errors import ConfigError
from rlsv.run.files import CONFIG
from rlsv.run.separation.files import has_model, is_stft_run, read_json_config

__all__ = ["TrainingData", "data_run_for"]


def _train_defaults() -> dict[str, Any]:
    """``TrainConfig``'s defaults (the published settings) of the fields a separator's data uses."""
    from rlsv.run.train_config import TrainConfig

    return {f.name: f.default for f in fields(TrainConfig) if f.name in {
        "dataset", "is_wav", "cache_dir", "max_train_tracks", "batch_size", "hop", "set_size", "pad_sets_with_silence"}}


@dataclass(frozen=True)
class TrainingData:
    """Which tracks, and cut how: a run's training data (module docstring).

    Attributes:
        dataset, is_wav, cache_dir: data root (None: ``$MUSDB_PATH``, else the synthetic corpus), format,
            decode cache.
        max_train_tracks: only the first training tracks (None: all).
        segment_length, sample_rate: the run's ``N`` and rate.
        hop, set_size, batch_size, pad_sets_with_silence: the segmentation (``hop`` None: ``N // 2``).
    """

    dataset: str | None
    is_wav: bool | None
    cache_dir: str | None
    max_train_tracks: int | None
    segment_length: int
    sample_rate: int
    hop: int | None
    set_size: int
    batch_size: int
    pad_sets_with_silence: bool

    @classmethod
    def from_run_config(cls, config: Mapping[str, Any]) -> "TrainingData":
        """From a run's ``config.json`` (published defaults for absent fields); ``ValueError`` without ``model``."""
        if not isinstance(config.get("model"), Mapping):
            raise ConfigError("The run's config.json has no 'model' entry (segment length, sample rate); "
                             "it was not written by rlsv train or rlsv import-weights.")
        values = _train_defaults() | {k: config[k] for k in _train_defaults() if k in config}
        model = config["model"]
        return cls(segment_length=int(model["segment_length"]), sample_rate=int(model.get("sample_rate", 44100)),
                   **values)

    def segmentation(self) -> TrainingSegmentation:
        """As ``TrainConfig.segmentation`` cuts the run's batches."""
        n = self.segment_length
        return TrainingSegmentation(segment_length=n, hop=self.hop or n // 2, set_size=self.set_size,
                                    batch_size=self.batch_size, pad_sets_with_silence=self.pad_sets_with_silence)

    def load(self, progress: bool = True) -> MusdbDataset:
        """The checked training subset (first ``max_train_tracks`` tracks); nothing decoded yet."""
        data = resolve_dataset(self.dataset, is_wav=self.is_wav, subsets=("train",),
                               segment_length=self.segment_length, sample_rate=self.sample_rate,
                               cache_dir=self.cache_dir, progress=progress)
        data = data.with_first_tracks("train", self.max_train_tracks)
        if not data.tracks("train"):
            raise ConfigError(f"No training tracks found under {data.root / 'train'}.")
        return data

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def data_run_for(run_dir: str | Path) -> Path:
    """The run whose training data a separator in ``run_dir`` uses: the run itself when it is a trained run
    (or an imported model), else, for an STFT baseline run folder, the first trained sibling of the same
    profile and variant.

    Raises:
        FileNotFoundError: no such run folder, or an STFT run folder without a trained sibling.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"No run folder at {run_dir}.")
    if not is_stft_run(run_dir):
        return run_dir
    config = read_json_config(run_dir)
    key = (config.get("profile"), config.get("variant"))
    for sibling in sorted(run_dir.parent.iterdir()):
        if sibling == run_dir or not (sibling / CONFIG).is_file() or not has_model(sibling):
            continue
        other = read_json_config(sibling)
        if (other.get("profile"), other.get("variant")) == key and other.get("objective") != "stft":
            return sibling
    raise FileNotFoundError(
        f"{run_dir} is an STFT baseline run, which records no training data; its estimator trains on the data of a "
        f"trained run of the same run set (profile {key[0]!r}, variant {key[1]!r}), and there is none in "
        f"{run_dir.parent}. Train one (rlsv sweep), or pass data_run= (--data-run) naming a trained run.")
