"""Training end to end on a tiny synthetic corpus: outputs, resume after a kill, bad input."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch

from rlsv.audio.musdb import DatasetLayoutError, DatasetNotFoundError, TrackTooShortError, UnreadableAudioError
from rlsv.core.model import ModelConfig
from rlsv.run.device import resolve_device
from rlsv.run.files import CHECKPOINT, CONFIG, LOSSES, MODEL
from rlsv.run.model_file import load_model
from rlsv.run.train import fit
from rlsv.run.train_config import TrainConfig

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=2205)


def tiny_config(root: Path, **overrides) -> TrainConfig:
    values = dict(objective="sinkhorn", omega=1.0, lam=1.5, epochs=2, model=TINY, dataset=str(root),
                  learning_rate=1e-3)
    values.update(overrides)
    return TrainConfig(**values)


class Killed(Exception):
    """Stands in for the process being killed."""


def test_fit_writes_a_complete_run(tiny_corpus: Path, tmp_path: Path) -> None:
    result = fit(tiny_config(tiny_corpus), tmp_path / "run", progress=False)
    run = tmp_path / "run"
    for name in (CHECKPOINT, CONFIG, LOSSES, MODEL):
        assert (run / name).is_file(), name
    history = pd.read_csv(run / LOSSES)
    assert list(history.columns) == ["epoch", "step", "neg_snr", "regulariser", "loss", "sinkhorn_iterations",
                                     "sinkhorn_error"]
    # each step's Sinkhorn solve: whole iterations within the limit, stopped by the tolerance (1e-5)
    iterations = history["sinkhorn_iterations"]
    assert (iterations == iterations.round()).all() and iterations.between(1, 1000).all()
    assert (history["sinkhorn_error"] < 1e-5).all()
    assert set(history.epoch) == {1, 2} and history.step.is_monotonic_increasing
    assert np.isfinite(history[["neg_snr", "regulariser", "loss"]].to_numpy()).all()
    np.testing.assert_allclose(history.loss, history.neg_snr + 1.0 * history.regulariser, rtol=1e-5, atol=1e-5)
    config = json.loads((run / CONFIG).read_text())
    assert config["objective"] == "sinkhorn" and config["lam"] == 1.5 and config["model"]["channels"] == 8
    assert config["dataset_info"]["synthetic"] is True
    loaded = load_model(run / MODEL)
    for (name, a), (_, b) in zip(loaded.state_dict().items(), result.model.state_dict().items()):
        assert torch.equal(a, b.cpu()), name
    # training reduced the reconstruction loss
    first, last = history.groupby("epoch").neg_snr.median().to_numpy()
    assert last < first


def test_rerun_of_a_finished_run_returns_without_training(tiny_corpus: Path, tmp_path: Path) -> None:
    root = shutil.copytree(tiny_corpus, tmp_path / "corpus")
    config = tiny_config(root, epochs=1, objective="tv", lam=None)
    first = fit(config, tmp_path / "run", progress=False)
    files = [tmp_path / "run" / name for name in (CHECKPOINT, CONFIG, LOSSES, MODEL)]
    stamps = [path.stat().st_mtime_ns for path in files]
    shutil.rmtree(root)  # a finished run needs no data: nothing is listed, decoded or rewritten
    again = fit(config, tmp_path / "run", progress=False)
    assert again.resumed_from_epoch == 1
    assert [path.stat().st_mtime_ns for path in files] == stamps
    pd.testing.assert_frame_equal(again.history, first.history)
    for (name, a), (_, b) in zip(again.model.state_dict().items(), first.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_killed_run_resumes_to_the_same_weights(tiny_corpus: Path, tmp_path: Path) -> None:
    config = tiny_config(tiny_corpus)
    reference = fit(config, tmp_path / "uninterrupted", progress=False)

    def kill_in_second_epoch(history: pd.DataFrame) -> None:
        if (history.epoch == 2).sum() >= 5:
            raise Killed

    with pytest.raises(Killed):
        fit(config, tmp_path / "killed", progress=False, callback=kill_in_second_epoch, callback_every=5)
    ckpt = torch.load(tmp_path / "killed" / CHECKPOINT, weights_only=False)
    assert ckpt["epoch"] == 1  # the last complete epoch, intact
    assert not (tmp_path / "killed" / MODEL).exists()
    assert not list((tmp_path / "killed").glob(".*.tmp"))  # no temporary files left behind

    resumed = fit(config, tmp_path / "killed", progress=False)
    assert resumed.resumed_from_epoch == 1
    for (name, a), (_, b) in zip(resumed.model.state_dict().items(), reference.model.state_dict().items()):
        assert torch.equal(a, b), name
    pd.testing.assert_frame_equal(resumed.history, reference.history)


def test_resume_refuses_a_different_configuration(tiny_corpus: Path, tmp_path: Path) -> None:
    fit(tiny_config(tiny_corpus, epochs=1), tmp_path / "run", progress=False)
    with pytest.raises(ValueError, match=r"different configuration.*lam"):
        fit(tiny_config(tiny_corpus, epochs=1, lam=0.5), tmp_path / "run", progress=False)


@pytest.mark.parametrize("overrides,match", [
    (dict(objective="wasserstein"), "Unknown objective"),
    (dict(lam=0.0), r"lambda \(lam\) must be a finite number > 0"),
    (dict(lam=-1.0), r"lambda \(lam\) must be a finite number > 0"),
    (dict(lam=None), "needs lam"),
    (dict(p=3), "p must be 1 or 2"),
    (dict(batch_size=0), "batch_size must be an integer >= 1"),
    (dict(epochs=0), "epochs must be an integer >= 1"),
    (dict(learning_rate=0.0), r"learning_rate must be in \(0, 1\]"),
    (dict(learning_rate=2.0), r"learning_rate must be in \(0, 1\]"),
    (dict(sinkhorn_tol=-1e-3), "sinkhorn_tol must be a finite number >= 0"),
    (dict(omega=-1.0), "omega"),
])
def test_impossible_hyper_parameters_are_rejected(tmp_path: Path, overrides: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny_config(tmp_path, **overrides)


def test_cuda_request_without_a_gpu_is_explained() -> None:
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")


def _copy_corpus(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_data_problems_stop_before_any_work(tiny_corpus: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    with pytest.raises(DatasetNotFoundError, match="MUSDB18.*synthetic corpus"):
        fit(tiny_config(tmp_path / "no-such-root"), out, progress=False)
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "song.wav").write_bytes(b"")
    with pytest.raises(DatasetLayoutError):
        fit(tiny_config(tmp_path / "flat"), out, progress=False)
    assert not out.exists()


def test_short_track_is_named(tiny_corpus: Path, tmp_path: Path) -> None:
    root = _copy_corpus(tiny_corpus, tmp_path / "corpus")
    track = sorted((root / "train").iterdir())[0]
    for wav in track.glob("*.wav"):
        audio, rate = sf.read(wav, dtype="float32")
        sf.write(wav, audio[:1000], rate, subtype="FLOAT")
    with pytest.raises(TrackTooShortError, match=track.name):
        fit(tiny_config(root), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_corrupt_audio_file_is_named(tiny_corpus: Path, tmp_path: Path, cache_dir: Path) -> None:
    root = _copy_corpus(tiny_corpus, tmp_path / "corpus")
    bad = sorted((root / "train").iterdir())[1] / "vocals.wav"
    bad.write_bytes(b"RIFF\x00\x00not really a wav file" * 10)
    with pytest.raises(UnreadableAudioError, match="vocals.wav"):
        fit(tiny_config(root, cache_dir=str(cache_dir)), tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / CHECKPOINT).exists()


def test_diverging_loss_is_reported(tiny_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import rlsv.run.train as train_module
    from rlsv.core.losses import LossTerms

    real_step, calls = train_module.train_step, {"n": 0}

    def diverging(*args, **kwargs):
        out = real_step(*args, **kwargs)
        calls["n"] += 1
        if calls["n"] < 3:
            return out
        nan = torch.tensor(float("nan"))
        return out._replace(terms=LossTerms(out.terms.neg_snr, nan, nan))  # as a diverging run's loss

    monkeypatch.setattr(train_module, "train_step", diverging)
    with pytest.raises(FloatingPointError, match="The loss became nan at step 3 .*Lower the learning rate"):
        fit(tiny_config(tiny_corpus, objective="tv", lam=None, epochs=1), tmp_path / "run", progress=False)


def test_learning_rates_beyond_any_sense_are_refused(tiny_corpus: Path) -> None:
    for rate in (1e6, 1.5, float("inf"), 0.0):
        with pytest.raises(ValueError, match=r"learning_rate must be in \(0, 1\]"):
            tiny_config(tiny_corpus, objective="tv", lam=None, learning_rate=rate)


def test_a_run_extended_by_more_epochs_equals_a_longer_run_from_scratch(tmp_path: Path, tiny_corpus: Path) -> None:
    from rlsv.run.train import start_from_shorter_run

    base = TrainConfig(objective="sinkhorn", omega=1.0, lam=1.5, epochs=1, model=TINY, dataset=str(tiny_corpus),
                       device="cpu", max_train_tracks=1, learning_rate=1e-3)
    longer = replace(base, epochs=2)
    fit(base, tmp_path / "short", progress=False)
    with pytest.raises(ValueError, match=r"differs in \['epochs'\].*extend=True"):
        fit(longer, tmp_path / "short", progress=False)
    # in place, when asked
    extended = fit(longer, tmp_path / "short", progress=False, extend=True)
    assert extended.resumed_from_epoch == 1
    # into a new folder, from the shorter run's checkpoint (as a sweep with extend_shorter does)
    fit(base, tmp_path / "short2", progress=False)
    relabelled = replace(longer, run_id="x")
    assert start_from_shorter_run(tmp_path / "short2" / "checkpoint.pt", tmp_path / "long2", relabelled) == 1
    continued = fit(relabelled, tmp_path / "long2", progress=False)
    scratch = fit(longer, tmp_path / "scratch", progress=False)
    for result in (extended, continued):
        for name, value in scratch.model.state_dict().items():
            assert torch.equal(result.model.state_dict()[name], value), name
        pd.testing.assert_frame_equal(result.history, scratch.history)
    with pytest.raises(ValueError, match="holds 2 epochs, more than the 1"):
        start_from_shorter_run(tmp_path / "scratch" / "checkpoint.pt", tmp_path / "x", base)
    with pytest.raises(ValueError, match=r"other settings \(differs in \['learning_rate'\]\)"):
        start_from_shorter_run(tmp_path / "short2" / "checkpoint.pt", tmp_path / "y",
                               replace(longer, learning_rate=1.0))


def test_resuming_on_replaced_training_data_is_refused_naming_the_change(tmp_path: Path, tiny_corpus: Path) -> None:
    root = Path(shutil.copytree(tiny_corpus, tmp_path / "corpus"))
    config = tiny_config(root, epochs=1, objective="tv", lam=None)
    fit(config, tmp_path / "run", progress=False)
    first, second = sorted(p for p in (root / "train").iterdir() if p.is_dir())
    for wav in first.glob("*.wav"):  # another, valid, song at the same path: its stems still add up
        shutil.copyfile(second / wav.name, wav)
    with pytest.raises(ValueError, match=rf"training data of the run in .* changed since it trained \(train: track "
                                         rf"'{first.name}' changed"):
        fit(replace(config, epochs=2), tmp_path / "run", progress=False, extend=True)
    with pytest.raises(ValueError, match="changed since it trained"):  # an interrupted run likewise
        fit(replace(config, epochs=2, run_id="other"), tmp_path / "run", progress=False, extend=True)


def test_the_same_command_gives_the_same_bits_with_the_machine_busy(tmp_path: Path, tiny_corpus: Path) -> None:
    """Nothing timing-dependent changes the arithmetic: the same run, once as it is and once beside processes
    that keep every core busy, ends with bit-identical weights and state after every epoch."""
    import subprocess
    import sys

    from rlsv.run.resumable import read_epochs

    config = tiny_config(tiny_corpus, threads=2)
    fit(config, tmp_path / "quiet", progress=False)
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(3)]
    try:
        fit(config, tmp_path / "busy", progress=False)
    finally:
        for burner in burners:
            burner.kill()
            burner.wait()
    quiet, busy = read_epochs(tmp_path / "quiet"), read_epochs(tmp_path / "busy")
    assert len(quiet) == 2 and quiet.equals(busy)
    for (name, a), (_, b) in zip(load_model(tmp_path / "quiet" / MODEL).state_dict().items(),
                                 load_model(tmp_path / "busy" / MODEL).state_dict().items()):
        assert torch.equal(a, b), name
