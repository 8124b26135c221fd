"""The tl tool skeleton: registration, one key builder, checks, writing, generated docs.

The two tools below are the minimal examples of the skeleton's documentation:
a row-only tool (``obs[key]``, ``obsm["X_" + key]``, ``uns[key]``) and a
co-clustering tool (``obs``/``var`` labels and posteriors), each a real
computation written the way ``tl.lbm`` is.
"""
import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.cluster import KMeans
from sklearn.decomposition import TruncatedSVD

from coclust_deep import LatentBlockModel, tl
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari
from coclust_deep.tl._skeleton import PARTS, RESULT_TOOLS, Result, Tool, result_key
from coclust_deep.tl._utils import get_matrix

SVD_KMEANS = Tool("test_svd_kmeans", writes=("row_labels", "row_embedding"))


@SVD_KMEANS.document
def svd_kmeans(adata, n_clusters, *, n_components=5, layer=None, use_raw=False, mask_var=None,
               use_highly_variable=None, key_added="svd_kmeans", overwrite=False, copy=False, random_state=0):
    """Cluster cells by k-means on a truncated SVD (a row-only tool).

    Parameters
    ----------
    adata
        Annotated data matrix.
    n_clusters
        Number of cell clusters.
    n_components
        Dimension of the SVD embedding.
    {doc_input}
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the SVD and of k-means.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]["inertia"]``
        The k-means inertia.
    """
    SVD_KMEANS.check(adata, key_added, overwrite=overwrite)
    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    embedding = TruncatedSVD(n_components, random_state=random_state).fit_transform(data.X)
    kmeans = KMeans(n_clusters, n_init=4, random_state=random_state).fit(embedding)
    SVD_KMEANS.write(adata, key_added, Result(
        row_labels=kmeans.labels_, row_embedding=embedding, uns={"inertia": kmeans.inertia_},
    ), data=data, params={"n_clusters": n_clusters, "n_components": n_components, "random_state": random_state})
    return adata if copy else None


POISSON_LBM = Tool("test_poisson_lbm", writes=("row_labels", "column_labels", "row_posterior", "column_posterior"))


@POISSON_LBM.document
def poisson_lbm(adata, n_row_clusters, n_col_clusters, *, layer=None, use_raw=False, mask_var=None,
        use_highly_variable=None, key_added="poisson_lbm", overwrite=False, copy=False, random_state=0):
    """Co-cluster with a Poisson latent block model (a co-clustering tool).

    Parameters
    ----------
    adata
        Annotated data matrix.
    n_row_clusters, n_col_clusters
        Numbers of cell and gene clusters.
    {doc_input}
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the starts.

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]["icl"]``
        The ICL of the fit.
    """
    POISSON_LBM.check(adata, key_added, overwrite=overwrite)
    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    model = LatentBlockModel(n_row_clusters, n_col_clusters, family="poisson", n_init=2,
                             random_state=random_state).fit(data.X)
    POISSON_LBM.write(adata, key_added, Result(
        row_labels=model.row_labels_, column_labels=model.column_labels_,
        row_posterior=model.row_posterior_, column_posterior=model.column_posterior_,
        uns={"icl": model.icl_},
    ), data=data, params=model.get_params())
    return adata if copy else None


@pytest.fixture
def counts():
    X, rows, cols = make_lbm(120, 80, 3, 2, family="poisson", signal=0.9, random_state=0)
    adata = ad.AnnData(X)
    adata.obs["truth"] = pd.Categorical(rows.astype(str))
    adata.var["truth"] = pd.Categorical(cols.astype(str))
    return adata


def test_result_key_spells_column_in_full():
    assert [result_key("k", p) for p in PARTS] == [
        ("obs", "k"), ("var", "k"), ("obsm", "k_row_posterior"), ("varm", "k_column_posterior"),
        ("obsm", "X_k"), ("varm", "X_k"), ("obsm", "k_biclusters"), ("varm", "k_biclusters"),
    ]


def test_every_public_tool_is_registered():
    assert {"lbm", "select_lbm", "cocluster", "deep_cocluster"} <= set(RESULT_TOOLS)
    assert RESULT_TOOLS["test_svd_kmeans"] is SVD_KMEANS


def test_registering_a_name_twice_raises():
    with pytest.raises(ValueError, match="already registered"):
        Tool("lbm", writes=("row_labels",))


def test_unknown_part_raises():
    with pytest.raises(ValueError, match="unknown result parts"):
        Tool("test_bad_part", writes=("row_labels", "gene_modules"))
    assert "test_bad_part" not in RESULT_TOOLS


def test_row_only_tool_writes_only_rows(counts):
    svd_kmeans(counts, 3)
    assert counts.obs["svd_kmeans"].cat.categories.tolist() == ["0", "1", "2"]
    assert counts.obsm["X_svd_kmeans"].shape == (120, 5)
    assert "svd_kmeans" not in counts.var and "X_svd_kmeans" not in counts.varm
    params = counts.uns["svd_kmeans"]["params"]
    assert params["tool"] == "test_svd_kmeans" and params["mask_var"] == "all" and params["n_components"] == 5
    assert counts.uns["svd_kmeans"]["inertia"] > 0
    assert ari(counts.obs["truth"], counts.obs["svd_kmeans"]) > 0.9


def test_row_only_tool_docs_list_what_it_writes():
    doc = svd_kmeans.__doc__
    assert '``adata.obsm["X_" + key_added]``' in doc and "``adata.obs[key_added]``" in doc
    assert "adata.var[" not in doc and "{doc" not in doc
    assert "\nlayer\n    Use ``adata.layers[layer]``" in doc  # injected parts line up with the section


def test_cocluster_tool_places_genes_and_round_trips(counts, tmp_path):
    mask = np.arange(80) % 4 != 0
    poisson_lbm(counts, 3, 2, mask_var=mask)
    assert (counts.var["poisson_lbm"][~mask] == "unassigned").all()
    posterior = counts.varm["poisson_lbm_column_posterior"]
    np.testing.assert_array_equal(posterior[~mask], 0.0)
    np.testing.assert_allclose(posterior[mask].sum(axis=1), 1.0)
    counts.write_h5ad(tmp_path / "lbm.h5ad")
    back = ad.read_h5ad(tmp_path / "lbm.h5ad")
    assert back.var["poisson_lbm"].equals(counts.var["poisson_lbm"])
    assert back.uns["poisson_lbm"]["params"]["tool"] == "test_poisson_lbm"


def test_copy_leaves_input_untouched(counts):
    out = poisson_lbm(counts, 3, 2, copy=True)
    assert "poisson_lbm" in out.obs and "poisson_lbm" not in counts.obs
    assert "poisson_lbm_row_posterior" not in counts.obsm


def test_check_protects_user_entries(counts):
    counts.obsm["X_svd_kmeans"] = np.zeros((120, 2))
    with pytest.raises(ValueError, match=r"overwrite obsm\['X_svd_kmeans'\]"):
        svd_kmeans(counts, 3)
    svd_kmeans(counts, 3, overwrite=True)
    assert counts.obsm["X_svd_kmeans"].shape == (120, 5)


def test_check_ignores_keys_the_tool_does_not_write(counts):
    counts.var["svd_kmeans"] = "a user's gene notes"  # a row-only tool never writes var
    svd_kmeans(counts, 3)
    assert (counts.var["svd_kmeans"] == "a user's gene notes").all()


def test_rewriting_a_key_drops_parts_of_the_earlier_result(counts):
    poisson_lbm(counts, 3, 2, key_added="shared")
    svd_kmeans(counts, 3, key_added="shared")
    assert "shared" not in counts.var
    assert "shared_row_posterior" not in counts.obsm and "shared_column_posterior" not in counts.varm
    assert counts.uns["shared"]["params"]["tool"] == "test_svd_kmeans"


def test_write_refuses_undeclared_parts(counts):
    with pytest.raises(ValueError, match="does not declare"):
        SVD_KMEANS.write(counts, "k", Result(row_labels=np.zeros(120), column_labels=np.zeros(80)))
    assert "k" not in counts.obs


def test_write_checks_lengths(counts):
    with pytest.raises(ValueError, match="row_embedding has 10 rows but there are 120 cells"):
        SVD_KMEANS.write(counts, "k", Result(row_labels=np.zeros(120), row_embedding=np.zeros((10, 2))))
    assert "k" not in counts.obs


def test_check_protects_user_entries_an_earlier_result_did_not_write(counts):
    svd_kmeans(counts, 3, key_added="shared")
    counts.var["shared"] = "a user's gene notes"
    with pytest.raises(ValueError, match=r"overwrite var\['shared'\]"):
        poisson_lbm(counts, 3, 2, key_added="shared")
    svd_kmeans(counts, 2, key_added="shared")  # the earlier result's own keys are free
    assert counts.obs["shared"].nunique() == 2


def test_write_refuses_params_in_uns(counts):
    with pytest.raises(ValueError, match="params="):
        SVD_KMEANS.write(counts, "k", Result(row_labels=np.zeros(120), uns={"params": {}}))


def test_check_refuses_a_slash_in_the_key(counts):
    with pytest.raises(ValueError, match="contains '/'"):
        tl.lbm(counts, 3, 2, key_added="lbm/k3")
    assert "lbm/k3" not in counts.obs


def test_write_refuses_an_interrupted_result():
    """Backstop for tools whose deep estimator caught Ctrl-C: nothing is written, the interrupt goes on."""
    adata = ad.AnnData(np.ones((4, 3)))
    with pytest.raises(KeyboardInterrupt, match="nothing was written"):
        RESULT_TOOLS["deep_cluster"].write(adata, "k", Result(row_labels=np.zeros(4), uns={"interrupted": True}))
    assert "k" not in adata.obs and "k" not in adata.uns
