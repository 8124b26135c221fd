"""The negative-binomial and categorical families: planted structure recovered, ELBO monotone, dask and CSR agree."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import LatentBlockModel
from coclust_deep.datasets import make_lbm, separated_pattern
from coclust_deep.metrics import ari
from tests.generators import COL_CLUSTERS, ROW_CLUSTERS, handwritten_categorical, handwritten_nb


def _fit(X, family, **kw):
    kw.setdefault("n_init", 2)
    kw.setdefault("random_state", 0)
    return LatentBlockModel(ROW_CLUSTERS, COL_CLUSTERS, family=family, **kw).fit(X)


@pytest.fixture(scope="module")
def nb_make_lbm():
    # a third of the genes very noisy (dispersion 0.1), the others nearly Poisson
    theta = np.where(np.random.default_rng(0).random(400) < 0.3, 0.1, 5.0)
    lam = 0.5 + 4.5 * separated_pattern(ROW_CLUSTERS, COL_CLUSTERS, np.random.RandomState(1))
    return make_lbm(800, 400, ROW_CLUSTERS, COL_CLUSTERS, family="nb", params={"lambda": lam, "theta": theta},
                    sparse=True, random_state=3)


def test_nb_recovers_make_lbm_where_poisson_splits_on_noise(nb_make_lbm):
    X, z, w = nb_make_lbm
    nb = _fit(X, "nb", n_init=4)  # two starts end in a local optimum on this one (ARI 0.71)
    poisson = _fit(X, "poisson", n_init=4)  # with row and column effects, the default
    assert ari(z, nb.row_labels_) >= 0.95 and ari(w, nb.column_labels_) >= 0.95
    assert ari(z, poisson.row_labels_) < 0.85  # measured 0.80: the noisy genes split the cells


def test_nb_recovers_handwritten_gamma_poisson_counts_where_poisson_does_not():
    # the generator's dispersion does not scale with depth: the model is misspecified on purpose
    X, z, w = handwritten_nb(seed=0)
    nb = _fit(sp.csr_matrix(X), "nb")
    poisson = _fit(sp.csr_matrix(X), "poisson")
    assert ari(z, nb.row_labels_) >= 0.95 and ari(w, nb.column_labels_) >= 0.95
    assert ari(z, poisson.row_labels_) < 0.93  # measured 0.89


def test_nb_dispersions_estimate_the_planted_ones(nb_make_lbm):
    X, _, _ = nb_make_lbm
    theta = _fit(X, "nb", n_init=4).params_["theta"]
    planted = np.where(np.random.default_rng(0).random(400) < 0.3, 0.1, 5.0)
    assert np.median(theta[planted == 0.1]) == pytest.approx(0.1, rel=0.2)
    assert np.median(theta[planted == 5.0]) == pytest.approx(5.0, rel=0.5)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_categorical_recovers_make_lbm(sparse):
    X, z, w = make_lbm(900, 300, ROW_CLUSTERS, COL_CLUSTERS, family="categorical", n_levels=3, signal=0.8,
                       sparse=sparse, random_state=3)
    model = _fit(X, "categorical")
    assert ari(z, model.row_labels_) >= 0.95 and ari(w, model.column_labels_) >= 0.95
    assert model.params_["alpha"].shape == (ROW_CLUSTERS, 3, COL_CLUSTERS)
    np.testing.assert_allclose(model.params_["alpha"].sum(axis=1), 1.0)


@pytest.mark.parametrize("algorithm", ["vem", "cem"])
def test_categorical_recovers_handwritten_genotypes(algorithm):
    X, z, w = handwritten_categorical(seed=0)
    model = _fit(sp.csr_matrix(X), "categorical", algorithm=algorithm)
    assert ari(z, model.row_labels_) >= 0.95 and ari(w, model.column_labels_) >= 0.95


@pytest.mark.parametrize("family", ["nb", "categorical"])
@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_vem_elbo_never_decreases(family, sparse):
    X, _, _ = make_lbm(400, 120, 3, 3, family=family, signal=0.3, sparse=sparse, random_state=5)
    model = LatentBlockModel(3, 3, family=family, init="random", n_init=1, tol=0, max_iter=30,
                             random_state=1).fit(X)
    h = np.asarray(model.elbo_history_)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[:-1]))


@pytest.mark.parametrize("family", ["nb", "categorical"])
def test_dense_and_csr_give_the_same_fit(family):
    X, _, _ = make_lbm(300, 90, 3, 3, family=family, signal=0.8, random_state=6)
    dense = LatentBlockModel(3, 3, family=family, n_init=2, random_state=0).fit(X)
    sparse = LatentBlockModel(3, 3, family=family, n_init=2, random_state=0).fit(sp.csr_matrix(X))
    assert ari(dense.row_labels_, sparse.row_labels_) == 1.0
    np.testing.assert_allclose(dense.elbo_, sparse.elbo_, rtol=1e-9)


@pytest.mark.parametrize("family", ["nb", "categorical"])
def test_numpy_backend_gives_the_numba_fit(family):
    X, _, _ = make_lbm(200, 60, 3, 2, family=family, signal=0.8, sparse=True, random_state=7)
    a = LatentBlockModel(3, 2, family=family, n_init=1, random_state=0, backend="numpy").fit(X)
    b = LatentBlockModel(3, 2, family=family, n_init=1, random_state=0, backend="numba").fit(X)
    assert np.array_equal(a.row_labels_, b.row_labels_)
    np.testing.assert_allclose(a.elbo_, b.elbo_, rtol=1e-9)


@pytest.mark.parametrize("family", ["nb", "categorical"])
def test_dask_fit_matches_in_memory_fit(family):
    da = pytest.importorskip("dask.array")
    X, _, _ = make_lbm(200, 60, 3, 2, family=family, signal=0.8, random_state=8)
    ref = LatentBlockModel(3, 2, family=family, n_init=2, random_state=0).fit(X)
    m = LatentBlockModel(3, 2, family=family, n_init=2, random_state=0).fit(da.from_array(X, chunks=(50, 60)))
    assert m.backend_ == "dask" and np.array_equal(ref.row_labels_, m.row_labels_)
    np.testing.assert_allclose(ref.elbo_, m.elbo_, rtol=1e-9)


def test_nb_all_zero_blocks_and_zero_variance_genes_stay_finite():
    X, _, _ = make_lbm(120, 40, 2, 2, family="nb", signal=1.0, random_state=9)
    X[:, :5] = 0  # all-zero genes
    X[:, 5:8] = 3  # constant genes: no variance at all
    X[:30, 8:20] = 0  # an all-zero block
    model = LatentBlockModel(2, 2, family="nb", n_init=2, random_state=0).fit(sp.csr_matrix(X))
    theta = model.params_["theta"]
    assert np.all(np.isfinite(theta)) and theta.min() >= 1e-3 and theta.max() <= 1e6
    np.testing.assert_allclose(theta[5:8], 1e6)  # under-dispersed: the Poisson limit, bounded
    assert all(np.all(np.isfinite(v)) for v in model.params_.values())
    assert np.isfinite(model.elbo_) and np.isfinite(model.icl_) and np.all(np.isfinite(model.row_posterior_))


def test_nb_log_likelihood_of_an_all_zero_matrix_is_not_positive():
    # every size a_i is 0 here: the theta log theta term must weigh sum_i a_i, not n
    model = LatentBlockModel(2, 2, family="nb", n_init=1, random_state=0).fit(np.zeros((30, 20)))
    assert model.elbo_ <= 0 and model.icl_ < 0


def test_auto_picks_the_family_and_records_it():
    counts = make_lbm(60, 20, 2, 2, family="poisson", random_state=0)[0]
    for X, family in ((counts, "poisson"), ((counts > 2).astype(float), "bernoulli"), (counts + 0.5, "gaussian")):
        model = LatentBlockModel(2, 2, family="auto", n_init=1, random_state=0).fit(X)
        assert model.family_ == family
    assert LatentBlockModel(2, 2, family="nb", n_init=1, random_state=0).fit(counts).family_ == "nb"
