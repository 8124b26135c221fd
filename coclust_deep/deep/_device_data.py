"""Mini-batches built on the accelerator: the prepared matrix and the views are copied there once per fit.

On a GPU, the host batches of :class:`~coclust_deep.deep._data.MatrixData` cost a densified slice and a
host-to-device copy per mini-batch, and the device waits for them. Here every batch is an index into tensors
that already live on the device; only the batch's row indices cross over.
"""
from __future__ import annotations

import numpy as np
import torch

from ._data import _CLIP, _dense

# share of the device's free memory the copies may take; above it batches stay on the host
DEVICE_MEMORY_SHARE = 0.5


def _tensor(array, device):
    return torch.as_tensor(np.ascontiguousarray(array), dtype=torch.float32, device=device)


class DeviceMatrix:
    """A :class:`MatrixData` whose ``rows``, ``inputs`` and ``columns`` batches are built on ``device``.

    Holds dense float32 copies of the prepared matrix Y, of the count target
    (kept features) and of the column encoders' input; every other attribute
    is the host object's. Batches equal ``to_tensors(host.rows(idx))``.
    """

    def __init__(self, data, device):
        self._host = data
        self.device = device
        features = data.features
        self._Y = _tensor(_dense(data.Y), device)
        self._features = None if data.all_features else torch.as_tensor(features, device=device)
        mean, std = data.stats["mean"], data.stats["std"]
        if not data.all_features:
            mean, std = mean[features], std[features]
        self._mean, self._std = _tensor(mean, device), _tensor(std, device)
        self._y_scale = float(np.float32(data.stats["y_scale"]))
        if data.likelihood != "gaussian":
            X = data.X if data.all_features else data.X[:, features]
            self._X = _tensor(_dense(X), device)
            self._library = _tensor(data.count_library, device)
        column_input = getattr(data, "column_input", None)
        self._column_input = None if column_input is None else _tensor(column_input, device)

    def __getattr__(self, name):
        if name.startswith("_"):  # never reached for the attributes set above; avoids recursion when unset
            raise AttributeError(name)
        return getattr(self._host, name)

    def _index(self, idx):
        return torch.as_tensor(idx, device=self.device)

    def _standardise(self, Yd):
        if self._features is not None:
            Yd = Yd[:, self._features]
        return torch.clamp((Yd - self._mean) / self._std, -_CLIP, _CLIP)

    def inputs(self, idx):
        """The encoder input of rows ``idx``, as ``{"input": tensor}``."""
        return {"input": self._standardise(self._Y[self._index(idx)])}

    def rows(self, idx):
        """Encoder input, reconstruction target, library and block data of rows ``idx``, on the device."""
        idx = self._index(idx)
        Yd = self._Y[idx]
        z = self._standardise(Yd)
        batch = {"input": z, "block": Yd / self._y_scale}
        if self.likelihood == "gaussian":
            batch["target"] = z
        else:
            batch["target"] = self._X[idx]
            batch["library"] = self._library[idx]
        return batch

    def columns(self, idx):
        """Encoder input and reconstruction target of columns ``idx``, on the device."""
        z = self._column_input[self._index(idx)]
        return {"input": z, "target": z}


def device_bytes(data, *views):
    """Bytes the device copies of ``data`` and of the views would take."""
    n, d = data.Y.shape
    total = n * d
    if data.likelihood != "gaussian":
        total += n * len(data.features) + n
    column_input = getattr(data, "column_input", None)
    total += 0 if column_input is None else column_input.size
    total += sum(a.size + m.size for v in views for a, m in v.values())
    return 4 * total


def on_device(data, row_views, col_views, device, *, force=False):
    """``(data, row_views, col_views)`` with batches built on ``device`` when it is an accelerator with room.

    On the CPU (unless ``force``), or when the copies would take more than
    :data:`DEVICE_MEMORY_SHARE` of the device's free memory, the arguments
    come back as given and batches are built on the host.
    """
    if device.type == "cpu" and not force:
        return data, row_views, col_views
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if device_bytes(data, row_views, col_views) > DEVICE_MEMORY_SHARE * free:
            return data, row_views, col_views

    def move(views):
        return {name: (_tensor(a, device), _tensor(m, device)) for name, (a, m) in views.items()}

    return DeviceMatrix(data, device), move(row_views), move(col_views)
