"""Command line: ``rlsv synth | train | evaluate | sweep | status | tables | figures | reproduce``.

Every command calls the same functions as the notebooks; ``rlsv <command> --help`` lists the options.
Errors a user can fix (bad hyper-parameters, missing data) are printed as one message, exit code 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from rlsv.cli.options import add_declared_options, declared_values, non_negative_float, non_negative_int, path_arg
from rlsv.cli.options import positive_float as _positive_float
from rlsv.cli.options import positive_int as _positive_int
from rlsv.core.model_config import INITS
from rlsv.run.files import LOSSES, MODEL, SEGMENTS, SUMMARY
from rlsv.run.profiles import DEFAULT_PROFILE, PROFILE_DEFAULTS, PROFILES
from rlsv.run.train_config import RUNTIME_FIELDS, TRAINING_FIELDS
from rlsv.study.executors import EXECUTORS
from rlsv.study.notebook_runs import ENGINES

_non_negative_int, _non_negative_float = non_negative_int, non_negative_float

__all__ = ["main", "build_parser"]

# Subcommands defined in modules of their own under rlsv.cli: each has ``add_commands(subparsers)`` and,
# like this module, imports nothing heavy (torch, pandas) until a command runs.
COMMAND_MODULES: tuple[str, ...] = ("rlsv.cli.separation", "rlsv.cli.report")

PROFILE_NAMES: tuple[str, ...] = tuple(PROFILES)
# The options of `rlsv train` that TrainConfig declares (rlsv.cli.options): the grid point and the training
# settings, then how it runs; the data, the model sizes and the labels have options of their own.
_TRAIN_OPTIONS = tuple(name for name in TRAINING_FIELDS if name not in ("model", "dataset", "is_wav"))
_RUNTIME_OPTIONS = tuple(name for name in RUNTIME_FIELDS if name != "cache_dir")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("rlsv")
    except PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None, type=path_arg,
                   help="MUSDB18 / MUSDB18-HQ root (holding train/ and test/). Default: the profile's data "
                        "(small, smoke: the synthetic corpus, written on first use; paper: $MUSDB_PATH).")
    p.add_argument("--cache-dir", default=None, type=path_arg,
                   help="decode cache folder (default: $RLSV_CACHE or ~/.cache/rlsv/decoded)")


def _cmd_synth(args: argparse.Namespace) -> None:
    from rlsv.audio.synth import default_synthetic_root, make_corpus

    root = make_corpus(args.root or default_synthetic_root(), n_train=args.n_train, n_test=args.n_test,
                       duration_s=args.seconds, seed=args.seed, progress=not args.quiet)
    print(f"rlsv: synthetic corpus (MUSDB18-HQ layout) at {root}")


def _train_parameters(args: argparse.Namespace):
    """The ``RunParameters`` of ``rlsv train``'s options (the declared ones that were given, the profile, the data)."""
    from rlsv.run.config import RunParameters
    from rlsv.run.data import dataset_root

    dataset = dataset_root(args.profile, args.dataset, progress=not args.quiet)
    values = declared_values(args, _TRAIN_OPTIONS) | {"profile": args.profile, "dataset": str(dataset)}
    if args.init is not None:
        values["model"] = {"init": args.init}
    return RunParameters.from_dict(values)


def _cmd_train(args: argparse.Namespace) -> None:
    from rlsv.run.pipeline import train_folder

    params = _train_parameters(args)
    runtime = declared_values(args, _RUNTIME_OPTIONS) | {"cache_dir": args.cache_dir}
    result = train_folder(params, args.output, extend=args.extend, progress=not args.quiet, **runtime)
    last = result.history.groupby("epoch")[["neg_snr", "regulariser", "loss"]].mean().iloc[-1]
    print(f"rlsv: trained {result.output_dir} ({params.run_id}) in {result.seconds:.1f} s "
          f"(last epoch: neg_snr {last.neg_snr:.2f} dB, regulariser {last.regulariser:.4f}; convolution plan "
          f"{result.conv_plan.plan.text}, {result.conv_plan.how}); model: {result.output_dir / MODEL}, "
          f"losses: {result.output_dir / LOSSES}")


def _cmd_verify(args: argparse.Namespace) -> int:
    from rlsv.run.verify import verify_run

    report = verify_run(args.run, from_epoch=args.from_epoch, evaluate=not args.no_evaluation, device=args.device,
                        progress=not args.quiet, keep_work=args.keep, dataset=args.dataset)
    print(report.text())
    return 0 if report.identical else 1


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from rlsv.run.evaluate import evaluate_run

    result = evaluate_run(args.run, dataset=args.dataset, device=args.device, max_tracks=args.max_tracks,
                          batch_size=args.batch_size, mask_inclusive=args.mask_inclusive, progress=not args.quiet)
    print(result.summary.round(3).to_string())
    print(f"rlsv: {len(result.segments)} segments -> {result.output_dir / SEGMENTS}, "
          f"{result.output_dir / SUMMARY}")


def _slurm_options(args: argparse.Namespace):
    from rlsv.study.slurm_jobs import SlurmOptions

    return SlurmOptions(partition=args.partition, time_min=args.time, gpus_per_job=args.gpus_per_job,
                        cpus_per_job=args.cpus_per_job, mem_gb=args.mem_gb, account=args.account, qos=args.qos,
                        constraint=args.constraint, wait=not args.no_wait)


def _sweep_overrides(args: argparse.Namespace) -> dict:
    overrides = {"dataset": args.dataset, "epochs": args.epochs}
    return {k: v for k, v in overrides.items() if v is not None}


def _sweep_settings(args: argparse.Namespace, **more):
    """The ``SweepSettings`` of ``sweep`` and ``reproduce`` from their shared options (``_add_run_options``)."""
    from rlsv.study.sweeps import SweepSettings

    return SweepSettings(profile=args.profile, root=args.runs_root, jobs=args.jobs, engine=args.engine,
                         executor=args.executor, device=args.device, overrides=_sweep_overrides(args),
                         seeds=args.seeds, slurm=_slurm_options(args), progress=not args.quiet,
                         run_progress=not args.quiet, force=args.force, findings_seeds=args.findings_seeds,
                         findings_engine=args.findings_engine, conv_plan=args.conv_plan or "fixed", **more)


def _cmd_sweep(args: argparse.Namespace) -> int:
    from rlsv.study.sweeps import sweep

    report = sweep(args.grid, _sweep_settings(args, timeout_s=args.timeout))
    print(report.text())
    return 0 if report.ok else 1


def _cmd_status(args: argparse.Namespace) -> int:
    from rlsv.study.run_overview import run_overview

    frame = run_overview(args.runs_root, args.profile)
    if frame.empty:
        print(f"rlsv: no runs in {args.runs_root}" + (f" of profile {args.profile!r}" if args.profile else ""))
        return 0
    import pandas as pd

    with pd.option_context("display.width", None, "display.max_columns", None, "display.max_colwidth", 120):
        print(frame.to_string(index=False, na_rep="–"))
    counts = frame["state"].value_counts().to_dict()
    print(f"rlsv: {len(frame)} runs in {args.runs_root}: " + ", ".join(f"{n} {state}" for state, n in counts.items()))
    return 0


def _cmd_tables(args: argparse.Namespace) -> int:
    from rlsv.study.reproduce import make_tables

    # --out not given (or empty): make_tables' default, RUNS_ROOT/tables/PROFILE
    result = make_tables(args.runs_root, args.profile, args.out or None, variant=args.variant)
    for path in result.paths:
        if path.suffix == ".md":
            print(f"## {path.stem} ({path})\n\n{path.read_text(encoding='utf-8')}")
    counts = result.status["state"].value_counts().to_dict()
    print(f"Made by: {result.provenance.get('short', 'unknown')}\n"
          f"(details: {result.paths[0].parent / 'provenance.json'})")
    print(f"rlsv: runs of profile {args.profile!r} in {args.runs_root}: {counts or 'none'}; "
          f"{len(result.paths)} files in {result.paths[0].parent}")
    return 0


def _cmd_results(args: argparse.Namespace) -> int:
    from rlsv.study.reproduce import tables_dir
    from rlsv.study.results_snippet import SNIPPET, publish

    snippet = tables_dir(args.runs_root, args.profile) / SNIPPET
    if args.publish:
        docs_copy, readme = args.publish
        publish(snippet, docs_copy, readme)
        print(f"rlsv: {snippet} -> {docs_copy} and the results block of {readme}")
        return 0
    if not snippet.is_file():
        print(f"rlsv results: error: no {snippet}; run `make reproduce` (or rlsv reproduce) first.", file=sys.stderr)
        return 2
    print(snippet.read_text(encoding="utf-8"))
    return 0


def _cmd_figures(args: argparse.Namespace) -> int:
    from rlsv.study.reproduce import make_figures

    track = int(args.track) if args.track is not None and args.track.isdigit() else args.track
    # --out not given (or empty): make_figures' default, figures/PROFILE
    result = make_figures(args.runs_root, args.profile, args.out or None, track=track, segment=args.segment,
                          device=args.device, variant=args.variant)
    for name, paths in result.paths.items():
        print(f"{name}: {' '.join(str(p) for p in paths)}")
    for name, why in result.missing.items():
        print(f"{name}: not drawn ({why})", file=sys.stderr)
    if result.segment:
        print(f"rlsv: Figures 2 and 4 show {result.segment}")
    return 0 if not result.missing else 1


def _cmd_reproduce(args: argparse.Namespace) -> int:
    from rlsv.study.reproduce import reproduce

    result = reproduce(_sweep_settings(args), figures_root=args.figures_root)
    print(result.text())
    return 0 if result.ok else 1




def _add_run_options(p: argparse.ArgumentParser, findings_seeds: int = 0, findings_engine: str | None = None) -> None:
    """Options shared by ``sweep`` and ``reproduce``: where and how the runs execute."""
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILE_NAMES,
                   help="small (default: synthetic corpus, the paper's C/T, shows its trends on a CPU), smoke "
                        "(pipeline check, minutes) or paper (MUSDB18, GPU)")
    p.add_argument("--seeds", type=_positive_int, default=1,
                   help="training seeds per grid point: 218, 219, ... (default 1; 3 gives the tables' intervals "
                        "their seed-to-seed part)")
    p.add_argument("--findings-seeds", type=_non_negative_int, default=findings_seeds,
                   help="at least this many seeds for the grid points that carry the paper's findings (the L_A "
                        f"rows, L_B at lambda 0.5/1.5/2, L_B at lambda 1.5 over omega; default {findings_seeds})")
    p.add_argument("--findings-engine", choices=ENGINES, default=findings_engine,
                   help="engine of those extra seeds' runs (default: "
                        f"{findings_engine or 'the --engine'}; inline skips their notebooks)")
    add_declared_options(p, ("conv_plan",))
    p.add_argument("--jobs", type=_positive_int, default=1, help="runs at a time: worker processes (one GPU each where "
                   "there "
                   "are GPUs, else cores/jobs threads each) or the SLURM array's parallelism (default 1)")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    p.add_argument("--engine", choices=ENGINES, default="papermill",
                   help="papermill: execute notebooks 02 and 03 per run (default); inline: call the same "
                        "functions without notebooks (faster, no executed notebooks)")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local processes (default), slurm (a submitit job array), or submitit-local "
                        "(the same job array on this machine)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda")
    p.add_argument("--dataset", default=None, type=path_arg, help="dataset root for every run (default: the profile's: "
                   "small, smoke -> the synthetic corpus, paper -> $MUSDB_PATH)")
    p.add_argument("--epochs", type=_positive_int, default=None, help="override the profile's epochs")
    p.add_argument("--force", action="store_true",
                   help="treat run locks left by other hosts as stale (a SLURM job that died without removing "
                        "its lock; by default they count as busy for 48 h)")
    slurm = p.add_argument_group("SLURM (--executor slurm / submitit-local)")
    slurm.add_argument("--partition", default=None, help="SLURM partition")
    slurm.add_argument("--time", type=_positive_int, default=240, help="time limit per run in minutes (default 240)")
    slurm.add_argument("--gpus-per-job", type=_non_negative_int, default=1, help="GPUs per run (default 1)")
    slurm.add_argument("--cpus-per-job", type=_positive_int, default=8, help="CPU cores per run (default 8)")
    slurm.add_argument("--mem-gb", type=_positive_int, default=32, help="memory per run in GB (default 32)")
    slurm.add_argument("--account", default=None, help="SLURM account to charge")
    slurm.add_argument("--qos", default=None, help="SLURM quality of service")
    slurm.add_argument("--constraint", default=None, help="SLURM node constraint (e.g. a GPU type)")
    slurm.add_argument("--no-wait", action="store_true", help="submit and return (default: wait and report)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _add_quiet(p: argparse.ArgumentParser) -> None:
    p.add_argument("--quiet", action="store_true", help="no progress bars or notes")


def _add_set_options(p: argparse.ArgumentParser, output_help: str) -> None:
    """Options of the commands that read the runs of one run set: ``tables``, ``figures``, ``status``."""
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILE_NAMES,
                   help=f"whose runs (default {DEFAULT_PROFILE})")
    p.add_argument("--variant", default=None, help="settings hash of the runs (the last part of their run ids); "
                   "default: the only one, else the profile's own settings")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    if output_help:
        p.add_argument("--out", default=None, type=path_arg, help=output_help)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rlsv", description="Representation learning for singing-voice separation (Mimilakis et al. 2020), "
        "reproduced: train, evaluate and sweep the paper's runs, and regenerate its tables and figures.",
        epilog="`rlsv COMMAND --help` lists a command's options. Errors you can fix are one line and exit code 2.")
    parser.add_argument("--version", action="version", version=f"rlsv {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("synth", help="write the synthetic corpus (MUSDB18-HQ layout)",
                       description="Write a synthetic corpus of multitracks (MUSDB18-HQ layout, 44.1 kHz stereo).")
    p.add_argument("root", nargs="?", default=None, type=path_arg,
                   help="output folder (default: the default corpus, which the small and smoke profiles and a missing "
                        "dataset use: $RLSV_DATA/synthetic-default, else data/synthetic-default of the checkout)")
    p.add_argument("--n-train", type=_positive_int, default=8, help="training tracks (default 8)")
    p.add_argument("--n-test", type=_positive_int, default=4, help="test tracks (default 4)")
    p.add_argument("--seconds", type=_positive_float, default=12.0, help="length of each track in seconds (default 12)")
    p.add_argument("--seed", type=_non_negative_int, default=0, help="random seed of the corpus (default 0)")
    _add_quiet(p)
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("train", help="train one run (resumes if OUTPUT holds a checkpoint of the same run)",
                       description="Train one run into OUTPUT: config.json, provenance.json, a checkpoint per epoch, "
                       "losses.csv, epochs.csv, model.pt. Rerunning resumes from the last checkpoint (or returns at "
                       "once when finished). The options are the run's settings (rlsv.run.train_config declares "
                       "them); a setting not given is the profile's.")
    p.add_argument("output", type=path_arg, help="run folder (a folder of your own; sweeps name theirs by run id)")
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILE_NAMES,
                   help=f"sizes, epochs and learning rate: small, smoke or paper (default {DEFAULT_PROFILE})")
    add_declared_options(p, _TRAIN_OPTIONS, profile_defaults=PROFILE_DEFAULTS)
    p.add_argument("--init", choices=INITS, default=None, help="initialisation (default published)")
    p.add_argument("--extend", action="store_true",
                   help="train a finished (or interrupted) run in OUTPUT on to more --epochs, from its last checkpoint "
                        "(without it, a changed configuration is refused); its evaluation files are removed")
    runtime = p.add_argument_group("how it runs (the same bits whatever the machine's load)")
    add_declared_options(runtime, _RUNTIME_OPTIONS)
    _add_quiet(p)
    _add_data_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run on the test tracks (writes segments.csv, summary.json)",
                       description="Evaluate a run's model.pt on its test tracks: SI-SDR of the reconstruction, "
                       "oracle binary-mask SI-SDR (needs the true vocals) and additivity, per segment.")
    p.add_argument("run", type=path_arg, help="run folder holding model.pt")
    p.add_argument("--dataset", default=None, type=path_arg, help="test data root (default: the run's own dataset)")
    p.add_argument("--max-tracks", type=_positive_int, default=None, help="use only the first test tracks")
    p.add_argument("--batch-size", type=_positive_int, default=16, help="segments encoded together (default 16)")
    p.add_argument("--mask-inclusive", action="store_true", help="the paper's >= 0.5 mask (default: published > 0.5)")
    p.add_argument("--device", default="auto", help="auto (CUDA when present, default), cpu, cuda, cuda:N")
    _add_quiet(p)
    p.set_defaults(func=_cmd_evaluate)

    p = sub.add_parser("verify", help="re-derive a finished run from what it recorded and compare it bit for bit",
                       description="Train RUN again from its recorded configuration, threads and convolution plan "
                       "(from scratch, or from a kept epoch), evaluate it again, and compare the per-epoch digests, "
                       "the weights, the optimiser state, the losses and the evaluation bit for bit. Prints "
                       "'bit-identical' or the first tensor that differs and by how much; exit code 0 only when "
                       "the run is bit-identical (1 otherwise).")
    p.add_argument("run", type=path_arg, help="a finished run folder (model.pt, checkpoint.pt, config.json)")
    p.add_argument("--from-epoch", type=_non_negative_int, default=None,
                   help="start from the run's kept checkpoint of this epoch (checkpoints/epoch-KKK.pt; default: "
                        "from scratch)")
    p.add_argument("--no-evaluation", action="store_true", help="do not evaluate the re-derived model")
    p.add_argument("--device", default=None, help="where to re-derive (default: where the run trained)")
    p.add_argument("--keep", type=path_arg, default=None, help="re-derive into this folder and keep it "
                   "(default: a temporary folder, removed afterwards)")
    p.add_argument("--dataset", type=path_arg, default=None, help="the run's training data on this machine (default: "
                   "the recorded folder, or the profile's synthetic corpus when its content is the same)")
    _add_quiet(p)
    p.set_defaults(func=_cmd_verify)

    from rlsv.study.grids import GRID_NAMES

    p = sub.add_parser("sweep", help="train and evaluate every run of a grid (notebooks 02 and 03 via papermill)",
                       description="Train and evaluate every run of a grid into RUNS_ROOT/<run-id>/. Finished "
                       "runs are skipped, failed ones retried, interrupted ones resumed from their checkpoint; "
                       "exit code 1 if any run failed.")
    p.add_argument("grid", choices=GRID_NAMES, help="table1, table2 (with the STFT row), tables (both), figure3, "
                   "figure5, figure6, all (every run once: 30 + STFT), figure2, figure4")
    _add_run_options(p)
    p.add_argument("--timeout", type=_positive_float, default=None,
                   help="time limit per notebook cell in seconds (default none)")
    p.set_defaults(func=_cmd_sweep)

    p = sub.add_parser("status", help="list the runs of a runs folder: state, epochs, key metrics",
                       description="One line per run folder: its state, epochs trained, mean metrics, error.")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    p.add_argument("--profile", default=None, choices=PROFILE_NAMES, help="only this profile's runs (default: all)")
    p.set_defaults(func=_cmd_status)

    p = sub.add_parser("tables", help="Tables 1 and 2 from the finished runs (CSV, Markdown, LaTeX)",
                       description="Regenerate Tables 1 and 2 from the finished runs of one profile: our mean "
                       "(± std over segments) [95 % interval over seeds and segments] next to the paper's values.")
    _add_set_options(p, "output folder (default RUNS_ROOT/tables/PROFILE)")
    p.set_defaults(func=_cmd_tables)

    p = sub.add_parser("results", help="the results snippet of the last reproduce (the numbers the README quotes)",
                       description="Print RUNS_ROOT/tables/PROFILE/results.md, which `rlsv reproduce` writes from the "
                       "tables' numbers and their provenance; with --publish DOCS README, copy it to DOCS and into "
                       "README between its results markers (make results).")
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILE_NAMES, help=f"whose results (default "
                   f"{DEFAULT_PROFILE})")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    p.add_argument("--publish", nargs=2, type=path_arg, metavar=("DOCS_COPY", "README"), default=None,
                   help="copy the snippet to DOCS_COPY and into README's results block")
    p.set_defaults(func=_cmd_results)

    p = sub.add_parser("figures", help="Figures 2-6 from the finished runs (PNG and PDF)",
                       description="Draw Figures 2-6 from the finished runs of one profile.")
    _add_set_options(p, "output folder (default figures/PROFILE)")
    p.add_argument("--track", default=None, help="test track (name or index) of Figures 2 and 4 (default: the first)")
    p.add_argument("--segment", type=_non_negative_int, default=None,
                   help="segment index in that track (default: loudest vocals)")
    p.add_argument("--device", default="cpu", help="where the encoders run for Figures 2 and 4 (default cpu)")
    p.set_defaults(func=_cmd_figures)

    p = sub.add_parser("reproduce", help="sweep `all` (30 runs + STFT), then Tables 1-2 and Figures 2-6",
                       description="The whole reproduction: the `all` sweep, then notebooks 04 (tables) and 05 "
                       "(figures) executed with papermill; prints where every result is.")
    _add_run_options(p, findings_seeds=3, findings_engine="inline")
    p.add_argument("--figures-root", default="figures", type=path_arg,
                   help="figures go to FIGURES_ROOT/PROFILE (default figures)")
    p.set_defaults(func=_cmd_reproduce)

    for module in COMMAND_MODULES:
        importlib.import_module(module).add_commands(sub)
    return parser


def _describe_os_error(error: OSError) -> str:
    """One line naming the file and what to do: rlsv's own messages as they are, the system's with the path."""
    if error.filename is None:
        return str(error)
    what = {PermissionError: "is not writable (or readable) for you; check its permissions or choose another folder",
            FileNotFoundError: "does not exist",
            NotADirectoryError: "a file stands where a folder is needed; give a folder's path",
            FileExistsError: "a file stands where a folder is needed; give a folder's path"}.get(type(error))
    if what is None:
        return f"{error.filename}: {error.strerror or 'cannot be used'}."
    return f"{error.filename}: {what} ({error.strerror})."


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from rlsv.errors import UserError

    try:
        code = args.func(args)
    except UserError as error:  # what the user can fix; every other exception is a bug and keeps its traceback
        print(f"rlsv {args.command}: error: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a file or folder: missing, not writable, a full disk
        print(f"rlsv {args.command}: error: {_describe_os_error(error)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rlsv {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    return int(code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
