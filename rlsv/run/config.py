"""What identifies one run: :class:`RunParameters`, the one way every entry point names a run.

A run is a grid point (objective, omega, lambda, p; ``rlsv.run.spec``), a profile (sizes, epochs, data;
``rlsv.run.profiles``), overrides of the profile's model (``model``) and of any other training setting
(``train``: epochs, batch size, learning rate, noise, ... -- every field ``rlsv.run.train_config`` declares
overridable), the evaluation's test tracks, and a seed. Notebooks 02 and 03 (their ``run`` parameter), the
sweeps and ``rlsv train`` all build it with :meth:`RunParameters.from_dict`, which routes each key to its
place, so a setting declared once in ``TrainConfig`` or ``ModelConfig`` is available everywhere.

Its resolved training configuration is :meth:`RunParameters.train_config` (``rlsv.run.train_config.TrainConfig``),
its folder ``<output_root>/<run-id>/`` (``docs/run_layout.md``).
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Mapping, TypeVar

import numpy as np
import pandas as pd

from rlsv.core.fields import dataclass_kwargs
from rlsv.core.hyperparameters import GRID_PARAMETERS, objective_parameters
from rlsv.core.model import ModelConfig
from rlsv.errors import ConfigError
from rlsv.run.evaluate import EvaluationSettings
from rlsv.run.profiles import DEFAULT_PROFILE, PROFILE_DEFAULTS, Profile, get_profile
from rlsv.run.spec import RunSpec, run_id, variant_id
from rlsv.run.train_config import OVERRIDABLE_FIELDS, RUNTIME_FIELDS, TrainConfig, training_fields

__all__ = ["RunParameters", "or_default"]

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
    """JSON/papermill-friendly scalars: numpy numbers to Python, NaN to None, mappings and lists inside too."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_MODEL_FIELDS = frozenset(f.name for f in fields(ModelConfig))


@dataclass(frozen=True)
class RunParameters:
    """Everything that identifies a run (JSON-friendly values only).

    Attributes:
        objective: ``"tv"`` (L_A), ``"sinkhorn"`` (L_B) or ``"stft"`` (the untrained baseline).
        omega, lam, p: the grid point (``rlsv.core.hyperparameters`` rules them: unused ones must be None,
            ``omega`` defaults to 1 for a trained objective and ``p`` to 1 for ``"sinkhorn"``).
        profile: ``"small"`` (default), ``"smoke"`` or ``"paper"`` (``rlsv.run.profiles``): sizes, epochs, data.
        seed: training seed (published: 218; a sweep with ``seeds=k`` uses ``218, 219, ...``).
        dataset: dataset root; None: the profile's data (``rlsv.run.data.dataset_root``).
        model: ``ModelConfig`` fields overriding the profile's model, e.g. ``{"channels": 16}``.
        train: training settings overriding the profile's (``epochs``, ``batch_size``, ``learning_rate``,
            ``max_train_tracks``) or ``TrainConfig``'s defaults (``noise_std``, ``tv_form``, ...): any of
            ``rlsv.run.train_config.OVERRIDABLE_FIELDS``.
        max_test_tracks: evaluate on the first test tracks only (None: the profile's, all).
    """

    objective: str = "tv"
    omega: float | None = None
    lam: float | None = None
    p: int | None = None
    profile: str = DEFAULT_PROFILE
    seed: int = 218
    dataset: str | None = None
    model: Mapping[str, Any] | None = None
    train: Mapping[str, Any] | None = None
    max_test_tracks: int | None = None

    def __post_init__(self) -> None:
        grid = objective_parameters(self.objective, self.omega, self.lam, self.p)
        for name in GRID_PARAMETERS:
            object.__setattr__(self, name, getattr(grid, name))
        if isinstance(self.seed, float) and self.seed == int(self.seed):
            object.__setattr__(self, "seed", int(self.seed))  # papermill may hand 218.0
        if not isinstance(self.seed, int) or isinstance(self.seed, bool) or self.seed < 0:
            raise ConfigError(f"seed must be an integer >= 0, got {self.seed!r}.")
        if self.dataset is not None:
            object.__setattr__(self, "dataset", str(self.dataset))
        object.__setattr__(self, "model", dict(self.model) if self.model else None)
        object.__setattr__(self, "train", dict(self.train) if self.train else None)
        unknown = sorted(set(self.train or {}) - set(OVERRIDABLE_FIELDS))
        if unknown:
            raise ConfigError(f"train= sets {unknown}, which a run's parameters cannot override; the overridable "
                              f"training settings are {list(OVERRIDABLE_FIELDS)}.")
        self.profile_config  # validates the profile name
        self.model_config()  # validates the model overrides
        if self.is_trained:
            self._base_config()  # validates the training settings

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "RunParameters":
        """From a flat or nested mapping (a notebook's ``run`` parameter, a sweep's overrides, ``rlsv train``'s
        options): each key goes where it is declared -- a field of this class, a ``TrainConfig`` training
        setting (into ``train``), a ``ModelConfig`` field (into ``model``). Unknown keys are an error that
        lists the known ones."""
        own = {f.name for f in fields(cls)}
        values: dict[str, Any] = {}
        train: dict[str, Any] = dict(data.get("train") or {})
        model: dict[str, Any] = dict(data.get("model") or {})
        unknown = []
        for key, value in data.items():
            value = _plain(value)
            if key in ("train", "model"):
                continue
            if key in own:
                values[key] = value
            elif key in OVERRIDABLE_FIELDS:
                if value is not None:
                    train[key] = value
            elif key in _MODEL_FIELDS:
                if value is not None:
                    model[key] = value
            else:
                unknown.append(key)
        if unknown:
            raise ConfigError(f"Unknown run settings {sorted(unknown)}; "
                              f"a run takes {sorted(own - {'train', 'model'})}, "
                              f"the training settings {list(OVERRIDABLE_FIELDS)} and the model sizes "
                              f"{sorted(_MODEL_FIELDS)}.")
        return cls(**values, train=_plain(train) or None, model=_plain(model) or None)

    @classmethod
    def for_spec(cls, spec: RunSpec, profile: str = DEFAULT_PROFILE, **values: Any) -> "RunParameters":
        """The parameters of grid point ``spec`` at ``profile``, with other settings (:meth:`from_dict` keys)."""
        return cls.from_dict({"objective": spec.objective, "omega": spec.omega, "lam": spec.lam, "p": spec.p,
                              "profile": profile, **values})

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (what a sweep hands notebooks 02 and 03 as their ``run`` parameter)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}

    # ------------------------------------------------------------------ what the run is

    @property
    def spec(self) -> RunSpec:
        return RunSpec(self.objective, self.omega, self.lam, self.p)

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
        return ModelConfig.from_dict(base.to_dict() | dataclass_kwargs(ModelConfig, self.model))

    def training_settings(self) -> dict[str, Any]:
        """The overridable training settings of the run: the profile's, then the ``train`` overrides."""
        profile = self.profile_config
        return {name: getattr(profile, name) for name in PROFILE_DEFAULTS} | dict(self.train or {})

    def _base_config(self, dataset: str | os.PathLike | None = None, **runtime: Any) -> TrainConfig:
        """The training configuration without its labels (what the labels are computed from)."""
        return TrainConfig(objective=self.objective, omega=self.omega, lam=self.lam, p=self.p, seed=self.seed,
                           model=self.model_config(), dataset=None if dataset is None else str(dataset),
                           profile=self.profile, **self.training_settings(), **runtime)

    def data_identity(self) -> str:
        """What the run trains and is evaluated on, independent of where it lies on this machine: the
        profile's own data (``"synthetic:<corpus>..."`` or ``"musdb"``) when no other dataset is given (or the
        one given is the profile's default folder), else the dataset's absolute path."""
        default = _default_data(self.profile_config)
        if self.dataset is None:
            return default[0]
        given = Path(self.dataset).expanduser().resolve()
        return default[0] if default[1] is not None and given == default[1] else str(given)

    def variant_settings(self) -> dict[str, Any]:
        """Every setting besides the grid point and the seed that changes a trained run's results (JSON
        values): the model sizes, every overridable training setting (``OVERRIDABLE_FIELDS``), and the data."""
        # the grid point aside (an STFT row shares its sweep's settings): any trained objective serves here
        base = TrainConfig(model=self.model_config(), **self.training_settings()).to_json()
        return {"model": base["model"], **{name: base[name] for name in OVERRIDABLE_FIELDS},
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
        """The run id, checked against a requested one (None: no request)."""
        if expected is not None and expected != self.run_id:
            raise ConfigError(f"run_id {expected!r} does not match these parameters, whose run is {self.run_id!r} "
                              "(docs/run_layout.md). Leave run_id=None, or use another output_root to keep runs "
                              "apart.")
        return self.run_id

    def test_tracks(self) -> int | None:
        """How many test tracks the run is evaluated on (None: all)."""
        return or_default(self.max_test_tracks, self.profile_config.max_test_tracks)

    def evaluation_settings(self) -> EvaluationSettings:
        """How the run is evaluated (recorded in ``config.json``; a sweep compares it before skipping)."""
        return EvaluationSettings(max_test_tracks=self.test_tracks(), segment_length=self.model_config().segment_length)

    def train_config(self, dataset: str | os.PathLike | None = None, device: str = "auto",
                     **runtime: Any) -> TrainConfig:
        """The ``TrainConfig`` of this run: ``dataset`` overrides ``self.dataset``; ``device`` and ``runtime``
        (``threads``, ``conv_plan``, ``tf32``, ``amp``, ``cache_dir``, ``keep_epochs``) say how it runs."""
        if not self.is_trained:
            raise ConfigError("The STFT baseline is not trained; evaluate it with run_evaluation().")
        unknown = sorted(set(runtime) - set(RUNTIME_FIELDS))
        if unknown:
            raise ConfigError(f"{unknown} are not runtime settings; those are {list(RUNTIME_FIELDS)}.")
        root = dataset if dataset is not None else self.dataset
        return self._base_config(root, device=device, run_id=self.run_id, variant=self.variant,
                                 **{k: v for k, v in runtime.items() if v is not None})

    def describe(self) -> pd.DataFrame:
        """The resolved training settings of the run, one row each: ``setting, value, role, meaning`` (the
        ``TrainConfig`` declarations' help), for notebooks and ``rlsv train --dry-run``."""
        config = self.train_config() if self.is_trained else None
        rows = []
        for f in training_fields():
            value = getattr(config, f.name) if config is not None else None
            rows.append({"setting": f.name, "value": json.dumps(_plain(value.to_dict() if isinstance(value, ModelConfig)
                                                                         else value)),
                         "role": f.metadata["role"], "meaning": f.metadata["help"]})
        return pd.DataFrame(rows)
