"""Dask backend: both half-steps as map-reduces over blocks of whole rows of ``X``.

``X`` stays where it lives (zarr, h5ad, any dask graph); nothing is
transposed, rechunked across rows or persisted, and every pass reads each row
block once, on whichever worker the scheduler picks:

* **Row half-step** (``row_estep(Xp, T, ...)``): each block ``X_b`` runs the
  in-memory numba half-step with the column posteriors ``T`` (d x m).
* **Column half-step** (``row_estep(transpose(Xp), S, ...)``): each block
  returns ``X_b^T S_b`` (and ``(X_b*X_b)^T S_b``), d x g, the sums are added on
  the cluster, and the driver finishes the column posteriors with numba's
  ``finish_estep``: the numba CSR column path (``CSRT``) with row blocks in
  place of threads.
* ``block_stats``, ``matmul`` (the spectral range finder's products),
  ``margins`` (row and column sums, moments, extremes and value counts, one
  pass) and the families' additions to the contract are the same map-reduce:
  ``nb_size_terms`` and the one-hot ``levels`` sums add over blocks like
  ``column_sums``; ``project`` is per-row output (stacked) for ``X`` and a
  sum over blocks for its transpose; ``fixed`` labels are sliced with the
  row blocks like ``uniforms``, or applied on the driver for the columns.

Results of a block are split into per-row parts (``ROW_FIELDS`` of the kernel
result, gathered in row order) and sums, which are added pairwise on the
cluster (a tree with fan-in :data:`FAN_IN`) field by field, whatever the
fields are. The driver holds only O((n + d)(g + m)) values: the posteriors
of both sides and the block statistics. The row posteriors ``S`` (n x g) are
*gathered* on the driver rather than kept as dask arrays on the workers: the
estimator returns them anyway, every start of a fit keeps its own (a
persisted copy per start would take worker memory that the blocks of ``X``
need), they survive a worker's death, and they are small next to ``X``
(g float64 per row against d stored values, or nnz/n for CSR). Per-row inputs
travel to the workers with ``Client.scatter`` under ``dask.distributed``
(one piece per block, never a large graph), and as plain slices on the local
schedulers.

A block whose values or results are not finite raises a ValueError naming
the block and its rows. A worker that dies surfaces as distributed's own
error (``KilledWorker`` after ``distributed.scheduler.allowed-failures``
retries); nothing here retries or waits. Works with any dask scheduler;
workers need only this package installed.
"""
from __future__ import annotations

import operator
from typing import NamedTuple

import numpy as np

from . import is_dask_array
from .contract import ROW_FIELDS, SAMPLE, EStepResult, check_fixed, check_levels, mode_code

name = "dask"
xp = np

# Partial sums are added in a tree of this fan-in, so neither a worker nor the
# driver ever holds the partial sums of every block at once.
FAN_IN = 8


def is_available():
    try:
        import dask.array  # noqa: F401
    except ImportError:
        return False
    return True


def _inner():
    from . import numba_backend

    return numba_backend


# ------------------------------------------------------------------ layout


class Transposed(NamedTuple):
    """``X^T`` for the column half-step, without a copy: the row blocks of ``base`` are read."""

    base: object

    @property
    def shape(self):
        return (self.base.shape[1], self.base.shape[0])

    @property
    def dtype(self):
        return self.base.dtype


def _is_sparse_meta(X):
    return hasattr(getattr(X, "_meta", None), "format")


def prepare(X, rows_per_block=None):
    """A dask array whose blocks hold whole rows (one chunk across the columns).

    In-memory input (numpy, scipy.sparse) is wrapped without a copy. A dask
    array chunked across columns is rechunked to whole rows keeping its row
    chunks (``X.rechunk({1: -1})``): each block is assembled from the column
    pieces of its own rows, nothing is shuffled between row blocks. When the
    array has a single row chunk but several column chunks (for example CSC
    or column-major chunks on disk) and that would make one block larger than
    dask's ``array.chunk-size``, a ValueError asks for a row-chunked copy,
    because every block of rows would then need the whole matrix.
    """
    import dask.array as da

    if isinstance(X, Transposed):
        raise ValueError("prepare takes X itself, not transpose(X).")
    if not is_dask_array(X):
        rows = rows_per_block or max(1, min(X.shape[0], (1 << 22) // max(1, X.shape[1])))
        return da.from_array(X, chunks=(rows, -1), asarray=False)
    if X.numblocks[1] == 1:
        return X
    if X.numblocks[0] == 1 and X.shape[0] > 1:
        import dask

        limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        dense_bytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
        if dense_bytes > limit:
            raise ValueError(
                f"X is a dask array chunked across columns only (chunks {X.chunksize}): every block of "
                "whole rows would need the whole matrix. Store or rechunk it by rows, e.g. "
                "X.rechunk((10_000, -1)).to_zarr(path) for dense data, or CSR rather than CSC for "
                "sparse data (anndata's read_elem_lazy reads CSR by rows)."
            )
    return X.rechunk({1: -1})


def transpose(Xp):
    """What the column half-step reads: a :class:`Transposed` marker, no copy, no rechunk, no persist."""
    if isinstance(Xp, Transposed):
        return Xp.base
    return Transposed(Xp)


def to_numpy(a):
    return np.asarray(a)


# -------------------------------------------------------- the map-reduce


def _client():
    """The ``dask.distributed`` client that dask computes on now, or None (local schedulers)."""
    from dask.base import get_scheduler

    owner = getattr(get_scheduler(), "__self__", None)
    return owner if type(owner).__module__.startswith("distributed") else None


def _row_offsets(X):
    return np.cumsum((0,) + tuple(X.chunks[0]))


def _add(a, b):
    """Field-by-field sum of two tuples of partial sums (arrays, numbers, None or nested tuples)."""
    return tuple(None if x is None else _add(x, y) if isinstance(x, tuple) else x + y for x, y in zip(a, b))


def _tree(parts, combine):
    """Combine delayed partial results pairwise-in-groups, so no task holds them all."""
    import dask

    def fold(*items):
        out = items[0]
        for item in items[1:]:
            out = combine(out, item)
        return out

    task = dask.delayed(fold, pure=False)
    while len(parts) > 1:
        parts = [task(*parts[i:i + FAN_IN]) if len(parts[i:i + FAN_IN]) > 1 else parts[i]
                 for i in range(0, len(parts), FAN_IN)]
    return parts[0]


def _finite(values):
    """Every number and array in ``values`` (None and other objects pass) is finite."""
    for v in values:
        if isinstance(v, tuple):
            if not _finite(v):
                return False
        elif isinstance(v, (np.ndarray, float, np.floating)) and not np.all(np.isfinite(v)):
            return False
    return True


def _block_error(index, n_blocks, lo, hi, note=""):
    return ValueError(
        f"X has NaN or infinite values in row block {index} of {n_blocks} (rows {lo} to {hi - 1}){note}; "
        "remove or impute them first (for example X = dask.array.nan_to_num(X) for dense data)."
    )


class NonFiniteBlock(Exception):
    """Raised by a block function that met NaN or infinite values in its block."""


def _run_block(func, index, n_blocks, lo, hi, block, rows, shared, finite=True):
    """Apply ``func`` to one block; with ``finite``, its results must be finite (a NaN in X surfaces here, named)."""
    try:
        out_rows, out_sums = func(block, *rows, *shared)
    except NonFiniteBlock:
        raise _block_error(index, n_blocks, lo, hi) from None
    if finite and not (_finite(out_rows) and _finite(out_sums)):
        raise _block_error(index, n_blocks, lo, hi, ": the results computed from it are not finite")
    return out_rows, out_sums


def map_reduce(X, func, *, per_row=(), shared=(), combine=_add, finite=True):
    """Run ``func`` on every row block of ``X`` and return ``(rows, sums)``.

    ``func(block, *row_slices, *shared)`` returns ``(row_parts, sum_parts)``,
    two tuples: row parts (one row per row of the block) are stacked in row
    order; sum parts are combined across blocks with ``combine`` (default:
    added field by field, ``None`` stays ``None``) in a tree on the cluster.
    ``per_row`` arrays (or None) are sliced along the block's rows;
    ``shared`` values reach every block as one graph key each.
    Every block of ``X`` is read once. Results that are not finite (unless
    ``finite`` is False), or a :class:`NonFiniteBlock` raised by ``func``,
    raise a ValueError naming the block and its rows.
    """
    import dask

    Xp = prepare(X)
    offsets = _row_offsets(Xp)
    blocks = Xp.to_delayed().ravel()
    n_blocks = len(blocks)
    rows = [tuple(None if a is None else a[lo:hi] for a in per_row)
            for lo, hi in zip(offsets[:-1], offsets[1:])]
    client = _client()
    if client is not None and any(a is not None for a in per_row):
        rows = client.scatter(rows, hash=False)
    shared = tuple(dask.delayed(s, pure=False) if isinstance(s, np.ndarray) else s for s in shared)
    task = dask.delayed(_run_block, pure=False)
    outs = [task(func, i, n_blocks, int(offsets[i]), int(offsets[i + 1]), blk, rows[i], shared, finite)
            for i, blk in enumerate(blocks)]
    row_parts = [dask.delayed(operator.getitem, pure=False)(o, 0) for o in outs]
    sums = _tree([dask.delayed(operator.getitem, pure=False)(o, 1) for o in outs], combine)
    row_parts, sums = dask.compute(row_parts, sums)
    stacked = tuple(None if parts[0] is None else _stack(parts) for parts in zip(*row_parts))
    return stacked, sums


def _stack(parts):
    return np.concatenate([np.asarray(p) for p in parts], axis=0)


# ------------------------------------------------------------ half-steps


def _estep_block(block, row_weight, uniforms, fixed, T, A, B, w, z, mode, levels):
    be = _inner()
    res = be.row_estep(be.prepare(block), T, A, B, w, z, row_weight, mode, uniforms, fixed, levels)
    return (tuple(getattr(res, f) for f in ROW_FIELDS),
            tuple(getattr(res, f) for f in res._fields if f not in ROW_FIELDS))


def _column_sums_block(block, S, squared, levels=None):
    be = _inner()
    return (), be.column_sums(be.prepare(block), S, squared, levels)


def _stats_block(block, S, T, squared, levels):
    be = _inner()
    return (), tuple(be.block_stats(be.prepare(block), S, T, squared, levels))


def _stats_block_transposed(block, T, S, squared, levels):
    # block_stats of X^T given (S over X's columns, T over its rows) = transposed stats of X;
    # one-hot stats are (m, (H-1) g) here, reordered to (g, (H-1) m)
    be = _inner()
    SXT, SX2T = be.block_stats(be.prepare(block), T, S, squared, levels)
    if levels is not None:
        m, g = T.shape[1], S.shape[1]
        return (), (SXT.reshape(m, levels - 1, g).transpose(2, 1, 0).reshape(g, -1), None)
    return (), tuple(None if a is None else a.T for a in (SXT, SX2T))


def _checked_levels(levels):
    return None if levels is None else check_levels(levels)


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=0, uniforms=None, fixed=None, levels=None):
    """One half-step over the rows of ``X`` (a row-chunked dask array or its :class:`Transposed`).

    ``fixed`` (per row, like ``uniforms``) is sliced with the row blocks, or
    applied when the column posteriors are finished on the driver; ``levels``
    reaches every block.
    """
    mode = mode_code(mode)
    if mode == SAMPLE and uniforms is None:
        raise ValueError("mode='sample' needs one uniform draw per row")
    levels = _checked_levels(levels)
    if levels is not None and B is not None:
        raise ValueError("levels and B exclude each other: one-hot levels have no squared term")
    T = np.asarray(T, dtype=np.float64)
    if isinstance(X, Transposed):
        # column half-step: T holds the posteriors of X's rows; sum X_b^T T_b over row blocks
        fixed = check_fixed(fixed, X.shape[0], np.shape(A)[0])
        _, (U, V) = map_reduce(X.base, _column_sums_block, per_row=(T,), shared=(B is not None, levels))
        return _inner().finish_estep(U, V, A, B, w, z, row_weight, mode, uniforms, fixed)
    fixed = check_fixed(fixed, X.shape[0], np.shape(A)[0])
    rows, sums = map_reduce(X, _estep_block, per_row=(row_weight, uniforms, fixed),
                            shared=(T, A, B, w, z, mode, levels))
    others = [f for f in EStepResult._fields if f not in ROW_FIELDS]
    fields = dict(zip(ROW_FIELDS, rows)) | dict(zip(others, sums))
    fields["log_norm"] = float(fields["log_norm"])
    return EStepResult(**fields)


def block_stats(X, S, T, squared=False, levels=None):
    """``S^T X T`` (one-hot blocks with ``levels``) and, if ``squared``, ``S^T (X*X) T``, summed over row blocks."""
    S = np.asarray(S, dtype=np.float64)
    T = np.asarray(T, dtype=np.float64)
    levels = _checked_levels(levels)
    if isinstance(X, Transposed):
        _, sums = map_reduce(X.base, _stats_block_transposed, per_row=(T,), shared=(S, squared, levels))
    else:
        _, sums = map_reduce(X, _stats_block, per_row=(S,), shared=(T, squared, levels))
    return sums


def _project_block(block, T, levels):
    be = _inner()
    return (be.project(be.prepare(block), T, levels),), ()


def project(X, T, levels=None):
    """``U = X T`` (one-hot blocks with ``levels``), float64 in memory (see the kernel contract).

    Rows of ``X``: one row of ``U`` per row of the block, stacked in row
    order. :class:`Transposed` ``X``: ``X.base^T T`` (d x m), a sum over row
    blocks (``column_sums``), as the column half-step reads it.
    """
    T = np.asarray(T, dtype=np.float64)
    levels = _checked_levels(levels)
    if isinstance(X, Transposed):
        return map_reduce(X.base, _column_sums_block, per_row=(T,), shared=(False, levels))[1][0]
    return map_reduce(X, _project_block, shared=(T, levels))[0][0]


def _size_terms_block(block, row_size, theta):
    be = _inner()
    return (), tuple(be.nb_size_terms(be.prepare(block), row_size, theta))


def nb_size_terms(X, row_size, theta):
    """The negative-binomial size terms (three length-d arrays): sums over rows, added over row blocks."""
    if isinstance(X, Transposed):
        raise ValueError("nb_size_terms reads X by rows (cells x genes), not its transpose.")
    row_size = np.asarray(row_size, dtype=np.float64)
    if row_size.shape != (X.shape[0],):
        raise ValueError(f"row_size must have shape ({X.shape[0]},), got {row_size.shape}.")
    _, sums = map_reduce(X, _size_terms_block, per_row=(row_size,),
                         shared=(np.asarray(theta, dtype=np.float64),))
    return sums


def _matmul_block(block, M):
    return (np.asarray(block @ M, dtype=np.float64),), ()




def matmul(X, M):
    """``X @ M`` as an in-memory (rows, k) float64 array: one pass over the row blocks.

    For :class:`Transposed` ``X`` it is ``X.base^T @ M``, a sum over row
    blocks (numba's ``column_sums``, no transposed copy).
    """
    M = np.asarray(M, dtype=np.float64)
    if isinstance(X, Transposed):
        return project(X, M)
    return map_reduce(X, _matmul_block, shared=(M,))[0][0]


# -------------------------------------------------------------- margins


class Margins(NamedTuple):
    """What one pass over the stored values of ``X`` learns (see :func:`margins`)."""

    row_sums: np.ndarray
    col_sums: np.ndarray
    row_sq_sums: np.ndarray
    col_sq_sums: np.ndarray
    n_stored: int  # values stored (n*d dense, nnz sparse)
    n_negative: int
    n_non_integer: int
    n_non_binary: int
    min: float  # over the stored values (inf when none are stored)
    max: float  # over the stored values (-inf when none are stored)
    extra: object  # sum over blocks of ``extra(values, *args)``, or None

    @property
    def total(self):
        return float(self.row_sums.sum())


# Element-wise work on a block goes in slabs of this many values.
_SLAB = 1 << 20


def _margins_block(block, extra, extra_args):
    import scipy.sparse as sp

    if sp.issparse(block):
        block = block.tocsr()
        values = block.data
    else:
        values = np.asarray(block)
    n_b, d = block.shape
    flat = values.reshape(-1)
    neg = non_int = non_bin = 0
    low = high = None
    for i in range(0, flat.size, _SLAB):
        v = flat[i:i + _SLAB]
        if not np.all(np.isfinite(v)):
            raise NonFiniteBlock
        neg += int(np.count_nonzero(v < 0))
        non_int += int(np.count_nonzero(v != np.round(v)))
        non_bin += int(np.count_nonzero((v != 0) & (v != 1)))
        low = float(v.min()) if low is None else min(low, float(v.min()))
        high = float(v.max()) if high is None else max(high, float(v.max()))
    with np.errstate(over="ignore"):  # sums of huge values may overflow: margins() leaves them to the callers
        if sp.issparse(block):
            data = block.data.astype(np.float64)
            csr = sp.csr_matrix((data, block.indices, block.indptr), shape=block.shape)
            sq = sp.csr_matrix((data * data, block.indices, block.indptr), shape=block.shape)
            row_sums, row_sq = (np.asarray(a.sum(axis=1)).ravel() for a in (csr, sq))
            col_sums, col_sq = (np.asarray(a.sum(axis=0)).ravel() for a in (csr, sq))
        else:
            row_sums, row_sq = np.empty(n_b), np.empty(n_b)
            col_sums, col_sq = np.zeros(d), np.zeros(d)
            step = max(1, _SLAB // max(d, 1))
            for i in range(0, n_b, step):
                slab = np.array(values[i:i + step], dtype=np.float64)  # a copy: squared in place below
                row_sums[i:i + step] = slab.sum(axis=1)
                col_sums += slab.sum(axis=0)
                slab *= slab
                row_sq[i:i + step] = slab.sum(axis=1)
                col_sq += slab.sum(axis=0)
    ext = None if extra is None else extra(values, *extra_args)
    return (row_sums, row_sq), (col_sums, col_sq, int(values.size), neg, non_int, non_bin, low, high, ext)


def _combine_margins(a, b):
    """Add the counts and sums of two blocks; the extremes are extremes (None: no stored value)."""
    with np.errstate(over="ignore"):  # as in _margins_block
        out = _add(a[:6], b[:6])
    low = min((x for x in (a[6], b[6]) if x is not None), default=None)
    high = max((x for x in (a[7], b[7]) if x is not None), default=None)
    return out + (low, high) + _add(a[8:], b[8:])


def margins(X, extra=None, *extra_args):
    """One pass over ``X``: row/column sums and sums of squares, value counts, minimum and maximum.

    ``extra(values, *extra_args)``, if given, runs on each block's stored
    values (dense: every value; sparse: ``data``) and its results (a number
    or a tuple of numbers/arrays) are added over blocks into ``extra``; it may
    raise ValueError to reject the data. A block holding NaN or infinite
    values raises a ValueError naming it. Sums over huge finite values may
    overflow to inf: the callers judge those from ``min`` and ``max`` with
    their own magnitude checks (as for in-memory X), not as NaN in X.
    """
    (row_sums, row_sq), sums = map_reduce(X, _margins_block, shared=(extra, extra_args),
                                          combine=_combine_margins, finite=False)
    col_sums, col_sq, n_stored, neg, non_int, non_bin, low, high, ext = sums
    return Margins(row_sums, col_sums, row_sq, col_sq, int(n_stored), int(neg), int(non_int), int(non_bin),
                   np.inf if low is None else float(low), -np.inf if high is None else float(high), ext)
