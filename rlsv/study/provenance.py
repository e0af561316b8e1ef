"""The provenance of a table or figure: what made the runs behind it, gathered from their ``provenance.json``.

:func:`run_set_provenance` reads every run of a run set (``rlsv.study.results.RunSet``) and returns one
manifest: the code (rlsv version, git commit, dirty flag), torch, the machines (CPU/GPU model, cores), the
thread counts and convolution plans the runs trained with, the data (its identity and what the runs recorded
about it), the seeds and the run ids. Its ``short`` entry is one line for captions. :func:`write_provenance`
writes it as ``provenance.json`` beside the tables and the figures, and ``rlsv tables`` prints it.

Where runs disagree (two commits, two machines), every value is listed with its count of runs: a table made
from runs of different code or machines says so.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any, Iterable

from rlsv.atomic import write_json
from rlsv.run.provenance import read_provenance

__all__ = ["PROVENANCE_FILE", "run_set_provenance", "write_provenance", "short_provenance"]

PROVENANCE_FILE = "provenance.json"


def _counted(values: Iterable[Any]) -> list[dict[str, Any]]:
    """Distinct values with how many runs had each, most common first (``{"value", "runs"}``)."""
    counts = Counter(_hashable(v) for v in values)
    return [{"value": _plain(value), "runs": n} for value, n in counts.most_common()]


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value


def _plain(value: Any) -> Any:
    if isinstance(value, tuple) and value and all(isinstance(v, tuple) and len(v) == 2 for v in value):
        return {k: _plain(v) for k, v in value}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _commit_text(code: dict[str, Any]) -> str:
    commit = code.get("commit")
    if not commit:
        return f"rlsv {code.get('version')} (not a git checkout)"
    return f"rlsv {code.get('version')} @ {commit[:10]}{' (uncommitted changes)' if code.get('dirty') else ''}"


def short_provenance(manifest: dict[str, Any]) -> str:
    """One line for captions: code, torch, machine, threads and plan, data, seeds and runs (the most common
    value of each, with ``+N more`` where runs differ)."""
    def first(key: str, render=str) -> str:
        entries = manifest.get(key) or []
        if not entries:
            return "unknown"
        more = f" (+{len(entries) - 1} more)" if len(entries) > 1 else ""
        return render(entries[0]["value"]) + more

    seeds = manifest.get("seeds") or []
    seed_text = f"seeds {', '.join(map(str, seeds))}" if seeds else "no seeds"
    return (f"{first('code', _commit_text)}; torch {first('torch')}; {first('machine')}; "
            f"{first('threads', lambda t: f'{t} thread' + ('s' if t != 1 else ''))}, conv plan {first('conv_plan')}; "
            f"data {first('data')}; {seed_text}; {len(manifest.get('runs') or [])} runs")


def run_set_provenance(run_set: Any) -> dict[str, Any]:
    """The manifest of a run set's runs (module docstring): ``short``, ``code``, ``torch``, ``machine``,
    ``threads``, ``conv_plan``, ``data``, ``data_records``, ``seeds``, ``runs``, and ``missing`` (runs that
    recorded no provenance: made by an older rlsv, or not trained, like the STFT row). Only the runs whose results
    are in the run set's segments count (a run still training, or killed, is in no table); they are listed as
    ``unfinished``."""
    runs, missing, unfinished = [], [], []
    finished = set(run_set.segments["run_id"]) if "run_id" in run_set.segments else set()
    for run in sorted(run_set.runs, key=lambda r: r.run_id):
        if run.run_id not in finished:
            unfinished.append(run.run_id)
            continue
        record = read_provenance(run.path)
        if not record or not record.get("sessions"):
            missing.append(run.run_id)
            continue
        session = record["sessions"][-1]
        machine = session.get("machine") or {}
        runs.append({"run_id": run.run_id, "seed": record.get("seed"), "code": record.get("rlsv"),
                     "torch": machine.get("torch"),
                     "machine": f"{machine.get('device_name')} ({machine.get('cores')} cores, {machine.get('device')})",
                     "threads": session.get("threads"),
                     "conv_plan": f"{(session.get('conv_plan') or {}).get('plan')} "
                                  f"({(session.get('conv_plan') or {}).get('how')})",
                     "sessions": len(record["sessions"]),
                     "data": _data_text(record.get("data") or {}, run.config),
                     "data_record": _data_summary(record.get("data") or {})})
    manifest: dict[str, Any] = {
        "profile": run_set.profile, "variant": run_set.variant,
        **{key: _counted(r[key] for r in runs) for key in ("code", "torch", "machine", "threads", "conv_plan",
                                                            "data")},
        "data_records": _counted(r["data_record"] for r in runs),
        "seeds": sorted({int(r["seed"]) for r in runs if r["seed"] is not None}),
        "runs": [{k: r[k] for k in ("run_id", "seed", "threads", "conv_plan", "sessions")} for r in runs],
        "missing": missing,
        "unfinished": unfinished,
    }
    manifest["short"] = short_provenance(manifest)
    return manifest


def _data_text(data: dict[str, Any], config: dict[str, Any]) -> str:
    """The data in a few words: its kind and tracks, and the start of its content hash."""
    fingerprint = data.get("fingerprint") or {}
    digest = f", sha256 {fingerprint['sha256'][:12]}" if fingerprint.get("sha256") else ""
    return _data_identity(config) + digest


def _data_summary(data: dict[str, Any]) -> dict[str, Any]:
    """What a run recorded about its data, without the per-file hashes (they stay in the run's provenance.json):
    format, tracks, synthetic parameters, the content hash and the tracks' hashes."""
    fingerprint = data.get("fingerprint") or {}
    return {**{k: v for k, v in data.items() if k != "fingerprint"},
            "sha256": fingerprint.get("sha256"), "synthetic_parameters": fingerprint.get("synthetic"),
            "tracks": {subset: {t["name"]: t["sha256"] for t in tracks}
                       for subset, tracks in (fingerprint.get("subsets") or {}).items()}}


def _data_identity(config: dict[str, Any]) -> str:
    info = config.get("dataset_info") or {}
    tracks = info.get("tracks") or {}
    kind = "synthetic corpus" if info.get("synthetic") else info.get("format", "data")
    return f"{kind} {config.get('dataset')} ({tracks.get('train', '?')} train tracks)"


def write_provenance(run_set: Any, out_dir: str | Path) -> dict[str, Any]:
    """Write :func:`run_set_provenance` as ``out_dir/provenance.json``; return it."""
    manifest = run_set_provenance(run_set)
    write_json(manifest, Path(out_dir) / PROVENANCE_FILE)
    return manifest
