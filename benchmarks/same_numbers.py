#!/usr/bin/env python
"""Two `make reproduce` results on one machine compared bit for bit: tables, every run's weights and evaluation.

    .venv/bin/python benchmarks/same_numbers.py CLONE_A/papermill_runs CLONE_B/papermill_runs \\
        --out docs/results/same_numbers.md

For the profile's tables (``tables/<profile>/*.csv``) the files are compared byte for byte; for every run folder
in both roots, the weights of ``model.pt`` (tensor by tensor: names, dtypes, shapes, bytes; the file's other
entries hold the run's data path, which differs between clones) and ``segments.csv`` byte for byte. Each root's
provenance line says what made it.
"""

from __future__ import annotations

import argparse
import filecmp
import json
from pathlib import Path

from determinism import weights_digest  # benchmarks/determinism.py: the weights of a run folder's model.pt

from rlsv.atomic import write_text


def _short(tables: Path) -> str:
    try:
        return json.loads((tables / "provenance.json").read_text(encoding="utf-8"))["short"]
    except (OSError, KeyError, ValueError):
        return "no provenance.json"


def report(a: Path, b: Path, profile: str) -> str:
    tables = sorted(p.name for p in (a / "tables" / profile).glob("*.csv"))
    same_tables = [name for name in tables if filecmp.cmp(a / "tables" / profile / name,
                                                          b / "tables" / profile / name, shallow=False)]
    runs = sorted(p.parent.name for p in a.glob(f"{profile}-*/segments.csv") if (b / p.parent.name).is_dir())
    same_segments = [r for r in runs if filecmp.cmp(a / r / "segments.csv", b / r / "segments.csv", shallow=False)]
    trained = [r for r in runs if (a / r / "model.pt").is_file()]
    same_weights = [r for r in trained if weights_digest(a / r) == weights_digest(b / r)]
    identical = (len(same_tables) == len(tables) > 0 and len(same_segments) == len(runs)
                 and len(same_weights) == len(trained))
    lines = [f"Two `make reproduce` results compared bit for bit (`benchmarks/same_numbers.py`), profile "
             f"{profile}:", "",
             f"- `{a}`: {_short(a / 'tables' / profile)}", f"- `{b}`: {_short(b / 'tables' / profile)}", "",
             "| what | identical |", "|---|---|",
             f"| table CSVs ({', '.join(tables)}) | {len(same_tables)} of {len(tables)} |",
             f"| runs' weights (`model.pt`, tensor by tensor) | {len(same_weights)} of {len(trained)} |",
             f"| runs' evaluations (`segments.csv`) | {len(same_segments)} of {len(runs)} |", "",
             f"**{'Bit-identical' if identical else 'NOT identical'}.**"]
    differing = sorted(set(runs) - set(same_segments) | set(trained) - set(same_weights))
    if differing:
        lines += ["", "Runs that differ: " + ", ".join(differing)]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", type=Path, help="runs root of the first result (papermill_runs)")
    parser.add_argument("b", type=Path, help="runs root of the second result")
    parser.add_argument("--profile", default="small", help="whose tables and runs (default small)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    text = report(args.a, args.b, args.profile)
    print(text)
    if args.out:
        write_text(text, args.out)
    return 0 if "**Bit-identical" in text else 1


if __name__ == "__main__":
    raise SystemExit(main())
