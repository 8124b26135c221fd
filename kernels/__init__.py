"""coclust_deep.kernels: block-update compute behind one contract.

The folder ``kernels/`` is installed as ``coclust_deep.kernels`` (importing it
as a top-level ``kernels`` raises ImportError) and never imports
``coclust_deep``; the estimators call it, never the reverse.

* ``contract.py``: the half-step every backend computes, the mode codes
  (``SOFT``, ``HARD``, ``SAMPLE``, and ``GIVEN`` for ``block_stats``, which the
  Numba kernels and the CUDA source take from here) and ``EStepResult``.
* ``numpy_backend.py`` (the readable reference), ``numba_backend.py`` (fused
  parallel kernels in ``_numba_dense.py``, ``_numba_csr.py`` and the per-row
  ``_numba_posterior.py``), ``cupy_backend.py`` (CUDA) and ``dask_backend.py``
  (both half-steps as map-reduces over row blocks of a dask array, never
  transposed): modules exposing ``prepare``, ``transpose``, ``row_estep``,
  ``block_stats``, ``to_numpy``. numpy and numba also split the column
  half-step into ``column_sums`` (``X^T S`` from the rows of X) and
  ``finish_estep``, which the dask backend maps and finishes.
* ``_config.py``: ``get_config``/``set_config``/``config_context`` (re-exported
  by ``coclust_deep``): settings changed only by an explicit call, and why the
  OpenMP wait policy is the process's to choose.
"""
from __future__ import annotations

import importlib

if __name__ != "coclust_deep.kernels":  # e.g. `import kernels` from the repository root
    raise ImportError(
        f"The folder kernels/ is the package coclust_deep.kernels and cannot be imported as "
        f"{__name__!r}: two names would mean two copies of its state (configuration, compiled "
        "kernels). Use "
        "`import coclust_deep.kernels` (or `from coclust_deep import kernels`) after "
        "`pip install -e .`."
    )

from ._config import config_context, get_config, set_config
from .contract import HARD, MODES, SAMPLE, SOFT, EStepResult, mode_code

__all__ = [
    "ALL_BACKENDS",
    "BACKENDS",
    "EStepResult",
    "HARD",
    "MODES",
    "SAMPLE",
    "SOFT",
    "available_backends",
    "config_context",
    "get_config",
    "get_backend",
    "is_dask_array",
    "is_gpu_array",
    "mode_code",
    "resolve_backend",
    "set_config",
]

# In-memory compute backends; "dask" maps one of them over row blocks.
BACKENDS = ("numpy", "numba", "cupy")
ALL_BACKENDS = BACKENDS + ("dask",)
_MODULES = {
    "numpy": ".numpy_backend",
    "numba": ".numba_backend",
    "cupy": ".cupy_backend",
    "dask": ".dask_backend",
}
# Above this many stored values a present GPU is worth the host-to-device copy.
GPU_AUTO_MIN_VALUES = 5_000_000


def _load(name):
    mod = importlib.import_module(_MODULES[name], __name__)  # importing a backend never fails
    available = getattr(mod, "is_available", None)
    if available is not None and not available():
        return None
    return mod


def available_backends():
    """Names of the in-memory compute backends that can run on this machine."""
    return [b for b in BACKENDS if _load(b) is not None]


def is_gpu_array(X):
    """True for cupy arrays and cupyx sparse matrices (without importing cupy)."""
    return type(X).__module__.startswith("cupy")  # cupy and cupyx


def is_dask_array(X):
    """True for dask arrays (without importing dask)."""
    return type(X).__module__.split(".")[0] == "dask"


def _n_values(X):
    nnz = getattr(X, "nnz", None)
    if nnz is not None:
        return int(nnz)
    return int(X.shape[0]) * int(X.shape[1])


def resolve_backend(name="auto", X=None):
    """Resolve ``"auto"`` to a concrete backend name for input ``X``.

    ``"auto"`` picks dask for dask arrays, cupy for cupy input, or cupy when
    a GPU is present and ``X`` holds at least ``GPU_AUTO_MIN_VALUES`` values;
    otherwise numba (a required dependency; numpy is the reference, chosen by name).
    """
    if not isinstance(name, str) or name not in ALL_BACKENDS + ("auto",):
        raise ValueError(
            f"backend must be one of {ALL_BACKENDS + ('auto',)}, got {name!r}"
        )
    if name != "auto":
        return name
    if X is not None and is_dask_array(X):
        return "dask"
    if X is not None and is_gpu_array(X):
        return "cupy"
    if X is not None and _n_values(X) >= GPU_AUTO_MIN_VALUES and _load("cupy") is not None:
        return "cupy"
    return "numba"


def get_backend(name="auto", X=None):
    """Return the backend module for ``name`` (``"auto"`` resolved against ``X``)."""
    resolved = resolve_backend(name, X)
    mod = _load(resolved)
    if mod is None:
        hint = {
            "numba": "pip install numba",
            "cupy": "a CUDA GPU and `pip install coclust_deep[gpu]` (cupy)",
            "dask": "`pip install coclust_deep[dask]`",
        }.get(resolved, "")
        raise ValueError(
            f"backend {resolved!r} is not available on this machine; it needs {hint}."
        )
    return mod
