"""Array-side preparation for the deep models: numpy / scipy in, dense float32 mini-batches out.

The full matrix is never densified. Sparse X stays CSR; only mini-batches of
rows and the column encoders' fixed subsample of rows are made dense.
"""
from __future__ import annotations

import hashlib
import warnings

import numpy as np
import scipy.sparse as sp

from .._validation import check_matrix

LIKELIHOODS = ("gaussian", "nb", "zinb")
N_TOP_GENES = 2000  # highly variable genes kept for the row side under a count likelihood
FEATURE_SCALING = ("per_feature", "shared")
_CLIP = 10.0  # standardised inputs are clipped like sc.pp.scale(max_value=10)
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# A column is constant when its standard deviation is at most this fraction of its largest |value|: float64
# rounding noise of its mean, whatever the units (an absolute floor made X * 1e-9 look constant).
_CONSTANT_RTOL = 1024 * np.finfo(np.float64).eps
_FLOAT32_TINY = float(np.finfo(np.float32).tiny)


def _safe_scale(std, magnitude):
    """``(scale, varying)``: ``std`` where a column varies, 1 where it is constant (all-zero included).

    ``magnitude`` is the column's largest |value|. Scales below the smallest
    normal float32 count as constant too: the models divide in float32.
    """
    std = np.asarray(std, dtype=np.float64)
    varying = (std > _CONSTANT_RTOL * np.asarray(magnitude, dtype=np.float64)) & (std >= _FLOAT32_TINY)
    return np.where(varying, std, 1.0), varying


def _raw_moments(Y):
    """Per-column mean, variance and largest |value| of Y (dense or sparse, float32), in float64.

    Two passes (the variance of the deviations from the mean), so neither
    the sums nor the squares of float32 values overflow or cancel.
    """
    if sp.issparse(Y):
        n, d = Y.shape
        data = Y.data.astype(np.float64)
        mean = np.bincount(Y.indices, weights=data, minlength=d) / n
        squares = np.bincount(Y.indices, weights=(data - mean[Y.indices]) ** 2, minlength=d)
        implicit = n - np.bincount(Y.indices, minlength=d)  # implicit zeros deviate by -mean
        var = (squares + implicit * mean * mean) / n
        magnitude = np.zeros(d)
        np.maximum.at(magnitude, Y.indices, np.abs(data))
    else:
        mean = Y.mean(axis=0, dtype=np.float64)
        var = Y.var(axis=0, dtype=np.float64)
        magnitude = np.maximum(Y.max(axis=0), -Y.min(axis=0)).astype(np.float64)
    return mean, var, magnitude


def _column_moments(moments, shared=False, scale_columns=None):
    """Per-column mean and standard deviation as float32 (constant columns get std 1), from :func:`_raw_moments`.

    ``shared``: every column gets one scale, the root mean square of the
    standard deviations of the columns that vary (among ``scale_columns``
    when given: the columns the encoder reads).
    """
    mean, var, magnitude = moments
    std, varying = _safe_scale(np.sqrt(np.maximum(var, 0.0)), magnitude)
    if shared:
        pool = np.zeros_like(varying)
        pool[slice(None) if scale_columns is None else scale_columns] = True
        pool &= varying
        std[varying] = np.sqrt(np.mean(var[pool])) if pool.any() else 1.0
    return mean.astype(np.float32), std.astype(np.float32)


def _dense(A):
    return A.toarray() if sp.issparse(A) else np.asarray(A)


def _values(X):
    return X.data if sp.issparse(X) else X


def is_counts(X):
    """Whether every entry of ``X`` (dense or sparse, finite) is a non-negative integer."""
    values = _values(X)
    return bool(values.size == 0 or (values.min() >= 0 and np.all(np.floor(values) == values)))


def resolve_likelihood(X, likelihood):
    """``"auto"`` -> ``"nb"`` when X holds non-negative integers (counts), else ``"gaussian"``."""
    if likelihood != "auto":
        return likelihood
    return "nb" if is_counts(X) else "gaussian"


def select_count_features(X, n_top):
    """Indices (sorted) of the ``n_top`` most variable columns of count matrix X, or all when d <= n_top.

    scanpy's ``highly_variable_genes(flavor="seurat_v3")`` on the raw counts:
    a loess fit of log variance on log mean, genes ranked by the variance of
    their standardised counts (Stuart et al. 2019). All-zero columns are never
    kept.
    """
    d = X.shape[1]
    nonzero = np.flatnonzero(np.asarray((X != 0).sum(axis=0)).ravel() > 0)
    if n_top is None or d <= n_top:
        return np.arange(d)
    import anndata as ad
    import scanpy as sc

    adata = ad.AnnData(X[:, nonzero])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sc.pp.highly_variable_genes(adata, n_top_genes=min(int(n_top), len(nonzero)), flavor="seurat_v3")
    return np.sort(nonzero[adata.var["highly_variable"].to_numpy()])


def fingerprint(*arrays):
    """A digest of the arrays' shapes, dtypes and values (dense or sparse): same data, same digest."""
    digest = hashlib.blake2b(digest_size=16)
    for array in arrays:
        parts = (array.indptr, array.indices, array.data) if sp.issparse(array) else (array,)
        for part in parts:
            part = np.ascontiguousarray(part)
            digest.update(f"{part.shape}{part.dtype.str}".encode())
            digest.update(memoryview(part).cast("B"))
    return digest.hexdigest()


class MatrixData:
    """X prepared for the encoders, decoders and the block term.

    * ``gaussian``: the model sees ``Y = X``; the row decoder reconstructs the
      standardised Y (per-column z-score, clipped at +-10).
    * ``nb`` / ``zinb``: X must hold non-negative counts. ``Y = log1p(X / l_i *
      median(l))`` with ``l_i`` the row total; encoders read standardised Y,
      the count decoder reconstructs raw X given ``l_i``.

    The block term reads ``Y / y_scale`` (global standard deviation of Y), so
    block means are on a unit scale whatever the units of X.
    Column encoders read each column's standardised values on a fixed random
    subsample of at most ``max_col_input`` rows (``column_anchors``).

    ``feature_scaling="shared"`` divides every centred column by one scale
    (the root mean square of the kept columns' standard deviations) instead
    of its own, so columns keep their relative variance, as in a PCA of
    log-normalised counts.

    ``n_top_genes`` (count likelihoods only): when X has more columns, the
    row encoder and the count decoder see only the ``n_top_genes`` columns
    chosen by :func:`select_count_features` (``stats["row_features"]``); the
    normalisation, the block term and the column side keep every column. The
    count decoder's library is then the row total over the kept columns
    (``count_library``).
    """

    def __init__(self, X, likelihood, *, max_col_input=None, rng=None, stats=None, n_top_genes=None,
                 feature_scaling="per_feature"):
        X = check_matrix(X, allow_gpu=False)
        values = X.data if sp.issparse(X) else X
        largest = float(np.abs(values).max()) if values.size else 0.0
        if largest > _FLOAT32_MAX:
            raise ValueError(f"X has values up to {largest:.3g}, beyond the float32 range ({_FLOAT32_MAX:.3g}) "
                             "the deep models compute in; rescale X first (e.g. np.log1p for counts).")
        X = X.astype(np.float32) if X.dtype != np.float32 else X
        self.X = X
        self.likelihood = likelihood
        self.n_rows, self.n_cols = X.shape
        if likelihood != "gaussian":
            values = _values(X)
            if values.size and values.min() < 0:
                raise ValueError(
                    f"likelihood={likelihood!r} models counts but X has negative values; pass raw "
                    "counts (e.g. adata.layers['counts']) or use likelihood='gaussian'.")
            if not is_counts(X):
                bad = values[np.floor(values) != values][0]
                raise ValueError(
                    f"likelihood={likelihood!r} models counts but X has non-integer values (e.g. {bad:g}); "
                    "pass raw counts (e.g. adata.layers['counts']), not normalised or log data, or use "
                    "likelihood='gaussian'.")
        with np.errstate(over="ignore"):  # a total beyond float32 is refused just below
            self.library = np.asarray(X.sum(axis=1)).ravel().astype(np.float32)
        if likelihood != "gaussian" and not np.all(np.isfinite(self.library)):
            total = float(np.asarray(X.sum(axis=1, dtype=np.float64)).max())
            raise ValueError(f"X has row totals up to {total:.3g}, beyond the float32 range ({_FLOAT32_MAX:.3g}) "
                             "that the count models compute in; rescale X first (e.g. np.log1p) "
                             "and model it as continuous values (likelihood='gaussian').")
        if stats is None:
            positive = self.library[self.library > 0]
            # float64: the two middle totals of an even count may sum beyond float32
            median = float(np.median(positive.astype(np.float64))) if positive.size else 1.0
            stats = {"median_library": median}
            if likelihood != "gaussian":
                stats["row_features"] = select_count_features(X, n_top_genes)
        self.stats = dict(stats)
        self.features = self.stats.get("row_features", np.arange(self.n_cols))
        self.all_features = len(self.features) == self.n_cols
        self.count_library = (self.library if self.all_features else
                              np.asarray(X[:, self.features].sum(axis=1)).ravel().astype(np.float32))
        self.Y = self._transform(X)
        if "mean" not in self.stats:
            moments = _raw_moments(self.Y)
            self.stats["mean"], self.stats["std"] = _column_moments(
                moments, shared=feature_scaling == "shared", scale_columns=self.features)
            mean, var, magnitude = moments
            # global variance = mean within-column variance + variance of the column means (float64, no overflow)
            var_all = np.mean(var) + np.mean((mean - np.mean(mean)) ** 2) if mean.size else 0.0
            scale, _ = _safe_scale(np.sqrt(var_all), magnitude.max(initial=0.0))
            self.stats["y_scale"] = float(scale)
        if max_col_input is not None:
            self._prepare_columns(max_col_input, rng)

    def _transform(self, X):
        if self.likelihood == "gaussian":
            return X
        # rows without counts stay 0: median / 1e-8 overflows float32 for large counts, and 0 * inf is NaN
        size = np.divide(self.stats["median_library"], self.library, out=np.zeros_like(self.library),
                         where=self.library > 0)
        if sp.issparse(X):
            Y = sp.csr_matrix(sp.diags(size.astype(np.float32)) @ X)
            Y.data = np.log1p(Y.data)
            return Y
        return np.log1p(X * size[:, None])

    def _standardise(self, Yd):
        """Standardised row-side input: the kept features of ``Yd`` (rows of Y, every column)."""
        mean, std = self.stats["mean"], self.stats["std"]
        if not self.all_features:
            Yd, mean, std = Yd[:, self.features], mean[self.features], std[self.features]
        Z = (Yd - mean) / std
        return np.clip(Z, -_CLIP, _CLIP, out=Z).astype(np.float32, copy=False)

    @property
    def n_row_features(self):
        """Width of the row encoder's input and of the row decoder's output."""
        return len(self.features)

    def inputs(self, idx):
        """The encoder input of rows ``idx`` (standardised Y), as ``{"input": array}``."""
        return {"input": self._standardise(_dense(self.Y[idx]).astype(np.float32, copy=False))}

    def principal_axes(self, n_components, random_state=None):
        """The leading ``n_components`` principal axes of the row encoder's input, shape (n_components, n_features).

        scikit-learn's :class:`~sklearn.decomposition.PCA` on the kept columns
        of ``Y`` divided by their scales (sparse Y stays sparse: PCA centres it
        implicitly); the input's clipping at +-10 is left out of the fit.
        """
        from sklearn.decomposition import PCA

        std = self.stats["std"][self.features]
        Y = self.Y if self.all_features else self.Y[:, self.features]
        scaled = sp.csr_matrix(Y.multiply(1.0 / std[None, :])) if sp.issparse(Y) else Y / std
        if sp.issparse(scaled) and n_components >= min(scaled.shape):  # ARPACK needs fewer; this matrix is small
            scaled = scaled.toarray()
        pca = PCA(int(n_components), random_state=random_state).fit(scaled)
        return pca.components_.astype(np.float32)

    def rows(self, idx):
        """Dense arrays for rows ``idx``: encoder input, reconstruction target, library, block data."""
        Yd = _dense(self.Y[idx]).astype(np.float32, copy=False)
        z = self._standardise(Yd)
        batch = {"input": z, "block": Yd / np.float32(self.stats["y_scale"])}
        if self.likelihood == "gaussian":
            batch["target"] = z
        else:
            Xb = self.X[idx] if self.all_features else self.X[idx][:, self.features]
            batch["target"] = _dense(Xb).astype(np.float32, copy=False)
            batch["library"] = self.count_library[idx]
        return batch

    def _prepare_columns(self, max_col_input, rng):
        n = self.n_rows
        if n > max_col_input:
            self.column_anchors = np.sort(rng.choice(n, size=max_col_input, replace=False))
        else:
            self.column_anchors = np.arange(n)
        Ya = _dense(self.Y[self.column_anchors]).astype(np.float64)  # float64: squares of large values
        mean = Ya.mean(axis=0)
        std, _ = _safe_scale(Ya.std(axis=0), np.abs(Ya).max(axis=0, initial=0.0))
        Z = np.clip((Ya - mean) / std, -_CLIP, _CLIP)
        self.column_input = np.ascontiguousarray(Z.T, dtype=np.float32)  # (n_cols, n_anchors)

    def columns(self, idx):
        """Encoder input and reconstruction target of columns ``idx``."""
        z = self.column_input[idx]
        return {"input": z, "target": z}


def check_views(views, masks, n, *, axis, kind):
    """Validate extra views of the rows (``axis="rows"``) or columns; return standardised arrays.

    Returns ``{name: (array float32 (n, p), mask float32 (n,))}``. Missing
    entries (mask False) may hold anything, NaN included; they are zeroed and
    ignored by every loss.
    """
    if views is None:
        if masks:
            raise ValueError(f"{kind}_view_masks given without {kind}_views.")
        return {}
    if not isinstance(views, dict):
        raise TypeError(f"{kind}_views must be a dict {{name: array of shape ({n}, n_features)}}, "
                        f"got {type(views).__name__}.")
    masks = {} if masks is None else masks
    if not isinstance(masks, dict):
        raise TypeError(f"{kind}_view_masks must be a dict {{name: boolean array of length {n}}}.")
    unknown = set(masks) - set(views)
    if unknown:
        raise ValueError(f"{kind}_view_masks names unknown views {sorted(unknown)}; "
                         f"views are {sorted(views)}.")
    out = {}
    for name, arr in views.items():
        if not isinstance(name, str) or not name or name == "primary" or ":" in name:
            raise ValueError(f"{kind} view names must be non-empty strings other than 'primary' "
                             f"without ':', got {name!r}.")
        A = _dense(arr) if sp.issparse(arr) else np.asarray(arr)
        if A.dtype == object or A.dtype.kind not in "biuf":
            raise TypeError(f"{kind} view {name!r} has dtype {A.dtype}; pass a numeric array.")
        if A.ndim == 1:
            A = A[:, None]
        if A.ndim != 2:
            raise ValueError(f"{kind} view {name!r} must be 2-D ({n}, n_features), got {A.ndim}-D.")
        if A.shape[0] != n:
            raise ValueError(f"{kind} view {name!r} has {A.shape[0]} rows but X has {n} {axis}; "
                             f"a {kind} view needs one row per {axis[:-1]} of X, in the same order.")
        if A.shape[1] == 0:
            raise ValueError(f"{kind} view {name!r} has no features.")
        mask = masks.get(name)
        if mask is None:
            mask = np.ones(n, dtype=bool)
        else:
            mask = np.asarray(mask)
            if mask.shape != (n,) or mask.dtype != bool:
                raise ValueError(f"{kind}_view_masks[{name!r}] must be a boolean array of length {n}, "
                                 f"got dtype {mask.dtype} and shape {mask.shape}.")
        if mask.sum() < 2:
            raise ValueError(f"{kind} view {name!r} is observed for fewer than 2 {axis}; drop it.")
        observed = A[mask].astype(np.float64)
        if not np.all(np.isfinite(observed)):
            raise ValueError(f"{kind} view {name!r} contains NaN or infinite values in observed {axis}; "
                             f"impute them, or mark those {axis} missing with {kind}_view_masks[{name!r}].")
        # divide each column by a power of two near its largest |value| first (exact, so ordinary views give the
        # same bits): the sums and squares of values near the float64 maximum would overflow to inf
        magnitude, exponent = np.frexp(np.abs(observed).max(axis=0))  # magnitude: the scaled largest |value|
        observed = np.ldexp(observed, -exponent)
        mean = observed.mean(axis=0)
        std, _ = _safe_scale(observed.std(axis=0), magnitude)
        Z = np.zeros(A.shape, dtype=np.float32)
        Z[mask] = np.clip((observed - mean) / std, -_CLIP, _CLIP)
        out[name] = (Z, mask.astype(np.float32))
    return out
