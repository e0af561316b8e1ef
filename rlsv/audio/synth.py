"""The embedded default corpus: synthetic multitracks in the MUSDB18-HQ layout.

When no MUSDB18 root is given, rlsv trains and evaluates on a small corpus generated here, so that
every command runs end to end on a fresh machine. Each track is a short generated pop song with
the four MUSDB18 stems:

* ``vocals``: a sung melody on the notes of the song's scale, gliding between notes, with vibrato
  (5-6 Hz) and vowel formants shaping its harmonics; phrases are separated by rests (and every
  song opens with a one-bar intro), so some one-second test segments are silent and the silence
  rule drops them;
* ``drums``: kick, snare and hi-hat on an eighth-note grid;
* ``bass``: plucked notes on the chord roots;
* ``other``: a sustained three-voice chord pad.

Files: ``root/{train,test}/<track>/{mixture,vocals,drums,bass,other}.wav``, stereo 16-bit PCM.
The stems are quantised first and ``mixture.wav`` is their integer sum, so
``mixture == vocals + drums + bass + other`` holds exactly. ``musdb.DB(root, is_wav=True)`` reads
the corpus unchanged. A corpus is a function of its parameters (same seed, same bytes); the marker
file ``rlsv_synth.json``, written last, makes :func:`make_corpus` idempotent.

There is one default corpus, :func:`default_synthetic_root` (``<$RLSV_DATA or checkout/data>/
synthetic-default``): ``rlsv synth`` without a folder writes it, ``rlsv.audio.musdb.resolve_dataset(None)``
(without ``MUSDB_PATH``) and the synthetic profiles ``small`` and ``smoke`` (``rlsv.run.data.dataset_root``)
read it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import soundfile as sf
from tqdm.auto import tqdm

from rlsv.atomic import atomic_path, write_json
from rlsv.errors import ConfigError, file_error

__all__ = [
    "MARKER_FILE",
    "STEMS",
    "DEFAULT_CORPUS",
    "DEFAULT_N_TRAIN",
    "DEFAULT_N_TEST",
    "DEFAULT_DURATION_S",
    "data_dir",
    "corpus_root",
    "default_synthetic_root",
    "make_corpus",
    "synthesize_track",
]

MARKER_FILE = "rlsv_synth.json"
DEFAULT_CORPUS = "default"  # the corpus of the synthetic profiles (rlsv.run.profiles)
# Sizes of the default corpus (make_corpus's defaults, the synthetic profiles' synthetic_tracks, `rlsv synth`):
DEFAULT_N_TRAIN = 8  # tracks in train/
DEFAULT_N_TEST = 4  # tracks in test/
DEFAULT_DURATION_S = 12.0  # seconds per track
STEMS = ("vocals", "drums", "bass", "other")
SUBSETS = ("train", "test")
MIN_DURATION_S = 3.0
_FORMAT = "rlsv-synth/1"
_TRACK_NAME = re.compile(r"^synth-(train|test)-\d{3}$")
_PCM16_SCALE = 32768.0
_MIXTURE_PEAK = 0.9

# Stem peak levels before the per-track random gain of +-2 dB.
_STEM_PEAKS = {"vocals": 0.35, "drums": 0.4, "bass": 0.3, "other": 0.2}

_MAJOR = np.array([0, 2, 4, 5, 7, 9, 11])
_MINOR = np.array([0, 2, 3, 5, 7, 8, 10])
# Chord progressions as scale degrees (0 = tonic), one chord per bar.
_PROGRESSIONS = ((0, 4, 5, 3), (5, 3, 0, 4), (0, 5, 3, 4), (1, 4, 0, 5), (0, 3, 4, 3))
# Sung-vowel formants F1, F2, F3 in Hz (a, e, i, o, u), their bandwidths and relative gains.
_VOWEL_FORMANTS = np.array(
    [[800.0, 1150.0, 2800.0], [450.0, 1800.0, 2600.0], [330.0, 2100.0, 2900.0],
     [500.0, 850.0, 2800.0], [350.0, 700.0, 2500.0]]
)
_FORMANT_BANDWIDTHS = np.array([90.0, 110.0, 160.0])
_FORMANT_GAINS = np.array([1.0, 0.6, 0.35])
_VOICE_HARMONICS = 40  # harmonics above 10 kHz (or 0.45 of the sampling rate) are silenced
_CONTROL_STEP = 32  # samples between two evaluations of the formant gains
# Bass rhythms: onsets in eighth notes within a bar.
_BASS_PATTERNS = ((0, 3, 4, 6), (0, 2, 4, 6), (0, 4, 5, 7), (0, 3, 6))


def _checkout_root() -> Path | None:
    """The git checkout rlsv runs from (``pip install -e .``), or None for an installed copy."""
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def data_dir() -> Path:
    """Where rlsv keeps its synthetic corpora (absolute): ``$RLSV_DATA``, else ``data/`` of the checkout
    (the same folder whether a notebook in ``notebooks/`` or a command at the top asks), else ``./data``."""
    configured = os.environ.get("RLSV_DATA")
    base = Path(configured) if configured else (_checkout_root() or Path.cwd()) / "data"
    return base.expanduser().resolve()


def corpus_root(name: str = DEFAULT_CORPUS) -> Path:
    """Folder of the synthetic corpus called ``name`` (a profile's): ``<data_dir()>/synthetic-<name>``."""
    return data_dir() / f"synthetic-{name}"


def default_synthetic_root() -> Path:
    """The default corpus, written and read by everything that is given no dataset, and the corpus of the
    synthetic profiles: ``<data_dir()>/synthetic-default`` (:func:`make_corpus`'s default sizes)."""
    return corpus_root(DEFAULT_CORPUS)


def make_corpus(
    root: str | os.PathLike | None = None,
    n_train: int = DEFAULT_N_TRAIN,
    n_test: int = DEFAULT_N_TEST,
    duration_s: float = DEFAULT_DURATION_S,
    sample_rate: int = 44100,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write the synthetic corpus to ``root`` (default :func:`default_synthetic_root`); return ``root``.

    The default sizes (8 train + 4 test tracks of 12 s) are the default corpus's. A
    complete corpus with the same parameters is left untouched (only the presence of its files is
    checked: to rewrite a damaged one, delete its folder or its ``rlsv_synth.json``). Otherwise
    every track is (re)written and the marker file is written last, so an interrupted run is
    redone next time.
    Tracks of an earlier, larger rlsv corpus in ``root`` are removed; a ``root`` holding anything
    else is refused (``FileExistsError``), so real data is never mixed with synthetic tracks.

    Args:
        root: corpus folder (created if needed).
        n_train, n_test: number of tracks in ``train/`` and ``test/``.
        duration_s: length of every track in seconds (at least 3 s: each song opens with a
            one-bar intro without vocals).
        sample_rate: sampling rate of the files in Hz.
        seed: tracks are a function of ``(seed, subset, index)``.
        progress: show a tqdm bar while writing.
    """
    root = Path(root) if root is not None else default_synthetic_root()
    params = _corpus_parameters(n_train, n_test, duration_s, sample_rate, seed)
    if _is_complete(root, params):
        return root
    _refuse_foreign_content(root)
    (root / MARKER_FILE).unlink(missing_ok=True)
    _remove_stale_tracks(root, params["tracks"])
    n_samples = round(duration_s * sample_rate)
    jobs = [(subset, index) for subset in SUBSETS for index in range(params[f"n_{subset}"])]
    for subset, index in tqdm(jobs, desc="rlsv synth", unit="track", disable=not progress):
        rng = np.random.default_rng([seed, SUBSETS.index(subset), index])
        stems = synthesize_track(rng, n_samples, sample_rate)
        _write_track(root / subset / _track_name(subset, index), stems, sample_rate)
    write_json(params, root / MARKER_FILE)
    return root


def synthesize_track(rng: np.random.Generator, n_samples: int, sample_rate: int) -> dict[str, np.ndarray]:
    """Generate one song: ``{"mixture", "vocals", "drums", "bass", "other"}`` -> ``(n_samples, 2)`` int16.

    The stems are levelled (random gain of +-2 dB around fixed peaks, the mixture peak kept at
    0.9 of full scale), quantised to 16 bits, and the mixture is their exact integer sum.
    """
    song = _random_song(rng, n_samples, sample_rate)
    stems = {
        "vocals": _render_vocals(rng, song),
        "drums": _render_drums(rng, song),
        "bass": _render_bass(rng, song),
        "other": _render_other(rng, song),
    }
    quantised = _level_and_quantise(rng, {name: _fade_out(audio, sample_rate) for name, audio in stems.items()})
    mixture = np.sum([stem.astype(np.int32) for stem in quantised.values()], axis=0)
    return {"mixture": mixture.astype(np.int16), **quantised}


def _level_and_quantise(rng: np.random.Generator, stems: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Scale each ``(n, 2)`` stem to its peak level +-2 dB, keep the mixture peak <= 0.9, round to int16."""
    levelled = {}
    for name, audio in stems.items():
        peak = _STEM_PEAKS[name] * 10 ** (rng.uniform(-2.0, 2.0) / 20)
        levelled[name] = audio * (peak / max(np.abs(audio).max(), 1e-12))
    scale = min(1.0, _MIXTURE_PEAK / np.abs(sum(levelled.values())).max())
    return {name: np.round(audio * scale * _PCM16_SCALE).astype(np.int16) for name, audio in levelled.items()}


# --------------------------------------------------------------------------- corpus files


def _is_complete(root: Path, params: dict) -> bool:
    """True when ``root`` holds a finished corpus made with ``params`` (all its files present)."""
    marker = root / MARKER_FILE
    if not marker.is_file():
        return False
    try:
        if json.loads(marker.read_text(encoding="utf-8")) != params:
            return False
    except (OSError, ValueError):  # unreadable marker: regenerate
        return False
    return all(
        (root / subset / name / f"{source}.wav").is_file()
        for subset, names in params["tracks"].items()
        for name in names
        for source in ("mixture",) + STEMS
    )


def _corpus_parameters(n_train: int, n_test: int, duration_s: float, sample_rate: int, seed: int) -> dict:
    """The marker-file content: generator version, parameters and track names (checked first)."""
    if n_train < 1 or n_test < 1:
        raise ConfigError(f"make_corpus needs at least one track per subset, got n_train={n_train}, n_test={n_test}.")
    if duration_s < MIN_DURATION_S:
        raise ConfigError(
            f"make_corpus needs duration_s >= {MIN_DURATION_S} (each song opens with a one-bar intro "
            f"without vocals), got {duration_s}."
        )
    if sample_rate < 16000:
        raise ConfigError(f"make_corpus needs sample_rate >= 16000 Hz, got {sample_rate}.")
    return {
        "format": _FORMAT,
        "n_train": int(n_train),
        "n_test": int(n_test),
        "duration_s": float(duration_s),
        "sample_rate": int(sample_rate),
        "seed": int(seed),
        "tracks": {subset: [_track_name(subset, i) for i in range(n)] for subset, n in
                   (("train", n_train), ("test", n_test))},
    }


def _track_name(subset: str, index: int) -> str:
    """Folder name of a synthetic track, e.g. ``synth-test-003`` (sorts in index order)."""
    return f"synth-{subset}-{index:03d}"


def _refuse_foreign_content(root: Path) -> None:
    """Raise ``FileExistsError`` if ``root`` holds anything an rlsv corpus would not."""
    if not root.exists():
        return
    foreign = [p for p in root.iterdir() if p.name not in SUBSETS and not p.name.startswith(f".{MARKER_FILE}")
               and p.name != MARKER_FILE]
    for subset in SUBSETS:
        if (root / subset).is_dir():
            foreign += [p for p in (root / subset).iterdir() if not _TRACK_NAME.match(p.name)]
    if foreign:
        raise FileExistsError(
            f"{root} holds files that are not part of an rlsv synthetic corpus (e.g. {foreign[0]}); "
            "choose an empty or new folder for the synthetic corpus."
        )


def _remove_stale_tracks(root: Path, keep: dict[str, list[str]]) -> None:
    """Delete synthetic track folders of an earlier corpus that the new one does not have."""
    for subset in SUBSETS:
        folder = root / subset
        if folder.is_dir():
            for track in folder.iterdir():
                if track.name not in keep[subset]:
                    shutil.rmtree(track)


def _write_track(folder: Path, stems: dict[str, np.ndarray], sample_rate: int) -> None:
    """Write ``{name: (n, 2) int16}`` as ``folder/<name>.wav`` (16-bit PCM), each file atomically.

    Each file is encoded in memory (a few MB) and written by Python, so that a full disk is an
    ``OSError(ENOSPC)`` and so a :class:`rlsv.errors.FileWriteError` naming the file (libsndfile writing the
    file itself reports it as ``LibsndfileError(2, '')``).
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise file_error(folder, exc, "create") from exc
    for name, audio in stems.items():
        encoded = io.BytesIO()
        sf.write(encoded, audio, sample_rate, subtype="PCM_16", format="WAV")
        with atomic_path(folder / f"{name}.wav") as tmp:
            tmp.write_bytes(encoded.getvalue())


# --------------------------------------------------------------------------- song plan


@dataclass(frozen=True)
class _Song:
    """Tempo, key and harmony of one track; times in samples."""

    n_samples: int
    sample_rate: int
    beat: int  # samples per beat (4 beats per bar)
    tonic: int  # pitch class 0-11 of the key
    scale: np.ndarray  # (7,) semitones above the tonic
    progression: tuple[int, ...]  # scale degree of each bar's chord, cycled

    @property
    def bar(self) -> int:
        return 4 * self.beat

    @property
    def n_bars(self) -> int:
        return -(-self.n_samples // self.bar)

    def chord(self, bar: int) -> np.ndarray:
        """``(3,)`` semitones above the tonic of the diatonic triad played in ``bar``."""
        degree = self.progression[bar % len(self.progression)]
        steps = np.array([degree, degree + 2, degree + 4])
        return self.scale[steps % 7] + 12 * (steps // 7)


def _random_song(rng: np.random.Generator, n_samples: int, sample_rate: int) -> _Song:
    """Draw tempo (90-130 bpm), key, mode and chord progression."""
    tempo = rng.uniform(90.0, 130.0)
    return _Song(
        n_samples=n_samples,
        sample_rate=sample_rate,
        beat=round(60.0 / tempo * sample_rate),
        tonic=int(rng.integers(12)),
        scale=_MAJOR if rng.random() < 0.5 else _MINOR,
        progression=_PROGRESSIONS[rng.integers(len(_PROGRESSIONS))],
    )


@dataclass(frozen=True)
class _Notes:
    """Monophonic note list: ``(n_notes,)`` arrays, times in samples, pitch in MIDI numbers."""

    start: np.ndarray
    end: np.ndarray
    pitch: np.ndarray
    gain: np.ndarray

    def index(self, n_samples: int) -> np.ndarray:
        """``(n_samples,)`` index of the latest note started at each sample (0 before the first)."""
        return np.maximum(np.searchsorted(self.start, np.arange(n_samples), side="right") - 1, 0)


def _melody(rng: np.random.Generator, song: _Song) -> tuple[_Notes, np.ndarray]:
    """Sung notes and their vowels ``(n_notes,)``: a one-bar intro, then phrases and rests.

    Phrases last one or two bars and are followed by a one-bar rest. Notes of half a beat to two
    beats walk the scale in small steps, landing on a chord tone at each bar line; a few end
    early to leave a breath.
    """
    register = _vocal_register(rng, song)
    half_beat = song.beat // 2
    notes: list[tuple[int, int, float, float]] = []
    position = int(rng.integers(len(register) // 3, 2 * len(register) // 3))
    bar = 1
    while bar * song.bar < song.n_samples:
        phrase_bars = int(rng.integers(1, 3))
        time, phrase_end = bar * song.bar, min((bar + phrase_bars) * song.bar, song.n_samples)
        while time < phrase_end:
            length = min(half_beat * int(rng.choice([1, 2, 2, 3, 4])), phrase_end - time)
            if time % song.bar == 0:  # bar line: nearest chord tone
                chord = (song.chord(time // song.bar) + song.tonic) % 12
                tones = np.flatnonzero(np.isin(register % 12, chord))
                position = int(tones[np.argmin(np.abs(tones - position))])
            else:
                position = int(np.clip(position + rng.choice([-2, -1, -1, 0, 1, 1, 2]), 0, len(register) - 1))
            breath = half_beat // 2 if rng.random() < 0.2 else 0
            notes.append((time, time + length - breath, float(register[position]), rng.uniform(0.7, 1.0)))
            time += length
        bar += phrase_bars + 1
    start, end, pitch, gain = (np.array(column) for column in zip(*notes))
    return _Notes(start, end, pitch, gain), rng.integers(len(_VOWEL_FORMANTS), size=len(notes))


def _vocal_register(rng: np.random.Generator, song: _Song) -> np.ndarray:
    """Sorted MIDI pitches of the scale within 19 semitones above a low (45-52) or high (55-62) voice's lowest note."""
    lowest = int(rng.integers(45, 53) if rng.random() < 0.5 else rng.integers(55, 63))
    scale_pitches = (song.tonic + song.scale[None, :] + 12 * np.arange(11)[:, None]).ravel()
    return np.sort(scale_pitches[(scale_pitches >= lowest) & (scale_pitches <= lowest + 19)])


def _bass_line(rng: np.random.Generator, song: _Song) -> _Notes:
    """Plucked eighth-note pattern on each bar's chord root (MIDI 33-44), fifths and octaves mixed in."""
    pattern = _BASS_PATTERNS[rng.integers(len(_BASS_PATTERNS))]
    eighth = song.beat // 2
    notes = []
    for bar in range(song.n_bars):
        root = 33 + (song.tonic + int(song.chord(bar)[0])) % 12
        onsets = [bar * song.bar + e * eighth for e in pattern] + [(bar + 1) * song.bar]
        for k, (onset, nxt) in enumerate(zip(onsets[:-1], onsets[1:])):
            interval = int(rng.choice([7, 12])) if k == 2 and rng.random() < 0.4 else 0
            notes.append((onset, nxt - eighth // 4, root + interval, rng.uniform(0.8, 1.0)))
    start, end, pitch, gain = (np.array(column) for column in zip(*notes))
    return _Notes(start, end, pitch, gain)


# --------------------------------------------------------------------------- stems


def _render_vocals(rng: np.random.Generator, song: _Song) -> np.ndarray:
    """Sung melody ``(n, 2)``: formant-shaped harmonics of a gliding, vibrating pitch, a little breath."""
    sr, n = song.sample_rate, song.n_samples
    notes, vowels = _melody(rng, song)
    idx = notes.index(n)
    in_note = np.arange(n) - notes.start[idx]
    envelope = _note_envelope(in_note, notes.end[idx] - np.arange(n), 0.05 * sr, 0.1 * sr) * notes.gain[idx]
    f0 = _sung_f0(rng, notes.pitch[idx], in_note, sr)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    breath = 0.02 * _band_noise(rng, n, sr, 2000.0, 8000.0)

    voiced = np.flatnonzero(envelope > 0)  # synthesise the voice only where it sounds
    control = voiced[::_CONTROL_STEP]  # formants vary slowly: follow them every few samples
    formants = _moving_average(_VOWEL_FORMANTS[vowels[idx[control]]], int(0.04 * sr / _CONTROL_STEP))
    highest = min(10000.0, 0.45 * sr)

    def amplitude(k: int) -> np.ndarray:
        harmonic = k * f0[control]
        resonance = _FORMANT_GAINS / (1.0 + ((harmonic[:, None] - formants) / _FORMANT_BANDWIDTHS) ** 2)
        return _upsample((0.05 + resonance.sum(axis=1)) / k * (harmonic < highest), len(voiced))

    voice = np.zeros(n)
    voice[voiced] = _harmonic_sum(phase[voiced], amplitude, n_harmonics=_VOICE_HARMONICS)
    return _pan((voice + breath) * envelope, rng.uniform(-0.15, 0.15))


def _sung_f0(rng: np.random.Generator, note_pitch: np.ndarray, in_note: np.ndarray, sample_rate: int) -> np.ndarray:
    """Fundamental in Hz ``(n,)`` from the per-sample note pitch ``(n,)`` (MIDI).

    Notes are joined by 60 ms glides; vibrato (5-6 Hz, 0.25-0.5 semitone) fades in from 0.15 s
    into each note (``in_note``: samples since the note started).
    """
    t = np.arange(len(note_pitch)) / sample_rate
    depth = rng.uniform(0.25, 0.5) * np.clip((in_note / sample_rate - 0.15) / 0.25, 0.0, 1.0)
    vibrato = depth * np.sin(2 * np.pi * rng.uniform(5.0, 6.0) * t + rng.uniform(0, 2 * np.pi))
    pitch = _moving_average(note_pitch, int(0.06 * sample_rate)) + vibrato
    return 440.0 * 2.0 ** ((pitch - 69.0) / 12.0)


def _render_drums(rng: np.random.Generator, song: _Song) -> np.ndarray:
    """Kick (beats 1, 3 and sometimes the "and" of 2), snare (2, 4), hi-hat (eighths), ``(n, 2)``."""
    sr, eighth = song.sample_rate, song.beat // 2
    bars = np.arange(song.n_bars) * song.bar
    extra_kick = bars[rng.random(song.n_bars) < 0.5] + 3 * eighth
    kick_times = np.sort(np.concatenate([bars, bars + 4 * eighth, extra_kick]))
    hat_times = (bars[:, None] + eighth * np.arange(8)).ravel()
    hat_velocity = np.tile([1.0, 0.55], len(hat_times) // 2) * rng.uniform(0.85, 1.0, len(hat_times))
    snare_times = np.concatenate([bars + 2 * eighth, bars + 6 * eighth])
    kit = (
        (_kick(rng, sr), kick_times, np.ones(len(kick_times)), 0.0),
        (_snare(rng, sr), snare_times, rng.uniform(0.85, 1.0, len(snare_times)), 0.1),
        (_hat(rng, sr), hat_times, hat_velocity, rng.uniform(-0.4, 0.4)),
    )
    return sum(_pan(_place(shot, times, velocity, song.n_samples), pan) for shot, times, velocity, pan in kit)


def _render_bass(rng: np.random.Generator, song: _Song) -> np.ndarray:
    """Plucked bass ``(n, 2)``: saw-like harmonics whose upper partials decay faster."""
    sr, n = song.sample_rate, song.n_samples
    notes = _bass_line(rng, song)
    idx = notes.index(n)
    t = np.arange(n)
    in_note = t - notes.start[idx]
    envelope = _note_envelope(in_note, notes.end[idx] - t, 0.005 * sr, 0.03 * sr) * notes.gain[idx]
    envelope *= np.exp(-in_note / (0.6 * sr))
    f0 = 440.0 * 2.0 ** ((notes.pitch - 69.0) / 12.0)  # (n_notes,)
    phase = 2 * np.pi * np.cumsum(f0[idx]) / sr
    brightness = np.exp(-in_note / (0.25 * sr)).astype(np.float32) ** np.arange(8, dtype=np.float32)[:, None]

    def amplitude(k: int) -> np.ndarray:
        return k ** -1.2 * brightness[k - 1]  # upper partials decay faster

    return _pan(_harmonic_sum(phase, amplitude, n_harmonics=8) * envelope, rng.uniform(-0.05, 0.05))


def _render_other(rng: np.random.Generator, song: _Song) -> np.ndarray:
    """Chord pad ``(n, 2)``: three voices (MIDI 55-78), each two slightly detuned mellow tones."""
    sr, n = song.sample_rate, song.n_samples
    t = np.arange(n)
    bar = t // song.bar
    envelope = _note_envelope(t - bar * song.bar, (bar + 1) * song.bar - t, 0.15 * sr, 0.25 * sr)
    chords = np.stack([song.chord(b) for b in range(song.n_bars)]) + 55 + (song.tonic + 5) % 12
    pad = np.zeros((n, 2))
    for voice, pan in zip(range(3), rng.permutation([-0.5, 0.0, 0.5])):
        tone = np.zeros(n)
        for detune in (-0.08, 0.08):
            f0 = 440.0 * 2.0 ** ((chords[:, voice] + detune - 69.0) / 12.0)  # (n_bars,)
            tone += _harmonic_sum(2 * np.pi * np.cumsum(f0[bar]) / sr, lambda k: k ** -1.5, n_harmonics=6)
        pad += _pan(tone * envelope, pan)
    return pad


def _kick(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Kick drum one-shot ``(0.35 s,)``: a sine sweeping 155 -> 45 Hz plus a click."""
    t = np.arange(int(0.35 * sample_rate)) / sample_rate
    sweep = np.sin(2 * np.pi * np.cumsum(45.0 + 110.0 * np.exp(-t / 0.035)) / sample_rate)
    click = 0.3 * rng.standard_normal(len(t)) * np.exp(-t / 0.003)
    return sweep * np.exp(-t / 0.13) + click


def _snare(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Snare one-shot ``(0.25 s,)``: band-limited noise plus a 190 Hz body."""
    t = np.arange(int(0.25 * sample_rate)) / sample_rate
    rattle = _band_noise(rng, len(t), sample_rate, 1500.0, 9000.0) * np.exp(-t / 0.08)
    return 0.8 * rattle + 0.5 * np.sin(2 * np.pi * 190.0 * t) * np.exp(-t / 0.05)


def _hat(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    """Closed hi-hat one-shot ``(0.08 s,)``: noise above 7 kHz."""
    t = np.arange(int(0.08 * sample_rate)) / sample_rate
    return _band_noise(rng, len(t), sample_rate, 7000.0, 0.49 * sample_rate) * np.exp(-t / 0.02)


# --------------------------------------------------------------------------- signal helpers


def _harmonic_sum(phase: np.ndarray, amplitude: Callable[[int], np.ndarray | float], n_harmonics: int) -> np.ndarray:
    """``sum_k amplitude(k) * sin(k * phase)`` for k = 1..n_harmonics: ``(n,)`` phase -> ``(n,)``.

    Uses the recurrence ``sin(k x) = 2 cos(x) sin((k-1) x) - sin((k-2) x)`` in float32 with
    reused buffers: one ``sin`` and one ``cos`` for any number of harmonics.
    """
    wrapped = np.mod(phase, 2 * np.pi).astype(np.float32)
    two_cos = 2.0 * np.cos(wrapped)
    previous, current = np.zeros_like(two_cos), np.sin(wrapped)
    total = np.asarray(amplitude(1) * current, dtype=np.float32)
    scratch = np.empty_like(two_cos)
    for k in range(2, n_harmonics + 1):
        np.multiply(two_cos, current, out=scratch)
        scratch -= previous
        previous, current, scratch = current, scratch, previous
        total += np.multiply(amplitude(k), current, dtype=np.float32)
    return total.astype(float)


def _upsample(control: np.ndarray, n: int) -> np.ndarray:
    """Linear interpolation of values given every ``_CONTROL_STEP`` samples to ``(n,)`` float32."""
    nxt = np.append(control[1:], control[-1])
    weights = np.arange(_CONTROL_STEP, dtype=np.float32) / _CONTROL_STEP
    ramps = control[:, None].astype(np.float32) * (1 - weights) + nxt[:, None].astype(np.float32) * weights
    return ramps.ravel()[:n]


def _note_envelope(elapsed: np.ndarray, remaining: np.ndarray, attack: float, release: float) -> np.ndarray:
    """Linear attack over ``attack`` samples, linear release ending at the note end; 0 outside."""
    return np.clip(elapsed / attack, 0.0, 1.0) * np.clip(remaining / release, 0.0, 1.0)


def _moving_average(x: np.ndarray, width: int) -> np.ndarray:
    """Centred moving average along axis 0 (edges held), same shape as ``x``: ``(n, ...)``."""
    x = x.astype(float)
    if width <= 1:
        return x
    left, right = width // 2, width - 1 - width // 2
    padded = np.concatenate([np.repeat(x[:1], left + 1, axis=0), x, np.repeat(x[-1:], right, axis=0)])
    summed = np.cumsum(padded, axis=0)
    return (summed[width:] - summed[:-width]) / width


def _band_noise(rng: np.random.Generator, n: int, sample_rate: int, low_hz: float, high_hz: float) -> np.ndarray:
    """White noise ``(n,)`` band-limited to ``[low_hz, high_hz]`` in the FFT domain, peak 1."""
    spectrum = np.fft.rfft(rng.standard_normal(n))
    freqs = np.fft.rfftfreq(n, 1.0 / sample_rate)
    spectrum[(freqs < low_hz) | (freqs > high_hz)] = 0.0
    noise = np.fft.irfft(spectrum, n)
    return noise / np.abs(noise).max()


def _place(shot: np.ndarray, times: np.ndarray, velocity: np.ndarray, n_samples: int) -> np.ndarray:
    """Mix copies of a one-shot ``(m,)`` starting at ``times`` (samples) into ``(n_samples,)``."""
    out = np.zeros(n_samples)
    for time, gain in zip(times, velocity):
        if time < n_samples:
            length = min(len(shot), n_samples - time)
            out[time:time + length] += gain * shot[:length]
    return out


def _pan(mono: np.ndarray, position: float) -> np.ndarray:
    """Constant-power pan ``(n,) -> (n, 2)``; ``position`` from -1 (left) to 1 (right)."""
    angle = (position + 1.0) * np.pi / 4
    return np.stack([np.cos(angle) * mono, np.sin(angle) * mono], axis=1)


def _fade_out(audio: np.ndarray, sample_rate: int, seconds: float = 0.02) -> np.ndarray:
    """Linear fade over the last ``seconds`` of ``(n, 2)`` audio, so no track ends in a click."""
    length = min(int(seconds * sample_rate), len(audio))
    audio = audio.copy()
    audio[len(audio) - length:] *= np.linspace(1.0, 0.0, length)[:, None]
    return audio
