"""The errors a user can fix, in one family: :class:`UserError` and its kinds.

Every error rlsv raises for something the user controls -- an option or parameter value, a dataset, an
audio file, a run folder, a file it cannot write -- is a :class:`UserError` whose message names the
file or option and says what to do. The command line (``rlsv.cli``) prints a ``UserError`` as one line
and exits with 2; every other exception is a bug (ours, or in a library) and keeps its traceback.

``UserError`` subclasses ``ValueError``, so code that caught ``ValueError`` for bad input still does.
This module is the package's lowest layer: everything may import it, it imports nothing of rlsv.
"""

from __future__ import annotations

import errno
import os

__all__ = ["UserError", "ConfigError", "DatasetError", "AudioFileError", "RunFolderError", "FileWriteError",
           "file_error"]


class UserError(ValueError):
    """Something the user has to fix; the message names the file or option and says how."""


class ConfigError(UserError):
    """A bad option, parameter or configuration value (a hyper-parameter, a profile, a seed, a device...)."""


class DatasetError(UserError):
    """A problem with a dataset (MUSDB18, MUSDB18-HQ or a synthetic corpus): missing, mislaid, too short,
    undecodable, or its stems do not add up to its mixture."""


class AudioFileError(UserError):
    """An audio file that cannot be used: missing, unreadable or empty."""


class RunFolderError(UserError):
    """A run folder whose files are missing, damaged, or belong to another run (``docs/run_layout.md``)."""


class FileWriteError(UserError):
    """A file rlsv could not write (no space left, no permission, a read-only folder); nothing half-written
    is left behind."""


_REASONS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "the disk quota is exceeded",
            errno.EACCES: "permission denied", errno.EPERM: "operation not permitted",
            errno.EROFS: "the file system is read-only"}


def file_error(path: str | os.PathLike, error: OSError, action: str = "write") -> FileWriteError:
    """A :class:`FileWriteError` for the ``OSError`` met while trying to ``action`` ``path``: one line naming
    the file, the reason in words (``no space left on the device``) and what to do."""
    reason = _REASONS.get(error.errno or -1, error.strerror or str(error))
    advice = ("free some space (or choose a folder on another disk) and rerun" if error.errno in (errno.ENOSPC,
              errno.EDQUOT) else "check the folder's permissions, or choose another folder, and rerun")
    return FileWriteError(f"cannot {action} {os.fspath(path)}: {reason}; {advice}.")
