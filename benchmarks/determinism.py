#!/usr/bin/env python
"""Same command, same bits: one training command run on an idle machine, then again beside busy processes.

    .venv/bin/python benchmarks/determinism.py                     # the issue's command, idle + 3 busy runs
    .venv/bin/python benchmarks/determinism.py --out docs/results/determinism.md

The command is ``rlsv train RUN --profile small --epochs 1 --objective sinkhorn --lam 1.5`` (the one the
reproducibility issue found to give other weights under load). It runs once with nothing else running, then
``--busy-runs`` times with ``--burners`` processes spinning on every core beside it. Each run's ``model.pt``
weights and its per-epoch state digest (``epochs.csv``) are hashed; the report says whether all runs are
bit-identical, with the machine and the load during each run. Nothing is timed to decide anything: the times
are printed as context.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from rlsv.atomic import write_text
from rlsv.run.resumable import tensors_digest

ROOT = Path(__file__).resolve().parents[1]
COMMAND = ["--profile", "small", "--epochs", "1", "--objective", "sinkhorn", "--lam", "1.5", "--quiet"]


def weights_digest(run: Path) -> str:
    """SHA-256 of the weights in ``run/model.pt``, tensor by tensor in order (names, dtypes, shapes, bytes)."""
    return tensors_digest(torch.load(run / "model.pt", weights_only=True)["state_dict"])


def train(run: Path) -> tuple[str, str, float, float]:
    """Run the command into ``run``: (weights digest, last state digest, seconds, load average after)."""
    start = time.perf_counter()
    subprocess.run([str(ROOT / ".venv" / "bin" / "rlsv"), "train", str(run), *COMMAND], check=True,
                   stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    state = (run / "epochs.csv").read_text().strip().splitlines()[-1].split(",")[-1]
    return weights_digest(run), state, seconds, os.getloadavg()[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy-runs", type=int, default=3, help="runs beside busy processes (default 3)")
    parser.add_argument("--burners", type=int, default=3, help="busy processes beside each of them (default 3)")
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="rlsv-determinism-") as tmp:
        load_before = os.getloadavg()[0]
        rows.append(("idle", load_before, *train(Path(tmp) / "idle")))
        for k in range(args.busy_runs):
            burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(args.burners)]
            try:
                time.sleep(2)
                rows.append((f"busy {k + 1} ({args.burners} spinning processes)", os.getloadavg()[0],
                             *train(Path(tmp) / f"busy{k}")))
            finally:
                for burner in burners:
                    burner.kill()
                    burner.wait()
    from rlsv.run.machine import cpu_model
    from rlsv.run.provenance import code_version

    code = code_version()
    identical = len({(w, s) for _, _, w, s, _, _ in rows}) == 1
    lines = [f"`rlsv train RUN {' '.join(COMMAND[:-1])}` on {cpu_model()} ({os.cpu_count()} cores), torch "
             f"{torch.__version__}, rlsv {code['version']} @ {str(code['commit'])[:10]}"
             f"{' (uncommitted changes)' if code['dirty'] else ''}, "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')} (`benchmarks/determinism.py`):", "",
             "| run | load before | weights SHA-256 | state SHA-256 (epochs.csv) | seconds | load after |",
             "|---|---|---|---|---|---|"]
    for name, load, weights, state, seconds, after in rows:
        lines.append(f"| {name} | {load:.1f} | `{weights[:16]}` | `{state[:16]}` | {seconds:.0f} | {after:.1f} |")
    lines += ["", f"**{'Bit-identical' if identical else 'NOT bit-identical'}**: "
              f"{len(rows)} runs, {'one' if identical else 'several'} set of weights."]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        write_text(text, args.out)
    return 0 if identical else 1


if __name__ == "__main__":
    raise SystemExit(main())
