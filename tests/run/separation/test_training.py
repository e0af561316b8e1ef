"""Training a mask estimator on a run: files, resume after a kill, finished runs, STFT run folders, errors; the
separator as an ``nn.Module``; a run's model read by the same checked reader as ``rlsv evaluate``."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
import torch

from rlsv.core.model import ModelConfig
from rlsv.errors import RunFolderError
from rlsv.run.files import MODEL
from rlsv.run.separation.files import SEPARATOR_CHECKPOINT, SEPARATOR_CONFIG, SEPARATOR_LOSSES, SEPARATOR_MODEL
from rlsv.run.separation.separator import load_separator
from rlsv.run.separation.training import SeparatorConfig, train_separator
from rlsv.run.separation.training_data import TrainingData, data_run_for
from rlsv.run.train import fit
from rlsv.run.train_config import TrainConfig

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=2205)
CONFIG = SeparatorConfig(epochs=2, budget=12000, device="cpu", statistics_batches=4)


class Killed(Exception):
    """Stands in for the process being killed."""


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    run = tmp_path_factory.mktemp("separator") / "run"
    fit(TrainConfig(objective="tv", omega=1.0, epochs=1, model=TINY, dataset=str(tiny_corpus), max_train_tracks=1,
                    learning_rate=1e-3, device="cpu"), run, progress=False)
    return run


def _same_weights(a: torch.nn.Module, b: torch.nn.Module) -> None:
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_training_data_is_the_runs_segmentation(tiny_run: Path) -> None:
    config = json.loads((tiny_run / "config.json").read_text())
    train = _train_config(config)
    data = TrainingData.from_run_config(config)
    assert data.segmentation() == train.segmentation() and data.max_train_tracks == 1
    assert TrainingData.from_run_config({"model": TINY.to_dict()}).segmentation().batch_size == 8  # published


def _train_config(config: dict) -> TrainConfig:
    from dataclasses import fields

    names = {f.name for f in fields(TrainConfig)}
    return TrainConfig(**{k: v for k, v in config.items() if k in names}
                       | {"model": ModelConfig.from_dict(config["model"])})


def test_a_separator_is_trained_and_written(tiny_run: Path) -> None:
    result = train_separator(tiny_run, CONFIG, progress=False)
    folder = tiny_run / "separator-s218"
    assert result.output_dir == folder
    for name in (SEPARATOR_CHECKPOINT, SEPARATOR_CONFIG, SEPARATOR_LOSSES, SEPARATOR_MODEL):
        assert (folder / name).is_file(), name
    history = pd.read_csv(folder / SEPARATOR_LOSSES)
    assert list(history.columns) == ["epoch", "step", "loss", "active"] and set(history.epoch) == {1, 2}
    stored = json.loads((folder / SEPARATOR_CONFIG).read_text())
    assert stored["parameters"] == result.parameters <= 12000 and stored["front_end"]["name"] == "learned"
    assert stored["data"]["batch_size"] == 8 and stored["model_sha256"]
    loaded = load_separator(folder)
    _same_weights(loaded.estimator, result.separator.estimator)
    x = torch.randn(2, TINY.segment_length)
    torch.testing.assert_close(loaded.separate(x), result.separator.separate(x))
    # the autoencoder stayed frozen: model.pt is what the run wrote
    assert not any(p.requires_grad for p in result.separator.front_end.model.parameters())


def test_rerun_returns_at_once_and_a_killed_training_resumes_to_the_same_weights(tiny_run: Path) -> None:
    reference = train_separator(tiny_run, CONFIG, progress=False)  # trained by the test above, or now
    folder = tiny_run / "separator-s218"
    stamps = [p.stat().st_mtime_ns for p in folder.iterdir()]
    again = train_separator(tiny_run, CONFIG, progress=False)
    assert again.resumed_from_epoch == 2 and [p.stat().st_mtime_ns for p in folder.iterdir()] == stamps

    def kill_in_second_epoch(history: pd.DataFrame) -> None:
        if (history.epoch == 2).sum() >= 2:
            raise Killed

    killed = tiny_run / "killed"
    with pytest.raises(Killed):
        train_separator(tiny_run, CONFIG, output_dir=killed, progress=False, callback=kill_in_second_epoch,
                        callback_every=1)
    assert torch.load(killed / SEPARATOR_CHECKPOINT, weights_only=False)["epoch"] == 1
    assert not (killed / SEPARATOR_MODEL).exists() and not list(killed.glob(".*.tmp"))
    resumed = train_separator(tiny_run, CONFIG, output_dir=killed, progress=False)
    assert resumed.resumed_from_epoch == 1
    _same_weights(resumed.separator.estimator, reference.separator.estimator)
    pd.testing.assert_frame_equal(resumed.history, reference.history)
    with pytest.raises(ValueError, match=r"other settings \(differs in \['learning_rate'\]\)"):
        train_separator(tiny_run, replace(CONFIG, learning_rate=0.5), output_dir=killed, progress=False)


def test_stft_estimator_in_an_stft_run_folder_uses_a_trained_sibling(tiny_run: Path) -> None:
    config = json.loads((tiny_run / "config.json").read_text())
    stft_run = tiny_run.parent / "stft"
    stft_run.mkdir()
    (stft_run / "config.json").write_text(json.dumps({"objective": "stft", "profile": config["profile"],
                                                      "variant": config["variant"], "model": config["model"]}))
    assert data_run_for(stft_run) == tiny_run
    result = train_separator(stft_run, replace(CONFIG, front_end="stft", epochs=1), progress=False)
    assert result.output_dir == stft_run / "separator-s218"
    assert result.separator.estimator.config.n_bins == 1025 and result.parameters <= 12000
    stored = json.loads((result.output_dir / SEPARATOR_CONFIG).read_text())
    assert stored["data_run"] == str(tiny_run.resolve()) and stored["model_sha256"] is None
    shutil.rmtree(stft_run)


def test_a_run_without_a_model_is_explained(tiny_run: Path, tmp_path: Path) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    shutil.copy(tiny_run / "config.json", bare / "config.json")
    with pytest.raises(FileNotFoundError, match=r"No trained model at .*model\.pt.*rlsv train"):
        train_separator(bare, CONFIG, progress=False)
    with pytest.raises(FileNotFoundError, match="No run folder"):
        train_separator(tmp_path / "nowhere", CONFIG, progress=False)
    lonely = tmp_path / "lonely-stft"
    lonely.mkdir()
    (lonely / "config.json").write_text(json.dumps({"objective": "stft", "profile": "small", "variant": "abc"}))
    with pytest.raises(FileNotFoundError, match="--data-run"):
        train_separator(lonely, replace(CONFIG, front_end="stft"), progress=False)


def test_a_changed_model_is_refused_when_loading(tiny_run: Path, tmp_path: Path) -> None:
    train_separator(tiny_run, CONFIG, progress=False)  # trained above, or now
    copy = shutil.copytree(tiny_run, tmp_path / "copy", ignore=shutil.ignore_patterns("killed"))
    load_separator(copy / "separator-s218")  # the folder may move with its run
    payload = torch.load(copy / MODEL, weights_only=True)
    payload["state_dict"]["decoder.phases"] += 1.0
    torch.save(payload, copy / MODEL)
    with pytest.raises(ValueError, match="changed since the separator"):
        load_separator(copy / "separator-s218")


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="front end"):
        SeparatorConfig(front_end="mel")
    with pytest.raises(ValueError, match="epochs must be an integer >= 1"):
        SeparatorConfig(epochs=0)


def test_the_separator_is_one_module_with_only_the_estimator_trainable(tiny_run: Path) -> None:
    separator = train_separator(tiny_run, CONFIG, progress=False).separator  # trained above, or now
    assert isinstance(separator, torch.nn.Module)
    trainable = [p for p in separator.parameters() if p.requires_grad]
    assert {id(p) for p in trainable} == {id(p) for p in separator.estimator.parameters()}
    separator.train()
    assert separator.estimator.training and not separator.front_end.model.training  # the autoencoder stays frozen
    x = torch.randn(2, TINY.segment_length)
    mask, analysis = separator.mask(x)
    torch.testing.assert_close(separator(x), separator.front_end.model.decode(mask * analysis.coefficients))
    assert separator.separate(x).shape == x.shape and not separator.training


def test_a_config_edited_to_other_sizes_is_refused_by_every_separation_command(tiny_run: Path, tmp_path: Path) -> None:
    # issue 20, case 10: train-separator accepted a run whose config.json was edited, which evaluate refused
    train_separator(tiny_run, CONFIG, progress=False)  # trained above, or now
    edited = shutil.copytree(tiny_run, tmp_path / "edited", ignore=shutil.ignore_patterns("killed"))
    config = json.loads((edited / "config.json").read_text())
    config["model"]["channels"] = 16
    (edited / "config.json").write_text(json.dumps(config))
    from rlsv.run.evaluate import evaluate_run

    edited_message = r"model\.pt and .*config\.json do not belong together.*If config\.json was edited, restore it"
    with pytest.raises(RunFolderError, match=edited_message) as refused:
        evaluate_run(edited, device="cpu", progress=False)
    with pytest.raises(RunFolderError) as training:
        train_separator(edited, replace(CONFIG, seed=300), progress=False)
    with pytest.raises(RunFolderError) as loading:  # what rlsv separate reads
        load_separator(edited / "separator-s218")
    assert str(training.value) == str(loading.value) == str(refused.value)  # one check, one message
    assert not (edited / "separator-s300").exists()
