"""The command line: help of every subcommand, exit codes (2: an error the user can fix, 1: some
run or figure failed), and sweep -> tables -> figures on a tiny corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlsv.cli import build_parser, main

SUBCOMMANDS = ("synth", "train", "evaluate", "sweep", "tables", "figures", "reproduce", "train-separator", "separate", "import-weights")


def test_every_subcommand_is_registered() -> None:
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert tuple(choices) == SUBCOMMANDS


def test_parser_is_cheap_and_agrees_with_the_sweeps() -> None:
    code = "import sys; from rlsv.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    from rlsv import cli
    from rlsv.run import profiles
    from rlsv.study import sweeps

    assert cli._ENGINES == sweeps.ENGINES and cli._EXECUTORS == sweeps.EXECUTORS
    assert cli.DEFAULT_PROFILE == profiles.DEFAULT_PROFILE and cli.PROFILE_NAMES == tuple(profiles.PROFILES)


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    assert f"usage: rlsv {command}" in capsys.readouterr().out


def test_sweep_help_lists_grids_and_cluster_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["sweep", "--help"])
    text = capsys.readouterr().out
    for word in ("table1", "table2", "figure3", "figure5", "figure6", "all", "--jobs", "--executor", "slurm",
                 "--partition", "--time", "--gpus-per-job", "--engine"):
        assert word in text


def test_console_script_runs() -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("rlsv")), "reproduce", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--jobs" in result.stdout


@pytest.mark.parametrize("argv", [["sweep", "tabel1"], ["sweep"], ["tables", "--bogus"], ["reproduce", "--jobs", "x"],
                                  ["sweep", "table1", "--profile", "huge"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_fixable_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = str(tmp_path / "runs")
    assert main(["sweep", "table2", "--profile", "paper", "--runs-root", runs, "--quiet"]) == 2
    assert "MUSDB_PATH" in capsys.readouterr().err
    assert main(["sweep", "table1", "--jobs", "0", "--runs-root", runs]) == 2
    assert main(["sweep", "table1", "--dataset", str(tmp_path / "nowhere"), "--runs-root", runs, "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["tables", "--runs-root", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["figures", "--runs-root", str(tmp_path / "none")]) == 2


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "epochs must be an integer >= 1, got 0"),
    ("--batch-size", "0", "batch_size must be an integer >= 1, got 0"),
    ("--lr", "0", "learning_rate must be > 0, got 0.0"),
    ("--max-tracks", "0", "max_train_tracks must be >= 1 or None, got 0"),
])
def test_train_refuses_a_zero_override(option: str, value: str, message: str, tmp_path: Path, tiny_corpus: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    # 0 is a value given, not "use the profile's": it is refused, and nothing is trained
    argv = ["train", str(tmp_path / "run"), "--profile", "smoke", "--dataset", str(tiny_corpus), "--quiet",
            option, value]
    assert main(argv) == 2
    assert f"rlsv train: error: {message}" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("value", ["0", "-2", "three"])
def test_seeds_must_be_a_positive_count(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["sweep", "tables", "--seeds", value])
    assert exit_info.value.code == 2 and "--seeds: expected a whole number >= 1" in capsys.readouterr().err


def test_slurm_without_a_cluster_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("rlsv.study.sweeps.shutil.which", lambda name: None)
    assert main(["sweep", "table1", "--executor", "slurm", "--partition", "gpu", "--runs-root", str(tmp_path)]) == 2
    assert "sbatch" in capsys.readouterr().err


@pytest.mark.slow
def test_sweep_tables_figures(tmp_path: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = str(tmp_path / "runs")
    common = ["--runs-root", runs, "--dataset", str(tiny_corpus), "--epochs", "1", "--quiet"]
    assert main(["sweep", "figure2", "--engine", "inline", *common]) == 0
    assert "1 done" in capsys.readouterr().out
    assert main(["sweep", "figure2", "--engine", "inline", *common]) == 0
    assert "1 skipped" in capsys.readouterr().out

    assert main(["tables", "--runs-root", runs]) == 0
    out = capsys.readouterr().out
    assert "## table1" in out and "## table2" in out and "missing" in out and "STFT" in out
    assert (tmp_path / "runs" / "tables" / "small" / "table2.tex").is_file()

    out_dir = tmp_path / "figs"
    assert main(["figures", "--runs-root", runs, "--out", str(out_dir)]) == 1  # only Figure 2 has its runs
    captured = capsys.readouterr()
    assert (out_dir / "figure2.png").is_file() and (out_dir / "figure2.pdf").is_file()
    assert "figure3: not drawn" in captured.err and "Figures 2 and 4 show" in captured.out
