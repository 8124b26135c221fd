"""Blocks of a co-clustering: membership matrices, sums, and means with one rule for empty blocks.

Every layer (``lbm``, ``classic``, ``deep``, ``pl``) computes block averages
here, so an empty block means the same everywhere: a block whose size is at
most :data:`EMPTY_SIZE` takes the *pooled* average ``sums.sum() / sizes.sum()``,
the average over the whole matrix. It is finite, attracts no row or column in
particular, and for the latent block model it is the maximum-likelihood value
of a block that holds no data. (A block is empty when its row or column cluster
is, or, with soft posteriors, when they have all but left it.)
"""
from __future__ import annotations

import numpy as np

__all__ = ["EMPTY_SIZE", "block_average", "block_means", "block_sums", "one_hot"]

# Sizes at or below this are empty: soft posteriors leave a vanished cluster
# with a size of about 1e-16 rather than 0.
EMPTY_SIZE = 1e-12


def one_hot(labels, n_clusters):
    """The (n, n_clusters) float membership matrix of integer ``labels``."""
    out = np.zeros((labels.size, n_clusters))
    out[np.arange(labels.size), labels] = 1.0
    return out


def block_average(sums, sizes):
    """``sums / sizes`` block by block; empty blocks get the pooled average.

    Parameters
    ----------
    sums, sizes : ndarray of shape (g, m)
        Per-block totals and sizes (for hard partitions, the number of cells;
        any non-negative weights otherwise).

    Returns
    -------
    ndarray of shape (g, m), float64
        ``sums / sizes`` where ``sizes > EMPTY_SIZE``; elsewhere
        ``sums.sum() / sizes.sum()`` (0 when every block is empty).

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep._blocks import block_average
    >>> block_average(np.array([[6.0, 0.0]]), np.array([[2.0, 0.0]]))
    array([[3., 3.]])
    """
    sums = np.asarray(sums, dtype=np.float64)
    sizes = np.asarray(sizes, dtype=np.float64)
    total = float(sizes.sum())
    out = np.full(sums.shape, float(sums.sum()) / total if total > 0 else 0.0)
    full = sizes > EMPTY_SIZE
    out[full] = sums[full] / sizes[full]
    return out


def block_sums(X, row_labels, col_labels, n_row_clusters, n_col_clusters):
    """Per-block sums of ``X`` (dense or scipy.sparse, never densified) and block sizes.

    Returns
    -------
    sums, sizes : ndarray of shape (n_row_clusters, n_col_clusters)
    """
    S = one_hot(np.asarray(row_labels), n_row_clusters)
    T = one_hot(np.asarray(col_labels), n_col_clusters)
    sums = np.asarray(S.T @ np.asarray(X @ T), dtype=np.float64)
    return sums, np.outer(S.sum(axis=0), T.sum(axis=0))


def block_means(X, row_labels, col_labels, n_row_clusters=None, n_col_clusters=None):
    """Mean of ``X`` in each (row cluster, column cluster) block of a hard co-clustering.

    Parameters
    ----------
    X : ndarray or scipy.sparse matrix of shape (n_rows, n_cols)
    row_labels, col_labels : ndarray of int
    n_row_clusters, n_col_clusters : int, optional
        Numbers of clusters, by default one more than the largest label. A
        cluster without members gives empty blocks, which get the mean of X.

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep._blocks import block_means
    >>> X = np.array([[1.0, 1.0, 5.0], [3.0, 3.0, 7.0]])
    >>> block_means(X, np.array([0, 0]), np.array([0, 0, 1]), 2, 2)
    array([[2.        , 6.        ],
           [3.33333333, 3.33333333]])
    """
    g = int(np.max(row_labels)) + 1 if n_row_clusters is None else n_row_clusters
    m = int(np.max(col_labels)) + 1 if n_col_clusters is None else n_col_clusters
    return block_average(*block_sums(X, row_labels, col_labels, g, m))
