"""The one contract every block-update backend implements.

A *half-step* of a latent block model (rows given columns, or columns given
rows after a transpose) is, for each row ``i`` of ``X`` (n x d)::

    u_i = x_i T                      (m,)   column-cluster sums
    v_i = (x_i * x_i) T              (m,)   only when ``B`` is given (Gaussian)
    L_ik = w_k + r_i z_k + sum_l (u_il A_kl + v_il B_kl)
    s_i  = normalise(L_i)            soft: softmax, hard: one-hot argmax,
                                     sample: one-hot draw from the softmax
                                     using ``uniforms[i]``

and it returns::

    S        (n, g)   the new posteriors
    SXT      (g, m)   sum_i s_i^T u_i          = S^T X T
    SX2T     (g, m)   sum_i s_i^T v_i          = S^T (X*X) T, or None
    log_norm float    soft: sum_i logsumexp_k L_ik; hard/sample: sum_i L_i,z_i

``X`` is dense (C-contiguous) or CSR.  ``U`` is never materialised by the fused
backends; the numpy backend is the readable reference that defines the answer.
The column half-step may also be read from the rows of ``X`` without a
transposed copy: ``U = X^T S`` is a sum over rows (``column_sums``), then the
same per-row work finishes it (``finish_estep``, given ``U``).

Additions for the families and fits beyond Bernoulli/Poisson/Gaussian (issue 10).
Every new *statistic* is a sum over rows, so a map-reduce over row blocks adds
the blocks' values (``SXT`` with levels, the three arrays of
``nb_size_terms``); the new *per-row* inputs and outputs (``fixed``, the rows
of ``project``) are sliced and stacked like ``S`` and ``uniforms``:

``fixed`` (row_estep, optional, int array of length n, -1 = free)
    Semi-supervised fits: a row with ``fixed[i] = k >= 0`` gets ``s_i = e_k``
    in every mode and adds ``L_ik`` to ``log_norm``; known rows keep their
    cluster while the others are estimated, and ``SXT`` uses the clamped rows.
``levels`` (row_estep, block_stats, project; optional int ``H >= 2``)
    Categorical data: every stored value is an integer level in ``[0, H)``,
    read one-hot without densifying. ``u_i`` then has ``(H-1) m`` entries,
    ``u_i[(h-1) m + l] = sum_j 1[x_ij = h] T_jl`` for ``h = 1..H-1`` (level 0,
    the implicit zeros of a sparse X, is what remains of the column-cluster
    sizes), ``A`` has shape ``(g, (H-1) m)``, ``B`` must be None and ``SXT``
    is ``(g, (H-1) m)``.  Cost: O(nnz m) as for counts.
``project(X, T, levels=None)``
    ``U = X T`` itself (n x m float64; one-hot blocks with ``levels``). The
    negative-binomial family's column log-probabilities have coefficients
    that depend on the column (its dispersion and effect), which the single
    ``A`` above cannot express, so its column half-step projects ``X^T S``
    (d x g, small) and finishes on the host; predictions on new rows use it
    too. Per-row output: a row-block map stacks the blocks.
``nb_size_terms(X, row_size, theta)``
    Per column j, ``sum_i F(x_ij; theta_j s_i)`` with ``F(x; z) = lgamma(x+z) -
    lgamma(z)`` and its first and second derivatives in ``theta_j`` (three
    length-d arrays). ``F(0; z) = 0``: only stored non-zero values are read,
    O(nnz). This is the one term of the negative-binomial log-likelihood that
    is not a block sum: it does not depend on the clusters, only on the
    per-gene dispersion, so the M-step's Newton steps on ``theta`` need it
    and nothing else from X.

Every family of the latent block model, and the hard-assignment co-clustering
algorithms (double k-means, information-theoretic, modularity), map onto this
single formula through their choice of ``A``, ``B``, ``w``, ``z`` and ``r``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

SOFT = 0
HARD = 1
SAMPLE = 2
# Inside the backends only: ``block_stats`` runs the half-step kernels on given
# posteriors S (read, not computed), so one kernel serves both entry points.
GIVEN = 3

MODES = {"soft": SOFT, "hard": HARD, "sample": SAMPLE}

# Fields of EStepResult with one row per row of X; the others are sums over rows.
ROW_FIELDS = ("S",)


class EStepResult(NamedTuple):
    """Output of :func:`row_estep` (see module docstring).

    ``S`` has one row per row of ``X`` (:data:`ROW_FIELDS`); every other field
    is a sum over the rows, so results over blocks of rows add up field by
    field (the dask backend relies on this).
    """

    S: np.ndarray
    SXT: np.ndarray
    SX2T: np.ndarray | None
    log_norm: float


def check_levels(levels) -> int:
    """``levels`` as an int >= 2 (the number of categorical levels, level 0 included)."""
    if isinstance(levels, (bool, np.bool_)) or not isinstance(levels, (int, np.integer)) or levels < 2:
        raise ValueError(f"levels must be an int >= 2 (levels 0..levels-1), got {levels!r}")
    return int(levels)


def check_fixed(fixed, n, g):
    """``fixed`` as an int64 array of length ``n`` with values in ``[-1, g)``, or None."""
    if fixed is None:
        return None
    fixed = np.asarray(fixed)
    if fixed.shape != (n,) or fixed.dtype.kind not in "iu":
        raise ValueError(f"fixed must be an int array of shape ({n},), got {fixed.dtype} {fixed.shape}")
    if fixed.size and (fixed.min() < -1 or fixed.max() >= g):
        raise ValueError(f"fixed labels must lie in [-1, {g}) (-1: free)")
    return np.ascontiguousarray(fixed, dtype=np.int64)


def mode_code(mode) -> int:
    """Map ``"soft" | "hard" | "sample"`` (or the int code) to the int code."""
    if isinstance(mode, str):
        try:
            return MODES[mode]
        except KeyError:
            raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}") from None
    if mode in (SOFT, HARD, SAMPLE):
        return int(mode)
    raise ValueError(f"mode must be one of {sorted(MODES)}, got {mode!r}")
