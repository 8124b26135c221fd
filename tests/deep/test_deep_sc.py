"""DeepCoclustering on counts with its single-cell defaults: likelihood="auto", gene selection, k estimation."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import homogeneity_score

torch = pytest.importorskip("torch")

from coclust_deep.datasets import make_lbm  # noqa: E402
from coclust_deep.deep import DeepCoclustering  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

from ..generators import handwritten_lbm, nb_cell_types  # noqa: E402
from .test_train import _assert_same_fit, _interrupt_on_update  # noqa: E402

SMALL = dict(latent_dim=8, hidden=(32,), batch_size=64, n_init=3, verbose=False)


def _poisson_lbm(seed=1, sparse=False):
    lam = np.array([[6.0, 0.5], [0.5, 6.0], [2.0, 2.0]])
    return make_lbm(240, 60, 3, 2, family="poisson", params={"lambda": lam}, row_effects=True, sparse=sparse,
                    random_state=seed)


# -- likelihood="auto" ------------------------------------------------------------------------------
def test_auto_picks_nb_for_counts():
    X, _, _ = _poisson_lbm(sparse=True)
    model = DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(X)
    assert model.likelihood == "auto" and model.likelihood_ == "nb"
    assert model.input_noise_ == 1.5


@pytest.mark.parametrize("transform", [np.log1p, lambda X: X - 3.0], ids=["log-normalised", "negative ints"])
def test_auto_picks_gaussian_otherwise(transform):
    X, _, _ = _poisson_lbm()
    model = DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(transform(X))
    assert model.likelihood_ == "gaussian" and model.input_noise_ == 0.0
    assert model.zero_count_rows_.size == 0


@pytest.mark.parametrize("feature_scaling, n_scales", [("per_feature", 60), ("shared", 1)])
def test_feature_scaling_sets_how_many_gene_scales_the_encoder_input_has(feature_scaling, n_scales):
    X, _, _ = _poisson_lbm()
    model = DeepCoclustering(3, 2, feature_scaling=feature_scaling, pretrain_epochs=1, epochs=1, random_state=0,
                             **SMALL).fit(X)
    assert len(np.unique(model.preprocessing_["std"])) == n_scales


def test_count_likelihood_refuses_non_integers():
    X, _, _ = _poisson_lbm()
    with pytest.raises(ValueError, match="non-integer values .*raw counts"):
        DeepCoclustering(3, 2, likelihood="nb", **SMALL).fit(X + 0.5)


def test_nan_counts_are_refused():
    X, _, _ = _poisson_lbm()
    X[2, 3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DeepCoclustering(3, 2, **SMALL).fit(X)


def test_more_row_clusters_than_cells():
    X, _, _ = _poisson_lbm()
    with pytest.raises(ValueError, match="n_row_clusters=241"):
        DeepCoclustering(241, 2, **SMALL).fit(X)


def test_zero_count_cells_warn_and_are_labelled_without_training_on_them():
    X, _, _ = _poisson_lbm()
    X[[5, 17]] = 0
    with pytest.warns(UserWarning, match=r"2 row\(s\) of X have zero counts"):
        model = DeepCoclustering(3, 2, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(X)
    np.testing.assert_array_equal(model.zero_count_rows_, [5, 17])
    assert model.row_labels_.shape == (240,) and np.all(np.isfinite(model.row_soft_assignments_))
    with pytest.raises(ValueError, match="every row of X has zero counts"):
        DeepCoclustering(3, 2, likelihood="nb", **SMALL).fit(np.zeros((20, 5)))


def test_fewer_cells_with_counts_than_row_clusters_raises():
    X = np.zeros((50, 20))
    X[3:5] = 2
    with pytest.warns(UserWarning, match="zero counts"), pytest.raises(ValueError, match="only 2 rows of X have"):
        DeepCoclustering(3, 2, **SMALL).fit(X)


def test_gene_selection_when_there_are_many_genes():
    X, _ = nb_cell_types(n_genes=120)
    X[:, 7] = 0
    model = DeepCoclustering(3, 2, n_top_genes=50, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(X)
    assert model.selected_features_.shape == (120,) and model.selected_features_.sum() == 50
    assert not model.selected_features_[7]
    assert model.module_.rows.encoder[0].in_features == 50
    assert model.column_labels_.shape == (120,)  # the gene side keeps every gene


def test_no_gene_selection_below_n_top_genes():
    X, _ = nb_cell_types(n_genes=60)
    model = DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(X)
    assert model.selected_features_.all()


# -- training -----------------------------------------------------------------------------------------
def test_recovers_planted_cells_from_own_generator():
    X, rows, _ = _poisson_lbm()
    model = DeepCoclustering(3, 2, pretrain_epochs=20, epochs=10, random_state=0, **SMALL).fit(X)
    assert ari(rows, model.row_labels_) > 0.9


def test_recovers_planted_cells_from_an_nb_simulator():
    X, types = nb_cell_types()
    model = DeepCoclustering(3, 2, pretrain_epochs=20, epochs=10, random_state=0, **SMALL).fit(X)
    assert ari(types, model.row_labels_) > 0.9


@pytest.fixture(scope="module")
def handwritten_fit():
    X, rows, cols = handwritten_lbm("poisson", n_rows=400, n_cols=90)
    model = DeepCoclustering(4, 3, pretrain_epochs=20, epochs=10, random_state=0, **SMALL).fit(X)
    return model, rows, cols


def test_recovers_planted_rows_from_the_handwritten_generator(handwritten_fit):
    model, rows, _ = handwritten_fit
    assert model.likelihood_ == "nb"
    # 0.8, not 0.9: the NB decoder normalises by library size, and row clusters 0 and 3 of this generator
    # (lambda [1, 4, 2] and [2, 6, 4]) differ mostly in their totals, which that discards by design
    assert ari(rows, model.row_labels_) > 0.8


def test_recovers_planted_columns_from_the_handwritten_generator(handwritten_fit):
    model, _, cols = handwritten_fit
    assert ari(cols, model.column_labels_) > 0.95  # measured 1.0 for generator seeds 0-2


def test_pretraining_loss_decreases():
    X, _ = nb_cell_types()
    model = DeepCoclustering(3, 2, pretrain_epochs=15, epochs=0, random_state=0, **SMALL).fit(X)
    loss = np.asarray(model.history_["row_reconstruction"])
    smooth = np.convolve(loss, np.ones(3) / 3, mode="valid")
    assert loss[-1] < 0.9 * loss[0]
    assert np.all(np.diff(smooth) < 1e-3 * loss[0])  # monotone up to minibatch and input noise


def test_same_seed_same_result():
    X, _ = nb_cell_types()
    a = DeepCoclustering(3, 2, pretrain_epochs=3, epochs=3, random_state=4, **SMALL).fit(X)
    b = DeepCoclustering(3, 2, pretrain_epochs=3, epochs=3, random_state=4, **SMALL).fit(X)
    _assert_same_fit(a, b)


# -- number of row clusters -----------------------------------------------------------------------------
def test_n_row_clusters_estimated_with_leiden():
    X, types = nb_cell_types()
    model = DeepCoclustering(None, 2, pretrain_epochs=20, epochs=5, random_state=0, **SMALL).fit(X)
    how = model.n_row_clusters_estimation_
    assert how["method"].startswith("leiden") and how["resolution"] == 1.0
    assert 3 <= model.n_row_clusters_ == how["n_clusters"] == model.row_soft_assignments_.shape[1] <= 10
    # leiden may split a type (it has no notion of "type"), but never mixes two
    assert homogeneity_score(types, model.row_labels_) > 0.9


def test_save_load_with_estimated_k(tmp_path):
    X, _ = nb_cell_types()
    model = DeepCoclustering(None, 2, pretrain_epochs=5, epochs=2, random_state=0, **SMALL).fit(X)
    model.save(tmp_path / "m.pt")
    loaded = DeepCoclustering.load(tmp_path / "m.pt")
    assert loaded.n_row_clusters_ == model.n_row_clusters_
    np.testing.assert_array_equal(loaded.row_labels_, model.row_labels_)


@pytest.mark.parametrize("n_row_clusters, at", [(3, 4 * 3 + 2), (None, 4 * 3 + 2), (None, 4 * 6 + 2)],
                         ids=["k given, in pretraining", "k estimated, in pretraining", "k estimated, in training"])
def test_resume_after_keyboard_interrupt(n_row_clusters, at, monkeypatch):
    X, _ = nb_cell_types(n_cells=240)  # 4 batches of 64 per epoch
    make = lambda: DeepCoclustering(n_row_clusters, 2, pretrain_epochs=5, epochs=4, tol=0.0,  # noqa: E731
                                    random_state=0, **SMALL)
    reference = make().fit(X)
    model = make()
    _interrupt_on_update(monkeypatch, at)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert model.interrupted_ and model.row_labels_.shape == (240,)
    monkeypatch.undo()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, resume=True)
    _assert_same_fit(reference, model)
    assert model.n_row_clusters_ == reference.n_row_clusters_


def test_sparse_and_dense_counts_agree():
    X, _, _ = _poisson_lbm()
    a = DeepCoclustering(3, 2, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(X)
    b = DeepCoclustering(3, 2, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(a.row_embedding_, b.row_embedding_, rtol=1e-4, atol=1e-4)
