"""Named sizes for runs: ``quick`` (synthetic corpus, CPU, minutes) and ``paper`` (MUSDB18, GPU).

A profile fixes the model size, the training length and the data; the hyper-parameters of a run
(objective, omega, lambda, p) come from the grid (``rlsv.run.spec``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rlsv.audio.synth import DEFAULT_DURATION_S, DEFAULT_N_TEST, DEFAULT_N_TRAIN
from rlsv.core.model import ModelConfig

__all__ = ["Profile", "PROFILES", "get_profile"]


@dataclass(frozen=True)
class Profile:
    """Sizes of a run.

    Attributes:
        name: ``"quick"`` or ``"paper"``.
        model: autoencoder sizes (``C, L, S, N``).
        epochs: passes over the training tracks.
        batch_size, learning_rate: Adam settings (``paper``: the published 8 and 1e-4; ``quick``:
            batch 8, lr 1e-3, so that its 3 short epochs get somewhere).
        data: where the runs' tracks come from when no dataset root is given: ``"synthetic"``
            (the profile's own synthetic corpus, ``<$RLSV_DATA or checkout/data>/synthetic-<name>``,
            written on first use; ``$MUSDB_PATH`` is ignored; the ``quick`` one is the default corpus,
            ``rlsv.audio.synth.default_synthetic_root``) or ``"musdb"`` (``$MUSDB_PATH``, required).
        synthetic_tracks: ``(n_train, n_test, seconds)`` of the profile's synthetic corpus, read only
            when ``data="synthetic"`` (default, and ``quick``'s: the default corpus sizes
            ``rlsv.audio.synth.DEFAULT_N_TRAIN, DEFAULT_N_TEST, DEFAULT_DURATION_S``, ``make_corpus``'s
            defaults, so that every writer of the default corpus agrees).
        max_train_tracks, max_test_tracks: use only the first tracks (None: all).
        description: one line for ``--help`` and the README.
    """

    name: str
    model: ModelConfig
    epochs: int
    batch_size: int = 8
    learning_rate: float = 1e-4
    data: str = "musdb"
    synthetic_tracks: tuple[int, int, float] = (DEFAULT_N_TRAIN, DEFAULT_N_TEST, DEFAULT_DURATION_S)
    max_train_tracks: int | None = None
    max_test_tracks: int | None = None
    description: str = field(default="", compare=False)


PROFILES: dict[str, Profile] = {
    "quick": Profile(
        name="quick",
        model=ModelConfig(channels=96, kernel_size=512, stride=128, segment_length=11025),
        epochs=3,
        learning_rate=1e-3,
        data="synthetic",
        description="synthetic corpus (8 train + 4 test tracks of 12 s), C=96 L=512 S=128 N=11025 (0.25 s), "
                    "3 epochs (282 Adam steps), lr 1e-3, batch 8: `make reproduce` (the 31 runs of the `all` "
                    "grid through notebooks 02/03, tables, figures) in about 6-8 minutes on 2 CPU cores",
    ),
    "paper": Profile(
        name="paper",
        model=ModelConfig(),
        epochs=10,
        data="musdb",
        description="published sizes C=800 L=2048 S=256 N=44100, 10 epochs, Adam 1e-4, batch 8, on MUSDB18 (GPU)",
    ),
}


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a clear error lists the valid names."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ValueError(f"Unknown profile {name!r}; choose one of {sorted(PROFILES)}.") from None
