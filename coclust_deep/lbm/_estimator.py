"""The latent block model estimator (VEM, CEM, SEM) on the kernel contract."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from .. import kernels
from .._seeding import INITS, check_init, document_init, starting_partitions
from .._validation import (
    BOOLEAN,
    LABEL_PAIR,
    RANDOM_STATE,
    Interval,
    Options,
    check_matrix,
    check_n_clusters,
    validate_params,
)
from ._em import Context, host, host_matrix, margin_info
from ._families import FAMILIES, make_family

__all__ = ["LatentBlockModel"]

ALGORITHMS = ("vem", "cem", "sem")
# Screening of starts (VEM/CEM): all get SCREEN_ITER iterations, the best
# SCREEN_KEEP run to convergence (the strategy of blockcluster and sparsebm).
SCREEN_ITER = 10
SCREEN_KEEP = 3


@document_init
class LatentBlockModel(BaseEstimator):
    """Latent block model co-clustering (Govaert & Nadif) of a data matrix.

    Rows and columns are clustered together so that each block (row cluster x
    column cluster) is homogeneous under a Bernoulli, Poisson or Gaussian
    distribution. Each half-iteration is one pass of the block-update kernel
    (``coclust_deep.kernels``) over the rows of X or of its transpose; sparse
    X is never densified.

    Parameters
    ----------
    n_row_clusters : int, default=2
        Number of row clusters ``g``.
    n_col_clusters : int, default=2
        Number of column clusters ``m``.
    family : {"poisson", "bernoulli", "gaussian"}, default="poisson"
        Distribution of a cell given its block: counts, binary data, or
        continuous data with a block-specific variance.
    poisson_effects : bool, default=False
        Poisson only: use the model with row and column effects,
        ``x_ij ~ Poisson(lambda_kl * r_i * c_j / N)`` with ``r``/``c`` the row and
        column sums, the usual choice for document-term and UMI count data.
    algorithm : {"vem", "cem", "sem"}, default="vem"
        Variational (block) EM, classification EM (hard assignments), or
        stochastic EM (sampled assignments; parameters averaged over the
        second half of ``max_iter`` iterations).
    init : (the shared vocabulary of coclust_deep._seeding)
        Every start is followed by a few CEM iterations; ``"k-means++"``
        needs X in memory (not a dask array).
    n_init : int, default=10
        Number of starts. With more than 3 starts (VEM, CEM), every start runs
        10 iterations and the 3 best by criterion continue to convergence;
        the one with the best final criterion is kept.
    max_iter : int, default=200
        Maximum number of full iterations (row half + column half) per start.
    tol : float, default=1e-6
        Stop when the criterion changes by less than ``tol * |criterion|``.
    random_state : int, RandomState instance or None, default=None
        Seeds the starts and, for SEM, the sampling.
    backend : {"auto", "numba", "numpy", "cupy", "dask"}, default="auto"
        Kernel backend. ``"auto"`` picks dask for a dask array (passes over
        its row blocks on the current dask scheduler, X never loaded), cupy
        for cupy input (or a large matrix when a GPU is present), else numba.

    Attributes
    ----------
    row_labels_ : ndarray of int, shape (n_rows,)
    column_labels_ : ndarray of int, shape (n_cols,)
    labels_ : ndarray of int, shape (n_rows,)
        Same as ``row_labels_`` (scikit-learn clustering convention).
    row_posterior_ : ndarray, shape (n_rows, n_row_clusters)
    column_posterior_ : ndarray, shape (n_cols, n_col_clusters)
    row_proportions_ : ndarray, shape (n_row_clusters,)
    column_proportions_ : ndarray, shape (n_col_clusters,)
    params_ : dict of ndarray (n_row_clusters, n_col_clusters)
        Block parameters: ``{"p"}`` (Bernoulli), ``{"lambda"}`` (Poisson) or
        ``{"mean", "var"}`` (Gaussian).
    block_means_ : ndarray, shape (n_row_clusters, n_col_clusters)
        Expected value of a cell in each block.
    elbo_ : float
        Final criterion: the variational lower bound of the log-likelihood
        (VEM, SEM) or the complete-data log-likelihood (CEM).
    elbo_history_ : list of float
        Criterion after each iteration of the kept start.
    icl_ : float
        Integrated completed likelihood (BIC-like approximation) of the MAP
        partition; larger is better.
    n_iter_ : int
        Iterations of the chosen algorithm in the kept start (after the 5 CEM
        warm-up iterations every VEM/SEM start begins with).
    converged_ : bool
        Whether the kept start stopped on ``tol`` (always True for SEM, which
        runs ``max_iter`` iterations by design).
    n_features_in_ : int
        Number of columns of the X seen by ``fit``.
    backend_ : str
        The backend that ran.

    Examples
    --------
    >>> from coclust_deep import LatentBlockModel
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.metrics import ari
    >>> X, rows, cols = make_lbm(300, 120, 3, 2, family="poisson", signal=1.0, random_state=0)
    >>> model = LatentBlockModel(3, 2, family="poisson", n_init=2, random_state=0).fit(X)
    >>> round(ari(rows, model.row_labels_), 2), round(ari(cols, model.column_labels_), 2)
    (1.0, 1.0)
    """

    def __init__(
        self,
        n_row_clusters=2,
        n_col_clusters=2,
        *,
        family="poisson",
        poisson_effects=False,
        algorithm="vem",
        init="auto",
        n_init=10,
        max_iter=200,
        tol=1e-6,
        random_state=None,
        backend="auto",
    ):
        self.n_row_clusters = n_row_clusters
        self.n_col_clusters = n_col_clusters
        self.family = family
        self.poisson_effects = poisson_effects
        self.algorithm = algorithm
        self.init = init
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.backend = backend

    _constraints = {
        "n_row_clusters": [Interval("int", 1)],
        "n_col_clusters": [Interval("int", 1)],
        "family": [Options(FAMILIES)],
        "poisson_effects": [BOOLEAN],
        "algorithm": [Options(ALGORITHMS)],
        "init": [Options(INITS), LABEL_PAIR],
        "n_init": [Interval("int", 1)],
        "max_iter": [Interval("int", 1)],
        "tol": [Interval("real", 0)],
        "random_state": RANDOM_STATE,
        "backend": [Options(("auto",) + kernels.ALL_BACKENDS)],
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = self.family in ("poisson", "bernoulli")
        return tags

    def _check_data_params(self, X):
        """The checks that need the data: cluster numbers and a given partition against the shape."""
        n, d = X.shape
        g = check_n_clusters(self.n_row_clusters, "n_row_clusters", n, "rows")
        m = check_n_clusters(self.n_col_clusters, "n_col_clusters", d, "columns")
        init = check_init(self.init, n, d, g, m)
        if init == "k-means++" and kernels.is_dask_array(X):
            raise ValueError(
                "init='k-means++' seeds on the rows of X in memory; for a dask array use "
                "init='auto', 'spectral' or 'random' (the spectral embedding is computed by blocks)."
            )
        return g, m, init

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Fit the model to X (dense array-like or scipy.sparse, never modified).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_rows, n_cols)
        y : ignored

        Returns
        -------
        self

        Warns
        -----
        ConvergenceWarning
            When the kept start (VEM, CEM) stopped at ``max_iter`` iterations
            with its criterion still changing by more than ``tol``.
        """
        validate_params(self)
        X = check_matrix(X)
        n, d = X.shape
        self.n_features_in_ = d
        g, m, init = self._check_data_params(X)
        family = make_family(self.family, self.poisson_effects and self.family == "poisson")
        info = margin_info(X, family)  # also checks the values against the family
        rng = check_random_state(self.random_state)

        be = kernels.get_backend(self.backend, X)
        xp = getattr(be, "xp", np)
        self.backend_ = be.name
        Xp = be.prepare(X)
        Xt = be.transpose(Xp)
        ctx = Context(be, xp, Xp, Xt, family, info, n, d, g, m, self.algorithm)

        starts = starting_partitions(host_matrix(X), init, g, m, self.n_init, rng)
        runs = [ctx.start(row0, col0, rng) for row0, col0 in starts]
        budget = self.max_iter
        if self.algorithm != "sem" and len(runs) > SCREEN_KEEP:
            # Screening: every start gets a few iterations, the best few get the rest.
            screen = min(SCREEN_ITER, budget)
            runs = [ctx.advance(r, screen, self.tol, rng) for r in runs]
            kept = sorted(range(len(runs)), key=lambda i: runs[i].criterion, reverse=True)[:SCREEN_KEEP]
            runs = [runs[i] for i in sorted(kept)]  # in start order, for the tie rule below
            budget -= screen
        runs = [ctx.advance(r, budget, self.tol, rng, burn_in=self.max_iter // 2)
                if not r.converged else r for r in runs]
        best = None
        for run in (ctx.finish(r, rng) for r in runs):
            # a later start must win by a relative margin, so that rounding (another
            # backend's order of summation) cannot swap two starts that found one partition
            if best is None or run.criterion > best.criterion + 1e-10 * abs(best.criterion):
                best = run
        self._store(ctx, best)
        if not self.converged_:
            warnings.warn(
                f"LatentBlockModel did not converge: after max_iter={self.max_iter} iterations the "
                f"criterion of the kept start still changed by more than tol={self.tol} (relative); "
                "increase max_iter, or tol.",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def fit_predict(self, X, y=None):
        """Fit and return the row labels (scikit-learn's clustering convention).

        The column labels are in ``column_labels_`` afterwards.
        """
        return self.fit(X).row_labels_

    def _store(self, ctx, run):
        state = run.state
        S = host(ctx.be.to_numpy(state.S))
        T = host(ctx.be.to_numpy(state.T))
        self.row_posterior_ = S
        self.column_posterior_ = T
        self.row_labels_ = np.argmax(S, axis=1).astype(np.int64)
        self.column_labels_ = np.argmax(T, axis=1).astype(np.int64)
        self.labels_ = self.row_labels_
        self.row_proportions_ = state.pi
        self.column_proportions_ = state.rho
        self.params_ = state.params
        self.block_means_ = ctx.family.block_means(state.params, ctx.info)
        self.elbo_ = run.criterion
        self.elbo_history_ = run.history[1:]  # drop the starting value: one entry per iteration
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        self.icl_ = ctx.icl(self.row_labels_, self.column_labels_)
        for axis, labels, k in (("row", self.row_labels_, ctx.g), ("column", self.column_labels_, ctx.m)):
            empty = k - np.unique(labels).size
            if empty:
                warnings.warn(
                    f"{empty} of {k} {axis} clusters are empty in the fitted partition; "
                    f"the data support fewer {axis} clusters (compare models with select_lbm).",
                    RuntimeWarning,
                    stacklevel=3,
                )
