"""Shared machinery of the classic co-clustering estimators.

Three of them (double k-means, information-theoretic and modularity
co-clustering) are *hard block updates*: given the column partition, each row
moves to the row cluster with the best score

    L_ik = w_k + r_i z_k + sum_l u_il A_kl,      u_i = x_i T,

and symmetrically for columns on the transpose. That is exactly the kernel
contract of :mod:`coclust_deep.kernels` in ``mode=HARD``, so the alternating
loop lives here once and each estimator only says how ``A``, ``w``, ``z`` and
``r`` follow from the block sums ``S^T X T``.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, BiclusterMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from .. import kernels
from ..kernels import dask_backend
from .._blocks import one_hot
from .._lazy import lazy_margins
from .._logging import compile_notice, user_stacklevel
from .._seeding import INITS, check_init, starting_partitions
from .._validation import LABEL_PAIR, RANDOM_STATE, Interval, Options, check_matrix, validate_params
from ..metrics import labels_to_biclusters as diagonal_biclusters  # noqa: F401  (re-exported to the estimators)


def checkerboard_biclusters(row_labels, col_labels, n_row_clusters, n_col_clusters):
    """Indicators of the g*m blocks (k, l), k-major, as scikit-learn's SpectralBiclustering."""
    rows = np.vstack([row_labels == k for k in range(n_row_clusters) for _ in range(n_col_clusters)])
    cols = np.vstack([col_labels == l for _ in range(n_row_clusters) for l in range(n_col_clusters)])
    return rows, cols


def check_nonnegative(X, name="X"):
    """Raise when ``X`` holds negative values (counts, weights or probabilities expected)."""
    if kernels.is_dask_array(X):
        low = lazy_margins(X).min
    else:
        values = X.data if sp.issparse(X) else X
        low = values.min() if values.size else 0.0
    if low < 0:
        raise ValueError(
            f"Negative values in data passed to {name} (minimum {low:g}); this algorithm "
            "needs non-negative data such as counts or weights. Shift or transform X first "
            "(e.g. X - X.min())."
        )


def matrix_sum(X):
    if kernels.is_dask_array(X):
        return lazy_margins(X).total
    return float(X.sum())


# Data whose largest absolute value lies outside this range is fitted on X / 2**k
# by the estimators whose partitions do not depend on the scale of X: sums,
# products and squares of its values then stay far from float64's limits.
SAFE_MAGNITUDE = (2.0**-64, 2.0**64)


def largest_magnitude(X):
    """``max |x_ij|`` over the stored values of dense or sparse ``X`` (0 when there are none).

    A dask array is not read again: its remembered margins hold the extremes.
    """
    if kernels.is_dask_array(X):
        margins = lazy_margins(X)
        return max(abs(margins.min), abs(margins.max)) if margins.n_stored else 0.0
    values = X.data if sp.issparse(X) else X
    return float(np.abs(values).max()) if values.size else 0.0


def power_of_two_scale(X):
    """1, or the power of two near ``max |X|`` when that lies outside :data:`SAFE_MAGNITUDE`.

    Dividing by a power of two is exact, so a scale-free estimator finds the
    same partition on ``X`` and on ``X / scale``.
    """
    top = largest_magnitude(X)
    if top == 0.0 or SAFE_MAGNITUDE[0] <= top <= SAFE_MAGNITUDE[1]:
        return 1.0
    return float(2.0 ** np.floor(np.log2(top)))


def rescaled(X, scale):
    """``X / scale`` in float64 (a new array or CSR matrix); ``X`` itself when ``scale == 1``."""
    if scale == 1.0:
        return X
    if kernels.is_dask_array(X):  # lazy, block by block (sparse blocks stay sparse)
        return X.astype(np.float64) * (1.0 / scale)
    if sp.issparse(X):
        out = X.astype(np.float64)  # a copy: the caller's data stay untouched
        out.data *= 1.0 / scale
        return out
    return np.asarray(X, dtype=np.float64) * (1.0 / scale)


def warn_degenerate(estimator, row_labels, col_labels, n_row_clusters, n_col_clusters):
    """Warn, as the latent block model does, when a partition has empty or single-member clusters.

    A single member counts only when the clusters could average at least
    three members; with fewer rows than that, singletons are unavoidable.
    """
    notes = []
    for axis, labels, k in (("row", row_labels, n_row_clusters), ("column", col_labels, n_col_clusters)):
        if labels is None or k is None:
            continue
        sizes = np.bincount(np.asarray(labels), minlength=k)
        empty = int(np.sum(sizes == 0))
        single = int(np.sum(sizes == 1)) if sizes.sum() >= 3 * k else 0
        if empty or single:
            parts = [f"{empty} empty"] * bool(empty) + [f"{single} with a single member"] * bool(single)
            notes.append(f"of its {k} {axis} clusters, {' and '.join(parts)}")
    if notes:
        warnings.warn(
            f"{type(estimator).__name__}: {'; '.join(notes)}. The data support fewer clusters for this "
            "criterion: compare smaller numbers of clusters.",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )


class BaseBicluster(BiclusterMixin, BaseEstimator):
    """Base class: validates the parameters and ``X``, then calls the subclass's ``_fit``.

    Subclasses declare their parameters in ``_constraints`` (see
    :func:`coclust_deep._validation.validate_params`) and implement
    ``_check_parameters(X)`` (the checks that need the data) and ``_fit(X)``;
    the ``BiclusterMixin`` then gives ``biclusters_``, ``get_indices``,
    ``get_shape`` and ``get_submatrix`` from ``rows_`` and ``columns_``.
    """

    _constraints = {}
    _accept_sparse = True  # False: the estimator works on a dense copy in memory (sparse and dask X refused)
    _scale_free = True
    """Whether the result does not depend on a positive scale of X: such estimators are fitted on
    ``X / 2**k`` when ``max |X|`` is far from 1 (see :func:`power_of_two_scale`), and ``_unscale``
    puts the fitted attributes that carry X's units back into them."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse
        return tags

    def fit(self, X, y=None):
        """Fit the estimator to the data matrix ``X``.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_rows, n_cols)
            The data; sparse input is kept sparse.
        y : Ignored
            Present for scikit-learn API consistency.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validate_params(self)
        given = X
        X = check_matrix(X, allow_gpu=False)
        lazy = kernels.is_dask_array(X)
        if not self._accept_sparse and (sp.issparse(X) or lazy):
            kind, fix = ("dask", "X.compute()") if lazy else ("sparse", "X.toarray()")
            raise TypeError(
                f"{type(self).__name__} does not take {kind} input (it works on a dense copy); "
                f"pass {fix} if it fits in memory."
            )
        validate_data(self, given, reset=True, skip_check_array=True)  # n_features_in_, a DataFrame's names
        self._check_parameters(X)
        scale = power_of_two_scale(X) if self._scale_free else 1.0
        self._fit(rescaled(X, scale))
        if scale != 1.0:
            self._unscale(scale)
        if hasattr(self, "row_labels_") and hasattr(self, "column_labels_"):
            g, m = self._cluster_numbers()
            warn_degenerate(self, self.row_labels_, self.column_labels_, g, m)
        return self

    def _unscale(self, scale):
        """Fitted attributes in X's units after a fit on ``X / scale`` (none by default)."""

    def _cluster_numbers(self):  # (g, m)
        raise NotImplementedError


class PartitionMixin:
    """For estimators that partition the rows (Cheng & Church's biclusters overlap)."""

    def fit_predict(self, X, y=None):
        """Fit, then return the row partition ``row_labels_``."""
        return self.fit(X).row_labels_


class HardBlockCoclustering(PartitionMixin, BaseBicluster):
    """Alternating hard row/column block updates on the kernel layer.

    A subclass provides

    * ``_step_params(SXT, ctx, axis)`` -> ``(A, w, z, row_weight)`` for the
      half-step over axis 0 (rows, with ``SXT`` of shape (g, m)) or axis 1
      (columns, with ``SXT`` transposed);
    * ``_criterion(SXT, ctx)`` -> float, to be *maximised*;
    * optionally ``_prepare(X)`` -> ``ctx`` dict of per-fit constants and
      ``_badness(L, ctx, axis)`` used to pick rows that re-seed empty clusters.
    """

    _constraints = {
        "init": [Options(INITS), LABEL_PAIR],
        "n_init": [Interval("int", 1)],
        "max_iter": [Interval("int", 1)],
        "tol": [Interval("real", 0)],
        "random_state": RANDOM_STATE,
        "backend": [Options(("auto",) + kernels.ALL_BACKENDS)],
    }

    def _check_common(self, X):
        """The data-dependent checks every hard block estimator shares."""
        if self.init == "k-means++" and kernels.is_dask_array(X):
            raise ValueError(
                "init='k-means++' seeds on the rows of X in memory; for a dask array use "
                "init='spectral' or 'random' (the spectral embedding is computed by blocks)."
            )

    def _prepare(self, X):
        return {}

    def _columns_from_rows(self, backend, Xt, ctx):
        """How a seeded start gets its columns from its rows; ``None``: they are seeded too."""
        return None

    def _badness(self, L_assigned, ctx, axis):
        return -L_assigned

    @compile_notice()
    def _fit(self, X):
        g, m = self._cluster_numbers()
        backend = kernels.get_backend(self.backend, X)
        self.backend_ = backend.name
        Xp = backend.prepare(X)
        Xt = backend.transpose(Xp)
        ctx = self._prepare(X)
        # Free transposed views (CSC for CSR input) for re-seeding; the kernels
        # read the backend's own layout Xt (dask: the row blocks of X again).
        ctx["X"], ctx["Xt"] = (Xp, Xt) if backend.name == "dask" else (X, X.T)
        ctx["block_sums"] = lambda rows, cols: np.asarray(
            backend.to_numpy(backend.block_stats(Xp, one_hot(rows, g), one_hot(cols, m))[0]), dtype=np.float64)
        rng = check_random_state(self.random_state)
        starts = starting_partitions(X, check_init(self.init, *X.shape, g, m), g, m, self.n_init, rng,
                                     columns_from_rows=self._columns_from_rows(backend, Xt, ctx))
        best = None
        for row_labels, col_labels in starts:
            run = self._single_run(backend, Xp, Xt, g, m, ctx, row_labels, col_labels)
            # a relative margin, so that float rounding (dense vs sparse sums)
            # cannot swap two starts that found the same partition
            if best is None or run[2][-1] > best[2][-1] + 1e-10 * abs(best[2][-1]):
                best = run
        row_labels, col_labels, history, n_iter, converged = best
        self.row_labels_ = row_labels
        self.column_labels_ = col_labels
        self.n_iter_ = n_iter
        self.converged_ = converged
        self._store(X, history, ctx)
        ctx.clear()
        self.rows_, self.columns_ = self._biclusters(row_labels, col_labels, g, m)
        if not converged:
            warnings.warn(
                f"{type(self).__name__} did not converge: after max_iter={self.max_iter} iterations the "
                f"kept start's labels still changed and its criterion by more than tol={self.tol} "
                "(relative); increase max_iter, or tol.",
                ConvergenceWarning,
                stacklevel=user_stacklevel(),
            )

    def _biclusters(self, row_labels, col_labels, g, m):
        return checkerboard_biclusters(row_labels, col_labels, g, m)

    def _half_step(self, backend, Xp, T, SXT, ctx, axis, n_clusters):
        A, w, z, r = self._step_params(SXT, ctx, axis)
        res = backend.row_estep(Xp, T, A, None, w, z=z, row_weight=r, mode=kernels.HARD)
        labels = np.asarray(backend.to_numpy(res.S)).argmax(axis=1)
        new_SXT = np.asarray(backend.to_numpy(res.SXT), dtype=np.float64)
        counts = np.bincount(labels, minlength=n_clusters)
        if np.any(counts == 0):
            U = self._projection(T, ctx, axis)
            reseeded = self._reseed_empty(U, labels, counts, A, w, z, r, ctx, axis)
            if self._exact_block_sums(ctx):
                # Every block sum is exact, whatever the order of its terms: move the
                # re-seeded items' projections instead of a pass over X.
                new_SXT = new_SXT.copy()
                for i in np.flatnonzero(reseeded != labels):
                    new_SXT[labels[i]] -= U[i]
                    new_SXT[reseeded[i]] += U[i]
            else:
                S = one_hot(reseeded, n_clusters)
                new_SXT = np.asarray(backend.to_numpy(backend.block_stats(Xp, S, T)[0]), dtype=np.float64)
            labels = reseeded
        return labels, new_SXT

    def _projection(self, T, ctx, axis):
        """``U = X T`` (rows) or ``X^T S`` (columns) with plain numpy/scipy, for re-seeding (rare)."""
        X = ctx["X"] if axis == 0 else ctx["Xt"]  # Xp may be a backend-specific layout
        return dask_backend.matmul(X, T) if self.backend_ == "dask" else np.asarray(X @ T, dtype=np.float64)

    def _exact_block_sums(self, ctx):
        """Whether the block sums of this fit's X are exact in any order (checked once, at the first re-seed)."""
        if "exact_sums" not in ctx:
            ctx["exact_sums"] = self.backend_ != "dask" and sums_are_exact(ctx["X"])
        return ctx["exact_sums"]

    def _reseed_empty(self, U, labels, counts, A, w, z, r, ctx, axis):
        """Move the worst-fitting items of non-singleton clusters into the empty ones.

        ``U`` is the half-step's projection (:meth:`_projection`); each empty
        cluster receives one item.
        """
        L = U @ A.T + w[None, :]
        if z is not None:
            L += np.outer(r, z)
        bad = self._badness(L[np.arange(labels.shape[0]), labels], ctx, axis)
        labels = labels.copy()
        for k in np.flatnonzero(counts == 0):
            movable = counts[labels] > 1
            if not movable.any():
                break
            candidates = np.flatnonzero(movable)
            i = candidates[np.argmax(bad[candidates])]
            counts[labels[i]] -= 1
            labels[i] = k
            counts[k] += 1
            bad[i] = -np.inf
        return labels

    def _single_run(self, backend, Xp, Xt, g, m, ctx, row_labels, col_labels):
        S, T = one_hot(row_labels, g), one_hot(col_labels, m)
        SXT = np.asarray(backend.to_numpy(backend.block_stats(Xp, S, T)[0]), dtype=np.float64)
        ctx["row_labels"], ctx["col_labels"] = row_labels, col_labels
        history = [self._criterion(SXT, ctx)]
        converged = False
        n_iter = 0
        for n_iter in range(1, self.max_iter + 1):
            new_rows, SXT = self._half_step(backend, Xp, T, SXT, ctx, 0, g)
            ctx["row_labels"] = new_rows
            S = one_hot(new_rows, g)
            new_cols, SXT_t = self._half_step(backend, Xt, S, SXT.T, ctx, 1, m)
            ctx["col_labels"] = new_cols
            SXT = SXT_t.T
            T = one_hot(new_cols, m)
            history.append(self._criterion(SXT, ctx))
            unchanged = np.array_equal(new_rows, row_labels) and np.array_equal(new_cols, col_labels)
            row_labels, col_labels = new_rows, new_cols
            gain = history[-1] - history[-2]
            if unchanged or abs(gain) <= self.tol * max(abs(history[-1]), 1e-300):
                converged = True
                break
        return row_labels, col_labels, np.asarray(history), n_iter, converged


def sums_are_exact(X):
    """Whether every sum of stored values of dense or CSR ``X`` is exact in ``X``'s float type.

    True when all values are integer multiples of one power of two ``q`` (the
    smallest unit in the last place among them) and ``sum |x_ij| < 2**p q``,
    with ``p`` the significand bits of the dtype: every partial sum of a
    subset is then a multiple of ``q`` below ``2**p q``, so it is represented
    exactly and its value does not depend on the order of the additions.
    Counts qualify, and so do float32 values of a moderate range held as float64.
    """
    values = X.data if sp.issparse(X) else np.asarray(X).ravel()
    dtype = values.dtype
    a = np.abs(values[values != 0]).astype(np.float64)
    if not a.size:
        return True
    mantissa, exponent = np.frexp(a)  # a = mantissa * 2**exponent, 0.5 <= mantissa < 1
    digits = (mantissa * 2.0**53).astype(np.int64)  # exact: float64 has 53 significand bits
    lowest = digits & -digits  # the lowest set bit of each significand
    unit = int((exponent - 53 + np.frexp(lowest.astype(np.float64))[1] - 1).min())  # log2 q
    bits = np.finfo(dtype).nmant + 1
    total = float(a.sum()) * (1.0 + 1e-9)  # an upper bound on the exact sum
    return total < np.ldexp(1.0, bits + unit)


def row_sums(X):
    """Row sums of dense, CSR or dask ``X`` as a float64 vector."""
    if kernels.is_dask_array(X):
        return lazy_margins(X).row_sums
    return np.asarray(X.sum(axis=1), dtype=np.float64).ravel()


def col_sums(X):
    if kernels.is_dask_array(X):
        return lazy_margins(X).col_sums
    return np.asarray(X.sum(axis=0), dtype=np.float64).ravel()


def row_sq_sums(X):
    if kernels.is_dask_array(X):
        return lazy_margins(X).row_sq_sums
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def col_sq_sums(X):
    if kernels.is_dask_array(X):
        return lazy_margins(X).col_sq_sums
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
    return np.einsum("ij,ij->j", X, X, dtype=np.float64)


def axis_counts(ctx, axis, g, m):
    """Cluster sizes (own axis, other axis) for the half-step over ``axis``."""
    rows = np.bincount(ctx["row_labels"], minlength=g).astype(np.float64)
    cols = np.bincount(ctx["col_labels"], minlength=m).astype(np.float64)
    return (rows, cols) if axis == 0 else (cols, rows)
