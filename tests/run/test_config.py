"""A run's parameters and its training configuration: each field declared once, every set derived from the
declarations, every setting routed to its place, run ids that carry the settings and nothing else."""

from __future__ import annotations

from dataclasses import fields, replace

import pytest

from rlsv.core.hyperparameters import objective_parameters
from rlsv.core.model_config import ModelConfig
from rlsv.run import train_config as tc
from rlsv.run.config import RunParameters
from rlsv.run.model_file import training_stamp
from rlsv.run.profiles import PROFILE_DEFAULTS, get_profile


def test_every_field_declares_a_role_and_help_and_the_sets_follow() -> None:
    declared = fields(tc.TrainConfig)
    assert all(f.metadata["role"] in tc.ROLES and f.metadata["help"] for f in declared)
    by_role = {role: tuple(f.name for f in declared if f.metadata["role"] == role) for role in tc.ROLES}
    assert (tc.TRAINING_FIELDS, tc.RUNTIME_FIELDS, tc.LABEL_FIELDS) == (by_role["training"], by_role["runtime"],
                                                                       by_role["label"])
    assert set(tc.TRAINING_FIELDS) | set(tc.RUNTIME_FIELDS) | set(tc.LABEL_FIELDS) == {f.name for f in declared}
    assert tc.EXTENDABLE_FIELDS == {"epochs", "run_id", "variant"}
    assert {"device", "threads", "conv_plan", "tf32", "amp", "cache_dir"} <= set(tc.RUNTIME_FIELDS)
    assert tc.RESUMABLE_FIELDS == set(tc.RUNTIME_FIELDS) | {"dataset_info"}
    assert set(tc.OVERRIDABLE_FIELDS) == set(tc.TRAINING_FIELDS) - {"objective", "omega", "lam", "p", "seed",
                                                                     "dataset", "is_wav", "model"}
    assert PROFILE_DEFAULTS == ("epochs", "batch_size", "learning_rate", "max_train_tracks")


def test_the_training_stamp_ignores_runtime_labels_and_records() -> None:
    config = tc.TrainConfig(objective="sinkhorn", lam=1.5).to_json()
    stamp = training_stamp(config)
    other_runtime = {"device": "cuda", "threads": 7, "conv_plan": "gemm", "tf32": True, "keep_epochs": [3],
                     "run_id": "x", "variant": "y", "profile": "paper", "dataset_info": {"a": 1}, "evaluation": {}}
    assert training_stamp(config | other_runtime) == stamp
    for name, value in (("lam", 2.0), ("noise_std", 0.0), ("sinkhorn_tol", 1e-6), ("seed", 1)):
        assert training_stamp(config | {name: value}) != stamp, name
    assert tc.config_differences(config, config | other_runtime) == ["evaluation", "profile", "run_id", "variant"]


def test_objective_rules_are_one_rule_everywhere() -> None:
    message = r"The tv objective \(L_A\) does not use lam=1\.5 and p=2; leave them out"
    for build in (lambda: RunParameters(objective="tv", omega=2, lam=1.5, p=2),
                  lambda: tc.TrainConfig(objective="tv", lam=1.5, p=2),
                  lambda: objective_parameters("tv", 2, 1.5, 2)):
        with pytest.raises(ValueError, match=message):
            build()
    assert objective_parameters("sinkhorn", None, 1.5, 2.0).p == 2  # p an int everywhere
    assert isinstance(RunParameters(objective="sinkhorn", lam=1.5, p=2.0).p, int)
    assert tc.TrainConfig(objective="sinkhorn", lam=1.5).p == 1 and RunParameters(objective="sinkhorn", lam=1).p == 1
    assert RunParameters(objective="tv").omega == 1.0 and RunParameters(objective="stft").omega is None
    with pytest.raises(ValueError, match="needs lam"):
        RunParameters(objective="sinkhorn")
    with pytest.raises(ValueError, match="'stft' objective|stft objective"):
        RunParameters(objective="stft", omega=1)


def test_from_dict_routes_each_setting_to_its_declaration() -> None:
    params = RunParameters.from_dict({"objective": "sinkhorn", "lam": 1.5, "profile": "smoke", "epochs": 2,
                                      "noise_std": 0.0, "channels": 16, "max_test_tracks": 1, "seed": 219.0})
    assert params.train == {"epochs": 2, "noise_std": 0.0} and params.model == {"channels": 16}
    assert params.max_test_tracks == 1 and params.seed == 219
    config = params.train_config(threads=1)
    assert (config.epochs, config.noise_std, config.model.channels, config.threads) == (2, 0.0, 16, 1)
    assert config.learning_rate == get_profile("smoke").learning_rate  # the profile's where not given
    assert RunParameters.from_dict(params.to_dict()) == params
    with pytest.raises(ValueError, match=r"Unknown run settings \['epoch'\]"):
        RunParameters.from_dict({"epoch": 2})
    with pytest.raises(ValueError, match="cannot override"):
        RunParameters(train={"seed": 3})
    with pytest.raises(ValueError, match="are not runtime settings"):
        params.train_config(epochs=3)
    described = params.describe().set_index("setting")
    assert described.at["epochs", "value"] == "2" and described.at["conv_plan", "role"] == "runtime"


def test_run_id_carries_seed_and_settings_and_nothing_else() -> None:
    base = RunParameters(objective="sinkhorn", omega=4, lam=1.5, profile="smoke")
    assert base.run_id == f"smoke-sinkhorn-p1-l1.5-w4-s218-{base.variant}"
    assert replace(base, seed=219).variant == base.variant != replace(base, train={"epochs": 7}).variant
    for changed in ({"train": {"learning_rate": 0.01}}, {"train": {"batch_size": 4}}, {"train": {"noise_std": 0.0}},
                    {"train": {"max_train_tracks": 2}}, {"model": {"channels": 8}}, {"dataset": "/somewhere/else"}):
        assert replace(base, **changed).run_id != base.run_id, changed
    # evaluation settings, how it runs and where the profile's own data lies do not change the run
    assert replace(base, max_test_tracks=1).run_id == base.run_id
    assert base.train_config(threads=1, conv_plan="gemm").run_id == base.run_id
    from rlsv.run.data import synthetic_root

    assert replace(base, dataset=str(synthetic_root("smoke"))).run_id == base.run_id
    assert replace(base, omega=4.0, lam=1.5, p=1).run_id == base.run_id  # numbers, not their spelling
    # the profile's value given explicitly is the same run as the profile's default
    assert replace(base, train={"epochs": get_profile("smoke").epochs}).run_id == base.run_id
    assert RunParameters(objective="stft").run_id == f"small-stft-{RunParameters().variant}"


def test_bad_values_are_refused_naming_the_setting() -> None:
    with pytest.raises(ValueError, match="epochs must be an integer >= 1, got 0"):  # 0 is not "the profile's"
        RunParameters(train={"epochs": 0})
    with pytest.raises(ValueError, match=r"learning_rate must be in \(0, 1\]"):
        RunParameters(train={"learning_rate": 0.0})
    with pytest.raises(ValueError, match=r"learning_rate must be in \(0, 1\]"):
        RunParameters(train={"learning_rate": 3.0})
    with pytest.raises(ValueError, match="noise_std must be a finite number >= 0, got nan"):
        RunParameters(train={"noise_std": float("nan")})
    with pytest.raises(ValueError, match="keep_epochs must be an integer >= 1, got 0"):
        tc.TrainConfig(keep_epochs=(2, 0))
    with pytest.raises(ValueError, match=r"keep_epochs \(--keep-epochs\) \[3, 99\] are not before the last"):
        tc.TrainConfig(epochs=3, keep_epochs=(1, 3, 99))  # nothing would be kept, and nothing said
    assert tc.TrainConfig(epochs=3, keep_epochs=(1, 2)).keep_epochs == (1, 2)
    with pytest.raises(ValueError, match=r"tv_form must be one of \('published', 'paper'\), got 'pape'"):
        tc.TrainConfig(tv_form="pape")
    with pytest.raises(ValueError, match="Unknown profile"):
        RunParameters(profile="huge")
    with pytest.raises(ValueError, match="Unknown ModelConfig fields"):
        RunParameters(model={"chanels": 8})
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        RunParameters(seed=-1)
    with pytest.raises(ValueError, match="does not match"):
        RunParameters(omega=1).check_run_id("my-run")
    with pytest.raises(ValueError, match=r"conv_plan \(--conv-plan\) must be"):
        tc.TrainConfig(conv_plan="fastest")
    assert tc.TrainConfig(model={"channels": 8}).model == replace(ModelConfig(), channels=8)
