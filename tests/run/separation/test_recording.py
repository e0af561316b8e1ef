"""Separating a file: overlap-add reconstructs the input through an all-pass mask, any rate and channel count
comes back as it went in, the stems add up to the input, and the errors say what to do."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from rlsv.audio.files import AudioFileError
from rlsv.core.separation.front_ends import StftFrontEnd
from rlsv.core.separation.mask_estimator import EstimatorConfig, MaskEstimator
from rlsv.run.separation.recording import default_output_dir, separate_file, separate_signal
from rlsv.run.separation.separator import Separator, save_separator

N = 2048


def _separator(all_pass: bool, seed: int = 0) -> Separator:
    """An STFT separator whose mask is 1 everywhere (``all_pass``) or whatever random weights give."""
    torch.manual_seed(seed)
    estimator = MaskEstimator(EstimatorConfig(257, 8))
    if all_pass:
        with torch.no_grad():
            estimator.fc3.weight.zero_()
            estimator.fc3.bias.fill_(60.0)  # sigmoid(60) is 1 in float32
    return Separator(StftFrontEnd(N, n_fft=512, hop=128), estimator.eval(), 44100)


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


def test_all_pass_mask_returns_the_signal_through_overlap_add() -> None:
    x = np.random.default_rng(0).standard_normal(5 * N + 123).astype(np.float32)
    np.testing.assert_allclose(separate_signal(_separator(True), x, progress=False), x, atol=1e-5)


def test_stereo_44k_comes_back_with_its_rate_length_and_channels(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(44100, 1.3, 2)
    sf.write(tmp_path / "song.wav", music, 44100, subtype="FLOAT")
    messages: list[str] = []
    out = separate_file(tmp_path / "song.wav", run_with_separator, tmp_path / "out", progress=False, log=messages.append)
    assert len(messages) == 1 and "down-mixing the 2 channels" in messages[0]
    for stem in ("vocals", "accompaniment"):
        info = sf.info(tmp_path / "out" / f"{stem}.wav")
        assert (info.frames, info.samplerate, info.channels) == (len(music), 44100, 2)
    np.testing.assert_allclose(out.vocals, music, atol=1e-5)  # the all-pass mask keeps everything
    np.testing.assert_allclose(out.vocals + out.accompaniment, music, atol=1e-6)


def test_mono_22k_is_resampled_there_and_back(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(22050, 1.1, 1)
    sf.write(tmp_path / "voice.wav", music, 22050, subtype="FLOAT")
    messages: list[str] = []
    out = separate_file(tmp_path / "voice.wav", run_with_separator, tmp_path / "out", progress=False,
                        log=messages.append)
    assert messages == ["rlsv: resampling voice.wav from 22050 Hz to the model's 44100 Hz; the stems are written at "
                        "22050 Hz"]
    assert out.vocals.shape == music.shape and sf.info(tmp_path / "out" / "vocals.wav").samplerate == 22050
    middle = slice(1000, len(music) - 1000)  # away from the resampling filters' edges
    np.testing.assert_allclose(out.vocals[middle], music[middle], atol=2e-3)
    np.testing.assert_allclose(out.vocals + out.accompaniment, music, atol=1e-6)


def test_the_mono_mask_is_applied_to_each_channel(run_with_separator: Path, tmp_path: Path) -> None:
    music = _music(44100, 0.8, 2)  # right = 2 x left; the STFT is linear, so vocals_right = 2 x vocals_left
    sf.write(tmp_path / "song.wav", music, 44100, subtype="FLOAT")
    out = separate_file(tmp_path / "song.wav", run_with_separator, tmp_path / "out", seed=219, progress=False, log=None)
    assert not np.allclose(out.vocals, music, atol=1e-3)  # a real mask
    np.testing.assert_allclose(out.vocals[:, 1], 2 * out.vocals[:, 0], atol=1e-5)
    mono = separate_signal(_separator(False), music.mean(axis=1), progress=False)
    np.testing.assert_allclose(out.vocals.mean(axis=1), mono, atol=1e-5)


def test_errors_name_the_file_and_the_missing_separator(run_with_separator: Path, tmp_path: Path) -> None:
    sf.write(tmp_path / "empty.wav", np.zeros((0, 1), dtype=np.float32), 44100)
    with pytest.raises(AudioFileError, match="empty.wav holds no samples"):
        separate_file(tmp_path / "empty.wav", run_with_separator, tmp_path / "out", progress=False)
    untrained = tmp_path / "untrained"
    untrained.mkdir()
    with pytest.raises(FileNotFoundError, match=r"No trained separator.*rlsv train-separator .*untrained"):
        separate_file(tmp_path / "empty.wav", untrained, tmp_path / "out", progress=False)
    assert default_output_dir("x/a song.stem.mp4") == Path("separated/a song")
