"""What identifies one run: :class:`RunParameters`, the parameters cell of notebooks 02 and 03.

A run is a grid point (objective, omega, lambda, p; ``rlsv.run.spec``), a profile (sizes, epochs,
data; ``rlsv.run.profiles``), optional overrides of the profile's values, and a seed. Its
resolved training configuration is :meth:`RunParameters.train_config` (``rlsv.run.train.TrainConfig``),
its folder ``<output_root>/<run-id>/`` (``docs/run_layout.md``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, TypeVar

import numpy as np

from rlsv.core.fields import dataclass_kwargs
from rlsv.core.model import ModelConfig
from rlsv.errors import ConfigError
from rlsv.run.evaluate import EvaluationSettings
from rlsv.run.profiles import DEFAULT_PROFILE, Profile, get_profile
from rlsv.run.spec import OBJECTIVE_NAMES, USED_PARAMETERS, RunSpec, run_id, variant_id

__all__ = ["RunParameters", "or_default"]

_GRID_PARAMETERS: tuple[str, ...] = ("omega", "lam", "p")


_T = TypeVar("_T")


def or_default(value: _T | None, default: _T) -> _T:
    """``value`` unless it is None: an override (or a command-line option) that was not given.

    An override of 0 stays 0, and is then refused as such (``--epochs 0`` is not "the profile's").
    """
    return default if value is None else value


def _default_data(profile: Profile) -> tuple[str, Path | None]:
    """A profile's own data: its identity in run ids and, where known without reading anything, its folder."""
    if profile.data == "synthetic":
        from rlsv.audio.synth import corpus_root

        n_train, n_test, seconds = profile.synthetic_tracks
        return f"synthetic:{profile.corpus}:{n_train}x{n_test}x{seconds:g}s", corpus_root(profile.corpus)
    musdb = os.environ.get("MUSDB_PATH")
    return "musdb", Path(musdb).expanduser().resolve() if musdb else None


def _plain(value: Any) -> Any:
    """JSON/papermill-friendly scalars: numpy numbers to Python, NaN to None."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


@dataclass(frozen=True)
class RunParameters:
    """Everything that identifies a run: the notebooks' parameters (JSON-friendly values only).

    Attributes:
        objective: ``"tv"`` (L_A), ``"sinkhorn"`` (L_B) or ``"stft"`` (the untrained baseline).
        omega, lam, p: the grid point; parameters the objective does not use must be None (a value is
            refused, not dropped); ``omega`` None means 1 for a trained objective, ``p`` None means 1 for
            ``"sinkhorn"``.
        profile: ``"small"`` (default), ``"smoke"`` or ``"paper"`` (``rlsv.run.profiles``): sizes, epochs and data.
        epochs, batch_size, learning_rate, max_train_tracks, max_test_tracks: override the
            profile's values (None: the profile's).
        model: ``ModelConfig`` fields overriding the profile's model, e.g. ``{"channels": 16}``.
        dataset: dataset root; None: the profile's data (see ``rlsv.run.data.dataset_root``).
        seed: training seed (published: 218; a sweep with ``seeds=k`` uses ``218, 219, ...``).
    """

    objective: str = "tv"
    omega: float | None = None
    lam: float | None = None
    p: int | None = None
    profile: str = DEFAULT_PROFILE
    epochs: int | None = None
    batch_size: int | None = None
    learning_rate: float | None = None
    max_train_tracks: int | None = None
    max_test_tracks: int | None = None
    model: Mapping[str, Any] | None = None
    dataset: str | None = None
    seed: int = 218

    def __post_init__(self) -> None:
        if self.objective not in OBJECTIVE_NAMES:
            raise ConfigError(f"Unknown objective {self.objective!r}; use 'tv' (L_A), 'sinkhorn' (L_B) or 'stft'.")
        if self.objective != "stft" and self.omega is None:
            object.__setattr__(self, "omega", 1.0)
        unused = [f"{name}={getattr(self, name)!r}" for name in _GRID_PARAMETERS
                  if name not in USED_PARAMETERS[self.objective] and getattr(self, name) is not None]
        if unused:  # refused, not dropped: a value given for nothing is a mistake worth hearing about
            raise ConfigError(f"The {self.objective!r} objective does not use {' and '.join(unused)}; set "
                             f"{'them' if len(unused) > 1 else 'it'} to None (or choose another objective).")
        if self.objective == "sinkhorn" and self.p is None:
            object.__setattr__(self, "p", 1)
        if self.p is not None:
            if float(self.p) != int(float(self.p)):
                raise ConfigError(f"p must be a whole number (1 or 2), got {self.p!r}.")
            object.__setattr__(self, "p", int(float(self.p)))
        for name in ("omega", "lam"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, float(value))
        if self.model is not None:
            object.__setattr__(self, "model", dict(self.model))
        if self.dataset is not None:
            object.__setattr__(self, "dataset", str(self.dataset))
        if isinstance(self.seed, float) and self.seed == int(self.seed):
            object.__setattr__(self, "seed", int(self.seed))  # papermill may hand 218.0
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}.")
        self.spec  # validates omega, lam, p for the objective
        self.profile_config  # validates the profile name
        self.model_config()  # validates the model overrides

    @classmethod
    def for_spec(cls, spec: RunSpec, profile: str = DEFAULT_PROFILE, **overrides: Any) -> "RunParameters":
        """The parameters of grid point ``spec`` at ``profile``, with optional overrides."""
        return cls(objective=spec.objective, omega=spec.omega, lam=spec.lam, p=spec.p, profile=profile, **overrides)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunParameters":
        """From a mapping (e.g. notebook parameters); unknown keys are an error."""
        return cls(**{k: _plain(v) for k, v in dataclass_kwargs(cls, data).items()})

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> "RunParameters":
        """From a namespace that holds every field among other names: a notebook's ``globals()``
        after its parameters cell (``RunParameters.from_namespace(globals())``)."""
        missing = [f.name for f in fields(cls) if f.name not in namespace]
        if missing:
            raise ConfigError(f"The parameters cell does not set {missing}.")
        return cls.from_dict({f.name: namespace[f.name] for f in fields(cls)})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (the papermill parameters of the run)."""
        return json.loads(json.dumps(asdict(self)))

    @property
    def spec(self) -> RunSpec:
        return RunSpec(self.objective, self.omega, self.lam, None if self.p is None else float(self.p))

    def data_identity(self) -> str:
        """What the run trains and is evaluated on, independent of where it lies on this machine: the
        profile's own data (``"synthetic:<corpus>..."`` or ``"musdb"``) when no other dataset is
        given (or the one given is the profile's default folder), else the dataset's absolute path."""
        profile = self.profile_config
        default = _default_data(profile)
        if self.dataset is None:
            return default[0]
        given = Path(self.dataset).expanduser().resolve()
        return default[0] if default[1] is not None and given == default[1] else str(given)

    def variant_settings(self) -> dict[str, Any]:
        """Every setting besides the grid point and the seed that changes a trained run's results
        (JSON values): the model sizes, epochs, batch size, learning rate, training tracks and data."""
        profile = self.profile_config
        return {"model": self.model_config().to_dict(), "epochs": or_default(self.epochs, profile.epochs),
                "batch_size": or_default(self.batch_size, profile.batch_size),
                "learning_rate": float(or_default(self.learning_rate, profile.learning_rate)),
                "max_train_tracks": or_default(self.max_train_tracks, profile.max_train_tracks),
                "data": self.data_identity()}

    @property
    def variant(self) -> str:
        """Short hash of :meth:`variant_settings` (``rlsv.run.spec.variant_id``): runs of one sweep share it."""
        return variant_id(self.variant_settings())

    @property
    def run_id(self) -> str:
        """The run folder name, ``docs/run_layout.md`` (e.g. ``small-sinkhorn-p1-l1.5-w4-s218-3fa2c1``)."""
        return run_id(self.spec, self.profile, self.seed, self.variant)

    def check_run_id(self, expected: str | None) -> str:
        """The run id, checked against a requested one (None: no request).

        Run folders under a runs root must carry the grid name of their configuration
        (``docs/run_layout.md``) for tables, figures and sweeps to find them; to keep runs apart,
        use another ``output_root`` instead.
        """
        if expected is not None and expected != self.run_id:
            raise ConfigError(f"run_id {expected!r} does not match these parameters, whose run is {self.run_id!r} "
                             "(docs/run_layout.md). Leave run_id=None, or use another output_root to keep runs apart.")
        return self.run_id

    @property
    def profile_config(self) -> Profile:
        return get_profile(self.profile)

    @property
    def is_trained(self) -> bool:
        """Whether the run trains an autoencoder (every objective but the STFT baseline)."""
        return self.spec.is_trained

    def model_config(self) -> ModelConfig:
        """The profile's model with the ``model`` overrides applied."""
        base = self.profile_config.model
        if not self.model:
            return base
        return replace(base, **dataclass_kwargs(ModelConfig, self.model))

    def test_tracks(self) -> int | None:
        """How many test tracks the run is evaluated on (None: all)."""
        return or_default(self.max_test_tracks, self.profile_config.max_test_tracks)

    def evaluation_settings(self) -> EvaluationSettings:
        """How the run is evaluated (recorded in ``config.json``; a sweep compares it before skipping)."""
        return EvaluationSettings(max_test_tracks=self.test_tracks(), segment_length=self.model_config().segment_length)

    def train_config(self, dataset: str | os.PathLike | None = None, device: str = "auto"):
        """The ``rlsv.run.train.TrainConfig`` of this run (``dataset`` overrides ``self.dataset``)."""
        from rlsv.run.train import TrainConfig

        if not self.is_trained:
            raise ConfigError("The STFT baseline is not trained; evaluate it with run_evaluation().")
        profile = self.profile_config
        root = dataset if dataset is not None else self.dataset
        return TrainConfig(
            objective=self.objective, omega=self.omega, lam=self.lam, p=self.p,
            epochs=or_default(self.epochs, profile.epochs),
            batch_size=or_default(self.batch_size, profile.batch_size),
            learning_rate=or_default(self.learning_rate, profile.learning_rate), seed=self.seed,
            model=self.model_config(), dataset=None if root is None else str(root),
            max_train_tracks=or_default(self.max_train_tracks, profile.max_train_tracks),
            device=device, run_id=self.run_id, profile=self.profile, variant=self.variant,
        )
