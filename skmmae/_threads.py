"""How many CPU threads torch uses for the estimator's work, and the scope of that choice.

torch computes on the CPU with OpenMP threads, by default one per physical
core, and its many small parallel regions each wait for every thread. When
another process keeps a core busy, a thread that cannot run holds up every
region, and a fit on every core runs several times slower beside one busy
process (``benchmarks/bench_contention.py``).

So the estimator's methods run torch on a budget of threads:

- ``n_threads=None`` (the default): half the CPUs this process may use, at
  least 1, and never more than the limit in force in the calling thread,
  which is what ``threadpoolctl.threadpool_limits``, ``OMP_NUM_THREADS``,
  and the share a joblib (loky) or Dask worker is given all set;
- an int: that many threads.

The budget applies to the calling thread only, through OpenMP's per-thread
setting (the one ``threadpoolctl`` changes), so methods called from several
threads at once do not change each other's. Where torch does not compute with
OpenMP, the budget falls back to ``torch.set_num_threads`` for the duration
of the call, which is process-wide.
"""

import contextlib
import functools
import os
import threading

import torch

from .options import Speed

__all__ = [
    "default_threads",
    "on_thread_budget",
    "resolve_threads",
    "thread_budget",
    "usable_cpus",
]

_controller = None
_controller_lock = threading.Lock()
_fallback_lock = threading.Lock()


def usable_cpus():
    """The number of CPUs this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def default_threads():
    """The threads of ``n_threads=None`` in the calling thread (see the module docstring)."""
    return max(1, min(torch.get_num_threads(), usable_cpus() // 2))


def resolve_threads(n_threads):
    """``n_threads`` as a number of threads: None -> :func:`default_threads`."""
    return default_threads() if n_threads is None else int(n_threads)


def _openmp_controller():
    # Finding the loaded libraries costs about a millisecond: do it once.
    global _controller
    with _controller_lock:
        if _controller is None:
            from threadpoolctl import ThreadpoolController

            _controller = ThreadpoolController()
        return _controller


@contextlib.contextmanager
def thread_budget(n_threads):
    """Run torch's CPU work in the calling thread on ``n_threads`` threads.

    Parameters
    ----------
    n_threads : int or None
        As the estimator's ``n_threads`` parameter.

    Examples
    --------
    >>> import torch
    >>> from skmmae._threads import thread_budget
    >>> with thread_budget(1):
    ...     torch.get_num_threads()
    1
    """
    n = resolve_threads(n_threads)
    if torch.get_num_threads() == n:
        yield
        return
    with _openmp_controller().limit(limits=n, user_api="openmp"):
        if torch.get_num_threads() == n:
            yield
            return
    # torch does not compute with OpenMP here: set its threads process-wide.
    with _fallback_lock:
        previous = torch.get_num_threads()
        torch.set_num_threads(n)
        try:
            yield
        finally:
            torch.set_num_threads(previous)


def on_thread_budget(method):
    """Run an estimator's ``method`` on the thread budget of its ``speed`` parameter."""

    @functools.wraps(method)
    def wrapper(estimator, *args, **kwargs):
        with thread_budget(Speed.from_value(estimator.speed).n_threads):
            return method(estimator, *args, **kwargs)

    return wrapper
