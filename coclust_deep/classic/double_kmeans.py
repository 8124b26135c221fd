"""Double k-means: block k-means, the CEM limit of the Gaussian LBM with equal variances."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._blocks import block_average
from .._seeding import document_init
from .._validation import Interval, check_n_clusters
from ._base import HardBlockCoclustering, axis_counts, col_sq_sums, largest_magnitude, row_sq_sums


def check_sum_of_squares(X, owner):
    """Raise unless the sum of squares of ``X``, which bounds double k-means' criterion, is a float64."""
    top = largest_magnitude(X)
    if top == 0.0:
        return
    if kernels.is_dask_array(X):  # the sums of squares of its remembered margins
        relative = float(np.sum(row_sq_sums(X))) / top / top
    else:
        values = X.data if hasattr(X, "format") else X
        relative = float(np.sum(np.square(values / top)))  # <= n * d, never overflows
    if not np.isfinite(relative * top * top):
        raise ValueError(
            f"{owner}: X holds values up to {top:.3g} in absolute value, so its within-block sum of squares "
            "(criterion_) exceeds the float64 range (about 1.8e308). Divide X by a constant first (for example "
            "X / abs(X).max()): the partition does not depend on the scale."
        )


@document_init
class DoubleKMeans(HardBlockCoclustering):
    """Double k-means co-clustering (block k-means).

    Finds a row partition into ``n_row_clusters`` and a column partition into
    ``n_col_clusters`` that minimise the within-block sum of squares
    ``W = sum_ij (x_ij - mu_{z_i w_j})^2``. This is classification EM for the
    Gaussian latent block model with one shared variance. Each half-step is a
    hard block update on :mod:`coclust_deep.kernels`: row ``i`` goes to
    ``argmax_k sum_l u_il mu_kl - 0.5 sum_l t_l mu_kl^2`` with ``u_i = x_i T``.

    Parameters
    ----------
    n_row_clusters : int, default=2
        Number of row clusters ``g``.
    n_col_clusters : int, default=2
        Number of column clusters ``m``.
    n_init : int, default=10
        Random starts; the partition with the lowest ``W`` is kept.
    init : (the shared vocabulary of coclust_deep._seeding)
        The default ``"k-means++"`` seeds on the rows of X in memory: a dask
        array needs ``"spectral"``, ``"auto"`` or ``"random"``.
        :func:`coclust_deep.tl.cocluster` starts a backed AnnData from
        ``"spectral"`` when no ``init`` is given.
    max_iter : int, default=100
        Maximum number of (row step, column step) iterations per start.
    tol : float, default=1e-9
        Stop when ``W`` improves by less than ``tol * W``, or no label changes.
    random_state : int, RandomState instance or None, default=None
        Seed of the random starts.
    backend : {"auto", "numpy", "numba", "cupy"}, default="auto"
        Kernel backend for the block updates.

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    block_means_ : ndarray, shape (n_row_clusters, n_col_clusters)
        Mean of each block ``mu_kl`` (an empty block, which the re-seeding of
        empty clusters prevents, would get the mean of X).
    criterion_ : float
        Within-block sum of squares ``W`` of the kept start (X with values
        so large that ``W`` would exceed float64 is refused with a
        ``ValueError``; X is fitted on a power-of-two rescaled copy when its
        magnitude is far from 1, which does not change the partition).
    criterion_history_ : ndarray
        ``W`` after each iteration of the kept start (non-increasing).
    n_iter_ : int
        Iterations of the kept start.
    converged_ : bool
        Whether the kept start stopped before ``max_iter`` (a
        ``ConvergenceWarning`` is raised otherwise).
    n_features_in_ : int
        Number of columns of the X seen by ``fit``.
    rows_, columns_ : ndarray of bool, shape (g * m, n_rows) and (g * m, n_cols)
        Indicators of the g*m blocks, block ``(k, l)`` at index ``k * m + l``.
    backend_ : str
        Kernel backend used.

    Examples
    --------
    >>> from coclust_deep import DoubleKMeans
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.metrics import ari
    >>> X, rows, cols = make_lbm(80, 60, 3, 2, family="gaussian", random_state=0)
    >>> model = DoubleKMeans(3, 2, random_state=0).fit(X)
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

    def _cluster_numbers(self):
        return self.n_row_clusters, self.n_col_clusters

    def _check_parameters(self, X):
        check_n_clusters(self.n_row_clusters, "n_row_clusters", X.shape[0], "rows")
        check_n_clusters(self.n_col_clusters, "n_col_clusters", X.shape[1], "columns")
        self._check_common(X)
        check_sum_of_squares(X, type(self).__name__)

    def _prepare(self, X):
        row_sq, col_sq = row_sq_sums(X), col_sq_sums(X)
        return {"sq_norm": float(row_sq.sum()), "sq": (row_sq, col_sq)}

    def _step_params(self, SXT, ctx, axis):
        own, other = axis_counts(ctx, axis, self.n_row_clusters, self.n_col_clusters)
        mu = block_average(SXT, np.outer(own, other))
        return mu, -0.5 * (mu * mu) @ other, None, None

    def _badness(self, L_assigned, ctx, axis):
        # half the squared distance of each item to its block profile
        return 0.5 * ctx["sq"][axis] - L_assigned

    def _criterion(self, SXT, ctx):
        rows, cols = axis_counts(ctx, 0, self.n_row_clusters, self.n_col_clusters)
        size = np.outer(rows, cols)
        explained = np.divide(SXT * SXT, size, out=np.zeros_like(SXT), where=size > 0).sum()
        return -(ctx["sq_norm"] - explained)

    def _unscale(self, scale):
        self.block_means_ = self.block_means_ * scale
        self.criterion_history_ = self.criterion_history_ * scale**2
        self.criterion_ = float(self.criterion_ * scale**2)

    def _store(self, X, history, ctx):
        sizes = np.outer(np.bincount(self.row_labels_, minlength=self.n_row_clusters),
                         np.bincount(self.column_labels_, minlength=self.n_col_clusters))
        self.block_means_ = block_average(ctx["block_sums"](self.row_labels_, self.column_labels_), sizes)
        self.criterion_history_ = np.maximum(-history, 0.0)
        self.criterion_ = float(self.criterion_history_[-1])
