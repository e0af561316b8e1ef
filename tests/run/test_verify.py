"""``rlsv verify``: a finished run re-derived from what it recorded is bit-identical; an altered one is not,
and the report names the first tensor that differs and by how much."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlsv.cli import main
from rlsv.core.model import ModelConfig
from rlsv.run.conv_plan import FIXED_PLANS
from rlsv.run.evaluate import evaluate_run
from rlsv.run.files import EPOCHS, MODEL, PROVENANCE, kept_checkpoint
from rlsv.run.resumable import read_epochs
from rlsv.run.train import fit
from rlsv.run.train_config import TrainConfig
from rlsv.run.verify import compare_tensors, verify_run

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=2205)


@pytest.fixture(scope="module")
def finished(tmp_path_factory: pytest.TempPathFactory, tiny_corpus: Path) -> Path:
    """A trained (2 epochs, epoch 1 kept) and evaluated L_B run; treat as read-only."""
    run = tmp_path_factory.mktemp("verify") / "run"
    config = TrainConfig(objective="sinkhorn", lam=1.5, epochs=2, model=TINY, dataset=str(tiny_corpus),
                         learning_rate=1e-3, max_train_tracks=1, threads=1, keep_epochs=(1,))
    fit(config, run, progress=False)
    evaluate_run(run, max_tracks=1, progress=False)
    return run


def _copy(run: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(run, tmp_path / "copy"))


def test_a_finished_run_records_what_verify_needs(finished: Path) -> None:
    provenance = json.loads((finished / PROVENANCE).read_text())
    (session,) = provenance["sessions"]
    assert session["first_epoch"] == 1 and session["last_epoch"] == 2 and session["threads"] == 1
    assert session["conv_plan"] == {"plan": FIXED_PLANS["cpu"].text, "how": "fixed"}  # one thread, CPU
    assert provenance["rlsv"]["commit"] and provenance["seed"] == 218 and provenance["data"]["synthetic"] is True
    epochs = read_epochs(finished)
    assert list(epochs["epoch"]) == [1, 2] and epochs["weights_sha256"].str.len().eq(64).all()
    assert (finished / kept_checkpoint(1)).is_file() and not (finished / kept_checkpoint(2)).exists()


def test_verify_from_scratch_and_from_a_kept_epoch_is_bit_identical(finished: Path) -> None:
    report = verify_run(finished, progress=False)
    assert report.identical, report.text()
    assert report.compared[:2] == ["epoch digests (2 epochs)", "weights (model.pt)"]
    assert any(c.startswith("evaluation (") for c in report.compared)
    assert "bit-identical" in report.text()
    from_kept = verify_run(finished, from_epoch=1, evaluate=False, progress=False)
    assert from_kept.identical and from_kept.compared[0] == "epoch digests (1 epochs)", from_kept.text()


def test_altered_weights_are_found_and_measured(finished: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    run = _copy(finished, tmp_path)
    payload = torch.load(run / MODEL, weights_only=True)
    payload["state_dict"]["encoder.context_kernels"][0, 0, 0] += 1e-3
    torch.save(payload, run / MODEL)
    report = verify_run(run, evaluate=False, progress=False)
    assert not report.identical
    first = report.differences[0]
    assert first.what == "model.pt/encoder.context_kernels"
    assert first.detail.startswith("max |Δ| 0.001") and "in 1 of 320 values" in first.detail
    assert main(["verify", str(run), "--no-evaluation", "--quiet"]) == 1
    out = capsys.readouterr().out
    assert "NOT bit-identical" in out and "encoder.context_kernels" in out


def test_an_altered_epoch_digest_names_the_epoch(finished: Path, tmp_path: Path) -> None:
    run = _copy(finished, tmp_path)
    epochs = read_epochs(run)
    epochs.loc[0, "state_sha256"] = "0" * 64
    epochs.to_csv(run / EPOCHS, index=False)
    report = verify_run(run, evaluate=False, progress=False)
    assert report.first_differing_epoch == 1 and str(report.differences[0]) == "epoch 1: the state digest differs"


def test_cli_verify_exits_0_on_an_identical_run(finished: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(finished), "--from-epoch", "1", "--no-evaluation", "--quiet"]) == 0
    assert "bit-identical" in capsys.readouterr().out


def test_a_missing_kept_epoch_and_an_unfinished_run_are_explained(finished: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"kept no checkpoint of epoch 2 \(--from-epoch\); it kept \[1\]"):
        verify_run(finished, from_epoch=2, progress=False)
    run = _copy(finished, tmp_path)
    (run / MODEL).write_bytes(b"not a torch file")  # named at once, before any re-training
    with pytest.raises(ValueError, match="model.pt is not a readable torch file"):
        verify_run(run, progress=False)
    (run / MODEL).unlink()
    with pytest.raises(ValueError, match="is not a finished run"):
        verify_run(run, progress=False)
    # a damaged kept checkpoint is named where it lies (it was named as verify's temporary copy)
    run = _copy(finished, tmp_path / "kept")
    (run / kept_checkpoint(1)).write_bytes(b"damaged")
    with pytest.raises(ValueError, match=f"{run / kept_checkpoint(1)} is not a readable torch file"):
        verify_run(run, from_epoch=1, progress=False)


def test_compare_tensors_reports_the_first_difference_in_order() -> None:
    a = {"x": torch.zeros(3), "y": torch.ones(2), "n": 4}
    assert compare_tensors(a, {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in a.items()}, "s") is None
    b = {"x": torch.zeros(3), "y": torch.tensor([1.0, 1.5]), "n": 5}
    difference = compare_tensors(a, b, "s")
    assert difference.what == "s/y" and "max |Δ| 0.5" in difference.detail and "in 1 of 2 values" in difference.detail
    # -0.0 and 0.0 compare equal as numbers but not as bits: verify is about bits
    assert compare_tensors({"z": torch.tensor([0.0])}, {"z": torch.tensor([-0.0])}, "s") is not None


def test_a_run_whose_data_lies_elsewhere_is_verified_with_dataset(finished: Path, tmp_path: Path,
                                                                  tiny_corpus: Path) -> None:
    run = _copy(finished, tmp_path)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"dataset": str(tmp_path / "moved")}))
    with pytest.raises(ValueError, match=r"which is not on this machine; pass the same data with --dataset"):
        verify_run(run, evaluate=False, progress=False)
    (run / "checkpoint.pt").unlink()  # as the shipped runs: the epoch digests stand for the optimiser state
    report = verify_run(run, evaluate=False, progress=False, dataset=str(tiny_corpus))
    assert report.identical, report.text()
    assert "optimiser and random states (checkpoint.pt)" not in report.compared
    assert any("holds no checkpoint.pt" in note for note in report.notes)


@pytest.mark.slow
def test_a_shipped_run_is_re_derived_bit_for_bit() -> None:
    """A run shipped with rlsv, retrained from what it recorded on this machine's copy of the profile's corpus
    (its recorded data folder is the machine that made it): bit-identical weights, epoch digests and evaluation
    (on a CPU of the kind that made it; another CPU model is reported as drift, not a fault)."""
    from rlsv.run.machine import cpu_model
    from rlsv.ui.shipped import shipped_root

    run = shipped_root() / "small-sinkhorn-p1-l0.5-w1-s218-10bb2c"
    recorded = json.loads((run / PROVENANCE).read_text())["sessions"][-1]["machine"]
    report = verify_run(run, progress=False)
    if recorded["cpu_model"] != cpu_model() or recorded["torch"] != torch.__version__:
        assert any("another machine" in note for note in report.notes)
        pytest.skip(f"made on {recorded['cpu_model']}, torch {recorded['torch']}: drift is measured, not asserted")
    assert report.identical, report.text()
    assert report.compared == ["epoch digests (12 epochs)", "weights (model.pt)", "evaluation (107 segments)"]
