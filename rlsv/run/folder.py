"""One run folder, read one way: :class:`RunFolder` (``docs/run_layout.md``).

Every command that reads a run folder -- evaluate, the tables and figures, the sweeps, the separators, verify --
reads its JSON files through :func:`read_json_object` and its configuration through :class:`RunFolder`, so a
missing, damaged or foreign file fails the same way everywhere: one :class:`~rlsv.errors.RunFolderError` that
names the file and says what to do.

A run folder is either a **grid run** -- named by its run id, as sweeps and notebooks name theirs under a runs
root -- or a **standalone run**, a folder of the user's choosing (``rlsv train FOLDER``); both carry their run
id and settings hash in ``config.json``. Tables and figures gather grid runs (a standalone copy of a run would
count twice); ``rlsv status`` lists both.
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import Any

from rlsv.errors import RunFolderError
from rlsv.run.files import CONFIG, STATUS
from rlsv.run.spec import RunSpec, run_id

__all__ = ["read_json_object", "RunFolder"]


def read_json_object(path: str | Path, what: str = "file") -> dict[str, Any]:
    """A JSON file holding an object; a :class:`RunFolderError` naming it when it is missing, unreadable, not
    JSON or not an object."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{path} is missing ({what}).") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise RunFolderError(f"{path} is not valid JSON ({error}); restore it, or delete the run folder and rerun "
                             "the run.") from None
    if not isinstance(data, dict):
        raise RunFolderError(f"{path} must hold a JSON object, got {type(data).__name__}; restore it, or delete "
                             "the run folder and rerun the run.")
    return data


class RunFolder:
    """A run folder: its ``config.json`` (read once), its identity, and whether it is a grid run."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    @cached_property
    def config(self) -> dict[str, Any]:
        """``config.json``; a :class:`RunFolderError` naming it (and saying to train the run first) when absent."""
        if not (self.path / CONFIG).is_file():
            raise RunFolderError(f"No {CONFIG} in {self.path}: not a run folder, or a run that never started; train "
                                 "the run first (rlsv train, or notebook 02).")
        return read_json_object(self.path / CONFIG, "the run's configuration")

    def status(self) -> dict[str, Any] | None:
        """``status.json`` as it is, or None when absent (a run trained by hand) -- a damaged one is an error."""
        if not (self.path / STATUS).is_file():
            return None
        return read_json_object(self.path / STATUS, "the run's state")

    @property
    def run_id(self) -> str:
        return str(self.config.get("run_id") or "")

    @property
    def is_grid_run(self) -> bool:
        """Named by its run id (a sweep's or a notebook's folder under a runs root)."""
        return self.path.name == self.run_id

    def identity_problem(self) -> str | None:
        """Why ``config.json`` does not identify a run of ``docs/run_layout.md`` (None: it does): its run id
        must be the one its grid point, profile, seed and settings hash give."""
        config = self.config
        missing = [key for key in ("run_id", "profile", "objective") if key not in config]
        if missing:
            return f"lacks {missing}"
        if not config.get("variant"):
            return ("a run made by an older rlsv, whose run ids carried neither the seed nor a hash of the settings "
                    "(docs/run_layout.md); its results cannot be told apart from other settings' runs. Delete the "
                    "folder, or rerun the sweep into another runs root")
        seed = config.get("seed")
        try:
            expected = run_id(RunSpec.from_config(config), str(config["profile"]), None if seed is None else int(seed),
                              str(config["variant"]))
        except ValueError as error:
            return str(error)
        if config["run_id"] != expected:
            return f"run_id {config['run_id']!r} must be {expected!r} for this configuration"
        return None
