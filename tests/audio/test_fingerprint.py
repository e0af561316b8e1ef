"""The dataset fingerprint: content, not place; a changed byte, a renamed, added or removed track changes it and
is named; file hashes are cached so that a second call reads no audio."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

import rlsv.audio.fingerprint as fingerprint_module
from rlsv.audio.fingerprint import FORMAT, HASHES_FOLDER, dataset_fingerprint, fingerprint_changes
from rlsv.audio.musdb import resolve_dataset


@pytest.fixture
def corpus(tiny_corpus: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny corpus (2 train + 2 test tracks), for tests that change it."""
    return Path(shutil.copytree(tiny_corpus, tmp_path / "corpus"))


@pytest.fixture
def hashed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The files read and hashed, in order."""
    calls: list[Path] = []
    real = fingerprint_module.sha256_file

    def counting(path: Path) -> str:
        calls.append(Path(path))
        return real(path)

    monkeypatch.setattr(fingerprint_module, "sha256_file", counting)
    return calls


def _fingerprint(root: Path, cache_dir: Path, **kwargs) -> dict:
    return dataset_fingerprint(resolve_dataset(root, cache_dir=cache_dir), **kwargs)


def test_the_fingerprint_lists_layout_parameters_tracks_and_hashes(tiny_corpus, cache_dir):
    fp = _fingerprint(tiny_corpus, cache_dir)
    assert fp["format"] == FORMAT and fp["layout"] == "wav"
    assert fp["synthetic"] == json.loads((tiny_corpus / "rlsv_synth.json").read_text())
    assert [t["name"] for t in fp["subsets"]["train"]] == ["synth-train-000", "synth-train-001"]
    track = fp["subsets"]["test"][0]
    assert list(track["files"]) == sorted(["mixture.wav", "vocals.wav", "drums.wav", "bass.wav", "other.wav"])
    assert track["files"]["vocals.wav"] == fingerprint_module.sha256_file(
        tiny_corpus / "test" / "synth-test-000" / "vocals.wav")
    assert all(len(h) == 64 for h in (fp["sha256"], track["sha256"], *track["files"].values()))
    json.dumps(fp)  # JSON-ready, for config.json
    only_train = _fingerprint(tiny_corpus, cache_dir, subsets=("train",))
    assert list(only_train["subsets"]) == ["train"] and only_train["sha256"] != fp["sha256"]


def test_same_content_in_two_folders_gives_the_same_hash(tiny_corpus, corpus, cache_dir):
    a, b = _fingerprint(tiny_corpus, cache_dir), _fingerprint(corpus, cache_dir)
    assert a == b and fingerprint_changes(a, b) == []


def test_one_changed_byte_changes_the_hash_and_names_the_track_and_file(corpus, cache_dir):
    before = _fingerprint(corpus, cache_dir)
    path = corpus / "test" / "synth-test-001" / "bass.wav"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # same size; the modification time moves on
    path.write_bytes(bytes(data))
    after = _fingerprint(corpus, cache_dir)
    assert after["sha256"] != before["sha256"]
    assert fingerprint_changes(before, after) == ["test: track 'synth-test-001' changed (bass.wav)"]


def test_a_file_rewritten_with_its_old_size_and_mtime_is_hashed_again(corpus, cache_dir, hashed):
    """ctime is in the key too: a dataset replaced by a copy keeping sizes and mtimes (rsync -a) is noticed."""
    before = _fingerprint(corpus, cache_dir)
    path = corpus / "train" / "synth-train-000" / "other.wav"
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    hashed.clear()
    after = _fingerprint(corpus, cache_dir)
    assert hashed == [path]
    assert fingerprint_changes(before, after) == ["train: track 'synth-train-000' changed (other.wav)"]


def test_renamed_added_and_removed_tracks_change_it(corpus, tiny_corpus, cache_dir):
    before = _fingerprint(corpus, cache_dir)
    (corpus / "train" / "synth-train-001").rename(corpus / "train" / "a-renamed-track")
    renamed = _fingerprint(corpus, cache_dir)
    assert fingerprint_changes(before, renamed) == ["train: track 'synth-train-001' renamed to 'a-renamed-track'"]
    shutil.rmtree(corpus / "test" / "synth-test-000")
    shutil.copytree(tiny_corpus / "train" / "synth-train-000", corpus / "test" / "new-track")
    changed = _fingerprint(corpus, cache_dir)
    assert fingerprint_changes(renamed, changed) == ["test: track 'synth-test-000' removed",
                                                    "test: track 'new-track' added"]
    assert len({before["sha256"], renamed["sha256"], changed["sha256"]}) == 3


def test_the_second_call_reads_no_audio(corpus, cache_dir, hashed):
    first = _fingerprint(corpus, cache_dir)
    assert len(hashed) == 4 * 5  # every file of every track, once
    records = list((cache_dir / HASHES_FOLDER).glob("*.json"))
    assert len(records) == 1 and not [p for p in records[0].parent.iterdir() if p.name.endswith(".tmp")]
    hashed.clear()
    assert _fingerprint(corpus, cache_dir) == first
    assert hashed == []
    (corpus / "test" / "synth-test-000" / "mixture.wav").touch()  # times changed, content not
    assert _fingerprint(corpus, cache_dir) == first
    assert hashed == [corpus / "test" / "synth-test-000" / "mixture.wav"]


def test_a_damaged_hash_record_is_rebuilt(tiny_corpus, cache_dir, hashed):
    first = _fingerprint(tiny_corpus, cache_dir)
    (record,) = (cache_dir / HASHES_FOLDER).glob("*.json")
    record.write_text("{not json")
    hashed.clear()
    assert _fingerprint(tiny_corpus, cache_dir) == first and len(hashed) == 20
    assert json.loads(record.read_text())["root"] == str(tiny_corpus.absolute())


def test_a_stem_mp4_track_is_its_one_file(tmp_path, cache_dir):
    import stempeg

    excerpt = Path(stempeg.__file__).parent / "data" / "The Easton Ellises - Falcon 69.stem.mp4"
    for subset in ("train", "test"):
        (tmp_path / subset).mkdir()
        (tmp_path / subset / excerpt.name).symlink_to(excerpt)
    fp = _fingerprint(tmp_path, cache_dir)
    assert fp["layout"] == "stem" and fp["synthetic"] is None
    assert fp["subsets"]["test"][0]["files"] == {excerpt.name: fingerprint_module.sha256_file(excerpt)}
