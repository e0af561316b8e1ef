"""The provenance of the results, as the report shows it: ``provenance.json`` beside the tables and the
figures (written by ``rlsv reproduce``), read as they are.

Each file is a JSON object with a one-line ``"short"`` summary and nested details (versions, git commit,
machine, threads, convolution plan, data fingerprint, seeds, run ids). The report prints ``short``
prominently and the rest as a listing of dotted keys (``versions.torch``); nothing is invented when a
file is absent: the page says it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

__all__ = ["SHORT", "ProvenanceFile", "flatten", "provenance_files"]

SHORT = "short"
_LONG_LIST = 8  # lists longer than this are shown one item per line


@dataclass(frozen=True)
class ProvenanceFile:
    """One ``provenance.json``: what it describes (``tables`` / ``figures``), where it is (shown as
    ``shown_path``), its ``short`` line and its other entries as ``(dotted key, value text)`` rows;
    ``present`` is False when the file is absent (then ``short`` and ``rows`` are empty)."""

    what: str
    shown_path: str
    present: bool
    short: str = ""
    rows: tuple[tuple[str, str], ...] = ()


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        items = [_text(v) for v in value]
        return ("\n".join(items) if len(items) > _LONG_LIST else ", ".join(items)) or "(none)"
    return json.dumps(value, ensure_ascii=False)


def flatten(data: Any, prefix: str = "") -> Iterator[tuple[str, str]]:
    """``(dotted key, value text)`` for every leaf of nested objects; lists of plain values stay one row."""
    if isinstance(data, dict):
        if not data and prefix:
            yield prefix, "(none)"
        for key, value in data.items():
            yield from flatten(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list) and any(isinstance(v, (dict, list)) for v in data):
        for i, value in enumerate(data):
            yield from flatten(value, f"{prefix}[{i}]")
    else:
        yield prefix, _text(data)


def provenance_files(found: dict[str, tuple[Path, dict[str, Any] | None]], shown: dict[str, str]
                     ) -> list[ProvenanceFile]:
    """:class:`ProvenanceFile` per entry of ``ReportSources.provenance()``; ``shown``: the path to print for each."""
    files = []
    for what, (_, data) in found.items():
        if data is None:
            files.append(ProvenanceFile(what, shown[what], False))
            continue
        rest = {key: value for key, value in data.items() if key != SHORT}
        short = data.get(SHORT)
        files.append(ProvenanceFile(what, shown[what], True, short if isinstance(short, str) else _text(short or ""),
                                    tuple(flatten(rest))))
    return files
