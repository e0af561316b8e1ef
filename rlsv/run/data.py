"""Where the tracks of a run come from: a profile's synthetic corpus or MUSDB18, decoded into the cache.

* :func:`dataset_root` -- the tracks of a profile: its synthetic corpus (written on first use) or
  MUSDB18 (``$MUSDB_PATH``), or a root given by the user.
* :func:`prepare_data` -- find (or write) a run's dataset, check it, and decode every track once.
"""

from __future__ import annotations

import os
from pathlib import Path

from rlsv.audio.synth import corpus_root
from rlsv.run.config import RunParameters
from rlsv.run.profiles import DEFAULT_PROFILE, Profile, get_profile

__all__ = ["synthetic_root", "dataset_root", "prepare_data"]


def synthetic_root(profile: str | Profile) -> Path:
    """Folder of a profile's synthetic corpus (absolute): ``rlsv.audio.synth.corpus_root`` of its
    ``corpus``, ``<$RLSV_DATA or checkout/data>/synthetic-<corpus>`` (``small`` and ``smoke``: the
    default corpus, ``rlsv.audio.synth.default_synthetic_root``)."""
    return corpus_root((profile if isinstance(profile, Profile) else get_profile(profile)).corpus)


def dataset_root(profile: str | Profile = DEFAULT_PROFILE, dataset: str | os.PathLike | None = None,
                 progress: bool = True) -> Path:
    """The dataset folder of a run, absolute; writes the profile's synthetic corpus if needed.

    ``dataset`` when given; else, for a profile with ``data="synthetic"`` (``small``, ``smoke``) its
    synthetic corpus (:func:`synthetic_root`, written on first use with the profile's
    ``synthetic_tracks``); for ``data="musdb"`` (``paper``) ``$MUSDB_PATH``.

    Raises:
        rlsv.audio.musdb.DatasetNotFoundError: ``paper`` without ``dataset`` and without ``$MUSDB_PATH``.
    """
    from rlsv.audio.musdb import DatasetNotFoundError
    from rlsv.audio.synth import make_corpus

    profile = profile if isinstance(profile, Profile) else get_profile(profile)
    if dataset is not None:
        return Path(dataset).expanduser().resolve()
    if profile.data == "synthetic":
        root = synthetic_root(profile)
        n_train, n_test, seconds = profile.synthetic_tracks
        return make_corpus(root, n_train=n_train, n_test=n_test, duration_s=seconds, progress=progress).resolve()
    musdb = os.environ.get("MUSDB_PATH")
    if not musdb:
        raise DatasetNotFoundError(
            f"The {profile.name!r} profile trains on MUSDB18: set MUSDB_PATH to the folder holding train/ and "
            "test/ (or pass a dataset root, --dataset). Get MUSDB18 from https://sigsep.github.io/datasets/musdb.html. "
            "To try the method without it, use the small profile (synthetic corpus, the default)."
        )
    return Path(musdb).expanduser().resolve()


def prepare_data(params: RunParameters, progress: bool = True) -> Path:
    """Find (or write) the run's dataset, check it and decode every track into the cache.

    Done once before a sweep starts, so that parallel runs never write the same corpus or cache
    entry. Returns the absolute dataset root.
    """
    from rlsv.audio.musdb import fill_cache, resolve_dataset

    root = dataset_root(params.profile, params.dataset, progress)
    model = params.model_config()
    data = resolve_dataset(root, segment_length=model.segment_length, sample_rate=model.sample_rate,
                           progress=progress)
    fill_cache(data, progress=progress)
    return root
