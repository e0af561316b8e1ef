#!/usr/bin/env python
"""rlsv benchmark: one table of ratios, every figure measured in this run on this machine.

    .venv/bin/python benchmarks/run.py            # paper size, about 1 minute on an idle 2-core CPU
    .venv/bin/python benchmarks/run.py --smoke    # tiny sizes, 15-20 s (CI: no timing asserted)

Each row compares a measurement with a peer measured alongside in the same run: the published
code's step in ordinary PyTorch layers (``benchmarks/peer.py``), the published L_B step with its
1000 unrolled Sinkhorn iterations, the L_A step, a user's own loop on the public API, POT's
``ot.sinkhorn2``, the step's data consumption. Timings are medians of interleaved repeats after
warm-up, so that load from other processes hits both sides of a ratio alike. The float32 matmul
peak is printed as context (achieved GFLOP/s against it), not as a target.

Rows:

* matmul peak: ``torch.mm`` of square float32 matrices, best of several repeats (see ``docs/benchmarks.md``).
* training steps at two sizes, the default ``small`` profile's (B=8, C=200, L=1024, S=256, N=11025)
  and the paper's (B=8, C=800, L=2048, S=256, N=44100), on batches of the synthetic corpus from the
  real loader: ``rlsv.core.step.train_step`` (forward, backward, Adam) with the convolution plan runs use
  (``rlsv.run.conv_plan``: the fixed plan of the device and thread count, no timing) for L_A (TV) and L_B
  (Sinkhorn p=1, lambda=1.5); the L_A step with each of the eight plans (what the fixed table is chosen
  from); the published layers' step (``peer.published_step``);
  the published L_B step (1000 unrolled Sinkhorn iterations); a user's loop on the public API
  (``peer.user_loop_step``).
* Sinkhorn loss, forward + backward at T frames, against POT's ``ot.sinkhorn2`` (torch backend,
  same M, same lambda, stopThr=1e-5) for lambda in {0.5, 1.5, 10}: speed ratio, value agreement.
* loader: ``rlsv.audio.segments.training_batches`` on the decode cache, segments/s, against what the
  training step consumes (B segments per step).
* evaluation: ``rlsv.run.evaluate.evaluate_model`` at paper size, kept segments/s.
* peak memory of an L_A and an L_B step, each in a fresh subprocess (``memory_case``).

Then estimates (labelled as such): the wall time of the whole ``all`` grid at paper size from
the measured step time, and a FLOP-based GPU figure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from rlsv.audio.musdb import MusdbDataset, fill_cache, resolve_dataset
from rlsv.audio.segments import TrainingSegmentation, count_segments, training_batches
from rlsv.audio.synth import make_corpus
from rlsv.core.conv import METHODS, ConvPlan
from rlsv.core.losses import Objective
from rlsv.core.model import DenoisingAutoencoder, ModelConfig
from rlsv.core.sinkhorn import cost_matrix, sinkhorn_loss, time_normalise
from rlsv.core.step import make_optimizer, remove_batch_mean, sample_input_noise, train_step
from rlsv.run.conv_plan import resolve_conv_plan
from rlsv.run.device import resolve_device
from rlsv.run.evaluate import evaluate_model, iter_test_segments
from rlsv.run.profiles import get_profile
from rlsv.run.runtime import Runtime, runtime
from rlsv.run.train_config import TrainConfig
from rlsv.study.grids import get_grid

SEED = 218
LAMBDAS = (0.5, 1.5, 10.0)
# MUSDB18: 150 tracks, ~10 h (sigsep.github.io/datasets/musdb.html); train = 100 tracks. The
# per-track lengths are not part of the musdb package's metadata; 6.4 h is the train split's total
# duration (see docs/benchmarks.md). With $MUSDB_PATH set, the steps per epoch are counted exactly.
MUSDB_TRAIN_HOURS = 6.4
MUSDB_TEST_HOURS = 10.0 - MUSDB_TRAIN_HOURS
MUSDB_TRAIN_TRACKS = 100
PAPER_EPOCHS = 10
# Nominal float32 (non-tensor-core) peaks for the FLOP-based GPU estimate, TFLOP/s (vendor data sheets).
GPU_FP32_PEAKS = {"A100": 19.5, "H100 SXM": 67.0}
GPU_ASSUMED_EFFICIENCY = 0.5


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the full benchmark and the smoke run."""

    model: ModelConfig
    batch: int
    matmul_sizes: tuple[int, ...]
    matmul_repeats: int
    step_warmup: int
    step_repeats: int
    sinkhorn_repeats: int
    loader_epochs: int
    corpus_train: int
    corpus_test: int
    corpus_seconds: float
    memory_steps: int
    step_models: tuple[tuple[str, ModelConfig], ...]  # the sizes whose training steps are compared
    published_repeats: int  # the published L_B step (1000 unrolled iterations) is several times slower


PAPER = Sizes(model=ModelConfig(), batch=8, matmul_sizes=(2048, 3072), matmul_repeats=5, step_warmup=2,
              step_repeats=8, sinkhorn_repeats=15, loader_epochs=5, corpus_train=8, corpus_test=4,
              corpus_seconds=12.0, memory_steps=2,
              step_models=(("small", get_profile("small").model), ("paper", ModelConfig())), published_repeats=3)
SMOKE = Sizes(model=ModelConfig(channels=32, kernel_size=256, stride=64, segment_length=4410), batch=2,
              matmul_sizes=(256,), matmul_repeats=2, step_warmup=1, step_repeats=2, sinkhorn_repeats=2,
              loader_epochs=1, corpus_train=2, corpus_test=1, corpus_seconds=3.0, memory_steps=1,
              step_models=(("smoke", ModelConfig(channels=32, kernel_size=256, stride=64, segment_length=4410)),),
              published_repeats=1)


# --------------------------------------------------------------------------- FLOP counts


def segment_flops(cfg: ModelConfig) -> dict[str, float]:
    """Forward FLOPs (multiply and add counted separately) of one segment through each part.

    * ``conv1``: encoder conv 1, ``2 T L C`` (one-channel input, C kernels of length L);
    * ``context``: context conv, ``2 T L' C^2``;
    * ``decoder``: ``2 T C L``.
    """
    t, c, l, lp = cfg.frames, cfg.channels, cfg.kernel_size, cfg.context_kernel
    return {"conv1": 2.0 * t * l * c, "context": 2.0 * t * lp * c * c, "decoder": 2.0 * t * c * l}


def step_flops(cfg: ModelConfig, batch: int) -> dict[str, float]:
    """Analytic FLOPs (multiply and add counted separately) of one training step, by part.

    Forward: the batch's noisy vocals and mixtures are encoded (2B segments), the vocals decoded
    (B segments), each part :func:`segment_flops` per segment:

    * encoder conv 1, ``2 (2B) T L C``;
    * context conv, ``2 (2B) T L' C^2``;
    * decoder, ``2 B T C L``.

    Backward, the products actually needed: conv 1 the weight gradient only (its input is the
    data), the context conv and the decoder weight and input gradients (``H~`` feeds conv 1's
    weight gradient, ``A_v`` the encoder's). Element-wise work, the losses and Adam are not counted.
    """
    part = segment_flops(cfg)
    conv1 = (2 * batch) * part["conv1"]
    context = (2 * batch) * part["context"]
    decoder = batch * part["decoder"]
    forward = conv1 + context + decoder
    backward = conv1 + 2 * context + 2 * decoder
    return {"conv1": conv1, "context": context, "decoder": decoder, "forward": forward, "backward": backward,
            "total": forward + backward}


def eval_flops_per_segment(cfg: ModelConfig) -> float:
    """Forward FLOPs per evaluated segment: three encodes (mixture, vocals, accompaniment), two decodes."""
    part = segment_flops(cfg)
    encode = part["conv1"] + part["context"]
    return 3 * encode + 2 * part["decoder"]


# --------------------------------------------------------------------------- timing helpers


class Clock:
    """Wall-clock timing that waits for the device (CUDA kernels are asynchronous)."""

    def __init__(self, device: torch.device) -> None:
        self.device = device

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def time(self, fn: Callable[[], Any]) -> float:
        self.sync()
        start = time.perf_counter()
        fn()
        self.sync()
        return time.perf_counter() - start


def interleaved(clock: Clock, cases: dict[str, Callable[[], Any]], warmup: int, repeats: int) -> dict[str, list[float]]:
    """Time each case ``repeats`` times after ``warmup`` calls, alternating the order every round."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for r in range(repeats):
        for name in names if r % 2 == 0 else reversed(names):
            times[name].append(clock.time(cases[name]))
    return times


def paired_ratio(numerator: list[float], denominator: list[float]) -> float:
    """Median of the per-round ratios (robust to load that changes between rounds)."""
    return statistics.median(n / d for n, d in zip(numerator, denominator))


# --------------------------------------------------------------------------- measurements


def matmul_peak(clock: Clock, sizes: tuple[int, ...], repeats: int) -> tuple[float, int]:
    """Best float32 ``torch.mm`` rate over ``sizes`` and ``repeats``: ``(GFLOP/s, n)``."""
    best, best_n = 0.0, sizes[0]
    for n in sizes:
        a = torch.randn(n, n, device=clock.device)
        b = torch.randn(n, n, device=clock.device)
        out = torch.empty(n, n, device=clock.device)
        torch.mm(a, b, out=out)
        for _ in range(repeats):
            rate = 2.0 * n ** 3 / clock.time(lambda: torch.mm(a, b, out=out)) / 1e9
            if rate > best:
                best, best_n = rate, n
    return best, best_n


def make_dataset(root: Path, sizes: Sizes) -> MusdbDataset:
    """A synthetic corpus (MUSDB18-HQ layout) in ``root``, listed and decoded into its own cache."""
    make_corpus(root / "corpus", n_train=sizes.corpus_train, n_test=sizes.corpus_test,
                duration_s=sizes.corpus_seconds, sample_rate=sizes.model.sample_rate, progress=False)
    dataset = resolve_dataset(root / "corpus", is_wav=True, segment_length=sizes.model.segment_length,
                              sample_rate=sizes.model.sample_rate, cache_dir=root / "cache", progress=False)
    fill_cache(dataset, progress=False)
    return dataset


def segmentation(sizes: Sizes) -> TrainingSegmentation:
    """The published training segmentation (half-segment hop) at the benchmark's sizes."""
    return TrainConfig(model=sizes.model, batch_size=sizes.batch).segmentation()


def loader_batches(dataset: MusdbDataset, sizes: Sizes, count: int, model: ModelConfig | None = None
                   ) -> list[tuple[np.ndarray, np.ndarray]]:
    """The first ``count`` training batches (vocals, accompaniment) of segments for ``model`` (default the
    benchmark's), cycling over epochs if needed."""
    rng = np.random.default_rng(SEED)
    out: list[tuple[np.ndarray, np.ndarray]] = []
    seg = segmentation(sizes if model is None else replace(sizes, model=model))
    while len(out) < count:
        for batch in training_batches(dataset, rng, seg):
            out.append((np.array(batch.vocals), np.array(batch.accompaniment)))
            if len(out) == count:
                break
    return out


def seeded_model(cfg: ModelConfig, device: torch.device) -> DenoisingAutoencoder:
    """A model of size ``cfg`` on ``device`` with the initial weights of seed ``SEED`` (the global torch seed is
    set)."""
    torch.manual_seed(SEED)
    return DenoisingAutoencoder(cfg).to(device)


def objectives() -> dict[str, Objective]:
    return {"L_A": Objective("tv", omega=1.0), "L_B": Objective("sinkhorn", omega=1.0, lam=1.5, p=1)}


STEP_CASES = ("rlsv L_A", "rlsv L_B", "rlsv L_A, all GEMM", "plain L_A", "user loop L_A", "user loop L_B",
              "user loop L_B, one encode")


def training_steps(clock: Clock, cfg: ModelConfig, batch: int, batches: list[tuple[np.ndarray, np.ndarray]],
                   warmup: int, repeats: int, published_repeats: int) -> dict[str, Any]:
    """Seconds per training step at size ``cfg`` for ``STEP_CASES`` (interleaved, each with its own model and
    optimiser from the same initial weights) and, timed apart (it is several times slower), the published
    L_B step with 1000 unrolled Sinkhorn iterations, and the L_A step with every convolution plan. ``plan``: the
    fixed plan a run uses here (``rlsv.run.conv_plan``), nothing timed to choose it."""
    from peer import PublishedAutoencoder, published_step, user_loop_step

    lb = objectives()["L_B"]
    la = objectives()["L_A"]
    plan = resolve_conv_plan("fixed", cfg, batch, clock.device).plan

    def rlsv_model(conv_plan: ConvPlan = plan) -> DenoisingAutoencoder:
        model = seeded_model(cfg, clock.device)
        model.conv_plan = conv_plan
        return model

    def stepper(run: Callable, model, optimizer, objective, **kwargs) -> Callable[[], None]:
        noise_rng = torch.Generator().manual_seed(SEED)
        state = {"k": 0}

        def step() -> None:
            vox, acc = batches[state["k"] % len(batches)]
            state["k"] += 1
            vocals = torch.from_numpy(vox).to(clock.device)
            accompaniment = torch.from_numpy(acc).to(clock.device)
            noise = sample_input_noise(vocals.shape, 1e-4, noise_rng).to(clock.device)
            out = run(model, optimizer, objective, vocals, accompaniment, noise, **kwargs)
            loss = out.terms.loss if hasattr(out, "terms") else out
            if not math.isfinite(float(loss.detach())):  # also the step's one host sync
                raise FloatingPointError("a benchmark step's loss is not finite")

        return step

    def rlsv_case(objective: Objective, conv_plan: ConvPlan = plan) -> Callable[[], None]:
        model = rlsv_model(conv_plan)
        return stepper(train_step, model, make_optimizer(model, 1e-4), objective)

    def peer_case(objective: Objective, sinkhorn: str = "rlsv") -> Callable[[], None]:
        model = PublishedAutoencoder.from_rlsv(rlsv_model())
        return stepper(published_step, model, torch.optim.Adam(model.parameters(), lr=1e-4), objective,
                       sinkhorn=sinkhorn)

    def user_case(objective: Objective, one_encode: bool = False) -> Callable[[], None]:
        model = rlsv_model()
        return stepper(user_loop_step, model, make_optimizer(model, 1e-4), objective, one_encode=one_encode)

    cases = {"rlsv L_A": rlsv_case(la), "rlsv L_B": rlsv_case(lb),
             "rlsv L_A, all GEMM": rlsv_case(la, ConvPlan.everywhere("gemm")),
             "plain L_A": peer_case(la), "user loop L_A": user_case(la), "user loop L_B": user_case(lb),
             "user loop L_B, one encode": user_case(lb, one_encode=True)}
    times = interleaved(clock, cases, warmup, repeats)
    published = interleaved(clock, {"published L_B": peer_case(lb, "published"), "rlsv L_B": rlsv_case(lb)},
                            1, published_repeats)
    every_plan = [ConvPlan(a, c, s) for a in METHODS for c in METHODS for s in METHODS]
    plans = interleaved(clock, {p.text: rlsv_case(la, p) for p in every_plan}, warmup, repeats)
    return {"plan": plan.text, "times": times, "published": published, "plans": plans,
            "model": cfg.to_dict(), "batch": batch, "frames": cfg.frames, "flops": step_flops(cfg, batch)}


def realistic_cost_matrix(sizes: Sizes, batch: tuple[np.ndarray, np.ndarray], device: torch.device) -> torch.Tensor:
    """``M`` (T, T) of a paper-size encoder (initial weights) on a mixture batch, batch-averaged."""
    model = seeded_model(sizes.model, device)
    vox, acc = (torch.from_numpy(x).to(device) for x in batch)
    with torch.no_grad():
        return cost_matrix(time_normalise(model.encode(remove_batch_mean(vox + acc))), p=1)


def sinkhorn_against_pot(clock: Clock, m: torch.Tensor, repeats: int) -> list[dict[str, Any]]:
    """Ours (implicit exact gradient) against ``ot.sinkhorn2`` (torch backend), forward + backward."""
    import ot

    t = m.shape[0]
    marginal = torch.full((t,), 1.0 / t, dtype=torch.float64, device=m.device)
    rows = []
    for lam in LAMBDAS:
        result: dict[str, Any] = {"lam": lam}

        def ours(lam=lam, result=result) -> None:
            mm = m.clone().requires_grad_()
            loss = sinkhorn_loss(mm, lam=lam, tol=1e-5)
            loss.backward()
            result["ours_value"], result["ours_grad"] = float(loss.detach()), mm.grad

        def pot(lam=lam, result=result) -> None:
            mm = m.double().clone().requires_grad_()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                loss = ot.sinkhorn2(marginal, marginal, mm, reg=lam, stopThr=1e-5)
            loss.backward()
            result["pot_value"], result["pot_grad"] = float(loss.detach()), mm.grad

        times = interleaved(clock, {"ours": ours, "pot": pot}, 1, repeats)
        g_ours, g_pot = result.pop("ours_grad").double(), result.pop("pot_grad")
        result.update(
            ours_s=statistics.median(times["ours"]), pot_s=statistics.median(times["pot"]),
            speedup=paired_ratio(times["pot"], times["ours"]),
            value_rel=abs(result["ours_value"] - result["pot_value"]) / abs(result["pot_value"]),
            grad_rel=float((g_ours - g_pot).norm() / g_pot.norm()),
        )
        rows.append(result)
    return rows


def loader_throughput(dataset: MusdbDataset, sizes: Sizes) -> tuple[float, int]:
    """Training segments per second from ``training_batches`` (decode cache warm): ``(rate, segments)``."""
    seg = segmentation(sizes)
    for _ in training_batches(dataset, np.random.default_rng(0), seg):  # warm the page cache
        pass
    segments = 0
    start = time.perf_counter()
    for epoch in range(sizes.loader_epochs):
        for batch in training_batches(dataset, np.random.default_rng(epoch), seg):
            segments += len(batch.vocals)
    return segments / (time.perf_counter() - start), segments


def evaluation_throughput(clock: Clock, dataset: MusdbDataset, sizes: Sizes) -> tuple[float, int]:
    """Kept test segments per second through ``evaluate_model`` (loading from the cache included)."""
    model = seeded_model(sizes.model, clock.device)
    n = sizes.model.segment_length
    first = dataset.with_first_tracks("test", 1)
    evaluate_model(model, iter_test_segments(first, n))  # warm-up
    rows: list[int] = []
    seconds = clock.time(lambda: rows.append(len(evaluate_model(model, iter_test_segments(dataset, n)))))
    return rows[0] / seconds, rows[0]


# --------------------------------------------------------------------------- memory (subprocesses)


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_case(args: argparse.Namespace) -> None:
    """Child process: peak memory of ``memory_steps`` training steps above the pre-step level; prints JSON.

    CPU: the resident set's high-water mark (``VmHWM``, reset through ``/proc/self/clear_refs`` just
    before the first step; else ``ru_maxrss``) minus the resident set right before the first step
    (interpreter, model, optimiser, one batch). So it counts activations, gradients, temporaries and
    Adam's moment buffers (created by the first step), everything a step adds. CUDA:
    ``torch.cuda.max_memory_allocated`` minus ``memory_allocated`` before the first step.
    """
    spec = json.loads(args.memory_case)
    device = torch.device(spec["device"])
    settings = Runtime(threads=spec["threads"], retain_freed_memory=True) if device.type == "cpu" else Runtime()
    with runtime(settings):
        _memory_case(spec, device)


def _memory_case(spec: dict[str, Any], device: torch.device) -> None:
    cfg = ModelConfig.from_dict(spec["model"])
    data = np.load(spec["batch"])
    vocals, accompaniment = (torch.from_numpy(data[k]).to(device) for k in ("vocals", "accompaniment"))
    objective = objectives()[spec["objective"]]
    model = seeded_model(cfg, device)
    model.conv_plan = resolve_conv_plan("fixed", cfg, len(vocals), device).plan  # what a run uses
    optimizer = make_optimizer(model, 1e-4)
    noise = sample_input_noise(vocals.shape, 1e-4, torch.Generator().manual_seed(SEED)).to(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    else:
        base = (_status_kib("VmRSS") or 0) * 1024
        try:
            Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
            method = "VmHWM"
        except OSError:
            method = "ru_maxrss"
    for _ in range(spec["steps"]):
        train_step(model, optimizer, objective, vocals, accompaniment, noise)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        peak, method = torch.cuda.max_memory_allocated(device), "cuda.max_memory_allocated"
    elif method == "VmHWM":
        peak = (_status_kib("VmHWM") or 0) * 1024
    else:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"bytes": peak - base, "method": method}))


def peak_memory(sizes: Sizes, batch: tuple[np.ndarray, np.ndarray], device: torch.device, threads: int,
                workdir: Path) -> dict[str, dict[str, Any]]:
    """Run ``memory_case`` in a fresh interpreter for L_A and for L_B (the two side by side: only memory is read)."""
    path = workdir / "memory_batch.npz"
    np.savez(path, vocals=batch[0], accompaniment=batch[1])
    procs = {}
    for name in objectives():
        spec = {"device": str(device), "threads": threads, "model": sizes.model.to_dict(), "batch": str(path),
                "objective": name, "steps": sizes.memory_steps}
        procs[name] = subprocess.Popen([sys.executable, __file__, "--memory-case", json.dumps(spec)],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"memory case {name} failed:\n{stderr[-2000:]}")
        out[name] = json.loads(stdout.strip().splitlines()[-1])
    return out


# --------------------------------------------------------------------------- estimates


def musdb_steps_per_epoch(sizes: Sizes) -> tuple[int, str]:
    """Training steps per epoch on MUSDB18's train split with the benchmark's ``segmentation(sizes)``,
    counted from $MUSDB_PATH if set, else estimated."""
    seg = segmentation(sizes)
    root = os.environ.get("MUSDB_PATH")
    if root:
        try:
            from rlsv.audio.segments import count_training_batches

            dataset = resolve_dataset(root, subsets=("train",), progress=False)
            return count_training_batches(dataset, seg), f"counted on $MUSDB_PATH={root}"
        except Exception as error:  # noqa: BLE001 - fall back to the estimate, saying why
            reason = f"$MUSDB_PATH unusable ({type(error).__name__})"
    else:
        reason = "$MUSDB_PATH not set"
    sets = MUSDB_TRAIN_TRACKS // seg.set_size
    per_set = int(MUSDB_TRAIN_HOURS * 3600 * sizes.model.sample_rate / sets)
    steps = sets * (count_segments(per_set, seg.segment_length, seg.hop, seg.extra_pad_when_exact) // seg.batch_size)
    return steps, f"estimated: {MUSDB_TRAIN_HOURS} h in {sets} equal sets of {seg.set_size} tracks ({reason})"


def grid_estimate(step_s: dict[str, float], eval_rate: float, sizes: Sizes) -> dict[str, Any]:
    """Wall time of the `all` grid at paper size from the measured step and evaluation rates (an estimate)."""
    cfg = sizes.model
    steps_per_epoch, how = musdb_steps_per_epoch(sizes)
    specs = [s for s in get_grid("all") if s.objective != "stft"]
    train_s = sum(PAPER_EPOCHS * steps_per_epoch * step_s["L_A" if s.objective == "tv" else "L_B"] for s in specs)
    test_segments = MUSDB_TEST_HOURS * 3600 * cfg.sample_rate / cfg.segment_length
    eval_s = len(specs) * test_segments / eval_rate
    flops = step_flops(cfg, sizes.batch)["total"]
    gpu = {name: len(specs) * PAPER_EPOCHS * steps_per_epoch * flops / (peak * 1e12 * GPU_ASSUMED_EFFICIENCY)
           for name, peak in GPU_FP32_PEAKS.items()}
    return {"runs": len(specs), "epochs": PAPER_EPOCHS, "steps_per_epoch": steps_per_epoch, "steps_how": how,
            "train_hours": train_s / 3600, "eval_hours": eval_s / 3600,
            "gpu_hours": {k: v / 3600 for k, v in gpu.items()}}


# --------------------------------------------------------------------------- report


def machine(device: torch.device, threads: int) -> dict[str, Any]:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "cores": os.cpu_count(), "torch": torch.__version__, "threads": threads,
            "device": str(device), "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": [round(x, 2) for x in os.getloadavg()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["tf32"] = torch.backends.cuda.matmul.allow_tf32
    return info


def _verdict(ok: bool, smoke: bool) -> str:
    if smoke:
        return "(smoke)"
    return "met" if ok else "MISSED"


def _step_rows(size: str, steps: dict[str, Any], peak: float, smoke: bool) -> list[tuple[str, ...]]:
    """The table rows of one size's training steps (:func:`training_steps`)."""
    t = steps["times"]
    med = {k: statistics.median(v) for k, v in t.items()}
    flops = steps["flops"]["total"]
    m = steps["model"]
    head = f"[{size}: B={steps['batch']} C={m['channels']} L={m['kernel_size']} S={m['stride']} T={steps['frames']}]"
    rows = [(f"{head} convolution plan (fixed: what runs use, nothing timed)", steps["plan"], "", "", "", "")]
    speed = paired_ratio(t["plain L_A"], t["rlsv L_A"])
    rows.append((f"{head} L_A step (TV), fwd+bwd+Adam",
                 f"{med['rlsv L_A'] * 1e3:.1f} ms, {flops / med['rlsv L_A'] / 1e9:.0f} GFLOP/s "
                 f"({flops / med['rlsv L_A'] / 1e9 / peak:.2f} of matmul peak)",
                 f"published layers in plain PyTorch {med['plain L_A'] * 1e3:.1f} ms", f"{speed:.2f}x as fast",
                 ">= 1.0x", _verdict(speed >= 1.0, smoke)))
    gemm = paired_ratio(t["rlsv L_A, all GEMM"], t["rlsv L_A"])
    rows.append((f"{head} L_A step, every convolution a GEMM", f"{med['rlsv L_A, all GEMM'] * 1e3:.1f} ms",
                 "the fixed plan", f"{gemm:.2f}x the fixed plan's time", "", ""))
    plans = steps["plans"]
    fastest = min(plans, key=lambda name: statistics.median(plans[name]))
    lag = paired_ratio(plans[steps["plan"]], plans[fastest])
    rows.append((f"{head} L_A step, fastest of the 8 plans",
                 f"{fastest}: {statistics.median(plans[fastest]) * 1e3:.1f} ms",
                 f"fixed {steps['plan']}: {statistics.median(plans[steps['plan']]) * 1e3:.1f} ms",
                 f"fixed / fastest {lag:.3f}", "<= 1.05", _verdict(lag <= 1.05, smoke)))
    ratio = paired_ratio(t["rlsv L_B"], t["rlsv L_A"])
    rows.append((f"{head} L_B step (Sinkhorn p=1, lambda=1.5) / L_A step", f"{med['rlsv L_B'] * 1e3:.1f} ms",
                 f"L_A {med['rlsv L_A'] * 1e3:.1f} ms", f"{ratio:.3f}", "<= 1.03", _verdict(ratio <= 1.03, smoke)))
    published = steps["published"]
    pub = paired_ratio(published["published L_B"], published["rlsv L_B"])
    rows.append((f"{head} L_B step against the published one (1000 unrolled Sinkhorn iterations)",
                 f"{statistics.median(published['rlsv L_B']) * 1e3:.1f} ms",
                 f"published {statistics.median(published['published L_B']) * 1e3:.1f} ms", f"{pub:.1f}x as fast",
                 ">= 1.0x", _verdict(pub >= 1.0, smoke)))
    for name in ("L_A", "L_B"):
        loop = paired_ratio(t[f"user loop {name}"], t[f"rlsv {name}"])
        rows.append((f"{head} user's loop on the public API, {name}", f"{med[f'user loop {name}'] * 1e3:.1f} ms",
                     f"train_step {med[f'rlsv {name}'] * 1e3:.1f} ms", f"{loop:.3f}", "<= 1.05",
                     _verdict(loop <= 1.05, smoke)))
    user = paired_ratio(t["user loop L_B"], t["user loop L_A"])
    rows.append((f"{head} user's loop, L_B / L_A", "", "", f"{user:.3f}", "", ""))
    one = paired_ratio(t["user loop L_B, one encode"], t["rlsv L_B"])
    rows.append((f"{head} user's loop, L_B, vocals and mixture in one encode call",
                 f"{med['user loop L_B, one encode'] * 1e3:.1f} ms", f"train_step {med['rlsv L_B'] * 1e3:.1f} ms",
                 f"{one:.3f}", "", ""))
    return rows


def report(results: dict[str, Any], smoke: bool) -> str:
    """The table (Markdown) and the notes under it."""
    r = results
    peak = max(r["peak_gflops"], r["peak_end"])  # the ceiling: the better of the two measurements
    main_steps = r["steps"][list(r["steps"])[-1]]  # the paper's size (the smoke size in a smoke run)
    step = {k: statistics.median(v) for k, v in main_steps["times"].items()}
    rows = [("measurement", "result", "compared with", "ratio", "target", "")]
    rows.append((f"float32 matmul peak ({r['machine']['threads']} threads, n={r['peak_n']})", f"{peak:.1f} GFLOP/s",
                 "", "", "", ""))
    for size, steps in r["steps"].items():
        rows += _step_rows(size, steps, peak, smoke)
    t = r["frames"]
    for row in r["sinkhorn"]:
        lam = row["lam"]
        rows.append((f"Sinkhorn T={t} lambda={lam:g}, fwd+bwd (exact grad)",
                     f"{row['ours_s'] * 1e3:.2f} ms", f"POT sinkhorn2 {row['pot_s'] * 1e3:.2f} ms",
                     f"{row['speedup']:.1f}x faster", ">= 3x", _verdict(row["speedup"] >= 3, smoke)))
        rows.append((f"Sinkhorn T={t} lambda={lam:g}, value (grad)", f"{row['ours_value']:.6g}",
                     f"POT {row['pot_value']:.6g}", f"{row['value_rel']:.1e} ({row['grad_rel']:.1e})",
                     "<= 1e-5", _verdict(row["value_rel"] <= 1e-5, smoke)))
    consumption = r["batch"] / min(step["rlsv L_A"], step["rlsv L_B"])
    loader_ratio = r["loader_rate"] / consumption
    rows.append(("loader (training_batches, decode cache)", f"{r['loader_rate']:.0f} segments/s",
                 f"step consumes {consumption:.1f} segments/s", f"{loader_ratio:.0f}x", ">= 10x",
                 _verdict(loader_ratio >= 10, smoke)))
    eval_gf = r["eval_rate"] * r["eval_flops"] / 1e9
    rows.append(("evaluation (evaluate_model)", f"{r['eval_rate']:.1f} segments/s, {eval_gf:.1f} GFLOP/s",
                 "matmul peak", f"{eval_gf / peak:.2f}", "", ""))
    mem = {k: v["bytes"] / 2 ** 20 for k, v in r["memory"].items()}
    rows.append(("peak memory, L_A step", f"{mem['L_A']:.0f} MiB", "", "", "", ""))
    rows.append(("peak memory, L_B step", f"{mem['L_B']:.0f} MiB", "L_A step", f"{mem['L_B'] / mem['L_A']:.3f}",
                 "<= 1.2", _verdict(mem["L_B"] <= 1.2 * mem["L_A"], smoke)))

    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(cell.ljust(w) for cell, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")

    m = r["machine"]
    head = [f"rlsv benchmark{' (SMOKE: tiny sizes, nothing assessed)' if smoke else ''}",
            f"machine: {m['cpu']}, {m['cores']} cores; torch {m['torch']}, {m['threads']} threads; device "
            f"{m['device']}{' (' + m['gpu'] + ', TF32 ' + ('on' if m['tf32'] else 'off') + ')' if 'gpu' in m else ''}; "
            f"{m['date']}; load average at start {m['load_average']}, at end {r['load_end']}",
            "step FLOPs: " + "; ".join(f"{size} {v['flops']['total'] / 1e9:.1f} G (forward "
                                       f"{v['flops']['forward'] / 1e9:.1f} G, "
                                       f"backward {v['flops']['backward'] / 1e9:.1f} G)"
                                       for size, v in r["steps"].items()), ""]
    g = r["grid"]
    notes = ["",
             f"matmul peak: {r['peak_gflops']:.1f} GFLOP/s at the start, {r['peak_end']:.1f} at the end; the "
             "larger is the ceiling ("
             + ("stable" if abs(r['peak_end'] / r['peak_gflops'] - 1) < 0.1
                else "they differ by > 10 %: the machine was busy, fractions of peak are unreliable")
             + ").",
             f"steps: medians of {len(main_steps['times']['rlsv L_A'])} interleaved repeats after warm-up (the "
             f"published L_B step: {len(main_steps['published']['published L_B'])}, interleaved with rlsv's); ratios "
             "are medians of the per-round ratios. plain = the published layers (nn.Conv1d encoder, dilated "
             "nn.Conv1d, conv_transpose1d decoder, torch.optim.Adam) with rlsv's losses (benchmarks/peer.py); "
             "user's loop = model.encode twice, model.decode, neg_snr, total_variation / sinkhorn_distance, Adam.",
             "Sinkhorn: ours = rlsv.core.sinkhorn.sinkhorn_loss(M, lam, tol=1e-5), float64 solve, exact gradient by "
             "implicit differentiation; POT = ot.sinkhorn2(a, b, M.double(), reg=lam, stopThr=1e-5), torch backend, "
             "whose backward differentiates through all its iterations (autograd, no envelope shortcut), i.e. the "
             "same exact gradient of <P*(M), M>: like for like. Value (grad) = relative difference of the losses "
             "(of the gradients, Frobenius).",
             f"loader: {r['loader_segments']} segments over {r['loader_epochs']} epochs of a synthetic corpus "
             f"({r['corpus']}); evaluation: {r['eval_segments']} kept segments.",
             f"memory: {r['memory']['L_A']['method']} peak over {r['memory_steps']} step(s) in a fresh process minus "
             "its resident memory before the first step (model, optimiser, batch): activations, gradients, "
             "temporaries and Adam's moments.",
             f"ESTIMATE, `all` grid at paper size on this machine: {g['runs']} trained runs x {g['epochs']} epochs x "
             f"{g['steps_per_epoch']} steps ({g['steps_how']}) = {g['train_hours']:.0f} h of training "
             f"({g['train_hours'] / 24:.1f} days) + {g['eval_hours']:.1f} h of evaluation "
             f"({MUSDB_TEST_HOURS:.1f} h of test audio per run).",
             "ESTIMATE, GPU (FLOP-based, not measured): the same training at "
             f"{GPU_ASSUMED_EFFICIENCY:.0%} of float32 peak: "
             + ", ".join(f"{name} ({peak} TFLOP/s) {g['gpu_hours'][name]:.1f} h"
                         for name, peak in GPU_FP32_PEAKS.items())
             + "."]
    return "\n".join(head + lines + notes)


# --------------------------------------------------------------------------- main


def run(args: argparse.Namespace) -> dict[str, Any]:
    sizes = SMOKE if args.smoke else PAPER
    device = resolve_device(args.device)
    threads = args.threads or torch.get_num_threads()
    cuda = device.type == "cuda"
    # the process settings a run uses (rlsv.run.train.fit), restored afterwards
    with runtime(Runtime(threads=threads, tf32=args.tf32 if cuda else None, deterministic=True if cuda else None,
                         retain_freed_memory=device.type == "cpu")):
        return _run(args, sizes, device, threads)


def _run(args: argparse.Namespace, sizes: Any, device: torch.device, threads: int) -> dict[str, Any]:
    clock = Clock(device)
    cfg = sizes.model
    results: dict[str, Any] = {"machine": machine(device, threads), "model": cfg.to_dict(), "batch": sizes.batch,
                               "frames": cfg.frames, "eval_flops": eval_flops_per_segment(cfg),
                               "sizes": asdict(sizes) | {"model": None, "step_models": None}}
    matmul_sizes = sizes.matmul_sizes if device.type == "cpu" or args.smoke else (4096, 8192)
    results["peak_gflops"], results["peak_n"] = matmul_peak(clock, matmul_sizes, sizes.matmul_repeats)
    progress = ((lambda msg: print(f"[bench] {msg}", file=sys.stderr, flush=True)) if not args.quiet
                else (lambda msg: None))
    progress(f"matmul peak {results['peak_gflops']:.1f} GFLOP/s; writing the synthetic corpus")
    with tempfile.TemporaryDirectory(prefix="rlsv-bench-") as tmp:
        workdir = Path(tmp)
        dataset = make_dataset(workdir, sizes)
        results["corpus"] = (f"{sizes.corpus_train} train + {sizes.corpus_test} test tracks of "
                             f"{sizes.corpus_seconds:g} s")
        batches = loader_batches(dataset, sizes, 4)
        results["steps"] = {}
        for size, model_config in sizes.step_models:
            progress(f"training steps, {size} size")
            results["steps"][size] = training_steps(
                clock, model_config, sizes.batch, loader_batches(dataset, sizes, 4, model_config),
                sizes.step_warmup, sizes.step_repeats, sizes.published_repeats)
        progress("Sinkhorn against POT")
        results["sinkhorn"] = sinkhorn_against_pot(clock, realistic_cost_matrix(sizes, batches[0], device),
                                                   sizes.sinkhorn_repeats)
        progress("loader and evaluation")
        results["loader_rate"], results["loader_segments"] = loader_throughput(dataset, sizes)
        results["loader_epochs"] = sizes.loader_epochs
        results["eval_rate"], results["eval_segments"] = evaluation_throughput(clock, dataset, sizes)
        progress("peak memory (subprocesses)")
        results["memory"] = peak_memory(sizes, batches[0], device, threads, workdir)
        results["memory_steps"] = sizes.memory_steps
    main_steps = results["steps"][list(results["steps"])[-1]]["times"]
    step_s = {name: statistics.median(main_steps[f"rlsv {name}"]) for name in ("L_A", "L_B")}
    results["grid"] = grid_estimate(step_s, results["eval_rate"], PAPER if not args.smoke else sizes)
    results["peak_end"], _ = matmul_peak(clock, matmul_sizes, sizes.matmul_repeats)
    results["load_end"] = [round(x, 2) for x in os.getloadavg()]
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, a few seconds; nothing is assessed")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (default: torch's default)")
    parser.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (default: full float32)")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    parser.add_argument("--memory-case", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_case:
        memory_case(args)
        return 0
    results = run(args)
    print(report(results, args.smoke))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
