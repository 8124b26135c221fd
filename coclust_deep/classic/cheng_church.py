"""Cheng & Church (2000) biclustering: submatrices of low mean squared residue."""
from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state

from .._validation import RANDOM_STATE, Interval
from ._base import BaseBicluster, largest_magnitude


def _residues(X, rows, cols):
    """Mean squared residue ``H`` of ``X[rows][:, cols]`` and the row/column means."""
    sub = X[np.ix_(rows, cols)]
    row_mean = sub.mean(axis=1)
    col_mean = sub.mean(axis=0)
    total = sub.mean()
    R = sub - row_mean[:, None] - col_mean[None, :] + total
    R2 = R * R
    return float(R2.mean()), R2.mean(axis=1), R2.mean(axis=0)


class ChengChurch(BaseBicluster):
    """Cheng & Church biclustering: possibly overlapping δ-biclusters.

    A δ-bicluster is a submatrix ``(I, J)`` whose mean squared residue

    ``H(I, J) = mean_{i in I, j in J} (x_ij - x_iJ - x_Ij + x_IJ)^2``

    is at most ``delta`` (``x_iJ``, ``x_Ij``, ``x_IJ`` are the row, column and
    submatrix means): an additive pattern ``mu + a_i + b_j`` plus little noise.
    Each bicluster is grown by the three phases of the original paper starting
    from the whole matrix: multiple node deletion (drop every row or column
    whose residue exceeds ``alpha * H``, while more than ``multiple_node_min``
    remain), single node deletion (drop the worst row or column until
    ``H <= delta``) and node addition (add back every row or column whose
    residue is at most ``H``). The cells of a found bicluster are then
    *masked* with uniform random values over the range of ``X``, so that the
    next search does not find it again; biclusters found later may still share
    rows or columns with earlier ones.

    The masking writes into every cell of each bicluster, so this estimator
    works on a dense copy of ``X`` and raises ``TypeError`` for sparse input.

    Parameters
    ----------
    n_biclusters : int, default=5
        Number of biclusters to find.
    delta : float, default=1.0
        Maximum mean squared residue ``δ`` (in squared units of ``X``).
    alpha : float, default=1.2
        Threshold factor (>= 1) of multiple node deletion.
    multiple_node_min : int, default=100
        Multiple node deletion applies to rows (columns) only while more than
        this many remain, as in the paper.
    random_state : int, RandomState instance or None, default=None
        Seed of the random masking values.

    Attributes
    ----------
    rows_ : ndarray of bool, shape (n_biclusters, n_rows)
    columns_ : ndarray of bool, shape (n_biclusters, n_cols)
    residues_ : ndarray, shape (n_biclusters,)
        Mean squared residue of each bicluster on the original ``X``.

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep import ChengChurch
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(0, 10, size=(40, 30))
    >>> X[:10, :8] = 5.0  # a constant bicluster
    >>> model = ChengChurch(n_biclusters=1, delta=0.01, random_state=0).fit(X)
    >>> [list(idx) for idx in model.get_indices(0)] == [list(range(10)), list(range(8))]
    True
    """

    _accept_sparse = False
    _scale_free = False  # delta is in X's squared units
    _constraints = {
        "n_biclusters": [Interval("int", 1)],
        "delta": [Interval("real", 0)],
        "alpha": [Interval("real", 1)],
        "multiple_node_min": [Interval("int", 1)],
        "random_state": RANDOM_STATE,
    }

    def __init__(self, n_biclusters=5, *, delta=1.0, alpha=1.2, multiple_node_min=100,
                 random_state=None):
        self.n_biclusters = n_biclusters
        self.delta = delta
        self.alpha = alpha
        self.multiple_node_min = multiple_node_min
        self.random_state = random_state

    def _check_parameters(self, X):
        top = largest_magnitude(X)
        if top > 3e153:  # a residue is at most 4 max|x|, its square must stay below 1.8e308
            raise ValueError(
                f"ChengChurch: X holds values up to {top:.3g} in absolute value, so its squared residues "
                "exceed the float64 range (about 1.8e308). Divide X by a constant first (for example "
                "X / abs(X).max()) and delta by its square."
            )

    def _fit(self, X):
        rng = check_random_state(self.random_state)
        data = np.array(X, dtype=np.float64)  # masked working copy; the caller's X is untouched
        low, high = float(X.min()), float(X.max())
        n, d = data.shape
        all_rows, all_cols = [], []
        for _ in range(self.n_biclusters):
            rows, cols = np.ones(n, dtype=bool), np.ones(d, dtype=bool)
            rows, cols = self._multiple_node_deletion(data, rows, cols)
            rows, cols = self._single_node_deletion(data, rows, cols)
            rows, cols = self._node_addition(data, rows, cols)
            all_rows.append(rows)
            all_cols.append(cols)
            block = np.ix_(rows, cols)
            data[block] = rng.uniform(low, high, size=(rows.sum(), cols.sum()))
        self.rows_ = np.vstack(all_rows)
        self.columns_ = np.vstack(all_cols)
        self.residues_ = np.array([_residues(X, np.flatnonzero(r), np.flatnonzero(c))[0]
                                   for r, c in zip(self.rows_, self.columns_)])

    def _multiple_node_deletion(self, data, rows, cols):
        while True:
            H, row_res, col_res = _residues(data, np.flatnonzero(rows), np.flatnonzero(cols))
            if H <= self.delta:
                return rows, cols
            removed = False
            if rows.sum() > self.multiple_node_min:
                drop = np.flatnonzero(rows)[row_res > self.alpha * H]
                if drop.size and drop.size < rows.sum():
                    rows = rows.copy()
                    rows[drop] = False
                    removed = True
                    H, row_res, col_res = _residues(data, np.flatnonzero(rows), np.flatnonzero(cols))
            if cols.sum() > self.multiple_node_min:
                drop = np.flatnonzero(cols)[col_res > self.alpha * H]
                if drop.size and drop.size < cols.sum():
                    cols = cols.copy()
                    cols[drop] = False
                    removed = True
            if not removed:
                return rows, cols

    def _single_node_deletion(self, data, rows, cols):
        rows, cols = rows.copy(), cols.copy()
        while True:
            r_idx, c_idx = np.flatnonzero(rows), np.flatnonzero(cols)
            H, row_res, col_res = _residues(data, r_idx, c_idx)
            if H <= self.delta or (r_idx.size == 1 and c_idx.size == 1):
                return rows, cols
            best_row = row_res.max() if r_idx.size > 1 else -np.inf
            best_col = col_res.max() if c_idx.size > 1 else -np.inf
            if best_row >= best_col:
                rows[r_idx[np.argmax(row_res)]] = False
            else:
                cols[c_idx[np.argmax(col_res)]] = False

    def _node_addition(self, data, rows, cols):
        rows, cols = rows.copy(), cols.copy()
        while True:
            r_idx, c_idx = np.flatnonzero(rows), np.flatnonzero(cols)
            H, _, _ = _residues(data, r_idx, c_idx)
            # residue of every column (inside or not) against the current rows
            sub_rows = data[r_idx]
            row_mean = sub_rows[:, c_idx].mean(axis=1)
            total = row_mean.mean()
            col_mean_all = sub_rows.mean(axis=0)
            col_res_all = ((sub_rows - row_mean[:, None] - col_mean_all[None, :] + total) ** 2).mean(axis=0)
            # a rounding margin: an exact additive pattern has H ~ 1e-30, not 0
            slack = 1e-10 * float(np.mean(sub_rows[:, c_idx] ** 2))
            add_cols = ~cols & (col_res_all <= H + slack)
            cols |= add_cols
            c_idx = np.flatnonzero(cols)
            H, _, _ = _residues(data, r_idx, c_idx)
            sub_cols = data[:, c_idx]
            col_mean = sub_cols[r_idx].mean(axis=0)
            total = col_mean.mean()
            row_mean_all = sub_cols.mean(axis=1)
            row_res_all = ((sub_cols - row_mean_all[:, None] - col_mean[None, :] + total) ** 2).mean(axis=1)
            add_rows = ~rows & (row_res_all <= H + slack)
            rows |= add_rows
            if not add_cols.any() and not add_rows.any():
                return rows, cols
