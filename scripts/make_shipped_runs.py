#!/usr/bin/env python3
"""Regenerate the runs that ship with rlsv (``rlsv/shipped_runs/``) and their ``provenance.json``.

    .venv/bin/python scripts/make_shipped_runs.py            # all of them, one after the other
    .venv/bin/python scripts/make_shipped_runs.py --jobs 2   # two at a time (same bytes: one thread each)
    .venv/bin/python scripts/make_shipped_runs.py --dry-run  # print what would be made, train nothing

Each run is trained from scratch in a temporary folder with the calls recorded in ``provenance.json``
(``rlsv.ui.shipped``); then ``git diff --stat rlsv/shipped_runs`` shows what changed. About a minute of
CPU per run (small profile); ``tests/ui/test_shipped_runs.py`` checks the result without retraining.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the checkout's rlsv, installed or not

from rlsv.ui.shipped import SCRIPT_COMMAND, make_shipped_runs, planned_runs, shipped_root  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=None, help=f"where the runs go (default {shipped_root()})")
    parser.add_argument("--jobs", type=int, default=1, help="runs trained at a time, one process each (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="print the runs and their calls; train nothing")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.dry_run:
        print(json.dumps({"command": SCRIPT_COMMAND, "runs": planned_runs()}, indent=2))
        return 0
    if args.jobs < 1:
        parser.error("--jobs must be >= 1")
    start = time.perf_counter()
    provenance = make_shipped_runs(args.out, jobs=args.jobs, progress=not args.quiet)
    for run in provenance["runs"]:
        size = sum(f["size"] for f in run["files"].values())
        print(f"{run['run_id']}: {size / 1e6:.2f} MB")
    print(f"{len(provenance['runs'])} runs, {provenance['total_bytes'] / 1e6:.2f} MB in "
          f"{args.out or shipped_root()}, made in {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
