"""Shared AnnData plumbing of coclust_deep.tl (also used by tl.deep_cocluster)."""
import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import tl
from coclust_deep.tl._utils import (
    UNASSIGNED,
    expand_column_rows,
    get_fitted_matrix,
    get_matrix,
    h5ad_safe,
    labels_to_categorical,
    pick_family,
)


def test_h5ad_safe_values_survive_round_trip(tmp_path):
    value = h5ad_safe({
        "dropped": None, "mixed": (1, "a"), "numbers": (1, 2.5), "flags": [True, False],
        "scalar": np.float32(1.5), "grid": range(2, 5), "pair": (np.arange(3), np.arange(2)),
    })
    assert "dropped" not in value
    adata = ad.AnnData(np.ones((2, 2)))
    adata.uns["value"] = value
    adata.write_h5ad(tmp_path / "u.h5ad")
    back = ad.read_h5ad(tmp_path / "u.h5ad").uns["value"]
    assert list(back["mixed"]) == ["1", "a"]
    np.testing.assert_array_equal(back["numbers"], [1.0, 2.5])
    np.testing.assert_array_equal(back["grid"], [2, 3, 4])
    np.testing.assert_array_equal(back["pair"]["1"], [0, 1])
    assert back["scalar"] == 1.5


@pytest.mark.parametrize(
    ("values", "family"),
    [([[0, 1], [1, 0]], "bernoulli"), ([[0, 3], [7, 1]], "poisson"), ([[0.5, 1], [2, 0]], "gaussian"),
     ([[-1, 2], [3, 0]], "gaussian")],
)
def test_pick_family(values, family):
    X = np.asarray(values, dtype=float)
    assert pick_family(X) == family
    assert pick_family(sp.csr_matrix(X)) == family


def test_get_matrix_keeps_sparse_and_maps_genes():
    adata = ad.AnnData(sp.random(5, 4, density=0.5, format="csr", random_state=0))
    data = get_matrix(adata, mask_var=np.array([True, False, True, True]))
    assert sp.issparse(data.X) and data.X.shape == (5, 3)
    np.testing.assert_array_equal(data.var_positions, [0, 2, 3])


def test_labels_to_categorical_marks_unfitted_genes():
    adata = ad.AnnData(np.ones((3, 4)))
    adata.obs["k"] = labels_to_categorical([1, 0, 1])
    adata.var["k"] = labels_to_categorical([0, 1], positions=np.array([1, 3]), n_total=4)
    assert adata.obs["k"].tolist() == ["1", "0", "1"]
    assert adata.var["k"].tolist() == [UNASSIGNED, "0", UNASSIGNED, "1"]


def test_get_matrix_records_how_it_read():
    adata = ad.AnnData(np.ones((3, 4)), layers={"counts": np.ones((3, 4))})
    assert get_matrix(adata, layer="counts", mask_var=np.ones(4, dtype=bool)).params == {
        "use_raw": False, "mask_var": "boolean array", "layer": "counts",
    }
    assert get_matrix(adata).params == {"use_raw": False, "mask_var": "all"}


def test_expand_column_rows_zero_fills_unfitted_genes():
    out = expand_column_rows(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]), np.array([2, -1, 0]), 4)
    np.testing.assert_array_equal(out, [[5, 6], [0, 0], [1, 2], [0, 0]])


def _raw_adata_with_result():
    """A result fitted on adata.raw, whose genes are a superset of adata.var, in another order."""
    raw = ad.AnnData(np.arange(30, dtype=float).reshape(3, 10))
    raw.var_names = [f"g{j}" for j in range(10)]
    adata = raw[:, ["g7", "g2", "g5", "g0"]].copy()
    adata.X = np.zeros(adata.shape)
    adata.raw = raw
    tl.lbm(adata, 2, 2, use_raw=True, mask_var=np.arange(10) != 5, family="gaussian", n_init=1, max_iter=5)
    return adata, raw


def test_get_fitted_matrix_finds_the_genes_in_the_fitted_source():
    adata, raw = _raw_adata_with_result()
    data = get_fitted_matrix(adata, "lbm")
    assert data.source == "raw"
    np.testing.assert_array_equal(data.genes, [0, 1, 3])  # g5 is unassigned
    np.testing.assert_array_equal(data.X[:, data.columns], raw.X[:, [7, 2, 0]])


def test_get_fitted_matrix_missing_genes_raise():
    adata, raw = _raw_adata_with_result()
    adata.raw = raw[:, ["g0", "g2"]].copy()  # g7, clustered, is gone from raw
    with pytest.raises(ValueError, match="1 genes clustered in var\\['lbm'\\] are missing from raw"):
        get_fitted_matrix(adata, "lbm")


def test_get_matrix_refuses_repeated_gene_names():
    adata = ad.AnnData(np.ones((3, 4)))
    adata.var_names = ["a", "b", "a", "c"]
    with pytest.raises(ValueError, match=r"var_names are not unique \(e.g. \['a'\]\); call adata.var_names_make"):
        get_matrix(adata)
