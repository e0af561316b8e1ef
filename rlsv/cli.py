"""Command line: ``rlsv synth | train | evaluate | sweep | tables | figures | reproduce``.

Every command calls the same functions as the notebooks; ``rlsv <command> --help`` lists the options.
Errors a user can fix (bad hyper-parameters, missing data) are printed as one message, exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path
from typing import Sequence

__all__ = ["main", "build_parser"]


def _add_data_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", default=None,
                   help="MUSDB18 / MUSDB18-HQ root (holding train/ and test/). Default: $MUSDB_PATH, "
                        "else the synthetic corpus (written on first use).")
    p.add_argument("--cache-dir", default=None, help="decode cache folder (default: $RLSV_CACHE or ~/.cache/rlsv/decoded)")


def _cmd_synth(args: argparse.Namespace) -> None:
    from .synth import default_synthetic_root, make_corpus

    root = make_corpus(args.root or default_synthetic_root(), n_train=args.n_train, n_test=args.n_test,
                       duration_s=args.seconds, seed=args.seed, progress=not args.quiet)
    print(f"rlsv: synthetic corpus (MUSDB18-HQ layout) at {root}")


def _train_config(args: argparse.Namespace):
    from .profiles import get_profile
    from .train import TrainConfig

    profile = get_profile(args.profile)
    model = profile.model if args.init is None else replace(profile.model, init=args.init)
    return TrainConfig(
        objective=args.objective, omega=args.omega, lam=args.lam, p=args.p,
        epochs=args.epochs or profile.epochs, batch_size=args.batch_size or profile.batch_size,
        learning_rate=args.lr or profile.learning_rate, seed=args.seed, model=model,
        dataset=args.dataset, cache_dir=args.cache_dir, max_train_tracks=args.max_tracks or profile.max_train_tracks,
        tv_form=args.tv_form, sinkhorn_grad=args.sinkhorn_grad, device=args.device, tf32=args.tf32, amp=args.amp,
        pad_sets_with_silence=args.pad_sets_with_silence, profile=profile.name,
    )


def _cmd_train(args: argparse.Namespace) -> None:
    from .train import fit

    result = fit(_train_config(args), args.output, progress=not args.quiet)
    last = result.history.groupby("epoch")[["neg_snr", "regulariser", "loss"]].mean().iloc[-1]
    print(f"rlsv: trained {result.output_dir} in {result.seconds:.1f} s "
          f"(last epoch: neg_snr {last.neg_snr:.2f} dB, regulariser {last.regulariser:.4f}); "
          f"model: {result.output_dir / 'model.pt'}, losses: {result.output_dir / 'losses.csv'}")


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from .evaluate import evaluate_run

    result = evaluate_run(args.run, dataset=args.dataset, device=args.device, max_tracks=args.max_tracks,
                          batch_size=args.batch_size, mask_inclusive=args.mask_inclusive, progress=not args.quiet)
    print(result.summary.round(3).to_string())
    print(f"rlsv: {len(result.segments)} segments -> {result.output_dir / 'segments.csv'}, "
          f"{result.output_dir / 'summary.json'}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlsv", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("synth", help="write the synthetic corpus (MUSDB18-HQ layout)")
    p.add_argument("root", nargs="?", default=None, help="output folder (default: $RLSV_DATA/synthetic or ./data/synthetic)")
    p.add_argument("--n-train", type=int, default=8, help="training tracks (default 8)")
    p.add_argument("--n-test", type=int, default=4, help="test tracks (default 4)")
    p.add_argument("--seconds", type=float, default=12.0, help="length of each track in seconds (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("train", help="train one run (resumes if OUTPUT holds a checkpoint of the same run)")
    p.add_argument("output", help="run folder (checkpoint.pt, losses.csv, model.pt, config.json)")
    p.add_argument("--objective", choices=["tv", "sinkhorn"], default="tv", help="tv = L_A, sinkhorn = L_B")
    p.add_argument("--omega", type=float, default=1.0, help="weight of the representation term")
    p.add_argument("--lam", type=float, default=None, help="Sinkhorn entropic regularisation (L_B only)")
    p.add_argument("--p", type=int, default=None, help="Sinkhorn cost norm, 1 or 2 (L_B only; default 1)")
    p.add_argument("--profile", default="paper", help="sizes: quick or paper (default paper)")
    p.add_argument("--epochs", type=int, default=None, help="override the profile's epochs")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=218)
    p.add_argument("--max-tracks", type=int, default=None, help="use only the first training tracks")
    p.add_argument("--init", choices=["published", "paper"], default=None, help="initialisation (default published)")
    p.add_argument("--tv-form", choices=["published", "paper"], default="published")
    p.add_argument("--sinkhorn-grad", choices=["implicit", "unrolled", "envelope"], default="implicit")
    p.add_argument("--pad-sets-with-silence", action="store_true", help="reproduce the published zero-segment padding")
    p.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:N")
    p.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (off by default)")
    p.add_argument("--amp", action="store_true", help="bfloat16 autocast for the model on CUDA (off by default)")
    p.add_argument("--quiet", action="store_true")
    _add_data_options(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("evaluate", help="evaluate a trained run on the test tracks (writes segments.csv, summary.json)")
    p.add_argument("run", help="run folder holding model.pt")
    p.add_argument("--dataset", default=None, help="test data root (default: the run's own dataset)")
    p.add_argument("--max-tracks", type=int, default=None, help="use only the first test tracks")
    p.add_argument("--batch-size", type=int, default=16, help="segments encoded together")
    p.add_argument("--mask-inclusive", action="store_true", help="the paper's >= 0.5 mask (default: published > 0.5)")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_evaluate)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .data import DatasetError

    try:
        args.func(args)
    except (DatasetError, ValueError, FileNotFoundError) as error:
        print(f"rlsv {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rlsv {args.command}: interrupted; rerun the same command to resume.", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
