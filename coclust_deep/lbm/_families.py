"""Distribution families of the latent block model, in the kernels' matrix form.

Every *linear* family (Bernoulli, Poisson, Gaussian, categorical) writes the
expected complete log-likelihood as::

    sum_kl [ SXT_kl A_kl + SX2T_kl B_kl + s_k t_l C_kl + Sr_k Tc_l E_kl ] + const(X)

with ``SXT = S^T X T``, ``SX2T = S^T (X*X) T``, ``s``/``t`` the cluster sizes,
``Sr = S^T r`` and ``Tc = T^T c`` (row/column effects, used by the Poisson
model with row and column effects). The categorical family reads X one-hot:
its ``SXT`` and ``A`` carry a level axis, ``(g, H-1, m)``. The coefficients
A, B, C, E are what the row and column E-steps feed into the kernel contract.
M-steps divide block statistics with :func:`coclust_deep._blocks.block_average`,
so an empty block gets the pooled value instead of a division by zero.

The negative-binomial family is not linear in the block statistics (its
log-likelihood has ``log(theta_j + lambda_kl b_j)`` terms); see
:class:`NegativeBinomial` for how it still runs on the kernel contract.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy.special import gammaln, xlogy

from .._blocks import EMPTY_SIZE, block_average
from .._validation import nonzero_entries
from ..kernels import is_dask_array

# Element-wise passes over the stored values go in chunks of this many, so a
# check or a constant never allocates a temporary the size of X.
VALUE_CHUNK = 1 << 20
# Probabilities and rates are kept away from 0 and 1 so log-terms stay finite.
PROB_EPS = 1e-10
RATE_EPS = 1e-10
# Gaussian block variances are floored at VAR_FLOOR times the variance of X, so
# rescaling X rescales the fit; a constant X (no variance) falls back on its
# float resolution, and only an all-zero one on VAR_TINY (whose inverse and its
# square stay finite).
VAR_FLOOR = 1e-6
VAR_TINY = float(np.sqrt(np.finfo(np.float64).tiny))
# Sums of up to n*d values (and squares, for the Gaussian) must stay below this
# for every statistic and log-likelihood term to be a finite float64.
SAFE_SUM = 1e300
# Conjugate priors of the exact ICL: Jeffreys' Dirichlet(1/2) on the
# proportions and categorical levels, Beta(1/2, 1/2) on Bernoulli
# probabilities, and Gamma(1/2, 1/(2 rate)) on Poisson rates (shape of
# Jeffreys' prior, mean at the overall rate of X).
PRIOR_SHAPE = 0.5


class BlockStats(NamedTuple):
    SXT: np.ndarray  # (g, m); categorical: (g, H-1, m) one-hot level counts
    SX2T: np.ndarray | None
    s: np.ndarray
    t: np.ndarray
    Sr: np.ndarray | None
    Tc: np.ndarray | None
    XtS: np.ndarray | None = None  # (d, g) X^T S, negative binomial only (from the column half-step)
    T: np.ndarray | None = None  # (d, m) column posteriors on the host, negative binomial only


class Coefficients(NamedTuple):
    A: np.ndarray  # (g, m); categorical (g, H-1, m)
    B: np.ndarray | None
    C: np.ndarray
    E: np.ndarray | None


class KernelInputs(NamedTuple):
    """What one half-step hands to ``row_estep`` besides X, the prior and the mode."""

    A: np.ndarray  # in the kernel's layout: (clusters of this side, width of P)
    B: np.ndarray | None
    w: np.ndarray  # added to the log-prior
    z: np.ndarray | None  # times the side's effects (``row_weight``)
    levels: int | None
    P: Any = None  # projection matrix replacing the other side's posteriors (negative binomial)


class MarginInfo(NamedTuple):
    """Data-dependent constants computed once per fit."""

    n: int
    d: int
    row_sums: np.ndarray | None
    col_sums: np.ndarray | None
    total: float
    global_var: float  # floors the Gaussian block variances
    shift: float  # Gaussian: the grand mean removed from dense X before the fit
    max_value: float
    const: float


def chunked_sum(values, fn):
    """``sum(fn(chunk))`` over ``values`` in chunks: O(chunk) temporary memory."""
    flat = values.reshape(-1)
    return float(sum(np.sum(fn(flat[i:i + VALUE_CHUNK]), dtype=np.float64)
                     for i in range(0, flat.size, VALUE_CHUNK)))


def _values_min_max(values):
    if values.size == 0:
        return 0.0, 0.0
    return float(values.min()), float(values.max())


def _is_integer(values):
    return not chunked_sum(values, lambda v: v != np.round(v))


def _require_non_negative_integers(values, message):
    """Raise ValueError(message) unless every value is a non-negative integer; return the largest."""
    low, high = _values_min_max(values)
    if low < 0 or not _is_integer(values):
        raise ValueError(message)
    return high


def _log_dirichlet_multinomial(counts, a):
    """log of the Dirichlet(a) - multinomial marginal of ``counts`` along the last axis."""
    counts = np.asarray(counts, dtype=np.float64)
    k = counts.shape[-1]
    return (gammaln(k * a) - gammaln(counts.sum(axis=-1) + k * a)
            + np.sum(gammaln(counts + a) - gammaln(a), axis=-1))


class Family:
    name = ""
    n_block_params = 1
    needs_squares = False
    uses_effects = False
    host_columns = False  # column half-step: project X^T S, finish on the host
    levels = None  # categorical: number of levels read one-hot by the kernels

    def check_values(self, values):
        """Raise ValueError when stored values are outside the family's support."""

    def check_new_values(self, values):
        """:meth:`check_values` for new rows: also refuse what the fitted parameters cannot score."""
        self.check_values(values)

    def check_magnitude(self, max_abs, total, n, d):
        """Raise ValueError when sums over the cells would overflow float64."""
        limit = SAFE_SUM / (n * d)
        if not np.isfinite(total) or max_abs > limit:
            raise ValueError(
                f"X holds values up to {max_abs:.3g}: over its {n}x{d} cells the sums and log-likelihood "
                f"terms of family={self.name!r} overflow float64 (the largest value that fits here is "
                f"about {limit:.3g}). Divide X by a constant first."
            )

    def value_constant(self, values):
        """Sum over the given stored values of the parameter-free term log h(x)."""
        return 0.0

    def setup(self, X, info, size_terms=None):
        """Per-fit quantities read off the data (after :func:`margin_info`)."""

    def margin_constant(self, row_sums, col_sums, total):
        """Parameter-free term that depends on the row and column sums only."""
        return 0.0

    def effects(self, info):
        """Row and column weights of the ``r_i z_k`` term (None, None when unused)."""
        return None, None

    def m_step(self, st: BlockStats, info: MarginInfo, old=None) -> dict:
        raise NotImplementedError

    def coefficients(self, params, info: MarginInfo) -> Coefficients:
        raise NotImplementedError

    def block_means(self, params, info: MarginInfo) -> np.ndarray:
        raise NotImplementedError

    def penalty(self, g, m, n, d):
        """BIC-like penalty of the block parameters (the ICL's third term)."""
        return 0.5 * self.n_block_params * g * m * np.log(n * d)

    def log_marginal(self, st, info):
        """Exact log p(X | hard partition) under the conjugate prior, or None (no conjugate prior)."""
        return None

    # ---- the kernel half-steps of a linear family
    def kernel_inputs(self, params, info, st, axis, other):
        co = self.coefficients(params, info)
        if axis == 0:
            A = co.A.reshape(co.A.shape[0], -1)
            B = co.B
            w = co.C @ st.t
            z = None if co.E is None else co.E @ st.Tc
        else:
            A = co.A.T if co.A.ndim == 2 else co.A.transpose(2, 1, 0).reshape(co.A.shape[2], -1)
            B = None if co.B is None else co.B.T
            w = st.s @ co.C
            z = None if co.E is None else st.Sr @ co.E
        return KernelInputs(np.ascontiguousarray(A), None if B is None else np.ascontiguousarray(B), w, z,
                            self.levels)

    def unpack(self, SXT, SX2T, axis):
        """The kernel's ``SXT``/``SX2T`` of one side in the family's (g, m) layout."""
        if axis == 0:
            if self.levels is not None:
                SXT = SXT.reshape(SXT.shape[0], self.levels - 1, -1)
            return SXT, SX2T
        if self.levels is not None:
            return SXT.reshape(SXT.shape[0], self.levels - 1, -1).transpose(2, 1, 0), None
        return SXT.T, None if SX2T is None else SX2T.T

    def expected_loglik(self, params, st: BlockStats, info: MarginInfo):
        """Expected complete-data log-likelihood of X (without the prior/entropy terms)."""
        co = self.coefficients(params, info)
        val = float(np.sum(st.SXT * co.A) + st.s @ co.C @ st.t)
        if co.B is not None:
            val += float(np.sum(st.SX2T * co.B))
        if co.E is not None:
            val += float(st.Sr @ co.E @ st.Tc)
        return val + info.const

    # ---- new rows (predict, score)
    def new_row_terms(self, X, T, params, info, project):
        """``(L, const)`` for new rows X against the fitted column posteriors T.

        ``L`` (n, g) are the row E-step's log-probabilities without the log-prior,
        ``const`` (n,) each row's parameter-free log-likelihood terms.
        ``project(X, T, levels)`` is the numpy reference projection.
        """
        co = self.coefficients(params, info)
        t = T.sum(axis=0)
        U = project(X, T, self.levels)
        L = U @ co.A.reshape(co.A.shape[0], -1).T + co.C @ t
        if co.B is not None:
            L += project(_square(X), T, None) @ co.B.T
        const = self.row_constants(X, info)
        if co.E is not None:
            rw, cw = self.effects(info)
            r_new = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
            L += np.outer(r_new, co.E @ (T.T @ cw))
        return L, const

    def row_constants(self, X, info):
        return np.zeros(X.shape[0])


def _check_squares(max_abs, total, n, d, noun, where, fix):
    """Raise when squared values summed over the n*d cells overflow float64."""
    limit = np.sqrt(SAFE_SUM / (n * d))
    if not np.isfinite(total) or max_abs > limit:
        raise ValueError(
            f"X holds {noun} up to {max_abs:.3g}: their squares, summed over the {n}x{d} cells, overflow "
            f"float64 {where} (the largest that fits here is about {limit:.3g}). {fix}"
        )


def _column_moments(X, a):
    """Per column ``j``: ``sum_i x_ij^2`` and ``sum_i x_ij a_i``.

    A dask array is not loaded: the squares come from its remembered pass over
    the margins, the products from one pass over its row blocks.
    """
    if is_dask_array(X):
        from .._lazy import lazy_margins
        from ..kernels import dask_backend

        Xt = dask_backend.transpose(dask_backend.prepare(X))
        return lazy_margins(X).col_sq_sums, dask_backend.project(Xt, np.asarray(a)[:, None])[:, 0]
    return (np.asarray(_square(X).sum(axis=0), dtype=np.float64).ravel(),
            np.asarray(X.T @ a, dtype=np.float64).ravel())


def _square(X):
    return X.multiply(X).tocsr() if hasattr(X, "multiply") else X * X


def _row_sums_of(X, fn):
    """``sum_j fn(x_ij)`` over each row's stored values (fn(0) must be 0)."""
    if hasattr(X, "format"):
        X = X.tocsr()
        per_value = fn(np.asarray(X.data, dtype=np.float64))
        return np.add.reduceat(per_value, X.indptr[:-1]) * (np.diff(X.indptr) > 0) if X.nnz else np.zeros(X.shape[0])
    return np.asarray(fn(np.asarray(X, dtype=np.float64)).sum(axis=1))


class Bernoulli(Family):
    name = "bernoulli"

    def check_values(self, values):
        if chunked_sum(values, lambda v: (v != 0) & (v != 1)):
            raise ValueError(
                "family='bernoulli' needs binary data (only 0 and 1); binarise X first, "
                "e.g. (X > 0).astype(float), or use family='poisson' for counts."
            )

    def check_magnitude(self, max_abs, total, n, d):
        pass  # 0 and 1 only

    def m_step(self, st, info, old=None):
        p = block_average(st.SXT, np.outer(st.s, st.t))
        return {"p": np.clip(p, PROB_EPS, 1 - PROB_EPS)}

    def coefficients(self, params, info):
        p = params["p"]
        return Coefficients(np.log(p) - np.log1p(-p), None, np.log1p(-p), None)

    def block_means(self, params, info):
        return params["p"].copy()

    def log_marginal(self, st, info):
        ones = st.SXT
        zeros = np.outer(st.s, st.t) - ones
        a = PRIOR_SHAPE
        return float(np.sum(gammaln(ones + a) + gammaln(zeros + a) - gammaln(ones + zeros + 2 * a)
                            + gammaln(2 * a) - 2 * gammaln(a)))


class Poisson(Family):
    name = "poisson"

    def __init__(self, effects=True):
        self.uses_effects = bool(effects)

    def check_values(self, values):
        low, _ = _values_min_max(values)
        if low < 0:
            raise ValueError(
                "Negative values in data: family='poisson' needs non-negative counts; "
                "use raw counts, or family='gaussian' for centred/scaled data."
            )

    def value_constant(self, values):
        return -chunked_sum(values, lambda v: gammaln(v.astype(np.float64) + 1.0))

    def margin_constant(self, row_sums, col_sums, total):
        if not self.uses_effects or total <= 0:
            return 0.0
        const = float(xlogy(row_sums, row_sums).sum() + xlogy(col_sums, col_sums).sum())
        return const - total * np.log(total)

    def effects(self, info):
        return (info.row_sums, info.col_sums) if self.uses_effects else (None, None)

    def _exposure(self, st, info):
        """Per block, the expected count at rate 1: cells, or ``Sr Tc / N`` with effects."""
        if self.uses_effects:
            return np.outer(st.Sr / max(info.total, 1e-300), st.Tc)
        return np.outer(st.s, st.t)

    def m_step(self, st, info, old=None):
        lam = block_average(st.SXT, self._exposure(st, info))
        return {"lambda": np.maximum(lam, RATE_EPS)}

    def coefficients(self, params, info):
        lam = params["lambda"]
        if self.uses_effects:
            zero = np.zeros_like(lam)
            return Coefficients(np.log(lam), None, zero, -lam / max(info.total, 1e-300))
        return Coefficients(np.log(lam), None, -lam, None)

    def block_means(self, params, info):
        lam = params["lambda"]
        if not self.uses_effects:
            return lam.copy()
        # mean cell value of the block for average row and column effects
        return lam * (info.total / (info.n * info.d))

    def log_marginal(self, st, info):
        exposure = self._exposure(st, info)
        rate = info.total / float(exposure.sum()) if info.total > 0 else 1.0
        a, b = PRIOR_SHAPE, PRIOR_SHAPE / max(rate, 1e-300)
        S = st.SXT
        return float(np.sum(a * np.log(b) - gammaln(a) + gammaln(a + S) - (a + S) * np.log(b + exposure))
                     ) + info.const

    def row_constants(self, X, info):
        const = -_row_sums_of(X, lambda v: gammaln(v + 1.0))
        if self.uses_effects:
            r = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
            logc = np.log(np.maximum(info.col_sums, 0.5))  # a column never seen non-zero: half a count
            const += xlogy(r, r) + np.asarray(X @ logc).ravel() - r * np.log(max(info.total, 1e-300))
        return const


class Gaussian(Family):
    name = "gaussian"
    n_block_params = 2
    needs_squares = True

    def check_magnitude(self, max_abs, total, n, d):
        _check_squares(max_abs, total, n, d, "values", "in the Gaussian block variances",
                       "Divide X by a constant first: the partitions do not change.")

    def m_step(self, st, info, old=None):
        den = np.outer(st.s, st.t)
        mean = block_average(st.SXT, den)
        second = block_average(st.SX2T, den)
        resolution = np.finfo(np.float64).eps * info.total / (info.n * info.d)
        floor = max(VAR_FLOOR * info.global_var, resolution**2) or VAR_TINY
        return {"mean": mean, "var": np.maximum(second - mean**2, floor)}

    def coefficients(self, params, info):
        mu, var = params["mean"], params["var"]
        C = -0.5 * (np.log(2 * np.pi * var) + mu**2 / var)
        return Coefficients(mu / var, -0.5 / var, C, None)

    def block_means(self, params, info):
        return params["mean"] + info.shift


class Categorical(Family):
    """Levels 0..H-1 per cell, a distribution ``alpha_kl.`` over them per block.

    The kernels read the levels one-hot (``levels=H``): a stored value ``h >= 1``
    adds its column's posterior to the ``h``-th block of ``u``, and level 0 (the
    implicit zeros of a sparse X) is what remains of the cluster sizes, so
    nothing is densified.
    """

    name = "categorical"
    NOT_LEVELS = ("family='categorical' needs integer levels 0, 1, 2, ... (e.g. genotype calls or binned "
                  "expression); found negative or non-integer values. Recode the levels as integers from 0.")

    def __init__(self, max_levels=10):
        self.max_levels = int(max_levels)
        self.levels = None

    @property
    def n_block_params(self):
        return self.levels - 1

    def check_values(self, values):
        high = _require_non_negative_integers(values, self.NOT_LEVELS)
        if high + 1 > self.max_levels:
            raise ValueError(
                f"family='categorical' found {int(high) + 1} levels (0..{int(high)}), more than "
                f"max_levels={self.max_levels}. Bin the values into fewer levels, or raise max_levels "
                "(each level adds a parameter per block)."
            )

    def check_magnitude(self, max_abs, total, n, d):
        pass  # bounded by max_levels

    def check_new_values(self, values):
        high = _require_non_negative_integers(values, self.NOT_LEVELS)
        if high >= self.levels:  # the kernels read an unseen level as level 0
            raise ValueError(
                f"family='categorical' was fitted with levels 0..{self.levels - 1}, but the new rows hold level "
                f"{int(high)}, which has no probability in the fitted blocks. Recode it into a fitted level, "
                "or fit on data that includes it."
            )

    def setup(self, X, info, size_terms=None):
        self.levels = max(2, int(info.max_value) + 1)

    def _counts(self, st):
        """Weighted level counts (g, H, m), level 0 from the sizes."""
        upper = st.SXT
        zero = np.outer(st.s, st.t) - upper.sum(axis=1)
        return np.concatenate([np.maximum(zero, 0.0)[:, None, :], upper], axis=1)

    def m_step(self, st, info, old=None):
        counts = self._counts(st)
        size = np.outer(st.s, st.t)
        alpha = np.stack([block_average(counts[:, h], size) for h in range(self.levels)], axis=1)
        alpha = np.maximum(alpha, PROB_EPS)
        return {"alpha": alpha / alpha.sum(axis=1, keepdims=True)}

    def coefficients(self, params, info):
        log_alpha = np.log(params["alpha"])
        return Coefficients(log_alpha[:, 1:, :] - log_alpha[:, :1, :], None, log_alpha[:, 0, :], None)

    def block_means(self, params, info):
        return np.einsum("khl,h->kl", params["alpha"], np.arange(self.levels, dtype=np.float64))

    def log_marginal(self, st, info):
        counts = np.moveaxis(self._counts(st), 1, -1)
        return float(np.sum(_log_dirichlet_multinomial(counts, PRIOR_SHAPE)))


class NegativeBinomial(Family):
    """Negative-binomial counts with row and column effects and a dispersion per column (gene).

    Cell ``(i, j)`` of block ``(k, l)`` has mean ``lambda_kl r_i c_j / N`` (as the
    Poisson model with effects) and size ``theta_j a_i`` with ``a_i = r_i / mean(r)``:
    ``Var = mu + mu**2 / (theta_j a_i)``. Writing ``b_j = c_j mean(r) / N`` (so that
    ``a_i b_j = r_i c_j / N``), the log-likelihood of a cell is::

        F(x; theta_j a_i) - lgamma(x + 1) + theta_j a_i log(theta_j) + x log(lambda_kl b_j)
            - (theta_j a_i + x) log(theta_j + lambda_kl b_j)

    with ``F(x; z) = lgamma(x + z) - lgamma(z)``. Scaling the size with the cell's
    depth is what keeps the E-step on the kernel contract and exact on the zeros:
    ``a_i`` leaves the logarithm, so every cluster-dependent term is a block
    sum. The standard NB2 size ``theta_j`` (independent of depth) puts
    ``log(theta_j + lambda_kl r_i c_j / N)`` on every cell, zeros included:
    n*d*g*m logarithms per half-step, or an approximation of the zeros.

    * Row half-step (kernel): ``L_ik = sum_l u_il log lambda_kl - (x_i Phi)_k - a_i H_k``
      with ``Phi_jk = sum_l T_jl log(theta_j + lambda_kl b_j)`` and
      ``H_k = sum_j theta_j Phi_jk``: the contract's formula with T replaced by
      ``[T | Phi]`` (m + g columns), ``A = [log lambda | -I]``, ``z = -H``,
      ``row_weight = a``.
    * Column half-step (host): the log-probabilities of column j have
      coefficients that depend on j (``log(theta_j + lambda_kl b_j)``), so it
      projects ``V = X^T S`` (d x g, :func:`~coclust_deep.kernels` ``project``)
      and finishes on the host in O(d g m).
    * M-step (after the column half-step, from V): ``lambda`` by Newton's
      method in ``log lambda`` per block (the expected log-likelihood is concave
      there), then one safeguarded Newton step in ``log theta`` per gene,
      accepted only if it raises the gene's term (so the ELBO never
      decreases; Newton converges over the EM iterations, a generalised EM). The one term of ``theta`` that is not a block sum,
      ``sum_i F(x_ij; theta_j a_i)``, does not depend on the clusters; the
      kernels' ``nb_size_terms`` computes it over the stored non-zeros.
    * ``theta`` lies in [THETA_MIN, THETA_MAX]: an all-zero gene or a gene
      with no extra-Poisson variance keeps a finite dispersion.
    """

    name = "nb"
    uses_effects = True
    host_columns = True
    THETA_MIN = 1e-3
    THETA_MAX = 1e6
    MAX_STEP = 2.0  # largest dispersion step, in log theta, per M-step
    LAMBDA_ITER = 50
    # Columns of V handled at once on the host: bounds the (chunk, g, m) temporaries.
    COLUMN_CHUNK = 4096

    def __init__(self, dispersion="gene"):
        if dispersion != "gene":
            raise ValueError(f"dispersion must be 'gene', got {dispersion!r}.")
        self.dispersion = dispersion
        self._size_terms = None
        self._cache = None

    # ---- data
    def check_values(self, values):
        _require_non_negative_integers(
            values, "family='nb' (negative binomial) needs non-negative integer counts, such as raw UMI counts; "
            "found negative or non-integer values. Use the raw counts, or family='gaussian' for normalised or "
            "scaled data.")

    def value_constant(self, values):
        return -chunked_sum(values, lambda v: gammaln(v.astype(np.float64) + 1.0))

    def check_magnitude(self, max_abs, total, n, d):
        # the dispersions' moment start sums squared counts
        _check_squares(max_abs, total, n, d, "counts", "in the dispersions of family='nb'",
                       "No real count is this large: check the input, or use family='poisson'.")

    def setup(self, X, info, size_terms=None):
        n = info.n
        mean_r = info.total / n if info.total > 0 else 1.0
        self.a = info.row_sums / mean_r
        self.b = info.col_sums * mean_r / max(info.total, 1e-300)
        self.theta0 = self._moment_theta(X)
        self._size_terms = size_terms
        self._cache = None

    def _moment_theta(self, X):
        """Per-gene dispersion of the one-block model by moments: a cluster-free start."""
        sq, xa = _column_moments(X, self.a)
        n = self.a.size
        excess = sq - 2 * self.b * xa + self.b**2 * float(self.a @ self.a) - self.b * n
        with np.errstate(divide="ignore", invalid="ignore"):
            theta = np.where(excess > 0, n * self.b**2 / excess, self.THETA_MAX)
        return np.clip(np.nan_to_num(theta, nan=1.0), self.THETA_MIN, self.THETA_MAX)

    def release(self):
        """Drop the reference to the fit's data (the fitted family stays usable for new rows)."""
        self._size_terms = None
        self._cache = None
        return self

    def margin_constant(self, row_sums, col_sums, total):
        mean_r = total / row_sums.size if total > 0 else 1.0
        b = col_sums * mean_r / max(total, 1e-300)
        return float(xlogy(col_sums, b).sum())  # sum over cells of x log b_j

    def effects(self, info):
        return self.a, self.b

    def _gamma(self, theta):
        """``(F, F', F'')`` summed per gene at ``theta``, cached for the last value asked."""
        if self._cache is not None and np.array_equal(self._cache[0], theta):
            return self._cache[1]
        out = tuple(np.asarray(v, dtype=np.float64) for v in self._size_terms(theta))
        self._cache = (theta.copy(), out)
        return out

    # ---- block terms
    def _log_terms(self, lam, theta, rows=slice(None)):
        """``log(theta_j + lambda_kl b_j)`` for the genes ``rows``: (d', g, m)."""
        return np.log(theta[rows, None, None] + lam[None] * self.b[rows, None, None])

    def _phi(self, T, lam, theta):
        """``Phi_jk = sum_l T_jl log(theta_j + lambda_kl b_j)``: (d, g)."""
        d = T.shape[0]
        out = np.empty((d, lam.shape[0]))
        for lo in range(0, d, self.COLUMN_CHUNK):
            rows = slice(lo, min(d, lo + self.COLUMN_CHUNK))
            out[rows] = np.einsum("jl,jkl->jk", T[rows], self._log_terms(lam, theta, rows))
        return out

    def kernel_inputs(self, params, info, st, axis, other):
        """Row half-step only: the kernel projects ``[T | Phi]`` (``other`` is T on the host)."""
        if axis != 0:
            raise RuntimeError("the negative-binomial column half-step runs on the host")
        lam, theta = params["lambda"], params["theta"]
        phi = self._phi(other, lam, theta)
        g = lam.shape[0]
        A = np.hstack([np.log(lam), -np.eye(g)])
        return KernelInputs(A, None, np.zeros(g), -(theta @ phi), None, P=np.hstack([other, phi]))

    def unpack(self, SXT, SX2T, axis):
        return SXT[:, : SXT.shape[1] - SXT.shape[0]], None

    def column_log_probs(self, V, params, info, st):
        """``L_jl`` without the log-prior, from ``V = X^T S``: (d, m)."""
        lam, theta = params["lambda"], params["theta"]
        d = V.shape[0]
        L = V @ np.log(lam)
        for lo in range(0, d, self.COLUMN_CHUNK):
            rows = slice(lo, min(d, lo + self.COLUMN_CHUNK))
            W = V[rows] + np.outer(theta[rows], st.Sr)
            L[rows] -= np.einsum("jk,jkl->jl", W, self._log_terms(lam, theta, rows))
        return L

    def expected_loglik(self, params, st, info):
        lam, theta = params["lambda"], params["theta"]
        phi = self._phi(st.T, lam, theta)
        W = st.XtS + np.outer(theta, st.Sr)
        value, _, _ = self._gamma(theta)
        val = float(np.sum(st.SXT * np.log(lam)) - np.sum(W * phi))
        val += float(np.sum(value) + self._size_sum(st) * np.sum(theta * np.log(theta)))
        return val + info.const

    @staticmethod
    def _size_sum(st):
        """``sum_i a_i``, the weight of ``theta_j log theta_j`` summed over rows: n, or 0 when X is all zero."""
        return float(st.Sr.sum())

    # ---- M-step
    def m_step(self, st, info, old=None):
        if st.XtS is None:  # after the row half-step: V is stale, keep the parameters (generalised EM)
            return old
        theta = self.theta0 if old is None else old["theta"]
        lam0 = None if old is None else old["lambda"]
        scale = np.full(theta.shape, self.MAX_STEP) if old is None else old["_theta_step"]
        lam = self._fit_lambda(st, theta, lam0)
        theta, scale = self._fit_theta(st, lam, theta, scale)
        return {"lambda": lam, "theta": theta, "_theta_step": scale}

    def _fit_lambda(self, st, theta, lam0=None):
        """Per block, the root in ``lambda`` of ``SXT_kl = sum_j T_jl W_jk q_jkl`` (the M-step).

        ``W_jk = theta_j A_k + V_jk``, ``q = lambda b_j / (theta_j + lambda b_j)``; the
        right-hand side increases with ``lambda``, so Newton in ``log lambda``
        inside a shrinking bracket converges to the unique maximiser.
        """
        T, V, A = st.T, st.XtS, st.Sr
        size = np.outer(st.s, st.t)
        target = st.SXT
        exposure = np.outer(A, T.T @ self.b)  # the Poisson-with-effects denominator
        start = block_average(target, exposure) if lam0 is None else lam0
        start = np.where(target > 0, start, RATE_EPS)  # an all-zero block: the floor, not 25 Newton steps
        nu = np.log(np.maximum(start, RATE_EPS))
        lo = np.full_like(nu, np.log(RATE_EPS))
        hi = np.full_like(nu, np.log(1e12))
        W = V + np.outer(theta, A)  # (d, g)
        TW = T[:, None, :] * W[:, :, None]  # (d, g, m)
        for _ in range(self.LAMBDA_ITER):
            lam = np.exp(nu)
            q = lam[None] * self.b[:, None, None]
            q = q / (theta[:, None, None] + q)
            f = np.einsum("jkl,jkl->kl", TW, q) - target
            fp = np.einsum("jkl,jkl->kl", TW, q * (1 - q))
            f = np.where(target > 0, f, 0.0)
            lo = np.where(f < 0, nu, lo)
            hi = np.where(f > 0, nu, hi)
            step = np.where(fp > 0, -f / np.maximum(fp, 1e-300), 0.0)
            new = nu + step
            outside = (new <= lo) | (new >= hi) | ~np.isfinite(new)
            new = np.where(outside, 0.5 * (lo + hi), new)
            if np.max(np.abs(new - nu)) < 1e-12:
                nu = new
                break
            nu = new
        lam = np.exp(nu)
        empty = size <= EMPTY_SIZE
        if empty.any():  # pooled rate of an empty block: the overall rate, 1 with effects
            lam[empty] = 1.0
        return np.maximum(lam, RATE_EPS)

    def _theta_objective(self, st, lam, theta, gamma):
        """Per gene: the terms of the expected log-likelihood that depend on ``theta``, and two derivatives."""
        size = self._size_sum(st)
        T, V, A = st.T, st.XtS, st.Sr
        value, first, second = gamma
        q_val = value + size * theta * np.log(theta)
        q1 = first + size * (np.log(theta) + 1)
        q2 = second + size / theta
        for lo in range(0, T.shape[0], self.COLUMN_CHUNK):
            rows = slice(lo, min(T.shape[0], lo + self.COLUMN_CHUNK))
            th = theta[rows, None, None]
            den = th + lam[None] * self.b[rows, None, None]  # (d', g, m)
            Tj = T[rows, None, :]
            Ak = A[None, :, None]
            W = V[rows, :, None] + th * Ak
            q_val[rows] -= np.sum(Tj * W * np.log(den), axis=(1, 2))
            q1[rows] -= np.sum(Tj * (Ak * np.log(den) + W / den), axis=(1, 2))
            q2[rows] -= np.sum(Tj * (2 * Ak / den - W / den**2), axis=(1, 2))
        return q_val, q1, q2

    def _fit_theta(self, st, lam, theta, scale):
        """One safeguarded Newton step in ``log theta`` per gene, kept only where it raises that gene's term.

        The term that needs a pass over X, ``sum_i F(x_ij; theta_j a_i)``, is a
        separate sum for each gene, so one pass at the trial values decides
        every gene at once: accepted genes take the trial and its sums,
        rejected ones keep theirs (no second pass) and a step four times
        shorter next time (``scale``, per gene, grows back on acceptance).
        """
        lo, hi = np.log(self.THETA_MIN), np.log(self.THETA_MAX)
        tau = np.log(theta)
        gamma = self._gamma(theta)
        val, q1, q2 = self._theta_objective(st, lam, theta, gamma)
        g1 = theta * q1
        g2 = theta * theta * q2 + theta * q1
        step = np.where(g2 < 0, -g1 / np.where(g2 < 0, g2, -1.0), np.sign(g1) * scale)
        step = np.clip(step, -scale, scale)
        trial = np.exp(np.clip(tau + step, lo, hi))
        trial_gamma = self._gamma(trial)
        ok = self._theta_objective(st, lam, trial, trial_gamma)[0] >= val - 1e-12 * np.abs(val)
        new = np.clip(np.where(ok, trial, theta), self.THETA_MIN, self.THETA_MAX)
        self._cache = (new.copy(), tuple(np.where(ok, t, c) for t, c in zip(trial_gamma, gamma)))
        return new, np.where(ok, np.minimum(2 * scale, self.MAX_STEP), scale / 4)

    def block_means(self, params, info):
        return params["lambda"] * (info.total / (info.n * info.d))

    def penalty(self, g, m, n, d):
        return 0.5 * (g * m * np.log(n * d) + d * np.log(n))  # one dispersion per gene

    # ---- new rows
    def new_row_terms(self, X, T, params, info, project):
        from scipy.special import gammaln as lg

        lam, theta = params["lambda"], params["theta"]
        mean_r = info.total / info.n if info.total > 0 else 1.0
        r = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
        a = r / mean_r
        phi = self._phi(T, lam, theta)
        L = project(X, T, None) @ np.log(lam).T - project(X, phi, None) - np.outer(a, theta @ phi)
        rows, cols, x = nonzero_entries(X)
        zz = theta[cols] * a[rows]
        per_value = lg(x + zz) - lg(zz) - lg(x + 1) + x * np.log(np.maximum(self.b[cols], 1e-300))
        const = np.bincount(rows, per_value, minlength=X.shape[0]) + a * float(theta @ np.log(theta))
        return L, const


FAMILIES = ("bernoulli", "poisson", "gaussian", "nb", "categorical")


def make_family(name, poisson_effects=True, dispersion="gene", max_levels=10):
    if name == "bernoulli":
        return Bernoulli()
    if name == "poisson":
        return Poisson(effects=poisson_effects)
    if name == "gaussian":
        return Gaussian()
    if name == "nb":
        return NegativeBinomial(dispersion)
    if name == "categorical":
        return Categorical(max_levels)
    raise ValueError(f"family must be one of {FAMILIES}, got {name!r}.")


def auto_family(value_blocks):
    """The family ``"auto"`` picks from the stored values: 0/1 -> bernoulli, counts -> poisson, else gaussian.

    Counts get the Poisson model (with row and column effects by default)
    rather than the negative binomial: on real UMI counts neither is better
    everywhere (``python -m benchmarks.lbm_families``: NB ahead on CITE-seq
    CBMC, level on 10X PBMC, behind on pbmc68k_reduced), the Poisson fit takes
    2.6-3.9 times less time, and ``family="nb"`` is one keyword away.
    """
    binary = counts = True
    for values in value_blocks:
        if not values.size:
            continue
        low, _ = _values_min_max(values)
        binary = binary and not chunked_sum(values, lambda v: (v != 0) & (v != 1))
        counts = counts and low >= 0 and _is_integer(values)
    return auto_family_from_counts(binary, counts)


def auto_family_from_counts(binary, counts):
    """:func:`auto_family`'s choice once it is known whether every value is 0/1 and every value a count."""
    if binary:
        return "bernoulli"
    return "poisson" if counts else "gaussian"
