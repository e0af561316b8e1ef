"""``rlsv train-separator | separate | import-weights``: options documented, errors as one line with exit code 2,
a trained run taken from the command line to separated stems, and ``separate`` on a run without a separator:
trained on request (flag or prompt), refused with the way to train one otherwise."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rlsv.cli import build_parser, main
from rlsv.cli import separation as cli_separation
from rlsv.run.separation.files import SEPARATOR_MODEL

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
    assert "No audio file at" in capsys.readouterr().err
    sf.write(tmp_path / "song.wav", np.zeros((100, 1), dtype=np.float32), 44100)
    assert main(["separate", str(tmp_path / "song.wav"), "--run", str(run)]) == 2
    err = capsys.readouterr().err
    assert f"`rlsv train-separator {run}`" in err and "--train-separator" in err and err.count("\n") == 1
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
    torch.save({"norm_factor": torch.full((c, 1, l), 1 / (c + l)),
                "freq_mat": torch.linspace(0.05, 0.7, c).reshape(c, 1, 1),
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
    trained = capsys.readouterr().out
    assert "separator (learned, " in trained and "trained from scratch" in trained and "resumed" not in trained
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


@pytest.fixture
def imported_run(tmp_path: Path, tiny_corpus: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny imported model on the tiny corpus, no separator yet; separators trained on request are tiny too."""
    _authors_files(tmp_path / "results")
    run = tmp_path / "imported"
    assert main(["import-weights", str(run), str(tmp_path / "results"), "--exp-id", "demo", "--dataset",
                 str(tiny_corpus), "--stride", "16", "--segment-length", "2205"]) == 0
    monkeypatch.setattr(cli_separation, "ON_DEMAND_SETTINGS", {"epochs": 2, "budget": 12000, "statistics_batches": 4})
    sf.write(tmp_path / "song.wav", np.random.default_rng(0).uniform(-0.5, 0.5, (9000, 2)).astype(np.float32), 44100)
    return run


class _Terminal:
    """Stands in for a terminal on stdin."""

    def isatty(self) -> bool:
        return True


def _separate(tmp_path: Path, run: Path, *options: str) -> int:
    return main(["separate", str(tmp_path / "song.wav"), "--run", str(run), "--out", str(tmp_path / "stems"),
                 "--device", "cpu", "--quiet", *options])


def test_separate_without_a_separator_says_which_command_or_flag_trains_one(
        imported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    assert _separate(tmp_path, imported_run) == 2  # no terminal (pytest's stdin), no flag: one line, no training
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"`rlsv train-separator {imported_run}`" in err and "--train-separator" in err
    monkeypatch.setattr("sys.stdin", _Terminal())
    questions: list[str] = []
    monkeypatch.setattr("builtins.input", lambda question: questions.append(question) or "n")
    assert _separate(tmp_path, imported_run) == 2  # a terminal: asked, and no
    assert "Train one now (learned front end, 2 epochs, up to " in questions[0] and questions[0].endswith("[y/N] ")
    assert "(you answered no)" in capsys.readouterr().err
    assert not (imported_run / "separator-s218").exists() and not (tmp_path / "stems").exists()
    (tmp_path / "noise.wav").write_bytes(b"not audio at all")  # named before any separator is trained for it
    assert main(["separate", str(tmp_path / "noise.wav"), "--run", str(imported_run), "--train-separator",
                 "--quiet"]) == 2
    assert "Cannot read the audio file" in capsys.readouterr().err
    assert not (imported_run / "separator-s218").exists()


@pytest.mark.slow
def test_separate_trains_a_missing_separator_on_request_and_says_what_to_expect(
        imported_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    capsys.readouterr()
    assert _separate(tmp_path, imported_run, "--train-separator") == 0  # the flag
    out = capsys.readouterr().out
    assert "rlsv: training a separator for" in out and "epochs, up to" in out
    assert "rlsv: training the separator: about " in out and " s a step here)" in out  # the expected time, measured
    assert "separator (learned, " in out and "no separation scores were measured for this separator" in out
    assert (imported_run / "separator-s218" / SEPARATOR_MODEL).is_file()
    assert (tmp_path / "stems" / "vocals.wav").is_file()
    monkeypatch.setattr("sys.stdin", _Terminal())
    monkeypatch.setattr("builtins.input", lambda question: "y")
    assert _separate(tmp_path, imported_run, "--seed", "219") == 2  # the stems are there: not replaced unasked
    assert "already exist: separating would replace them. Pass --overwrite" in capsys.readouterr().err
    assert _separate(tmp_path, imported_run, "--seed", "219", "--overwrite") == 0  # a terminal: asked, and yes
    out = capsys.readouterr().out
    assert "rlsv: training a separator for" in out and (imported_run / "separator-s219" / SEPARATOR_MODEL).is_file()
    assert _separate(tmp_path, imported_run, "--overwrite") == 0  # trained: nothing asked, nothing trained again
    out = capsys.readouterr().out
    assert "training" not in out and "no separation scores were measured" in out


def test_separate_refuses_to_write_over_its_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    song = tmp_path / "song"
    song.mkdir()
    sf.write(song / "vocals.wav", np.zeros((100, 2), dtype=np.float32), 44100)
    before = (song / "vocals.wav").read_bytes()
    run = tmp_path / "run"
    run.mkdir()
    assert main(["separate", str(song / "vocals.wav"), "--run", str(run), "--out", str(song)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"The output {song / 'vocals.wav'} is the input file" in err
    assert (song / "vocals.wav").read_bytes() == before
