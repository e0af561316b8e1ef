"""``rlsv train-separator | separate | import-weights``: options documented, errors as one line with exit code 2,
and a trained run taken from the command line to separated stems."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rlsv.cli import build_parser, main
from rlsv.cli import separation as cli_separation

COMMANDS = ("train-separator", "separate", "separation", "import-weights")


def _subparser(name: str) -> argparse.ArgumentParser:
    return next(a for a in build_parser()._actions if a.dest == "command").choices[name]


def test_constants_agree_with_the_package() -> None:
    from rlsv.core.separation.front_ends import FRONT_ENDS
    from rlsv.core.separation.mask_estimator import DEFAULT_BUDGET

    assert cli_separation.DEFAULT_BUDGET == DEFAULT_BUDGET and cli_separation.FRONT_END_NAMES == FRONT_ENDS


@pytest.mark.parametrize("command", COMMANDS)
def test_every_option_has_help(command: str) -> None:
    actions = [a for a in _subparser(command)._actions if not isinstance(a, argparse._HelpAction)]
    assert actions and all(a.help for a in actions), [a.dest for a in actions if not a.help]


def test_errors_are_one_line_with_exit_code_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text('{"model": {"segment_length": 2205, "sample_rate": 44100}}')
    assert main(["train-separator", str(run), "--quiet"]) == 2
    assert "No trained model" in capsys.readouterr().err
    assert main(["separate", str(tmp_path / "song.wav"), "--run", str(run)]) == 2
    assert f"`rlsv train-separator {run}`" in capsys.readouterr().err
    assert main(["import-weights", str(tmp_path / "imported"), str(tmp_path), "--exp-id", "x"]) == 2
    assert "lacks" in capsys.readouterr().err
    assert main(["import-weights", str(tmp_path / "imported")]) == 2
    assert "either the two files" in capsys.readouterr().err


def _authors_files(folder: Path) -> None:
    """A tiny model saved in the authors' format (encoder and decoder state dicts)."""
    c, l = 8, 64
    folder.mkdir()
    torch.save({"conv_a1.weight": torch.randn(c, 1, l) * 0.1, "conv_a2.weight": torch.randn(c, c, 5) * 0.1},
               folder / "analysis_demo.pytorch")
    torch.save({"norm_factor": torch.full((c, 1, l), 1 / (c + l)), "freq_mat": torch.linspace(0.05, 0.7, c).reshape(c, 1, 1),
                "phi": torch.zeros(c, 1, 1)}, folder / "synthesis_demo.pytorch")


@pytest.mark.slow
def test_import_train_a_separator_and_separate_a_stereo_file(tmp_path: Path, tiny_corpus: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    _authors_files(tmp_path / "results")
    run = tmp_path / "imported"
    assert main(["import-weights", str(run), str(tmp_path / "results"), "--exp-id", "demo", "--dataset",
                 str(tiny_corpus), "--stride", "16", "--segment-length", "2205"]) == 0
    assert "rlsv evaluate" in capsys.readouterr().out
    assert main(["evaluate", str(run), "--max-tracks", "1", "--device", "cpu", "--quiet"]) == 0
    assert main(["train-separator", str(run), "--epochs", "1", "--budget", "12000", "--device", "cpu", "--quiet"]) == 0
    assert "separator (learned, " in capsys.readouterr().out
    music = np.random.default_rng(0).uniform(-0.5, 0.5, (30000, 2)).astype(np.float32)
    sf.write(tmp_path / "song.wav", music, 44100)
    assert main(["separate", str(tmp_path / "song.wav"), "--run", str(run), "--out", str(tmp_path / "stems"),
                 "--device", "cpu", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "down-mixing the 2 channels" in out and "vocals.wav" in out
    vocals, rate = sf.read(tmp_path / "stems" / "vocals.wav")
    accompaniment, _ = sf.read(tmp_path / "stems" / "accompaniment.wav")
    assert vocals.shape == music.shape and rate == 44100
    mixture, _ = sf.read(tmp_path / "song.wav")  # 16-bit: what the stems add up to
    np.testing.assert_allclose(vocals + accompaniment, mixture, atol=1e-6)
