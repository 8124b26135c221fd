"""Image input for the convolutional models (MMDC on images, DCEC): checks and per-channel standardisation."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ._data import _safe_scale

_FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_images(X, name="X"):
    """Validate images ``(n, C, H, W)`` or ``(n, H, W)``; return a float32 ``(n, C, H, W)`` array (a copy).

    Raises a ``ValueError`` for the wrong rank, channel-last arrays, empty
    or non-finite input, and a ``TypeError`` for sparse or non-numeric input.
    """
    if X is None:
        raise TypeError(f"{name} is None; pass images as an array of shape (n, C, H, W) or (n, H, W).")
    if sp.issparse(X):
        raise TypeError(f"{name} is a sparse matrix; images must be a dense array (n, C, H, W) or (n, H, W).")
    arr = np.asarray(X)
    if arr.dtype == object or arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} has dtype {arr.dtype}; pass numeric images, e.g. np.asarray(X, dtype=np.float32).")
    if arr.ndim not in (3, 4):
        hint = (" Flattened images (n, H*W) must be reshaped first, e.g. X.reshape(n, 8, 8)."
                if arr.ndim == 2 else "")
        raise ValueError(f"{name} must hold images of shape (n, C, H, W) or (n, H, W), got a {arr.ndim}-D "
                         f"array of shape {arr.shape}.{hint}")
    if arr.ndim == 3:
        arr = arr[:, None]
    n, channels, height, width = arr.shape
    if min(arr.shape) == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); it needs at least one image of at least 1x1 pixel.")
    if channels > 4 and width <= 4:
        raise ValueError(f"{name} has shape {arr.shape}, which looks channel-last (n, H, W, C); pass "
                         f"X.transpose(0, 3, 1, 2) to get (n, C, H, W).")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains NaN or infinite values; remove or impute them first.")
    if arr.size and float(np.abs(arr).max()) > _FLOAT32_MAX:
        raise ValueError(f"{name} has values beyond the float32 range the deep models compute in; rescale it.")
    return np.ascontiguousarray(arr, dtype=np.float32)


class ImageData:
    """Images standardised per channel, served as mini-batches.

    ``inputs(idx)`` gives ``{"input": z}`` and ``rows(idx)`` also the
    reconstruction ``target`` (the same ``z``). ``stats`` holds the
    per-channel ``mean`` and ``std`` of fit and ``fill``, the standardised
    value of the darkest pixel of each channel: the background that
    :func:`~coclust_deep.deep._augment.random_affine` pads with.
    """

    def __init__(self, X, *, stats=None):
        images = check_images(X)
        self.X = images
        self.n_rows = images.shape[0]
        self.image_shape = tuple(int(s) for s in images.shape[1:])
        if stats is None:
            mean = images.mean(axis=(0, 2, 3), dtype=np.float64)
            std, _ = _safe_scale(images.std(axis=(0, 2, 3), dtype=np.float64),
                                 np.abs(images).max(axis=(0, 2, 3)))  # relative: images in any units
            low = images.min(axis=(0, 2, 3)).astype(np.float64)
            stats = {"mean": mean.astype(np.float32), "std": std.astype(np.float32),
                     "fill": ((low - mean) / std).astype(np.float32)}
        self.stats = dict(stats)
        shape = (1, -1, 1, 1)
        self.Z = ((images - self.stats["mean"].reshape(shape)) / self.stats["std"].reshape(shape)).astype(np.float32)

    def inputs(self, idx):
        return {"input": self.Z[idx]}

    def rows(self, idx):
        z = self.Z[idx]
        return {"input": z, "target": z}
