"""rlsv: unsupervised representation learning for singing-voice separation (Mimilakis, Drossos, Schuller
2020), reproduced.

The package is layered (``docs/architecture.md``); each layer imports only the ones below it:

==================  ===============================================================================
``rlsv.core``       the paper's maths, no I/O: the autoencoder, its convolutions, the losses, the
                    Sinkhorn distance, the metrics, one training step
``rlsv.audio``      MUSDB18 and the synthetic corpus, the decode cache, segments
``rlsv.run``        one run: its configuration, training, evaluation, files and status
``rlsv.study``      many runs: grids, sweeps, results, intervals, Tables 1-2, Figures 2-6, the scale study
``rlsv.ui``         notebook display helpers and the lambda explorer
``rlsv.cli``        the ``rlsv`` command
==================  ===============================================================================

The names a notebook user needs most are available from here, loaded on first use (``import rlsv``
itself imports no torch)::

    import rlsv
    model = rlsv.DenoisingAutoencoder(rlsv.ModelConfig(channels=200, kernel_size=1024, segment_length=11025))
    report = rlsv.run_sweep("table1", seeds=3)
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("rlsv")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

_EXPORTS: dict[str, str] = {
    # core: the method
    "ModelConfig": "rlsv.core.model",
    "DenoisingAutoencoder": "rlsv.core.model",
    "Objective": "rlsv.core.losses",
    "neg_snr": "rlsv.core.losses",
    "total_variation": "rlsv.core.losses",
    "sinkhorn_distance": "rlsv.core.losses",
    "si_sdr": "rlsv.core.metrics",
    "additivity": "rlsv.core.metrics",
    "binary_mask": "rlsv.core.metrics",
    # one run
    "RunParameters": "rlsv.run.config",
    "run_training": "rlsv.run.pipeline",
    "run_evaluation": "rlsv.run.pipeline",
    "load_model": "rlsv.run.model_file",
    # many runs
    "run_sweep": "rlsv.study.sweeps",
    "load_runs": "rlsv.study.results",
    "make_tables": "rlsv.study.reproduce",
    "make_figures": "rlsv.study.reproduce",
    "reproduce": "rlsv.study.reproduce",
    # notebooks
    "RepresentationExplorer": "rlsv.ui.explorer",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    """Load an exported name from its module on first access (PEP 562)."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rlsv' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
