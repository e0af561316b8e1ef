"""Importing the authors' released state dicts (made here in their format) as a run folder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rlsv.core.model import DenoisingAutoencoder, ModelConfig
from rlsv.run.evaluate import evaluate_run
from rlsv.run.import_weights import import_weights
from rlsv.run.model_file import load_model
from rlsv.run.separation.training_data import TrainingData

TINY = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=2205, dilation=3)
SIZES = {"stride": 16, "segment_length": 2205, "dilation": 3}


def _authors_files(folder: Path, exp_id: str, shared_envelope: bool = False) -> DenoisingAutoencoder:
    """Save a model as the authors' training script does: the encoder's and the decoder's state dicts."""
    torch.manual_seed(3)
    model = DenoisingAutoencoder(TINY, conv_plan="direct")
    c, l = TINY.channels, TINY.kernel_size
    envelope = model.decoder.envelopes.detach()
    if shared_envelope:  # the authors' fully_modulated=False: one envelope for every kernel
        envelope = envelope[:1]
        with torch.no_grad():
            model.decoder.envelopes.copy_(envelope.expand(c, l))
    folder.mkdir(parents=True, exist_ok=True)
    torch.save({"conv_a1.weight": model.encoder.analysis_kernels.detach().clone(),
                "conv_a2.weight": model.encoder.context_kernels.detach().clone()},
               folder / f"analysis_{exp_id}.pytorch")
    torch.save({"norm_factor": envelope.reshape(-1, 1, l).clone(),
                "freq_mat": model.decoder.carriers.detach().reshape(c, 1, 1).clone(),
                "phi": model.decoder.phases.detach().reshape(c, 1, 1).clone()}, folder / f"synthesis_{exp_id}.pytorch")
    return model


def test_imported_model_computes_what_the_original_does(tmp_path: Path, tiny_corpus: Path) -> None:
    original = _authors_files(tmp_path / "results", "sinkhorn")
    run = import_weights(tmp_path / "run", results_dir=tmp_path / "results", exp_id="sinkhorn", dataset=tiny_corpus,
                         **SIZES)
    model = load_model(run / "model.pt")
    assert model.config == TINY
    x = torch.randn(2, TINY.segment_length)
    torch.testing.assert_close(model.encode(x), original.encode(x))
    torch.testing.assert_close(model(x), original(x))
    config = json.loads((run / "config.json").read_text())
    assert config["objective"] == "imported" and config["dataset"] == str(tiny_corpus.resolve())
    assert config["imported"]["published_by"] == "https://github.com/Js-Mim/rl_singing_voice"
    assert TrainingData.from_run_config(config).segmentation().hop == 2205 // 2  # what a separator trains on
    result = evaluate_run(run, device="cpu", max_tracks=1, progress=False)  # `rlsv evaluate` accepts it
    assert len(result.segments) > 0 and result.segments["si_sdr"].notna().all()


def test_two_files_with_a_shared_envelope(tmp_path: Path) -> None:
    original = _authors_files(tmp_path / "results", "tv", shared_envelope=True)
    run = import_weights(tmp_path / "run", analysis=tmp_path / "results" / "analysis_tv.pytorch",
                         synthesis=tmp_path / "results" / "synthesis_tv.pytorch", **SIZES)
    model = load_model(run / "model.pt")
    torch.testing.assert_close(model.decoder.kernels(), original.decoder.kernels())
    assert json.loads((run / "config.json").read_text())["run_id"] == "imported-tv"


def test_wrong_inputs_are_explained(tmp_path: Path) -> None:
    _authors_files(tmp_path / "results", "tv")
    with pytest.raises(FileNotFoundError, match=r"lacks.*experiments present: \['tv'\].*Js-Mim/rl_singing_voice"):
        import_weights(tmp_path / "run", results_dir=tmp_path / "results", exp_id="sinkhorn")
    with pytest.raises(ValueError, match="either the two files"):
        import_weights(tmp_path / "run", analysis=tmp_path / "results" / "analysis_tv.pytorch")
    with pytest.raises(ValueError, match="not the authors' encoder and decoder"):
        import_weights(tmp_path / "run", analysis=tmp_path / "results" / "synthesis_tv.pytorch",
                       synthesis=tmp_path / "results" / "analysis_tv.pytorch")
    (tmp_path / "junk.pytorch").write_bytes(b"junk")
    with pytest.raises(ValueError, match="Cannot read .*junk.pytorch"):
        import_weights(tmp_path / "run", analysis=tmp_path / "junk.pytorch",
                       synthesis=tmp_path / "results" / "synthesis_tv.pytorch")
    assert not (tmp_path / "run").exists()
