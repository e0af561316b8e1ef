"""The command line: help of every subcommand, exit codes (2: an error the user can fix, 1: some
run or figure failed), and sweep -> tables -> figures on a tiny corpus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rlsv.cli import build_parser, main

SUBCOMMANDS = ("synth", "train", "evaluate", "verify", "sweep", "status", "tables", "results", "figures", "reproduce",
               "train-separator", "separate", "separation", "import-weights", "report")


def test_every_subcommand_is_registered() -> None:
    choices = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert tuple(choices) == SUBCOMMANDS


def test_parser_is_cheap_and_agrees_with_the_sweeps() -> None:
    code = "import sys; from rlsv.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"
    from rlsv import cli
    from rlsv.run import profiles
    from rlsv.study import sweeps

    assert cli.ENGINES is sweeps.ENGINES and cli.EXECUTORS is sweeps.EXECUTORS  # taken, not copied
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


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"rlsv {version('rlsv')}"


def test_status_of_an_empty_or_missing_runs_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "runs").mkdir()
    assert main(["status", "--runs-root", str(tmp_path / "runs")]) == 0
    assert "no runs in" in capsys.readouterr().out
    assert main(["status", "--runs-root", str(tmp_path / "nowhere")]) == 2
    assert "--runs-root" in capsys.readouterr().err


def test_console_script_runs() -> None:
    result = subprocess.run([str(Path(sys.executable).with_name("rlsv")), "reproduce", "--help"],
                            capture_output=True, text=True)
    assert result.returncode == 0 and "--jobs" in result.stdout


@pytest.mark.parametrize("argv", [["sweep", "tabel1"], ["sweep"], ["tables", "--bogus"], ["reproduce", "--jobs", "x"],
                                  ["sweep", "table1", "--profile", "huge"],
                                  ["separate", "m.wav", "--run", "r", "--seed", "-1"],
                                  ["train-separator", "r", "--seed", "-1"], ["train-separator", "r", "--lr", "nan"],
                                  ["separation", "--profile", "huge"]])
def test_usage_errors_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_fixable_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = str(tmp_path / "runs")
    assert main(["sweep", "table2", "--profile", "paper", "--runs-root", runs, "--quiet"]) == 2
    assert "MUSDB_PATH" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:  # refused where it is parsed
        main(["sweep", "table1", "--jobs", "0", "--runs-root", runs])
    assert exit_info.value.code == 2 and "argument --jobs" in capsys.readouterr().err
    assert main(["sweep", "table1", "--dataset", str(tmp_path / "nowhere"), "--runs-root", runs, "--quiet"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["tables", "--runs-root", str(tmp_path / "none")]) == 2
    assert "does not exist" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["tables", "--runs-root", str(tmp_path / "empty"), "--profile", "smoke"]) == 2
    assert "No finished runs of profile 'smoke'" in capsys.readouterr().err
    assert not (tmp_path / "empty" / "tables").exists()
    assert main(["figures", "--runs-root", str(tmp_path / "none")]) == 2


@pytest.mark.parametrize("option, value, message", [
    ("--epochs", "0", "argument --epochs: expected a whole number >= 1, got 0"),
    ("--batch-size", "0", "argument --batch-size: expected a whole number >= 1, got 0"),
    ("--lr", "0", "argument --lr: expected a finite number > 0, got 0"),
    ("--lr", "nan", "argument --lr: expected a finite number > 0, got nan"),
    ("--max-tracks", "-1", "argument --max-tracks: expected a whole number >= 1, got -1"),
    ("--seed", "-1", "argument --seed: expected a whole number >= 0, got -1"),
    ("--omega", "-3", "argument --omega: expected a finite number >= 0, got -3"),
    ("--p", "3", "argument --p: invalid choice: 3"),
])
def test_options_are_checked_where_they_are_parsed(option: str, value: str, message: str, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    # 0 is a value given, not "use the profile's": it is refused, naming the option, and nothing is trained
    with pytest.raises(SystemExit) as exit_info:
        main(["train", str(tmp_path / "run"), "--quiet", option, value])
    assert exit_info.value.code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("argv, message", [
    (["--lam", "1.5"], "The tv objective (L_A) does not use lam=1.5"),
    (["--lr", "1000000"], "learning_rate must be in (0, 1]"),
    (["--device", "banana"], "device (--device) 'banana' is not a device name"),
])
def test_train_refuses_what_it_would_ignore_or_cannot_do(argv: list[str], message: str, tmp_path: Path,
                                                         tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["train", str(tmp_path / "run"), "--profile", "smoke", "--dataset", str(tiny_corpus), "--quiet"]
    assert main(base + argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("rlsv train: error: ") and message in err and "Traceback" not in err
    assert not (tmp_path / "run" / "model.pt").exists()


def test_file_problems_are_one_line_naming_the_file(tmp_path: Path, tiny_corpus: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"not a checkpoint at all")
    base = ["train", str(run), "--profile", "smoke", "--dataset", str(tiny_corpus), "--quiet"]
    assert main(base) == 2
    err = capsys.readouterr().err
    assert f"{run / 'checkpoint.pt'} is not a readable torch file" in err and "Delete it" in err
    (run / "checkpoint.pt").unlink()
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("x")
    assert main(base + ["--cache-dir", str(not_a_folder / "cache")]) == 2  # cannot be created, even as root
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "decode cache folder" in err and str(not_a_folder / "cache") in err


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

    assert main(["status", "--runs-root", runs]) == 0
    out = capsys.readouterr().out
    assert "small-sinkhorn-p1-l1.5-w4-s218-" in out and " done " in out and " 1/1 " in out and "1 runs in" in out

    assert main(["tables", "--runs-root", runs]) == 0
    out = capsys.readouterr().out
    assert "## table1" in out and "## table2" in out and "missing" in out and "STFT" in out
    assert (tmp_path / "runs" / "tables" / "small" / "table2.tex").is_file()

    out_dir = tmp_path / "figs"
    assert main(["figures", "--runs-root", runs, "--out", str(out_dir)]) == 1  # only Figure 2 has its runs
    captured = capsys.readouterr()
    assert (out_dir / "figure2.png").is_file() and (out_dir / "figure2.pdf").is_file()
    assert "figure3: not drawn" in captured.err and "Figures 2 and 4 show" in captured.out


def _train(folder: Path, corpus: Path, *extra: str) -> list[str]:
    return ["train", str(folder), "--profile", "smoke", "--dataset", str(corpus), "--epochs", "1", "--max-tracks",
            "1", "--quiet", *extra]


@pytest.mark.parametrize("argv", [["train", ""], ["train", " "], ["evaluate", ""], ["status", "--runs-root", ""],
                                  ["separate", "", "--run", "r"], ["separate", "m.wav", "--run", ""],
                                  ["separate", "m.wav", "--run", "r", "--out", ""], ["train-separator", ""],
                                  ["import-weights", ""]])
def test_empty_paths_are_refused_naming_the_option(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2 and "expected a path, got an empty value" in capsys.readouterr().err


def test_training_into_a_file_is_refused_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    song = tmp_path / "song.wav"
    song.write_bytes(b"RIFF")
    assert main(["train", str(song), "--profile", "smoke", "--quiet"]) == 2
    assert f"{song} is a file, not a folder" in capsys.readouterr().err and song.read_bytes() == b"RIFF"


def test_a_file_where_a_folder_is_needed_is_said_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "song.wav"
    blocker.write_bytes(b"RIFF")
    assert main(["synth", str(blocker)]) == 2
    err = capsys.readouterr().err
    assert f"{blocker}: a file stands where a folder is needed; give a folder's path" in err
    assert err.count("Not a directory") == 1 and blocker.read_bytes() == b"RIFF"


def test_tilde_is_expanded_in_every_path_option(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    args = build_parser().parse_args(["train", "~/runs/t", "--dataset", "~/data", "--cache-dir", "~/cache"])
    assert (args.output, args.dataset, args.cache_dir) == (f"{tmp_path}/runs/t", f"{tmp_path}/data",
                                                           f"{tmp_path}/cache")
    assert build_parser().parse_args(["tables", "--runs-root", "~/r", "--out", "~/o"]).out == f"{tmp_path}/o"
    args = build_parser().parse_args(["separate", "~/m.wav", "--run", "~/r", "--out", "~/sep"])
    assert (args.mix, args.run, args.out) == (f"{tmp_path}/m.wav", f"{tmp_path}/r", f"{tmp_path}/sep")


def test_every_path_argument_expands_tilde_and_refuses_empty_values() -> None:
    """One rule for every file or folder argument of every command: it goes through ``path_arg``."""
    import argparse

    from rlsv.cli.options import path_arg

    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    path_like = {"run", "mix", "out", "output", "dataset", "runs_root", "figures_root", "cache_dir", "data_run",
                 "results_dir", "analysis", "synthesis", "docs", "root"}
    seen = 0
    for command, parser in sub.choices.items():
        for action in parser._actions:
            if action.dest in path_like and action.choices is None:
                assert action.type is path_arg, f"rlsv {command} {action.dest}"
                seen += 1
    assert seen >= 25


@pytest.mark.slow
def test_a_folder_of_ones_own_is_a_run_that_status_lists_and_extend_keeps_honest(
        tmp_path: Path, tiny_corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from rlsv.run.folder import RunFolder
    from rlsv.run.status import read_status

    folder = tmp_path / "runs" / "mine"
    assert main(_train(folder, tiny_corpus)) == 0
    config = RunFolder(folder).config
    assert config["run_id"].startswith("smoke-tv-w1-s218-") and config["variant"] and not RunFolder(folder).is_grid_run
    assert RunFolder(folder).identity_problem() is None and read_status(folder)["state"] == "pending"
    assert main(["evaluate", str(folder), "--max-tracks", "1", "--quiet"]) == 0
    assert read_status(folder)["state"] == "done"  # trained and evaluated: status tells the truth
    assert main(["status", "--runs-root", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert f"mine ({config['run_id']})" in out and "invalid" not in out and "pending" not in out
    # a refused command (other settings into a finished run) leaves the run and its state as they were
    before = (folder / "status.json").read_bytes()
    assert main(_train(folder, tiny_corpus, "--epochs", "3")) == 2
    refusal = capsys.readouterr().err
    assert "different configuration" in refusal and "(rlsv train --extend)" in refusal  # only epochs differ
    assert (folder / "status.json").read_bytes() == before and (folder / "segments.csv").is_file()
    # a damaged config.json is named, not trained past and left damaged
    good = (folder / "config.json").read_text()
    (folder / "config.json").write_text('{"model": {"chan')
    assert main(_train(folder, tiny_corpus)) == 2
    assert f"{folder / 'config.json'} is not valid JSON" in capsys.readouterr().err
    (folder / "config.json").write_text(good)
    # extended in place: it becomes the 2-epoch run, and its 1-epoch evaluation does not stay beside it
    assert main(_train(folder, tiny_corpus, "--epochs", "2", "--extend")) == 0
    extended = RunFolder(folder).config
    assert extended["epochs"] == 2 and extended["variant"] != config["variant"]
    assert not (folder / "segments.csv").exists() and not (folder / "summary.json").exists()
    assert read_status(folder)["state"] == "pending"
    # a sweep's folder (named by its run id) is not extended in place: it would become another run
    sweep_run = tmp_path / "runs" / extended["run_id"]
    folder.rename(sweep_run)
    assert main(_train(sweep_run, tiny_corpus, "--epochs", "3", "--extend")) == 2
    assert "is a sweep's run" in capsys.readouterr().err


def test_two_trainings_of_one_folder_never_run_at_once(tmp_path: Path, tiny_corpus: Path,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    from rlsv.run.lock import run_lock

    folder = tmp_path / "run"
    folder.mkdir()
    with run_lock(folder):  # another live process holds the folder (here: this one, alive)
        assert main(_train(folder, tiny_corpus)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{folder} is being trained by process" in err
    assert not (folder / "model.pt").exists()
