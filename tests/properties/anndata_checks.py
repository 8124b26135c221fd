"""AnnData helpers of the tl property sweeps: an AnnData with every slot filled, and checks of what a call wrote."""
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp
from hypothesis import strategies as st

from .conftest import check_finite, snapshot, unchanged


def with_dtype(X, draw):
    """``X`` as float64 (as drawn), float32 (AnnData's usual) or, when it holds integers, int64 counts."""
    values = X.data if sp.issparse(X) else X
    options = ["float64"]
    if np.all(np.abs(values) < 1e38):  # beyond, float32 would make it inf
        options.append("float32")
    if np.all(np.abs(values) < 2**62) and np.array_equal(values, np.round(values)):
        options.append("int64")
    return X.astype(draw(st.sampled_from(options)))


def make_adata(X, *, with_layer=True):
    """An AnnData over ``X`` with something already in every slot, so that a refusal can be checked to add nothing."""
    adata = ad.AnnData(X)
    adata.obs["batch"] = pd.Categorical(np.arange(adata.n_obs) % 2)
    adata.var["gene_group"] = np.arange(adata.n_vars) % 3
    adata.obsm["X_before"] = np.random.default_rng(adata.n_obs).normal(size=(adata.n_obs, 2))  # also a view
    adata.varm["before"] = np.ones((adata.n_vars, 1))
    adata.uns["before"] = {"value": np.arange(3)}
    if with_layer:
        adata.layers["counts"] = X.copy()
    return adata


def _copied(value):
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    if isinstance(value, (pd.DataFrame, pd.Series)):
        return value.copy()
    return value.copy() if hasattr(value, "copy") else value


def contents(adata):
    """Copies of obs, var, obsm, varm and uns: what a refused call must leave as it was."""
    return {"obs": adata.obs.copy(), "var": adata.var.copy(), "obsm": _copied(dict(adata.obsm)),
            "varm": _copied(dict(adata.varm)), "uns": _copied(dict(adata.uns))}


def _same(a, b):
    if isinstance(a, dict) or isinstance(b, dict):
        return isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys() and all(
            _same(a[k], b[k]) for k in a)
    if isinstance(a, pd.DataFrame):
        return a.equals(b) and a.dtypes.equals(b.dtypes)
    return np.array_equal(np.asarray(a), np.asarray(b))


def assert_nothing_written(adata, before, what):
    after = contents(adata)
    for slot in before:
        assert _same(after[slot], before[slot]), f"{what} refused but changed adata.{slot}"


def matrices_of(adata):
    """Snapshots of X and every layer."""
    return {"X": snapshot(adata.X), **{name: snapshot(adata.layers[name]) for name in adata.layers}}


def assert_matrices_unchanged(adata, before, what):
    assert set(adata.layers) | {"X"} == set(before), f"{what} added or removed layers"
    for name, state in before.items():
        value = adata.X if name == "X" else adata.layers[name]
        assert unchanged(value, state), f"{what} modified adata.{'X' if name == 'X' else f'layers[{name!r}]'}"


def call_quietly(call):
    """The exception ``call()`` raised, or ``None``; warnings silenced (empty clusters, convergence: not wrong)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as err:  # noqa: BLE001 - the properties are about which errors
        return err
    return None


def check_labels_column(column, what):
    assert isinstance(column.dtype, pd.CategoricalDtype), f"{what}: dtype {column.dtype}"
    assert not column.isna().any(), f"{what} has missing labels"


def check_written_arrays(adata, key):
    """Every obsm/varm entry the call wrote under ``key`` (embeddings, soft assignments) is finite."""
    for slot in ("obsm", "varm"):
        for name, value in getattr(adata, slot).items():
            if key in name and np.asarray(value).dtype.kind in "fc":
                check_finite(value, f"{slot}[{name!r}]")
