"""Settings of the compute layer, changed only by an explicit call.

Re-exported as ``coclust_deep.get_config``, ``set_config`` and
``config_context`` (the same names and shape as scikit-learn's). The settings
are process-wide, like numba's own thread count, so that every thread of a
dask scheduler sees them.

``parallel_min_values`` (default 500 000)
    A numba half-step over fewer stored values than this (``n*d`` for dense
    X, ``nnz`` for CSR) runs on one thread: waking the other threads costs
    about as much as the work saves, and far more when a waiting thread spins
    on a shared core (below). On 2 shared cores (load 2-5), a dense half-step
    over 200 000 values took 0.22-0.30 ms on one thread and 0.25-0.30 ms on
    two with passive waiting. 0 always runs in parallel.

The OpenMP wait policy is not a setting here, and the library never sets it.
GNU OpenMP (numba's threading layer when TBB is absent) lets a thread that
waits for work spin before it sleeps. ``python -m benchmarks.omp_wait_policy``
(3 runs, 2 cores, load 2-5) timed a 200 000-value half-step on two threads at
0.13-56 ms with the default policy and 0.25-0.30 ms with
``OMP_WAIT_POLICY=PASSIVE``, a 4 000 000-value one at 1.9-60 ms against
2.7-5.6 ms: spinning is up to twice as fast when a core is free, and 10 to
200 times slower when another process holds it (a whole fit: default
0.66-3.3 s, passive 0.63-2.3 s, passive faster in 4 of 6 pairs). The policy
is read once, when an OpenMP runtime starts, and torch, BLAS and scikit-learn
each start their own, so only the process can choose it: export
``OMP_WAIT_POLICY=PASSIVE`` before starting Python on shared cores, as
``.ci/run``, the benchmarks and the test suite do.
"""
from __future__ import annotations

import numbers
from contextlib import contextmanager

__all__ = ["config_context", "get_config", "set_config"]

_config = {"parallel_min_values": 500_000}


def get_config():
    """The current settings of the compute layer, as a new dict.

    Examples
    --------
    >>> from coclust_deep import get_config
    >>> get_config()["parallel_min_values"]
    500000
    """
    return dict(_config)


def set_config(*, parallel_min_values=None):
    """Change settings of the compute layer for this process; ``None`` keeps a setting.

    Parameters
    ----------
    parallel_min_values : int >= 0, optional
        Numba half-steps over fewer stored values than this run on one thread.

    Examples
    --------
    >>> from coclust_deep import get_config, set_config
    >>> set_config(parallel_min_values=0)  # always use every numba thread
    >>> get_config()["parallel_min_values"]
    0
    >>> set_config(parallel_min_values=500_000)
    """
    if parallel_min_values is not None:
        value = parallel_min_values
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"parallel_min_values must be an int, got {type(value).__name__}.")
        if value < 0:
            raise ValueError(f"parallel_min_values must be >= 0, got {value}.")
        _config["parallel_min_values"] = int(value)


@contextmanager
def config_context(**settings):
    """Apply :func:`set_config` settings inside a ``with`` block, then restore the old ones.

    Examples
    --------
    >>> from coclust_deep import config_context, get_config
    >>> with config_context(parallel_min_values=0):
    ...     get_config()["parallel_min_values"]
    0
    >>> get_config()["parallel_min_values"]
    500000
    """
    before = get_config()
    set_config(**settings)
    try:
        yield
    finally:
        _config.update(before)
