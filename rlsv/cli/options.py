"""Command-line options made from declarations: ``rlsv train``'s options are ``TrainConfig``'s fields.

Each option's name, type, allowed values, lower bound and help come from the field's declaration
(``rlsv.run.train_config.setting``), so a setting added there appears here with no edit. Values are checked
where they are parsed: argparse names the option (``argument --epochs: expected a whole number >= 1, got 0``).
Every option defaults to None ("not given": the profile's value, or the declaration's default).
"""

from __future__ import annotations

import argparse
import os
from dataclasses import MISSING, Field
from typing import Any, Callable, Iterable

from rlsv.run.train_config import number_bound, training_fields

__all__ = ["path_arg", "number", "positive_int", "non_negative_int", "positive_float", "non_negative_float", "int_list",
           "add_declared_options", "declared_values"]


def number(text: str, kind: type, lowest: float | None, inclusive: bool, what: str) -> float:
    """An argparse value: ``kind`` parsed from ``text``, finite, at least (or above) ``lowest``. argparse
    prefixes the option's name to the message (``argument --seed: ...``)."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    finite = value == value and value not in (float("inf"), float("-inf"))
    if not finite or (lowest is not None and (value < lowest or (value == lowest and not inclusive))):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer >= 1."""
    return int(number(text, int, 1, True, "a whole number >= 1"))


def non_negative_int(text: str) -> int:
    """An argparse type: an integer >= 0."""
    return int(number(text, int, 0, True, "a whole number >= 0"))


def positive_float(text: str) -> float:
    """An argparse type: a finite number > 0."""
    return number(text, float, 0.0, False, "a finite number > 0")


def non_negative_float(text: str) -> float:
    """An argparse type: a finite number >= 0."""
    return number(text, float, 0.0, True, "a finite number >= 0")


def int_list(text: str) -> tuple[int, ...]:
    """An argparse type: whole numbers >= 1, comma-separated (``5,10``)."""
    return tuple(positive_int(part.strip()) for part in text.split(",") if part.strip())


def path_arg(text: str) -> str:
    """An argparse type for a file or folder: ``~`` expanded as a shell would, an empty value refused (it would
    mean the current folder without saying so)."""
    if not text.strip():
        raise argparse.ArgumentTypeError("expected a path, got an empty value")
    return os.path.expanduser(text)


def _checked_text(parse: Callable[[str], Any]) -> Callable[[str], str]:
    """An argparse type that keeps the text once ``parse`` accepts it (its ``ConfigError`` becomes argparse's)."""
    def check(text: str) -> str:
        try:
            parse(text)
        except ValueError as error:
            raise argparse.ArgumentTypeError(str(error)) from None
        return text

    return check


def _value_type(field: Field) -> Callable[[str], Any] | None:
    """The argparse type of a declared field, from its annotation and lower bound (None: a flag)."""
    annotation = str(field.type)
    if field.metadata.get("parse") is not None:
        return _checked_text(field.metadata["parse"])
    if annotation.startswith("bool"):
        return None
    if annotation.startswith("tuple[int"):
        return int_list
    bound = number_bound(field)
    if bound is not None:
        lowest, inclusive, whole = bound
        what = f"{'a whole number' if whole else 'a finite number'} {'>=' if inclusive else '>'} {lowest:g}"
        return lambda text: (int if whole else float)(number(text, int if whole else float, lowest, inclusive, what))
    if annotation.startswith("float"):
        return lambda text: number(text, float, None, True, "a finite number")
    return str


def _default_text(field: Field, profile_defaults: Iterable[str]) -> str:
    if field.name in profile_defaults:
        return "the profile's"
    if field.default is MISSING or field.default is None or isinstance(field.default, bool):
        return ""
    return str(field.default)


def add_declared_options(parser: argparse.ArgumentParser | Any, names: Iterable[str],
                         profile_defaults: Iterable[str] = ()) -> list[str]:
    """Add one option per ``TrainConfig`` field in ``names`` (in declaration order); return the ``dest`` names.

    ``profile_defaults``: fields whose default is the profile's (said in the help).
    """
    wanted = set(names)
    added = []
    for field in training_fields():
        if field.name not in wanted:
            continue
        options = field.metadata["options"] or (f"--{field.name.replace('_', '-')}",)
        default = _default_text(field, profile_defaults)
        help_text = field.metadata["help"] + (f" (default {default})" if default else "")
        kind = _value_type(field)
        if kind is None:
            parser.add_argument(*options, dest=field.name, action="store_true", default=None, help=help_text)
        else:
            choices = field.metadata["choices"]
            parser.add_argument(*options, dest=field.name, type=kind, choices=choices, default=None,
                                metavar=None if choices else field.name.upper(), help=help_text)
        added.append(field.name)
    return added


def declared_values(args: argparse.Namespace, names: Iterable[str]) -> dict[str, Any]:
    """The declared options the user gave (None values dropped)."""
    return {name: getattr(args, name) for name in names if getattr(args, name, None) is not None}

