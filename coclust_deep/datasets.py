"""Data generated from the latent block model, dense or sparse; unpaired two-modality digits."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._validation import Interval, check_choice, check_n_clusters, check_param, check_positive_int, check_seed
from .lbm import FAMILIES

__all__ = ["make_lbm", "make_unpaired_digits", "recover_counts", "separated_pattern"]


def separated_pattern(g, m, rng, min_gap=0.25, max_tries=1000):
    """A g x m matrix in [0, 1] whose rows and columns differ pairwise by >= ``min_gap``.

    Distinct rows and columns are what makes the block partition identifiable.
    Uniform draws are repeated until the smallest max-norm distance between
    two rows and between two columns reaches ``min_gap``; when no draw does
    within ``max_tries``, the draw with the largest such distance is returned
    (its rows or columns then differ by less than ``min_gap``).

    Parameters
    ----------
    g, m : int
        Number of rows and columns.
    rng : numpy.random.Generator or RandomState
        Source of the uniform draws.
    min_gap : float, default=0.25
        Smallest wanted max-norm distance between two rows and two columns.
    max_tries : int, default=1000
        Most draws.

    Returns
    -------
    ndarray of shape (g, m)
    """
    best, best_gap = None, -1.0
    for _ in range(max_tries):
        M = rng.uniform(size=(g, m))
        gap = min(_min_linf(M), _min_linf(M.T))
        if gap > best_gap:
            best, best_gap = M, gap
        if gap >= min_gap:
            break
    return best


def _min_linf(M):
    if M.shape[0] < 2:
        return np.inf
    d = np.abs(M[:, None, :] - M[None, :, :]).max(axis=2)
    return d[np.triu_indices(M.shape[0], 1)].min()


def _draw_labels(n, k, proportions, rng, name):
    if proportions is None:
        proportions = np.full(k, 1.0 / k)
    p = np.asarray(proportions, dtype=float)
    if p.shape != (k,) or np.any(p <= 0) or not np.all(np.isfinite(p)):
        raise ValueError(f"{name} must be {k} positive numbers, got {proportions!r}.")
    p = p / p.sum()
    # Fixed counts, then shuffled: every cluster is non-empty when n >= k.
    counts = np.floor(p * n).astype(int)
    counts[np.argsort(-(p * n - counts))[: n - counts.sum()]] += 1
    counts = np.maximum(counts, 1)
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    labels = np.repeat(np.arange(k), counts)
    return rng.permutation(labels)


def _default_params(family, g, m, rng, density, signal, n_levels):
    M = separated_pattern(g, m, rng)
    if family == "bernoulli":
        lo, hi = density * (1 - signal), density * (1 + signal)
        return {"p": np.clip(lo + (hi - lo) * M, 1e-6, 1 - 1e-6)}
    if family in ("poisson", "nb"):
        params = {"lambda": 0.5 + 4.5 * signal * M + (1 - signal) * 2.0}
        if family == "nb":
            params["theta"] = 1.0
        return params
    if family == "categorical":
        # each block's levels peak at its own level, more sharply with more signal
        centre = M * (n_levels - 1)
        logits = -3.0 * signal * np.abs(np.arange(n_levels)[None, :, None] - centre[:, None, :])
        alpha = np.exp(logits)
        return {"alpha": alpha / alpha.sum(axis=1, keepdims=True)}
    return {"mean": 4.0 * signal * (M - 0.5), "var": 0.5 + 1.0 * rng.uniform(size=(g, m))}


def make_lbm(
    n_rows,
    n_cols,
    n_row_clusters,
    n_col_clusters,
    *,
    family="poisson",
    sparse=False,
    params=None,
    row_proportions=None,
    col_proportions=None,
    row_effects=False,
    density=0.5,
    signal=0.6,
    n_levels=3,
    dtype=np.float64,
    random_state=None,
):
    """Draw a matrix from a latent block model.

    Parameters
    ----------
    n_rows, n_cols : int
        Shape of the matrix.
    n_row_clusters, n_col_clusters : int
        Number of row clusters ``g`` and column clusters ``m``.
    family : {"bernoulli", "poisson", "nb", "categorical", "gaussian"}
        Distribution of each cell given its block. ``"nb"`` draws from the
        model :class:`~coclust_deep.LatentBlockModel` fits with ``family="nb"``:
        mean ``lambda_kl a_i b_j`` and size ``theta_j a_i`` (row and column
        effects ``a``, ``b`` as for ``row_effects``, always on).
        ``"categorical"``: levels ``0..n_levels-1`` drawn from ``alpha_kl``.
    sparse : bool
        Return a CSR matrix. Bernoulli data are then generated block by block
        without forming the dense matrix (positions drawn with replacement and
        de-duplicated, which is exact in the limit of small ``p``).
    params : dict, optional
        Block parameters: ``{"p": (g, m)}`` for Bernoulli, ``{"lambda": (g, m)}``
        for Poisson, ``{"lambda": (g, m), "theta": float or (n_cols,)}`` for the
        negative binomial (default dispersion 1), ``{"alpha": (g, n_levels, m)}``
        for categorical, ``{"mean": (g, m), "var": (g, m)}`` for Gaussian. By
        default a pattern with pairwise-distinct rows and columns is drawn.
    row_proportions, col_proportions : array-like, optional
        Cluster proportions (default: equal).
    row_effects : bool
        Poisson only: multiply the rate of cell (i, j) by ``a_i * b_j`` with
        log-normal row and column effects of mean 1 (library size and gene
        abundance in UMI data).
    n_levels : int
        Categorical only: number of levels (default pattern).
    density : float
        Bernoulli only: mean probability of a 1 (default pattern).
    signal : float in (0, 1]
        Contrast between blocks in the default pattern.
    dtype : numpy dtype
        float64 or float32.
    random_state : int, RandomState or None

    Returns
    -------
    X : ndarray or scipy.sparse.csr_matrix of shape (n_rows, n_cols)
    row_labels : ndarray of int, shape (n_rows,)
    col_labels : ndarray of int, shape (n_cols,)

    Examples
    --------
    >>> from coclust_deep.datasets import make_lbm
    >>> X, rows, cols = make_lbm(60, 40, 3, 2, family="bernoulli", random_state=0)
    >>> X.shape, sorted(set(rows.tolist())), sorted(set(cols.tolist()))
    ((60, 40), [0, 1, 2], [0, 1])
    """
    n_rows = check_positive_int(n_rows, "n_rows")
    n_cols = check_positive_int(n_cols, "n_cols")
    g = check_n_clusters(n_row_clusters, "n_row_clusters", n_rows, "rows")
    m = check_n_clusters(n_col_clusters, "n_col_clusters", n_cols, "columns")
    check_choice(family, "family", FAMILIES)
    n_levels = check_positive_int(n_levels, "n_levels", minimum=2)
    if not 0 < signal <= 1:
        raise ValueError(f"signal must be in (0, 1], got {signal!r}.")
    if family == "bernoulli" and not 0 < density < 1:
        raise ValueError(f"density must be in (0, 1), got {density!r}.")
    dtype = _check_float_dtype(dtype)
    rng = check_seed(random_state, "make_lbm")
    z = _draw_labels(n_rows, g, row_proportions, rng, "row_proportions")
    w = _draw_labels(n_cols, m, col_proportions, rng, "col_proportions")
    if params is None:
        params = _default_params(family, g, m, rng, density, signal, n_levels)
    else:
        params = _check_params(params, family, g, m)
    if family == "bernoulli":
        p = params["p"]
        if sparse:
            X = _sparse_bernoulli(z, w, p, rng, dtype)
        else:
            X = (rng.uniform(size=(n_rows, n_cols)) < p[z][:, w]).astype(dtype)
    elif family == "poisson":
        lam = params["lambda"]
        a = rng.lognormal(-0.125, 0.5, size=n_rows) if row_effects else np.ones(n_rows)
        b = rng.lognormal(-0.125, 0.5, size=n_cols) if row_effects else np.ones(n_cols)
        X = _chunked(n_rows, sparse, dtype, lambda s: rng.poisson(
            lam[z[s]][:, w] * a[s, None] * b[None, :]))
    elif family == "nb":
        lam = params["lambda"]
        theta = np.asarray(params.get("theta", 1.0), dtype=float)
        if theta.shape not in ((), (n_cols,)) or np.any(theta <= 0) or not np.all(np.isfinite(theta)):
            raise ValueError(f"params['theta'] must be positive and finite: a number or one per column "
                             f"(shape ({n_cols},)), got {params.get('theta')!r}.")
        theta = np.broadcast_to(theta, (n_cols,))
        a = rng.lognormal(-0.125, 0.5, size=n_rows)
        b = rng.lognormal(-0.125, 0.5, size=n_cols)

        def draw(s):
            size = theta[None, :] * a[s, None]
            mean = lam[z[s]][:, w] * a[s, None] * b[None, :]
            return rng.negative_binomial(size, size / (size + mean))

        X = _chunked(n_rows, sparse, dtype, draw)
    elif family == "categorical":
        alpha = params["alpha"]
        cdf = np.cumsum(alpha / alpha.sum(axis=1, keepdims=True), axis=1)  # (g, H, m)

        def draw(s):
            c = np.moveaxis(cdf[z[s]][:, :, w], 1, -1)  # (rows, n_cols, H)
            u = rng.uniform(size=c.shape[:2] + (1,))
            return np.minimum((c < u).sum(axis=-1), alpha.shape[1] - 1)

        X = _chunked(n_rows, sparse, dtype, draw)
    else:
        mu, var = params["mean"], params["var"]
        X = _chunked(n_rows, sparse, dtype, lambda s: rng.normal(
            mu[z[s]][:, w], np.sqrt(var[z[s]][:, w])))
    return X, z, w


# per family: {key: (range of every value, test)}; the arrays are (g, m) except alpha
_PARAM_RULES = {
    "bernoulli": {"p": ("in [0, 1]", lambda a: (a >= 0) & (a <= 1))},
    "poisson": {"lambda": (">= 0", lambda a: a >= 0)},
    "nb": {"lambda": (">= 0", lambda a: a >= 0)},
    "categorical": {"alpha": (">= 0", lambda a: a >= 0)},
    "gaussian": {"mean": (None, np.isfinite), "var": ("> 0", lambda a: a > 0)},
}
_OPTIONAL_PARAMS = {"nb": ("theta",)}  # checked where it is read: a number or one per column


def _param_shape(key, g, m):
    return f"({g}, n_levels, {m})" if key == "alpha" else f"({g}, {m})"


def _check_params(params, family, g, m):
    """User ``params`` with each block parameter as a float array of the right shape and range."""
    rules = _PARAM_RULES[family]
    expected = ", ".join([f"{key!r}: {_param_shape(key, g, m)} array" + (f" with values {rule}" if rule else "")
                          for key, (rule, _) in rules.items()]
                         + [f"{key!r} (optional): a number > 0 or one per column"
                            for key in _OPTIONAL_PARAMS.get(family, ())])
    expected = f"family={family!r} expects params={{{expected}}}"
    if not isinstance(params, dict):
        raise TypeError(f"params must be a dict: {expected}; got {type(params).__name__}.")
    missing = [key for key in rules if key not in params]
    unknown = sorted(set(params) - set(rules) - set(_OPTIONAL_PARAMS.get(family, ())), key=str)
    if missing or unknown:  # an unknown key is a typo that would otherwise be ignored
        raise ValueError(f"params {f'lacks {missing}' if missing else f'has unknown key(s) {unknown}'}; {expected}.")
    checked = dict(params)
    for key, (rule, test) in rules.items():
        shape = _param_shape(key, g, m)
        try:
            arr = np.asarray(params[key], dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"params[{key!r}] must be a {shape} array of numbers; {expected}.") from None
        if key == "alpha":
            ok_shape = arr.ndim == 3 and arr.shape[0] == g and arr.shape[2] == m
        else:
            ok_shape = arr.shape == (g, m)
        if not ok_shape:
            raise ValueError(f"params[{key!r}] must be a finite {shape} array, got shape {arr.shape}.")
        bad = ~np.isfinite(arr) | ~test(arr)
        if bad.any():
            raise ValueError(f"params[{key!r}] values must be finite{f' and {rule}' if rule else ''} for "
                             f"family={family!r}; got {float(arr[bad][0])} at index "
                             f"{tuple(int(i) for i in np.argwhere(bad)[0])}.")
        if key == "alpha" and np.any(arr.sum(axis=1) == 0):
            raise ValueError("params['alpha'] must give every block at least one level with weight > 0.")
        checked[key] = arr
    return checked


def _check_float_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.float64), np.dtype(np.float32)):
        # an integer dtype would truncate Gaussian draws; float16 loses counts above 2048
        got = dt.name if dt is not None else repr(dtype)
        raise ValueError(f"dtype must be np.float64 or np.float32, got {got}.")
    return dt


def _chunked(n, sparse, dtype, draw, chunk=2048):
    """Draw dense row chunks; keep them dense or stack them as CSR."""
    parts = [draw(slice(i, min(i + chunk, n))).astype(dtype) for i in range(0, n, chunk)]
    if sparse:
        return sp.vstack([sp.csr_matrix(p) for p in parts], format="csr")
    return np.vstack(parts)


def _sparse_bernoulli(z, w, p, rng, dtype):
    rows_of = [np.flatnonzero(z == k) for k in range(p.shape[0])]
    cols_of = [np.flatnonzero(w == l) for l in range(p.shape[1])]
    I, J = [], []
    for k, rk in enumerate(rows_of):
        for l, cl in enumerate(cols_of):
            size = rk.size * cl.size
            cnt = rng.binomial(size, p[k, l])
            if cnt == 0:
                continue
            flat = rng.randint(0, size, size=cnt)
            I.append(rk[flat // cl.size])
            J.append(cl[flat % cl.size])
    I = np.concatenate(I) if I else np.zeros(0, dtype=np.int64)
    J = np.concatenate(J) if J else np.zeros(0, dtype=np.int64)
    X = sp.csr_matrix((np.ones(I.size, dtype=dtype), (I, J)), shape=(z.size, w.size))
    X.sum_duplicates()
    X.data[:] = 1  # duplicates summed to 2 collapse back to a single 1
    return X


def recover_counts(adata, counts_per=1e4):
    """UMI counts of ``adata.raw`` rebuilt from its log-normalised values.

    pbmc68k_reduced (shipped with scanpy) stores ``log1p(counts / n_counts *
    1e4)`` in ``.raw`` and the library sizes in ``obs["n_counts"]``, so
    ``expm1(raw) * n_counts / 1e4`` gives the counts back up to float32
    rounding. Raises ``ValueError`` when the values are not that close to
    integers (the data were normalised some other way).

    Parameters
    ----------
    adata : AnnData
        With ``.raw`` holding ``log1p(counts / n_counts * counts_per)`` and
        ``obs["n_counts"]`` the library sizes.
    counts_per : float, default=1e4
        The target sum of the normalisation: the counts are
        ``expm1(raw) * n_counts / counts_per``.

    Returns
    -------
    scipy.sparse.csr_matrix of shape ``adata.raw.shape``, float64 integers.
    """
    if adata.raw is None or "n_counts" not in adata.obs:
        raise ValueError("recover_counts needs adata.raw (log-normalised) and obs['n_counts'] (library sizes).")
    check_param("recover_counts", "counts_per", counts_per, [Interval("real", 0, closed="neither")])
    n_counts = adata.obs["n_counts"].to_numpy(dtype=np.float64, na_value=np.nan)
    bad = ~np.isfinite(n_counts) | (n_counts <= 0)
    if bad.any():
        # a NaN size factor would pass the integer check below (NaN > 0.25 is False) and give NaN counts
        raise ValueError(f"obs['n_counts'] must hold finite library sizes > 0; cell {adata.obs_names[bad][0]!r} "
                         f"has {n_counts[bad][0]}.")
    expected = f"log1p(counts per {counts_per:g})"  # counts_per is what the caller says raw was normalised to
    X = sp.csr_matrix(adata.raw.X, dtype=np.float64, copy=True)
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"adata.raw.X contains NaN or infinite values; it must be {expected}.")
    with np.errstate(over="ignore"):
        X.data = np.expm1(X.data)
    X = sp.csr_matrix(sp.diags(n_counts / counts_per) @ X)
    if not np.all(np.isfinite(X.data)):
        raise ValueError(f"adata.raw.X holds values too large to be {expected}; "
                         "pass the counts as a layer instead.")
    rounded = np.round(X.data)
    if X.nnz and np.abs(X.data - rounded).max() > 0.25:
        raise ValueError(
            f"adata.raw is not {expected} with library sizes obs['n_counts']; "
            "pass the counts as a layer instead."
        )
    X.data = rounded
    X.eliminate_zeros()
    return X


def make_unpaired_digits(n_classes=10, *, class_sizes=None, n_features_b=40, random_state=None):
    """Two modalities of different digit images, with no pairing (for mixed-modal clustering).

    scikit-learn's bundled 8x8 digits (1797 images) of the first
    ``n_classes`` classes are shuffled and split in two disjoint halves,
    class by class. Modality A is the first half's pixels scaled to [0, 1];
    modality B is a fixed random non-linear projection of the *other*
    half's pixels: ``tanh(x W1 + b1) W2`` with Gaussian ``W1`` (64 x 64),
    ``b1`` and ``W2`` (64 x ``n_features_b``) drawn once from
    ``random_state``. No image appears in both modalities and nothing links
    a row of A to a row of B.

    Parameters
    ----------
    n_classes : int, default=10
        Digits ``0 .. n_classes - 1`` are kept (at least 2).
    class_sizes : array-like of shape (n_classes,) or None, default=None
        Relative class sizes (positive numbers): class ``c`` keeps
        ``max(4, round(n_c * class_sizes[c] / max(class_sizes)))`` of its
        ``n_c`` images before the split. ``None`` keeps every image.
    n_features_b : int, default=40
        Number of features of modality B.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffle, the split and the projection.

    Returns
    -------
    X_a : ndarray of shape (n_a, 64)
    X_b : ndarray of shape (n_b, n_features_b)
    y_a, y_b : ndarray of int
        The digit of each row.

    Examples
    --------
    >>> X_a, X_b, y_a, y_b = make_unpaired_digits(n_classes=3, random_state=0)
    >>> X_a.shape[1], X_b.shape[1], sorted(set(y_a)) == sorted(set(y_b)) == [0, 1, 2]
    (64, 40, True)
    """
    from sklearn.datasets import load_digits

    n_classes = check_n_clusters(n_classes, "n_classes", 10, "digit classes")
    if n_classes < 2:
        raise ValueError(f"n_classes must be >= 2, got {n_classes}.")
    n_features_b = check_positive_int(n_features_b, "n_features_b")
    rng = check_seed(random_state, "make_unpaired_digits")
    digits = load_digits()
    keep = np.flatnonzero(digits.target < n_classes)
    order = keep[rng.permutation(keep.size)]
    if class_sizes is not None:
        sizes = np.asarray(class_sizes, dtype=float)
        if sizes.shape != (n_classes,) or not np.all(np.isfinite(sizes)) or np.any(sizes <= 0):
            raise ValueError(f"class_sizes must hold {n_classes} positive numbers, got {class_sizes!r}.")
        sizes = sizes / sizes.max()
        kept = [order[digits.target[order] == c] for c in range(n_classes)]
        order = np.sort(np.concatenate([k[: max(4, int(round(k.size * w)))] for k, w in zip(kept, sizes)]))
        order = order[rng.permutation(order.size)]
    y = digits.target[order]
    in_a = np.zeros(order.size, dtype=bool)
    for c in range(n_classes):  # alternate within each class: both halves hold every class
        members = np.flatnonzero(y == c)
        in_a[members[::2]] = True
    pixels = digits.data[order] / 16.0
    w1 = rng.normal(scale=1.0 / 2.0, size=(64, 64))  # pre-activations of order 1: tanh is non-linear there
    b1 = rng.normal(scale=0.5, size=64)
    w2 = rng.normal(scale=1.0 / 8.0, size=(64, n_features_b))
    X_b = np.tanh(pixels[~in_a] @ w1 + b1) @ w2
    return pixels[in_a], X_b, y[in_a].astype(np.int64), y[~in_a].astype(np.int64)
