"""How a run computes its convolutions: the plan is the run's decision, and by default no timing makes it.

Each of the model's three convolutions can be computed as a matrix product (``"gemm"``) or by torch's own
kernels (``"direct"``: oneDNN on the CPU, cuDNN on a GPU); a :class:`~rlsv.core.conv.ConvPlan` holds one
method per convolution. The plans differ in float order only, and training amplifies float differences, so
a plan chosen by timing at run time made the same command give different weights on a busy machine. The
request (``TrainConfig.conv_plan``, ``--conv-plan``) is therefore resolved without timing unless asked:

* ``"fixed"`` (default): :data:`FIXED_PLANS`, one plan per device type, chosen once from the benchmark
  (``docs/benchmarks.md``). Nothing is timed: the same command gives the same plan on every
  machine, idle or busy.
* ``"auto"``: timed once per machine and kept. The first run on a machine times the candidates
  (``rlsv.run.conv_tuning.tune_conv_plan``) and stores the winner in a small JSON file (:func:`plan_cache_path`)
  keyed by :func:`machine_key` (CPU or GPU model, torch version, threads, shapes, dtype); every later run on that
  machine reads it. A sweep resolves it before it launches its runs and passes the plan to them.
* an explicit plan: ``"gemm"``, ``"direct"`` or three methods ``"analysis,context,synthesis"``.

:func:`resolve_conv_plan` returns the plan and how it was chosen; a run records both
(``rlsv.run.provenance``), and a resumed run keeps the plan its checkpoint recorded.
"""

from __future__ import annotations

import fcntl
import json
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from rlsv.atomic import write_json
from rlsv.core.conv_methods import METHODS, ConvPlan
from rlsv.core.model_config import ModelConfig
from rlsv.errors import ConfigError
from rlsv.run.machine import device_name

if TYPE_CHECKING:  # torch is imported where a plan is resolved: the choices are read without it (rlsv --help)
    from rlsv.run.conv_tuning import Timer

__all__ = ["REQUESTS", "CONV_PLAN_CHOICES", "FIXED_PLANS", "PlanChoice", "parse_conv_plan", "fixed_plan",
           "machine_key", "plan_cache_path", "resolve_conv_plan"]

REQUESTS: tuple[str, ...] = ("fixed", "auto")
CONV_PLAN_CHOICES: tuple[str, ...] = (*REQUESTS, *METHODS)
"""The requests ``--conv-plan`` names; three comma-separated methods are accepted too."""

FIXED_PLANS: Mapping[str, ConvPlan] = {
    "cpu": ConvPlan.everywhere("direct"),
    "cuda": ConvPlan.everywhere("direct"),
}
"""The ``"fixed"`` plan by device type. CPU: torch's own kernels for all three convolutions, the fastest L_A and
L_B step of the eight plans at the small profile's size on 1 and on 2 threads, and at the paper's size, in the
benchmark's interleaved measurement (``docs/benchmarks.md``: the step within 1 % of the fastest plan's at 1
thread, and the fastest at 2). CUDA: cuDNN's kernels (not measured here: no GPU was available). A device type
not listed gets torch's own kernels everywhere too."""


@dataclass(frozen=True)
class PlanChoice:
    """A resolved plan and how it was chosen (``"fixed"``, ``"machine cache"``, ``"timed now"``, ``"given"``,
    ``"checkpoint"``)."""

    plan: ConvPlan
    how: str

    def to_dict(self) -> dict[str, str]:
        return {"plan": self.plan.text, "how": self.how}


def parse_conv_plan(request: str) -> str | ConvPlan:
    """``"fixed"``, ``"auto"``, or the explicit :class:`ConvPlan` a request names; a ``ConfigError`` names the
    option (``--conv-plan``) otherwise."""
    if request in REQUESTS:
        return request
    try:
        return ConvPlan.parse(request)
    except ConfigError:
        raise ConfigError(f"conv_plan (--conv-plan) must be 'fixed', 'auto', 'gemm', 'direct' or three methods "
                          f"'analysis,context,synthesis' such as 'gemm,direct,direct'; got {request!r}.") from None


def fixed_plan(device_type: str) -> ConvPlan:
    """The ``"fixed"`` plan of a device type (``"cpu"``, ``"cuda"``; :data:`FIXED_PLANS`)."""
    return FIXED_PLANS.get(device_type, ConvPlan.everywhere("direct"))


def machine_key(config: ModelConfig, batch: int, device: Any, dtype: Any, threads: int) -> str:
    """What a timed plan depends on, as one string: the device's model (CPU or GPU name), torch's version,
    the thread count, the convolutions' shapes, the batch and the dtype."""
    import torch

    device = torch.device(device)
    shapes = (config.channels, config.kernel_size, config.stride, config.segment_length, config.context_kernel,
              config.dilation)
    return json.dumps([device.type, device_name(device), torch.__version__, threads, list(shapes), batch,
                       str(dtype)])


def plan_cache_path() -> Path:
    """The file of the plans timed on this machine: ``$RLSV_PLAN_CACHE``, else
    ``$XDG_CACHE_HOME/rlsv/conv_plans.json`` (``~/.cache/rlsv/conv_plans.json``)."""
    configured = os.environ.get("RLSV_PLAN_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rlsv" / "conv_plans.json"


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path``'s lock file (two runs timing the same shapes at once agree)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read_cache(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _machine_plan(config: ModelConfig, batch: int, device: Any, dtype: Any, threads: int,
                  timer: "Timer | None") -> PlanChoice:
    """The plan timed for this machine and these shapes: read from the cache file, or timed now and stored."""
    from rlsv.run.conv_tuning import tune_conv_plan

    path = plan_cache_path()
    key = machine_key(config, batch, device, dtype, threads)
    with _locked(path):
        cached = _read_cache(path)
        if key in cached:
            return PlanChoice(ConvPlan.parse(cached[key]), "machine cache")
        plan = tune_conv_plan(config, batch, device, dtype, timer=timer)
        write_json(cached | {key: plan.text}, path)
    return PlanChoice(plan, "timed now")


def resolve_conv_plan(request: str | ConvPlan, config: ModelConfig, batch: int, device: Any,
                      threads: int | None = None, dtype: Any = None, timer: "Timer | None" = None) -> PlanChoice:
    """The plan a run with ``request`` computes with (module docstring) and how it was chosen.

    Args:
        request: ``"fixed"``, ``"auto"``, an explicit plan's text, or a :class:`ConvPlan`.
        config, batch: the model's sizes and the training batch (the encoder sees ``2 batch`` segments).
        device, threads, dtype: where it runs (``threads`` None: torch's current count; ``dtype`` None: float32).
        timer: for ``"auto"`` when the machine has no plan yet (tests force the timings).
    """
    import torch

    device = torch.device(device)
    threads = threads or torch.get_num_threads()
    parsed = request if isinstance(request, ConvPlan) else parse_conv_plan(request)
    if isinstance(parsed, ConvPlan):
        return PlanChoice(parsed, "given")
    if parsed == "fixed":
        return PlanChoice(fixed_plan(device.type), "fixed")
    return _machine_plan(config, max(1, batch), device, dtype or torch.float32, threads, timer)
