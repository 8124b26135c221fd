"""Hard starting partitions, shared by the latent block model and the hard block co-clustering estimators.

One ``init`` vocabulary serves every estimator that starts from partitions
(:class:`~coclust_deep.LatentBlockModel`, :class:`~coclust_deep.DoubleKMeans`,
:class:`~coclust_deep.InfoCoclustering`, :class:`~coclust_deep.ModularityCoclustering`):

``"k-means++"``
    :func:`kmeans_plusplus_labels` (k-means++, then a few k-means
    iterations, on rows scaled to unit length) on the rows of X, then on the
    columns' sums over those row clusters, ``X^T S`` (d x g), far less noisy
    than single sparse columns.
``"spectral"``
    The same seeder, k-means run to convergence, on the rows and columns of a
    spectral embedding (:func:`spectral_embedding`, computed once for all
    starts).
``"random"``
    Balanced random labels (every cluster non-empty).
``"auto"``
    The first half of the starts spectral, the rest random.
``(row_labels, col_labels)``
    Every start from that partition.

Hard starts matter for block EM: a VEM run from a random *soft* partition can
fall into a single cluster on sparse counts, because every row then looks like
the global average.
"""
from __future__ import annotations

import functools
import inspect
import warnings
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from threadpoolctl import ThreadpoolController

from ._blocks import one_hot
from ._lazy import lazy_margins
from ._validation import check_labels
from .kernels import is_dask_array

__all__ = [
    "INITS", "check_init", "kmeans", "kmeans_plusplus_labels", "random_labels", "spectral_embedding",
    "starting_partitions",
]

INITS = ("auto", "k-means++", "spectral", "random")
# Lloyd iterations after k-means++: a few on the raw rows (n x d, the block
# updates that follow do the rest), to convergence on a (n x k) embedding.
RAW_KMEANS_ITER = 5
EMBEDDING_KMEANS_ITER = 100
# k-means++ picks its centres among at most this many raw rows (an embedding's
# rows are cheap: all of them are candidates).
RAW_SEED_SAMPLE = 2048
# Rows of a spectral embedding shorter than this, relative to the longest, are
# rounding noise (a constant column of the centred matrix embeds at ~1e-12
# relative in memory, ~1e-17 through dask): scaled to unit length they would get
# a random direction that differs between the two paths (see _embedding_labels).
# Raw data rows keep the exact test: a small but non-zero row there is signal.
EMBEDDING_RTOL = float(np.sqrt(np.finfo(np.float64).eps))


# Estimators document ``init`` with this line in their docstring, which
# :func:`document_init` replaces by the shared description.
INIT_DOC_PLACEHOLDER = "    init : (the shared vocabulary of coclust_deep._seeding)\n"
_INIT_DOC = """\
    init : {{"auto", "k-means++", "spectral", "random"}} or (row_labels, col_labels), default="{default}"
        Hard starting partitions, the same vocabulary for every partitioning
        estimator. ``"k-means++"``: k-means++ and a few k-means steps on the
        rows of X scaled to unit length, then the same on the columns' sums
        over those row clusters. ``"spectral"``: the same seeder, run to
        convergence, on the leading singular vectors of the scaled matrix
        (``D_r^-1/2 X D_c^-1/2`` for non-negative data, the column-centred
        matrix otherwise). ``"auto"``: the first half of the ``n_init`` starts
        spectral, the rest random. ``"random"``: balanced random labels. A
        pair of label arrays starts every run from that partition.
"""


def document_init(cls):
    """Class decorator: put the shared ``init`` description, with the class's default, in its docstring."""
    default = inspect.signature(cls.__init__).parameters["init"].default
    if cls.__doc__:  # None under python -OO
        cls.__doc__ = cls.__doc__.replace(INIT_DOC_PLACEHOLDER, _INIT_DOC.format(default=default))
    return cls


def random_labels(n, k, rng):
    """Balanced random labels: every cluster non-empty when ``n >= k``."""
    return rng.permutation(np.arange(n) % k)


def inv_sqrt(v):
    """``1 / sqrt(v)`` where ``v > 0``, and 0 elsewhere (all-zero rows or columns)."""
    out = np.zeros_like(v, dtype=np.float64)
    pos = v > 0
    out[pos] = 1.0 / np.sqrt(v[pos])
    return out


def unit_rows(X, rtol=0.0):
    """Rows of ``X`` scaled to unit Euclidean norm, and the mask of the rows kept.

    Rows of norm ``<= rtol`` times the largest (all-zero rows with the default
    ``rtol=0``) are set to 0 and marked dead.
    """
    if sp.issparse(X):
        norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel())
    else:
        norms = np.linalg.norm(X, axis=1)
    live = norms > rtol * norms.max(initial=0.0)
    if sp.issparse(X):
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=live)
        return sp.csr_matrix(sp.diags(inv) @ X), live
    return np.divide(X, norms[:, None], out=np.zeros_like(X, dtype=np.float64), where=live[:, None]), live


# Below this many values, k-means' OpenMP thread start-up costs more than the
# work (10x slower on a busy 2-core machine), so it runs on one thread.
_KMEANS_SERIAL_BELOW = 1_000_000


@functools.cache
def _threadpools():
    # Built once: a new controller re-lists every loaded library (5-8 ms, 16 % of a small LBM fit).
    # scikit-learn's OpenMP runtime, the one k-means uses, is loaded by the KMeans import above.
    return ThreadpoolController()


def _openmp_threads(Z):
    """One OpenMP thread for small inputs, where starting the others costs more than the work."""
    size = Z.nnz if sp.issparse(Z) else Z.size
    return _threadpools().limit(limits=1, user_api="openmp") if size < _KMEANS_SERIAL_BELOW else nullcontext()


def kmeans(Z, n_clusters, random_state, *, n_init=1, max_iter=300, init="k-means++"):
    """scikit-learn's ``KMeans`` (k-means++ seeding unless ``init`` gives centres, then Lloyd) fitted on ``Z``.

    ``random_state`` is an int, or a RandomState that draws one.
    """
    if not isinstance(random_state, (int, np.integer)):
        random_state = int(random_state.randint(np.iinfo(np.int32).max))
    km = KMeans(n_clusters, init=init, n_init=n_init, max_iter=max_iter, random_state=int(random_state))
    with _openmp_threads(Z):
        km.fit(Z)
    return km


def kmeans_plusplus_labels(X, n_clusters, random_state, *, max_iter=EMBEDDING_KMEANS_ITER, sample_size=None,
                           unit=None):
    """Partition of the rows of ``X`` by k-means++ and k-means on the rows scaled to unit length.

    On unit rows the squared distance is twice the cosine distance, so rows
    group by profile whatever their scale (library size, document length).
    scikit-learn's ``kmeans_plusplus`` picks the centres among the non-zero
    rows (at most ``sample_size`` of them, drawn at random, if given: the cost
    of seeding stays bounded on large data), then ``KMeans`` runs at most
    ``max_iter`` Lloyd iterations on every row. All-zero rows join the cluster nearest the origin; with fewer
    non-zero rows than clusters the labels are balanced random ones. Dense or
    sparse ``X``, never densified; ``unit`` may pass a cached ``unit_rows(X)``.

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep._seeding import kmeans_plusplus_labels
    >>> X = np.array([[5.0, 0.1], [40.0, 2.0], [0.1, 3.0], [0.2, 60.0]])
    >>> labels = kmeans_plusplus_labels(X, 2, random_state=0)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    rng = check_random_state(random_state)
    unit, live = unit_rows(X) if unit is None else unit
    candidates = np.flatnonzero(live)
    if candidates.size < n_clusters:
        return random_labels(X.shape[0], n_clusters, rng)
    if sample_size is not None and candidates.size > sample_size:
        candidates = np.sort(rng.choice(candidates, sample_size, replace=False))
    seed = random_state if isinstance(random_state, (int, np.integer)) else rng.randint(np.iinfo(np.int32).max)
    with _openmp_threads(unit):
        centers, _ = kmeans_plusplus(unit[candidates], n_clusters, random_state=int(seed))
    if sp.issparse(centers):
        centers = centers.toarray()
    with warnings.catch_warnings():
        # duplicate rows can leave fewer distinct centres: the estimators re-seed empty clusters
        warnings.filterwarnings("ignore", "Number of distinct clusters", ConvergenceWarning)
        return kmeans(unit, n_clusters, seed, init=centers, max_iter=max_iter).labels_.astype(np.int64)


def _embedding_rows(E):
    """``(unit_rows(E), noise)`` of a spectral embedding; ``noise``: its non-zero rows of rounding noise."""
    unit, live = unit_rows(E, EMBEDDING_RTOL)
    return (unit, live), ~live & np.any(E != 0, axis=1)


def _embedding_labels(E, n_clusters, seed, rows):
    """:func:`kmeans_plusplus_labels` of embedding ``E`` (``rows`` from :func:`_embedding_rows`).

    Noise rows stay out of k-means: as zero rows they would tie between
    centres (all at distance 1 at first) and tip the partition by rounding,
    differently in memory and by blocks. Carrying no direction, they join the
    largest cluster.
    """
    unit, noise = rows
    if not noise.any():
        return kmeans_plusplus_labels(E, n_clusters, seed, unit=unit)
    keep = ~noise
    labels = np.empty(E.shape[0], dtype=np.int64)
    labels[keep] = kmeans_plusplus_labels(E[keep], n_clusters, seed, unit=(unit[0][keep], unit[1][keep]))
    labels[noise] = np.bincount(labels[keep], minlength=n_clusters).argmax()
    return labels


def _products(X):
    """``(M -> X @ M, M -> X^T @ M, row sums, column sums)`` of in-memory or dask ``X``.

    A dask array is multiplied block by block on its scheduler, one pass per
    product and no transposed copy (``kernels.dask_backend.matmul``); its sums
    come from the pass over its margins (:func:`coclust_deep._lazy.lazy_margins`).
    """
    if is_dask_array(X):
        from .kernels import dask_backend

        Xp = dask_backend.prepare(X)
        Xt = dask_backend.transpose(Xp)
        margins = lazy_margins(X)
        return (lambda M: dask_backend.matmul(Xp, M), lambda M: dask_backend.matmul(Xt, M),
                margins.row_sums, margins.col_sums)
    return (lambda M: np.asarray(X @ M), lambda M: np.asarray(X.T @ M),
            np.asarray(X.sum(axis=1), dtype=np.float64).ravel(), np.asarray(X.sum(axis=0), dtype=np.float64).ravel())


def _scaled_operator(X, nonneg):
    """Products with the matrix the spectral embedding is taken from, never densified.

    Non-negative data: D_r^{-1/2} X D_c^{-1/2} (Dhillon 2001), zero rows and
    columns get weight 0 instead of a division by zero. Other data: X with
    column means removed, applied implicitly.
    """
    times, times_t, row_sums, col_sums = _products(X)
    if nonneg:
        dr = inv_sqrt(row_sums)
        dc = inv_sqrt(col_sums)

        def mat(M):
            out = times(dc[:, None] * M)
            out *= dr[:, None]
            return out

        def rmat(M):
            out = times_t(dr[:, None] * M)
            out *= dc[:, None]
            return out

        return mat, rmat, dr, dc
    mu = col_sums / X.shape[0]
    mat = lambda M: times(M) - (mu @ M)[None, :]  # noqa: E731
    rmat = lambda M: times_t(M) - np.outer(mu, M.sum(axis=0))  # noqa: E731
    return mat, rmat, None, None


def spectral_embedding(X, k, rng, nonneg=True, n_power=3, oversample=5):
    """``k`` informative left and right singular vectors, scaled by the singular values.

    For non-negative data the leading (trivial) pair of the scaled matrix is
    dropped and the vectors are mapped back by D^{-1/2}, as in Dhillon (2001).
    A randomised range finder (Halko et al. 2011) over products with X only,
    so the cost is a few passes over X and memory is O((n + d) k).
    scikit-learn's ``randomized_svd`` needs the scaled or centred matrix
    itself, a copy of X, and ``scipy.sparse.linalg.svds`` on the implicit
    operator converges in many more products: both measured slower
    (``python -m benchmarks.spectral_init``).
    """
    n, d = X.shape
    mat, rmat, dr, dc = _scaled_operator(X, nonneg)
    skip = 1 if nonneg else 0
    k = k + skip
    q = min(k + oversample, n, d)
    Q, _ = np.linalg.qr(mat(rng.standard_normal((d, q))))
    for _ in range(n_power):
        Z, _ = np.linalg.qr(rmat(Q))
        Q, _ = np.linalg.qr(mat(Z))
    Bt = rmat(Q)  # (d, q) = (Q^T M)^T
    Ub, s, Vt = np.linalg.svd(Bt.T, full_matrices=False)
    k = min(k, s.size)
    if k <= skip:  # a single informative direction at most: keep what there is
        skip = 0
    rows = (Q @ Ub[:, skip:k]) * s[skip:k]
    cols = Vt[skip:k].T * s[skip:k]
    if nonneg:
        rows, cols = dr[:, None] * rows, dc[:, None] * cols
    return rows, cols


def is_nonneg(X):
    if is_dask_array(X):
        return lazy_margins(X).n_negative == 0
    data = X.data if sp.issparse(X) else X
    return data.size == 0 or float(data.min()) >= 0


def check_init(init, n, d, n_row_clusters, n_col_clusters):
    """``init`` as a name from :data:`INITS`, or a pair of label arrays checked against the shape.

    The type and the name were checked with the other parameters; this checks
    a given partition's lengths and label ranges.
    """
    if isinstance(init, str):
        return init
    rows = check_labels(init[0], n, "init[0] (row labels)")
    cols = check_labels(init[1], d, "init[1] (column labels)")
    if rows.min() < 0 or rows.max() >= n_row_clusters or cols.min() < 0 or cols.max() >= n_col_clusters:
        raise ValueError("init labels must lie in [0, n_row_clusters) and [0, n_col_clusters).")
    return rows, cols


def starting_partitions(X, init, n_row_clusters, n_col_clusters, n_init, rng, *, columns_from_rows=None):
    """``n_init`` hard starting partitions ``(row_labels, col_labels)`` of in-memory ``X``.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n, d)
    init : str from :data:`INITS` or (row_labels, col_labels), checked by :func:`check_init`
    n_row_clusters, n_col_clusters, n_init : int
    rng : numpy RandomState
    columns_from_rows : callable, optional
        For the seeded starts (k-means++ and spectral), derive the column labels
        from the row labels instead of seeding them (modularity co-clustering
        pairs column cluster k with row cluster k).
    """
    g, m = n_row_clusters, n_col_clusters
    if isinstance(init, tuple):
        return [init] * n_init
    n, d = X.shape
    n_seeded = {"auto": (n_init + 1) // 2, "k-means++": n_init, "spectral": n_init, "random": 0}[init]
    starts = []
    if init == "k-means++":
        unit = unit_rows(X)  # the same for every start
        for _ in range(n_seeded):
            rows = kmeans_plusplus_labels(X, g, rng, unit=unit, max_iter=RAW_KMEANS_ITER, sample_size=RAW_SEED_SAMPLE)
            if columns_from_rows is not None:
                starts.append((rows, columns_from_rows(rows)))
            else:
                profiles = np.asarray(X.T @ one_hot(rows, g), dtype=np.float64)
                starts.append((rows, kmeans_plusplus_labels(profiles, m, rng, max_iter=RAW_KMEANS_ITER,
                                                            sample_size=RAW_SEED_SAMPLE)))
    elif n_seeded:
        emb_rows, emb_cols = spectral_embedding(X, max(g, m), rng, nonneg=is_nonneg(X))
        unit_r, unit_c = _embedding_rows(emb_rows), _embedding_rows(emb_cols)
        for _ in range(n_seeded):
            seed = int(rng.randint(np.iinfo(np.int32).max))
            rows = _embedding_labels(emb_rows, g, seed, unit_r)
            cols = (columns_from_rows(rows) if columns_from_rows is not None
                    else _embedding_labels(emb_cols, m, seed + 1, unit_c))
            starts.append((rows, cols))
    for _ in range(n_init - n_seeded):
        starts.append((random_labels(n, g, rng), random_labels(d, m, rng)))
    return starts
