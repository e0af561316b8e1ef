"""Stems checked against the mixture (issue 20 case 9): the real MUSDB18 excerpt and the synthetic corpus pass,
a mixture replaced by noise, a vocals stem with a random-byte body and stems clipped x50 are refused by name."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import stempeg

import rlsv.audio.musdb
from rlsv.audio.musdb import DatasetLayoutError, fill_cache, resolve_dataset
from rlsv.audio.stems import DEFAULT_TOLERANCE_DB, PARTS, TOLERANCE_ENV, StemsDoNotAddUpError, decode_parts
from rlsv.errors import ConfigError, DatasetError

EXCERPT = Path(stempeg.__file__).parent / "data" / "The Easton Ellises - Falcon 69.stem.mp4"
EXCERPT_NAME = "The Easton Ellises - Falcon 69"
SR = 44100


@pytest.fixture(scope="module")
def excerpt_parts() -> dict[str, np.ndarray]:
    """The real excerpt's five streams, ``(n, 2)`` float32 each, decoded once (its mixture and stems are AAC)."""
    stems, _ = stempeg.read_stems(str(EXCERPT), dtype=np.float32, ffmpeg_format="f32le")
    return {name: stems[stream] for name, stream in zip(PARTS, (0, 4, 1, 2, 3))}


@pytest.fixture
def excerpt_hq(tmp_path: Path, excerpt_parts) -> Path:
    """The excerpt as a MUSDB18-HQ folder (16-bit wav files), in train/ and test/: a real track to damage."""
    for subset in ("train", "test"):
        folder = tmp_path / "hq" / subset / EXCERPT_NAME
        folder.mkdir(parents=True)
        for name, audio in excerpt_parts.items():
            sf.write(folder / f"{name}.wav", audio, SR, subtype="PCM_16")
    return tmp_path / "hq"


def _recorded_residual(dataset, subset: str = "test") -> float:
    (track,) = dataset.tracks(subset)[:1]
    return dataset.cache.info(dataset._cached(track)[0])["residual_db"]


def test_the_real_aac_excerpt_passes_with_its_measured_residual(tmp_path, cache_dir):
    for subset in ("train", "test"):
        (tmp_path / subset).mkdir()
        (tmp_path / subset / EXCERPT.name).symlink_to(EXCERPT)
    dataset = resolve_dataset(tmp_path, cache_dir=cache_dir)
    assert fill_cache(dataset, progress=False) == 2
    # AAC codes each stream on its own: mixture - sum(stems) is about -22 dB of the mixture (docs/data.md)
    assert -24.0 < _recorded_residual(dataset) < -20.0 < DEFAULT_TOLERANCE_DB


def test_the_excerpt_as_hq_wav_and_the_synthetic_corpus_pass(excerpt_hq, tiny_corpus, cache_dir):
    dataset = resolve_dataset(excerpt_hq, cache_dir=cache_dir)
    fill_cache(dataset, progress=False)
    assert -24.0 < _recorded_residual(dataset) < -20.0
    synthetic = resolve_dataset(tiny_corpus, cache_dir=cache_dir)
    fill_cache(synthetic, progress=False)
    assert _recorded_residual(synthetic) == -200.0  # the mixture is the exact integer sum of the stems


def _noise_mixture(folder: Path) -> None:
    audio, _ = sf.read(folder / "mixture.wav", dtype="float32")
    noise = np.random.default_rng(0).uniform(-1, 1, audio.shape) * np.abs(audio).max()
    sf.write(folder / "mixture.wav", noise, SR, subtype="PCM_16")


def _random_vocals_body(folder: Path) -> None:
    raw = bytearray((folder / "vocals.wav").read_bytes())
    raw[44:] = np.random.default_rng(0).bytes(len(raw) - 44)  # header kept: it still reads as 16-bit audio
    (folder / "vocals.wav").write_bytes(bytes(raw))


def _stems_clipped_x50(folder: Path) -> None:
    for name in PARTS[1:]:
        audio, _ = sf.read(folder / f"{name}.wav", dtype="float32")
        sf.write(folder / f"{name}.wav", np.clip(audio * 50, -1, 1), SR, subtype="PCM_16")


@pytest.mark.parametrize("damage, at_least_db, suspect", [
    (_noise_mixture, -2.0, "mixture.wav"),
    (_random_vocals_body, 5.0, "vocals.wav"),
    (_stems_clipped_x50, 10.0, None),
])
def test_stems_that_do_not_add_up_are_refused_naming_the_track(excerpt_hq, cache_dir, damage, at_least_db, suspect):
    track = excerpt_hq / "test" / EXCERPT_NAME
    damage(track)
    dataset = resolve_dataset(excerpt_hq, cache_dir=cache_dir)
    fill_cache(dataset, ("train",), progress=False)  # the undamaged copy passes
    with pytest.raises(StemsDoNotAddUpError) as error:
        fill_cache(dataset, ("test",), progress=False)
    message = str(error.value)
    assert isinstance(error.value, DatasetError) and "\n" not in message
    assert f"Track {EXCERPT_NAME!r} ({track})" in message and "do not add up to its mixture" in message
    measured = float(message.split(") holds ")[1].split(" dB")[0])
    assert measured >= at_least_db
    if suspect is None:
        assert "several parts differ" in message
    else:
        assert f"most like the {suspect[:-4]} ({track / suspect})" in message
    assert "Restore the track from the original download or remove it" in message
    assert f"{TOLERANCE_ENV}={int(np.ceil(measured))}" in message
    assert not dataset.is_cached(dataset.tracks("test")[0])  # a refused track is not cached


def test_a_damaged_synthetic_track_says_to_rewrite_the_corpus(tiny_corpus, tmp_path, cache_dir):
    corpus = Path(shutil.copytree(tiny_corpus, tmp_path / "corpus"))
    _random_vocals_body(corpus / "test" / "synth-test-001")
    dataset = resolve_dataset(corpus, cache_dir=cache_dir)
    with pytest.raises(StemsDoNotAddUpError, match=rf"Delete the synthetic corpus {corpus} \(or its rlsv_synth.json\)"):
        fill_cache(dataset, progress=False)


def test_the_check_runs_once_and_the_tolerance_is_applied_at_every_load(excerpt_hq, cache_dir, monkeypatch):
    dataset = resolve_dataset(excerpt_hq, cache_dir=cache_dir)
    fill_cache(dataset, progress=False)
    monkeypatch.setattr(rlsv.audio.musdb, "decode_parts", lambda *a, **k: pytest.fail("decoded again"))
    track = dataset.tracks("test")[0]
    assert len(dataset.load(track)) > 0  # from the cache, with the recorded residual
    monkeypatch.setenv(TOLERANCE_ENV, "-30")  # stricter than the excerpt's -22 dB: refused, still without decoding
    with pytest.raises(StemsDoNotAddUpError, match=r"holds -22\.\d dB .* more than the -30\.0 dB allowed"):
        dataset.load(track)
    monkeypatch.setenv(TOLERANCE_ENV, "ten")
    with pytest.raises(ConfigError, match=f"{TOLERANCE_ENV}='ten' is not a number of dB"):
        dataset.load(track)


def test_a_raised_tolerance_lets_a_published_track_through(excerpt_hq, cache_dir, monkeypatch):
    _stems_clipped_x50(excerpt_hq / "test" / EXCERPT_NAME)
    monkeypatch.setenv(TOLERANCE_ENV, "30")
    dataset = resolve_dataset(excerpt_hq, cache_dir=cache_dir)
    assert fill_cache(dataset, progress=False) == 2


def test_a_missing_stem_is_named_when_listing(excerpt_hq):
    (excerpt_hq / "train" / EXCERPT_NAME / "bass.wav").unlink()
    with pytest.raises(DatasetLayoutError, match=f"{EXCERPT_NAME} has no bass.wav"):
        resolve_dataset(excerpt_hq)


# --------------------------------------------------------------------------- the measure itself


def _parts(n: int, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    stems = [rng.standard_normal((n, 2)).astype(np.float32) * 0.1 for _ in PARTS[1:]]
    return [np.sum(stems, axis=0, dtype=np.float32)] + stems


def _blocks(parts: list[np.ndarray], size: int):
    return ([p[i:i + size] for p in parts] for i in range(0, len(parts[0]), size))


def test_the_measure_does_not_depend_on_block_sizes_and_leaves_out_the_ends():
    parts = _parts(20000)
    parts[0] = parts[0].copy()
    parts[0][:300] += 1.0  # a misaligned start, as AAC leaves: outside the measure
    whole = decode_parts(_blocks(parts, 20000), PARTS)
    trimmed = [decode_parts(_blocks(parts, size), PARTS, edge_samples=1000) for size in (20000, 777, 4096)]
    assert whole.additivity.residual_db > DEFAULT_TOLERANCE_DB  # measured whole, it would be refused
    residuals = [t.additivity.residual_db for t in trimmed]  # float32 rounding only, whatever the blocks
    assert max(residuals) < -120.0 and residuals == pytest.approx([residuals[0]] * 3, abs=1e-6)
    np.testing.assert_array_equal(trimmed[1].mono["mixture"], whole.mono["mixture"])
    assert whole.mono["vocals"].shape == (20000,) and whole.mono["vocals"].dtype == np.float32


def test_a_scaled_mixture_gives_the_expected_decibels():
    parts = _parts(8192)
    parts[0] = parts[0] * 0.5  # residual = -0.5 x mixture: energy ratio 1 (0 dB) relative to the halved mixture
    assert decode_parts(_blocks(parts, 1000), PARTS).additivity.residual_db == pytest.approx(0.0, abs=1e-6)
    parts = _parts(8192)
    parts[1] = parts[1] * 1.1
    expected = 10 * np.log10(np.sum((0.1 * parts[1] / 1.1) ** 2.0) / np.sum(parts[0].astype(np.float64) ** 2))
    assert decode_parts(_blocks(parts, 1000), PARTS).additivity.residual_db == pytest.approx(expected, abs=1e-3)


def test_non_finite_samples_and_a_short_part_are_reported():
    parts = _parts(5000)
    parts[1] = parts[1].copy()
    parts[1][3210, 1] = np.nan
    decoded = decode_parts(_blocks(parts, 1000), PARTS)
    assert decoded.nonfinite == {"vocals": (1, 3210)} and decoded.additivity is None
    parts = _parts(5000)
    parts[2] = parts[2][:2500]
    decoded = decode_parts(_blocks(parts, 1000), PARTS)
    assert decoded.ended_early == "drums" and decoded.n_samples == 2500
