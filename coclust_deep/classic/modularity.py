"""Bipartite modularity co-clustering (Ailem, Role & Nadif 2015, CoclustMod)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._blocks import one_hot
from .._seeding import document_init
from .._validation import Interval, check_n_clusters
from ._base import (
    HardBlockCoclustering,
    check_nonnegative,
    col_sums,
    diagonal_biclusters,
    matrix_sum,
    row_sums,
)


@document_init
class ModularityCoclustering(HardBlockCoclustering):
    """Co-clustering by maximising bipartite graph modularity (CoclustMod).

    ``X`` is read as the weighted bi-adjacency matrix of rows and columns, and
    ``n_clusters`` diagonal co-clusters maximise the modularity

    ``Q = (1/N) sum_ij (x_ij - r_i c_j / N) [z_i == w_j]``

    with row sums ``r``, column sums ``c`` and ``N = sum_ij x_ij``. The
    modularity matrix ``B = X - r c^T / N`` is dense, so it is never formed: a
    row step maximises ``(x_i T)_k - r_i (T^T c)_k / N``, which is the kernel
    contract with ``A = I``, ``z = -(T^T c) / N`` and row weight ``r``
    (:mod:`coclust_deep.kernels`, hard mode). Cost per iteration is
    O(nnz * k). A co-cluster emptied by an update is re-seeded with the row
    (or column) that fits its own co-cluster worst, so all ``n_clusters``
    co-clusters are always returned.

    Parameters
    ----------
    n_clusters : int, default=2
        Number of co-clusters.
    n_init : int, default=10
        Random starts; the one with the highest modularity is kept.
    init : (the shared vocabulary of coclust_deep._seeding)
        Seeded starts (k-means++, spectral) take their columns from one
        modularity column step given the rows, so that row and column
        cluster k form co-cluster k. The default ``"auto"`` (half spectral,
        half random starts) reached the highest modularity, the criterion
        itself, on the benchmark matrices (``"k-means++"`` lower on the
        SciPy document-term matrix and on PBMC counts).
    max_iter : int, default=100
        Maximum (row step, column step) iterations per start.
    tol : float, default=1e-9
        Stop when the modularity grows by less than ``tol`` times itself, or
        when no label changes.
    random_state : int, RandomState instance or None, default=None
        Seed of the random starts.
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Kernel backend for the block updates.

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    modularity_ : float
        Final modularity ``Q`` of the kept start.
    criterion_history_ : ndarray
        ``Q`` after each iteration (non-decreasing).
    n_iter_ : int
    converged_ : bool
        Whether the kept start stopped before ``max_iter`` (a
        ``ConvergenceWarning`` is raised otherwise).
    n_features_in_ : int
        Number of columns of the X seen by ``fit``.
    rows_, columns_ : ndarray of bool, shape (n_clusters, n_rows) and (n_clusters, n_cols)
        Indicators of the co-clusters ``(k, k)``.
    backend_ : str

    Examples
    --------
    >>> from sklearn.datasets import make_biclusters
    >>> from coclust_deep import ModularityCoclustering
    >>> from coclust_deep.metrics import consensus_score
    >>> X, rows, cols = make_biclusters((60, 50), 3, noise=1, minval=10, maxval=20,
    ...                                 shuffle=True, random_state=0)
    >>> model = ModularityCoclustering(3, random_state=0).fit(abs(X))
    >>> round(consensus_score(model.biclusters_, (rows, cols)), 2)
    1.0
    """

    _constraints = {"n_clusters": [Interval("int", 1)], **HardBlockCoclustering._constraints}

    def __init__(self, n_clusters=2, *, init="auto", n_init=10, max_iter=100, tol=1e-9,
                 random_state=None, backend="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.backend = backend

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _cluster_numbers(self):
        return self.n_clusters, self.n_clusters

    def _check_parameters(self, X):
        check_n_clusters(self.n_clusters, "n_clusters", X.shape[0], "rows")
        check_n_clusters(self.n_clusters, "n_clusters", X.shape[1], "columns")
        check_nonnegative(X)
        if matrix_sum(X) <= 0:
            raise ValueError("X sums to 0; modularity needs a graph with some positive weights.")
        self._check_common(X)

    def _prepare(self, X):
        return {"total": matrix_sum(X), "degrees": (row_sums(X), col_sums(X))}

    def _columns_from_rows(self, backend, Xt, ctx):
        def column_step(rows):
            # the modularity column step given the rows needs only the row-cluster degrees (A = I)
            ctx["row_labels"] = rows
            A, w, z, r = self._step_params(None, ctx, 1)
            res = backend.row_estep(Xt, one_hot(rows, self.n_clusters), A, None, w, z=z, row_weight=r,
                                    mode=kernels.HARD)
            return np.asarray(backend.to_numpy(res.S)).argmax(axis=1)

        return column_step

    def _cluster_degrees(self, ctx, axis):
        labels = ctx["row_labels"] if axis == 0 else ctx["col_labels"]
        return np.bincount(labels, weights=ctx["degrees"][axis], minlength=self.n_clusters)

    def _step_params(self, SXT, ctx, axis):
        other = self._cluster_degrees(ctx, 1 - axis)
        k = self.n_clusters
        return np.eye(k), np.zeros(k), -other / ctx["total"], ctx["degrees"][axis]

    def _criterion(self, SXT, ctx):
        N = ctx["total"]
        expected = (self._cluster_degrees(ctx, 0) / N) @ (self._cluster_degrees(ctx, 1) / N)
        return float(np.trace(SXT) / N - expected)

    def _biclusters(self, row_labels, col_labels, g, m):
        return diagonal_biclusters(row_labels, col_labels, g)

    def _store(self, X, history, ctx):
        self.criterion_history_ = history
        self.modularity_ = float(history[-1])
