"""Dask backend: the contract mapped over row blocks, partial sums reduced.

A half-step only needs per-row work plus sums over rows, so it is a
map-reduce: each block of whole rows runs the in-memory numba backend with
the same ``T``, and the driver stacks the posteriors and adds the
partial ``S^T X T``. Works with any dask scheduler, ``dask.distributed``
included (workers need this package installed).
"""
from __future__ import annotations

import numpy as np

from . import is_dask_array
from .contract import SAMPLE, EStepResult, mode_code

name = "dask"
xp = np


def is_available():
    try:
        import dask.array  # noqa: F401
    except ImportError:
        return False
    return True


def _inner():
    from . import numba_backend

    return numba_backend


def prepare(X, rows_per_block=None):
    """A dask array chunked by rows only, so every block holds whole rows.

    In-memory input (numpy, scipy.sparse) is wrapped without a copy.
    """
    import dask.array as da

    if not is_dask_array(X):
        rows = rows_per_block or max(1, min(X.shape[0], (1 << 22) // max(1, X.shape[1])))
        return da.from_array(X, chunks=(rows, -1), asarray=False)
    return X.rechunk({1: -1})


def transpose(Xp):
    """Row blocks of ``X.T``; persisted once so the column half-step reads it directly."""
    return Xp.T.rechunk({0: "auto", 1: -1}).persist()


def _blocks(X):
    offsets = np.cumsum((0,) + tuple(X.chunks[0]))
    return list(zip(X.to_delayed()[:, 0], offsets[:-1], offsets[1:]))


def _block_estep(block, T, A, B, w, z, row_weight, mode, uniforms):
    be = _inner()
    return be.row_estep(be.prepare(block), T, A, B, w, z, row_weight, mode, uniforms)


def _block_stats(block, S, T, squared):
    be = _inner()
    return be.block_stats(be.prepare(block), S, T, squared)


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=0, uniforms=None):
    import dask

    mode = mode_code(mode)
    if mode == SAMPLE and uniforms is None:
        raise ValueError("mode='sample' needs one uniform draw per row")
    task = dask.delayed(_block_estep, pure=True)
    parts = dask.compute(*[
        task(blk, T, A, B, w, z,
             None if row_weight is None else row_weight[a:b], mode,
             None if uniforms is None else uniforms[a:b])
        for blk, a, b in _blocks(X)
    ])
    S = np.vstack([p.S for p in parts])
    SXT = sum(p.SXT for p in parts)
    SX2T = None if parts[0].SX2T is None else sum(p.SX2T for p in parts)
    return EStepResult(S, SXT, SX2T, float(sum(p.log_norm for p in parts)))


def block_stats(X, S, T, squared=False):
    import dask

    task = dask.delayed(_block_stats, pure=True)
    parts = dask.compute(*[task(blk, S[a:b], T, squared) for blk, a, b in _blocks(X)])
    SXT = sum(p[0] for p in parts)
    SX2T = sum(p[1] for p in parts) if squared else None
    return SXT, SX2T


def to_numpy(a):
    return np.asarray(a)
