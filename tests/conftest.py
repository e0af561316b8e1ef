"""Shared fixtures: a tiny synthetic corpus, an isolated decode cache, a hermetic environment.

Every test runs with ``MUSDB_PATH`` unset, ``RLSV_DATA`` pointing into a temporary folder (so
``resolve_dataset()`` without a root never writes ``./data``) and ``RLSV_CACHE`` pointing at a
session-wide temporary decode cache (never ``~/.cache``). Tests that need an empty cache of
their own take the ``cache_dir`` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from rlsv.audio.synth import make_corpus


@pytest.fixture(scope="session")
def tiny_corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Root of a synthetic MUSDB18-HQ corpus: 2 train + 2 test tracks of 4 s (about 1 s to write).

    Session-scoped and shared: treat it as read-only.
    """
    return make_corpus(tmp_path_factory.mktemp("tiny_corpus"), n_train=2, n_test=2, duration_s=4.0, progress=False)


@pytest.fixture(scope="session")
def _session_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("decode_cache")


@pytest.fixture(autouse=True)
def _hermetic_environment(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory,
                          _session_cache: Path) -> None:
    """Keep tests away from the user's MUSDB18, ``./data`` and ``~/.cache``."""
    monkeypatch.delenv("MUSDB_PATH", raising=False)
    monkeypatch.setenv("RLSV_DATA", str(tmp_path_factory.getbasetemp() / "rlsv_data"))
    monkeypatch.setenv("RLSV_CACHE", str(_session_cache))


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty decode cache folder of this test's own (also set as ``RLSV_CACHE``)."""
    path = tmp_path / "decode_cache"
    monkeypatch.setenv("RLSV_CACHE", str(path))
    return path
