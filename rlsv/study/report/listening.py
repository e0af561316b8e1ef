"""Listening examples: the oracle binary mask of three trained runs on a few test excerpts, as audio files.

For each chosen excerpt the report plays the mixture, the true vocals, and the oracle binary-mask
estimate of the vocals, ``D(E(m) * 1[E(v) / E(acc) > 0.5])``, of L_A (ω = 4) and of L_B at λ = 0.5 and
λ = 1.5 (ω = 1): at λ = 1.5 the paper reports that masking collapses, and one hears it.

The rule that picks the excerpts (:data:`RULE`): in each of the first test tracks, the kept segment
with the loudest vocals (``rlsv.run.segment_view.pick_segment``), with the consecutive segments around
it that make about ``seconds`` (``context_window``). Every segment is encoded, masked and decoded on
its own, as the evaluation does (``rlsv.run.evaluate.segment_metrics``), and the decoded segments are
played one after the other. The SI-SDR-BM printed beside each estimate is the evaluation's, per
segment: the loudest segment's value (the one in the run's ``segments.csv``) and the mean over the
excerpt's kept segments.

Files are MP3 (``soundfile``/libsndfile, variable bit rate): a few tens of KB per clip. The clips of
one excerpt share one gain, so their loudness can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from rlsv.atomic import atomic_path
from rlsv.errors import RunFolderError
from rlsv.run.files import MODEL
from rlsv.run.spec import RunSpec, sinkhorn, spec_label, tv
from rlsv.study.report.claims import spec_caption
from rlsv.study.results import RunSet

__all__ = ["LISTENING_RUNS", "RULE", "Clip", "Excerpt", "ListeningExamples", "choose_excerpts", "write_listening"]

LISTENING_RUNS: tuple[RunSpec, ...] = (tv(4.0), sinkhorn(1.0, 0.5), sinkhorn(1.0, 1.5))
"""The runs whose oracle binary-mask estimates the report plays: L_A ω=4, L_B ω=1 λ=0.5, L_B ω=1 λ=1.5."""

RULE = ("in each of the first {count} test tracks, the kept segment with the loudest vocals, with the consecutive "
        "segments around it that make about {seconds:g} s")
PEAK = 0.9  # the loudest sample of an excerpt's clips after its shared gain
MP3_QUALITY = 0.5  # libsndfile's compression level (0: best, 1: smallest), variable bit rate


@dataclass(frozen=True)
class Clip:
    """One audio file of an excerpt: what it is, its file (relative to the report), and for an estimate
    its SI-SDR-BM in dB (the loudest segment's, and the mean over the excerpt's kept segments)."""

    label: str
    file: str
    si_sdr_mask: float | None = None
    mean_si_sdr_mask: float | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class Excerpt:
    """Consecutive test segments ``start..stop-1`` of ``track`` around its loudest-vocals ``segment``."""

    track: str
    segment: int
    start: int
    stop: int
    segment_s: float
    kept: int
    clips: tuple[Clip, ...] = ()

    @property
    def seconds(self) -> float:
        return (self.stop - self.start) * self.segment_s


@dataclass
class ListeningExamples:
    """The excerpts written, the rule that chose them, and the runs that could not be used (and why)."""

    excerpts: list[Excerpt] = field(default_factory=list)
    rule: str = ""
    missing: dict[str, str] = field(default_factory=dict)

    def total_bytes(self, folder: Path) -> int:
        return sum((folder / clip.file).stat().st_size for e in self.excerpts for clip in e.clips)


def choose_excerpts(tracks: Sequence, count: int, segment_s: float, seconds: float) -> list[tuple[int, int, int, int]]:
    """``(track index, loudest segment, start, stop)`` for the first ``count`` test tracks with a kept segment
    (``tracks``: ``TrackSegments`` of the test set), by :data:`RULE`."""
    from rlsv.run.segment_view import context_window, pick_segment

    chosen = []
    for t, segments in enumerate(tracks):
        if len(chosen) == count:
            break
        if not segments.active.any():
            continue
        _, k = pick_segment(tracks, t)
        chosen.append((t, k, *context_window(len(segments), k, segment_s, seconds)))
    return chosen


def _write_mp3(path: Path, signal: np.ndarray, rate: int) -> None:
    import soundfile as sf

    with atomic_path(path) as tmp:
        sf.write(str(tmp), np.clip(signal, -1.0, 1.0).astype(np.float32), rate, format="MP3",
                 subtype="MPEG_LAYER_III", compression_level=MP3_QUALITY, bitrate_mode="VARIABLE")


def write_listening(run_set: RunSet, out_dir: Path, prefix: str = "audio", count: int = 3, seconds: float = 3.0,
                    progress: Callable[[str], None] | None = None) -> ListeningExamples:
    """Write the listening examples of ``run_set`` into ``out_dir / prefix`` (``<n>-<what>.mp3``).

    Runs of :data:`LISTENING_RUNS` without a trained ``model.pt`` are listed in ``missing`` (no exception);
    with none of them, no excerpt is written. ``progress`` is called with a note per step.
    """
    import torch

    from rlsv.run.evaluate import cached_test_segments, segment_metrics
    from rlsv.run.model_file import load_run_model

    result = ListeningExamples(rule=RULE.format(count=count, seconds=seconds))
    run_dirs = {}
    for spec in LISTENING_RUNS:
        run_dir = run_set.run_dir(spec)
        if run_dir is None:
            result.missing[spec_caption(spec)] = f"no trained run of {spec_caption(spec)} in {run_set.root}"
        else:
            run_dirs[spec] = run_dir
    if not run_dirs:
        return result
    cache: dict = {}
    first = next(iter(run_dirs.values()))
    tracks = cached_test_segments(first, cache)
    models = {spec: load_run_model(d, MODEL, map_location="cpu").eval() for spec, d in run_dirs.items()}
    config = next(iter(models.values())).config
    rate, segment_s = config.sample_rate, config.segment_length / config.sample_rate
    for run_dir in run_dirs.values():  # every run must play the same test segments
        if cached_test_segments(run_dir, cache) is not tracks:
            raise RunFolderError(f"{run_dir} was evaluated on other test segments than {first}; rerun its evaluation "
                             "(rlsv evaluate) so that the listening examples compare like with like.")
    for n, (t, k, start, stop) in enumerate(choose_excerpts(tracks, count, segment_s, seconds), start=1):
        ts = tracks[t]
        if progress:
            progress(f"excerpt {n}: {ts.track}, segments {start}-{stop - 1}")
        batch = [torch.from_numpy(np.ascontiguousarray(x[start:stop], dtype=np.float32))
                 for x in (ts.mixture, ts.vocals, ts.accompaniment)]
        kept = ts.active[start:stop]
        signals = {"mixture": ts.mixture[start:stop].reshape(-1), "vocals": ts.vocals[start:stop].reshape(-1)}
        scores = {}
        for spec, model in models.items():
            outputs = segment_metrics(model, *batch)
            bm = outputs.metrics["si_sdr_mask"].cpu().numpy()
            signals[spec] = outputs.estimate.cpu().numpy().reshape(-1)
            scores[spec] = (float(bm[k - start]), float(np.mean(bm[kept])))
        gain = PEAK / max(float(np.max(np.abs(s))) for s in signals.values()) if any(
            np.any(s) for s in signals.values()) else 1.0
        clips = []
        for key, signal in signals.items():
            file = f"{prefix}/{n}-{key if isinstance(key, str) else spec_label(key)}.mp3"
            _write_mp3(Path(out_dir) / file, signal * gain, rate)
            if isinstance(key, str):
                clips.append(Clip({"mixture": "mixture", "vocals": "true vocals"}[key], file))
            else:
                clips.append(Clip(f"mask of {spec_caption(key)}", file, *scores[key],
                                  run_id=run_dirs[key].name))
        result.excerpts.append(Excerpt(ts.track, k, start, stop, segment_s, int(kept.sum()), tuple(clips)))
    return result
