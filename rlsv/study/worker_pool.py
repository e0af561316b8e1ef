"""Worker processes on this machine, one per slot, each running one job at a time: :func:`run_in_workers`.

Each slot is a ``spawn``-ed process that keeps running jobs (its imports are paid once) with the
slot's environment set around each call (``rlsv.study.executors.call_in_environment``: its GPU and
thread limits, inherited by the kernels it starts). A worker that dies (killed, out of memory) costs
only the job it was running: that job is reported as crashed, a fresh worker takes the slot, and the
other workers go on.

Ctrl-C is left to the parent: the workers ignore SIGINT, and the parent terminates them and
re-raises; their kernels notice that their parent is gone and exit, and the interrupted runs stay
``running`` (resumable).
"""

from __future__ import annotations

import multiprocessing
import signal
from collections import deque
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Mapping, Sequence

from rlsv.run.runtime import Runtime, runtime
from rlsv.run.status import describe_error

__all__ = ["call_in_environment", "run_in_workers"]

_STOP_WAIT_S = 10.0


def call_in_environment(work: Callable[[Any], Any], environment: Mapping[str, str], job: Any) -> Any:
    """``work(job)`` with the variables of ``environment`` set, and restored afterwards (``rlsv.run.runtime``)."""
    with runtime(Runtime(environment=dict(environment))):
        return work(job)


def _serve(connection: Connection, environment: Mapping[str, str]) -> None:
    """A worker process: run each ``(work, job)`` received with ``environment`` until told to stop (None)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            message = connection.recv()
        except EOFError:  # the parent is gone
            return
        if message is None:
            return
        work, job = message
        try:
            answer = ("outcome", call_in_environment(work, environment, job))
        except Exception as error:  # the work raised: its message goes back, the worker stays
            answer = ("error", describe_error(error))
        connection.send(answer)


class _Worker:
    """One slot's process and its end of the pipe; ``index``: the job it runs (None: idle)."""

    def __init__(self, context, environment: Mapping[str, str]) -> None:
        self.environment = dict(environment)
        self.connection, theirs = context.Pipe()
        self.process = context.Process(target=_serve, args=(theirs, self.environment))  # may start kernels
        self.process.start()
        theirs.close()
        self.index: int | None = None

    def how_it_died(self) -> str:
        self.process.join(_STOP_WAIT_S)
        code = self.process.exitcode
        return f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"

    def stop(self) -> None:
        try:
            self.connection.send(None)
        except OSError:
            pass
        self.process.join(_STOP_WAIT_S)
        if self.process.is_alive():
            self.process.terminate()
        self.connection.close()


def run_in_workers(work: Callable[[Any], Any], jobs: Sequence[Any], slots: Sequence[Mapping[str, str]],
                   on_outcome: Callable[[int, Any], None], on_crash: Callable[[int, str], None]) -> None:
    """Run ``work`` on each job of ``jobs`` in one worker process per slot of ``slots`` (each slot's
    environment); ``on_outcome(i, value)`` as each job returns, ``on_crash(i, message)`` for a job whose
    worker died or whose work raised."""
    context = multiprocessing.get_context("spawn")
    workers = [_Worker(context, environment) for environment in slots]
    pending = deque(range(len(jobs)))
    try:
        while pending or any(w.index is not None for w in workers):
            for worker in workers:
                if worker.index is None and pending:
                    worker.index = pending.popleft()
                    worker.connection.send((work, jobs[worker.index]))
            busy = [w for w in workers if w.index is not None]
            wait([w.connection for w in busy] + [w.process.sentinel for w in busy])
            for slot, worker in enumerate(workers):
                if worker.index is None or not (worker.connection.poll() or not worker.process.is_alive()):
                    continue
                index, worker.index = worker.index, None
                try:
                    kind, value = worker.connection.recv()
                except (EOFError, OSError):  # the worker died with the job: a fresh one takes the slot
                    on_crash(index, f"worker process died ({worker.how_it_died()})")
                    worker.stop()
                    workers[slot] = _Worker(context, worker.environment)
                    continue
                if kind == "outcome":
                    on_outcome(index, value)
                else:
                    on_crash(index, f"worker failed: {value}")
    except KeyboardInterrupt:
        for worker in workers:
            worker.process.terminate()
        raise
    finally:
        for worker in workers:
            worker.stop()
