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
