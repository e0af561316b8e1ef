"""What a training run is: :class:`TrainConfig`, each field declared once with its role, and the field sets
every other module derives from those roles.

Every field of :class:`TrainConfig` carries metadata (:func:`setting`): its **role**, a one-line **help**
(shown by ``rlsv train --help``, ``RunParameters.describe()`` and the notebooks) and, where the command line
spells it differently, its option names. The roles:

* ``training`` -- changes the trained weights (the method, its hyper-parameters, the data, the seed). A run's
  training stamp hashes exactly these (``rlsv.run.model_file.training_stamp``), a resumed run must match them,
  and a run's settings hash (its ``variant``) covers those a sweep may set (:data:`OVERRIDABLE_FIELDS`).
* ``runtime`` -- where and how the arithmetic runs: device, threads, TF32, autocast, the convolution plan,
  the decode cache. They may change between a run and its resumption; some change the float order (not the
  method), so a run records what it used (``rlsv.run.provenance``) and ``rlsv verify`` re-derives it with them.
* ``label`` -- the names a run carries (``run_id``, ``profile``, ``variant``).

Adding a hyper-parameter is one edit here (a field with its role and help) and one where it acts (e.g.
``rlsv.core.step``): the sets below, the training stamp, the settings hash, the resume checks, the
``rlsv train`` options and ``RunParameters`` follow from the declaration.
"""

from __future__ import annotations

import json
import math
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any, Mapping

from rlsv.core.hyperparameters import (
    GRID_PARAMETERS,
    SINKHORN_GRADIENTS,
    TRAINED_OBJECTIVES,
    TV_FORMS,
    objective_parameters,
)
from rlsv.core.model_config import ModelConfig
from rlsv.errors import ConfigError
from rlsv.run.conv_plan import parse_conv_plan

if TYPE_CHECKING:  # torch-free to import: `rlsv --help` builds its options from these declarations
    from rlsv.audio.segments import TrainingSegmentation
    from rlsv.core.losses import Objective

__all__ = ["TRAINING", "RUNTIME", "LABEL", "ROLES", "setting", "TrainConfig", "fields_of_role", "TRAINING_FIELDS",
           "RUNTIME_FIELDS", "LABEL_FIELDS", "EXTENDABLE_FIELDS", "RECORDS", "RESUMABLE_FIELDS",
           "OVERRIDABLE_FIELDS", "config_differences", "training_fields", "number_bound"]

TRAINING, RUNTIME, LABEL = "training", "runtime", "label"
ROLES: tuple[str, ...] = (TRAINING, RUNTIME, LABEL)


def setting(default: Any = MISSING, *, role: str, help: str, default_factory: Any = MISSING,
            extendable: bool = False, options: tuple[str, ...] = (), choices: tuple[Any, ...] | None = None,
            low: tuple[float, bool] | None = None, parse: Any = None) -> Any:
    """A :class:`TrainConfig` field with its metadata.

    Args:
        default, default_factory: as ``dataclasses.field``.
        role: :data:`TRAINING`, :data:`RUNTIME` or :data:`LABEL` (module docstring).
        help: one line for ``--help``, ``describe()`` and the docs.
        extendable: a shorter run may differ from the run that extends it in this field (the epochs, and the
            labels that encode them).
        options: the command-line spellings (default ``--<name with dashes>``).
        choices: the allowed values, taken from the module that rules them.
        low: ``(lowest, inclusive)`` bound of a number (whole numbers default to ``(1, True)``).
        parse: a function that checks a text value (raising ``ConfigError``), for values richer than choices.
    """
    if role not in ROLES:
        raise ValueError(f"role must be one of {ROLES}, got {role!r}")
    metadata = {"role": role, "help": help, "extendable": extendable, "options": options, "choices": choices,
                "low": low, "parse": parse}
    if default_factory is not MISSING:
        return field(default_factory=default_factory, metadata=metadata)
    return field(default=default, metadata=metadata)


def number_bound(declared: Field) -> tuple[float, bool, bool] | None:
    """``(lowest, inclusive, whole)`` of a numeric :class:`TrainConfig` field: its declared ``low`` (whole
    numbers default to ``>= 1``); None for a field that is not a number (or a float without a bound). The one
    rule behind both the command line's option types and :meth:`TrainConfig.__post_init__`."""
    annotation, low = str(declared.type), declared.metadata.get("low")
    if declared.metadata.get("parse") is not None or annotation.startswith("bool"):
        return None
    if annotation.startswith(("int", "tuple[int")):
        return (*(low if low is not None else (1, True)), True)
    if annotation.startswith("float") and low is not None:
        return (*low, False)
    return None


def _check_number(name: str, value: Any, lowest: float, inclusive: bool, whole: bool) -> None:
    """Raise ``ConfigError`` unless ``value`` is a whole (or finite) number at least (or above) ``lowest``."""
    kind_ok = isinstance(value, int) if whole else isinstance(value, (int, float)) and math.isfinite(value)
    if isinstance(value, bool) or not kind_ok or value < lowest or (value == lowest and not inclusive):
        raise ConfigError(f"{name} must be {'an integer' if whole else 'a finite number'} "
                          f"{'>=' if inclusive else '>'} {lowest:g}, got {value!r}.")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run (its ``config.json``); each field's role and help is its metadata.

    Defaults are the published code's (``docs/paper_vs_code.md``): Adam 1e-4, batches of 8, seed 218, noise
    1e-4 on the vocal input, 10 epochs, 50 % segment overlap, sets of 4 tracks.
    """

    objective: str = setting("tv", role=TRAINING, help="tv = L_A (total variation), sinkhorn = L_B (Sinkhorn)",
                             choices=TRAINED_OBJECTIVES)
    omega: float | None = setting(None, role=TRAINING, low=(0, True),
                                  help="ω: weight of the representation term (default 1)")
    lam: float | None = setting(None, role=TRAINING, low=(0, False),
                                help="λ: Sinkhorn entropic regularisation (L_B only, required)")
    p: int | None = setting(None, role=TRAINING, help="Sinkhorn cost norm, 1 or 2 (L_B only; default 1)",
                            choices=(1, 2))
    epochs: int = setting(10, role=TRAINING, extendable=True, help="passes over the training tracks")
    batch_size: int = setting(8, role=TRAINING, help="segments per Adam step")
    learning_rate: float = setting(1e-4, role=TRAINING, low=(0, False), options=("--lr",),
                                   help="Adam learning rate")
    seed: int = setting(218, role=TRAINING, low=(0, True), help="training seed (218 is the published one)")
    noise_std: float = setting(1e-4, role=TRAINING, low=(0, True),
                               help="std of the Gaussian noise added to the vocal input")
    model: ModelConfig = setting(role=TRAINING, default_factory=ModelConfig, help="autoencoder sizes and init")
    hop: int | None = setting(None, role=TRAINING, help="training segment hop in samples (default half a segment)")
    set_size: int = setting(4, role=TRAINING, help="training tracks shuffled together")
    pad_sets_with_silence: bool = setting(False, role=TRAINING,
                                          help="reproduce the published all-zero padding of each set")
    dataset: str | None = setting(None, role=TRAINING, help="data root (default: the profile's)")
    is_wav: bool | None = setting(None, role=TRAINING, help="MUSDB18-HQ wav folders (default: detect)")
    max_train_tracks: int | None = setting(None, role=TRAINING, options=("--max-tracks",),
                                           help="use only the first training tracks")
    tv_form: str = setting("published", role=TRAINING, choices=TV_FORMS,
                           help="total variation as the published code (L2 norms) or as Eq. 4 (paper)")
    sinkhorn_grad: str = setting("implicit", role=TRAINING, choices=SINKHORN_GRADIENTS,
                                 help="gradient of L_SK: implicit (exact, the published one), unrolled, or envelope "
                                      "(plan held fixed; not the published gradient)")
    sinkhorn_max_iter: int = setting(1000, role=TRAINING, help="Sinkhorn iteration limit")
    sinkhorn_tol: float = setting(1e-5, role=TRAINING, low=(0, True),
                                  help="Sinkhorn stopping tolerance (column-marginal error)")
    device: str = setting("auto", role=RUNTIME, help="auto (CUDA when present), cpu, cuda, cuda:N")
    threads: int | None = setting(None, role=RUNTIME, help="torch CPU threads (default: torch's)")
    conv_plan: str = setting("fixed", role=RUNTIME, parse=parse_conv_plan,
                             help="how the convolutions are computed: fixed (the device's fixed plan, default), "
                                  "auto (timed once per machine and kept), gemm, direct, or three methods "
                                  "'analysis,context,synthesis'")
    tf32: bool = setting(False, role=RUNTIME, help="allow TF32 on CUDA")
    amp: bool = setting(False, role=RUNTIME, help="bfloat16 autocast for the model on CUDA")
    cache_dir: str | None = setting(None, role=RUNTIME, help="decode cache folder")
    keep_epochs: tuple[int, ...] | None = setting(None, role=RUNTIME,
                                                  help="epochs whose checkpoint is kept for `rlsv verify --from-epoch` "
                                                       "(default: the middle epoch)")
    run_id: str = setting("", role=LABEL, extendable=True, help="the run's name (docs/run_layout.md)")
    profile: str = setting("custom", role=LABEL, help="the profile the run's sizes came from")
    variant: str = setting("", role=LABEL, extendable=True, help="short hash of the run's settings")

    def __post_init__(self) -> None:
        if self.objective not in TRAINED_OBJECTIVES:
            raise ConfigError(f"Unknown objective {self.objective!r}: use 'tv' (L_A) or 'sinkhorn' (L_B).")
        grid = objective_parameters(self.objective, self.omega, self.lam, self.p)
        for name in GRID_PARAMETERS:
            object.__setattr__(self, name, getattr(grid, name))
        if isinstance(self.model, Mapping):
            object.__setattr__(self, "model", ModelConfig.from_dict(self.model))
        if self.keep_epochs is not None:
            object.__setattr__(self, "keep_epochs", tuple(self.keep_epochs))
        if not (isinstance(self.learning_rate, (int, float)) and 0 < self.learning_rate <= 1):  # NaN fails too
            raise ConfigError(f"learning_rate must be in (0, 1] (Adam moves each weight by about the learning rate "
                              f"per step; the paper uses 1e-4), got {self.learning_rate!r}.")
        for declared in fields(self):  # every declared lower bound (``setting(low=...)``)
            bound, value = number_bound(declared), getattr(self, declared.name)
            for one in (() if bound is None or value is None else value if isinstance(value, tuple) else (value,)):
                _check_number(declared.name, one, *bound)
        if self.hop is not None and not 1 <= self.hop <= self.model.segment_length:
            raise ConfigError(f"hop must be in [1, segment_length={self.model.segment_length}], got {self.hop}.")
        parse_conv_plan(self.conv_plan)  # a ConfigError names the option
        beyond = [epoch for epoch in self.keep_epochs or () if epoch >= self.epochs]
        if beyond:
            raise ConfigError(f"keep_epochs (--keep-epochs) {beyond} are not before the last epoch ({self.epochs}): "
                              f"a run keeps checkpoints of epochs 1 to {self.epochs - 1} (its last epoch is model.pt "
                              "itself).")
        for declared in fields(self):  # every declared set of allowed values (``setting(choices=...)``)
            allowed, value = declared.metadata.get("choices"), getattr(self, declared.name)
            if allowed is not None and value is not None and value not in allowed:
                raise ConfigError(f"{declared.name} must be one of {allowed}, got {value!r}.")

    def loss_objective(self) -> "Objective":
        """The ``rlsv.core.losses.Objective`` of this run."""
        from rlsv.core.losses import Objective

        return Objective(kind=self.objective, omega=self.omega, lam=self.lam if self.lam is not None else 1.0,
                         p=self.p if self.p is not None else 1, tv_form=self.tv_form,
                         sinkhorn_grad=self.sinkhorn_grad, max_iter=self.sinkhorn_max_iter, tol=self.sinkhorn_tol)

    def segmentation(self) -> "TrainingSegmentation":
        """How the training tracks become batches."""
        from rlsv.audio.segments import TrainingSegmentation

        n = self.model.segment_length
        return TrainingSegmentation(segment_length=n, hop=self.hop or n // 2, set_size=self.set_size,
                                    batch_size=self.batch_size, pad_sets_with_silence=self.pad_sets_with_silence)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> dict[str, Any]:
        """The configuration as plain JSON types (as stored in checkpoints and ``config.json``)."""
        return json.loads(json.dumps(self.to_dict()))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """The configuration of a ``config.json`` mapping (its records, such as ``dataset_info``, ignored);
        a field an older rlsv did not write takes its default."""
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def fields_of_role(role: str) -> tuple[str, ...]:
    """The :class:`TrainConfig` fields of ``role``, in declaration order."""
    return tuple(f.name for f in fields(TrainConfig) if f.metadata["role"] == role)


def training_fields() -> tuple[Field, ...]:
    """The ``dataclasses.Field`` objects of :class:`TrainConfig` (metadata included), for option builders."""
    return fields(TrainConfig)


TRAINING_FIELDS: tuple[str, ...] = fields_of_role(TRAINING)
RUNTIME_FIELDS: tuple[str, ...] = fields_of_role(RUNTIME)
LABEL_FIELDS: tuple[str, ...] = fields_of_role(LABEL)
EXTENDABLE_FIELDS: frozenset[str] = frozenset(f.name for f in fields(TrainConfig) if f.metadata["extendable"])
RECORDS: tuple[str, ...] = ("dataset_info", "evaluation")
"""Keys ``config.json`` holds beside the configuration: what was recorded about the data, and how the run was
evaluated (``rlsv.run.evaluate.EVALUATION``; a sweep compares it to decide whether to evaluate again)."""
RESUMABLE_FIELDS: frozenset[str] = frozenset(RUNTIME_FIELDS) | {"dataset_info"}
"""What may differ between a run and its resumption without changing its method (the evaluation settings do
differ, and count: a sweep evaluates a run again when they changed)."""
OVERRIDABLE_FIELDS: tuple[str, ...] = tuple(name for name in TRAINING_FIELDS
                                            if name not in (*GRID_PARAMETERS, "objective", "seed", "dataset",
                                                            "is_wav", "model"))
"""Training fields a run's parameters may set besides its grid point, seed, data and model sizes
(``RunParameters.train``): the epochs, batch size, learning rate, ... -- each part of the run's settings hash."""


def config_differences(stored: Mapping[str, Any], current: Mapping[str, Any]) -> list[str]:
    """The fields in which two run configurations (``config.json`` mappings) differ, ignoring
    :data:`RESUMABLE_FIELDS` (``conv_plan`` of an older run, a dict, is a runtime field too)."""
    keys = (stored.keys() | current.keys()) - RESUMABLE_FIELDS
    return sorted(k for k in keys if stored.get(k) != current.get(k))
