"""Partition agreement scores for clustering, co-clustering and biclustering."""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score
from sklearn.metrics.cluster import contingency_matrix

from ._docs import inject_docs
from ._validation import NONE, Interval, check_param

__all__ = ["accuracy", "ari", "cari", "consensus_score", "labels_to_biclusters", "nmi"]


def _labels(labels, name):
    """``labels`` as a flat array; ValueError if any label is missing (NaN, None, pd.NA, NaT)."""
    arr = np.asarray(labels).ravel()
    if arr.dtype.kind in "fc":
        missing = np.isnan(arr)
    elif arr.dtype.kind in "mM":
        missing = np.isnat(arr)
    elif arr.dtype == object:
        import pandas as pd  # imported here: `import coclust_deep` stays light

        missing = pd.isna(arr)
    else:
        return arr
    if missing.any():
        # otherwise NaN would count as one more cluster (accuracy, cari) or fail in sorting (None next to str)
        raise ValueError(f"{name} contains missing values (NaN/None); drop those samples first.")
    return arr


_DOC_PAIR = """labels_true : array-like of shape (n_samples,)
    Reference labels; missing values (NaN, None) raise a ValueError.
labels_pred : array-like of shape (n_samples,)
    Predicted labels, as many as ``labels_true``.

Returns
-------
float"""


def _pair(labels_true, labels_pred, names=("labels_true", "labels_pred")):
    a = _labels(labels_true, names[0])
    b = _labels(labels_pred, names[1])
    if a.shape != b.shape:
        raise ValueError(f"label vectors differ in length: {a.shape[0]} vs {b.shape[0]}.")
    if a.size == 0:
        raise ValueError("label vectors are empty.")
    return a, b


@inject_docs(doc_pair=_DOC_PAIR)
def nmi(labels_true, labels_pred):
    """Normalised mutual information (arithmetic normalisation, as scikit-learn).

    Parameters
    ----------
    {doc_pair}

    Examples
    --------
    >>> nmi([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    a, b = _pair(labels_true, labels_pred)
    # scikit-learn's value can exceed 1 by a rounding error (1.0000000000000002 for identical partitions)
    return float(min(max(normalized_mutual_info_score(a, b), 0.0), 1.0))


@inject_docs(doc_pair=_DOC_PAIR)
def ari(labels_true, labels_pred):
    """Adjusted Rand index.

    Parameters
    ----------
    {doc_pair}

    Examples
    --------
    >>> ari([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    a, b = _pair(labels_true, labels_pred)
    return float(adjusted_rand_score(a, b))


@inject_docs(doc_pair=_DOC_PAIR)
def accuracy(labels_true, labels_pred):
    """Clustering accuracy after the best one-to-one matching of labels.

    The matching maximises the matched counts (Hungarian algorithm on the
    contingency table); predicted clusters left unmatched count as errors.

    Parameters
    ----------
    {doc_pair}

    Examples
    --------
    >>> accuracy([0, 0, 1, 1, 2], [2, 2, 0, 0, 0])
    0.8
    """
    a, b = _pair(labels_true, labels_pred)
    C = contingency_matrix(a, b)
    rows, cols = linear_sum_assignment(-C)
    return float(C[rows, cols].sum() / a.size)


def _ari_from_contingency(C):
    C = np.asarray(C, dtype=np.float64)
    n = C.sum()
    comb = lambda x: x * (x - 1.0) / 2.0  # noqa: E731
    sum_ij = comb(C).sum()
    sum_a = comb(C.sum(axis=1)).sum()
    sum_b = comb(C.sum(axis=0)).sum()
    if comb(n) == 0:  # one cell (or none): the two partitions cannot disagree
        return 1.0
    expected = sum_a * sum_b / comb(n)
    max_index = 0.5 * (sum_a + sum_b)
    if max_index == expected:  # both partitions trivial and identical
        return 1.0
    return float((sum_ij - expected) / (max_index - expected))


def cari(row_true, col_true, row_pred, col_pred):
    """Co-clustering ARI (Robert, Vasseur & Brault 2021).

    The ARI between the two partitions of the *cells* (i, j) into blocks. The
    block contingency table is the Kronecker product of the row and column
    tables, so nothing of size n x d is built.

    Parameters
    ----------
    row_true, col_true : array-like of shape (n_rows,) and (n_cols,)
        Reference row and column labels.
    row_pred, col_pred : array-like of shape (n_rows,) and (n_cols,)
        Predicted row and column labels, as many as the reference ones.

    Returns
    -------
    float

    Examples
    --------
    >>> cari([0, 0, 1], [0, 1], [1, 1, 0], [1, 0])
    1.0
    """
    r_true, r_pred = _pair(row_true, row_pred, ("row_true", "row_pred"))
    c_true, c_pred = _pair(col_true, col_pred, ("col_true", "col_pred"))
    C = np.kron(contingency_matrix(r_true, r_pred), contingency_matrix(c_true, c_pred))
    return _ari_from_contingency(C)


def consensus_score(biclusters_a, biclusters_b):
    """Consensus score between two sets of biclusters (Hochreiter et al. 2010).

    Each argument is ``(rows, columns)``: boolean indicator arrays of shape
    (n_biclusters, n_rows) and (n_biclusters, n_columns), as in scikit-learn's
    ``biclusters_``.  Similarity is the Jaccard index of the biclusters' cells
    and matching is Hungarian; the matched similarities are summed and divided
    by the size of the larger set, as in scikit-learn. Unlike scikit-learn's
    version, a bicluster without cells (no rows or no columns, which
    co-clusterings with an empty cluster produce) is allowed: two empty
    biclusters are identical (similarity 1), an empty and a non-empty one
    share nothing (0).

    Parameters
    ----------
    biclusters_a, biclusters_b : tuple (rows, columns) of bool ndarray
        ``rows`` of shape (n_biclusters, n_rows), ``columns`` of shape
        (n_biclusters, n_columns); the two sets may hold different numbers of
        biclusters (at least one each) over matrices of the same shape.

    Returns
    -------
    float

    Examples
    --------
    >>> rows = np.array([[True, False], [False, True]])
    >>> cols = np.array([[True, False], [False, True]])
    >>> consensus_score((rows, cols), (rows[::-1], cols[::-1]))
    1.0
    """
    a_rows, a_cols = (np.asarray(x, dtype=bool) for x in biclusters_a)
    b_rows, b_cols = (np.asarray(x, dtype=bool) for x in biclusters_b)
    if a_rows.ndim != 2 or a_cols.ndim != 2 or b_rows.ndim != 2 or b_cols.ndim != 2:
        raise ValueError("biclusters must be (rows, columns) with 2-D boolean indicator arrays.")
    if a_rows.shape[1] != b_rows.shape[1] or a_cols.shape[1] != b_cols.shape[1]:
        raise ValueError("the two sets of biclusters index matrices of different shapes.")
    if a_rows.shape[0] != a_cols.shape[0] or b_rows.shape[0] != b_cols.shape[0]:
        raise ValueError("each set of biclusters needs as many row indicators as column indicators.")
    if a_rows.shape[0] == 0 or b_rows.shape[0] == 0:
        raise ValueError("a set of biclusters is empty; give at least one bicluster on each side.")
    # cells shared by biclusters i and j, and their sizes: products of row and column counts
    shared = (a_rows.astype(np.float64) @ b_rows.T) * (a_cols.astype(np.float64) @ b_cols.T)
    size_a = a_rows.sum(axis=1).astype(np.float64) * a_cols.sum(axis=1)
    size_b = b_rows.sum(axis=1).astype(np.float64) * b_cols.sum(axis=1)
    union = size_a[:, None] + size_b[None, :] - shared
    similarity = np.divide(shared, union, out=np.zeros_like(shared), where=union > 0)
    similarity[(size_a[:, None] == 0) & (size_b[None, :] == 0)] = 1.0
    rows, cols = linear_sum_assignment(-similarity)
    return float(similarity[rows, cols].sum() / max(similarity.shape))


def labels_to_biclusters(row_labels, col_labels, n_clusters=None):
    """Indicator arrays of the diagonal biclusters (k, k) of a co-clustering.

    Returns ``(rows, columns)``, boolean arrays of shape (n_biclusters, n_rows)
    and (n_biclusters, n_columns), as scikit-learn's ``biclusters_``. Bicluster
    ``k`` pairs row cluster ``k`` with column cluster ``k``: one per label
    found on either side, or one per ``k`` in ``range(n_clusters)`` (empty
    clusters included) when ``n_clusters`` is given.

    Parameters
    ----------
    row_labels : array-like of shape (n_rows,)
    col_labels : array-like of shape (n_cols,)
    n_clusters : int or None, default=None
        Number of biclusters; ``None``: one per label found on either side.

    Examples
    --------
    >>> rows, cols = labels_to_biclusters([0, 0, 1], [1, 0])
    >>> rows.astype(int).tolist(), cols.astype(int).tolist()
    ([[1, 1, 0], [0, 0, 1]], [[0, 1], [1, 0]])
    """
    check_param("labels_to_biclusters", "n_clusters", n_clusters, [NONE, Interval("int", 1)])
    r = _labels(row_labels, "row_labels")
    c = _labels(col_labels, "col_labels")
    for labels, name, axis in ((r, "row_labels", "row"), (c, "col_labels", "column")):
        if labels.size == 0:
            raise ValueError(f"{name} is empty; give one cluster label per {axis} of the matrix.")
    ks = np.union1d(np.unique(r), np.unique(c)) if n_clusters is None else np.arange(n_clusters)
    return np.stack([r == k for k in ks]), np.stack([c == k for k in ks])
