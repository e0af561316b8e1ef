""""Train this run now": one run trained and evaluated from the explorer, with a progress bar.

:class:`TrainProgress` is an ``ipywidgets.IntProgress`` over the run's Adam steps with a line that says
the epoch, the time spent and the time left; :func:`train_and_evaluate` trains the run
(``rlsv.run.pipeline.run_training``, which resumes an interrupted run from its checkpoint) into the
explorer's folder, holding the run's lock (``rlsv.run.lock``) so that two kernels never train it
together, then evaluates it (``run_evaluation``), as a sweep would.
"""

from __future__ import annotations

import html
import os
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rlsv.run.config import RunParameters

__all__ = ["TRAIN_THREADS", "training_steps", "TrainProgress", "TrainingTime", "train_and_evaluate"]


def training_steps(params: RunParameters) -> int:
    """How many Adam steps the run takes: epochs x batches per epoch of its training tracks (the profile's
    synthetic corpus is written first if needed; no audio is decoded)."""
    from rlsv.audio.musdb import resolve_dataset
    from rlsv.audio.segments import count_training_batches
    from rlsv.run.data import dataset_root

    config = params.train_config(dataset_root(params.profile, params.dataset, progress=False), "cpu")
    data = resolve_dataset(config.dataset, subsets=("train",), segment_length=config.model.segment_length,
                           sample_rate=config.model.sample_rate, progress=False)
    data = data.with_first_tracks("train", config.max_train_tracks)
    return config.epochs * count_training_batches(data, config.segmentation())


@dataclass
class TrainingTime:
    """How long "train this run now" took: ``steps`` Adam steps in ``train_s`` seconds, then ``evaluate_s``."""

    steps: int
    train_s: float = 0.0
    evaluate_s: float = 0.0


class TrainProgress:
    """A progress bar over a run's Adam steps and a line saying where training is (``widget``; hidden until
    :meth:`start`)."""

    def __init__(self) -> None:
        import ipywidgets as W

        self.bar = W.IntProgress(value=0, min=0, max=1, description="training", bar_style="info",
                                 style={"description_width": "5em"}, layout=W.Layout(width="30em"))
        self.label = W.HTML()
        self.widget = W.HBox([self.bar, self.label], layout=W.Layout(display="none"))
        self.widget.add_class("rlsv-progress")
        self._start = time.monotonic()
        self._run_id = ""
        self._epochs = 1

    def start(self, run_id: str, steps: int, epochs: int) -> None:
        self._run_id, self._epochs, self._start = run_id, epochs, time.monotonic()
        self.bar.max, self.bar.value, self.bar.description = max(1, steps), 0, "training"
        self.bar.bar_style = "info"
        self.label.value = f"starting <code>{html.escape(run_id)}</code> ({steps} Adam steps)…"
        self.widget.layout.display = "flex"

    def update(self, history: pd.DataFrame) -> None:
        """``fit``'s callback: the loss history so far (every 25 steps and at each epoch's end)."""
        if history.empty:
            return
        step, epoch = int(history["step"].iloc[-1]), int(history["epoch"].iloc[-1])
        self.bar.value = min(step, self.bar.max)
        spent = time.monotonic() - self._start
        left = spent * (self.bar.max - step) / step if step else float("nan")
        self.label.value = (f"<code>{html.escape(self._run_id)}</code>: epoch {epoch}/{self._epochs}, step "
                            f"{step}/{self.bar.max}, {spent:.0f} s, about {left:.0f} s left; "
                            f"neg-SNR {history['neg_snr'].iloc[-1]:.2f} dB")

    def evaluating(self) -> None:
        self.bar.value, self.bar.description, self.bar.bar_style = self.bar.max, "evaluating", "warning"
        self.label.value = (f"<code>{html.escape(self._run_id)}</code>: trained in "
                            f"{time.monotonic() - self._start:.0f} s; evaluating it on the test tracks…")

    def finish(self) -> None:
        self.widget.layout.display = "none"


TRAIN_THREADS = 1
"""torch threads while the explorer trains. On 2 cores shared with other work, one thread trained a small run
(1880 steps) in 47 s and 43 s of CPU, two threads in 418 s and 360 s of CPU (threads waiting for each other
whenever one is descheduled)."""


def train_and_evaluate(params: RunParameters, output_root: str | os.PathLike, progress: TrainProgress,
                       device: str = "cpu", threads: int | None = TRAIN_THREADS) -> TrainingTime:
    """Train ``params`` into ``<output_root>/<run-id>`` and evaluate it, updating ``progress``; ``threads``
    torch threads meanwhile (None: as they are), restored afterwards (``rlsv.run.runtime``).

    Raises:
        rlsv.run.lock.RunBusyError: another process is training the run.
        rlsv.errors.UserError: the run's settings or data are refused (see the message).
    """
    from rlsv.run.lock import run_lock
    from rlsv.run.pipeline import run_evaluation, run_training
    from rlsv.run.runtime import Runtime, runtime

    timing = TrainingTime(training_steps(params))
    progress.start(params.run_id, timing.steps, params.train_config().epochs)
    with run_lock(Path(output_root) / params.run_id), runtime(Runtime(threads=threads)):
        start = time.perf_counter()
        run_training(params, output_root, device=device, progress=False, callback=progress.update)
        timing.train_s = time.perf_counter() - start
        progress.evaluating()
        start = time.perf_counter()
        run_evaluation(params, output_root, device=device, progress=False)
        timing.evaluate_s = time.perf_counter() - start
    return timing
