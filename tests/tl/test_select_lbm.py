"""tl.select_lbm: ICL grid stored in uns, best model written like tl.lbm."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

from coclust_deep import tl
from coclust_deep.datasets import make_lbm


@pytest.fixture
def counts():
    # full contrast: the default Poisson model (with effects) tells rows apart by profile, not level
    X, _, _ = make_lbm(120, 80, 3, 2, family="poisson", signal=1.0, random_state=0)
    return ad.AnnData(X)


def test_icl_table_and_best_model(counts):
    tl.select_lbm(counts, [2, 3, 4], [1, 2, 3], n_init=2, max_iter=50)
    table = pd.DataFrame(counts.uns["lbm"]["icl_table"])
    assert len(table) == 9
    assert {"n_row_clusters", "n_col_clusters", "icl", "elbo", "n_iter"} <= set(table.columns)
    best = table.loc[table["icl"].idxmax()]
    assert (best["n_row_clusters"], best["n_col_clusters"]) == (3, 2)
    assert counts.obs["lbm"].nunique() == 3 and counts.var["lbm"].nunique() == 2
    assert counts.uns["lbm"]["params"]["tool"] == "select_lbm"
    assert counts.uns["lbm"]["icl"] == pytest.approx(table["icl"].max())


def test_h5ad_round_trip(counts, tmp_path):
    tl.select_lbm(counts, [2, 3], [2], n_init=1, max_iter=30)
    counts.write_h5ad(tmp_path / "s.h5ad")
    back = ad.read_h5ad(tmp_path / "s.h5ad")
    for name, values in counts.uns["lbm"]["icl_table"].items():
        np.testing.assert_array_equal(back.uns["lbm"]["icl_table"][name], values)
    np.testing.assert_array_equal(back.uns["lbm"]["params"]["n_row_clusters_grid"], [2, 3])


def test_copy_semantics(counts):
    out = tl.select_lbm(counts, [2], [2], n_init=1, max_iter=20, copy=True)
    assert "icl_table" in out.uns["lbm"] and "lbm" not in counts.uns


def test_grid_beyond_data_raises(counts):
    with pytest.raises(ValueError, match="n_col_clusters"):
        tl.select_lbm(counts, [2], [100])


def test_exact_icl_criterion_is_recorded(counts):
    tl.select_lbm(counts, [2, 3], [2], criterion="icl_exact", n_init=1, max_iter=30)
    table = pd.DataFrame(counts.uns["lbm"]["icl_table"])
    assert "icl_exact" in table and counts.uns["lbm"]["params"]["criterion"] == "icl_exact"
    assert counts.uns["lbm"]["icl_exact"] == pytest.approx(table["icl_exact"].max())


def test_select_lbm_accepts_the_negative_binomial():
    X, _, _ = make_lbm(300, 200, 2, 2, family="nb", signal=1.0, random_state=4)
    adata = ad.AnnData(X)
    tl.select_lbm(adata, [1, 2, 3], [2], family="nb", n_init=2, max_iter=50)
    assert adata.uns["lbm"]["family"] == "nb" and adata.obs["lbm"].nunique() == 2


def test_unknown_criterion_raises(counts):
    with pytest.raises(ValueError, match="criterion"):
        tl.select_lbm(counts, [2], [2], criterion="aic")


def test_bad_grid_values_raise_before_fitting(counts):
    with pytest.raises(TypeError, match="whole numbers"):
        tl.select_lbm(counts, [2.5], [2], verbose=False)
    tl.select_lbm(counts, 3, [2, 3], n_init=1, max_iter=20, verbose=False)  # one int is a grid of one
    assert counts.uns["lbm"]["params"]["n_row_clusters_grid"].tolist() == [3]
