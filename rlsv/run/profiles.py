"""Named sizes for runs: ``small`` (the default), ``smoke`` and ``paper``.

A profile fixes the model size, the training length and the data; the hyper-parameters of a run
(objective, omega, lambda, p) come from the grid (``rlsv.study.grids``).

* ``small`` (default, ``make reproduce``): the paper's method on the synthetic corpus with a model
  that keeps the paper's ratio of channels to frames, ``C / T = 200 / 44 = 4.5`` (paper
  ``800 / 173 = 4.6``), so that the Sinkhorn cost matrix ``M`` and the entropic weight lambda act
  on the paper's scale, trained for 12 epochs (1128 Adam steps at lr 3e-3): just above the smallest budget at
  which the scale study found both of the paper's findings beyond the seed noise (10 epochs,
  ``docs/scale_study.md``), where more seeds have tipped into the additive regime at lambda = 1.5, and short
  enough for ``make reproduce`` to train three seeds of the rows that carry them on 2 CPU cores.
* ``smoke``: a labelled pipeline check, ``C / T = 96 / 87 = 1.1`` and 282 steps: every command
  and notebook end to end in minutes. Too small to show any effect of lambda or omega: all its
  rows score alike (``docs/scale_study.md``).
* ``paper``: the published sizes, on MUSDB18 (a GPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from rlsv.audio.synth import DEFAULT_CORPUS, DEFAULT_DURATION_S, DEFAULT_N_TEST, DEFAULT_N_TRAIN
from rlsv.core.model_config import ModelConfig
from rlsv.errors import ConfigError
from rlsv.run.train_config import OVERRIDABLE_FIELDS

__all__ = ["Profile", "PROFILES", "DEFAULT_PROFILE", "PROFILE_DEFAULTS", "get_profile"]

DEFAULT_PROFILE = "small"


@dataclass(frozen=True)
class Profile:
    """Sizes of a run.

    Attributes:
        name: ``"small"``, ``"smoke"`` or ``"paper"``.
        model: autoencoder sizes (``C, L, S, N``).
        epochs: passes over the training tracks.
        batch_size, learning_rate: Adam settings (``paper``: the published 8 and 1e-4; the
            synthetic profiles: batch 8 and a larger rate, so that their short runs get somewhere).
        data: where the runs' tracks come from when no dataset root is given: ``"synthetic"``
            (the synthetic corpus ``corpus``, ``<$RLSV_DATA or checkout/data>/synthetic-<corpus>``,
            written on first use; ``$MUSDB_PATH`` is ignored) or ``"musdb"`` (``$MUSDB_PATH``, required).
        corpus: name of the synthetic corpus (``"default"``: the default corpus,
            ``rlsv.audio.synth.default_synthetic_root``, shared by ``small`` and ``smoke``).
        synthetic_tracks: ``(n_train, n_test, seconds)`` of that corpus, read only when
            ``data="synthetic"`` (the default corpus sizes ``rlsv.audio.synth.DEFAULT_N_TRAIN,
            DEFAULT_N_TEST, DEFAULT_DURATION_S``, ``make_corpus``'s defaults, so that every writer of
            the default corpus agrees).
        max_train_tracks, max_test_tracks: use only the first tracks (None: all).
        description: one line for ``--help`` and the README.
    """

    name: str
    model: ModelConfig
    epochs: int
    batch_size: int = 8
    learning_rate: float = 1e-4
    data: str = "musdb"
    corpus: str = DEFAULT_CORPUS
    synthetic_tracks: tuple[int, int, float] = (DEFAULT_N_TRAIN, DEFAULT_N_TEST, DEFAULT_DURATION_S)
    max_train_tracks: int | None = None
    max_test_tracks: int | None = None
    description: str = field(default="", compare=False)

    @property
    def frames(self) -> int:
        """``T`` of the profile's model."""
        return self.model.frames


PROFILES: dict[str, Profile] = {
    "small": Profile(
        name="small",
        model=ModelConfig(channels=200, kernel_size=512, stride=256, segment_length=11025),
        epochs=12,
        learning_rate=3e-3,
        data="synthetic",
        description="default: synthetic corpus (8 train + 4 test tracks of 12 s), C=200 L=512 S=256 N=11025 "
                    "(0.25 s, T=44: the paper's C/T), 12 epochs (1128 Adam steps), lr 3e-3, batch 8; shows the "
                    "paper's trends; `make reproduce` (the 31 runs of `all`, 3 seeds of the 11 that carry the "
                    "findings) in under 15 minutes on 2 CPU cores",
    ),
    "smoke": Profile(
        name="smoke",
        model=ModelConfig(channels=96, kernel_size=512, stride=128, segment_length=11025),
        epochs=3,
        learning_rate=1e-3,
        data="synthetic",
        description="pipeline check only: synthetic corpus, C=96 L=512 S=128 N=11025 (C/T=1.1), 3 epochs "
                    "(282 Adam steps); every row scores alike (too small for the paper's trends); `all` in "
                    "about 6 minutes on 2 CPU cores",
    ),
    "paper": Profile(
        name="paper",
        model=ModelConfig(),
        epochs=10,
        data="musdb",
        description="published sizes C=800 L=2048 S=256 N=44100, 10 epochs, Adam 1e-4, batch 8, on MUSDB18 (GPU)",
    ),
}


PROFILE_DEFAULTS: tuple[str, ...] = tuple(name for name in OVERRIDABLE_FIELDS
                                          if name in {f.name for f in fields(Profile)})
"""The training settings whose default is the profile's (epochs, batch size, learning rate, training tracks);
the others default to ``TrainConfig``'s declaration."""


def get_profile(name: str) -> Profile:
    """The profile called ``name``; a clear error lists the valid names."""
    try:
        return PROFILES[name]
    except (KeyError, TypeError):
        raise ConfigError(f"Unknown profile {name!r}; choose one of {sorted(PROFILES)}.") from None
