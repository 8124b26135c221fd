"""Distribution families of the latent block model, in the kernels' matrix form.

Every family writes the expected complete log-likelihood as::

    sum_kl [ SXT_kl A_kl + SX2T_kl B_kl + s_k t_l C_kl + Sr_k Tc_l E_kl ] + const(X)

with ``SXT = S^T X T``, ``SX2T = S^T (X*X) T``, ``s``/``t`` the cluster sizes,
``Sr = S^T r`` and ``Tc = T^T c`` (row/column sums ``r``, ``c``, used by the
Poisson model with row and column effects).  The coefficients A, B, C, E are
what the row and column E-steps feed into the kernel contract. M-steps divide
block statistics with :func:`coclust_deep._blocks.block_average`, so an empty
block gets the pooled value (the mean of X) instead of a division by zero.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import gammaln, xlogy

from .._blocks import block_average

# Element-wise passes over the stored values go in chunks of this many, so a
# check or a constant never allocates a temporary the size of X.
VALUE_CHUNK = 1 << 20
# Probabilities and rates are kept away from 0 and 1 so log-terms stay finite.
PROB_EPS = 1e-10
RATE_EPS = 1e-10


class BlockStats(NamedTuple):
    SXT: np.ndarray
    SX2T: np.ndarray | None
    s: np.ndarray
    t: np.ndarray
    Sr: np.ndarray | None
    Tc: np.ndarray | None


class Coefficients(NamedTuple):
    A: np.ndarray
    B: np.ndarray | None
    C: np.ndarray
    E: np.ndarray | None


class MarginInfo(NamedTuple):
    """Data-dependent constants computed once per fit."""

    row_sums: np.ndarray | None
    col_sums: np.ndarray | None
    total: float
    global_var: float  # floors the Gaussian block variances
    const: float


def chunked_sum(values, fn):
    """``sum(fn(chunk))`` over ``values`` in chunks: O(chunk) temporary memory."""
    flat = values.reshape(-1)
    return float(sum(np.sum(fn(flat[i:i + VALUE_CHUNK]), dtype=np.float64)
                     for i in range(0, flat.size, VALUE_CHUNK)))


class Family:
    name = ""
    n_block_params = 1
    needs_squares = False
    uses_effects = False

    def check_values(self, values):
        """Raise ValueError when stored values are outside the family's support."""

    def value_constant(self, values):
        """Sum over the given stored values of the parameter-free term log h(x)."""
        return 0.0

    def margin_constant(self, row_sums, col_sums, total):
        """Parameter-free term that depends on the row and column sums only."""
        return 0.0

    def m_step(self, st: BlockStats, info: MarginInfo) -> dict:
        raise NotImplementedError

    def coefficients(self, params, info: MarginInfo) -> Coefficients:
        raise NotImplementedError

    def block_means(self, params, info: MarginInfo) -> np.ndarray:
        raise NotImplementedError


class Bernoulli(Family):
    name = "bernoulli"

    def check_values(self, values):
        if chunked_sum(values, lambda v: (v != 0) & (v != 1)):
            raise ValueError(
                "family='bernoulli' needs binary data (only 0 and 1); binarise X first, "
                "e.g. (X > 0).astype(float), or use family='poisson' for counts."
            )

    def m_step(self, st, info):
        p = block_average(st.SXT, np.outer(st.s, st.t))
        return {"p": np.clip(p, PROB_EPS, 1 - PROB_EPS)}

    def coefficients(self, params, info):
        p = params["p"]
        return Coefficients(np.log(p) - np.log1p(-p), None, np.log1p(-p), None)

    def block_means(self, params, info):
        return params["p"].copy()


class Poisson(Family):
    name = "poisson"

    def __init__(self, effects=False):
        self.uses_effects = bool(effects)

    def check_values(self, values):
        if values.size and values.min() < 0:
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

    def m_step(self, st, info):
        if self.uses_effects:
            den = np.outer(st.Sr, st.Tc) / max(info.total, 1e-300)
        else:
            den = np.outer(st.s, st.t)
        lam = block_average(st.SXT, den)
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
        n, d = info.row_sums.size, info.col_sums.size
        # mean cell value of the block for average row and column effects
        return lam * (info.total / n) * (info.total / d) / max(info.total, 1e-300)


class Gaussian(Family):
    name = "gaussian"
    n_block_params = 2
    needs_squares = True

    def m_step(self, st, info):
        den = np.outer(st.s, st.t)
        mean = block_average(st.SXT, den)
        second = block_average(st.SX2T, den)
        floor = max(1e-6 * info.global_var, 1e-12)
        return {"mean": mean, "var": np.maximum(second - mean**2, floor)}

    def coefficients(self, params, info):
        mu, var = params["mean"], params["var"]
        C = -0.5 * (np.log(2 * np.pi * var) + mu**2 / var)
        return Coefficients(mu / var, -0.5 / var, C, None)

    def block_means(self, params, info):
        return params["mean"].copy()


FAMILIES = ("bernoulli", "poisson", "gaussian")


def make_family(name, poisson_effects=False):
    if name == "bernoulli":
        return Bernoulli()
    if name == "poisson":
        return Poisson(effects=poisson_effects)
    if name == "gaussian":
        return Gaussian()
    raise ValueError(f"family must be one of {FAMILIES}, got {name!r}.")


def expected_loglik(family, params, st: BlockStats, info: MarginInfo):
    """Expected complete-data log-likelihood of X (without the prior/entropy terms)."""
    co = family.coefficients(params, info)
    val = float(np.sum(st.SXT * co.A) + st.s @ co.C @ st.t)
    if co.B is not None:
        val += float(np.sum(st.SX2T * co.B))
    if co.E is not None:
        val += float(st.Sr @ co.E @ st.Tc)
    return val + info.const
