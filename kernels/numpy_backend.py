"""Reference backend: readable numpy/scipy, the spec the compiled backends match."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import digamma, gammaln, polygamma

from .contract import HARD, SAMPLE, SOFT, EStepResult, check_fixed, check_levels, mode_code

name = "numpy"


def prepare(X):
    """Return ``X`` in the layout this backend reads (dense C array or CSR)."""
    if sp.issparse(X):
        return X.tocsr()
    return np.ascontiguousarray(X)


def transpose(X):
    """A row-major copy of ``X.T`` made once per fit for the column half-step."""
    if sp.issparse(X):
        return sp.csr_matrix(X.T)  # CSC view of X.T converted to CSR: one copy
    return np.ascontiguousarray(X.T)


def _square(X):
    """``X * X`` in float64: squares of float32 values lose digits in float32 (the contract sums in float64)."""
    if sp.issparse(X):
        X = X.astype(np.float64, copy=False)
        return X.multiply(X).tocsr()
    X = np.asarray(X, dtype=np.float64)
    return X * X


def _level(X, h):
    """The indicator matrix ``1[X == h]`` (same storage as X; sparse stays sparse, h >= 1)."""
    if sp.issparse(X):
        out = X.copy()
        out.data = (out.data == h).astype(np.float64)
        out.eliminate_zeros()
        return out
    return (X == h).astype(np.float64)


def project(X, T, levels=None):
    """``U = X T`` (n x m), or with ``levels=H`` the one-hot projections ``[1[X==1] T, ..., 1[X==H-1] T]``."""
    if levels is None:
        return np.asarray(X @ T, dtype=np.float64)
    check_levels(levels)
    return np.hstack([np.asarray(_level(X, h) @ T, dtype=np.float64) for h in range(1, levels)])


def normalise(L, mode, uniforms=None, fixed=None):
    """Posteriors from log-probabilities ``L`` (n, g) and the ``log_norm`` term (see :mod:`.contract`)."""
    n, g = L.shape
    if mode == SOFT:
        Lmax = L.max(axis=1, keepdims=True)
        E = np.exp(L - Lmax)
        tot = E.sum(axis=1, keepdims=True)
        S = E / tot
        terms = Lmax[:, 0] + np.log(tot[:, 0])
    else:
        if mode == HARD:
            z = np.argmax(L, axis=1)
        else:
            Lmax = L.max(axis=1, keepdims=True)
            P = np.exp(L - Lmax)
            P /= P.sum(axis=1, keepdims=True)
            cdf = np.cumsum(P, axis=1)
            z = np.minimum((cdf < uniforms[:, None]).sum(axis=1), g - 1)
        S = np.zeros((n, g))
        S[np.arange(n), z] = 1.0
        terms = L[np.arange(n), z]
    if fixed is not None:
        known = np.flatnonzero(fixed >= 0)
        S[known] = 0.0
        S[known, fixed[known]] = 1.0
        terms = terms.copy()
        terms[known] = L[known, fixed[known]]
    return S, float(terms.sum())


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=SOFT, uniforms=None, fixed=None, levels=None):
    """One half-step of block EM over the rows of ``X`` (see :mod:`.contract`)."""
    if levels is not None and B is not None:
        raise ValueError("levels and B exclude each other: one-hot levels have no squared term")
    U = project(X, T, levels)
    V = np.asarray(_square(X) @ T, dtype=np.float64) if B is not None else None
    return finish_estep(U, V, A, B, w, z, row_weight, mode, uniforms, fixed)


def column_sums(X, S, squared=False, levels=None):
    """``X^T S`` (one-hot blocks with ``levels``) and, if ``squared``, ``(X*X)^T S`` (else None).

    The projections of the column half-step read from the rows of ``X``,
    without a transposed copy; sums over blocks of rows add up (the dask
    backend maps this).
    """
    if levels is not None and squared:
        raise ValueError("levels and squared exclude each other: one-hot levels have no squared term")
    U = project(X.T, S, levels)
    V = np.asarray(_square(X).T @ S, dtype=np.float64) if squared else None
    return U, V


def finish_estep(U, V, A, B, w, z=None, row_weight=None, mode=SOFT, uniforms=None, fixed=None):
    """The half-step once ``U = X T`` (and ``V = (X*X) T`` when ``B`` is given) are known."""
    mode = mode_code(mode)
    if mode == SAMPLE and uniforms is None:
        raise ValueError("mode='sample' needs one uniform draw per row")
    if (z is None) != (row_weight is None):
        raise ValueError("z and row_weight go together: pass both or neither")
    fixed = check_fixed(fixed, U.shape[0], A.shape[0])
    L = U @ A.T + w[None, :]
    if B is not None:
        L += V @ B.T
    if z is not None:
        L += np.outer(row_weight, z)
    S, log_norm = normalise(L, mode, uniforms, fixed)
    SXT = S.T @ U
    SX2T = S.T @ V if B is not None else None
    return EStepResult(S, SXT, SX2T, log_norm)


def block_stats(X, S, T, squared=False, levels=None):
    """``S^T X T`` (with ``levels``: ``S^T [1[X==h] T]_h``) and, if ``squared``, ``S^T (X*X) T``."""
    SXT = S.T @ project(X, T, levels)
    SX2T = S.T @ np.asarray(_square(X) @ T, dtype=np.float64) if squared else None
    return SXT, SX2T


def nb_size_terms(X, row_size, theta):
    """Per column ``j``: ``sum_i F(x_ij; theta_j s_i)`` and its first two derivatives in ``theta_j``.

    ``F(x; z) = lgamma(x + z) - lgamma(z)`` is 0 at ``x = 0``, so only stored
    non-zero values contribute (see :mod:`.contract`).
    """
    if sp.issparse(X):
        C = X.tocoo()
        rows, cols, x = C.row, C.col, np.asarray(C.data, dtype=np.float64)
    else:
        rows, cols = np.nonzero(X)
        x = np.asarray(X[rows, cols], dtype=np.float64)
    keep = x != 0
    rows, cols, x = rows[keep], cols[keep], x[keep]
    s = np.asarray(row_size, dtype=np.float64)[rows]
    zz = np.asarray(theta, dtype=np.float64)[cols] * s
    d = X.shape[1]
    value = np.bincount(cols, gammaln(x + zz) - gammaln(zz), minlength=d)
    first = np.bincount(cols, s * (digamma(x + zz) - digamma(zz)), minlength=d)
    second = np.bincount(cols, s * s * (polygamma(1, x + zz) - polygamma(1, zz)), minlength=d)
    return value, first, second


def to_numpy(a):
    return a
