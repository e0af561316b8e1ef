"""Choosing the torch device of a run."""

from __future__ import annotations

import torch

from rlsv.errors import ConfigError

__all__ = ["resolve_device"]


def resolve_device(device: str) -> torch.device:
    """``"auto"`` -> CUDA when available, else CPU; other strings as ``torch.device``; checked.

    Raises ``ValueError`` naming the option (``device``, ``--device``) for a name torch does not know
    and for a CUDA device that is not there.
    """
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(f"device (--device) {device!r} is not a device name; use 'auto', 'cpu', 'cuda' or "
                         "'cuda:N'.") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device={device!r} but no CUDA GPU is visible; use device='cpu' or 'auto' (--device).")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ConfigError(f"device={device!r} but only {torch.cuda.device_count()} CUDA GPU(s) are visible (--device).")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"device (--device) {device!r}: rlsv runs on 'cpu' or 'cuda' devices.")
    return dev
