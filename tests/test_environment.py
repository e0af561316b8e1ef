"""environment.yml (conda) and pyproject.toml (pip) must describe the same dependencies."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib
import yaml

ROOT = Path(__file__).resolve().parents[1]
# conda-forge package name -> PyPI distribution name, where they differ
CONDA_TO_PYPI = {"pytorch": "torch", "pysoundfile": "soundfile"}
CONDA_ONLY = {"python", "ffmpeg", "pip"}


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in reqs)


def _environment() -> tuple[dict[str, str], dict]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda = {}
    pip_section = {}
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip_section = dep
            continue
        name, spec = _split(dep.replace("=", "==", 1) if re.match(r"^[^<>=]+=[^=]", dep) else dep)
        conda[CONDA_TO_PYPI.get(name, name)] = spec
    return conda, {"env": env, "pip": pip_section}


def test_same_packages_and_versions() -> None:
    conda, _ = _environment()
    pypi = _pyproject()
    conda_deps = {k: v for k, v in conda.items() if k not in CONDA_ONLY}
    assert conda_deps == pypi


def test_conda_environment_provides_python_311_ffmpeg_and_the_package() -> None:
    conda, extra = _environment()
    assert conda["python"] == "==3.11"
    assert "ffmpeg" in conda
    assert "conda-forge" in extra["env"]["channels"]
    assert "-e ." in extra["pip"]["pip"]
