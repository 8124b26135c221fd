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

import numbers

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, BiclusterMixin
from sklearn.utils import check_random_state

from .. import kernels
from .._blocks import one_hot
from ..lbm._init import random_labels
from .._validation import check_choice, check_matrix, check_positive_int


def checkerboard_biclusters(row_labels, col_labels, n_row_clusters, n_col_clusters):
    """Indicators of the g*m blocks (k, l), k-major, as scikit-learn's SpectralBiclustering."""
    rows = np.vstack([row_labels == k for k in range(n_row_clusters) for _ in range(n_col_clusters)])
    cols = np.vstack([col_labels == l for _ in range(n_row_clusters) for l in range(n_col_clusters)])
    return rows, cols


def diagonal_biclusters(row_labels, col_labels, n_clusters):
    """Indicators of the co-clusters (k, k)."""
    rows = np.vstack([row_labels == k for k in range(n_clusters)])
    cols = np.vstack([col_labels == k for k in range(n_clusters)])
    return rows, cols


def check_nonnegative(X, name="X"):
    """Raise when ``X`` holds negative values (counts, weights or probabilities expected)."""
    values = X.data if sp.issparse(X) else X
    if values.size and values.min() < 0:
        raise ValueError(
            f"{name} has negative values ({values.min():g}); this algorithm needs non-negative "
            "data such as counts or weights. Shift or transform X first (e.g. X - X.min())."
        )


def matrix_sum(X):
    return float(X.sum())


def check_random_state_param(random_state):
    if random_state is not None and not isinstance(
        random_state, (numbers.Integral, np.random.RandomState, np.random.Generator)
    ):
        raise TypeError(
            f"random_state must be None, an int or a numpy RandomState, got {type(random_state).__name__}."
        )
    return check_random_state(random_state)


class BaseBicluster(BiclusterMixin, BaseEstimator):
    """Base class: validates ``X`` then calls the subclass's ``_fit``.

    Subclasses implement ``_check_parameters(X)`` and ``_fit(X)``; the
    ``BiclusterMixin`` then gives ``biclusters_``, ``get_indices``,
    ``get_shape`` and ``get_submatrix`` from ``rows_`` and ``columns_``.
    """

    _accept_sparse = True

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
        X = check_matrix(X, allow_gpu=False)
        if sp.issparse(X) and not self._accept_sparse:
            raise TypeError(
                f"{type(self).__name__} needs a dense matrix; pass X.toarray() if it fits in memory."
            )
        self._check_parameters(X)
        self._fit(X)
        return self


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

    def _cluster_numbers(self):  # (g, m)
        raise NotImplementedError

    def _check_common(self, X):
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter")
        if isinstance(self.tol, bool) or not isinstance(self.tol, numbers.Real) or self.tol < 0:
            raise ValueError(f"tol must be a number >= 0, got {self.tol!r}.")
        check_random_state_param(self.random_state)
        check_choice(self.init, "init", ("k-means++", "random"))
        if kernels.resolve_backend(self.backend, X) == "dask":
            raise ValueError(
                "backend='dask' maps the kernels over the row blocks of a dask array, but "
                f"{type(self).__name__} works on in-memory numpy/scipy data; use backend='auto', "
                "'numba', 'numpy' or 'cupy'."
            )

    def _prepare(self, X):
        return {}

    def _initial_labels(self, backend, Xp, Xt, g, m, ctx, rng):
        """Random balanced partitions, or cosine k-means++ seeding (see ``seed_labels``).

        Rows are seeded on ``X``; columns on their sums over the row clusters
        just found, ``X^T S`` (d x g), far less noisy than single sparse columns.
        """
        if self.init == "random":
            return random_labels(Xp.shape[0], g, rng), random_labels(Xt.shape[0], m, rng)
        if "unit_rows" not in ctx:  # the same for every start
            ctx["unit_rows"] = unit_rows(ctx["X"])
        rows = seed_labels(ctx["X"], g, rng, unit=ctx["unit_rows"])
        col_profiles = np.asarray(ctx["Xt"] @ one_hot(rows, g), dtype=np.float64)
        return rows, seed_labels(col_profiles, m, rng)

    def _badness(self, L_assigned, ctx, axis):
        return -L_assigned

    def _fit(self, X):
        g, m = self._cluster_numbers()
        backend = kernels.get_backend(self.backend, X)
        self.backend_ = backend.name
        Xp = backend.prepare(X)
        Xt = backend.transpose(Xp)
        ctx = self._prepare(X)
        # Free transposed views (CSC for CSR input) for seeding and re-seeding;
        # the kernels read the backend's own row-major copy Xt.
        ctx["X"], ctx["Xt"] = X, X.T
        rng = check_random_state(self.random_state)
        best = None
        for _ in range(self.n_init):
            run = self._single_run(backend, Xp, Xt, g, m, ctx, rng)
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

    def _biclusters(self, row_labels, col_labels, g, m):
        return checkerboard_biclusters(row_labels, col_labels, g, m)

    def _half_step(self, backend, Xp, T, SXT, ctx, axis, n_clusters):
        A, w, z, r = self._step_params(SXT, ctx, axis)
        res = backend.row_estep(Xp, T, A, None, w, z=z, row_weight=r, mode=kernels.HARD)
        labels = np.asarray(backend.to_numpy(res.S)).argmax(axis=1)
        new_SXT = np.asarray(backend.to_numpy(res.SXT), dtype=np.float64)
        counts = np.bincount(labels, minlength=n_clusters)
        if np.any(counts == 0):
            labels = self._reseed_empty(Xp, T, labels, counts, A, w, z, r, ctx, axis)
            S = one_hot(labels, n_clusters)
            new_SXT = np.asarray(backend.to_numpy(backend.block_stats(Xp, S, T)[0]), dtype=np.float64)
        return labels, new_SXT

    def _reseed_empty(self, Xp, T, labels, counts, A, w, z, r, ctx, axis):
        """Move the worst-fitting items of non-singleton clusters into the empty ones.

        Rare, so the scores are recomputed here with plain numpy/scipy.
        """
        X = ctx["X"] if axis == 0 else ctx["Xt"]  # Xp may be a backend-specific layout
        U = np.asarray(X @ T, dtype=np.float64)
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

    def _single_run(self, backend, Xp, Xt, g, m, ctx, rng):
        row_labels, col_labels = self._initial_labels(backend, Xp, Xt, g, m, ctx, rng)
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


def row_sums(X):
    """Row sums of dense or CSR ``X`` as a float64 vector."""
    return np.asarray(X.sum(axis=1), dtype=np.float64).ravel()


def col_sums(X):
    return np.asarray(X.sum(axis=0), dtype=np.float64).ravel()


def row_sq_sums(X):
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    return np.einsum("ij,ij->i", X, X, dtype=np.float64)


def col_sq_sums(X):
    if sp.issparse(X):
        return np.asarray(X.multiply(X).sum(axis=0), dtype=np.float64).ravel()
    return np.einsum("ij,ij->j", X, X, dtype=np.float64)


def axis_counts(ctx, axis, g, m):
    """Cluster sizes (own axis, other axis) for the half-step over ``axis``."""
    rows = np.bincount(ctx["row_labels"], minlength=g).astype(np.float64)
    cols = np.bincount(ctx["col_labels"], minlength=m).astype(np.float64)
    return (rows, cols) if axis == 0 else (cols, rows)


def unit_rows(X):
    """Rows of ``X`` scaled to unit Euclidean norm (all-zero rows stay 0), and the non-zero mask."""
    norms = np.sqrt(row_sq_sums(X))
    live = norms > 0
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=live)
    unit = sp.csr_matrix(sp.diags(inv) @ X) if sp.issparse(X) else np.asarray(X) * inv[:, None]
    return unit, live


def seed_labels(X, n_clusters, rng, *, refine=5, sample_size=2048, unit=None):
    """Greedy k-means++ partition of the rows of ``X`` by cosine similarity.

    Seeds are chosen among a random sample of at most ``sample_size`` rows:
    each new seed is the best of ``2 + log(n_clusters)`` candidates drawn with
    probability proportional to the cosine distance to the nearest seed
    already chosen, the one that lowers the total distance most (as
    scikit-learn's k-means++), so outlying rows are rarely chosen. All rows
    then join their most similar seed and ``refine`` spherical k-means steps
    follow; a cluster emptied by a step is re-seeded with the worst-fitting
    row. Each step is one product of ``X`` with a (d, n_clusters) matrix; the
    n x n similarity matrix is never formed. All-zero rows join cluster 0.
    ``unit`` may pass a cached ``unit_rows(X)``.
    """
    n = X.shape[0]
    unit, live = unit_rows(X) if unit is None else unit
    candidates = np.flatnonzero(live)
    if candidates.size < n_clusters:
        return random_labels(n, n_clusters, rng)
    if candidates.size > sample_size:
        candidates = np.sort(rng.choice(candidates, sample_size, replace=False))
    pool = unit[candidates]

    def dense_rows(rows):
        block = unit[rows]
        return block.toarray() if sp.issparse(block) else block

    def cosines(rows):  # (len(rows), len(candidates))
        return np.asarray(pool @ dense_rows(rows).T, dtype=np.float64).T

    n_trials = 2 + int(np.log(n_clusters))
    seeds = [candidates[rng.randint(candidates.size)]]
    best_sim = cosines([seeds[0]])[0]
    for _ in range(1, n_clusters):
        dist = np.clip(1.0 - best_sim, 0.0, None)
        dist[np.isin(candidates, seeds)] = 0.0
        if dist.sum() <= 0:  # every sampled row is a copy of a seed: draw among the others
            rest = np.setdiff1d(np.flatnonzero(live), seeds)
            trial = rest[rng.randint(rest.size, size=1)] if rest.size else np.asarray(seeds[:1])
        else:
            picks = np.searchsorted(np.cumsum(dist), rng.uniform(0, dist.sum(), size=n_trials))
            trial = candidates[np.minimum(picks, candidates.size - 1)]
        trial_sims = np.maximum(cosines(trial), best_sim[None, :])
        best = int(np.argmax(trial_sims.sum(axis=1)))
        seeds.append(int(trial[best]))
        best_sim = trial_sims[best]
    labels = np.asarray(unit @ dense_rows(seeds).T).argmax(axis=1)
    labels[np.asarray(seeds)] = np.arange(n_clusters)
    # A single sparse row is a noisy seed: refine by a few spherical k-means
    # steps (centroid = normalised sum of the members' unit rows).
    for _ in range(refine):
        C = np.asarray(one_hot(labels, n_clusters).T @ unit, dtype=np.float64)
        C /= np.maximum(np.linalg.norm(C, axis=1), np.finfo(float).tiny)[:, None]
        sims = np.asarray(unit @ C.T)
        new = sims.argmax(axis=1)
        fit = np.where(live, sims[np.arange(n), new], np.inf)
        counts = np.bincount(new[live], minlength=n_clusters)
        for k in np.flatnonzero(counts == 0):  # re-seed with the worst-fitting row
            movable = live & (counts[new] > 1)
            if not movable.any():
                break
            i = np.flatnonzero(movable)[np.argmin(fit[movable])]
            counts[new[i]] -= 1
            new[i], counts[k], fit[i] = k, 1, np.inf
        if np.array_equal(new, labels):
            break
        labels = new
    labels[~live] = 0
    return labels
