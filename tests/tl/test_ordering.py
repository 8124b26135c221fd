"""Labels ordered by size ("0" the largest, as sc.tl.leiden), with posteriors and uns entries following."""
import anndata as ad
import numpy as np
import pytest

from coclust_deep import ModularityCoclustering, tl
from coclust_deep.datasets import make_lbm
from coclust_deep.tl._skeleton import Result, ordered_by_size, size_order


def _unequal_counts(seed=0):
    """Three planted cell clusters of 20, 100 and 50 cells (cluster 0 is the smallest)."""
    rng = np.random.default_rng(seed)
    rows = np.repeat([0, 1, 2], [20, 100, 50])
    cols = np.repeat([0, 1], [30, 10])
    rates = np.array([[8.0, 1.0], [1.0, 8.0], [4.0, 4.0]])
    X = rng.poisson(rates[rows][:, cols]).astype(float)
    return ad.AnnData(X), rows, cols


def test_size_order_largest_first_ties_stable_empty_last():
    assert size_order([0, 1, 1, 2, 2], n_clusters=4).tolist() == [1, 2, 0, 3]


def test_ordered_by_size_permutes_posteriors_and_declared_uns():
    labels = np.array([0, 1, 1, 1, 2, 2])
    posterior = np.eye(3)[labels]
    means = np.array([[0.0, 10.0], [1.0, 11.0], [2.0, 12.0]])
    result = ordered_by_size(Result(row_labels=labels, row_posterior=posterior,
                                    uns={"means": means, "other": means},
                                    by_cluster={"means": ("row", None)}))
    assert result.row_labels.tolist() == [2, 0, 0, 0, 1, 1]
    np.testing.assert_array_equal(result.row_posterior.argmax(axis=1), result.row_labels)
    np.testing.assert_array_equal(result.uns["means"][:, 0], [1.0, 2.0, 0.0])
    np.testing.assert_array_equal(result.uns["other"], means)  # not declared: untouched


def test_tl_lbm_labels_numbered_by_size():
    adata, _, _ = _unequal_counts()
    tl.lbm(adata, 3, 2, n_init=2, random_state=0)
    for labels in (adata.obs["lbm"], adata.var["lbm"]):
        counts = labels.value_counts().reindex(labels.cat.categories).to_numpy()
        assert np.all(np.diff(counts) <= 0)
    assert adata.obs["lbm"].value_counts()["0"] == 100


def test_tl_lbm_posteriors_and_block_parameters_follow_the_labels():
    adata, _, _ = _unequal_counts()
    tl.lbm(adata, 3, 2, n_init=2, random_state=0, poisson_effects=False)  # lambda = block mean
    rows = adata.obs["lbm"].astype(int).to_numpy()
    cols = adata.var["lbm"].astype(int).to_numpy()
    np.testing.assert_array_equal(adata.obsm["lbm_row_posterior"].argmax(axis=1), rows)
    np.testing.assert_array_equal(adata.varm["lbm_column_posterior"].argmax(axis=1), cols)
    X = adata.X
    empirical = np.array([[X[rows == k][:, cols == l].mean() for l in range(2)] for k in range(3)])
    np.testing.assert_allclose(adata.uns["lbm"]["block_params"]["lambda"], empirical, rtol=0.05)
    sizes = np.bincount(rows) / rows.size
    np.testing.assert_allclose(adata.uns["lbm"]["row_proportions"], sizes, atol=0.02)


def test_diagonal_coclusters_keep_their_pairs():
    X, _, _ = make_lbm(90, 60, 3, 3, family="poisson", signal=0.9, random_state=0)
    adata = ad.AnnData(X)
    tl.cocluster(adata, "modularity", 3, 3, n_init=2, random_state=0)
    model = ModularityCoclustering(3, n_init=2, random_state=0).fit(X)
    rows, cols = adata.obs["modularity"].to_numpy(), adata.var["modularity"].to_numpy()
    for k in range(3):  # estimator co-cluster k is one written label on both sides
        (row_label,) = set(rows[model.row_labels_ == k])
        (col_label,) = set(cols[model.column_labels_ == k])
        assert row_label == col_label
    counts = adata.obs["modularity"].value_counts().reindex(adata.obs["modularity"].cat.categories)
    assert np.all(np.diff(counts.to_numpy()) <= 0)


def test_block_means_of_classic_methods_follow_labels():
    adata, _, _ = _unequal_counts()
    tl.cocluster(adata, "double_kmeans", 3, 2, n_init=2)
    rows = adata.obs["double_kmeans"].astype(int).to_numpy()
    cols = adata.var["double_kmeans"].astype(int).to_numpy()
    means = adata.uns["double_kmeans"]["block_means"]
    for k in range(3):
        for l in range(2):
            assert means[k, l] == pytest.approx(adata.X[rows == k][:, cols == l].mean())


def test_equal_sizes_are_numbered_by_first_member_whatever_the_label_ids():
    a, b = [0, 0, 1, 1, 2], [1, 1, 0, 0, 2]  # one partition, two numberings
    assert np.take(np.argsort(size_order(a)), a).tolist() == np.take(np.argsort(size_order(b)), b).tolist()
