"""The latent block model estimator (VEM, CEM, SEM) on the kernel contract."""
from __future__ import annotations

import warnings

import numpy as np
from scipy.special import xlogy
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state

from . import kernels
from ._lbm_families import (
    FAMILIES,
    BlockStats,
    MarginInfo,
    chunked_sum,
    expected_loglik,
    make_family,
)
from ._lbm_init import is_nonneg, kmeans_labels, one_hot, random_labels, spectral_embedding
from ._validation import (
    check_choice,
    check_labels,
    check_matrix,
    check_n_clusters,
    check_nonneg_float,
    check_positive_int,
    stored_values,
)

__all__ = ["LatentBlockModel"]

ALGORITHMS = ("vem", "cem", "sem")
INITS = ("auto", "spectral", "random")
# CEM iterations run before VEM/SEM from every hard starting partition.
CEM_WARMUP_ITER = 5
# Screening of starts (VEM/CEM): all get SCREEN_ITER iterations, the best
# SCREEN_KEEP run to convergence (the strategy of blockcluster and sparsebm).
SCREEN_ITER = 10
SCREEN_KEEP = 3
# Proportions are floored here so an emptied cluster keeps finite log-terms.
PROPORTION_FLOOR = 1e-16


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
    init : {"auto", "spectral", "random"} or (row_labels, col_labels), default="auto"
        Starting partitions, always hard, followed by a few CEM iterations.
        ``"spectral"``: k-means++ on the leading singular vectors of the
        scaled matrix (``D_r^-1/2 X D_c^-1/2`` for non-negative data, the
        column-centred matrix otherwise), one k-means seed per start.
        ``"random"``: balanced random labels. ``"auto"``: the first half of
        the ``n_init`` starts spectral, the rest random. A pair of label
        arrays starts every run from that partition.
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
    backend : {"auto", "numba", "numpy", "cupy"}, default="auto"
        Kernel backend. ``"auto"`` picks cupy for cupy input (or a large
        matrix when a GPU is present), else numba, else numpy.

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

    # ------------------------------------------------------------------ checks
    def _check_params(self, n, d):
        g = check_n_clusters(self.n_row_clusters, "n_row_clusters", n, "rows")
        m = check_n_clusters(self.n_col_clusters, "n_col_clusters", d, "columns")
        check_choice(self.family, "family", FAMILIES)
        check_choice(self.algorithm, "algorithm", ALGORITHMS)
        if not isinstance(self.poisson_effects, (bool, np.bool_)):
            raise TypeError(f"poisson_effects must be a bool, got {self.poisson_effects!r}.")
        check_positive_int(self.n_init, "n_init")
        check_positive_int(self.max_iter, "max_iter")
        check_nonneg_float(self.tol, "tol")
        kernels.resolve_backend(self.backend)  # raises on unknown names
        if isinstance(self.init, str):
            check_choice(self.init, "init", INITS)
            init = self.init
        elif isinstance(self.init, (tuple, list)) and len(self.init) == 2:
            init = (
                check_labels(self.init[0], n, "init[0] (row labels)"),
                check_labels(self.init[1], d, "init[1] (column labels)"),
            )
            if init[0].min() < 0 or init[0].max() >= g or init[1].min() < 0 or init[1].max() >= m:
                raise ValueError("init labels must lie in [0, n_row_clusters) and [0, n_col_clusters).")
        else:
            raise ValueError(
                f"init must be one of {INITS} or a pair (row_labels, col_labels), got {self.init!r}."
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
        """
        X = check_matrix(X)
        n, d = X.shape
        g, m, init = self._check_params(n, d)
        family = make_family(self.family, self.poisson_effects and self.family == "poisson")
        info = _margin_info(X, family)  # also checks the values against the family
        rng = check_random_state(self.random_state)

        be = kernels.get_backend(self.backend, X)
        xp = getattr(be, "xp", np)
        self.backend_ = be.name
        Xp = be.prepare(X)
        Xt = be.transpose(Xp)
        ctx = _Context(be, xp, Xp, Xt, family, info, n, d, g, m, self.algorithm)

        starts = self._starting_partitions(X, init, g, m, rng)
        runs = [ctx.start(row0, col0, rng) for row0, col0 in starts]
        budget = self.max_iter
        if self.algorithm != "sem" and len(runs) > SCREEN_KEEP:
            # Screening: every start gets a few iterations, the best few get the rest.
            screen = min(SCREEN_ITER, budget)
            runs = [ctx.advance(r, screen, self.tol, rng) for r in runs]
            runs = sorted(runs, key=lambda r: r["history"][-1], reverse=True)[:SCREEN_KEEP]
            budget -= screen
        runs = [ctx.advance(r, budget, self.tol, rng, burn_in=self.max_iter // 2)
                if not r["converged"] else r for r in runs]
        best = max((ctx.finish(r, rng) for r in runs), key=lambda r: r["elbo"])
        self._store(ctx, best)
        return self

    def fit_predict(self, X, y=None):
        """Fit and return the row labels (scikit-learn's clustering convention).

        The column labels are in ``column_labels_`` afterwards.
        """
        return self.fit(X).row_labels_

    def _starting_partitions(self, X, init, g, m, rng):
        if isinstance(init, tuple):
            return [init] * self.n_init
        n, d = X.shape
        n_spectral = {"auto": (self.n_init + 1) // 2, "spectral": self.n_init, "random": 0}[init]
        starts = []
        if n_spectral:
            Xh = _host_matrix(X)
            emb_rows, emb_cols = spectral_embedding(Xh, max(g, m), rng, nonneg=is_nonneg(Xh))
            for _ in range(n_spectral):
                seed = int(rng.randint(np.iinfo(np.int32).max))
                starts.append((kmeans_labels(emb_rows, g, seed), kmeans_labels(emb_cols, m, seed + 1)))
        for _ in range(self.n_init - n_spectral):
            starts.append((random_labels(n, g, rng), random_labels(d, m, rng)))
        return starts

    def _store(self, ctx, run):
        be = ctx.be
        S = _host(be.to_numpy(run["S"]))
        T = _host(be.to_numpy(run["T"]))
        self.row_posterior_ = S
        self.column_posterior_ = T
        self.row_labels_ = np.argmax(S, axis=1).astype(np.int64)
        self.column_labels_ = np.argmax(T, axis=1).astype(np.int64)
        self.labels_ = self.row_labels_
        self.row_proportions_ = run["pi"]
        self.column_proportions_ = run["rho"]
        self.params_ = run["params"]
        self.block_means_ = ctx.family.block_means(run["params"], ctx.info)
        self.elbo_ = run["elbo"]
        self.elbo_history_ = run["history"]
        self.n_iter_ = run["n_iter"]
        self.converged_ = run["converged"]
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


def _host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def _host_matrix(X):
    if kernels.is_gpu_array(X):
        return X.get()
    return X


def _value_blocks(X):
    """The stored values of X as host arrays, one block at a time (dask: per chunk)."""
    if kernels.is_dask_array(X):
        for block in X.to_delayed().ravel():
            yield _host(stored_values(block.compute()))
    else:
        yield _host(stored_values(X))


def _margin_info(X, family):
    """One pass over the values: support check, moments and the constant of the likelihood."""
    n, d = X.shape
    total = sq = const = 0.0
    for values in _value_blocks(X):
        family.check_values(values)
        total += float(values.sum(dtype=np.float64))
        sq += chunked_sum(values, lambda v: np.square(v, dtype=np.float64))
        const += family.value_constant(values)
    mean = total / (n * d)
    var = max(sq / (n * d) - mean**2, 0.0)
    row_sums = col_sums = None
    if family.uses_effects:
        Xh = _host_matrix(X)
        row_sums = np.asarray(Xh.sum(axis=1), dtype=np.float64).ravel()
        col_sums = np.asarray(Xh.sum(axis=0), dtype=np.float64).ravel()
    const += family.margin_constant(row_sums, col_sums, total)
    return MarginInfo(row_sums, col_sums, total, mean, var, const)


def _entropy(xp, P):
    return -float(xlogy(P, P).sum()) if xp is np else -float((P * xp.log(xp.where(P > 0, P, 1))).sum())


class _Context:
    """Everything one fit shares between starts: data, backend, family, sizes."""

    def __init__(self, be, xp, Xp, Xt, family, info, n, d, g, m, algorithm):
        self.be, self.xp, self.Xp, self.Xt = be, xp, Xp, Xt
        self.family, self.info = family, info
        self.n, self.d, self.g, self.m = n, d, g, m
        self.algorithm = algorithm
        self.r = None if info.row_sums is None else xp.asarray(info.row_sums)
        self.c = None if info.col_sums is None else xp.asarray(info.col_sums)

    def _to_host(self, a):
        return None if a is None else _host(self.be.to_numpy(a))

    def _stats(self, S, T, SXT, SX2T):
        xp = self.xp
        Sr = None if self.r is None else self._to_host(S.T @ self.r)
        Tc = None if self.c is None else self._to_host(T.T @ self.c)
        return BlockStats(
            self._to_host(SXT), self._to_host(SX2T),
            self._to_host(xp.sum(S, axis=0)), self._to_host(xp.sum(T, axis=0)), Sr, Tc,
        )

    def _m_step(self, st):
        params = self.family.m_step(st, self.info)
        pi = np.maximum(st.s / self.n, PROPORTION_FLOOR)
        rho = np.maximum(st.t / self.d, PROPORTION_FLOOR)
        return params, pi / pi.sum(), rho / rho.sum()

    def _criterion(self, S, T, st, params, pi, rho):
        val = float(st.s @ np.log(pi) + st.t @ np.log(rho))
        val += expected_loglik(self.family, params, st, self.info)
        return val + _entropy(self.xp, S) + _entropy(self.xp, T)

    def _row_half(self, T, st, params, pi, mode, rng):
        co = self.family.coefficients(params, self.info)
        w = np.log(pi) + co.C @ st.t
        z = None if co.E is None else co.E @ st.Tc
        u = rng.random_sample(self.n) if mode == kernels.SAMPLE else None
        return self.be.row_estep(self.Xp, T, co.A, co.B, w, z, self.r, mode, u)

    def _col_half(self, S, st, params, rho, mode, rng):
        co = self.family.coefficients(params, self.info)
        w = np.log(rho) + st.s @ co.C
        z = None if co.E is None else st.Sr @ co.E
        B = None if co.B is None else np.ascontiguousarray(co.B.T)
        u = rng.random_sample(self.d) if mode == kernels.SAMPLE else None
        return self.be.row_estep(self.Xt, S, np.ascontiguousarray(co.A.T), B, w, z, self.c, mode, u)

    def _iterate(self, S, T, st, params, pi, rho, mode, rng):
        """One full iteration: row E-step, M-step, column E-step, M-step."""
        res = self._row_half(T, st, params, pi, mode, rng)
        S = res.S
        st = self._stats(S, T, res.SXT, res.SX2T)
        params, pi, _ = self._m_step(st)
        res = self._col_half(S, st, params, rho, mode, rng)
        T = res.S
        st = self._stats(S, T, res.SXT.T, None if res.SX2T is None else res.SX2T.T)
        params, _, rho = self._m_step(st)
        return S, T, st, params, pi, rho

    def start(self, row0, col0, rng):
        """State after the M-step on a hard partition and the CEM warm-up."""
        xp = self.xp
        S = xp.asarray(one_hot(row0, self.g))
        T = xp.asarray(one_hot(col0, self.m))
        SXT, SX2T = self.be.block_stats(self.Xp, S, T, self.family.needs_squares)
        st = self._stats(S, T, SXT, SX2T)
        params, pi, rho = self._m_step(st)
        state = (S, T, st, params, pi, rho)
        if self.algorithm != "cem":
            for _ in range(CEM_WARMUP_ITER):
                state = self._iterate(*state, kernels.HARD, rng)
        return {"state": state, "history": [self._criterion(*state)], "n_iter": 0,
                "converged": False, "averaged": []}

    def advance(self, run, n_iter, tol, rng, burn_in=0):
        """Run up to ``n_iter`` more iterations of the chosen algorithm on ``run``."""
        mode = {"vem": kernels.SOFT, "cem": kernels.HARD, "sem": kernels.SAMPLE}[self.algorithm]
        history = run["history"]
        for _ in range(n_iter):
            run["state"] = self._iterate(*run["state"], mode, rng)
            run["n_iter"] += 1
            history.append(self._criterion(*run["state"]))
            if self.algorithm == "sem":
                if run["n_iter"] > burn_in:
                    run["averaged"].append(run["state"][3:])
                continue
            if abs(history[-1] - history[-2]) <= tol * abs(history[-2]):
                run["converged"] = True
                break
        return run

    def finish(self, run, rng):
        """SEM: average the kept parameters; every algorithm: package the result."""
        if self.algorithm == "sem":
            run["state"] = self._sem_finish(*run["state"][:3], run["averaged"], rng)
            run["history"].append(self._criterion(*run["state"]))
            run["converged"] = True
        S, T, _, params, pi, rho = run["state"]
        history = run["history"][1:]  # drop the starting value: one entry per iteration
        return {
            "S": S, "T": T, "params": params, "pi": pi, "rho": rho,
            "elbo": run["history"][-1], "history": history, "n_iter": run["n_iter"],
            "converged": run["converged"],
        }

    def _sem_finish(self, S, T, st, averaged, rng):
        """Average the post-burn-in parameters, then one soft E-step on each side."""
        params = {k: np.mean([a[0][k] for a in averaged], axis=0) for k in averaged[0][0]}
        pi = np.mean([a[1] for a in averaged], axis=0)
        rho = np.mean([a[2] for a in averaged], axis=0)
        res = self._row_half(T, st, params, pi, kernels.SOFT, rng)
        S = res.S
        st = self._stats(S, T, res.SXT, res.SX2T)
        res = self._col_half(S, st, params, rho, kernels.SOFT, rng)
        T = res.S
        st = self._stats(S, T, res.SXT.T, None if res.SX2T is None else res.SX2T.T)
        return S, T, st, params, pi, rho

    def icl(self, row_labels, col_labels):
        """ICL of the MAP partition with parameters re-estimated on it (BIC-like)."""
        xp = self.xp
        Z = xp.asarray(one_hot(row_labels, self.g))
        W = xp.asarray(one_hot(col_labels, self.m))
        SXT, SX2T = self.be.block_stats(self.Xp, Z, W, self.family.needs_squares)
        st = self._stats(Z, W, SXT, SX2T)
        params = self.family.m_step(st, self.info)
        loglik = expected_loglik(self.family, params, st, self.info)
        loglik += float(xlogy(st.s, st.s / self.n).sum() + xlogy(st.t, st.t / self.d).sum())
        n, d, g, m = self.n, self.d, self.g, self.m
        penalty = 0.5 * ((g - 1) * np.log(n) + (m - 1) * np.log(d)
                         + self.family.n_block_params * g * m * np.log(n * d))
        return float(loglik - penalty)

