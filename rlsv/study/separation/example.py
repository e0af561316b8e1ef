"""One test mixture through the blind separators and the oracle masks: what notebook 08 plays and draws.

:func:`separation_example` takes a test track of the run set (default: the first), a stretch of
``seconds`` around its kept segment with the loudest vocals (``rlsv.run.segment_view.pick_segment``), and
gives, for one learned representation and for the STFT:

* the blind estimate (the estimator of ``seed``, by windowed overlap-add) and the oracle binary-mask
  estimate of that stretch (the audio players);
* on the chosen segment, the mixture's magnitudes (the representation ``A_m`` with its channels sorted by
  carrier frequency, or the STFT magnitudes), the estimated soft mask and the oracle binary mask (the
  figure: each mask drawn over the magnitudes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np
import torch

from rlsv.run.spec import RunSpec, sinkhorn
from rlsv.study.results import load_run_set
from rlsv.study.separation.comparison import SeparatorSlot, separation_slots

__all__ = ["MaskPanel", "SeparationExample", "separation_example"]


@dataclass
class MaskPanel:
    """One representation on the chosen segment: ``magnitude``, estimated ``mask`` and ``oracle`` mask, ``(F, T)``
    each (learned: channels sorted by carrier frequency)."""

    label: str
    magnitude: np.ndarray
    mask: np.ndarray
    oracle: np.ndarray


@dataclass
class SeparationExample:
    """What :func:`separation_example` gives: ``audio`` (label -> ``(n,)`` signal at ``sample_rate``), ``panels``."""

    track: str
    segment: int
    sample_rate: int
    audio: dict[str, np.ndarray] = field(default_factory=dict)
    panels: list[MaskPanel] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.track}, segment {self.segment}"


def _panel(slot: SeparatorSlot, separator, mixture: np.ndarray, vocals: np.ndarray) -> MaskPanel:
    """The chosen segment's magnitudes and masks through ``separator`` (channels sorted for a learned one)."""
    signals = [torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(separator.device)
               for x in (mixture, vocals, mixture - vocals)]
    front = separator.front_end
    with torch.no_grad():
        mask, analysis = separator.mask(signals[0])
        oracle = front.oracle_mask(*signals)
    arrays = [analysis.magnitude[0], mask[0], oracle[0]]
    if slot.front_end == "learned":
        arrays = [front.model.sort_channels(a) for a in arrays]
    return MaskPanel(slot.label, *(a.double().cpu().numpy() for a in arrays))


def separation_example(root: str | os.PathLike = "papermill_runs", profile: str | None = None,
                       variant: str | None = None, spec: RunSpec = sinkhorn(1.0, 0.5), seed: int = 218,
                       track: str | int | None = None, segment: int | None = None, seconds: float = 4.0,
                       device: str = "cpu") -> SeparationExample:
    """The example of the module docstring for ``spec``'s run and the STFT, with estimator ``seed``.

    Raises:
        FileNotFoundError: the estimator of ``seed`` is not trained
            (``rlsv.study.separation.comparison.train_separators``).
    """
    from rlsv.run.evaluate import run_test_segments
    from rlsv.run.segment_view import pick_segment
    from rlsv.run.separation.evaluation import oracle_track_estimate
    from rlsv.run.separation.separator import load_separator
    from rlsv.run.separation.streaming import separate_signal

    slots = separation_slots(load_run_set(root, profile, variant), (spec,), stft=True)
    tracks = run_test_segments(slots[0].data_run)
    t, k = pick_segment(tracks, track, segment)
    chosen = tracks[t]
    n = chosen.mixture.shape[1]
    mixture, vocals = chosen.mixture.reshape(-1), chosen.vocals.reshape(-1)  # the track (tail zero-padded)
    separators = [load_separator(slot.folder(seed), device) for slot in slots]
    rate = separators[0].sample_rate
    half = int(seconds * rate / 2)
    centre = k * n + n // 2
    stretch = slice(max(0, centre - half), min(len(mixture), centre + half))
    example = SeparationExample(chosen.track, k, rate)
    example.audio = {"mixture": mixture[stretch], "vocals (true)": vocals[stretch]}
    for slot, separator in zip(slots, separators):
        example.audio[f"{slot.label}: blind"] = separate_signal(separator, mixture[stretch], progress=False)
        example.audio[f"{slot.label}: oracle binary mask"] = oracle_track_estimate(
            separator.front_end, mixture[stretch], vocals[stretch], device=separator.device)
        example.panels.append(_panel(slot, separator, chosen.mixture[k], chosen.vocals[k]))
    return example
