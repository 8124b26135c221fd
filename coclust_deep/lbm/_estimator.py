"""The latent block model estimator (VEM, CEM, SEM) on the kernel contract."""
from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from scipy.special import logsumexp
from sklearn.utils.validation import check_is_fitted, validate_data

from .. import kernels
from .._logging import compile_notice, user_stacklevel
from .._seeding import INITS, check_init, document_init, starting_partitions
from .._validation import (
    BOOLEAN,
    LABEL_PAIR,
    RANDOM_STATE,
    Interval,
    Options,
    check_labels,
    check_matrix,
    check_n_clusters,
    stored_values,
    validate_params,
)
from ..kernels import numpy_backend
from ._em import Context, auto_family_of, host, host_matrix, margin_info
from ._families import FAMILIES, chunked_sum, make_family

__all__ = ["LatentBlockModel"]

ALGORITHMS = ("vem", "cem", "sem")
# Screening of starts (VEM/CEM): all get SCREEN_ITER iterations, the best
# SCREEN_KEEP run to convergence (the strategy of blockcluster and sparsebm).
SCREEN_ITER = 10
SCREEN_KEEP = 3
# New rows are scored this many at a time (bounds the host temporaries of predict and score).
PREDICT_CHUNK = 4096
# Gaussian, sparse X not centred: warn when the stored values' squared mean exceeds their
# variance this many times (E[x^2] - E[x]^2 then keeps about half of float64's digits, or fewer).
SPARSE_OFFSET_RATIO = 1e7


@document_init
class LatentBlockModel(BaseEstimator):
    """Latent block model co-clustering (Govaert & Nadif) of a data matrix.

    Rows and columns are clustered together so that each block (row cluster x
    column cluster) is homogeneous under a Bernoulli, Poisson, negative-binomial,
    categorical or Gaussian distribution. Each half-iteration is one pass of the
    block-update kernel (``coclust_deep.kernels``) over the rows of X or of its
    transpose; sparse X is never densified.

    Parameters
    ----------
    n_row_clusters : int, default=2
        Number of row clusters ``g``.
    n_col_clusters : int, default=2
        Number of column clusters ``m``.
    family : {"poisson", "nb", "bernoulli", "categorical", "gaussian", "auto"}, default="poisson"
        Distribution of a cell given its block. ``"poisson"``: counts.
        ``"nb"``: over-dispersed counts (negative binomial with row and column
        effects and one dispersion per column, fitted in the M-step), e.g. UMI
        counts. ``"bernoulli"``: binary data. ``"categorical"``: a few integer
        levels 0, 1, ... (genotype calls, binned expression), one distribution
        over the levels per block. ``"gaussian"``: continuous data with a
        block-specific variance. ``"auto"``: Bernoulli when every value is 0 or
        1, Poisson when every value is a non-negative integer, Gaussian
        otherwise; ``family_`` records the choice.
    poisson_effects : bool, default=True
        Poisson only: ``x_ij ~ Poisson(lambda_kl * r_i * c_j / N)`` with ``r``/``c``
        the row and column sums (the model with row and column effects).
        Default because rows of real count data differ in depth (library size,
        document length) and columns in abundance: without effects the block
        model spends its clusters on depth instead of profile (NMI 0.46 -> 0.66 on
        SciPy's docstring word counts, 0.51 -> 0.74 on 10X PBMC UMI counts;
        ``python -m benchmarks.lbm_families``). ``False`` keeps the plain
        ``Poisson(lambda_kl)`` model. The negative binomial always has effects.
    dispersion : {"gene"}, default="gene"
        Negative binomial only: one dispersion per column (gene), the usual
        model of UMI counts (the size of a cell scales with its row's depth;
        see :class:`~coclust_deep.lbm._families.NegativeBinomial`).
    max_levels : int, default=10
        Categorical only: the most levels (0..max_levels-1) accepted; more
        raise a ValueError (each level adds a parameter per block).
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
    family_ : str
        The family fitted (``family``, or what ``"auto"`` picked).
    params_ : dict of ndarray
        Block parameters, ``(n_row_clusters, n_col_clusters)`` each: ``{"p"}``
        (Bernoulli), ``{"lambda"}`` (Poisson), ``{"lambda", "theta"}`` (negative
        binomial; ``theta`` has one dispersion per column), ``{"alpha"}``
        (categorical, ``(g, n_levels, m)``) or ``{"mean", "var"}`` (Gaussian).
    block_means_ : ndarray, shape (n_row_clusters, n_col_clusters)
        Expected value of a cell in each block (for average effects).
    elbo_ : float
        Final criterion: the variational lower bound of the log-likelihood
        (VEM, SEM) or the complete-data log-likelihood (CEM).
    elbo_history_ : list of float
        Criterion after each iteration of the kept start.
    icl_ : float
        Integrated completed likelihood (BIC-like approximation) of the MAP
        partition; larger is better.
    icl_exact_ : float or None
        Exact ICL of the MAP partition with conjugate priors (Bernoulli,
        Poisson, categorical; None for the other families). See
        :func:`coclust_deep.select_lbm`.
    n_iter_ : int
        Iterations of the chosen algorithm in the kept start (after the 5 CEM
        warm-up iterations every VEM/SEM start begins with).
    converged_ : bool
        Whether the kept start stopped on ``tol`` (always True for SEM, which
        runs ``max_iter`` iterations by design).
    n_features_in_ : int
        Number of columns of the X seen by ``fit``.
    feature_names_in_ : ndarray of str
        Column names of X, when ``fit`` saw a DataFrame with string column
        names; new rows given as a DataFrame must have them, in that order.
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
    >>> new_rows = X[:5]
    >>> model.predict(new_rows).tolist() == model.row_labels_[:5].tolist()
    True
    """

    def __init__(
        self,
        n_row_clusters=2,
        n_col_clusters=2,
        *,
        family="poisson",
        poisson_effects=True,
        dispersion="gene",
        max_levels=10,
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
        self.dispersion = dispersion
        self.max_levels = max_levels
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
        "family": [Options(FAMILIES + ("auto",), hints={"negbin": "Use family='nb'."})],
        "poisson_effects": [BOOLEAN],
        "dispersion": [Options(("gene",))],
        "max_levels": [Interval("int", 2)],
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
        tags.input_tags.positive_only = self.family in ("poisson", "bernoulli", "nb", "categorical")
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

    def _make_family(self, X):
        name = auto_family_of(X) if self.family == "auto" else self.family
        return make_family(name, self.poisson_effects, self.dispersion, self.max_levels)

    # --------------------------------------------------------------------- fit
    @compile_notice()
    def fit(self, X, y=None, *, row_labels=None, column_labels=None):
        """Fit the model to X (dense array-like or scipy.sparse, never modified).

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_rows, n_cols)
        y : ignored
        row_labels : array-like of int, shape (n_rows,), optional
            Semi-supervised fit: the known row clusters, -1 where unknown.
            Known rows start in their cluster and keep it throughout (their
            posterior is fixed to it), as in blockcluster's semi-supervised mode.
        column_labels : array-like of int, shape (n_cols,), optional
            The same for columns.

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
        given = X
        X = check_matrix(X)
        n, d = X.shape
        validate_data(self, given, reset=True, skip_check_array=True)  # n_features_in_, a DataFrame's names
        g, m, init = self._check_data_params(X)
        fixed_rows = _known_labels(row_labels, n, g, "row_labels", "n_row_clusters", "rows")
        fixed_cols = _known_labels(column_labels, d, m, "column_labels", "n_col_clusters", "columns")
        family = self._make_family(X)
        info = margin_info(X, family)  # also checks the values against the family
        X, info = _centred(X, info)
        rng = check_random_state(self.random_state)

        be = kernels.get_backend(self.backend, X)
        xp = getattr(be, "xp", np)
        self.backend_ = be.name
        Xp = be.prepare(X)
        Xt = be.transpose(Xp)
        family.setup(host_matrix(X), info, size_terms=_size_terms_on(be, Xp, family))
        ctx = Context(be, xp, Xp, Xt, family, info, n, d, g, m, self.algorithm, fixed_rows, fixed_cols)

        starts = starting_partitions(host_matrix(X), init, g, m, self.n_init, rng)
        starts = [(_impose(rows, fixed_rows, g), _impose(cols, fixed_cols, m)) for rows, cols in starts]
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

    def fit_predict(self, X, y=None, **labels):
        """Fit and return the row labels (scikit-learn's clustering convention).

        The column labels are in ``column_labels_`` afterwards; ``row_labels``
        and ``column_labels`` are passed to :meth:`fit`.
        """
        return self.fit(X, **labels).row_labels_

    def _store(self, ctx, run):
        state = run.state
        S = host(ctx.be.to_numpy(state.S))
        T = host(ctx.be.to_numpy(state.T))
        family, info = ctx.family, ctx.info
        self.family_ = family.name
        self.row_posterior_ = S
        self.column_posterior_ = T
        self.row_labels_ = np.argmax(S, axis=1).astype(np.int64)
        self.column_labels_ = np.argmax(T, axis=1).astype(np.int64)
        self.labels_ = self.row_labels_
        self.row_proportions_ = state.pi
        self.column_proportions_ = state.rho
        self.params_ = {k: v for k, v in state.params.items() if not k.startswith("_")}  # "_": fit bookkeeping
        if "mean" in self.params_:
            self.params_["mean"] = self.params_["mean"] + info.shift
        self.block_means_ = family.block_means(state.params, info)
        self.elbo_ = run.criterion
        self.elbo_history_ = run.history[1:]  # drop the starting value: one entry per iteration
        self.n_iter_ = run.n_iter
        self.converged_ = run.converged
        self.icl_ = ctx.icl(self.row_labels_, self.column_labels_, state.params)
        self.icl_exact_ = ctx.icl_exact(self.row_labels_, self.column_labels_)
        # what predictions on new rows need: the family (without the data), margins, parameters
        self._fitted = (family.release() if hasattr(family, "release") else family, info, state.params)
        for axis, labels, k in (("row", self.row_labels_, ctx.g), ("column", self.column_labels_, ctx.m)):
            empty = k - np.unique(labels).size
            if empty:
                warnings.warn(
                    f"{empty} of {k} {axis} clusters are empty in the fitted partition; "
                    f"the data support fewer {axis} clusters (compare models with select_lbm).",
                    RuntimeWarning,
                    stacklevel=3,
                )

    # --------------------------------------------------------------- new rows
    def _new_row_terms(self, X):
        """Row E-step log-probabilities (with the log-prior) and row constants of new rows."""
        check_is_fitted(self, "_fitted")
        given = X
        X = host_matrix(check_matrix(X))
        if kernels.is_dask_array(X):
            X = X.compute()
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but LatentBlockModel is expecting {self.n_features_in_} features "
                "as input: new rows must have the fitted columns, in the same order."
            )
        validate_data(self, given, reset=False, skip_check_array=True)  # a DataFrame's columns: fit's, in order
        family, info, params = self._fitted
        values = stored_values(X)
        family.check_new_values(values)
        family.check_magnitude(float(np.max(np.abs(values))) if values.size else 0.0,
                               float(values.sum(dtype=np.float64)), *X.shape)
        parts = []
        for lo in range(0, X.shape[0], PREDICT_CHUNK):
            block = X[lo:lo + PREDICT_CHUNK]
            if info.shift:  # the fit's centring (dense X): a sparse block is densified, one chunk at a time
                block = (block.toarray() if hasattr(block, "toarray") else block) - info.shift
            parts.append(family.new_row_terms(block, self.column_posterior_, params, info, numpy_backend.project))
        L = np.vstack([p[0] for p in parts])
        return L + np.log(self.row_proportions_), np.concatenate([p[1] for p in parts])

    def predict_proba(self, X):
        """Posterior row-cluster probabilities of new rows against the fitted column partition and blocks.

        Parameters
        ----------
        X : array-like or sparse matrix of shape (n_new, n_features_in_)
            New rows (cells) with the fitted columns.

        Returns
        -------
        ndarray of shape (n_new, n_row_clusters)
        """
        L, _ = self._new_row_terms(X)
        return numpy_backend.normalise(L, kernels.SOFT)[0]

    def predict(self, X):
        """The most probable row cluster of each new row (see :meth:`predict_proba`)."""
        return np.argmax(self.predict_proba(X), axis=1).astype(np.int64)

    def score_samples(self, X):
        """Each new row's ELBO: its log-likelihood lower bound given the fitted columns and blocks.

        ``log sum_k pi_k p(x_i | row cluster k, column posteriors)`` with the
        column posteriors held fixed (the variational bound of the fit, per row).

        Returns
        -------
        ndarray of shape (n_new,)
        """
        L, const = self._new_row_terms(X)
        return logsumexp(L, axis=1) + const

    def score(self, X, y=None):
        """Mean per-row ELBO of X (:meth:`score_samples`); larger is better."""
        return float(np.mean(self.score_samples(X)))


def _known_labels(labels, n, k, name, k_name, noun):
    """Semi-supervised labels as an int64 array in [-1, k) (-1 = unknown), or None."""
    if labels is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise ValueError(
            f"{name} must have one entry per {noun[:-1]} of X ({n}), -1 where unknown; got shape {arr.shape}."
        )
    arr = check_labels(arr, n, name)
    if arr.size and (arr.min() < -1 or arr.max() >= k):
        raise ValueError(
            f"{name} must lie in [-1, {k}) ({k_name}={k}; -1 = unknown), got values from {arr.min()} to "
            f"{arr.max()}."
        )
    return arr if np.any(arr >= 0) else None


def _impose(labels, known, n_clusters):
    """A start's labels renamed to agree best with the known ones (Hungarian matching), then clamped."""
    if known is None:
        return labels
    from scipy.optimize import linear_sum_assignment

    seen = known >= 0
    overlap = np.zeros((n_clusters, n_clusters))
    np.add.at(overlap, (labels[seen], known[seen]), 1.0)
    old, new = linear_sum_assignment(-overlap)
    rename = np.empty(n_clusters, dtype=np.int64)
    rename[old] = new
    return np.where(seen, known, rename[labels])


def _centred(X, info):
    """Gaussian: X minus its grand mean (a common shift leaves the model unchanged and keeps
    block variances exact on offset data). Sparse X is shifted only when every cell is stored
    (nothing to densify); otherwise its variances are ``E[x^2] - E[x]^2``, and a warning says
    when its stored values sit on an offset that costs them half of their digits or more."""
    if not info.shift:
        return X, info
    meta = getattr(X, "_meta", X)
    if hasattr(meta, "format"):
        if not kernels.is_dask_array(X):
            if X.nnz == X.shape[0] * X.shape[1]:  # canonical CSR without implicit zeros
                X = X.copy()
                X.data = (X.data - info.shift).astype(X.dtype, copy=False)
                return X, info
            _warn_on_sparse_offset(X.data)
        return X, info._replace(shift=0.0)
    dtype = X.dtype
    return (X - info.shift).astype(dtype, copy=False), info


def _warn_on_sparse_offset(values):
    mean = float(values.mean(dtype=np.float64))
    var = chunked_sum(values, lambda v: np.square(v - mean, dtype=np.float64)) / values.size
    if mean * mean > SPARSE_OFFSET_RATIO * var:
        warnings.warn(
            f"family='gaussian': the stored values of sparse X sit on an offset ({mean:.3g}) far larger than "
            f"their spread ({np.sqrt(var):.3g}), so the block variances, computed as E[x^2] - E[x]^2 to keep X "
            "sparse, lose half of their digits or more. Pass X dense (it is then centred exactly), or subtract the "
            "offset from the stored values if the implicit zeros are not data.",
            RuntimeWarning,
            stacklevel=user_stacklevel(),
        )


def _size_terms_on(be, Xp, family):
    """The negative binomial's ``nb_size_terms`` on the fit's backend, results on the host."""
    if not getattr(family, "host_columns", False):
        return None

    def size_terms(theta):
        return tuple(host(be.to_numpy(v)) for v in be.nb_size_terms(Xp, family.a, theta))

    return size_terms
