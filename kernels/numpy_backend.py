"""Reference backend: readable numpy/scipy, the spec the compiled backends match."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .contract import HARD, SAMPLE, SOFT, EStepResult, mode_code

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
    if sp.issparse(X):
        return X.multiply(X).tocsr()
    return X * X


def _normalise(L, mode, uniforms):
    n, g = L.shape
    if mode == SOFT:
        Lmax = L.max(axis=1, keepdims=True)
        E = np.exp(L - Lmax)
        tot = E.sum(axis=1, keepdims=True)
        return E / tot, float(np.sum(Lmax[:, 0] + np.log(tot[:, 0])))
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
    return S, float(L[np.arange(n), z].sum())


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=SOFT, uniforms=None):
    """One half-step of block EM over the rows of ``X`` (see :mod:`.contract`)."""
    U = np.asarray(X @ T, dtype=np.float64)
    V = np.asarray(_square(X) @ T, dtype=np.float64) if B is not None else None
    return finish_estep(U, V, A, B, w, z, row_weight, mode, uniforms)


def column_sums(X, S, squared=False):
    """``X^T S`` and, if ``squared``, ``(X*X)^T S`` (else None), read from the rows of ``X``.

    The projections of the column half-step without a transposed copy of
    ``X``; sums over blocks of rows add up (the dask backend maps this).
    """
    U = np.asarray(X.T @ S, dtype=np.float64)
    V = np.asarray(_square(X).T @ S, dtype=np.float64) if squared else None
    return U, V


def finish_estep(U, V, A, B, w, z=None, row_weight=None, mode=SOFT, uniforms=None):
    """The half-step once ``U = X T`` (and ``V = (X*X) T`` when ``B`` is given) are known."""
    mode = mode_code(mode)
    if mode == SAMPLE and uniforms is None:
        raise ValueError("mode='sample' needs one uniform draw per row")
    if (z is None) != (row_weight is None):
        raise ValueError("z and row_weight go together: pass both or neither")
    L = U @ A.T + w[None, :]
    if B is not None:
        L += V @ B.T
    if z is not None:
        L += np.outer(row_weight, z)
    S, log_norm = _normalise(L, mode, uniforms)
    SXT = S.T @ U
    SX2T = S.T @ V if B is not None else None
    return EStepResult(S, SXT, SX2T, log_norm)


def block_stats(X, S, T, squared=False):
    """``S^T X T`` and, if ``squared``, ``S^T (X*X) T`` for given posteriors."""
    SXT = S.T @ np.asarray(X @ T, dtype=np.float64)
    SX2T = S.T @ np.asarray(_square(X) @ T, dtype=np.float64) if squared else None
    return SXT, SX2T


def to_numpy(a):
    return a
