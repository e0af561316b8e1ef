"""The benchmark cannot rot: ``benchmarks/run.py --smoke`` runs end to end and prints every row.

No timing is asserted here (timings belong in the benchmark's own table, as ratios).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "run.py"
ROWS = [
    "float32 matmul peak",
    "L_A step (TV), fwd+bwd+Adam",
    "L_B step (Sinkhorn p=1, lambda=1.5), fwd+bwd+Adam",
    "L_B step / L_A step (median of per-round ratios)",
    "lambda=0.5, fwd+bwd (exact grad)",
    "lambda=1.5, fwd+bwd (exact grad)",
    "lambda=10, fwd+bwd (exact grad)",
    "lambda=10, value (grad)",
    "loader (training_batches, decode cache)",
    "evaluation (evaluate_model)",
    "peak memory, L_A step",
    "peak memory, L_B step",
    "ESTIMATE, `all` grid",
    "ESTIMATE, GPU",
]


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess, dict]:
    out = tmp_path_factory.mktemp("bench") / "results.json"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--quiet", "--device", "cpu", "--threads", "1",
                           "--json", str(out)], capture_output=True, text=True, timeout=300, env=env)
    return proc, json.loads(out.read_text()) if out.is_file() else {}


def test_smoke_run_exits_cleanly_and_prints_the_table(smoke) -> None:
    proc, _ = smoke
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ROWS:
        assert row in proc.stdout, f"missing row {row!r} in:\n{proc.stdout}"
    assert "SMOKE" in proc.stdout  # the table says that nothing is assessed in smoke mode


def test_smoke_results_are_finite_and_consistent(smoke) -> None:
    _, results = smoke
    assert results, "no JSON results written"
    assert results["peak_gflops"] > 0
    assert set(results["step_times"]) == {"L_A", "L_B"}
    assert all(t > 0 for times in results["step_times"].values() for t in times)
    for row in results["sinkhorn"]:
        assert row["value_rel"] < 1e-4 and row["ours_s"] > 0 and row["pot_s"] > 0
    assert results["loader_rate"] > 0 and results["eval_rate"] > 0
    assert {"L_A", "L_B"} == set(results["memory"])


def test_flop_count_at_paper_size() -> None:
    """The documented count: 9.07 G (conv 1), 17.7 G (context), 4.53 G (decoder) forward; 84.9 G per step."""
    import importlib.util

    from rlsv.core.model import ModelConfig

    spec = importlib.util.spec_from_file_location("rlsv_benchmark", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = bench  # dataclasses look their module up there
    try:
        spec.loader.exec_module(bench)
    finally:
        del sys.modules[spec.name]
    flops = bench.step_flops(ModelConfig(), batch=8)
    assert flops["conv1"] == 2 * 16 * 173 * 2048 * 800
    assert flops["context"] == 2 * 16 * 173 * 5 * 800 ** 2
    assert flops["decoder"] == 2 * 8 * 173 * 800 * 2048
    # backward: conv 1's weight gradient only (its input is data), weight + input gradients elsewhere
    assert flops["backward"] == flops["conv1"] + 2 * flops["context"] + 2 * flops["decoder"]
    assert flops["forward"] / 1e9 == pytest.approx(31.3, abs=0.05)
    assert flops["total"] / 1e9 == pytest.approx(84.9, abs=0.05)
