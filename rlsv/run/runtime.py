"""Process-wide state a run needs, set in one place and restored on exit: :func:`runtime`.

A run may need to change state that belongs to the whole process: torch's CPU thread count, the
CUDA TF32 and cuDNN flags, glibc's ``malloc`` settings and environment variables. Changing them
anywhere else leaks into whatever runs next in the same process (a Jupyter kernel, a test, the next
run of an inline sweep). So they are changed only here, by :func:`runtime`, a context manager that
records each value before changing it and puts it back on exit, also when the run raises. Nothing in
``rlsv.core`` changes process state.

>>> with runtime(Runtime(threads=1)):
...     pass  # torch runs on one CPU thread here, and on as many as before afterwards

What each setting does to the arithmetic: the thread count changes the split of parallel reductions
(float order), so a run records it (``rlsv.run.provenance``) and :mod:`rlsv.run.verify` re-derives a run
with the same count. TF32 changes CUDA matmul precision. ``deterministic`` makes cuDNN choose its
algorithms without timing them (``cudnn.benchmark`` off, ``cudnn.deterministic`` on), so a GPU run does not
depend on which algorithm won a race. ``retain_freed_memory`` only changes speed (see its docstring).
"""

from __future__ import annotations

import ctypes
import os
import sys
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

from rlsv.errors import ConfigError

__all__ = ["Runtime", "runtime", "current_threads", "seeded"]

# glibc <malloc.h> parameter numbers and their documented defaults (mallopt(3)); glibc has no getter, so
# leaving the context restores the defaults.
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_MALLOC_DEFAULTS = {_M_TRIM_THRESHOLD: 128 * 1024, _M_MMAP_MAX: 65536}
_MALLOC_RETAIN = {_M_TRIM_THRESHOLD: 2 ** 31 - 1, _M_MMAP_MAX: 0}


@dataclass(frozen=True)
class Runtime:
    """What :func:`runtime` sets for the duration of a run.

    Attributes:
        threads: torch's CPU threads (None: leave as it is).
        tf32: allow TF32 in CUDA matmuls and cuDNN convolutions (None: leave as it is).
        deterministic: cuDNN picks algorithms without timing them and only deterministic ones (CUDA
            runs give the same bits run after run); None: leave as it is.
        retain_freed_memory: keep freed heap memory for reuse (glibc only): see :func:`_retain_freed_memory`.
        environment: variables to set (a worker's ``CUDA_VISIBLE_DEVICES``, ``OMP_NUM_THREADS``...).
    """

    threads: int | None = None
    tf32: bool | None = None
    deterministic: bool | None = None
    retain_freed_memory: bool = False
    environment: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.threads is not None and (isinstance(self.threads, bool) or not isinstance(self.threads, int)
                                         or self.threads < 1):
            raise ConfigError(f"threads must be a whole number >= 1 or None, got {self.threads!r}.")


def current_threads() -> int:
    """torch's CPU thread count in this process."""
    import torch

    return torch.get_num_threads()


def _set_and_restore(stack: ExitStack, get: Callable[[], object], set_: Callable[[object], None],
                     value: object) -> None:
    previous = get()
    if previous == value:
        return
    set_(value)
    stack.callback(set_, previous)


def _mallopt(settings: Mapping[int, int]) -> bool:
    """Apply ``mallopt`` settings (glibc on Linux only); True if every call succeeded."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL("libc.so.6")
        return all(bool(libc.mallopt(param, value)) for param, value in settings.items())
    except (OSError, AttributeError):
        return False


def _retain_freed_memory(stack: ExitStack) -> None:
    """Let the C allocator keep freed memory for reuse while the context lasts (glibc only).

    A CPU training step at paper size allocates and frees a few hundred MB of tensors. By default glibc
    serves large blocks with fresh pages from the kernel, so the next step touches new memory again:
    about 25,000 page faults per step, some 50 ms of CPU time. With ``mmap`` for large blocks off and heap
    trimming raised to 2 GB, steps after the first reuse the same memory. The process keeps its peak
    memory instead of returning it between steps; leaving the context restores glibc's defaults.
    """
    if _mallopt(_MALLOC_RETAIN):
        stack.callback(_mallopt, _MALLOC_DEFAULTS)


def _set_environment(stack: ExitStack, environment: Mapping[str, str]) -> None:
    for name, value in environment.items():
        previous = os.environ.get(name)
        os.environ[name] = str(value)
        stack.callback(_restore_variable, name, previous)


def _restore_variable(name: str, previous: str | None) -> None:
    if previous is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = previous


@contextmanager
def runtime(settings: Runtime | None = None) -> Iterator[Runtime]:
    """Apply ``settings`` (:class:`Runtime`) for the enclosed code and restore every changed value on exit."""
    import torch

    settings = settings or Runtime()
    with ExitStack() as stack:
        _set_environment(stack, settings.environment)
        if settings.threads is not None:
            _set_and_restore(stack, torch.get_num_threads, torch.set_num_threads, settings.threads)
        if settings.tf32 is not None:
            matmul = torch.backends.cuda.matmul
            _set_and_restore(stack, lambda: matmul.allow_tf32, lambda v: setattr(matmul, "allow_tf32", v),
                             settings.tf32)
            cudnn = torch.backends.cudnn
            _set_and_restore(stack, lambda: cudnn.allow_tf32, lambda v: setattr(cudnn, "allow_tf32", v),
                             settings.tf32)
        if settings.deterministic is not None:
            cudnn = torch.backends.cudnn
            _set_and_restore(stack, lambda: cudnn.benchmark, lambda v: setattr(cudnn, "benchmark", v),
                             not settings.deterministic)
            _set_and_restore(stack, lambda: cudnn.deterministic, lambda v: setattr(cudnn, "deterministic", v),
                             settings.deterministic)
        if settings.retain_freed_memory:
            _retain_freed_memory(stack)
        yield settings


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """torch's CPU random generator seeded with ``seed`` inside (a model's initial weights drawn from a run's seed),
    and put back as it was on exit: a run never moves the global random state of the process it runs in."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
