"""MUSDB18 and MUSDB18-HQ through ``musdb``: finding and checking the dataset, mono tracks, decode cache.

:func:`resolve_dataset` picks the dataset root (argument, else ``$MUSDB_PATH``, else the synthetic
corpus of :mod:`rlsv.audio.synth`), detects its format and checks every track *before* any work starts,
raising a :class:`DatasetError` subclass whose message says what to do. Supported layouts:

* MUSDB18: ``root/{train,test}/<track>.stem.mp4`` (``is_wav=False``), decoded by ffmpeg;
* MUSDB18-HQ: ``root/{train,test}/<track>/{mixture,vocals,...}.wav`` (``is_wav=True``), read by
  soundfile; the synthetic corpus uses this layout.

Tracks are listed by ``musdb.DB`` and sorted by name, as in the published code. A track is used
as three mono signals (mean of the two channels), following the published code:
``mixture`` (the track's ``mixture``), ``vocals`` and ``accompaniment = mixture - vocals``
(not the sum of the other stems; in MUSDB18-HQ the two agree to rounding). Each track is decoded
once into the :mod:`rlsv.audio.cache` and read back memory-mapped afterwards.

Decoding reads all five parts (mixture, vocals, drums, bass, other) block by block and checks them
before anything is cached: equal channels and lengths, finite samples, and that the stems add up to
the mixture (:mod:`rlsv.audio.stems`: residual energy at most -10 dB of the mixture's, or
``$RLSV_STEM_TOLERANCE_DB``). The measured residual is kept in the cache entry and compared with the
tolerance again at every load from the cache, without decoding.

Track and file names must be valid UTF-8 (rlsv writes them into JSON, CSV and notebooks): a track
whose name is not is refused when the dataset is listed, showing the name as bytes and saying to rename it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Collection
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Iterable, Iterator, Mapping

import musdb
import numpy as np
import soundfile as sf
import stempeg
from tqdm.auto import tqdm

from rlsv.audio.cache import DecodeCache, default_cache_dir
from rlsv.audio.stems import (
    EDGE_S,
    PARTS,
    STEMS,
    Additivity,
    DecodedParts,
    StemsDoNotAddUpError,
    decode_parts,
    tolerance_db,
)
from rlsv.audio.synth import MARKER_FILE, default_synthetic_root, make_corpus
from rlsv.errors import DatasetError

__all__ = [
    "SUBSETS",
    "DatasetError",
    "DatasetNotFoundError",
    "DatasetLayoutError",
    "TrackTooShortError",
    "UnreadableAudioError",
    "StemsDoNotAddUpError",
    "TrackNameError",
    "Track",
    "TrackAudio",
    "MusdbDataset",
    "resolve_dataset",
    "fill_cache",
    "decode_track",
]

SUBSETS = ("train", "test")
_CACHED_SIGNALS = ("mixture", "vocals")
_BLOCK_FRAMES = 1 << 16  # samples per channel read at a time while decoding
_HOW_TO_GET_MUSDB = (
    "Get MUSDB18 from https://sigsep.github.io/datasets/musdb.html (Zenodo: MUSDB18 "
    "https://doi.org/10.5281/zenodo.1117372 or MUSDB18-HQ https://doi.org/10.5281/zenodo.3338373), "
    "unpack it and pass the folder holding train/ and test/ (or set MUSDB_PATH to it); "
    "or give no root (and no MUSDB_PATH) to use the default synthetic corpus "
    "(rlsv.audio.synth.default_synthetic_root(), "
    "written on first use or by `rlsv synth`)."
)
_FORMATS = {"wav": "MUSDB18-HQ wav track folders", "stem": "MUSDB18 .stem.mp4 files"}
_LAYOUTS = (
    "MUSDB18: <root>/train/<track>.stem.mp4 and <root>/test/<track>.stem.mp4; "
    "MUSDB18-HQ: <root>/train/<track>/mixture.wav, vocals.wav, ... and the same under <root>/test/"
)


class DatasetNotFoundError(DatasetError):
    """The dataset root does not exist."""


class DatasetLayoutError(DatasetError):
    """The root is not laid out like MUSDB18 / MUSDB18-HQ, or a track lacks a file or a stream."""


class TrackTooShortError(DatasetError):
    """A track is shorter than one segment."""


class TrackNameError(DatasetError):
    """A track file or folder whose name is not valid UTF-8."""


class UnreadableAudioError(DatasetError):
    """An audio file cannot be read or decoded; ``path`` names it."""

    def __init__(self, path: str | os.PathLike, reason: str) -> None:
        self.path = Path(path)
        super().__init__(f"Cannot read the audio file {self.path}: {reason.rstrip('.')}. {_how_to_repair(self.path)}")


def _synthetic_corpus_holding(path: Path) -> Path | None:
    """The synthetic corpus root (with its ``rlsv_synth.json``) that ``path`` lies in, or None."""
    return next((folder for folder in path.parents[:3] if (folder / MARKER_FILE).is_file()), None)


def _how_to_repair(path: Path) -> str:
    """What to do about a damaged audio file: rewrite a synthetic corpus, or restore a MUSDB18 track."""
    corpus = _synthetic_corpus_holding(path)
    if corpus is not None:
        return (f"The file is damaged or incomplete and belongs to the synthetic corpus {corpus}, which is not "
                f"rewritten while it looks complete: delete that folder (or its {MARKER_FILE}) and rerun to "
                "write it again.")
    return "The file is damaged or incomplete: restore it from the original download, or remove the track."


@dataclass(frozen=True)
class Track:
    """One multitrack as listed by musdb (no audio loaded).

    Attributes:
        name: track name, e.g. ``"The Easton Ellises - Falcon 69"``.
        subset: ``"train"`` or ``"test"``.
        files: audio files decoded for it: ``(<track>.stem.mp4,)`` or ``(mixture.wav, vocals.wav, drums.wav,
            bass.wav, other.wav)`` (a dataset's tracks; ``(mixture.wav, vocals.wav)`` is accepted too, unchecked).
        n_samples: length in samples per channel, from the file headers.
        sample_rate: sampling rate in Hz.
        channels: channels of each part (:attr:`parts`).
        streams: for a ``.stem.mp4``, the audio stream index of each part (musdb's ``stem_ids``: mixture 0,
            vocals 4, drums 1, bass 2, other 3); empty for wav files.
    """

    name: str
    subset: str
    files: tuple[Path, ...]
    n_samples: int
    sample_rate: int
    channels: tuple[int, ...]
    streams: tuple[int, ...] = ()

    @property
    def is_wav(self) -> bool:
        return not self.streams

    @property
    def parts(self) -> tuple[str, ...]:
        """The parts decoded: ``("mixture", "vocals")``, and ``"drums", "bass", "other"`` when known (then the
        stems are checked against the mixture)."""
        return PARTS[:len(self.files) if self.is_wav else len(self.streams)]

    def source(self, part: str | None = None) -> str:
        """Where ``part`` (default: the whole track) is read from, for messages: a file, a stream of a file."""
        if part is None:
            return str(self.files[0].parent if self.is_wav else self.files[0])
        index = self.parts.index(part)
        return str(self.files[index]) if self.is_wav else f"{self.files[0]} (stream {self.streams[index]})"


@dataclass(frozen=True)
class TrackAudio:
    """The mono signals of one track, ``(n_samples,)`` float32 each (read-only memory maps)."""

    name: str
    mixture: np.ndarray
    vocals: np.ndarray

    @property
    def accompaniment(self) -> np.ndarray:
        """``mixture - vocals``, ``(n_samples,)`` float32 (computed on each access)."""
        return np.asarray(self.mixture) - np.asarray(self.vocals)

    def __len__(self) -> int:
        return len(self.mixture)


@dataclass(frozen=True)
class MusdbDataset:
    """A checked MUSDB18(-HQ) root: its tracks per subset and the decode cache that serves them.

    Made by :func:`resolve_dataset`. ``synthetic`` is True for a corpus written by
    :func:`rlsv.audio.synth.make_corpus` (it holds the ``rlsv_synth.json`` marker).
    """

    root: Path
    is_wav: bool
    synthetic: bool
    sample_rate: int
    cache: DecodeCache
    subset_tracks: Mapping[str, tuple[Track, ...]] = field(repr=False)

    def tracks(self, subset: str) -> tuple[Track, ...]:
        """The tracks of ``subset``, sorted by name."""
        if subset not in self.subset_tracks:
            raise KeyError(f"subset {subset!r} was not loaded; pass subsets=({subset!r}, ...) to resolve_dataset.")
        return self.subset_tracks[subset]

    def load(self, track: Track) -> TrackAudio:
        """Mono signals of ``track``: from the cache, else decoded (and checked) once and cached.

        Raises:
            StemsDoNotAddUpError: the stems do not add up to the mixture (measured when decoding, and
                compared with the tolerance again at each load from the cache); other DatasetErrors of
                :func:`decode_track`; FileWriteError when the cache cannot be written (a full disk).
        """
        entry, signals = self._cached(track)
        if signals is None:
            decoded, additivity = _decode_checked(track)
            info = {"parts": list(track.parts), "n_samples": len(decoded["mixture"])}
            if additivity is not None:
                info |= {"residual_db": additivity.residual_db, "likeness": additivity.likeness}
            self.cache.store(entry, decoded, info)
            signals = self.cache.load(entry, _CACHED_SIGNALS)
            if signals is None:
                raise DatasetError(f"The decode cache entry {entry} of track {track.name!r} vanished right after it "
                                   "was written (another process deleting the cache?); rerun.")
        else:
            _check_additivity(track, _recorded_additivity(self.cache.info(entry)))
        return TrackAudio(track.name, signals["mixture"], signals["vocals"])

    def is_cached(self, track: Track) -> bool:
        """Whether ``track`` is in the cache (loading it will not decode)."""
        return self._cached(track)[1] is not None

    def n_samples(self, track: Track) -> int:
        """Length of ``track`` in samples: the decoded length once cached, else the header's."""
        signals = self._cached(track)[1]
        return len(signals["mixture"]) if signals is not None else track.n_samples

    def with_first_tracks(self, subset: str, n_tracks: int | None) -> "MusdbDataset":
        """The same dataset with only the first ``n_tracks`` tracks of ``subset`` (None: all)."""
        tracks = dict(self.subset_tracks)
        tracks[subset] = self.tracks(subset)[:n_tracks]
        return replace(self, subset_tracks=tracks)

    def with_named_tracks(self, subset: str, names: Collection[str]) -> "MusdbDataset":
        """The same dataset with only the tracks of ``subset`` named in ``names`` (order kept)."""
        wanted = set(names)
        tracks = dict(self.subset_tracks)
        tracks[subset] = tuple(t for t in self.tracks(subset) if t.name in wanted)
        return replace(self, subset_tracks=tracks)

    def describe(self) -> dict:
        """What a run records about its data (``config.json``'s ``dataset``)."""
        return {
            "root": str(self.root),
            "format": "MUSDB18-HQ (wav)" if self.is_wav else "MUSDB18 (stem.mp4)",
            "synthetic": self.synthetic,
            "tracks": {subset: len(tracks) for subset, tracks in self.subset_tracks.items()},
        }

    def _cached(self, track: Track) -> tuple[Path, dict[str, np.ndarray] | None]:
        """The cache entry of ``track`` as its files are now, and its cached signals (``"mixture"``,
        ``"vocals"``: ``(n_samples,)`` float32 read-only memory maps) or None when not cached (or cached
        without the record of its checks, e.g. by an older rlsv)."""
        entry = self.cache.entry(track.subset, track.name, track.sample_rate, track.files)
        info = self.cache.info(entry)
        if info is None or info.get("parts") != list(track.parts):
            return entry, None
        return entry, self.cache.load(entry, _CACHED_SIGNALS)


def resolve_dataset(
    root: str | os.PathLike | None = None,
    *,
    is_wav: bool | None = None,
    subsets: Iterable[str] = SUBSETS,
    segment_length: int = 44100,
    sample_rate: int = 44100,
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
) -> MusdbDataset:
    """Find, check and list the dataset; nothing is decoded yet.

    Args:
        root: dataset folder (holding ``train/`` and ``test/``). ``None``: ``$MUSDB_PATH``, and
            if that is unset too, the default synthetic corpus (the synthetic profiles',
            :func:`rlsv.audio.synth.default_synthetic_root`; an existing one is used as it is, else one
            of the default size is written; one line is printed saying so).
        is_wav: ``True`` for MUSDB18-HQ wav folders, ``False`` for ``.stem.mp4`` files,
            ``None`` to detect it from the layout.
        subsets: the subsets to list and check.
        segment_length: every track must hold at least this many samples.
        sample_rate: the sampling rate every file must have (Hz).
        cache_dir: decode cache root (default :func:`rlsv.audio.cache.default_cache_dir`).
        progress: show a progress bar if the synthetic corpus has to be written.

    Raises:
        DatasetNotFoundError, DatasetLayoutError, TrackNameError, TrackTooShortError, UnreadableAudioError
        (all :class:`DatasetError`), PermissionError for an unwritable cache folder.
    """
    subsets = tuple(subsets)
    root_path = _pick_root(root, progress)
    _require_utf8_names(root_path, subsets)
    is_wav = _detect_format(root_path, subsets, is_wav)
    listed = _list_with_musdb(root_path, is_wav, subsets)
    subset_tracks = {subset: tuple(_checked_track(t, sample_rate) for t in listed[subset]) for subset in subsets}
    _require_one_segment(root_path, subset_tracks, segment_length)
    cache = DecodeCache(Path(cache_dir) if cache_dir is not None else default_cache_dir())
    cache.check_writable()
    synthetic = (root_path / MARKER_FILE).is_file()
    return MusdbDataset(root_path, is_wav, synthetic, sample_rate, cache, subset_tracks)


def fill_cache(dataset: MusdbDataset, subsets: Iterable[str] | None = None, progress: bool = True) -> int:
    """Decode every track of ``subsets`` (default: all listed) missing from the cache; return how many."""
    subsets = tuple(subsets) if subsets is not None else tuple(dataset.subset_tracks)
    missing = [t for subset in subsets for t in dataset.tracks(subset) if not dataset.is_cached(t)]
    for track in tqdm(missing, desc="rlsv decode", unit="track", disable=not progress):
        dataset.load(track)
    return len(missing)


def decode_track(track: Track) -> dict[str, np.ndarray]:
    """Decode ``track`` from its files: ``{"mixture", "vocals"}`` -> ``(n_samples,)`` float32 mono.

    Checked here, for training and evaluation alike (the decode cache keeps only checked tracks): every
    part has the same number of channels, one or two, and the same length, every sample is finite, and
    (when the track lists its drums, bass and other) the stems add up to the mixture
    (:mod:`rlsv.audio.stems`). A problem raises a :class:`DatasetError` naming the track and the file.
    """
    return _decode_checked(track)[0]


def _decode_checked(track: Track) -> tuple[dict[str, np.ndarray], Additivity | None]:
    """:func:`decode_track`, and the measured additivity (None for a track of only mixture and vocals)."""
    parts = track.parts
    if len(set(track.channels)) != 1 or track.channels[0] not in (1, 2):
        counts = ", ".join(f"{part} {n}" for part, n in zip(parts, track.channels))
        raise DatasetLayoutError(
            f"Track {track.name!r} ({track.source()}): its parts have {counts} channel(s). MUSDB18 stems are all "
            "stereo (or all mono); restore the track from the original download or remove it."
        )
    if track.is_wav:
        blocks = _wav_blocks(track.files)
    else:
        blocks = _stem_blocks(track.files[0], track.streams, track.channels)
    decoded = decode_parts(blocks, parts, edge_samples=round(EDGE_S * track.sample_rate))
    _check_decoded(track, decoded)
    _check_additivity(track, decoded.additivity)
    return decoded.mono, decoded.additivity


def _check_decoded(track: Track, decoded: DecodedParts) -> None:
    """Raise a :class:`DatasetLayoutError` for a part that ended early or holds non-finite samples."""
    if decoded.ended_early is not None:
        raise DatasetLayoutError(
            f"Track {track.name!r}: the {decoded.ended_early} ({track.source(decoded.ended_early)}) ends after "
            f"{decoded.n_samples} samples, before the other parts. MUSDB18 stems have equal lengths; restore the "
            "track from the original download."
        )
    for part, (count, first) in decoded.nonfinite.items():
        raise DatasetLayoutError(
            f"Track {track.name!r}: the {part} ({track.source(part)}) holds {count} NaN or infinite sample(s), the "
            f"first at sample {first}. Audio must be finite; restore the track or remove it."
        )


def _check_additivity(track: Track, additivity: Additivity | None) -> None:
    """Raise :class:`StemsDoNotAddUpError` when the stems of ``track`` miss its mixture by more than the
    tolerance (:func:`rlsv.audio.stems.tolerance_db`)."""
    tolerance = tolerance_db()
    if additivity is None or additivity.passes(tolerance):
        return
    suspect = additivity.suspect()
    if suspect is None:
        likely = "several parts differ from what the others imply"
    else:
        likely = f"the residual is most like the {suspect} ({track.source(suspect)}), which looks damaged or replaced"
    raise StemsDoNotAddUpError(
        f"Track {track.name!r} ({track.source()}): its stems do not add up to its mixture: mixture - "
        f"({' + '.join(STEMS)}) holds {additivity.residual_db:+.1f} dB of the mixture's energy, more than the "
        f"{tolerance:+.1f} dB allowed (MUSDB18's AAC coding leaves about -22 dB, MUSDB18-HQ and the synthetic "
        f"corpus far less); {likely}. {_how_to_restore(track)}, or, if the track really was published so, allow "
        f"it with RLSV_STEM_TOLERANCE_DB={_round_up(additivity.residual_db)}."
    )


def _how_to_restore(track: Track) -> str:
    """What to do about a damaged track: rewrite its synthetic corpus, or restore it from the download."""
    corpus = _synthetic_corpus_holding(track.files[0])
    if corpus is not None:
        return f"Delete the synthetic corpus {corpus} (or its {MARKER_FILE}) and rerun to write it again"
    return "Restore the track from the original download or remove it"


def _recorded_additivity(info: Mapping | None) -> Additivity | None:
    """The :class:`Additivity` kept in a cache entry's record, or None if it has none."""
    if not info or "residual_db" not in info:
        return None
    return Additivity(float(info["residual_db"]), {str(k): float(v) for k, v in info.get("likeness", {}).items()})


def _round_up(value_db: float) -> int:
    """``value_db`` rounded up to a whole dB (the tolerance that lets it pass)."""
    return int(np.ceil(value_db))


# --------------------------------------------------------------------------- root and layout


def _pick_root(root: str | os.PathLike | None, progress: bool) -> Path:
    """The root from the argument, ``$MUSDB_PATH`` or the synthetic corpus; it must exist."""
    if root is not None:
        origin = "the root argument"
    elif os.environ.get("MUSDB_PATH"):
        root, origin = os.environ["MUSDB_PATH"], "MUSDB_PATH"
    else:
        root = default_synthetic_root()
        print(f"rlsv: no MUSDB18 root given (argument or MUSDB_PATH); using the synthetic corpus at {root}")
        if not (root / MARKER_FILE).is_file():  # keep a finished corpus, whatever its size
            make_corpus(root, progress=progress)
        return root
    path = Path(root).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"The dataset root {path} (from {origin}) does not exist. {_HOW_TO_GET_MUSDB}")
    return path


def _require_utf8_names(root: Path, subsets: tuple[str, ...]) -> None:
    """Raise :class:`TrackNameError` for a root path, or a track folder or file in a subset, whose name is not
    valid UTF-8 (Python holds its stray bytes as surrogates, which soundfile, JSON and CSV cannot write).

    Every entry of each subset folder is checked, so nothing is decoded or written before the error.
    """
    if not _is_utf8(str(root)):
        raise TrackNameError(
            f"The dataset folder {os.fsencode(root)!r} has a path that is not valid UTF-8; rename the folders on "
            "that path (or move the dataset) to UTF-8 names and rerun."
        )
    for subset in subsets:
        folder = root / subset
        if not folder.is_dir():
            continue  # _detect_format names a missing subset
        for entry in sorted(folder.iterdir()):
            if not _is_utf8(entry.name):
                raise TrackNameError(
                    f"A track in {folder} has a name that is not valid UTF-8: {os.fsencode(entry.name)!r}; rename "
                    "it to a UTF-8 name and rerun."
                )


def _is_utf8(name: str) -> bool:
    """Whether ``name`` (a ``str`` from the file system) encodes to UTF-8: no stray bytes held as surrogates."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _detect_format(root: Path, subsets: tuple[str, ...], is_wav: bool | None) -> bool:
    """``True`` for MUSDB18-HQ wav folders, ``False`` for ``.stem.mp4`` files (present in every subset)."""
    kinds = {subset: _track_kinds(root / subset) for subset in subsets}
    if is_wav is None:
        common = set.intersection(*kinds.values())
        if len(common) == 2:
            raise DatasetLayoutError(
                f"{root} holds both MUSDB18-HQ wav folders and .stem.mp4 files; pass is_wav=True or is_wav=False."
            )
        if not common:
            found = "; ".join(f"{subset}/: {', '.join(_FORMATS[k] for k in sorted(found)) or 'no tracks'}"
                              for subset, found in kinds.items())
            raise DatasetLayoutError(
                f"{root} is not a MUSDB18 folder (found {found}). Expected {_LAYOUTS}. {_HOW_TO_GET_MUSDB}"
            )
        return common == {"wav"}
    wanted = "wav" if is_wav else "stem"
    lacking = [subset for subset, found in kinds.items() if wanted not in found]
    if lacking:
        other = f"; they hold {_FORMATS['stem' if is_wav else 'wav']}: pass is_wav={not is_wav} or leave is_wav unset" \
            if all(kinds.values()) else f". Expected {_LAYOUTS}. {_HOW_TO_GET_MUSDB}"
        folders = ", ".join(str(root / subset) for subset in lacking)
        raise DatasetLayoutError(f"is_wav={is_wav}, but there are no {_FORMATS[wanted]} in {folders}{other}")
    return is_wav


def _track_kinds(folder: Path) -> set[str]:
    """Which track formats ``folder`` holds: ``"wav"`` (track folders with a mixture.wav), ``"stem"``."""
    if not folder.is_dir():
        raise DatasetLayoutError(
            f"{folder.parent} is not a MUSDB18 folder: {folder} is missing. Expected {_LAYOUTS}. {_HOW_TO_GET_MUSDB}"
        )
    kinds = set()
    if any(path.is_dir() and (path / "mixture.wav").is_file() for path in folder.iterdir()):
        kinds.add("wav")
    if any(folder.glob("*.stem.mp4")):
        kinds.add("stem")
    return kinds


def _list_with_musdb(root: Path, is_wav: bool, subsets: tuple[str, ...]) -> dict[str, list]:
    """``musdb`` tracks per subset, sorted by name; a file ffprobe cannot read is named."""
    try:
        db = musdb.DB(root=str(root), is_wav=is_wav, subsets=list(subsets))
    except Exception as exc:  # musdb probes every mixture with ffprobe; find the file it choked on
        for path in _mixture_files(root, is_wav, subsets):
            try:
                stempeg.Info(str(path))
            except Exception:
                raise UnreadableAudioError(path, "ffprobe cannot read it") from exc
        raise
    listed: dict[str, list] = {subset: [] for subset in subsets}
    for track in db.tracks:
        listed[track.subset].append(track)
    return {subset: sorted(tracks, key=lambda t: t.name) for subset, tracks in listed.items()}


def _mixture_files(root: Path, is_wav: bool, subsets: tuple[str, ...]) -> list[Path]:
    """The files musdb probes: each ``.stem.mp4`` or each track folder's ``mixture.wav``."""
    pattern = "*/mixture.wav" if is_wav else "*.stem.mp4"
    return sorted(path for subset in subsets for path in (root / subset).glob(pattern))


def _require_one_segment(root: Path, subset_tracks: Mapping[str, tuple[Track, ...]], segment_length: int) -> None:
    """Raise :class:`TrackTooShortError` naming the first track shorter than ``segment_length``."""
    for track in (t for tracks in subset_tracks.values() for t in tracks):
        if track.n_samples < segment_length:
            raise TrackTooShortError(
                f"Track {track.name!r} ({track.subset}) has {track.n_samples} samples, fewer than one segment "
                f"({segment_length}). Remove it from {root / track.subset} or use a shorter segment length."
            )


def _checked_track(mus_track, sample_rate: int) -> Track:
    """A :class:`Track` from a ``musdb`` track, its files and streams checked (headers only)."""
    track = _wav_track(mus_track) if mus_track.is_wav else _stem_track(mus_track)
    if track.sample_rate != sample_rate:
        raise DatasetError(
            f"Track {track.name!r} is sampled at {track.sample_rate} Hz, not {sample_rate} Hz. Resample the "
            f"dataset to {sample_rate} Hz (MUSDB18 is 44100 Hz) or pass sample_rate={track.sample_rate}."
        )
    return track


def _wav_track(mus_track) -> Track:
    """Track of a MUSDB18-HQ folder: ``mixture.wav`` and the four stems must exist and be readable, with equal
    lengths and sampling rates."""
    folder = Path(mus_track.path).parent
    files = tuple(folder / f"{part}.wav" for part in PARTS)
    infos = []
    for path in files:
        if not path.is_file():
            raise DatasetLayoutError(
                f"Track folder {folder} has no {path.name}. A MUSDB18-HQ track folder holds mixture.wav, "
                "vocals.wav, drums.wav, bass.wav and other.wav; restore it or remove the folder."
            )
        try:
            infos.append(sf.info(str(path)))
        except (sf.SoundFileError, RuntimeError) as exc:
            raise UnreadableAudioError(path, str(exc)) from exc
    for path, info in zip(files[1:], infos[1:]):
        if (info.frames, info.samplerate) != (infos[0].frames, infos[0].samplerate):
            raise DatasetLayoutError(
                f"Track folder {folder}: mixture.wav ({infos[0].frames} samples at {infos[0].samplerate} Hz) and "
                f"{path.name} ({info.frames} at {info.samplerate} Hz) differ; restore them from the download."
            )
    return Track(mus_track.name, mus_track.subset, files, infos[0].frames, infos[0].samplerate,
                 tuple(info.channels for info in infos))


def _stem_track(mus_track) -> Track:
    """Track of a MUSDB18 ``.stem.mp4``: it must hold the streams of the mixture and of the four stems."""
    path = Path(mus_track.path)
    streams = (mus_track.stem_id,) + tuple(mus_track.sources[stem].stem_id for stem in STEMS)
    info = mus_track.info
    if info.nb_audio_streams <= max(streams):
        raise DatasetLayoutError(
            f"{path} has {info.nb_audio_streams} audio streams; a MUSDB18 stem file has 5 (mixture, drums, "
            "bass, other, vocals). Restore it from the original download or remove it."
        )
    return Track(mus_track.name, mus_track.subset, (path,), info.samples(streams[0]), info.sample_rate(streams[0]),
                 tuple(info.channels(s) for s in streams), streams)


# --------------------------------------------------------------------------- decoding


def _wav_blocks(files: tuple[Path, ...]) -> Iterator[list[np.ndarray]]:
    """Blocks of ``_BLOCK_FRAMES`` samples of each wav file, ``[(n, channels) float32]`` per block."""
    with ExitStack() as stack:
        handles = []
        for path in files:
            try:
                handles.append(stack.enter_context(sf.SoundFile(str(path))))
            except (sf.SoundFileError, RuntimeError) as exc:
                raise UnreadableAudioError(path, str(exc)) from exc
        while True:
            block = []
            for path, handle in zip(files, handles):
                try:
                    block.append(handle.read(_BLOCK_FRAMES, dtype="float32", always_2d=True))
                except (sf.SoundFileError, RuntimeError) as exc:
                    raise UnreadableAudioError(path, str(exc)) from exc
            if not any(len(b) for b in block):
                return
            yield block


def _stem_blocks(path: Path, streams: tuple[int, ...], channels: tuple[int, ...]) -> Iterator[list[np.ndarray]]:
    """Blocks of audio ``streams`` of a stem file, decoded in one ffmpeg run: ``[(n, channels[i]) float32]``.

    The streams are merged into one multichannel float32 PCM output (``amerge``), so the file is
    demuxed and decoded once and only the streams asked for are decoded; the output is read as it comes
    (memory: one block, not the whole track).
    """
    labels = "".join(f"[0:a:{stream}]" for stream in streams)
    merge = f"{labels}amerge=inputs={len(streams)}" if len(streams) > 1 else f"{labels}anull"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-filter_complex", merge + "[out]",
               "-map", "[out]", "-f", "f32le", "-acodec", "pcm_f32le", "pipe:1"]
    frame_bytes = 4 * sum(channels)
    with tempfile.TemporaryFile() as errors:
        try:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors)
        except FileNotFoundError as exc:
            raise DatasetError(
                "ffmpeg is not installed but is needed to decode MUSDB18 .stem.mp4 files. Install it "
                "(`make ffmpeg`, `apt-get install ffmpeg` or `conda install -c conda-forge ffmpeg`), "
                "or use MUSDB18-HQ (wav)."
            ) from exc
        decoded_any = finished = False
        try:
            while data := process.stdout.read(_BLOCK_FRAMES * frame_bytes):
                frames = np.frombuffer(data[:len(data) - len(data) % frame_bytes], dtype="<f4")
                frames = frames.reshape(-1, sum(channels))
                decoded_any = decoded_any or len(frames) > 0
                yield np.split(frames, np.cumsum(channels)[:-1], axis=1)
            finished = True
        finally:  # also when the reader stops early (an error): do not leave ffmpeg behind
            if not finished:
                process.kill()
            process.stdout.close()
            returncode = process.wait()
        if returncode != 0 or not decoded_any:
            errors.seek(0)
            reason = errors.read().decode(errors="replace").strip().splitlines()[-1:] or ["no audio decoded"]
            raise UnreadableAudioError(path, f"ffmpeg failed ({reason[0]})")
