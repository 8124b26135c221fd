"""tl.add_view / tl.views / tl.get_view: storage, listing, validation, h5ad."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from coclust_deep import tl
from coclust_deep.tl._views import read_views


@pytest.fixture
def adata():
    return ad.AnnData(np.ones((6, 4)))


def test_obs_view_stored_under_prefix(adata):
    emb = np.arange(18, dtype=np.float32).reshape(6, 3)
    tl.add_view(adata, "image", emb)
    np.testing.assert_array_equal(adata.obsm["view_image"], emb)
    assert adata.obsm["view_image"].dtype == np.float32


def test_var_view_stored_under_prefix(adata):
    tl.add_view(adata, "text", np.ones((4, 5)), axis="var")
    assert adata.varm["view_text"].shape == (4, 5)


def test_views_lists_both_axes(adata):
    tl.add_view(adata, "image", np.ones((6, 3)))
    tl.add_view(adata, "text", np.ones((4, 5)), axis="var")
    adata.obsm["X_pca"] = np.ones((6, 2))  # not a view
    table = tl.views(adata)
    assert table[["name", "axis", "key", "n_features"]].values.tolist() == [
        ["image", "obs", "obsm/view_image", 3],
        ["text", "var", "varm/view_text", 5],
    ]


def test_views_empty_table(adata):
    assert tl.views(adata).empty


def test_integer_embeddings_become_float_without_touching_input(adata):
    emb = np.arange(12).reshape(6, 2)
    tl.add_view(adata, "ids", emb)
    assert adata.obsm["view_ids"].dtype == np.float64
    assert emb.dtype.kind == "i"


def test_dataframe_and_sparse_accepted(adata):
    tl.add_view(adata, "df", pd.DataFrame(np.ones((6, 2))))
    tl.add_view(adata, "tfidf", sp.random(4, 7, density=0.3, format="csr", random_state=0), axis="var")
    assert adata.obsm["view_df"].shape == (6, 2)
    assert sp.issparse(adata.varm["view_tfidf"])


def test_wrong_number_of_rows_raises(adata):
    with pytest.raises(ValueError, match="5 rows but there are 6 cells"):
        tl.add_view(adata, "image", np.ones((5, 3)))


def test_wrong_number_of_gene_rows_raises(adata):
    with pytest.raises(ValueError, match="6 rows but there are 4 genes"):
        tl.add_view(adata, "text", np.ones((6, 3)), axis="var")


def test_nan_raises(adata):
    emb = np.ones((6, 3))
    emb[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        tl.add_view(adata, "image", emb)
    assert "view_image" not in adata.obsm


def test_nan_in_sparse_raises(adata):
    emb = sp.csr_matrix(np.eye(6, 3))
    emb.data[0] = np.inf
    with pytest.raises(ValueError, match="NaN or infinite"):
        tl.add_view(adata, "image", emb)


def test_non_numeric_raises(adata):
    with pytest.raises(TypeError, match="numeric"):
        tl.add_view(adata, "words", np.array([["a"]] * 6, dtype=object))


def test_one_dimensional_raises(adata):
    with pytest.raises(ValueError, match="2-D"):
        tl.add_view(adata, "score", np.ones(6))


def test_bad_axis_raises(adata):
    with pytest.raises(ValueError, match="axis must be"):
        tl.add_view(adata, "image", np.ones((6, 3)), axis="rows")


def test_existing_view_needs_overwrite(adata):
    tl.add_view(adata, "image", np.ones((6, 3)))
    with pytest.raises(ValueError, match="overwrite=True"):
        tl.add_view(adata, "image", np.zeros((6, 3)))
    tl.add_view(adata, "image", np.zeros((6, 3)), overwrite=True)
    assert adata.obsm["view_image"].sum() == 0


def test_copy_leaves_input_untouched(adata):
    out = tl.add_view(adata, "image", np.ones((6, 3)), copy=True)
    assert "view_image" in out.obsm and "view_image" not in adata.obsm


def test_get_view_reads_by_name(adata):
    tl.add_view(adata, "text", np.full((4, 2), 3.0), axis="var")
    np.testing.assert_array_equal(tl.get_view(adata, "text"), np.full((4, 2), 3.0))


def test_get_view_missing_lists_available(adata):
    tl.add_view(adata, "image", np.ones((6, 3)))
    with pytest.raises(KeyError, match=r"available views: image \(obs\)"):
        tl.get_view(adata, "text")


def test_get_view_rejects_nan_written_behind_its_back(adata):
    adata.obsm["view_image"] = np.full((6, 2), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        tl.get_view(adata, "image")


def test_views_survive_h5ad(adata, tmp_path):
    tl.add_view(adata, "image", np.random.default_rng(0).normal(size=(6, 3)))
    adata.write_h5ad(tmp_path / "v.h5ad")
    back = ad.read_h5ad(tmp_path / "v.h5ad")
    np.testing.assert_array_equal(tl.get_view(back, "image"), adata.obsm["view_image"])
    assert tl.views(back)["name"].tolist() == ["image"]


def test_read_views_by_key_or_view_name(adata):
    tl.add_view(adata, "image", np.arange(18, dtype=np.float32).reshape(6, 3))
    adata.obsm["X_pca"] = np.ones((6, 2))
    found, keys = read_views(adata, ["image", "X_pca"], "obs")
    assert keys == ["view_image", "X_pca"] and list(found) == ["image", "X_pca"]
    np.testing.assert_array_equal(found["image"], adata.obsm["view_image"])


def test_read_views_keeps_fitted_genes_in_order(adata):
    tl.add_view(adata, "text", np.arange(8.0).reshape(4, 2), axis="var")
    found, _ = read_views(adata, "text", "var", var_positions=np.array([3, 1]))
    np.testing.assert_array_equal(found["text"], [[6, 7], [2, 3]])


def test_read_views_rejects_non_finite_views(adata):
    adata.obsm["bad"] = np.full((6, 2), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        read_views(adata, ["bad"], "obs")


def test_anndata_source_gives_its_x_matched_by_cell_name(adata):
    adata.obs_names = [f"c{i}" for i in range(6)]
    source = ad.AnnData(np.arange(12.0).reshape(6, 2))
    source.obs_names = [f"c{i}" for i in range(6)][::-1]
    source.obsm["X_pca"] = np.arange(6.0).reshape(6, 1)
    tl.add_view(adata, "prot", source)
    np.testing.assert_array_equal(adata.obsm["view_prot"], source.X[::-1])
    tl.add_view(adata, "pca", source, key="X_pca")
    np.testing.assert_array_equal(adata.obsm["view_pca"], source.obsm["X_pca"][::-1])


def test_anndata_source_missing_cells_or_key_raise(adata):
    source = ad.AnnData(np.ones((6, 2)))
    source.obs_names = [f"other{i}" for i in range(6)]
    with pytest.raises(ValueError, match="lacks 6 of the 6 cells"):
        tl.add_view(adata, "prot", source)
    with pytest.raises(KeyError, match="X_umap"):
        tl.add_view(adata, "prot", ad.AnnData(np.ones((6, 2))), key="X_umap")


def test_other_objects_get_a_clear_error(adata):
    with pytest.raises(ValueError, match="names a MuData modality"):
        tl.add_view(adata, "prot", "prot:X")
    with pytest.raises(TypeError, match="AnnData"):
        tl.add_view(adata, "prot", object())
    with pytest.raises(ValueError, match="key= picks"):
        tl.add_view(adata, "prot", np.ones((6, 2)), key="X")


def test_dataframe_rows_are_matched_by_cell_name():
    adata = ad.AnnData(np.ones((4, 3)), obs=pd.DataFrame(index=list("abcd")))
    tl.add_view(adata, "v", pd.DataFrame({"f": [4.0, 3.0, 2.0, 1.0]}, index=list("dcba")))
    np.testing.assert_array_equal(adata.obsm["view_v"].ravel(), [1.0, 2.0, 3.0, 4.0])


def test_dataframe_with_default_index_is_taken_in_order():
    adata = ad.AnnData(np.ones((4, 3)), obs=pd.DataFrame(index=list("abcd")))
    tl.add_view(adata, "v", pd.DataFrame({"f": [4.0, 3.0, 2.0, 1.0]}))
    np.testing.assert_array_equal(adata.obsm["view_v"].ravel(), [4.0, 3.0, 2.0, 1.0])


def test_dataframe_with_other_cells_raises():
    adata = ad.AnnData(np.ones((4, 3)), obs=pd.DataFrame(index=list("abcd")))
    with pytest.raises(ValueError, match="lacks 1 of the 4 cells"):
        tl.add_view(adata, "v", pd.DataFrame({"f": [4.0, 3.0, 2.0, 1.0]}, index=list("xcba")))
