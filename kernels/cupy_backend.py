"""CuPy GPU backend: one fused CUDA kernel per storage (CSR, dense).

Same functions as :mod:`.numpy_backend` (the reference).  One warp handles one
row: its lanes stream the row's stored values once, forming ``u = x_i T`` (and
``v = (x_i*x_i) T``) in registers, reduce them with warp shuffles, then
compute the ``g`` log-probabilities, the posterior, the ``log_norm`` term and
the row's share of ``S^T U``.  Each block sums those shares in shared memory
and adds them to the output once, so ``U`` never exists in GPU memory.

Problems with more column clusters than ``MAX_M`` or row clusters than
``MAX_G`` fall back to cuSPARSE SpMM plus cuBLAS (``U`` materialised).

Inputs may be numpy/scipy (copied to the device once by :func:`prepare`) or
cupy/cupyx; results stay on the device (``S``, ``SXT``, ``SX2T`` are cupy
arrays, ``log_norm`` a float) until :func:`to_numpy`.  Importing this module
never fails: :func:`is_available` says whether cupy and a GPU are usable.

The contract additions of issue 10 (``fixed`` rows, categorical ``levels``,
:func:`project`, :func:`nb_size_terms`) were written by analogy with the numpy
reference and have NOT been run on a GPU: no GPU was lent to the session that
wrote them. ``fixed`` goes through the fused kernel; ``levels`` always takes
the unfused cuSPARSE path (one SpMM per level).
"""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .contract import GIVEN, HARD, SAMPLE, SOFT, EStepResult, check_fixed, check_levels, mode_code

try:  # cupy may be missing, or present without a driver: never raise here
    import cupy as cp
    import cupyx.scipy.sparse as cpsp
except Exception:  # pragma: no cover - depends on the machine
    cp = None
    cpsp = None

name = "cupy"
xp = cp  # array module the estimator uses for S and T on this backend

MAX_M = 16  # column clusters held in registers per lane
MAX_G = 32  # row clusters: one lane per cluster for the log-probabilities
_WARPS_PER_BLOCK = 8

_SOURCE = r"""
#define MAX_M %(max_m)d
#define MAX_G %(max_g)d
#define MODE_SOFT %(soft)d
#define MODE_HARD %(hard)d
#define MODE_GIVEN %(given)d
#define FULL_MASK 0xffffffffu

// Everything after u, v are known, for row i handled by one warp.
// wbuf: this warp's shared scratch (2*MAX_M + MAX_G doubles).
__device__ void finish_row(
    long long i, const double* u, const double* v, int has_v, int g, int m,
    const double* A, const double* B, const double* w, const double* z,
    const double* r, int has_z, int mode, const double* uniforms,
    const long long* fixed, int has_fixed,
    double* S, double* sh_sxt, double* sh_sx2t, double* sh_ln, double* wbuf)
{
    const int lane = threadIdx.x & 31;
    double* wu = wbuf;
    double* wv = wbuf + MAX_M;
    double* wL = wbuf + 2 * MAX_M;
    if (lane == 0) {
        #pragma unroll
        for (int l = 0; l < MAX_M; ++l) {
            if (l < m) { wu[l] = u[l]; wv[l] = has_v ? v[l] : 0.0; }
        }
    }
    __syncwarp();
    if (mode == MODE_GIVEN) {             // given posteriors (block_stats)
        if (lane < g) wL[lane] = S[i * g + lane];
        __syncwarp();
    } else {
        if (lane < g) {
            const int k = lane;
            double acc = 0.0;
            for (int l = 0; l < m; ++l) acc += wu[l] * A[k * m + l];
            if (has_v) for (int l = 0; l < m; ++l) acc += wv[l] * B[k * m + l];
            acc += w[k];
            if (has_z) acc += r[i] * z[k];
            wL[k] = acc;
        }
        __syncwarp();
        // every lane normalises the g values redundantly (g is small)
        int best = 0;
        for (int k = 1; k < g; ++k) if (wL[k] > wL[best]) best = k;  // first max
        const double Lmax = wL[best];
        double term;
        int pick = best;
        double total = 0.0;
        if (mode != MODE_HARD) for (int k = 0; k < g; ++k) total += exp(wL[k] - Lmax);
        if (mode == MODE_SOFT) {
            term = Lmax + log(total);
        } else if (mode == MODE_HARD) {
            term = Lmax;
        } else {                           // sample
            double cdf = 0.0;
            const double uu = uniforms[i];
            pick = g - 1;
            for (int k = 0; k < g; ++k) {
                cdf += exp(wL[k] - Lmax) / total;
                if (!(cdf < uu)) { pick = k; break; }
            }
            term = wL[pick];
        }
        const long long known = has_fixed ? fixed[i] : -1;   // semi-supervised: clamped row
        if (known >= 0) { pick = (int)known; term = wL[pick]; }
        __syncwarp();
        if (lane < g) {
            const double s = (mode == MODE_SOFT && known < 0) ? exp(wL[lane] - Lmax) / total
                                         : (lane == pick ? 1.0 : 0.0);
            S[i * g + lane] = s;
        }
        if (lane == 0) atomicAdd(sh_ln, term);
        __syncwarp();
        if (lane < g) wL[lane] = S[i * g + lane];
        __syncwarp();
    }
    for (int t = lane; t < g * m; t += 32) {
        const int k = t / m, l = t - (t / m) * m;
        const double s = wL[k];
        if (s != 0.0) {
            atomicAdd(sh_sxt + t, s * wu[l]);
            if (has_v) atomicAdd(sh_sx2t + t, s * wv[l]);
        }
    }
    __syncwarp();
}

__device__ void warp_sum(double* u, int m) {
    #pragma unroll
    for (int l = 0; l < MAX_M; ++l) {
        if (l < m) {
            double x = u[l];
            for (int off = 16; off > 0; off >>= 1) x += __shfl_xor_sync(FULL_MASK, x, off);
            u[l] = x;
        }
    }
}

__device__ void block_flush(const double* sh, int count, double* out) {
    __syncthreads();
    for (int t = threadIdx.x; t < count; t += blockDim.x) atomicAdd(out + t, sh[t]);
}

#define KERNEL_PROLOGUE                                                         \
    extern __shared__ double sh[];                                              \
    double* sh_sxt = sh;                                                        \
    double* sh_sx2t = sh + g * m;                                               \
    double* sh_ln = sh + 2 * g * m;                                             \
    double* wbuf = sh + 2 * g * m + 1 + (threadIdx.x >> 5) * (2 * MAX_M + MAX_G); \
    for (int t = threadIdx.x; t < 2 * g * m + 1; t += blockDim.x) sh[t] = 0.0;  \
    __syncthreads();                                                            \
    const int lane = threadIdx.x & 31;                                          \
    const long long warps = (long long)gridDim.x * (blockDim.x >> 5);           \
    const long long first = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);

template <typename F, typename I>
__global__ void fused_csr(
    const I* indptr, const I* indices, const F* data, long long n,
    const double* T, int g, int m,
    const double* A, const double* B, int has_v, const double* w, const double* z,
    const double* r, int has_z, int mode, const double* uniforms,
    const long long* fixed, int has_fixed,
    double* S, double* out)  // out: SXT (g*m), SX2T (g*m), log_norm (1)
{
    KERNEL_PROLOGUE
    for (long long i = first; i < n; i += warps) {
        double u[MAX_M], v[MAX_M];
        #pragma unroll
        for (int l = 0; l < MAX_M; ++l) { u[l] = 0.0; v[l] = 0.0; }
        const long long stop = (long long)indptr[i + 1];
        for (long long p = (long long)indptr[i] + lane; p < stop; p += 32) {
            const double x = (double)data[p];
            const double* Tj = T + (long long)indices[p] * m;
            #pragma unroll
            for (int l = 0; l < MAX_M; ++l) {
                if (l < m) {
                    const double t = Tj[l];
                    u[l] += x * t;
                    if (has_v) v[l] += x * x * t;
                }
            }
        }
        warp_sum(u, m);
        if (has_v) warp_sum(v, m);
        finish_row(i, u, v, has_v, g, m, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                   S, sh_sxt, sh_sx2t, sh_ln, wbuf);
    }
    block_flush(sh, 2 * g * m + 1, out);
}

template <typename F>
__global__ void fused_dense(
    const F* X, long long n, int d,
    const double* T, int g, int m,
    const double* A, const double* B, int has_v, const double* w, const double* z,
    const double* r, int has_z, int mode, const double* uniforms,
    const long long* fixed, int has_fixed,
    double* S, double* out)
{
    KERNEL_PROLOGUE
    for (long long i = first; i < n; i += warps) {
        double u[MAX_M], v[MAX_M];
        #pragma unroll
        for (int l = 0; l < MAX_M; ++l) { u[l] = 0.0; v[l] = 0.0; }
        const F* xi = X + i * (long long)d;
        for (int j = lane; j < d; j += 32) {   // coalesced across the warp
            const double x = (double)xi[j];
            const double* Tj = T + (long long)j * m;
            #pragma unroll
            for (int l = 0; l < MAX_M; ++l) {
                if (l < m) {
                    const double t = Tj[l];
                    u[l] += x * t;
                    if (has_v) v[l] += x * x * t;
                }
            }
        }
        warp_sum(u, m);
        if (has_v) warp_sum(v, m);
        finish_row(i, u, v, has_v, g, m, A, B, w, z, r, has_z, mode, uniforms, fixed, has_fixed,
                   S, sh_sxt, sh_sx2t, sh_ln, wbuf);
    }
    block_flush(sh, 2 * g * m + 1, out);
}
""" % {"max_m": MAX_M, "max_g": MAX_G, "soft": SOFT, "hard": HARD, "given": GIVEN}

_NAMES = {
    ("csr", np.float32, np.int32): "fused_csr<float, int>",
    ("csr", np.float64, np.int32): "fused_csr<double, int>",
    ("csr", np.float32, np.int64): "fused_csr<float, long long>",
    ("csr", np.float64, np.int64): "fused_csr<double, long long>",
    ("dense", np.float32, None): "fused_dense<float>",
    ("dense", np.float64, None): "fused_dense<double>",
}
_module = None


def is_available():
    """True when cupy imports and at least one CUDA device answers."""
    if cp is None:
        return False
    try:
        return cp.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


def _kernel(key):
    global _module
    if _module is None:
        _module = cp.RawModule(code=_SOURCE, options=("-std=c++14",),
                               name_expressions=list(_NAMES.values()))
    return _module.get_function(_NAMES[key])


def _float_dtype(dtype):
    return np.float32 if dtype == np.float32 else np.float64


def _is_csr(X):
    return cpsp is not None and cpsp.isspmatrix_csr(X)


def prepare(X):
    """Put ``X`` on the device: a cupy C array or a canonical cupyx CSR matrix."""
    if _is_csr(X):
        out = X
    elif cpsp is not None and cpsp.issparse(X):
        out = X.tocsr()
    elif sp.issparse(X):
        X = X.tocsr()
        out = cpsp.csr_matrix(X.astype(_float_dtype(X.dtype), copy=False))
    else:
        out = cp.ascontiguousarray(cp.asarray(X))
        if out.ndim != 2:
            raise ValueError(f"X must be 2-D, got an array of shape {out.shape}.")
        return out.astype(_float_dtype(out.dtype), copy=False)
    if out.dtype not in (np.float32, np.float64):
        out = out.astype(np.float64)
    if not out.has_canonical_format:  # duplicates would break (x*x) T
        out = out.copy()
        out.sum_duplicates()
    return out


def transpose(Xp):
    """A row-major copy of ``X.T`` on the device, made once per fit."""
    Xp = prepare(Xp)
    if _is_csr(Xp):
        return prepare(Xp.T.tocsr())
    return cp.ascontiguousarray(Xp.T)


def _dev(a, label, shape):
    a = cp.ascontiguousarray(cp.asarray(a, dtype=cp.float64))
    if a.shape != shape:
        raise ValueError(f"{label} must have shape {shape}, got {a.shape}.")
    return a


def _launch(Xp, T, A, B, w, z, r, mode, uniforms, S, fixed=None):
    n, d = Xp.shape
    g, m = A.shape
    has_v = B is not None
    has_z = z is not None
    has_fixed = fixed is not None
    out = cp.zeros(2 * g * m + 1, dtype=cp.float64)
    dummy = cp.zeros(1, dtype=cp.float64)
    args_tail = (
        T, np.int32(g), np.int32(m), A, B if has_v else dummy, np.int32(has_v), w,
        z if has_z else dummy, r if has_z else dummy, np.int32(has_z), np.int32(mode),
        uniforms if uniforms is not None else dummy,
        fixed if has_fixed else cp.zeros(1, dtype=cp.int64), np.int32(has_fixed), S, out,
    )
    if _is_csr(Xp):
        key = ("csr", _float_dtype(Xp.dtype), np.int64 if Xp.indices.dtype == np.int64 else np.int32)
        indices = Xp.indices.astype(key[2], copy=False)
        indptr = Xp.indptr.astype(key[2], copy=False)
        args = (indptr, indices, Xp.data, np.int64(n)) + args_tail
    else:
        key = ("dense", _float_dtype(Xp.dtype), None)
        args = (Xp, np.int64(n), np.int32(d)) + args_tail
    threads = 32 * _WARPS_PER_BLOCK
    sms = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["multiProcessorCount"]
    blocks = int(max(1, min(-(-n // _WARPS_PER_BLOCK), 32 * sms)))
    shared = 8 * (2 * g * m + 1 + _WARPS_PER_BLOCK * (2 * MAX_M + MAX_G))
    _kernel(key)((blocks,), (threads,), args, shared_mem=shared)
    SXT = out[: g * m].reshape(g, m)
    SX2T = out[g * m: 2 * g * m].reshape(g, m) if has_v else None
    return SXT, SX2T, float(out[2 * g * m].get())


def _square(Xp):
    """``Xp * Xp`` in float64, as the numpy reference squares."""
    if Xp.dtype != np.float64:
        Xp = Xp.astype(np.float64)
    if _is_csr(Xp):
        return Xp.power(2)
    return Xp * Xp


def _level(Xp, h):
    """The indicator matrix ``1[X == h]`` on the device (sparse stays sparse)."""
    if _is_csr(Xp):
        out = Xp.copy()
        out.data = (out.data == h).astype(cp.float64)
        out.eliminate_zeros()
        return out
    return (Xp == h).astype(cp.float64)


def _project(Xp, T, levels=None):
    if levels is None:
        return cp.asarray(Xp @ T, dtype=cp.float64)
    return cp.hstack([cp.asarray(_level(Xp, h) @ T, dtype=cp.float64) for h in range(1, levels)])


def _unfused(Xp, T, A, B, w, z, r, mode, uniforms, S=None, fixed=None, levels=None):
    """cuSPARSE SpMM + cuBLAS path for g > MAX_G, m > MAX_M or levels (``U`` materialised)."""
    U = _project(Xp, T, levels)
    V = cp.asarray(_square(Xp) @ T, dtype=cp.float64) if B is not None else None
    if mode == GIVEN:
        return S, S.T @ U, (S.T @ V if V is not None else None), 0.0
    L = U @ A.T + w[None, :]
    if V is not None:
        L += V @ B.T
    if z is not None:
        L += cp.outer(r, z)
    n, g = L.shape
    Lmax = L.max(axis=1, keepdims=True)
    E = cp.exp(L - Lmax)
    tot = E.sum(axis=1, keepdims=True)
    if mode == SOFT:
        S = E / tot
        log_norm = float(cp.sum(Lmax[:, 0] + cp.log(tot[:, 0])))
    else:
        if mode == HARD:
            zz = cp.argmax(L, axis=1)
        else:
            cdf = cp.cumsum(E / tot, axis=1)
            zz = cp.minimum((cdf < uniforms[:, None]).sum(axis=1), g - 1)
        S = cp.zeros((n, g))
        S[cp.arange(n), zz] = 1.0
        log_norm = float(L[cp.arange(n), zz].sum())
    if fixed is not None:
        known = cp.flatnonzero(fixed >= 0)
        if known.size:
            clamped_terms = L[known, fixed[known]]
            if mode == SOFT:
                free_terms = Lmax[known, 0] + cp.log(tot[known, 0])
            else:
                free_terms = L[known, cp.argmax(S[known], axis=1)]
            log_norm += float((clamped_terms - free_terms).sum())
            S[known] = 0.0
            S[known, fixed[known]] = 1.0
    return S, S.T @ U, (S.T @ V if V is not None else None), log_norm


def _check(Xp, T, A, B, w, z, row_weight, mode, uniforms, levels=None):
    n, d = Xp.shape
    T = cp.ascontiguousarray(cp.asarray(T, dtype=cp.float64))
    if T.ndim != 2 or T.shape[0] != d:
        raise ValueError(f"T must have shape ({d}, m) for X of shape {(n, d)}, got {T.shape}.")
    m = T.shape[1] * (1 if levels is None else levels - 1)
    A = cp.asarray(A)
    if A.ndim != 2:
        raise ValueError(f"A must be a 2-D (g, m) array, got shape {A.shape}.")
    g = A.shape[0]
    A = _dev(A, "A", (g, m))
    B = _dev(B, "B", (g, m)) if B is not None else None
    w = _dev(w, "w", (g,))
    if (z is None) != (row_weight is None):
        raise ValueError("z and row_weight must be given together (or both left as None).")
    r = None
    if z is not None:
        z = _dev(z, "z", (g,))
        r = _dev(row_weight, "row_weight", (n,))
    if mode == SAMPLE:
        if uniforms is None:
            raise ValueError("mode='sample' needs one uniform draw per row")
        uniforms = _dev(uniforms, "uniforms", (n,))
    else:
        uniforms = None
    return T, A, B, w, z, r, uniforms


def row_estep(X, T, A, B, w, z=None, row_weight=None, mode=SOFT, uniforms=None, fixed=None, levels=None):
    """One fused half-step of block EM over the rows of ``X`` (see :mod:`.contract`)."""
    Xp = prepare(X)
    mode = mode_code(mode)
    if levels is not None:
        levels = check_levels(levels)
        if B is not None:
            raise ValueError("levels and B exclude each other: one-hot levels have no squared term")
    T, A, B, w, z, r, uniforms = _check(Xp, T, A, B, w, z, row_weight, mode, uniforms, levels)
    g = A.shape[0]
    fixed = check_fixed(None if fixed is None else to_numpy(fixed), Xp.shape[0], g)
    fixed = None if fixed is None else cp.asarray(fixed)
    m = T.shape[1]
    if levels is not None or g > MAX_G or m > MAX_M:
        S, SXT, SX2T, log_norm = _unfused(Xp, T, A, B, w, z, r, mode, uniforms, fixed=fixed, levels=levels)
        return EStepResult(S, SXT, SX2T, log_norm)
    S = cp.empty((Xp.shape[0], g), dtype=cp.float64)
    SXT, SX2T, log_norm = _launch(Xp, T, A, B, w, z, r, mode, uniforms, S, fixed)
    return EStepResult(S, SXT, SX2T, log_norm)


def block_stats(X, S, T, squared=False, levels=None):
    """``S^T X T`` (one-hot blocks with ``levels``) and, if ``squared``, ``S^T (X*X) T``."""
    Xp = prepare(X)
    n, d = Xp.shape
    S = cp.ascontiguousarray(cp.asarray(S, dtype=cp.float64))
    if S.ndim != 2 or S.shape[0] != n:
        raise ValueError(f"S must have shape ({n}, g), got {S.shape}.")
    g = S.shape[1]
    T = cp.ascontiguousarray(cp.asarray(T, dtype=cp.float64))
    if T.ndim != 2 or T.shape[0] != d:
        raise ValueError(f"T must have shape ({d}, m) for X of shape {(n, d)}, got {T.shape}.")
    m = T.shape[1]
    if levels is not None:
        levels = check_levels(levels)
        return S.T @ _project(Xp, T, levels), (S.T @ cp.asarray(_square(Xp) @ T) if squared else None)
    A = cp.zeros((g, m))
    B = cp.zeros((g, m)) if squared else None
    if g > MAX_G or m > MAX_M:
        _, SXT, SX2T, _ = _unfused(Xp, T, A, B, None, None, None, GIVEN, None, S)
        return SXT, SX2T
    SXT, SX2T, _ = _launch(Xp, T, A, B, cp.zeros(g), None, None, GIVEN, None, S)
    return SXT, SX2T


def project(X, T, levels=None):
    """``U = X T`` on the device (one-hot blocks with ``levels``), float64 (see :mod:`.contract`)."""
    Xp = prepare(X)
    T = cp.ascontiguousarray(cp.asarray(T, dtype=cp.float64))
    if T.ndim != 2 or T.shape[0] != Xp.shape[1]:
        raise ValueError(f"T must have shape ({Xp.shape[1]}, m) for X of shape {Xp.shape}, got {T.shape}.")
    return _project(Xp, T, None if levels is None else check_levels(levels))


def nb_size_terms(X, row_size, theta):
    """Per-column negative-binomial size terms and derivatives, elementwise on the device."""
    from cupyx import scatter_add
    from cupyx.scipy.special import digamma, gammaln, polygamma

    Xp = prepare(X)
    if _is_csr(Xp):
        C = Xp.tocoo()
        rows, cols, x = C.row, C.col, C.data.astype(cp.float64)
    else:
        rows, cols = cp.nonzero(Xp)
        x = Xp[rows, cols].astype(cp.float64)
    keep = x != 0
    rows, cols, x = rows[keep], cols[keep], x[keep]
    s = cp.asarray(row_size, dtype=cp.float64)[rows]
    zz = cp.asarray(theta, dtype=cp.float64)[cols] * s
    d = Xp.shape[1]
    out = cp.zeros((3, d))
    scatter_add(out[0], cols, gammaln(x + zz) - gammaln(zz))
    scatter_add(out[1], cols, s * (digamma(x + zz) - digamma(zz)))
    scatter_add(out[2], cols, s * s * (polygamma(1, x + zz) - polygamma(1, zz)))
    return out[0], out[1], out[2]


def to_numpy(a):
    """Copy a cupy array to the host (numpy input passes through)."""
    if cp is not None and isinstance(a, cp.ndarray):
        return cp.asnumpy(a)
    return np.asarray(a) if a is not None else None
