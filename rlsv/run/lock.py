"""An exclusive lock on one run folder: two sweeps never work on the same run at the same time.

A sweep holds the lock of a run for the whole run (training and evaluation, ``rlsv.study.sweeps.execute_run``),
so two sweeps sharing a runs root (``table1`` and ``figure3`` in two terminals, or a re-run of
``rlsv sweep`` on a SLURM login node while the job array is still running) cannot both train it.

The lock is the file ``<run dir>/run.lock`` (:data:`LOCK_FILE`), created with ``O_CREAT | O_EXCL``
(atomic, also on NFS v3+), holding the holder's host, process id, start time and a random token; it
is removed when the run ends (:func:`run_lock`). A lock left behind by a process that died is
*stale* and is broken by the next claim:

* on the same host, when its process no longer exists, or when its process id now belongs to another
  process (recycled after the holder died, or after a reboot): the lock records the holder's
  :func:`process_identity`, its boot and start time;
* from another host (a SLURM node), only when it is older than ``max_age_s``
  (:data:`FOREIGN_LOCK_MAX_AGE_S`, 48 h: longer than any sensible per-run time limit), or with
  ``force=True`` (``rlsv sweep --force``), since that process cannot be checked from here;
* a lock file that cannot be read (its writer died between creating and writing it) after
  :data:`UNREADABLE_LOCK_GRACE_S`.

A SLURM job records its job id in the lock; when the sweep that submitted it learns that the job
was killed (time limit, node failure), it removes that job's lock (:func:`release_lock_of_job`),
so the run is retried by the next sweep.

Breaking renames the stale file away first and checks that it was the stale one, so two claims
that break the same stale lock at once do not both end up running the run.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from rlsv.run.files import LOCK

__all__ = [
    "LOCK_FILE",
    "FOREIGN_LOCK_MAX_AGE_S",
    "UNREADABLE_LOCK_GRACE_S",
    "LockHolder",
    "RunBusyError",
    "read_lock",
    "process_identity",
    "process_alive_here",
    "is_stale",
    "run_lock",
    "release_lock_of_job",
]

LOCK_FILE = LOCK  # the run-folder file name, rlsv.run.files.LOCK
FOREIGN_LOCK_MAX_AGE_S = 48 * 3600.0
UNREADABLE_LOCK_GRACE_S = 60.0
_CLAIM_ATTEMPTS = 3


def _scheduler_job() -> str:
    """The SLURM job this process runs in, as submitit names it (``<array>_<task>`` or ``<job>``);
    ``""`` outside SLURM."""
    array, task = os.environ.get("SLURM_ARRAY_JOB_ID"), os.environ.get("SLURM_ARRAY_TASK_ID")
    return f"{array}_{task}" if array and task else os.environ.get("SLURM_JOB_ID", "")


@dataclass(frozen=True)
class LockHolder:
    """Who holds a run's lock: ``host``, process ``pid``, ``started`` (Unix time), its ``token`` and
    the SLURM ``job`` it runs in (``""`` outside SLURM).

    ``pid`` is -1 for a lock file that could not be read (``started`` is then the file's mtime).
    """

    host: str
    pid: int
    started: float
    token: str = ""
    job: str = ""
    process: str = ""  # process_identity(pid) when the lock was taken ("" for locks of older versions)

    @classmethod
    def this_process(cls) -> "LockHolder":
        return cls(socket.gethostname(), os.getpid(), time.time(), secrets.token_hex(8), _scheduler_job(),
                   process_identity(os.getpid()) or "")

    @property
    def age_s(self) -> float:
        return max(0.0, time.time() - self.started)

    def describe(self) -> str:
        """One line for the sweep report, e.g. ``process 123 on node7 since 2025-01-01T10:00:00+00:00``."""
        since = datetime.fromtimestamp(self.started, timezone.utc).isoformat(timespec="seconds")
        who = "an unreadable lock" if self.pid < 0 else f"process {self.pid} on {self.host}"
        job = f" (SLURM job {self.job})" if self.job else ""
        return f"{who}{job} since {since}"


class RunBusyError(RuntimeError):
    """The run is locked by another live claim; ``holder`` says by whom."""

    def __init__(self, run_dir: Path, holder: LockHolder) -> None:
        self.holder = holder
        super().__init__(f"{run_dir.name} is being run by {holder.describe()} (lock {run_dir / LOCK_FILE})")


def _lock_path(run_dir: str | os.PathLike) -> Path:
    return Path(run_dir) / LOCK_FILE


def _read_holder(path: Path) -> LockHolder | None:
    """The holder recorded in lock file ``path``; None when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        return None
    try:
        data = json.loads(text)
        return LockHolder(str(data["host"]), int(data["pid"]), float(data["started"]), str(data.get("token", "")),
                          str(data.get("job", "")), str(data.get("process", "")))
    except (ValueError, KeyError, TypeError):  # created but not written (yet, or ever)
        return LockHolder("?", -1, mtime)


def read_lock(run_dir: str | os.PathLike) -> LockHolder | None:
    """The holder of ``run_dir``'s lock, or None when it is not locked."""
    return _read_holder(_lock_path(run_dir))


def _on_this_host(host: str | None) -> bool:
    """Whether ``host`` (a recorded host name) is this machine."""
    return host == socket.gethostname()


def process_identity(pid: int) -> str | None:
    """What tells process ``pid`` apart from a later process given the same id: this boot's id and the
    process's start time in clock ticks after boot (Linux ``/proc``); None where that cannot be read."""
    try:
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2:].split()  # after the command name, which may hold spaces
    return f"{boot}:{fields[19]}" if len(fields) > 19 else None


def process_alive_here(host: str | None, pid: int, identity: str | None = None) -> bool:
    """Whether process ``pid`` of host ``host`` is alive and checkable: ``host`` is this machine and the
    process exists (this process counts: another claim in it is live; so does another user's process),
    and, when the holder's ``identity`` was recorded (:func:`process_identity`), it is still that process,
    not a later one that got the same id.

    A process of another host cannot be checked from here: False.
    """
    if not _on_this_host(host):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        pass
    if identity:
        current = process_identity(pid)
        return current is None or current == identity
    return True


def is_stale(holder: LockHolder, max_age_s: float = FOREIGN_LOCK_MAX_AGE_S, force: bool = False) -> bool:
    """Whether ``holder``'s lock was left behind by a process that is gone (see the module docstring)."""
    if holder.pid < 0:
        return holder.age_s > UNREADABLE_LOCK_GRACE_S
    if _on_this_host(holder.host):
        return not process_alive_here(holder.host, holder.pid, holder.process or None)
    return force or holder.age_s > max_age_s


def _create(path: Path, holder: LockHolder) -> None:
    """Create the lock file holding ``holder``; ``FileExistsError`` when it exists."""
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    try:
        os.write(fd, json.dumps(asdict(holder)).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _break(path: Path, stale: LockHolder) -> None:
    """Remove the stale lock ``stale``; if another claim replaced it meanwhile, leave theirs in place."""
    aside = path.with_name(f"{path.name}.stale-{secrets.token_hex(4)}")
    try:
        os.rename(path, aside)
    except FileNotFoundError:  # another claim broke it first
        return
    try:
        if _read_holder(aside) != stale:  # a fresh lock was taken: give it back
            try:
                os.link(aside, path)
            except OSError:
                pass
    finally:
        aside.unlink(missing_ok=True)


def _claim(run_dir: Path, max_age_s: float, force: bool) -> LockHolder:
    """Take the lock of ``run_dir`` (breaking a stale one); :class:`RunBusyError` if it is held."""
    path = _lock_path(run_dir)
    me = LockHolder.this_process()
    for _ in range(_CLAIM_ATTEMPTS):
        try:
            _create(path, me)
            return me
        except FileExistsError:
            holder = read_lock(run_dir)
            if holder is None:  # released meanwhile
                continue
            if not is_stale(holder, max_age_s, force):
                raise RunBusyError(run_dir, holder) from None
            _break(path, holder)
    raise RunBusyError(run_dir, read_lock(run_dir) or LockHolder("?", -1, time.time()))


def _release(run_dir: Path, me: LockHolder) -> None:
    """Remove the lock if it is still ours (a claim with ``force`` may have taken it over)."""
    if read_lock(run_dir) == me:
        _lock_path(run_dir).unlink(missing_ok=True)


@contextmanager
def run_lock(run_dir: str | os.PathLike, max_age_s: float = FOREIGN_LOCK_MAX_AGE_S,
             force: bool = False) -> Iterator[LockHolder]:
    """Hold the exclusive lock of ``run_dir`` (created if needed) for the ``with`` block.

    Raises:
        RunBusyError: another live claim holds it (a stale lock is broken instead, see the module docstring).
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    me = _claim(run_dir, max_age_s, force)
    try:
        yield me
    finally:
        _release(run_dir, me)


def release_lock_of_job(run_dir: str | os.PathLike, job: str) -> bool:
    """Remove ``run_dir``'s lock if SLURM job ``job`` holds it (the job was killed: time limit, node
    failure); return whether it did. The sweep that submitted the job knows it is gone; the lock
    could otherwise only be broken after ``FOREIGN_LOCK_MAX_AGE_S`` or with ``force``."""
    holder = read_lock(run_dir)
    if not job or holder is None or holder.job != job:
        return False
    _break(_lock_path(run_dir), holder)
    return True
