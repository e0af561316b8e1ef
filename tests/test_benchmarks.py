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
    "convolution plan (fixed: what runs use, nothing timed)",
    "L_A step (TV), fwd+bwd+Adam",
    "L_A step, every convolution a GEMM",
    "L_A step, fastest of the 8 plans",
    "L_B step (Sinkhorn p=1, lambda=1.5) / L_A step",
    "L_B step against the published one (1000 unrolled Sinkhorn iterations)",
    "user's loop on the public API, L_A",
    "user's loop on the public API, L_B",
    "user's loop, L_B, vocals and mixture in one encode call",
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
    for steps in results["steps"].values():  # every plan timed, the fixed one among them
        assert len(steps["plans"]) == 8 and steps["plan"] in steps["plans"]
    steps = results["steps"]["smoke"]
    assert set(steps["times"]) == {"rlsv L_A", "rlsv L_B", "rlsv L_A, all GEMM", "plain L_A", "user loop L_A",
                                   "user loop L_B", "user loop L_B, one encode"}
    assert all(t > 0 for times in steps["times"].values() for t in times)
    assert set(steps["published"]) == {"published L_B", "rlsv L_B"}
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


def _peer():
    sys.path.insert(0, str(SCRIPT.parent))
    try:
        import peer
    finally:
        sys.path.remove(str(SCRIPT.parent))
    return peer


@pytest.mark.parametrize("objective", ["tv", "sinkhorn"])
def test_peers_compute_what_train_step_computes(objective: str) -> None:
    """The benchmark compares like with like: the published layers' step and the user's loop give the losses
    and the weights of rlsv's train_step after two steps."""
    import torch

    from rlsv.core.losses import Objective
    from rlsv.core.model import DenoisingAutoencoder, ModelConfig
    from rlsv.core.step import make_optimizer, train_step

    peer = _peer()
    config = ModelConfig(channels=8, kernel_size=64, stride=16, segment_length=700)
    loss = Objective(objective, omega=1.0, lam=1.5)
    g = torch.Generator().manual_seed(0)
    vocals, accompaniment = torch.randn(3, 700, generator=g) * 0.1, torch.randn(3, 700, generator=g) * 0.1
    noise = torch.randn(3, 700, generator=g) * 1e-4

    def model() -> DenoisingAutoencoder:
        torch.manual_seed(5)
        return DenoisingAutoencoder(config, conv_plan="gemm")

    ours = model()
    published = peer.PublishedAutoencoder.from_rlsv(model())
    user = model()
    optimizers = (make_optimizer(ours, 1e-3), torch.optim.Adam(published.parameters(), lr=1e-3),
                  make_optimizer(user, 1e-3))
    for _ in range(2):
        expected = float(train_step(ours, optimizers[0], loss, vocals, accompaniment, noise).terms.loss.detach())
        assert float(peer.published_step(published, optimizers[1], loss, vocals, accompaniment, noise).detach()) == \
            pytest.approx(expected, rel=1e-5)
        assert float(peer.user_loop_step(user, optimizers[2], loss, vocals, accompaniment, noise).detach()) == \
            pytest.approx(expected, rel=1e-5)
    torch.testing.assert_close(published.conv_a2.weight, ours.encoder.context_kernels, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(user.decoder.envelopes, ours.decoder.envelopes, rtol=1e-4, atol=1e-6)


def test_the_published_sinkhorn_equals_rlsvs_at_convergence() -> None:
    import torch

    from rlsv.core.losses import sinkhorn_distance

    peer = _peer()
    a = torch.rand(2, 6, 9, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours, theirs = a.clone().requires_grad_(), a.clone().requires_grad_()
    value = sinkhorn_distance(ours, lam=1.5, tol=1e-12)
    published = peer.published_sinkhorn(theirs, lam=1.5)
    value.backward()
    published.backward()
    assert float(value.detach()) == pytest.approx(float(published.detach()), rel=1e-10)
    torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-6, atol=1e-10)  # the same, exact gradient
