"""How long a separator's training will take: its planned steps, and the time measured on its first steps.

``rlsv separate`` trains a missing separator on request; before it does, the user is told how many steps
it takes (:func:`planned_steps`: epochs x the batches of the run's training data), and once the first steps
have run, how long the whole will take on this machine (:class:`ExpectedTime`, a callback of
``rlsv.run.separation.training.train_separator``). The measured figures of ``docs/separation.md`` give the
order of magnitude beforehand.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

import pandas as pd

from rlsv.audio.segments import count_training_batches
from rlsv.run.separation.files import read_json_config
from rlsv.run.separation.training_data import TrainingData, data_run_for

__all__ = ["planned_steps", "ExpectedTime", "format_duration"]


def format_duration(seconds: float) -> str:
    """``"2 min 52 s"``, ``"48 s"``, ``"1 h 05 min"``."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def planned_steps(run_dir: str | Path, epochs: int, data_run: str | Path | None = None) -> int:
    """Optimisation steps of ``epochs`` epochs over the training batches of ``data_run`` (default: the run's own
    data, ``rlsv.run.separation.training_data.data_run_for``); batches without active vocals are skipped
    in training, so this is an upper bound. Reads the data's track list, decodes nothing."""
    data = TrainingData.from_run_config(read_json_config(Path(data_run) if data_run else data_run_for(run_dir)))
    return epochs * count_training_batches(data.load(progress=False), data.segmentation())


class ExpectedTime:
    """A ``train_separator`` callback that measures the time per step once ``measure_steps`` steps have run
    after the first call, and logs once the time the remaining steps will take.

    Args:
        total_steps: the training's steps (:func:`planned_steps`).
        log: where the line goes.
        measure_steps: steps timed before the estimate.
    """

    def __init__(self, total_steps: int, log: Callable[[str], None] = print, measure_steps: int = 20) -> None:
        self.total_steps, self.log, self.measure_steps = total_steps, log, measure_steps
        self._first: tuple[float, int] | None = None
        self.seconds_per_step: float | None = None

    def __call__(self, history: pd.DataFrame) -> None:
        steps, now = len(history), time.perf_counter()
        if self._first is None:
            self._first = (now, steps)
            return
        if self.seconds_per_step is not None or steps - self._first[1] < self.measure_steps:
            return
        self.seconds_per_step = (now - self._first[0]) / (steps - self._first[1])
        left = max(0, self.total_steps - steps)
        self.log(f"rlsv: training the separator: about {format_duration(left * self.seconds_per_step)} left "
                 f"({left} of {self.total_steps} steps at {self.seconds_per_step:.3f} s a step here)")
