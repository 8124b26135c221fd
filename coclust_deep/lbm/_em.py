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
from ..kernels import dask_backend, numpy_backend
from ._families import (BlockStats, MarginInfo, _log_dirichlet_multinomial, auto_family, auto_family_from_counts,
                        chunked_sum)

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


def _value_blocks(X):
    """The stored values of an in-memory X as a host array (one block: the kernels' layout is not a pass)."""
    yield host(stored_values(X))


def auto_family_of(X):
    """The family ``family="auto"`` picks for X (see :func:`~._families.auto_family`).

    A dask array is judged from its one remembered pass over the margins
    (:func:`coclust_deep._lazy.lazy_margins`), never loaded.
    """
    if kernels.is_dask_array(X):
        margins = lazy_margins(X)
        return auto_family_from_counts(margins.n_non_binary == 0,
                                       margins.min >= 0 and margins.n_non_integer == 0)
    return auto_family(_value_blocks(X))


def _deviations_block(block, mean):
    values = stored_values(block)
    return (), (chunked_sum(values, lambda v: np.square(v - mean, dtype=np.float64)),)


def margin_info(X, family):
    """Passes over the values: support and magnitude checks, moments, the constant of the likelihood.

    The mean and variance are scale- and shift-safe: the variance is a second
    pass over the deviations from the mean (the implicit zeros of a sparse X
    included), not ``E[x^2] - E[x]^2``, which loses every digit when the
    values sit on a large offset; only the families that need it
    (``needs_squares``) take that pass. A dask array is read block by block on
    its scheduler (:func:`coclust_deep._lazy.lazy_margins`); the row and
    column sums of that pass serve the spectral starts too.
    """
    n, d = X.shape
    lazy = kernels.is_dask_array(X)
    if lazy:
        margins = lazy_margins(X, _family_terms, family)
        total, const, stored = margins.total, margins.extra, margins.n_stored
        low, high = margins.min, margins.max
    else:
        values = next(_value_blocks(X))
        family.check_values(values)
        low, high = (float(values.min()), float(values.max())) if values.size else (np.inf, -np.inf)
        total = float(values.sum(dtype=np.float64))
        const = family.value_constant(values)
        stored = values.size
    if stored < n * d:  # the implicit zeros
        low, high = min(low, 0.0), max(high, 0.0)
    family.check_magnitude(max(abs(low), abs(high)), total, n, d)
    mean = total / (n * d)
    var = 0.0
    if family.needs_squares:
        if lazy:
            sq = dask_backend.map_reduce(X, _deviations_block, shared=(mean,))[1][0]
        else:
            sq = chunked_sum(values, lambda v: np.square(v - mean, dtype=np.float64))
        var = (sq + (n * d - stored) * mean * mean) / (n * d)
    row_sums = col_sums = None
    if family.uses_effects:
        if lazy:
            row_sums, col_sums = margins.row_sums, margins.col_sums
        else:
            Xh = host_matrix(X)
            row_sums = np.asarray(Xh.sum(axis=1), dtype=np.float64).ravel()
            col_sums = np.asarray(Xh.sum(axis=0), dtype=np.float64).ravel()
        const += family.margin_constant(row_sums, col_sums, total)
    shift = mean if family.needs_squares else 0.0
    return MarginInfo(n, d, row_sums, col_sums, total, var, shift, high, const)


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
    """Everything one fit shares between starts: data, backend, family, sizes, known labels."""

    def __init__(self, be, xp, Xp, Xt, family, info, n, d, g, m, algorithm, fixed_rows=None, fixed_cols=None):
        self.be, self.xp, self.Xp, self.Xt = be, xp, Xp, Xt
        self.family, self.info = family, info
        self.n, self.d, self.g, self.m = n, d, g, m
        self.algorithm = algorithm
        self.fixed = (fixed_rows, fixed_cols)  # semi-supervised: -1 = free
        row_w, col_w = family.effects(info)
        self.r = None if row_w is None else xp.asarray(row_w)
        self.c = None if col_w is None else xp.asarray(col_w)

    def _to_host(self, a):
        return None if a is None else host(self.be.to_numpy(a))

    def _stats(self, S, T, SXT, SX2T, XtS=None):
        xp = self.xp
        Sr = None if self.r is None else self._to_host(S.T @ self.r)
        Tc = None if self.c is None else self._to_host(T.T @ self.c)
        return BlockStats(
            self._to_host(SXT), self._to_host(SX2T),
            self._to_host(xp.sum(S, axis=0)), self._to_host(xp.sum(T, axis=0)), Sr, Tc,
            XtS, self._to_host(T) if XtS is not None else None,
        )

    def _full_stats(self, S, T):
        """Block statistics of given posteriors (a starting or a MAP partition)."""
        fam = self.family
        if fam.host_columns:
            V = self._to_host(self.be.project(self.Xt, S))
            return self._stats(S, T, V.T @ self._to_host(T), None, XtS=V)
        SXT, SX2T = self.be.block_stats(self.Xp, S, T, fam.needs_squares, fam.levels)
        return self._stats(S, T, *fam.unpack(self._to_host(SXT), self._to_host(SX2T), 0))

    def _m_step(self, st, old=None):
        params = self.family.m_step(st, self.info, old)
        pi = np.maximum(st.s / self.n, PROPORTION_FLOOR)
        rho = np.maximum(st.t / self.d, PROPORTION_FLOOR)
        return params, pi / pi.sum(), rho / rho.sum()

    def _criterion(self, state):
        st = state.stats
        val = float(st.s @ np.log(state.pi) + st.t @ np.log(state.rho))
        val += self.family.expected_loglik(state.params, st, self.info)
        return val + _entropy(self.xp, state.S) + _entropy(self.xp, state.T)

    def _e_half(self, state, axis, mode, rng):
        """E-step of one side (axis 0: rows given columns, 1: columns given rows)
        with the state's parameters, and the block statistics of the new posteriors."""
        fam = self.family
        size = self.n if axis == 0 else self.d
        u = rng.random_sample(size) if mode == kernels.SAMPLE else None
        fixed = self.fixed[axis]
        if axis == 1 and fam.host_columns:
            V = self._to_host(self.be.project(self.Xt, state.S))
            L = np.log(state.rho) + fam.column_log_probs(V, state.params, self.info, state.stats)
            T, _ = numpy_backend.normalise(L, mode, u, fixed)
            Td = self.xp.asarray(T)
            return replace(state, T=Td, stats=self._stats(state.S, Td, V.T @ T, None, XtS=V))
        other = state.T if axis == 0 else state.S
        inp = fam.kernel_inputs(state.params, self.info, state.stats, axis,
                                self._to_host(other) if fam.host_columns else None)
        P = other if inp.P is None else self.xp.asarray(inp.P)
        prior = np.log(state.pi if axis == 0 else state.rho)
        weight = self.r if axis == 0 else self.c
        X = self.Xp if axis == 0 else self.Xt
        res = self.be.row_estep(X, P, inp.A, inp.B, prior + inp.w, inp.z, None if inp.z is None else weight,
                                mode, u, fixed, inp.levels)
        SXT, SX2T = fam.unpack(self._to_host(res.SXT), self._to_host(res.SX2T), axis)
        if axis == 0:
            return replace(state, S=res.S, stats=self._stats(res.S, state.T, SXT, SX2T))
        return replace(state, T=res.S, stats=self._stats(state.S, res.S, SXT, SX2T))

    def _iterate(self, state, mode, rng):
        """One full iteration: row E-step, M-step, column E-step, M-step."""
        state = self._e_half(state, 0, mode, rng)
        params, pi, _ = self._m_step(state.stats, state.params)
        state = self._e_half(replace(state, params=params, pi=pi), 1, mode, rng)
        params, _, rho = self._m_step(state.stats, state.params)
        return replace(state, params=params, rho=rho)

    def start(self, row0, col0, rng):
        """A run from the M-step on a hard partition, after the CEM warm-up."""
        xp = self.xp
        S = xp.asarray(one_hot(row0, self.g))
        T = xp.asarray(one_hot(col0, self.m))
        st = self._full_stats(S, T)
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

    def _map_stats(self, row_labels, col_labels):
        xp = self.xp
        return self._full_stats(xp.asarray(one_hot(row_labels, self.g)), xp.asarray(one_hot(col_labels, self.m)))

    def icl(self, row_labels, col_labels, params=None):
        """ICL of the MAP partition with parameters re-estimated on it (BIC-like)."""
        st = self._map_stats(row_labels, col_labels)
        params = self.family.m_step(st, self.info, params)
        loglik = self.family.expected_loglik(params, st, self.info)
        loglik += float(xlogy(st.s, st.s / self.n).sum() + xlogy(st.t, st.t / self.d).sum())
        n, d, g, m = self.n, self.d, self.g, self.m
        penalty = 0.5 * ((g - 1) * np.log(n) + (m - 1) * np.log(d)) + self.family.penalty(g, m, n, d)
        return float(loglik - penalty)

    def icl_exact(self, row_labels, col_labels):
        """Exact ICL, ``log p(X, z, w)`` with the parameters integrated out under conjugate priors.

        None for families without a conjugate prior (Gaussian with unknown
        per-block variances is left out, negative binomial has none).
        """
        st = self._map_stats(row_labels, col_labels)
        data = self.family.log_marginal(st, self.info)
        if data is None:
            return None
        sizes = (_log_dirichlet_multinomial(st.s, 0.5) + _log_dirichlet_multinomial(st.t, 0.5))
        return float(data + sizes)
