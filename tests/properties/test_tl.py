"""Properties of tl.lbm on generated AnnData (hypothesis): results finite, the AnnData's X untouched."""
import warnings

import anndata as ad
import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from coclust_deep import tl

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
        assert isinstance(labels.dtype, pd.CategoricalDtype) and not labels.isna().any()
        counts = labels.value_counts().reindex(labels.cat.categories).to_numpy()
        assert np.all(np.diff(counts) <= 0)  # "0" is the largest
        for key in ("lbm_row_posterior",):
            check_finite(adata.obsm[key], key)
            np.testing.assert_allclose(adata.obsm[key].sum(axis=1), 1.0, atol=1e-8)
        check_finite(adata.varm["lbm_column_posterior"], "lbm_column_posterior")
        for key in ("icl", "elbo", "block_means", "row_proportions", "column_proportions"):
            check_finite(adata.uns["lbm"][key], key)
    assert unchanged(adata.X, before)
