"""Per-row work shared by the fused dense and CSR Numba kernels.

Once a kernel has ``u = x_i T`` (and ``v = (x_i*x_i) T``) for row ``i``, the
rest of the half-step does not depend on how ``X`` is stored: form the ``g``
log-probabilities, normalise them into the posterior row, and add the row's
share of ``S^T U`` (and ``S^T V``) to the chunk's partial sums.
"""
from __future__ import annotations

import numpy as np
from numba import njit

# Compile-time constants in the kernels (a change here needs a cleared numba cache).
from .contract import GIVEN, HARD, SOFT


@njit(fastmath=True, cache=True, inline="always")
def log_probs(i, u, v, A, B, has_B, w, z, r, has_z, L):
    """Fill ``L`` with ``w_k + r_i z_k + sum_l u_l A_kl + v_l B_kl``."""
    g, m = A.shape
    for k in range(g):
        acc = 0.0
        for l in range(m):
            acc += u[l] * A[k, l]
        if has_B:
            for l in range(m):
                acc += v[l] * B[k, l]
        acc += w[k]
        if has_z:
            acc += r[i] * z[k]
        L[k] = acc


@njit(fastmath=True, cache=True, inline="always")
def finish_row(i, u, v, has_v, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed, S, L, SXT, SX2T):
    """Posterior of row ``i`` into ``S[i]``; add ``s_i^T u`` to the partial sums.

    ``L`` is scratch of length ``g``. Returns the row's ``log_norm`` term
    (0 when ``mode == GIVEN``, where ``S[i]`` is read, not written). With
    ``has_fixed`` and ``fixed[i] >= 0`` the row is clamped to that cluster
    (semi-supervised fits) whatever the mode.
    """
    g, m = SXT.shape
    term = 0.0
    pick = 0
    if mode != GIVEN and has_fixed and fixed[i] >= 0:
        log_probs(i, u, v, A, B, has_v, w, z, r, has_z, L)
        pick = fixed[i]
        term = L[pick]
        for k in range(g):
            S[i, k] = 0.0
        S[i, pick] = 1.0
    elif mode != GIVEN:
        log_probs(i, u, v, A, B, has_v, w, z, r, has_z, L)
        best = 0
        for k in range(1, g):
            if L[k] > L[best]:  # strict: the first maximum wins, as np.argmax
                best = k
        Lmax = L[best]
        if mode == HARD:
            term = Lmax
            pick = best
        else:
            total = 0.0
            for k in range(g):
                S[i, k] = np.exp(L[k] - Lmax)
                total += S[i, k]
            if mode == SOFT:
                term = Lmax + np.log(total)
                for k in range(g):
                    S[i, k] = S[i, k] / total
            else:  # SAMPLE: the first k whose running cdf reaches the uniform
                cdf = 0.0
                pick = g - 1
                for k in range(g):
                    cdf += S[i, k] / total
                    if not (cdf < uniforms[i]):
                        pick = k
                        break
                term = L[pick]
        if mode != SOFT:
            for k in range(g):
                S[i, k] = 0.0
            S[i, pick] = 1.0
    # partial sums of S^T U, skipping zero posteriors (all but one when hard)
    for k in range(g):
        s = S[i, k]
        if s != 0.0:
            for l in range(m):
                SXT[k, l] += s * u[l]
            if has_v:
                for l in range(m):
                    SX2T[k, l] += s * v[l]
    return term
