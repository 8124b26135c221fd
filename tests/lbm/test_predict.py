"""New rows against a fitted model: predict, predict_proba, score_samples, score."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep import LatentBlockModel
from coclust_deep.datasets import make_lbm
from coclust_deep.metrics import ari

FAMILIES = ["poisson", "nb", "bernoulli", "categorical", "gaussian"]


@pytest.fixture(scope="module", params=FAMILIES)
def fitted(request):
    family = request.param
    X, z, w = make_lbm(500, 300, 3, 3, family=family, signal=1.0, random_state=0)
    train, new = X[:400], X[400:]
    model = LatentBlockModel(3, 3, family=family, n_init=2, random_state=0).fit(train)
    return model, train, new, z[400:]


def test_training_rows_get_their_fitted_cluster(fitted):
    model, train, _, _ = fitted
    assert np.array_equal(model.predict(train), model.row_labels_)


def test_new_rows_land_in_their_planted_cluster(fitted):
    model, _, new, z_new = fitted
    assert ari(z_new, model.predict(new)) >= 0.95


def test_probabilities_are_normalised_and_finite(fitted):
    model, _, new, _ = fitted
    P = model.predict_proba(new)
    assert P.shape == (new.shape[0], 3) and np.all(np.isfinite(P))
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def test_sparse_new_rows_give_the_dense_answer(fitted):
    model, _, new, _ = fitted
    np.testing.assert_allclose(model.predict_proba(sp.csr_matrix(new)), model.predict_proba(new), atol=1e-12)
    np.testing.assert_allclose(model.score_samples(sp.csr_matrix(new)), model.score_samples(new), rtol=1e-12)


def test_score_is_the_mean_per_row_elbo(fitted):
    model, _, new, _ = fitted
    per_row = model.score_samples(new)
    assert per_row.shape == (new.shape[0],) and np.all(np.isfinite(per_row))
    assert model.score(new) == pytest.approx(per_row.mean())


def test_rows_from_the_model_score_higher_than_shuffled_ones(fitted):
    model, _, new, _ = fitted
    shuffled = np.random.default_rng(0).permuted(new, axis=1)  # same values, block structure destroyed
    assert model.score(new) > model.score(shuffled)


def test_training_score_sums_to_the_elbo_with_columns_fixed():
    # with the column posteriors held fixed, the row half of the fitted ELBO is the sum of the rows' scores
    X, _, _ = make_lbm(300, 60, 3, 2, family="poisson", random_state=1)
    model = LatentBlockModel(3, 2, poisson_effects=False, n_init=1, random_state=0).fit(X)
    T, rho = model.column_posterior_, model.column_proportions_
    column_terms = float(T.sum(axis=0) @ np.log(rho)) - float(np.sum(T * np.log(np.where(T > 0, T, 1))))
    assert model.score_samples(X).sum() + column_terms == pytest.approx(model.elbo_, rel=1e-6)


def test_wrong_number_of_columns_rejected(fitted):
    model, _, new, _ = fitted
    with pytest.raises(ValueError, match="X has 299 features, but LatentBlockModel is expecting 300"):
        model.predict(new[:, :-1])


def test_new_rows_outside_the_family_rejected():
    X, _, _ = make_lbm(100, 30, 2, 2, family="nb", random_state=0)
    model = LatentBlockModel(2, 2, family="nb", n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match="family='nb'"):
        model.predict(X[:5] - 1)


def test_categorical_level_unseen_in_fit_rejected():
    X = np.random.RandomState(0).randint(0, 3, (30, 8)).astype(float)
    model = LatentBlockModel(2, 2, family="categorical", n_init=1, random_state=0).fit(X)
    with pytest.raises(ValueError, match=r"fitted with levels 0\.\.2"):
        model.score_samples(np.full((1, 8), 5.0))


def test_unfitted_model_raises():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LatentBlockModel().predict(np.ones((2, 2)))


def test_caller_array_not_modified_by_predict():
    X, _, _ = make_lbm(100, 30, 2, 2, family="gaussian", random_state=0)
    model = LatentBlockModel(2, 2, family="gaussian", n_init=1, random_state=0).fit(X)
    before = X.copy()
    model.predict_proba(X)
    assert np.array_equal(X, before)


def test_dataframe_columns_in_another_order_rejected():
    pd = pytest.importorskip("pandas")
    X, _, _ = make_lbm(120, 30, 3, 2, family="poisson", signal=1.0, random_state=0)
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(30)])
    model = LatentBlockModel(3, 2, n_init=2, random_state=0).fit(frame)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    with pytest.raises(ValueError, match="same order as they were in fit"):
        model.predict(frame[frame.columns[::-1]])
