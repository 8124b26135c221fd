"""make_lbm draws from the model it claims."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep.datasets import make_lbm


def test_bernoulli_block_frequencies_match_parameters():
    p = np.array([[0.1, 0.7], [0.5, 0.2]])
    X, z, w = make_lbm(2000, 400, 2, 2, family="bernoulli", params={"p": p}, random_state=0)
    for k in range(2):
        for l in range(2):
            assert X[np.ix_(z == k, w == l)].mean() == pytest.approx(p[k, l], abs=0.01)


def test_sparse_bernoulli_is_binary_csr_with_planted_density():
    X, z, w = make_lbm(5000, 2000, 3, 4, family="bernoulli", sparse=True, density=0.01, random_state=0)
    assert sp.isspmatrix_csr(X) and set(np.unique(X.data)) == {1.0}
    assert X.nnz / (5000 * 2000) == pytest.approx(0.01, rel=0.15)


def test_poisson_means_match_rates():
    lam = np.array([[1.0, 5.0], [3.0, 0.5]])
    X, z, w = make_lbm(1000, 300, 2, 2, family="poisson", params={"lambda": lam}, random_state=1)
    assert X[np.ix_(z == 0, w == 1)].mean() == pytest.approx(5.0, rel=0.02)


def test_gaussian_variances_match():
    mean, var = np.zeros((1, 2)), np.array([[1.0, 4.0]])
    X, z, w = make_lbm(1000, 200, 1, 2, family="gaussian", params={"mean": mean, "var": var}, random_state=2)
    assert X[:, w == 1].var() == pytest.approx(4.0, rel=0.03)


def test_every_cluster_is_non_empty():
    _, z, w = make_lbm(10, 7, 5, 7, family="poisson", random_state=3)
    assert set(z) == set(range(5)) and set(w) == set(range(7))


def test_same_seed_same_matrix():
    a = make_lbm(50, 20, 2, 2, family="gaussian", random_state=4)[0]
    b = make_lbm(50, 20, 2, 2, family="gaussian", random_state=4)[0]
    assert np.array_equal(a, b)


def test_wrong_parameter_shape_rejected():
    with pytest.raises(ValueError, match="lambda"):
        make_lbm(50, 20, 2, 2, family="poisson", params={"lambda": np.ones((3, 2))})


def test_nb_counts_have_the_planted_dispersion():
    # Var = mu + mu^2 / (theta a_i): over a block with unit effects on average the variance is far above the mean
    lam = np.array([[2.0, 6.0]])
    X, z, w = make_lbm(3000, 200, 1, 2, family="nb", params={"lambda": lam, "theta": 0.5}, random_state=5)
    assert np.all(X == np.round(X)) and X.min() >= 0
    block = X[:, w == 1]
    assert block.mean() == pytest.approx(6.0, rel=0.1)
    assert block.var() > 5 * block.mean()


def test_categorical_levels_follow_alpha():
    alpha = np.array([[[0.7, 0.1], [0.2, 0.1], [0.1, 0.8]]])  # (1, 3 levels, 2)
    X, z, w = make_lbm(2000, 200, 1, 2, family="categorical", params={"alpha": alpha}, random_state=6)
    assert set(np.unique(X)) == {0.0, 1.0, 2.0}
    for h in range(3):
        assert (X[:, w == 0] == h).mean() == pytest.approx(alpha[0, h, 0], abs=0.01)
        assert (X[:, w == 1] == h).mean() == pytest.approx(alpha[0, h, 1], abs=0.01)


def test_sparse_nb_and_categorical_are_csr():
    for family in ("nb", "categorical"):
        X, _, _ = make_lbm(100, 40, 2, 2, family=family, sparse=True, random_state=7)
        assert sp.isspmatrix_csr(X)


def test_unpaired_digits_split_every_class_between_two_disjoint_modalities():
    from sklearn.datasets import load_digits

    from coclust_deep.datasets import make_unpaired_digits

    X_a, X_b, y_a, y_b = make_unpaired_digits(n_classes=4, n_features_b=20, random_state=0)
    assert X_a.shape[1] == 64 and X_b.shape[1] == 20 and len(X_a) == len(y_a) and len(X_b) == len(y_b)
    assert set(y_a) == set(y_b) == {0, 1, 2, 3}
    assert abs(len(y_a) - len(y_b)) <= 4  # every class alternates between the halves
    pixels = {row.tobytes() for row in load_digits().data[load_digits().target < 4] / 16.0}
    assert {row.tobytes() for row in X_a} <= pixels  # A holds the original images, scaled to [0, 1]
    again = make_unpaired_digits(n_classes=4, n_features_b=20, random_state=0)
    np.testing.assert_array_equal(again[1], X_b)


def test_unpaired_digits_class_sizes_and_bad_arguments():
    from coclust_deep.datasets import make_unpaired_digits

    _, _, y_a, y_b = make_unpaired_digits(n_classes=3, class_sizes=[1.0, 0.5, 0.25], random_state=0)
    counts = np.bincount(np.r_[y_a, y_b])
    assert counts[0] > counts[1] > counts[2]
    with pytest.raises(ValueError, match="class_sizes"):
        make_unpaired_digits(n_classes=3, class_sizes=[1.0, -1.0, 0.5])
    with pytest.raises(ValueError, match="n_classes"):
        make_unpaired_digits(n_classes=1)


@pytest.mark.parametrize("family, params, key", [
    ("gaussian", {"mean": [[0, 1], [1, 0]], "var": [[-1, 1], [1, 1]]}, "var"),
    ("gaussian", {"mean": [[0, np.inf], [1, 0]], "var": np.ones((2, 2))}, "mean"),
    ("bernoulli", {"p": [[2, 0], [0, 1]]}, "p"),
    ("bernoulli", {"p": -np.ones((2, 2))}, "p"),
    ("poisson", {"lambda": [[-1, 0], [0, 1]]}, "lambda"),
    ("nb", {"lambda": [[-1, 0], [0, 1]]}, "lambda"),
    ("categorical", {"alpha": np.full((2, 3, 2), np.nan)}, "alpha"),
])
def test_block_parameters_outside_their_range_rejected(family, params, key):
    with pytest.raises(ValueError, match=rf"params\['{key}'\] values must be finite"):
        make_lbm(10, 5, 2, 2, family=family, params=params, random_state=0)


def test_params_without_the_family_keys_rejected_naming_them():
    with pytest.raises(ValueError, match=r"lacks \['var'\].*'var': \(2, 2\) array"):
        make_lbm(10, 5, 2, 2, family="gaussian", params={"mean": np.zeros((2, 2))})
    with pytest.raises(TypeError, match=r"params must be a dict.*'lambda': \(2, 2\) array"):
        make_lbm(10, 5, 2, 2, family="poisson", params=[1, 2])


def test_non_float_dtype_rejected():
    with pytest.raises(ValueError, match="dtype must be np.float64 or np.float32, got int64"):
        make_lbm(10, 5, 2, 2, family="gaussian", dtype=np.int64)


def test_recover_counts_rejects_a_missing_library_size():
    ad = pytest.importorskip("anndata")
    import pandas as pd

    from coclust_deep.datasets import recover_counts

    counts = np.array([[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]])
    logged = sp.csr_matrix(np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4))
    adata = ad.AnnData(logged, obs=pd.DataFrame({"n_counts": [np.nan, 4.0]}, index=["c0", "c1"]))
    adata.raw = adata
    with pytest.raises(ValueError, match=r"obs\['n_counts'\] must hold finite library sizes > 0; cell 'c0'"):
        recover_counts(adata)


def test_recover_counts_error_names_the_normalisation_asked_for():
    ad = pytest.importorskip("anndata")
    import pandas as pd

    from coclust_deep.datasets import recover_counts

    counts = np.array([[1.0, 0.0, 3.0], [2.0, 2.0, 0.0]])
    logged = sp.csr_matrix(np.log1p(counts / counts.sum(axis=1, keepdims=True) * 1e4))  # per 10,000, not 30,000
    adata = ad.AnnData(logged, obs=pd.DataFrame({"n_counts": [4.0, 4.0]}, index=["c0", "c1"]))
    adata.raw = adata
    with pytest.raises(ValueError, match=r"adata.raw is not log1p\(counts per 30000\)"):
        recover_counts(adata, counts_per=3e4)
