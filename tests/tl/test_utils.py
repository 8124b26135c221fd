"""Shared AnnData plumbing of coclust_deep.tl (also used by tl.deep_cocluster)."""
import anndata as ad
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep.tl._utils import UNASSIGNED, get_matrix, h5ad_safe, pick_family, write_labels


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


def test_write_labels_marks_unfitted_genes():
    adata = ad.AnnData(np.ones((3, 4)))
    write_labels(adata, "k", row_labels=[1, 0, 1], col_labels=[0, 1], var_positions=np.array([1, 3]))
    assert adata.obs["k"].tolist() == ["1", "0", "1"]
    assert adata.var["k"].tolist() == [UNASSIGNED, "0", UNASSIGNED, "1"]
