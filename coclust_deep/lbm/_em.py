"""The EM machinery of the latent block model: margins, half-steps, criterion, ICL.

One :class:`Context` per fit holds the data on its backend and the family;
it starts a :class:`Run` from each hard partition and advances it by VEM, CEM
or SEM. A run's :class:`State` is replaced, never mutated, by each E-half-step
(:meth:`Context._e_half`, which also recomputes the block statistics) and
M-step.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from scipy.special import xlogy

from .. import kernels
from .._blocks import one_hot
from .._lazy import lazy_margins
from .._validation import stored_values
from ._families import BlockStats, MarginInfo, chunked_sum, expected_loglik

# CEM iterations run before VEM/SEM from every hard starting partition.
CEM_WARMUP_ITER = 5
# Proportions are floored here so an emptied cluster keeps finite log-terms.
PROPORTION_FLOOR = 1e-16


def host(a):
    return a.get() if hasattr(a, "get") and not isinstance(a, np.ndarray) else np.asarray(a)


def host_matrix(X):
    if kernels.is_gpu_array(X):
        return X.get()
    return X


def _family_terms(values, family):
    """Per block of a lazy X: check the values against the family, return its constant's share."""
    family.check_values(values)
    return float(family.value_constant(values))


def margin_info(X, family):
    """One pass over the values: support check, moments and the constant of the likelihood.

    A dask array is read once, block by block on its scheduler
    (:func:`coclust_deep._lazy.lazy_margins`); the row and column sums of that
    pass serve the spectral starts too.
    """
    n, d = X.shape
    if kernels.is_dask_array(X):
        margins = lazy_margins(X, _family_terms, family)
        total, sq, const = margins.total, float(margins.row_sq_sums.sum()), margins.extra
    else:
        values = host(stored_values(X))
        family.check_values(values)
        total = float(values.sum(dtype=np.float64))
        sq = chunked_sum(values, lambda v: np.square(v, dtype=np.float64))
        const = family.value_constant(values)
    mean = total / (n * d)
    var = max(sq / (n * d) - mean**2, 0.0)
    row_sums = col_sums = None
    if family.uses_effects:
        if kernels.is_dask_array(X):
            row_sums, col_sums = margins.row_sums, margins.col_sums
        else:
            Xh = host_matrix(X)
            row_sums = np.asarray(Xh.sum(axis=1), dtype=np.float64).ravel()
            col_sums = np.asarray(Xh.sum(axis=0), dtype=np.float64).ravel()
    const += family.margin_constant(row_sums, col_sums, total)
    return MarginInfo(row_sums, col_sums, total, var, const)


def _entropy(xp, P):
    return -float(xlogy(P, P).sum()) if xp is np else -float((P * xp.log(xp.where(P > 0, P, 1))).sum())


@dataclass
class State:
    """Where a run stands: posteriors, their block statistics and the parameters."""

    S: Any  # (n, g) row posteriors, on the backend's device
    T: Any  # (d, m) column posteriors
    stats: BlockStats
    params: dict
    pi: np.ndarray  # (g,) row proportions
    rho: np.ndarray  # (m,) column proportions


@dataclass
class Run:
    """One start's state and record, advanced by :meth:`Context.advance`."""

    state: State
    history: list  # criterion at the start, then after each iteration
    n_iter: int = 0
    converged: bool = False
    kept: list = field(default_factory=list)  # SEM: (params, pi, rho) after the burn-in

    @property
    def criterion(self):
        return self.history[-1]


class Context:
    """Everything one fit shares between starts: data, backend, family, sizes."""

    def __init__(self, be, xp, Xp, Xt, family, info, n, d, g, m, algorithm):
        self.be, self.xp, self.Xp, self.Xt = be, xp, Xp, Xt
        self.family, self.info = family, info
        self.n, self.d, self.g, self.m = n, d, g, m
        self.algorithm = algorithm
        self.r = None if info.row_sums is None else xp.asarray(info.row_sums)
        self.c = None if info.col_sums is None else xp.asarray(info.col_sums)

    def _to_host(self, a):
        return None if a is None else host(self.be.to_numpy(a))

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

    def _criterion(self, state):
        st = state.stats
        val = float(st.s @ np.log(state.pi) + st.t @ np.log(state.rho))
        val += expected_loglik(self.family, state.params, st, self.info)
        return val + _entropy(self.xp, state.S) + _entropy(self.xp, state.T)

    def _e_half(self, state, axis, mode, rng):
        """E-step of one side (axis 0: rows given columns, 1: columns given rows)
        with the state's parameters, and the block statistics of the new posteriors."""
        co = self.family.coefficients(state.params, self.info)
        st = state.stats
        if axis == 0:
            w = np.log(state.pi) + co.C @ st.t
            z = None if co.E is None else co.E @ st.Tc
            u = rng.random_sample(self.n) if mode == kernels.SAMPLE else None
            res = self.be.row_estep(self.Xp, state.T, co.A, co.B, w, z, self.r, mode, u)
            S, T, SXT, SX2T = res.S, state.T, res.SXT, res.SX2T
        else:
            w = np.log(state.rho) + st.s @ co.C
            z = None if co.E is None else st.Sr @ co.E
            B = None if co.B is None else np.ascontiguousarray(co.B.T)
            u = rng.random_sample(self.d) if mode == kernels.SAMPLE else None
            res = self.be.row_estep(self.Xt, state.S, np.ascontiguousarray(co.A.T), B, w, z, self.c, mode, u)
            S, T = state.S, res.S
            SXT, SX2T = res.SXT.T, None if res.SX2T is None else res.SX2T.T
        return replace(state, S=S, T=T, stats=self._stats(S, T, SXT, SX2T))

    def _iterate(self, state, mode, rng):
        """One full iteration: row E-step, M-step, column E-step, M-step."""
        state = self._e_half(state, 0, mode, rng)
        params, pi, _ = self._m_step(state.stats)
        state = self._e_half(replace(state, params=params, pi=pi), 1, mode, rng)
        params, _, rho = self._m_step(state.stats)
        return replace(state, params=params, rho=rho)

    def start(self, row0, col0, rng):
        """A run from the M-step on a hard partition, after the CEM warm-up."""
        xp = self.xp
        S = xp.asarray(one_hot(row0, self.g))
        T = xp.asarray(one_hot(col0, self.m))
        SXT, SX2T = self.be.block_stats(self.Xp, S, T, self.family.needs_squares)
        st = self._stats(S, T, SXT, SX2T)
        state = State(S, T, st, *self._m_step(st))
        if self.algorithm != "cem":
            for _ in range(CEM_WARMUP_ITER):
                state = self._iterate(state, kernels.HARD, rng)
        return Run(state, [self._criterion(state)])

    def advance(self, run, n_iter, tol, rng, burn_in=0):
        """Run up to ``n_iter`` more iterations of the chosen algorithm on ``run``."""
        mode = {"vem": kernels.SOFT, "cem": kernels.HARD, "sem": kernels.SAMPLE}[self.algorithm]
        history = run.history
        for _ in range(n_iter):
            run.state = self._iterate(run.state, mode, rng)
            run.n_iter += 1
            history.append(self._criterion(run.state))
            if self.algorithm == "sem":
                if run.n_iter > burn_in:
                    run.kept.append((run.state.params, run.state.pi, run.state.rho))
                continue
            if abs(history[-1] - history[-2]) <= tol * abs(history[-2]):
                run.converged = True
                break
        return run

    def finish(self, run, rng):
        """SEM: average the kept parameters, then one soft E-step on each side."""
        if self.algorithm == "sem":
            params = {k: np.mean([p[k] for p, _, _ in run.kept], axis=0) for k in run.kept[0][0]}
            pi = np.mean([pi for _, pi, _ in run.kept], axis=0)
            rho = np.mean([rho for _, _, rho in run.kept], axis=0)
            state = replace(run.state, params=params, pi=pi, rho=rho)
            run.state = self._e_half(self._e_half(state, 0, kernels.SOFT, rng), 1, kernels.SOFT, rng)
            run.history.append(self._criterion(run.state))
            run.converged = True
        return run

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

