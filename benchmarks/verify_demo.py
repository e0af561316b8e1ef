#!/usr/bin/env python
"""What ``rlsv verify`` says, run for real: the example output quoted in ``docs/reproducibility.md``.

    .venv/bin/python benchmarks/verify_demo.py --out docs/results/verify.md

Trains one small-profile run (L_B, lambda = 1.5, omega = 1, seed 218: the row where training tips most),
then runs ``rlsv verify`` on it three times -- from scratch, from its kept middle-epoch checkpoint, and after
one weight of ``model.pt`` was moved by 1e-3 -- and writes each command with its real output. The first two
must say bit-identical (exit 0) and the third must not (exit 1); the script fails otherwise.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

from rlsv.atomic import write_text

ROOT = Path(__file__).resolve().parents[1]
RLSV = str(ROOT / ".venv" / "bin" / "rlsv")
TRAIN = ["--profile", "small", "--objective", "sinkhorn", "--lam", "1.5", "--omega", "1", "--seed", "218",
         "--quiet"]


def rlsv(*args: str, expect: int) -> tuple[str, float]:
    """Run ``rlsv ARGS``; (its stdout, seconds). Fails unless it exits with ``expect``."""
    start = time.perf_counter()
    done = subprocess.run([RLSV, *args], capture_output=True, text=True)
    if done.returncode != expect:
        raise SystemExit(f"rlsv {' '.join(args)} exited {done.returncode}, expected {expect}:\n"
                         f"{done.stdout}\n{done.stderr}")
    return done.stdout.strip(), time.perf_counter() - start


def nudge_one_weight(model_pt: Path, by: float = 1e-3) -> str:
    """Add ``by`` to the first value of the first floating tensor of ``model.pt``; the tensor's name."""
    payload = torch.load(model_pt, weights_only=True)
    name, tensor = next((k, v) for k, v in payload["state_dict"].items() if v.is_floating_point())
    tensor.view(-1)[0] += by
    torch.save(payload, model_pt)
    return name


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=None, help="also write the report (Markdown) here")
    args = parser.parse_args(argv)
    from rlsv.run.machine import cpu_model
    from rlsv.run.provenance import code_version

    with tempfile.TemporaryDirectory(prefix="rlsv-verify-demo-") as tmp:
        run = Path(tmp) / "small-sinkhorn-p1-l1.5-w1-s218"
        _, train_seconds = rlsv("train", str(run), *TRAIN, expect=0)
        kept = sorted(p.stem.split("-")[1] for p in (run / "checkpoints").glob("epoch-*.pt"))
        shown = "small-sinkhorn-p1-l1.5-w1-s218"
        outputs = []
        for label, extra, expect in [("from scratch", [], 0),
                                     (f"from the kept epoch {int(kept[0])}", ["--from-epoch", str(int(kept[0]))], 0)]:
            out, seconds = rlsv("verify", str(run), *extra, expect=expect)
            outputs.append((label, ["rlsv", "verify", shown, *extra], out.replace(str(run), shown), seconds, expect))
        name = nudge_one_weight(run / "model.pt")
        out, seconds = rlsv("verify", str(run), "--no-evaluation", expect=1)
        outputs.append((f"after `{name}`[0] of model.pt was moved by 1e-3", ["rlsv", "verify", shown,
                        "--no-evaluation"], out.replace(str(run), shown), seconds, 1))

    code = code_version()
    lines = [f"Made by `benchmarks/verify_demo.py` on {cpu_model()} ({os.cpu_count()} cores), torch "
             f"{torch.__version__}, rlsv {code['version']} @ {str(code['commit'])[:10]}"
             f"{' (uncommitted changes)' if code['dirty'] else ''}, "
             f"{datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}. The run was trained with "
             f"`rlsv train RUN {' '.join(TRAIN[:-1])}` in {train_seconds:.0f} s.", ""]
    for label, command, out, seconds, expect in outputs:
        lines += [f"Verify {label} (exit {expect}, {seconds:.0f} s wall):", "", "```console",
                  f"$ {' '.join(command)}", out, "```", ""]
    text = "\n".join(lines)
    print(text)
    if args.out:
        write_text(text, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
