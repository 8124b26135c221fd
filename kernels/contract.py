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
