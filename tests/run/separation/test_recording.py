"""Separating a file: overlap-add reconstructs the input through an all-pass mask, any rate and channel count
comes back as it went in, the stems add up to the input, the file is streamed with the same output as the
whole file in one piece, an input is never overwritten, a full disk leaves nothing behind, and the errors
say what to do."""

from __future__ import annotations

import errno
import subprocess
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from scipy.signal import resample_poly

from rlsv.core.separation.front_ends import StftFrontEnd
from rlsv.core.separation.mask_estimator import EstimatorConfig, MaskEstimator
from rlsv.core.separation.overlap_add import OverlapAdd
from rlsv.errors import AudioFileError, ConfigError, FileWriteError
from rlsv.run.separation.recording import default_output_dir, separate_file
from rlsv.run.separation.separator import Separator, save_separator
from rlsv.run.separation.streaming import separate_signal

N = 2048


def _separator(all_pass: bool, seed: int = 0) -> Separator:
    """An STFT separator whose mask is 1 everywhere (``all_pass``) or whatever random weights give."""
    torch.manual_seed(seed)
    estimator = MaskEstimator(EstimatorConfig(257, 8))
    if all_pass:
        with torch.no_grad():
            estimator.fc3.weight.zero_()
            estimator.fc3.bias.fill_(60.0)  # sigmoid(60) is 1 in float32
    return Separator(StftFrontEnd(N, n_fft=512, hop=128), estimator, 44100).eval()


@pytest.fixture
def run_with_separator(tmp_path: Path) -> Path:
    run = tmp_path / "run"
    save_separator(_separator(all_pass=True), run / "separator-s218" / "separator.pt")
    save_separator(_separator(all_pass=False), run / "separator-s219" / "separator.pt")
    return run


def _music(rate: int, seconds: float, channels: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    tones = [0.3 * np.sin(2 * np.pi * f * t) * (1 + 0.5 * np.sin(2 * np.pi * 0.7 * t)) for f in (220.0, 1330.0, 3100.0)]
    return np.stack([sum(tones) * (c + 1) / channels for c in range(channels)], axis=1).astype(np.float32)


def _stems(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    return tuple(sf.read(folder / f"{stem}.wav", dtype="float32", always_2d=True)[0]  # type: ignore[return-value]
                 for stem in ("vocals", "accompaniment"))


def _whole_file(separator: Separator, music: np.ndarray, rate: int) -> tuple[np.ndarray, np.ndarray]:
    """The stems as the file was separated before streaming, in one piece: the whole signal resampled to the
    model's rate, split into all its segments, each batch separated, merged, resampled back, cut."""
    up_down = Fraction(separator.sample_rate, rate)

    def resample(x: np.ndarray, ratio: Fraction) -> np.ndarray:
        return x if ratio == 1 else resample_poly(x, ratio.numerator, ratio.denominator, axis=-1)

    signals = resample(music.T.astype(np.float64), up_down)  # (ch, n')
    mono = signals.mean(axis=0).astype(np.float32)
    ola = OverlapAdd(separator.segment_length)
    mix_segments, targets = ola.split(mono), ola.split(signals.astype(np.float32))
    out = np.zeros((len(signals),) + mix_segments.shape)
    with torch.no_grad():
        for start in range(0, len(mix_segments), 16):
            batch = slice(start, start + 16)
            mask, analysis = separator.mask(torch.from_numpy(mix_segments[batch]))
            for c in range(len(signals)):
                if len(signals) == 1:
                    out[c, batch] = separator.front_end.synthesise(analysis, mask).double().numpy()
                else:
                    out[c, batch] = separator.apply(mask, torch.from_numpy(targets[c, batch])).double().numpy()
    vocals = resample(ola.merge(out, signals.shape[-1]), 1 / up_down)[:, : len(music)].T.astype(np.float32)
    return vocals, (music.astype(np.float64) - vocals).astype(np.float32)


def test_all_pass_mask_returns_the_signal_through_overlap_add() -> None:
    x = np.random.default_rng(0).standard_normal(5 * N + 123).astype(np.float32)
    np.testing.assert_allclose(separate_signal(_separator(True), x, progress=False), x, atol=1e-5)


@pytest.mark.parametrize("rate, channels", [(44100, 2), (22050, 1), (48000, 2)])
def test_streamed_stems_equal_the_whole_file_separated_in_one_piece(run_with_separator: Path, tmp_path: Path,
                                                                    rate: int, channels: int) -> None:
    # 2.5 s: 21 blocks of 5,303 frames (at 44.1 kHz) and 7 chunks of 16 segments, against one piece; the same
    # segments in the same batches and the same sums in the same order, so the very same floats (tolerance 0)
    music = (_music(rate, 2.5, channels) + 0.05 * np.random.default_rng(1).standard_normal((int(rate * 2.5), channels))
             ).astype(np.float32)
    sf.write(tmp_path / "song.wav", music, rate, subtype="FLOAT")
    out = separate_file(tmp_path / "song.wav", run_with_separator, tmp_path / "out", seed=219, progress=False,
                        log=None, block_frames=5303, chunk=16)
    assert (out.frames, out.channels, out.sample_rate) == (len(music), channels, rate)
    vocals, accompaniment = _stems(tmp_path / "out")
    expected_vocals, expected_accompaniment = _whole_file(_separator(all_pass=False), music, rate)
    np.testing.assert_array_equal(vocals, expected_vocals)
    np.testing.assert_array_equal(accompaniment, expected_accompaniment)
    assert not np.allclose(vocals, music, atol=1e-3)  # a real mask, not the identity


def test_stereo_44k_comes_back_with_its_rate_length_and_channels(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(44100, 1.3, 2)
    sf.write(tmp_path / "song.wav", music, 44100, subtype="FLOAT")
    messages: list[str] = []
    separate_file(tmp_path / "song.wav", run_with_separator, tmp_path / "out", progress=False, log=messages.append)
    assert len(messages) == 1 and "down-mixing the 2 channels" in messages[0]
    for stem in ("vocals", "accompaniment"):
        info = sf.info(tmp_path / "out" / f"{stem}.wav")
        assert (info.frames, info.samplerate, info.channels) == (len(music), 44100, 2)
    vocals, accompaniment = _stems(tmp_path / "out")
    np.testing.assert_allclose(vocals, music, atol=1e-5)  # the all-pass mask keeps everything
    np.testing.assert_allclose(vocals + accompaniment, music, atol=1e-6)


def test_mono_22k_is_resampled_there_and_back(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(22050, 1.1, 1)
    sf.write(tmp_path / "voice.wav", music, 22050, subtype="FLOAT")
    messages: list[str] = []
    separate_file(tmp_path / "voice.wav", run_with_separator, tmp_path / "out", progress=False, log=messages.append)
    assert messages == ["rlsv: resampling voice.wav from 22050 Hz to the model's 44100 Hz; the stems are written at "
                        "22050 Hz"]
    vocals, accompaniment = _stems(tmp_path / "out")
    assert vocals.shape == music.shape and sf.info(tmp_path / "out" / "vocals.wav").samplerate == 22050
    middle = slice(1000, len(music) - 1000)  # away from the resampling filters' edges
    np.testing.assert_allclose(vocals[middle], music[middle], atol=2e-3)
    np.testing.assert_allclose(vocals + accompaniment, music, atol=1e-6)


def test_the_mono_mask_is_applied_to_each_channel(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(44100, 0.8, 2)  # right = 2 x left; the STFT is linear, so vocals_right = 2 x vocals_left
    sf.write(tmp_path / "song.wav", music, 44100, subtype="FLOAT")
    separate_file(tmp_path / "song.wav", run_with_separator, tmp_path / "out", seed=219, progress=False, log=None)
    vocals, _ = _stems(tmp_path / "out")
    assert not np.allclose(vocals, music, atol=1e-3)  # a real mask
    np.testing.assert_allclose(vocals[:, 1], 2 * vocals[:, 0], atol=1e-5)
    mono = separate_signal(_separator(False), music.mean(axis=1), progress=False)
    np.testing.assert_allclose(vocals.mean(axis=1), mono, atol=1e-5)


def test_an_input_is_never_overwritten(run_with_separator: Path, tmp_path: Path) -> None:
    song = tmp_path / "song"
    song.mkdir()
    sf.write(song / "vocals.wav", _music(44100, 0.5, 2), 44100, subtype="FLOAT")
    before = (song / "vocals.wav").read_bytes()
    # issue 20, case 1: separating work/song/vocals.wav into work/song wrote the vocals over the input
    with pytest.raises(ConfigError, match=r"The output .*song/vocals\.wav is the input file .*--out"):
        separate_file(song / "vocals.wav", run_with_separator, song, progress=False, log=None)
    other = tmp_path / "other"
    other.mkdir()
    (other / "accompaniment.wav").hardlink_to(song / "vocals.wav")  # the same file under another name
    with pytest.raises(ConfigError, match=r"other/accompaniment\.wav is the input file"):
        separate_file(song / "vocals.wav", run_with_separator, other, progress=False, log=None)
    assert (song / "vocals.wav").read_bytes() == before and [p.name for p in song.iterdir()] == ["vocals.wav"]
    assert [p.name for p in other.iterdir()] == ["accompaniment.wav"]
    separate_file(song / "vocals.wav", run_with_separator, song / "stems", progress=False, log=None)  # elsewhere: fine
    assert (song / "vocals.wav").read_bytes() == before


def test_a_file_already_in_the_output_folder_is_replaced_only_when_asked(run_with_separator: Path,
                                                                         tmp_path: Path) -> None:
    # second pass, a lost file: `separate song.wav --out mine` replaced the user's own mine/vocals.wav
    sf.write(tmp_path / "song.wav", _music(44100, 0.5, 1), 44100, subtype="FLOAT")
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "vocals.wav").write_bytes(b"the user's own take")
    with pytest.raises(ConfigError, match=r"mine/vocals\.wav already exists: .*--overwrite"):
        separate_file(tmp_path / "song.wav", run_with_separator, mine, progress=False, log=None)
    assert (mine / "vocals.wav").read_bytes() == b"the user's own take" and not (mine / "accompaniment.wav").exists()
    separate_file(tmp_path / "song.wav", run_with_separator, mine, progress=False, log=None, overwrite=True)
    assert sf.info(mine / "vocals.wav").frames == 22050


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A folder on a 1 MB tmpfs (as root, where mount works); elsewhere a folder whose wav writes fail as a full
    disk does: soundfile's write raising libsndfile's system error with errno ENOSPC."""
    folder = tmp_path / "disk"
    folder.mkdir()
    try:
        mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                                 capture_output=True).returncode == 0
    except OSError:  # no mount command
        mounted = False
    if not mounted:
        original = sf.SoundFile.write

        def write(self, data):
            if folder in Path(self.name).parents and self.frames + len(data) > 100_000:
                sf._ffi.errno = errno.ENOSPC
                raise sf.LibsndfileError(2, "Error writing: ")
            return original(self, data)

        monkeypatch.setattr(sf.SoundFile, "write", write)
    yield folder
    if mounted:
        subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_names_the_file_and_leaves_nothing_behind(run_with_separator: Path, tmp_path: Path,
                                                              small_disk: Path) -> None:
    music = _music(44100, 4.0, 2)  # 1.4 MB a stem: more than the disk holds
    sf.write(tmp_path / "song.wav", music, 44100, subtype="FLOAT")
    with pytest.raises(FileWriteError, match=r"cannot write .*disk/out/(vocals|accompaniment)\.wav: no space left on "
                                             r"the device; free some space"):
        separate_file(tmp_path / "song.wav", run_with_separator, small_disk / "out", progress=False, log=None,
                      block_frames=20_000)
    assert list((small_disk / "out").iterdir()) == []  # no stem, no temporary file


def test_errors_name_the_file_and_the_missing_separator(run_with_separator: Path, tmp_path: Path) -> None:
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), dtype=np.float32), 44100)
    with pytest.raises(AudioFileError, match="empty.wav holds no samples"):
        separate_file(tmp_path / "empty.wav", run_with_separator, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    with pytest.raises(FileNotFoundError, match=r"No trained separator.*rlsv train-separator .*untrained"):
        separate_file(tmp_path / "empty.wav", untrained, tmp_path / "out", progress=False)
    assert default_output_dir("x/a song.stem.mp4") == Path("separated/a song")
