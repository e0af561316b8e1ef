"""Where a trained mask estimator lives: the separator folder of a run, and the names of its files.

``docs/run_layout.md`` ("Separators"): a blind separator trained on a run is a sub-folder of the run
folder (``run_dirs`` lists only top-level folders, so sweeps, tables and figures never see it):

* ``<run>/separator-s<seed>/`` -- on the run's own front end: the learned representation of a
  trained run, or the STFT for an STFT baseline run folder (``<profile>-stft-<variant>``);
* ``<run>/separator-stft-s<seed>/`` -- the STFT estimator trained from a trained run's folder (with
  that run's data), when no STFT run folder is used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rlsv.run.files import CONFIG, MODEL

__all__ = ["SEPARATOR_CONFIG", "SEPARATOR_CHECKPOINT", "SEPARATOR_LOSSES", "SEPARATOR_MODEL", "SEPARATION_SCORES",
           "ORACLE_SCORES", "separator_dir", "run_front_end", "is_stft_run", "read_json_config", "has_model",
           "scores_key"]

SEPARATOR_CONFIG = CONFIG  # the estimator's settings, its training data and the run it belongs to
SEPARATOR_CHECKPOINT = "checkpoint.pt"  # latest epoch: estimator, optimiser, RNG states, history
SEPARATOR_LOSSES = "losses.csv"  # one row per optimisation step: epoch, step, loss (-SI-SDR dB), active
SEPARATOR_MODEL = "separator.pt"  # the trained estimator (rlsv.run.separation.separator.save_separator)
SEPARATION_SCORES = "separation_scores.csv"  # its blind scores (rlsv.study.separation.comparison), with a .json key
ORACLE_SCORES = "oracle_{front_end}_separation_scores.csv"  # in the run folder: the oracle mask's, per front end


def scores_key(scores: str | Path) -> Path:
    """The ``.json`` beside a scores file: what its scores were computed on."""
    return Path(scores).with_suffix(".json")


def read_json_config(run_dir: str | Path) -> dict[str, Any]:
    """A run's ``config.json``, or ``{}`` when it has none (a folder holding only a ``model.pt``); read by
    ``rlsv.run.evaluate.load_run_config``, so a damaged file is named with what to do."""
    if not (Path(run_dir) / CONFIG).is_file():
        return {}
    from rlsv.run.evaluate import load_run_config  # pandas and torch: only when there is a file to read

    return load_run_config(run_dir)


def is_stft_run(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` is an STFT baseline run folder (``config.json``'s objective ``"stft"``)."""
    return read_json_config(run_dir).get("objective") == "stft"


def run_front_end(run_dir: str | Path) -> str:
    """The front end a run folder provides by itself: ``"stft"`` for an STFT run, else ``"learned"``."""
    return "stft" if is_stft_run(run_dir) else "learned"


def separator_dir(run_dir: str | Path, front_end: str | None = None, seed: int = 218) -> Path:
    """The folder of the separator with ``front_end`` (None: the run's own) and estimator ``seed`` in ``run_dir``."""
    front_end = front_end or run_front_end(run_dir)
    own = front_end == run_front_end(run_dir)
    return Path(run_dir) / (f"separator-s{seed}" if own else f"separator-{front_end}-s{seed}")


def has_model(run_dir: str | Path) -> bool:
    """Whether ``run_dir`` holds a trained autoencoder (``model.pt``)."""
    return (Path(run_dir) / MODEL).is_file()
