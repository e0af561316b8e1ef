"""Command line: ``rlsv train-separator | separate | separation | import-weights`` (blind separation, the authors'
models).

Like ``rlsv.cli``, this module imports nothing heavy (torch, pandas) until a command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rlsv.cli.options import non_negative_int, path_arg, positive_float
from rlsv.cli.options import positive_int as _positive_int
from rlsv.run.profiles import PROFILES

__all__ = ["add_commands"]

# rlsv.core.separation.mask_estimator.DEFAULT_BUDGET and rlsv.core.separation.front_ends.FRONT_ENDS, spelled out so
# that building the parser does not import torch (tests/test_cli_separation.py checks that they agree).
DEFAULT_BUDGET, FRONT_END_NAMES = 250_000, ("learned", "stft")


def _training_line(result, config) -> str:
    """What a separator's training made: where, its size, time and last epoch's training SI-SDR."""
    last = result.history.groupby("epoch")["loss"].mean()
    score = f"last epoch: training SI-SDR {-last.iloc[-1]:.2f} dB; " if len(last) else ""
    start = f"resumed from epoch {result.resumed_from_epoch}" if result.resumed_from_epoch else "trained from scratch"
    return (f"rlsv: separator ({config.front_end}, {result.parameters:,} parameters, seed {config.seed}) in "
            f"{result.output_dir}, {result.seconds:.1f} s ({score}{start})")


def _cmd_train_separator(args: argparse.Namespace) -> int:
    from rlsv.run.separation.training import SeparatorConfig, resolve_front_end, train_separator

    config = SeparatorConfig(front_end=resolve_front_end(args.run, args.front_end), epochs=args.epochs,
                             learning_rate=args.lr, seed=args.seed, budget=args.budget, lstm_layers=args.lstm_layers,
                             device=args.device)
    result = train_separator(args.run, config, output_dir=args.out, data_run=args.data_run, progress=not args.quiet)
    print(_training_line(result, config))
    return 0


TRAINING_TIME = "small profile: 3 to 4 min on 2 idle CPU cores, longer on a busy machine; docs/separation.md"
"""What a separator's training costs, as measured (``docs/separation.md``): said before one is trained."""

ON_DEMAND_SETTINGS: dict = {}
"""``SeparatorConfig`` fields of a separator that ``rlsv separate --train-separator`` trains, beyond the front
end, seed and device: none, so it is the one ``rlsv train-separator RUN`` trains (tests make it smaller)."""


def _yes(question: str) -> bool:
    """Ask on the terminal; anything but y / yes (or no terminal input) is no."""
    try:
        return input(question).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def _train_missing_separator(args: argparse.Namespace, run: Path, front_end: str, folder: Path) -> None:
    """Train the separator ``rlsv separate`` needs, when the user asks for it (``--train-separator``, or yes at
    the prompt on a terminal); else a one-line error saying which command or flag trains it."""
    from tqdm.auto import tqdm

    from rlsv.errors import RunFolderError
    from rlsv.run.separation.training import SeparatorConfig, train_separator
    from rlsv.run.separation.training_time import ExpectedTime, planned_steps

    command = f"rlsv train-separator {run}" + (f" --front-end {front_end}" if args.front_end else "") + (
        f" --seed {args.seed}" if args.seed != 218 else "")
    missing = (f"{run} has no trained separator ({folder}); train one with `{command}` ({TRAINING_TIME}), or add "
               "--train-separator to train it now")
    if not args.train_separator and not sys.stdin.isatty():
        raise RunFolderError(missing + ".")
    config = SeparatorConfig(front_end=front_end, seed=args.seed, device=args.device, **ON_DEMAND_SETTINGS)
    steps = planned_steps(run, config.epochs)
    what = f"{config.front_end} front end, {config.epochs} epochs, up to {steps} steps"
    if not args.train_separator and not _yes(f"rlsv: {run} has no trained separator. Train one now ({what}; "
                                             f"{TRAINING_TIME})? [y/N] "):
        raise RunFolderError(missing + " (you answered no).")
    print(f"rlsv: training a separator for {run} into {folder} ({what}); the time it takes here is shown after "
          "the first steps")
    expected = ExpectedTime(steps, log=tqdm.write, measure_steps=max(1, min(20, steps // 10)))
    result = train_separator(run, config, progress=not args.quiet, callback=expected, callback_every=5)
    print(_training_line(result, config))


def _cmd_separate(args: argparse.Namespace) -> int:
    from rlsv.audio.files import open_audio
    from rlsv.run.separation.files import SEPARATOR_MODEL, separator_dir
    from rlsv.run.separation.quality import expected_quality
    from rlsv.run.separation.recording import separate_file, stem_paths
    from rlsv.run.separation.training import resolve_front_end

    run = Path(args.run)
    if not run.is_dir():
        raise FileNotFoundError(f"No run folder at {run}.")
    if not Path(args.mix).is_file():
        raise FileNotFoundError(f"No audio file at {args.mix}.")
    stem_paths(args.mix, args.out, args.overwrite)  # an output over the input or a file is refused before any work
    with open_audio(args.mix):  # a file that cannot be decoded is named before a separator is trained for it
        pass
    front_end = resolve_front_end(run, args.front_end)
    folder = separator_dir(run, front_end, args.seed)
    if not (folder / SEPARATOR_MODEL).is_file():
        _train_missing_separator(args, run, front_end, folder)
    print(expected_quality(folder))
    output = separate_file(args.mix, run, out_dir=args.out, seed=args.seed, front_end=front_end,
                           device=args.device, batch_size=args.batch_size, progress=not args.quiet,
                           overwrite=args.overwrite)
    print(f"rlsv: {output.seconds:.1f} s at {output.sample_rate} Hz, {output.channels} channel(s) -> "
          + ", ".join(str(p) for p in output.paths.values()))
    return 0


def _cmd_separation(args: argparse.Namespace) -> int:
    from rlsv.study.separation.comparison import train_separators
    from rlsv.study.separation.table import write_separation_table
    from rlsv.study.sweeps import run_sweep

    if not args.no_sweep:
        report = run_sweep("figure4", profile=args.profile, root=args.runs_root, jobs=1, engine="inline",
                           device=args.device, progress=not args.quiet, run_progress=not args.quiet)
        print(report.text())
        if not report.ok:
            return 1
    train_separators(args.runs_root, args.profile, args.variant, seeds=args.seeds, epochs=args.epochs,
                     device=args.device, progress=not args.quiet, budget=args.budget)
    tables = write_separation_table(args.runs_root, args.profile, args.variant, args.out, seeds=args.seeds,
                                    excerpt=not args.no_excerpt, bss=not args.no_bss,
                                    device="cpu" if args.device == "auto" else args.device,
                                    progress=not args.quiet)
    markdown = next(p for p in tables.paths if p.suffix == ".md")
    print(f"## {markdown.stem} ({markdown})\n\n{markdown.read_text(encoding='utf-8')}")
    print(f"rlsv: {len(tables.paths)} files in {markdown.parent}")
    return 0


def _cmd_import_weights(args: argparse.Namespace) -> int:
    from rlsv.run.import_weights import import_weights

    out = import_weights(args.output, analysis=args.analysis, synthesis=args.synthesis, results_dir=args.results_dir,
                         exp_id=args.exp_id, dataset=args.dataset, stride=args.stride,
                         segment_length=args.segment_length, sample_rate=args.sample_rate, dilation=args.dilation)
    print(f"rlsv: imported run in {out} (model.pt, config.json); evaluate it with `rlsv evaluate {out}`, "
          f"train a blind separator with `rlsv train-separator {out}`")
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``train-separator``, ``separate`` and ``import-weights`` to the ``rlsv`` subcommands."""
    p = sub.add_parser("train-separator", help="train a blind vocal-mask estimator on a trained run (resumable)",
                       description="Train a mask estimator (open-unmix-like BLSTM) on the run's frozen representation "
                       "(or on the STFT, --front-end stft) with the run's training data; files in "
                       "RUN/separator-s<seed>/ (docs/run_layout.md). Rerunning resumes; a finished one returns at "
                       "once.")
    p.add_argument("run", type=path_arg,
                   help="run folder holding model.pt and config.json (or the run set's STFT run folder)")
    p.add_argument("--front-end", choices=FRONT_END_NAMES, default=None,
                   help="learned (the run's autoencoder, frozen) or stft (Hann, n_fft 2048, hop 256); default: the "
                        "run's own (stft for an STFT run folder, else learned)")
    p.add_argument("--epochs", type=_positive_int, default=20,
                   help="passes over the run's training tracks (default 20)")
    p.add_argument("--seed", type=non_negative_int, default=218,
                   help="estimator seed: initial weights and batch order (default 218)")
    p.add_argument("--lr", type=positive_float, default=1e-3, help="Adam learning rate (default 1e-3)")
    p.add_argument("--budget", type=_positive_int, default=DEFAULT_BUDGET,
                   help=f"parameter budget of the estimator, the same for every front end (default {DEFAULT_BUDGET:,})")
    p.add_argument("--lstm-layers", type=_positive_int, default=1, help="stacked BLSTM layers (default 1)")
    p.add_argument("--data-run", default=None, type=path_arg,
                   help="run whose training data and segmentation to use (default: RUN; for an STFT run folder, a "
                        "trained run of the same run set)")
    p.add_argument("--out", default=None, type=path_arg, help="separator folder (default RUN/separator-s<seed>, or "
                   "RUN/separator-stft-s<seed> for the STFT on a trained run)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_train_separator)

    p = sub.add_parser("separate", help="separate a recording into vocals.wav and accompaniment.wav",
                       description="Separate an audio file of any length, rate and channels with a run's trained "
                       "separator, block by block (memory does not grow with the file): overlap-add over segments "
                       "of the model's N (Hann window, 50 % overlap); the mask is estimated on the mono down-mix "
                       "and applied to each channel; accompaniment = mixture - vocals. Both stems at the input's "
                       "rate and length; an output over the input file is refused. A run without a separator "
                       "trains one with --train-separator (or after a yes on a terminal). Prints the quality "
                       "measured for the separator, if any (docs/separation.md).")
    p.add_argument("mix", type=path_arg,
                   help="audio file (wav, flac, ogg, mp3, mp4/m4a, or a MUSDB18 .stem.mp4's mixture)")
    p.add_argument("--run", required=True, type=path_arg,
                   help="run folder whose separator to use (trained by rlsv train-separator)")
    p.add_argument("--out", default=None, type=path_arg, help="output folder (default separated/<name of MIX>)")
    p.add_argument("--seed", type=non_negative_int, default=218, help="which estimator seed of the run (default 218)")
    p.add_argument("--front-end", choices=FRONT_END_NAMES, default=None,
                   help="which of the run's separators (default: the run's own front end)")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="segments processed together (default 16)")
    p.add_argument("--device", default="auto", help="auto (the GPU when present, else the CPU), cpu, cuda, cuda:N")
    p.add_argument("--overwrite", action="store_true",
                   help="replace vocals.wav and accompaniment.wav already in the output folder (never the input)")
    p.add_argument("--train-separator", action="store_true",
                   help="when the run has no separator yet, train one first (as rlsv train-separator RUN does); "
                        "without it, a terminal asks, and elsewhere the command stops and says how")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_separate)

    p = sub.add_parser("separation", help="blind separation study: Figure 4 runs, their separators, the table",
                       description="Train the Figure 4 runs (rlsv sweep figure4) unless --no-sweep, a mask estimator "
                       "per representation (L_A w=4, L_B lambda=0.5, L_B lambda=1.5 w=4, STFT) and seed, then write "
                       "the blind vs oracle table (separation.csv/.md/.tex, docs/separation.md). Resumable: "
                       "finished runs, estimators and scores are reused.")
    p.add_argument("--profile", default="small", choices=tuple(PROFILES),
                   help="whose runs (default small)")
    p.add_argument("--variant", default=None, help="settings hash of the runs (default: the profile's own)")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    p.add_argument("--seeds", type=_positive_int, default=3,
                   help="estimator seeds per representation: 218, 219, ... (default 3)")
    p.add_argument("--epochs", type=_positive_int, default=20, help="estimator epochs (default 20)")
    p.add_argument("--budget", type=_positive_int, default=DEFAULT_BUDGET,
                   help=f"parameter budget of every estimator (default {DEFAULT_BUDGET:,})")
    p.add_argument("--out", default=None, type=path_arg, help="table folder (default RUNS_ROOT/tables/PROFILE)")
    p.add_argument("--no-sweep", action="store_true", help="do not train missing Figure 4 runs")
    p.add_argument("--no-bss", action="store_true", help="skip BSSEval v4 (museval; the slow part)")
    p.add_argument("--no-excerpt", action="store_true", help="skip the stempeg MUSDB18 excerpt")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_separation)

    p = sub.add_parser("import-weights", help="turn the authors' released model into a run folder",
                       description="Import the authors' analysis_<exp_id>.pytorch and synthesis_<exp_id>.pytorch "
                       "(published with https://github.com/Js-Mim/rl_singing_voice; download them yourself) into a "
                       "run folder that rlsv evaluate, train-separator and separate accept.")
    p.add_argument("output", type=path_arg, help="run folder to write (model.pt, config.json)")
    p.add_argument("results_dir", nargs="?", default=None, type=path_arg,
                   help="the authors' results/ folder (with --exp-id); or give --analysis and --synthesis")
    p.add_argument("--exp-id", default=None, help="experiment id of results/analysis_<exp_id>.pytorch")
    p.add_argument("--analysis", default=None, type=path_arg,
                   help="encoder state dict file (analysis_<exp_id>.pytorch)")
    p.add_argument("--synthesis", default=None, type=path_arg,
                   help="decoder state dict file (synthesis_<exp_id>.pytorch)")
    p.add_argument("--dataset", default=None, type=path_arg,
                   help="data to evaluate on and train separators with (default: "
                   "$MUSDB_PATH, else the synthetic corpus)")
    p.add_argument("--stride", type=_positive_int, default=256, help="S, not stored in the files (default 256)")
    p.add_argument("--segment-length", type=_positive_int, default=44100, help="N in samples (default 44100)")
    p.add_argument("--sample-rate", type=_positive_int, default=44100, help="sampling rate in Hz (default 44100)")
    p.add_argument("--dilation", type=_positive_int, default=10, help="dilation of the context conv (default 10)")
    p.set_defaults(func=_cmd_import_weights)
