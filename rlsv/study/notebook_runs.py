"""Executing the numbered notebooks with papermill: where they are, and one execution written atomically.

Used by the sweeps (notebooks 02 and 03 per run, ``rlsv.study.sweep_run``) and by ``rlsv reproduce``
(notebooks 04 and 05).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any, Mapping

__all__ = ["ENGINES", "TRAIN_NOTEBOOK", "EVALUATE_NOTEBOOK", "EXECUTED", "notebooks_dir", "execute_notebook"]

ENGINES: tuple[str, ...] = ("papermill", "inline")
"""How a sweep runs a run: ``papermill`` (executes notebooks 02 and 03) or ``inline`` (calls the same functions,
no notebooks)."""

TRAIN_NOTEBOOK, EVALUATE_NOTEBOOK = "02_train.ipynb", "03_evaluate.ipynb"
EXECUTED: Mapping[str, str] = {TRAIN_NOTEBOOK: "train.ipynb", EVALUATE_NOTEBOOK: "evaluate.ipynb"}
"""The name each notebook's executed copy has in a run folder."""

_KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]


def notebooks_dir() -> Path:
    """The folder of the numbered notebooks: ``$RLSV_NOTEBOOKS``, else ``notebooks/`` of this checkout."""
    configured = os.environ.get("RLSV_NOTEBOOKS")
    folder = Path(configured) if configured else Path(__file__).resolve().parents[2] / "notebooks"
    if not (folder / TRAIN_NOTEBOOK).is_file():
        raise FileNotFoundError(
            f"The notebooks are not in {folder}. Run rlsv from its git checkout (pip install -e .), "
            "set RLSV_NOTEBOOKS to the folder holding 02_train.ipynb, or use --engine inline."
        )
    return folder.resolve()


def execute_notebook(notebook: str | os.PathLike, output: str | os.PathLike, parameters: Mapping[str, Any],
                     kernel_name: str = "python3", timeout_s: float | None = None) -> Path:
    """Execute ``notebook`` with papermill into ``output`` (replaced atomically, also on failure).

    The executed copy is written next to ``output`` under a temporary name of its own (two
    executions into the same folder never share it) and renamed when the execution ends, so
    ``output`` is never half-written; a failing notebook is kept (with its traceback) and the
    papermill error is re-raised.
    """
    import papermill as pm

    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.stem}.{os.getpid()}-{uuid.uuid4().hex[:8]}.partial{output.suffix}")
    try:
        pm.execute_notebook(str(notebook), str(partial), parameters=dict(parameters), kernel_name=kernel_name,
                            progress_bar=False, log_output=False, execution_timeout=timeout_s,
                            extra_arguments=_KERNEL_ARGUMENTS)
    finally:
        if partial.exists():
            os.replace(partial, output)
    return output
