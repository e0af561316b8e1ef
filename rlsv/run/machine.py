"""What machine a run computes on: CPU model, core count, accelerator, library versions.

Two machines of the same CPU model, torch version and thread count run the same kernels in the same float
order, so these are what a run records (``rlsv.run.provenance``) and what a per-machine choice is keyed by
(``rlsv.run.conv_plan``). Read once per process.
"""

from __future__ import annotations

import os
import platform
from functools import lru_cache
from typing import Any

__all__ = ["cpu_model", "cpu_count", "device_name", "machine_description"]


@lru_cache(maxsize=1)
def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else ``platform.processor()``), or ``"unknown"``."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def cpu_count() -> int:
    """The CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def device_name(device: Any) -> str:
    """The name of a torch device: the GPU's model for CUDA, the CPU's model for the CPU."""
    import torch

    device = torch.device(device)
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "cpu":
        return cpu_model()
    return device.type


def machine_description(device: Any = "cpu") -> dict[str, Any]:
    """Versions and hardware that decide a run's float order: ``torch`` (version, its BLAS and oneDNN as torch
    reports them), ``python``, ``platform``, ``cpu_model``, ``cores``, ``device`` and its name, and for CUDA the
    CUDA and cuDNN versions."""
    import torch

    device = torch.device(device)
    description: dict[str, Any] = {
        "torch": torch.__version__, "python": platform.python_version(), "platform": platform.platform(),
        "cpu_model": cpu_model(), "cores": cpu_count(), "device": str(device), "device_name": device_name(device),
        "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
    }
    if device.type == "cuda":
        description |= {"cuda": torch.version.cuda, "cudnn": torch.backends.cudnn.version()}
    return description
