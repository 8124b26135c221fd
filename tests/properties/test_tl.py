"""Properties of tl.lbm and tl.cocluster on generated AnnData (hypothesis): results written and finite, or a clear
refusal that writes nothing; the AnnData's X and layers untouched either way."""
import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from coclust_deep import tl
from coclust_deep.tl._cocluster import BICLUSTER_METHODS, METHODS

from .anndata_checks import (
    assert_matrices_unchanged,
    assert_nothing_written,
    call_quietly,
    check_labels_column,
    check_written_arrays,
    contents,
    make_adata,
    matrices_of,
    with_dtype,
)
from .conftest import check_finite, clear_refusal, matrices, snapshot, unchanged
from .test_lbm import LBM_MAGNITUDES


@given(data=matrices(magnitudes=LBM_MAGNITUDES), g=st.integers(1, 3), m=st.integers(1, 3))
def test_tl_lbm_writes_finite_results_and_never_touches_x(data, g, m):
    X, family = data
    adata = ad.AnnData(X)
    before, obs_before = snapshot(adata.X), adata.obs.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tl.lbm(adata, g, m, n_init=2, max_iter=30)
    except Exception as err:  # noqa: BLE001 - the property is about which errors
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
        pd.testing.assert_frame_equal(adata.obs, obs_before)  # nothing half-written
        assert "lbm" not in adata.uns
    else:
        labels = adata.obs["lbm"]
        check_labels_column(labels, "obs['lbm']")
        counts = labels.value_counts().reindex(labels.cat.categories).to_numpy()
        assert np.all(np.diff(counts) <= 0)  # "0" is the largest
        for key in ("lbm_row_posterior",):
            check_finite(adata.obsm[key], key)
            np.testing.assert_allclose(adata.obsm[key].sum(axis=1), 1.0, atol=1e-8)
        check_finite(adata.varm["lbm_column_posterior"], "lbm_column_posterior")
        for key in ("icl", "elbo", "block_means", "row_proportions", "column_proportions"):
            check_finite(adata.uns["lbm"][key], key)
    assert unchanged(adata.X, before)


# --- tl.cocluster -----------------------------------------------------------------------------------------

# per method and property, 3/5 of the profile's (ci: 15; thorough: 150), as test_deep.py: 7 methods x 2 properties
MAX_EXAMPLES = max(1, settings.default.max_examples * 3 // 5)


COCLUSTER_METHODS = sorted({**METHODS, **BICLUSTER_METHODS})


def _cocluster_call(adata, method, draw):
    """``call()`` running tl.cocluster with drawn arguments, and the key it writes under."""
    kw = dict(layer=draw(st.sampled_from([None, "counts"])))
    if method == "cheng_church":
        kw.update(n_biclusters=draw(st.integers(1, 3)), delta=draw(st.sampled_from([0.0, 0.1, 1.0])))
        g = m = None
    else:
        g = draw(st.integers(1, 3))
        m = g if draw(st.booleans()) else draw(st.integers(1, 3))  # g != m: refused by the square methods
        kw["n_init"] = 2
        if method in ("lbm", "info", "modularity", "double_kmeans"):
            kw["max_iter"] = 20
    return (lambda: tl.cocluster(adata, method, g, m, **kw)), method


@pytest.mark.parametrize("method", COCLUSTER_METHODS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=matrices(magnitudes=LBM_MAGNITUDES), extra=st.data())
def test_tl_cocluster_writes_results_or_refuses_clearly_and_writes_nothing(method, data, extra):
    X, _ = data
    adata = make_adata(with_dtype(X, extra.draw))
    call, key = _cocluster_call(adata, method, extra.draw)
    before = contents(adata)
    err = call_quietly(call)
    if err is not None:
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
        assert_nothing_written(adata, before, f"tl.cocluster({method!r})")
        return
    assert adata.uns[key]["params"]["method"] == method
    if method in BICLUSTER_METHODS:
        assert adata.obsm[key + "_biclusters"].shape[0] == adata.n_obs
        assert adata.varm[key + "_biclusters"].shape[0] == adata.n_vars
    else:
        check_labels_column(adata.obs[key], f"obs[{key!r}]")
        check_labels_column(adata.var[key], f"var[{key!r}]")
    check_written_arrays(adata, key)


@pytest.mark.parametrize("method", COCLUSTER_METHODS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=matrices(magnitudes=LBM_MAGNITUDES), extra=st.data())
def test_tl_cocluster_never_touches_x_or_layers(method, data, extra):
    X, _ = data
    adata = make_adata(with_dtype(X, extra.draw))
    call, _ = _cocluster_call(adata, method, extra.draw)
    before = matrices_of(adata)
    call_quietly(call)  # refused or not
    assert_matrices_unchanged(adata, before, f"tl.cocluster({method!r})")
