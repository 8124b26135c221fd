"""Information-theoretic co-clustering (Dhillon, Mallela & Modha 2003)."""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..kernels import dask_backend
from .._seeding import document_init
from .._validation import Interval, check_n_clusters, nonzero_entries
from ._base import HardBlockCoclustering, check_nonnegative, col_sums, matrix_sum, row_sums

_TINY = np.finfo(np.float64).tiny


def mutual_information(P):
    """Mutual information (nats) of the joint distribution ``P`` (sums to 1)."""
    pk = np.broadcast_to(P.sum(axis=1, keepdims=True), P.shape)
    pl = np.broadcast_to(P.sum(axis=0, keepdims=True), P.shape)
    mask = P > 0
    # in logs: p_k * p_l may underflow when X spans hundreds of orders of magnitude
    return float(np.sum(P[mask] * (np.log(P[mask]) - np.log(pk[mask]) - np.log(pl[mask]))))


@document_init
class InfoCoclustering(HardBlockCoclustering):
    """Information-theoretic co-clustering (Dhillon, Mallela & Modha 2003).

    ``X / X.sum()`` is read as a joint distribution ``p(x, y)`` of rows and
    columns. The algorithm looks for row clusters ``x̂`` and column clusters
    ``ŷ`` that keep as much mutual information as possible,
    ``max I(X̂; Ŷ)``, equivalently that minimise the information lost
    ``I(X; Y) - I(X̂; Ŷ)``. Each row moves to the cluster whose column-cluster
    profile is closest in Kullback-Leibler divergence,
    ``argmax_k sum_l u_il log p(ŷ_l | x̂_k)`` with ``u_i = x_i T``: a hard block
    update on :mod:`coclust_deep.kernels`; the columns likewise. ``I(X̂; Ŷ)``
    never decreases along the iterations. Only profiles count: rows that
    differ by a scale factor (library size) look alike, and row clusters whose
    profiles are proportional cannot be told apart.

    Parameters
    ----------
    n_row_clusters : int, default=2
        Number of row clusters.
    n_col_clusters : int, default=2
        Number of column clusters.
    n_init : int, default=10
        Random starts; the one keeping the most mutual information wins.
    init : (the shared vocabulary of coclust_deep._seeding)
        The default ``"k-means++"`` seeds on the rows of X in memory: a dask
        array needs ``"spectral"``, ``"auto"`` or ``"random"``.
        :func:`coclust_deep.tl.cocluster` starts a backed AnnData from
        ``"spectral"`` when no ``init`` is given.
    max_iter : int, default=100
        Maximum (row step, column step) iterations per start.
    tol : float, default=1e-9
        Stop when the mutual information grows by less than ``tol`` times
        itself, or when no label changes.
    random_state : int, RandomState instance or None, default=None
        Seed of the random starts.
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Kernel backend for the block updates.

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    mutual_information_ : float
        ``I(X̂; Ŷ)`` in nats of the kept start.
    criterion_history_ : ndarray
        ``I(X̂; Ŷ)`` after each iteration (non-decreasing).
    information_loss_ : float
        ``I(X; Y) - I(X̂; Ŷ)`` (>= 0).
    joint_ : ndarray, shape (n_row_clusters, n_col_clusters)
        Co-cluster distribution ``p(x̂, ŷ)``.
    n_iter_ : int
    converged_ : bool
        Whether the kept start stopped before ``max_iter`` (a
        ``ConvergenceWarning`` is raised otherwise).
    n_features_in_ : int
        Number of columns of the X seen by ``fit``.
    rows_, columns_ : ndarray of bool
        Indicators of the g*m blocks, block ``(k, l)`` at index ``k * m + l``.
    backend_ : str

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep import InfoCoclustering
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.metrics import ari
    >>> profiles = np.array([[1.0, 4.0, 1.0], [4.0, 1.0, 1.0], [1.0, 1.0, 4.0]])
    >>> X, rows, cols = make_lbm(150, 120, 3, 3, family="poisson", params={"lambda": profiles},
    ...                          row_effects=True, random_state=0)
    >>> model = InfoCoclustering(3, 3, random_state=0).fit(X)
    >>> round(ari(rows, model.row_labels_), 2), round(ari(cols, model.column_labels_), 2)
    (1.0, 1.0)
    """

    _constraints = {
        "n_row_clusters": [Interval("int", 1)],
        "n_col_clusters": [Interval("int", 1)],
        **HardBlockCoclustering._constraints,
    }

    def __init__(self, n_row_clusters=2, n_col_clusters=2, *, init="k-means++", n_init=10, max_iter=100,
                 tol=1e-9, random_state=None, backend="auto"):
        self.n_row_clusters = n_row_clusters
        self.n_col_clusters = n_col_clusters
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
        return self.n_row_clusters, self.n_col_clusters

    def _check_parameters(self, X):
        check_n_clusters(self.n_row_clusters, "n_row_clusters", X.shape[0], "rows")
        check_n_clusters(self.n_col_clusters, "n_col_clusters", X.shape[1], "columns")
        check_nonnegative(X)
        if matrix_sum(X) <= 0:
            raise ValueError("X sums to 0; information-theoretic co-clustering needs some positive values.")
        self._check_common(X)

    def _prepare(self, X):
        return {"total": matrix_sum(X), "mass": (row_sums(X), col_sums(X))}

    def _step_params(self, SXT, ctx, axis):
        mass = SXT.sum(axis=1, keepdims=True)
        # A cluster holding no mass (empty, or only all-zero items) gets the
        # marginal profile: it attracts nothing in particular and gives no NaN.
        marginal = SXT.sum(axis=0, keepdims=True) / max(SXT.sum(), _TINY)
        profile = np.where(mass > 0, SXT / np.maximum(mass, _TINY), marginal)
        A = np.log(np.maximum(profile, _TINY))
        return A, np.zeros(SXT.shape[0]), None, None

    def _badness(self, L_assigned, ctx, axis):
        # per unit of mass: the KL divergence up to a per-item constant
        return -L_assigned / np.maximum(ctx["mass"][axis], _TINY)

    def _criterion(self, SXT, ctx):
        return mutual_information(SXT / ctx["total"])

    def _store(self, X, history, ctx):
        self.joint_ = ctx["block_sums"](self.row_labels_, self.column_labels_) / ctx["total"]
        self.criterion_history_ = history
        self.mutual_information_ = mutual_information(self.joint_)
        self.information_loss_ = max(_full_mutual_information(X, ctx) - self.mutual_information_, 0.0)


def _full_mutual_information(X, ctx):
    """``I(X; Y)`` of the matrix itself, from its non-zero entries only (a dask array: by row blocks)."""
    r, c = ctx["mass"]
    if kernels.is_dask_array(X):
        return float(dask_backend.map_reduce(X, _information_block, per_row=(r,), shared=(c, ctx["total"]))[1][0])
    return _information_block(X, r, c, ctx["total"])[1][0]


def _information_block(X, r, c, total):
    """``sum p_ij log(p_ij / (p_i p_j))`` over the positive entries of the rows ``X`` (row masses ``r``)."""
    i, j, v = nonzero_entries(X)
    keep = v > 0
    i, j, v = i[keep], j[keep], v[keep]
    p = v / total
    return (), (float(np.sum(p * (np.log(v) + np.log(total) - np.log(r[i]) - np.log(c[j])))),)
