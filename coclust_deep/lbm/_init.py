"""Starting partitions for block EM that do not collapse on sparse data.

A VEM run from a random *soft* partition can fall into a single cluster on
sparse counts, because every row then looks like the global average. We start
from *hard* partitions instead: k-means on a spectral embedding of the scaled
matrix, or uniformly random labels. The estimator then runs a few CEM
iterations before the requested algorithm.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans


def random_labels(n, k, rng):
    """Balanced random labels: every cluster non-empty when ``n >= k``."""
    return rng.permutation(np.arange(n) % k)


def _scaled_operator(X, nonneg):
    """Matvecs of the matrix the spectral embedding is taken from, never densified.

    Non-negative data: D_r^{-1/2} X D_c^{-1/2} (Dhillon 2001), zero rows and
    columns get weight 0 instead of a division by zero. Other data: X with
    column means removed, applied implicitly.
    """
    if nonneg:
        r = np.asarray(X.sum(axis=1)).ravel()
        c = np.asarray(X.sum(axis=0)).ravel()
        dr = np.where(r > 0, 1.0 / np.sqrt(np.where(r > 0, r, 1.0)), 0.0)
        dc = np.where(c > 0, 1.0 / np.sqrt(np.where(c > 0, c, 1.0)), 0.0)
        def mat(M):
            out = np.asarray(X @ (dc[:, None] * M))
            out *= dr[:, None]
            return out

        def rmat(M):
            out = np.asarray(X.T @ (dr[:, None] * M))
            out *= dc[:, None]
            return out

        return mat, rmat, dr, dc
    mu = np.asarray(X.mean(axis=0)).ravel()
    mat = lambda M: np.asarray(X @ M) - (mu @ M)[None, :]  # noqa: E731
    rmat = lambda M: np.asarray(X.T @ M) - np.outer(mu, M.sum(axis=0))  # noqa: E731
    return mat, rmat, None, None


def spectral_embedding(X, k, rng, nonneg=True, n_power=3, oversample=5):
    """``k`` informative left and right singular vectors, scaled by the singular values.

    For non-negative data the leading (trivial) pair of the scaled matrix is
    dropped and the vectors are mapped back by D^{-1/2}, as in Dhillon (2001).
    A randomised range finder (Halko et al. 2011) over matvecs only, so the
    cost is a few passes over X and memory is O((n + d) k).
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


def kmeans_labels(emb, k, seed):
    """k-means++ on an embedding; rows are L2-normalised so scale does not dominate."""
    norm = np.linalg.norm(emb, axis=1, keepdims=True)
    emb = np.divide(emb, norm, out=np.zeros_like(emb), where=norm > 0)
    if k == 1:
        return np.zeros(emb.shape[0], dtype=np.int64)
    km = KMeans(n_clusters=k, n_init=1, random_state=seed, max_iter=100)
    return km.fit_predict(emb).astype(np.int64)


def is_nonneg(X):
    data = X.data if sp.issparse(X) else X
    return data.size == 0 or float(data.min()) >= 0
