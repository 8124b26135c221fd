"""Semi-supervised fits: known rows and columns keep their cluster and steer the others."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import LatentBlockModel
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari
from tests.generators import handwritten_many_clusters


def _known(labels, fraction, seed):
    rng = np.random.default_rng(seed)
    return np.where(rng.random(labels.size) < fraction, labels, -1)


# Ten row clusters: from two unlabelled starts the fit ends in a local optimum (ARI about 0.8-0.9);
# a tenth of the labels anchors every cluster.
CASES = {
    "make_lbm": lambda: make_lbm(1000, 400, 10, 5, family="poisson", signal=0.5, random_state=0),
    "handwritten": lambda: handwritten_many_clusters(seed=0),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def planted(request):
    return CASES[request.param]()


def test_a_tenth_of_the_labels_recovers_the_partition(planted):
    X, z, w = planted
    rows, cols = _known(z, 0.1, 1), _known(w, 0.1, 2)
    model = LatentBlockModel(10, 5, n_init=2, random_state=0).fit(X, row_labels=rows, column_labels=cols)
    unsupervised = LatentBlockModel(10, 5, n_init=2, random_state=0).fit(X)
    message = f"unsupervised row ARI {ari(z, unsupervised.row_labels_):.3f}"
    assert ari(z, model.row_labels_) >= 0.95, message
    assert ari(w, model.column_labels_) >= 0.95


def test_known_rows_and_columns_keep_their_cluster(planted):
    X, z, w = planted
    rows, cols = _known(z, 0.1, 3), _known(w, 0.2, 4)
    for algorithm in ("vem", "cem", "sem"):
        model = LatentBlockModel(10, 5, algorithm=algorithm, n_init=1, max_iter=20, random_state=0).fit(
            sp.csr_matrix(X), row_labels=rows, column_labels=cols)
        assert np.array_equal(model.row_labels_[rows >= 0], rows[rows >= 0])
        assert np.array_equal(model.column_labels_[cols >= 0], cols[cols >= 0])
        assert np.all(model.row_posterior_[rows >= 0].max(axis=1) == 1.0)


def test_labels_against_the_data_are_kept_anyway():
    X, z, _ = make_lbm(200, 60, 2, 2, family="poisson", signal=1.0, random_state=0)
    wrong = np.full(200, -1)
    wrong[:5] = 1 - z[:5]  # five rows put in the other cluster
    model = LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X, row_labels=wrong)
    assert np.array_equal(model.row_labels_[:5], wrong[:5])


def test_vem_elbo_never_decreases_with_known_labels():
    X, z, w = make_lbm(400, 120, 3, 3, family="bernoulli", signal=0.3, random_state=5)
    model = LatentBlockModel(3, 3, family="bernoulli", init="random", n_init=1, tol=0, max_iter=30,
                             random_state=1).fit(X, row_labels=_known(z, 0.2, 0), column_labels=_known(w, 0.2, 1))
    h = np.asarray(model.elbo_history_)
    assert np.all(np.diff(h) >= -1e-9 * np.abs(h[:-1]))


def test_all_unknown_is_the_unsupervised_fit():
    X, _, _ = make_lbm(150, 50, 3, 2, family="poisson", random_state=1)
    a = LatentBlockModel(3, 2, n_init=2, random_state=0).fit(X)
    b = LatentBlockModel(3, 2, n_init=2, random_state=0).fit(X, row_labels=np.full(150, -1))
    assert np.array_equal(a.row_labels_, b.row_labels_) and a.elbo_ == b.elbo_


GOOD = np.random.default_rng(0).poisson(2.0, size=(20, 10)).astype(float)


@pytest.mark.parametrize(
    "kw,match",
    [({"row_labels": np.zeros(19, dtype=int)}, "row_labels must have one entry per row of X \\(20\\)"),
     ({"column_labels": np.zeros(11, dtype=int)}, "column_labels must have one entry per column"),
     ({"row_labels": np.full(20, 2)}, "row_labels must lie in \\[-1, 2\\)"),
     ({"row_labels": np.full(20, -2)}, "row_labels must lie in \\[-1, 2\\)"),
     ({"column_labels": np.full(10, 5)}, "column_labels must lie in \\[-1, 2\\)"),
     ({"row_labels": np.zeros((20, 1), dtype=int)}, "row_labels must have one entry per row")],
)
def test_bad_labels_rejected(kw, match):
    with pytest.raises(ValueError, match=match):
        LatentBlockModel(2, 2).fit(GOOD, **kw)


def test_non_integer_labels_rejected():
    with pytest.raises(TypeError, match="row_labels must hold integer"):
        LatentBlockModel(2, 2).fit(GOOD, row_labels=np.full(20, 0.5))
