"""Spectral co-clustering (Dhillon 2001) and checkerboard biclustering (Kluger et al. 2003).

Both scale ``X`` by row and column sums, take a few singular vectors and run
k-means on them. Unlike scikit-learn's versions, rows and columns whose sum is
0 get a zero scaling factor instead of a division by zero (which turns the
whole embedding into NaN there), and sparse input stays sparse throughout:
scaling is a product with sparse diagonal matrices.
"""
from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import ArpackError, ArpackNoConvergence, svds
from sklearn.utils import check_random_state
from sklearn.utils.extmath import randomized_svd, svd_flip

from ..kernels import is_dask_array
from .._seeding import inv_sqrt, kmeans
from .._validation import NONE, RANDOM_STATE, Interval, Options, Pair, check_n_clusters
from ._base import (
    BaseBicluster,
    PartitionMixin,
    check_nonnegative,
    checkerboard_biclusters,
    col_sums,
    diagonal_biclusters,
    row_sums,
)


def scale_normalize(X):
    """``D_r^{-1/2} X D_c^{-1/2}`` with zero factors for rows/columns of sum <= 0.

    Returns the scaled matrix (CSR for sparse input, never densified) and the
    two scaling vectors.
    """
    r_inv, c_inv = inv_sqrt(row_sums(X)), inv_sqrt(col_sums(X))
    if sp.issparse(X):
        # One copy scaled in place of two sparse products (same (r * x) * c order, same values).
        scaled = sp.csr_matrix(X, dtype=np.float64, copy=True)
        scaled.data = np.repeat(r_inv, np.diff(scaled.indptr)) * scaled.data * c_inv[scaled.indices]
        scaled.eliminate_zeros()
        return scaled, r_inv, c_inv
    return r_inv[:, None] * X * c_inv[None, :], r_inv, c_inv


def bistochastic_normalize(X, max_iter=1000, tol=1e-5):
    """Alternate scale normalisation until rows and columns have equal sums."""
    scaled = X
    for _ in range(max_iter):
        new, _, _ = scale_normalize(scaled)
        if sp.issparse(new):
            dist = np.linalg.norm(new.data - scaled.data) if new.nnz == scaled.nnz else np.inf
        else:
            dist = np.linalg.norm(new - scaled)
        scaled = new
        if dist < tol:
            break
    return scaled


def log_normalize(X):
    """Double-centred ``log(X)`` (dense only; ``X`` shifted to a minimum of 1 if needed)."""
    X = np.asarray(X, dtype=np.float64)
    if X.min() < 1:
        X = X - X.min() + 1.0
    L = np.log(X)
    return L - L.mean(axis=1, keepdims=True) - L.mean(axis=0, keepdims=True) + L.mean()


def singular_vectors(M, n_components, svd_method, n_svd_vecs, rng):
    """Leading ``n_components`` left and right singular vectors (descending order).

    ARPACK cannot start on a matrix whose range its random start vector
    misses (``ArpackError``) and may not converge on a degenerate spectrum;
    it then falls back to the randomized SVD, with a warning.
    """
    k = min(n_components, min(M.shape))
    # svds takes no dask array, and each ARPACK product would be one more pass over X
    if svd_method == "arpack" and is_dask_array(M):
        raise ValueError(
            "svd_method='arpack' needs X in memory and cannot read a dask array; use "
            "svd_method='randomized' for dask input (or X.compute() if it fits in memory)."
        )
    if svd_method == "arpack" and k < min(M.shape) - 1:
        lanczos = Interval("int", k, min(M.shape), closed="neither")  # svds' bounds on ncv
        if n_svd_vecs is not None and not lanczos.ok(n_svd_vecs):
            raise ValueError(
                f"n_svd_vecs={n_svd_vecs}: with svd_method='arpack' it counts Lanczos vectors and must be "
                f"{lanczos} (more than the {k} singular vectors computed, fewer than the {min(M.shape)} "
                "rows or columns decomposed); or leave it None."
            )
        v0 = rng.uniform(-1, 1, size=min(M.shape))
        try:
            u, s, vt = svds(M, k=k, ncv=n_svd_vecs, v0=v0)
        except (ArpackError, ArpackNoConvergence) as err:
            warnings.warn(f"ARPACK failed ({err}); the randomized SVD was used instead.", RuntimeWarning,
                          stacklevel=3)
        else:
            order = np.argsort(-s)
            u, vt = svd_flip(u[:, order], vt[order])
            return u, vt.T
    u, s, vt = randomized_svd(M, k, n_oversamples=n_svd_vecs or 10, random_state=rng)
    return u, vt.T


def check_some_nonzero(X, owner):
    """Raise for an X without a single non-zero value: there is nothing to cluster."""
    values = X.data if sp.issparse(X) else X
    if not np.any(values != 0):
        raise ValueError(f"{owner}: every value of X is 0, so it has no structure to cluster; check the input "
                         "(e.g. the layer or the gene selection).")


# Parameters both spectral estimators share.
_SVD_CONSTRAINTS = {
    "svd_method": [Options(("randomized", "arpack"))],
    "n_svd_vecs": [NONE, Interval("int", 1)],
    "n_init": [Interval("int", 1)],
    "random_state": RANDOM_STATE,
}


class SpectralCoclustering(PartitionMixin, BaseBicluster):
    """Spectral co-clustering (Dhillon 2001), safe on all-zero rows and columns.

    The matrix is scaled to ``A_n = D_r^{-1/2} X D_c^{-1/2}``; the singular
    vectors 2 to ``1 + ceil(log2(n_clusters))`` of ``A_n``, rescaled by
    ``D^{-1/2}``, embed rows and columns together, and k-means on that
    embedding gives ``n_clusters`` diagonal co-clusters. Rows and columns that
    sum to 0 carry no information: they are left out of the SVD and of the
    k-means fit and then join the co-cluster whose centre is nearest to the
    zero embedding, so the result never holds NaN (scikit-learn's version
    divides by 0 there). Sparse input is never densified. ``X`` must be
    non-negative (counts or weights): negative values raise a ``ValueError``.

    Parameters
    ----------
    n_clusters : int, default=3
        Number of co-clusters.
    svd_method : {"randomized", "arpack"}, default="randomized"
        ``sklearn.utils.extmath.randomized_svd`` or ``scipy.sparse.linalg.svds``.
    n_svd_vecs : int, default=None
        Oversampling (randomized) or Lanczos vectors (arpack).
    n_init : int, default=10
        Starts of k-means.
    random_state : int, RandomState instance or None, default=None
        Seed of the SVD and k-means.

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    rows_, columns_ : ndarray of bool, shape (n_clusters, n_rows) and (n_clusters, n_cols)
        Indicators of the co-clusters ``(k, k)``.
    row_embedding_ : ndarray, shape (n_rows, n_singular_vectors)
    column_embedding_ : ndarray, shape (n_cols, n_singular_vectors)

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import make_biclusters
    >>> from coclust_deep import SpectralCoclustering
    >>> from coclust_deep.metrics import consensus_score
    >>> X, rows, cols = make_biclusters((60, 50), 3, noise=1, minval=10, maxval=20,
    ...                                 shuffle=True, random_state=0)
    >>> X[0] = 0  # an all-zero row: scikit-learn's version gives NaN here
    >>> model = SpectralCoclustering(3, random_state=0).fit(np.abs(X))
    >>> round(consensus_score(model.biclusters_, (rows, cols)), 1)
    1.0
    """

    _constraints = {"n_clusters": [Interval("int", 1)], **_SVD_CONSTRAINTS}

    def __init__(self, n_clusters=3, *, svd_method="randomized", n_svd_vecs=None, n_init=10,
                 random_state=None):
        self.n_clusters = n_clusters
        self.svd_method = svd_method
        self.n_svd_vecs = n_svd_vecs
        self.n_init = n_init
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _cluster_numbers(self):
        return self.n_clusters, self.n_clusters

    def _check_parameters(self, X):
        check_n_clusters(self.n_clusters, "n_clusters", X.shape[0], "rows")
        check_n_clusters(self.n_clusters, "n_clusters", X.shape[1], "columns")
        # D_r^-1/2 X D_c^-1/2 needs positive sums: on z-scores half the rows and columns
        # would get a zero factor and the partition degenerates instead of failing
        check_nonnegative(X, type(self).__name__)
        check_some_nonzero(X, type(self).__name__)

    def _unscale(self, scale):
        # the embeddings carry D^-1/2: fitted on X / scale, they are sqrt(scale) times X's
        self.row_embedding_ = self.row_embedding_ / np.sqrt(scale)
        self.column_embedding_ = self.column_embedding_ / np.sqrt(scale)

    def _fit(self, X):
        rng = check_random_state(self.random_state)
        scaled, r_inv, c_inv = scale_normalize(X)
        live_rows, live_cols = np.flatnonzero(r_inv > 0), np.flatnonzero(c_inv > 0)
        if live_rows.size < self.n_clusters or live_cols.size < self.n_clusters:
            raise ValueError(
                f"X has only {live_rows.size} rows and {live_cols.size} columns with a positive sum; "
                f"spectral co-clustering needs at least n_clusters={self.n_clusters} of each."
            )
        all_live = live_rows.size == X.shape[0] and live_cols.size == X.shape[1]
        core = scaled if all_live else scaled[live_rows][:, live_cols]
        n_sv = 1 + int(np.ceil(np.log2(self.n_clusters)))
        u, v = singular_vectors(core, n_sv, self.svd_method, self.n_svd_vecs, rng)
        row_emb = np.zeros((X.shape[0], max(n_sv - 1, 1)))
        col_emb = np.zeros((X.shape[1], max(n_sv - 1, 1)))
        first = 1 if u.shape[1] > 1 else 0  # skip the trivial leading vector
        row_emb[live_rows, : u.shape[1] - first] = r_inv[live_rows, None] * u[:, first:]
        col_emb[live_cols, : v.shape[1] - first] = c_inv[live_cols, None] * v[:, first:]
        Z_live = np.vstack([row_emb[live_rows], col_emb[live_cols]])
        km = kmeans(Z_live, self.n_clusters, rng, n_init=self.n_init)
        live_labels = km.labels_.astype(np.int64)
        zero_label = int(km.predict(np.zeros((1, Z_live.shape[1])))[0])
        self.row_labels_ = np.full(X.shape[0], zero_label, dtype=np.int64)
        self.column_labels_ = np.full(X.shape[1], zero_label, dtype=np.int64)
        self.row_labels_[live_rows] = live_labels[: live_rows.size]
        self.column_labels_[live_cols] = live_labels[live_rows.size:]
        self.row_embedding_, self.column_embedding_ = row_emb, col_emb
        self.rows_, self.columns_ = diagonal_biclusters(self.row_labels_, self.column_labels_, self.n_clusters)


class SpectralBiclustering(PartitionMixin, BaseBicluster):
    """Checkerboard spectral biclustering (Kluger et al. 2003), safe on all-zero rows.

    ``X`` is normalised (``method``), its leading singular vectors are
    computed, the ``n_best`` vectors best approximated by a piecewise-constant
    vector are kept, and rows (columns) are clustered by k-means on the data
    projected onto the kept right (left) vectors. Rows and columns with sum 0
    get a zero scaling factor instead of NaN. ``"scale"`` and
    ``"bistochastic"`` keep sparse input sparse; ``"log"`` needs dense,
    positive-shifted data and raises on sparse input.

    Parameters
    ----------
    n_clusters : int or (int, int), default=3
        Numbers of row and column clusters (one int: the same for both).
    method : {"bistochastic", "scale", "log"}, default="bistochastic"
        Normalisation of ``X``. ``"bistochastic"`` and ``"log"`` shift dense
        ``X`` with negative values to non-negative (``"log"``: to a minimum
        of 1); ``"scale"`` divides by row and column sums, as
        :class:`SpectralCoclustering`, and refuses negative values.
    n_components : int, default=6
        Singular vectors computed.
    n_best : int, default=3
        Singular vectors kept for the projection.
    svd_method : {"randomized", "arpack"}, default="randomized"
    n_svd_vecs : int, default=None
    n_init : int, default=10
        Starts of each k-means.
    random_state : int, RandomState instance or None, default=None

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    rows_, columns_ : ndarray of bool
        Indicators of the g*m checkerboard blocks, block ``(k, l)`` at ``k * m + l``.

    Examples
    --------
    >>> from sklearn.datasets import make_checkerboard
    >>> from coclust_deep import SpectralBiclustering
    >>> from coclust_deep.metrics import consensus_score
    >>> X, rows, cols = make_checkerboard((60, 50), (3, 2), noise=1, minval=10, maxval=100,
    ...                                   shuffle=True, random_state=0)
    >>> model = SpectralBiclustering((3, 2), random_state=0).fit(X)
    >>> round(consensus_score(model.biclusters_, (rows, cols)), 2)
    1.0
    """

    _constraints = {
        "n_clusters": [Interval("int", 1), Pair(Interval("int", 1), "a pair of ints >= 1")],
        "method": [Options(("bistochastic", "scale", "log"))],
        "n_components": [Interval("int", 1)],
        "n_best": [Interval("int", 1)],
        **_SVD_CONSTRAINTS,
    }

    def __init__(self, n_clusters=3, *, method="bistochastic", n_components=6, n_best=3,
                 svd_method="randomized", n_svd_vecs=None, n_init=10, random_state=None):
        self.n_clusters = n_clusters
        self.method = method
        self.n_components = n_components
        self.n_best = n_best
        self.svd_method = svd_method
        self.n_svd_vecs = n_svd_vecs
        self.n_init = n_init
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = self.method == "scale"
        return tags

    def _cluster_numbers(self):
        if isinstance(self.n_clusters, (tuple, list)):
            return tuple(self.n_clusters)
        return self.n_clusters, self.n_clusters

    def _check_parameters(self, X):
        g, m = self._cluster_numbers()
        check_n_clusters(g, "n_row_clusters", X.shape[0], "rows")
        check_n_clusters(m, "n_col_clusters", X.shape[1], "columns")
        if self.method == "scale":  # Dhillon's scaling, as in SpectralCoclustering; the others shift X
            check_nonnegative(X, f"{type(self).__name__}(method='scale')")
        check_some_nonzero(X, type(self).__name__)
        if self.n_best > self.n_components:
            raise ValueError(f"n_best={self.n_best} must be <= n_components={self.n_components}.")
        if self.method == "log" and sp.issparse(X):
            raise ValueError(
                "method='log' takes the log of every entry, zeros included, so it needs dense X; "
                "use method='scale' or 'bistochastic' for sparse input."
            )
        if self.method == "bistochastic" and sp.issparse(X) and X.nnz and X.data.min() < 0:
            raise ValueError(
                "method='bistochastic' needs non-negative values; sparse X has negative entries "
                "(shift them densely, or use method='scale')."
            )

    def _fit(self, X):
        g, m = self._cluster_numbers()
        rng = check_random_state(self.random_state)
        if self.method == "bistochastic":
            if not sp.issparse(X) and X.min() < 0:
                X = X - X.min()
            normalized = bistochastic_normalize(X)
            n_discard = 1
        elif self.method == "scale":
            normalized = scale_normalize(X)[0]
            n_discard = 1
        else:
            normalized = log_normalize(X)
            n_discard = 0
        u, v = singular_vectors(normalized, self.n_components, self.svd_method, self.n_svd_vecs, rng)
        ut, vt = u.T[n_discard:], v.T[n_discard:]
        if ut.shape[0] == 0:  # fewer components than the trivial one: keep it
            ut, vt = u.T, v.T
        best_ut = self._best_piecewise(ut, g, rng)
        best_vt = self._best_piecewise(vt, m, rng)
        self.row_labels_ = kmeans(np.asarray(X @ best_vt.T), g, rng, n_init=self.n_init).labels_.astype(np.int64)
        self.column_labels_ = kmeans(np.asarray(X.T @ best_ut.T), m, rng, n_init=self.n_init).labels_.astype(np.int64)
        self.rows_, self.columns_ = checkerboard_biclusters(self.row_labels_, self.column_labels_, g, m)

    def _best_piecewise(self, vectors, n_clusters, rng):
        """The ``n_best`` vectors closest to their own piecewise-constant k-means fit."""
        dists = []
        for vec in vectors:
            km = kmeans(vec.reshape(-1, 1), n_clusters, rng, n_init=self.n_init)
            dists.append(np.linalg.norm(vec - km.cluster_centers_[km.labels_].ravel()))
        return vectors[np.argsort(dists)[: self.n_best]]
