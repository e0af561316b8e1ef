"""Command line: ``rlsv report`` (the results of ``rlsv reproduce`` as a static HTML report, ``docs/report.md``).

Like ``rlsv.cli``, this module imports nothing heavy (torch, pandas, Sphinx) until the command runs.
"""

from __future__ import annotations

import argparse

# The profile names and argparse types of ``rlsv.cli`` (loaded before this module: ``build_parser`` imports it).
from rlsv.cli import DEFAULT_PROFILE, PROFILE_NAMES, _positive_float, _positive_int
from rlsv.cli.options import path_arg

__all__ = ["add_commands"]


def _cmd_report(args: argparse.Namespace) -> int:
    from rlsv.study.report import build_report

    result = build_report(args.runs_root, args.profile, figures_root=args.figures_root, out_dir=args.out,
                          variant=args.variant, docs=args.docs if args.docs is not None else True,
                          excerpts=args.excerpts, seconds=args.seconds, run_notebooks=not args.no_run_notebooks,
                          progress=not args.quiet)
    print(result.text())
    return 0 if not result.missing else 1


def add_commands(sub: argparse._SubParsersAction) -> None:
    """Add ``report`` to the ``rlsv`` subcommands."""
    p = sub.add_parser("report", help="the results of rlsv reproduce as an HTML report (opens from file://)",
                       description="Build a static HTML report (Jupyter Book) of one profile's results: the paper's "
                       "claims and ours, Tables 1-2, Figures 2-6, listening examples of the oracle binary mask, the "
                       "executed notebooks 04 and 05 and every run's 02 and 03, the scale study and separation pages "
                       "of docs/, the provenance. Exit code 1 when a part is missing (the report says which; "
                       "absent provenance files are only noted).")
    p.add_argument("--profile", default=DEFAULT_PROFILE, choices=PROFILE_NAMES,
                   help=f"whose results (default {DEFAULT_PROFILE})")
    p.add_argument("--variant", default=None, help="settings hash of the runs (default: the only one, else the "
                   "profile's own)")
    p.add_argument("--runs-root", default="papermill_runs", type=path_arg, help="runs folder (default papermill_runs)")
    p.add_argument("--figures-root", default="figures", type=path_arg,
                   help="figures folder (default figures; the profile's figures are in FIGURES_ROOT/PROFILE)")
    p.add_argument("--out", default=None, type=path_arg,
                   help="report folder (default RUNS_ROOT/report; replaced when done)")
    p.add_argument("--docs", default=None, type=path_arg,
                   help="docs folder whose scale_study.md and separation.md to include (default: the checkout's docs/)")
    p.add_argument("--excerpts", type=_positive_int, default=3, help="listening excerpts (default 3)")
    p.add_argument("--seconds", type=_positive_float, default=3.0, help="length of each excerpt in seconds (default 3)")
    p.add_argument("--no-run-notebooks", action="store_true",
                   help="list the runs without rendering their executed notebooks 02 and 03 (a smaller report)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_report)
