"""Cutting tracks into segments: shuffled training batches and evaluation segments (published procedure).

Training (published ``DataIO.get_data`` / ``gimme_batches`` and the training loop): the ``train``
tracks, sorted by name, are taken ``set_size`` at a time. Within a set, the mono vocals and the
mono accompaniments are concatenated, zero-padded at the tail to a whole number of hops and cut
into segments of ``segment_length`` samples every ``hop`` samples (50 % overlap by default).
Vocals and accompaniment get independent random permutations; batch ``i`` pairs the vocal
segments ``perm_v[i*B:(i+1)*B]`` with the accompaniment segments ``perm_a[i*B:(i+1)*B]`` (the
trainer forms ``mix = vocals + accompaniment``).

Evaluation (published ``exp_fe_test.py``): each ``test`` track on its own, mono, cut into
non-overlapping segments of ``segment_length`` samples, the tail zero-padded to a whole segment,
each segment flagged by the silence rule :func:`rlsv.core.metrics.segment_is_active`.

Two published artefacts are options here:

* tail padding (``extra_pad_when_exact``, default True = published): when a signal's length is
  already a whole number of hops, the published code still pads one full hop. In training this
  adds one half-silent segment to such a set; in evaluation (hop = segment length) it adds one
  all-zero segment to such a track, which the silence rule then drops.
* ``pad_sets_with_silence`` (default False, not published behaviour): the published code pads
  every set's segment count up to a multiple of the batch size with all-zero segments, adding a
  full batch of them when it already is one, and trains on them. By default rlsv drops the
  incomplete last batch of each set instead. (The published evaluation runs with batch size 1
  and so appends one more all-zero segment to every track; the silence rule drops it, so it is
  not reproduced.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple, Sequence

import numpy as np

from rlsv.audio.musdb import MusdbDataset, Track, TrackAudio
from rlsv.core.metrics import segment_is_active
from rlsv.errors import ConfigError

__all__ = [
    "TrainingSegmentation",
    "TrainingBatch",
    "EvalSegment",
    "TrackSegments",
    "padded_length",
    "count_segments",
    "frame_signal",
    "track_sets",
    "set_batches",
    "training_batches",
    "count_training_batches",
    "track_segments",
    "count_evaluation_segments",
]


@dataclass(frozen=True)
class TrainingSegmentation:
    """How training tracks become batches (defaults: the published settings).

    Attributes:
        segment_length: ``N``, samples per segment (44100 = 1 s).
        hop: samples between the starts of consecutive segments (22050 = 50 % overlap).
        set_size: tracks concatenated and shuffled together.
        batch_size: ``B``, segments per batch.
        pad_sets_with_silence: published artefact, see the module docstring (default off).
        extra_pad_when_exact: published tail padding, see the module docstring (default on).
    """

    segment_length: int = 44100
    hop: int = 22050
    set_size: int = 4
    batch_size: int = 8
    pad_sets_with_silence: bool = False
    extra_pad_when_exact: bool = True

    def __post_init__(self) -> None:
        for name in ("segment_length", "hop", "set_size", "batch_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"TrainingSegmentation.{name} must be >= 1, got {getattr(self, name)}.")
        if self.hop > self.segment_length:
            raise ConfigError(f"hop ({self.hop}) must not exceed segment_length ({self.segment_length}).")


class TrainingBatch(NamedTuple):
    """One training batch: ``vocals`` and ``accompaniment``, ``(batch_size, segment_length)`` float32 each."""

    vocals: np.ndarray
    accompaniment: np.ndarray


class EvalSegment(NamedTuple):
    """One evaluation segment of a test track; signals ``(segment_length,)`` float32."""

    track: str
    index: int
    mixture: np.ndarray
    vocals: np.ndarray
    accompaniment: np.ndarray
    active: bool


@dataclass(frozen=True)
class TrackSegments:
    """All evaluation segments of one track: signals ``(n_segments, segment_length)`` float32,
    ``active`` ``(n_segments,)`` bool (kept by the silence rule)."""

    track: str
    mixture: np.ndarray
    vocals: np.ndarray
    accompaniment: np.ndarray
    active: np.ndarray

    def __len__(self) -> int:
        return len(self.active)

    def __iter__(self) -> Iterator[EvalSegment]:
        for k in range(len(self)):
            yield EvalSegment(self.track, k, self.mixture[k], self.vocals[k], self.accompaniment[k],
                              bool(self.active[k]))


# --------------------------------------------------------------------------- framing


def padded_length(n_samples: int, hop: int, extra_pad_when_exact: bool = True) -> int:
    """Length after zero-padding ``n_samples`` at the tail to a whole number of hops.

    With ``extra_pad_when_exact`` (published), a length that already is a whole number of hops
    gets one more hop: ``(n_samples // hop + 1) * hop``; otherwise ``ceil(n_samples / hop) * hop``.
    """
    whole_hops = n_samples // hop + 1 if extra_pad_when_exact else -(-n_samples // hop)
    return whole_hops * hop


def count_segments(n_samples: int, segment_length: int, hop: int, extra_pad_when_exact: bool = True) -> int:
    """Number of segments :func:`frame_signal` cuts from a signal of ``n_samples``."""
    padded = padded_length(n_samples, hop, extra_pad_when_exact)
    return max(0, (padded - segment_length) // hop + 1)


def frame_signal(signals: Sequence[np.ndarray], segment_length: int, hop: int,
                 extra_pad_when_exact: bool = True) -> np.ndarray:
    """Concatenate ``signals`` (each ``(n_i,)``), zero-pad the tail, cut into segments every ``hop`` samples.

    Returns ``(n_segments, segment_length)`` float32, a view on one padded copy: segment ``k`` is
    ``padded[k * hop : k * hop + segment_length]``. Non-overlapping segments (``hop ==
    segment_length``) are a plain writable reshape; overlapping ones a read-only strided view.
    """
    total = sum(len(signal) for signal in signals)
    padded = np.zeros(padded_length(total, hop, extra_pad_when_exact), dtype=np.float32)
    np.concatenate(signals, out=padded[:total])
    if hop == segment_length:
        return padded.reshape(-1, segment_length)
    if len(padded) < segment_length:
        return np.zeros((0, segment_length), dtype=np.float32)
    return np.lib.stride_tricks.sliding_window_view(padded, segment_length)[::hop]


# --------------------------------------------------------------------------- training


def track_sets(tracks: Sequence[Track], set_size: int) -> list[list[Track]]:
    """Consecutive groups of ``set_size`` tracks (the last one may be smaller).

    The published code uses ``len(tracks) // set_size`` sets and so skips a remainder; with
    MUSDB18's 100 training tracks and sets of 4 there is none.
    """
    return [list(tracks[i:i + set_size]) for i in range(0, len(tracks), set_size)]


def set_batches(vocals: Sequence[np.ndarray], accompaniment: Sequence[np.ndarray], rng: np.random.Generator,
                segmentation: TrainingSegmentation = TrainingSegmentation()) -> Iterator[TrainingBatch]:
    """Shuffled batches of one set of tracks (mono signals ``(n_i,)`` per track, per source).

    Draws ``rng.permutation`` for the vocals, then for the accompaniment, over the set's segment
    count (padded with all-zero segments if ``segmentation.pad_sets_with_silence``). Each batch is
    one fancy-index gather per source from the strided segment views.
    """
    seg = segmentation
    vocal_frames = frame_signal(vocals, seg.segment_length, seg.hop, seg.extra_pad_when_exact)
    accompaniment_frames = frame_signal(accompaniment, seg.segment_length, seg.hop, seg.extra_pad_when_exact)
    n_segments = _set_segment_count(len(vocal_frames), seg)
    vocal_order, accompaniment_order = rng.permutation(n_segments), rng.permutation(n_segments)
    for start in range(0, n_segments - seg.batch_size + 1, seg.batch_size):
        batch = slice(start, start + seg.batch_size)
        yield TrainingBatch(_gather(vocal_frames, vocal_order[batch]),
                            _gather(accompaniment_frames, accompaniment_order[batch]))


def training_batches(dataset: MusdbDataset, rng: np.random.Generator,
                     segmentation: TrainingSegmentation = TrainingSegmentation(),
                     subset: str = "train") -> Iterator[TrainingBatch]:
    """One epoch of training batches over the sets of ``subset`` (see the module docstring).

    ``rng`` is the caller's generator (the trainer saves its state to resume); tracks are loaded
    one set at a time (from the decode cache).
    """
    for tracks in track_sets(dataset.tracks(subset), segmentation.set_size):
        audio = [dataset.load(track) for track in tracks]
        yield from set_batches([a.vocals for a in audio], [a.accompaniment for a in audio], rng, segmentation)


def count_training_batches(dataset: MusdbDataset, segmentation: TrainingSegmentation = TrainingSegmentation(),
                           subset: str = "train") -> int:
    """Number of batches :func:`training_batches` yields per epoch (no audio is read)."""
    seg = segmentation
    total = 0
    for tracks in track_sets(dataset.tracks(subset), seg.set_size):
        n_samples = sum(dataset.n_samples(track) for track in tracks)
        n_real = count_segments(n_samples, seg.segment_length, seg.hop, seg.extra_pad_when_exact)
        total += _set_segment_count(n_real, seg) // seg.batch_size
    return total


def _set_segment_count(n_real: int, seg: TrainingSegmentation) -> int:
    """Segments in a set: the real ones, plus the published all-zero padding if asked for."""
    if seg.pad_sets_with_silence:
        return (n_real // seg.batch_size + 1) * seg.batch_size
    return n_real


def _gather(frames: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``(len(order), N)`` copy of the rows ``order`` of ``frames``; rows past the end are zeros."""
    real = order < len(frames)
    if real.all():
        return frames[order]
    batch = np.zeros((len(order), frames.shape[1]), dtype=frames.dtype)
    batch[real] = frames[order[real]]
    return batch


# --------------------------------------------------------------------------- evaluation


def track_segments(audio: TrackAudio, segment_length: int = 44100, *, extra_pad_when_exact: bool = True,
                   threshold_db: float = -10.0, rule: str = "published") -> TrackSegments:
    """Non-overlapping evaluation segments of one track, with their silence-rule flags."""
    frames = {
        name: frame_signal([signal], segment_length, segment_length, extra_pad_when_exact)
        for name, signal in (("mixture", audio.mixture), ("vocals", audio.vocals),
                             ("accompaniment", audio.accompaniment))
    }
    active = segment_is_active(frames["vocals"], threshold_db=threshold_db, rule=rule).numpy()
    return TrackSegments(audio.name, frames["mixture"], frames["vocals"], frames["accompaniment"], active)


def count_evaluation_segments(dataset: MusdbDataset, segment_length: int = 44100, *, subset: str = "test",
                              extra_pad_when_exact: bool = True) -> int:
    """Number of evaluation segments of ``subset`` (:func:`track_segments` of every track), silent ones
    included; no audio is read."""
    return sum(count_segments(dataset.n_samples(track), segment_length, segment_length, extra_pad_when_exact)
               for track in dataset.tracks(subset))
