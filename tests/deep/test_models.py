"""DEC, IDEC and DeepCoclustering on small generated data (CPU, a few seconds each)."""
import subprocess
import sys
import warnings

import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from sklearn.base import clone  # noqa: E402

from coclust_deep.datasets import make_lbm  # noqa: E402
from coclust_deep.deep import DEC, IDEC, DeepCoclustering  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

from ..generators import nb_cell_types  # noqa: E402

SMALL = dict(latent_dim=8, hidden=(32,), batch_size=64, n_init=3, verbose=False)



@pytest.fixture(scope="module")
def fitted(planted):
    X, _, _ = planted
    return DeepCoclustering(3, 2, pretrain_epochs=15, epochs=15, random_state=0, **SMALL).fit(X)


def _counts(sparse=False, seed=1):
    """Poisson LBM whose row clusters differ in composition (what library-size normalisation keeps)."""
    lam = np.array([[6.0, 0.5], [0.5, 6.0], [2.0, 2.0]])
    return make_lbm(240, 60, 3, 2, family="poisson", params={"lambda": lam}, row_effects=True,
                    sparse=sparse, random_state=seed)


def _weak_data_and_view(seed=0):
    """Rows barely separated in X; a 4-feature view carries the row clusters."""
    X, rows, cols = make_lbm(300, 40, 3, 2, family="gaussian", signal=0.1, random_state=seed)
    rng = np.random.default_rng(seed)
    centres = 3.0 * rng.normal(size=(3, 4))
    view = centres[rows] + rng.normal(size=(300, 4))
    return X, rows, view


def test_import_coclust_deep_does_not_import_torch():
    code = "import sys, coclust_deep, coclust_deep.tl; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_dec_idec_recover_planted_rows(cls, planted):
    X, rows, _ = planted
    model = cls(3, pretrain_epochs=20, epochs=20, random_state=0, **SMALL).fit(X)
    assert ari(rows, model.labels_) > 0.95
    assert model.soft_assignments_.shape == (240, 3)
    np.testing.assert_allclose(model.soft_assignments_.sum(1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(model.predict(X), model.labels_)


@pytest.mark.parametrize("cls", [DEC, IDEC])
def test_dec_idec_recover_cells_of_an_independent_nb_simulator(cls):
    X, types = nb_cell_types()  # not make_lbm: k cell types with their own up-regulated genes, varying depth
    model = cls(3, pretrain_epochs=20, epochs=20, random_state=0, **SMALL).fit(X)
    assert ari(types, model.labels_) > 0.95  # measured 1.0 for data seeds 0-2 and random_state 0-3


def test_idec_pretraining_loss_decreases(planted):
    X, _, _ = planted
    model = IDEC(3, pretrain_epochs=10, epochs=0, random_state=0, **SMALL).fit(X)
    loss = model.history_["reconstruction"]
    assert loss[-1] < 0.8 * loss[0]


def test_idec_count_likelihood_on_poisson_counts():
    X, rows, _ = _counts()
    model = IDEC(3, likelihood="nb", pretrain_epochs=20, epochs=10, random_state=0, **SMALL).fit(X)
    assert ari(rows, model.labels_) > 0.9


def test_coclustering_recovers_planted_rows_and_columns(planted, fitted):
    _, rows, cols = planted
    assert ari(rows, fitted.row_labels_) > 0.95
    assert ari(cols, fitted.column_labels_) > 0.95


def test_coclustering_fitted_attribute_shapes(fitted):
    assert fitted.row_embedding_.shape == (240, 8)
    assert fitted.column_embedding_.shape == (60, 8)
    assert fitted.row_soft_assignments_.shape == (240, 3)
    assert fitted.column_soft_assignments_.shape == (60, 2)
    assert fitted.block_means_.shape == (3, 2)
    assert np.all(np.isfinite(fitted.row_embedding_)) and np.all(np.isfinite(fitted.block_means_))
    assert fitted.row_labels_.dtype == np.int64


def test_coclustering_pretraining_loss_decreases(fitted):
    h = fitted.history_
    pre = [loss for loss, phase in zip(h["loss"], h["phase"]) if phase == "pretrain"]
    assert pre[-1] < 0.8 * pre[0]


def test_coclustering_joint_loss_decreases(planted):
    # tol=0: with the default tol the fixture's joint phase stops after one epoch (labels stable), so no trend
    X, _, _ = planted
    model = DeepCoclustering(3, 2, pretrain_epochs=15, epochs=15, tol=0.0, random_state=0, **SMALL).fit(X)
    h = model.history_
    train = [loss for loss, phase in zip(h["loss"], h["phase"]) if phase == "train"]
    assert len(train) == 15 and np.all(np.isfinite(train))
    assert train[-1] < 0.95 * train[0]  # measured 0.904-0.906 over random_state 0-2


@pytest.mark.parametrize("likelihood", ["nb", "zinb"])
def test_coclustering_count_likelihoods_on_sparse_counts(likelihood):
    X, rows, cols = _counts(sparse=True, seed=2)
    model = DeepCoclustering(3, 2, likelihood=likelihood, pretrain_epochs=15, epochs=10, random_state=0,
                             **SMALL).fit(X)
    assert ari(rows, model.row_labels_) > 0.9
    assert ari(cols, model.column_labels_) > 0.9


def test_sparse_input_stays_sparse():
    from coclust_deep.deep._data import MatrixData

    X, _, _ = make_lbm(100, 30, 2, 2, family="poisson", sparse=True, random_state=0)
    data = MatrixData(X, "nb", max_col_input=50, rng=np.random.default_rng(0))
    assert sp.issparse(data.Y) and data.Y.nnz == X.nnz
    assert data.column_input.shape == (30, 50)


def test_shared_feature_scaling_keeps_the_columns_relative_spread():
    from coclust_deep.deep._data import MatrixData

    X = np.random.default_rng(0).normal(size=(200, 3)) * np.array([1.0, 2.0, 4.0])
    per_column = MatrixData(X, "gaussian").inputs(np.arange(200))["input"]
    shared = MatrixData(X, "gaussian", feature_scaling="shared").inputs(np.arange(200))["input"]
    np.testing.assert_allclose(per_column.std(axis=0), 1.0, rtol=1e-4)
    np.testing.assert_allclose(shared.std(axis=0) / shared.std(axis=0)[0], X.std(axis=0) / X.std(axis=0)[0],
                               rtol=1e-4)
    np.testing.assert_allclose(np.sqrt(np.mean(shared.std(axis=0) ** 2)), 1.0, rtol=1e-4)


def test_shared_feature_scale_comes_from_the_columns_the_encoder_reads():
    from coclust_deep.deep._data import MatrixData

    rng = np.random.default_rng(0)
    means = rng.lognormal(-1.0, 1.0, size=100)
    means = np.tile(means, (300, 1))
    means[:150, :20] *= 10.0  # 20 genes mark half the cells: the variable genes kept
    X = rng.poisson(means)
    data = MatrixData(X, "nb", n_top_genes=20, feature_scaling="shared")
    kept = data.inputs(np.arange(300))["input"]
    assert kept.shape == (300, 20)
    np.testing.assert_allclose(np.sqrt(np.mean(kept.std(axis=0) ** 2)), 1.0, rtol=1e-3)
    every_column = MatrixData(X, "nb", feature_scaling="shared").stats["std"][0]
    assert abs(data.stats["std"][0] - every_column) > 0.1 * every_column


def test_column_encoder_reads_row_subsample(planted):
    X, _, cols = planted
    model = DeepCoclustering(3, 2, max_col_input=100, pretrain_epochs=15, epochs=10, random_state=0,
                             **SMALL).fit(X)
    assert model.column_anchors_.shape == (100,) and len(np.unique(model.column_anchors_)) == 100
    assert ari(cols, model.column_labels_) > 0.95


def test_view_with_cluster_signal_improves_rows():
    X, rows, view = _weak_data_and_view()
    kw = dict(pretrain_epochs=20, epochs=10, random_state=0, **SMALL)
    without = DeepCoclustering(3, 2, **kw).fit(X)
    with_view = DeepCoclustering(3, 2, **kw).fit(X, row_views={"protein": view})
    assert ari(rows, with_view.row_labels_) > ari(rows, without.row_labels_) + 0.3
    contrib = with_view.view_contributions_["rows"]
    assert set(contrib) == {"protein"} and contrib["protein"]["observed_fraction"] == 1.0
    assert contrib["protein"]["label_change_without_view"] > 0.1


def test_contrastive_alignment_trains_when_weighted():
    X, rows, view = _weak_data_and_view()
    model = DeepCoclustering(3, 2, alignment_weight=1.0, pretrain_epochs=20, epochs=0, random_state=0, **SMALL)
    model.fit(X, row_views={"protein": view})
    align = model.history_["row_alignment:protein"]
    assert align[-1] < 0.8 * align[0]
    assert ari(rows, model.row_labels_) > 0.5


def test_view_rows_missing_under_mask_are_ignored():
    X, rows, view = _weak_data_and_view()
    view = view.copy()
    mask = np.ones(300, dtype=bool)
    mask[::3] = False
    view[~mask] = np.nan  # allowed where the mask says the view is missing
    model = DeepCoclustering(3, 2, pretrain_epochs=20, epochs=10, random_state=0, **SMALL)
    model.fit(X, row_views={"protein": view}, row_view_masks={"protein": mask})
    assert np.all(np.isfinite(model.row_embedding_))
    assert ari(rows[mask], model.row_labels_[mask]) > 0.6


def test_column_view_with_cluster_signal_improves_columns():
    # columns barely separated in X (signal 0.1); a 5-feature gene view carries the column clusters
    X, _, cols = make_lbm(240, 60, 3, 2, family="gaussian", signal=0.1, random_state=0)
    gene_emb = np.random.default_rng(0).normal(size=(60, 5)) + 3.0 * cols[:, None]
    kw = dict(pretrain_epochs=10, epochs=5, random_state=0, **SMALL)
    without = DeepCoclustering(3, 2, **kw).fit(X)
    with_view = DeepCoclustering(3, 2, **kw).fit(X, col_views={"text": gene_emb})
    # measured over data seeds 0-2: without 0.01 / -0.02 / -0.01, with 0.81 / 0.81 / 0.93
    assert ari(cols, with_view.column_labels_) > ari(cols, without.column_labels_) + 0.5
    assert "col_alignment:text" in with_view.history_
    assert with_view.view_contributions_["columns"]["text"]["label_change_without_view"] > 0.2  # measured 0.35-0.40


def test_deterministic_for_a_random_state(planted):
    X, _, _ = planted
    kw = dict(pretrain_epochs=3, epochs=3, tol=0.0, random_state=7, **SMALL)
    a = DeepCoclustering(3, 2, **kw).fit(X)
    b = DeepCoclustering(3, 2, **kw).fit(X)
    np.testing.assert_array_equal(a.row_embedding_, b.row_embedding_)
    np.testing.assert_array_equal(a.column_labels_, b.column_labels_)
    assert a.history_["loss"] == b.history_["loss"]


def test_fit_leaves_global_torch_rng_alone(planted):
    X, _, _ = planted
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(X)
    assert torch.equal(torch.rand(3), expected)


def test_save_load_round_trip(tmp_path, fitted):
    path = tmp_path / "model.pt"
    fitted.save(path)
    loaded = DeepCoclustering.load(path)
    np.testing.assert_array_equal(loaded.row_labels_, fitted.row_labels_)
    np.testing.assert_array_equal(loaded.column_embedding_, fitted.column_embedding_)
    assert loaded.get_params() == fitted.get_params()
    np.testing.assert_equal(loaded.history_, fitted.history_)
    for key, value in fitted.module_.state_dict().items():
        assert torch.equal(loaded.module_.state_dict()[key], value)
    with pytest.raises(ValueError, match="DeepCoclustering"):
        IDEC.load(path)


def test_dec_save_load_predicts_the_same(tmp_path, planted):
    X, _, _ = planted
    model = IDEC(3, pretrain_epochs=5, epochs=3, random_state=0, **SMALL).fit(X)
    model.save(tmp_path / "idec.pt")
    loaded = IDEC.load(tmp_path / "idec.pt")
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)
    np.testing.assert_allclose(loaded.transform(X), model.embedding_, rtol=1e-6, atol=1e-6)


def test_keyboard_interrupt_keeps_last_completed_epoch(planted, monkeypatch):
    X, _, _ = planted
    calls = {"n": 0}
    original = DeepCoclustering._epoch

    def interrupt_on_fourth(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(DeepCoclustering, "_epoch", interrupt_on_fourth)
    model = DeepCoclustering(3, 2, pretrain_epochs=10, epochs=10, random_state=0, **SMALL)
    with pytest.warns(RuntimeWarning, match="interrupted"):
        model.fit(X)
    assert model.interrupted_ and model.n_epochs_ == {"pretrain": 3, "train": 0}
    assert len(model.history_["loss"]) == 3
    assert model.row_labels_.shape == (240,) and np.all(np.isfinite(model.row_embedding_))


def test_early_stopping_on_label_change(planted):
    X, _, _ = planted
    model = DeepCoclustering(3, 2, pretrain_epochs=15, epochs=200, tol=0.01, random_state=0, **SMALL).fit(X)
    assert model.n_epochs_["train"] < 200


def test_progress_bar_switch(planted, capsys):
    X, _, _ = planted
    DeepCoclustering(3, 2, pretrain_epochs=2, epochs=1, random_state=0, **SMALL).fit(X)
    assert capsys.readouterr().err == ""
    DeepCoclustering(3, 2, pretrain_epochs=2, epochs=1, random_state=0, **{**SMALL, "verbose": True}).fit(X)
    assert "pretrain" in capsys.readouterr().err


def test_clone_and_params():
    model = DeepCoclustering(4, 3, latent_dim=5, likelihood="nb")
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert clone(IDEC(3, gamma=0.5)).gamma == 0.5


def test_fit_does_not_mutate_input(planted):
    X, _, _ = planted
    X = X.copy()
    before = X.copy()
    view = np.random.default_rng(0).normal(size=(240, 3))
    view_before = view.copy()
    DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL).fit(
        X, row_views={"v": view})
    np.testing.assert_array_equal(X, before)
    np.testing.assert_array_equal(view, view_before)


# -- bad input ------------------------------------------------------------------------------------
@pytest.fixture
def tiny():
    return make_lbm(40, 20, 2, 2, family="gaussian", random_state=0)[0]


def test_view_with_wrong_number_of_rows(tiny):
    with pytest.raises(ValueError, match="has 39 rows but X has 40 rows"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, row_views={"img": np.zeros((39, 3))})
    with pytest.raises(ValueError, match="has 40 rows but X has 20 columns"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, col_views={"txt": np.zeros((40, 3))})


def test_nan_in_view(tiny):
    view = np.zeros((40, 3))
    view[5, 1] = np.nan
    with pytest.raises(ValueError, match="NaN.*row_view_masks"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, row_views={"img": view})


def test_bad_view_containers(tiny):
    with pytest.raises(TypeError, match="row_views must be a dict"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, row_views=[np.zeros((40, 3))])
    with pytest.raises(ValueError, match="boolean array of length 40"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, row_views={"a": np.zeros((40, 3))},
                                            row_view_masks={"a": np.ones(40)})
    with pytest.raises(ValueError, match="unknown views"):
        DeepCoclustering(2, 2, **SMALL).fit(tiny, row_views={"a": np.zeros((40, 3))},
                                            row_view_masks={"b": np.ones(40, dtype=bool)})


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "tpu", 3])
def test_unknown_device(tiny, device):
    with pytest.raises(ValueError, match="device"):
        DeepCoclustering(2, 2, device=device, **SMALL).fit(tiny)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU message")
def test_cuda_without_gpu(tiny):
    with pytest.raises(ValueError, match="no CUDA GPU"):
        IDEC(2, device="cuda", **SMALL).fit(tiny)


def test_nan_and_negative_counts_in_x(tiny):
    X = tiny.copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DeepCoclustering(2, 2, **SMALL).fit(X)
    with pytest.raises(ValueError, match="negative values"):
        DeepCoclustering(2, 2, likelihood="nb", **SMALL).fit(tiny - 10)


def test_bad_parameters(tiny):
    with pytest.raises(ValueError, match="n_row_clusters=50"):
        DeepCoclustering(50, 2, **SMALL).fit(tiny)
    with pytest.raises(ValueError, match="likelihood"):
        DeepCoclustering(2, 2, likelihood="poisson", **SMALL).fit(tiny)
    with pytest.raises(ValueError, match="block_weight"):
        DeepCoclustering(2, 2, block_weight=-1, **SMALL).fit(tiny)
    with pytest.raises(ValueError, match="feature_scaling must be one of"):
        DeepCoclustering(2, 2, feature_scaling="auto", **SMALL).fit(tiny)
    with pytest.raises(ValueError, match="hidden"):
        DEC(2, hidden=(0,), verbose=False).fit(tiny)


def test_save_before_fit(tmp_path):
    with pytest.raises(ValueError, match="not fitted"):
        DEC(2).save(tmp_path / "x.pt")


def test_warning_free_fit(planted):
    X, _, _ = planted
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        IDEC(3, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(X)


@pytest.mark.parametrize("likelihood", ["gaussian", "nb"])
def test_all_zero_rows_and_columns_are_handled(likelihood):
    X, _, _ = _counts(sparse=True)
    X = X.tolil()
    X[3, :] = 0
    X[:, 7] = 0
    X = X.tocsr()
    model = DeepCoclustering(3, 2, likelihood=likelihood, pretrain_epochs=3, epochs=2, random_state=0, **SMALL)
    if likelihood == "nb":  # a cell without counts is left out of training, with a warning
        with pytest.warns(UserWarning, match="zero counts"):
            model.fit(X)
    else:
        model.fit(X)
    assert np.all(np.isfinite(model.row_soft_assignments_))
    assert np.all(np.isfinite(model.column_embedding_))
    assert np.all(np.isfinite(model.history_["loss"]))


# -- feature names and saved-file format ------------------------------------------------------------
def test_feature_names_from_a_dataframe_are_checked_by_transform(planted):
    pd = pytest.importorskip("pandas")
    X, _, _ = planted
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])])
    model = IDEC(3, pretrain_epochs=2, epochs=1, random_state=0, **SMALL).fit(frame)
    np.testing.assert_array_equal(model.feature_names_in_, frame.columns)
    assert model.n_features_in_ == 60
    np.testing.assert_array_equal(model.predict(frame), model.labels_)
    with pytest.raises(ValueError, match="feature names should match"):
        model.transform(frame.rename(columns={"g0": "other"}))
    with pytest.raises(ValueError, match="X has 59 features, but IDEC is expecting 60"), \
            pytest.warns(UserWarning, match="does not have valid feature names"):
        model.predict(X[:, 1:])


def test_feature_names_given_to_fit_for_sparse_input(planted):
    X, _, _ = planted
    names = [f"gene{j}" for j in range(X.shape[1])]
    model = DeepCoclustering(3, 2, pretrain_epochs=1, epochs=1, random_state=0, **SMALL)
    model.fit(sp.csr_matrix(X), feature_names=names)
    assert list(model.feature_names_in_) == names
    with pytest.raises(ValueError, match="60 strings"):
        model.fit(X, feature_names=names[:-1])


def test_dec_fits_and_predicts_sparse_input(planted):
    X, _, _ = planted
    model = DEC(3, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(sp.csr_matrix(X))
    np.testing.assert_array_equal(model.predict(sp.csr_matrix(X)), model.labels_)


def test_saved_file_keeps_feature_names_and_rejects_other_versions(tmp_path, planted):
    pd = pytest.importorskip("pandas")
    X, _, _ = planted
    frame = pd.DataFrame(X, columns=[f"g{j}" for j in range(X.shape[1])])
    model = DEC(3, pretrain_epochs=2, epochs=1, random_state=0, **SMALL).fit(frame)
    path = tmp_path / "dec.pt"
    model.save(path)
    loaded = DEC.load(path)
    np.testing.assert_array_equal(loaded.feature_names_in_, model.feature_names_in_)
    with pytest.raises(ValueError, match="feature names should match"):
        loaded.predict(frame.rename(columns={"g5": "x"}))
    state = torch.load(path, weights_only=True)
    for version in (1, 99):
        if version == 1:
            del state["format_version"]  # files written before the version was recorded
        else:
            state["format_version"] = version
        torch.save(state, tmp_path / "other.pt")
        with pytest.raises(ValueError, match=f"file format {version}.*refit the model and save it again"):
            DEC.load(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="a loaded model cannot resume"):
        loaded.fit(frame, resume=True)


@pytest.mark.parametrize("cls", [IDEC, DeepCoclustering])
def test_huge_column_is_standardised_not_nan(cls, tiny):
    """A column of 1e20 overflowed float32 moments and surfaced as KMeans' 'Input X contains NaN'."""
    X = tiny.copy()
    X[:, 0] = 1e20 * np.random.default_rng(0).random(40)
    args = (2, 2) if cls is DeepCoclustering else (2,)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = cls(*args, pretrain_epochs=2, epochs=2, random_state=0, **SMALL).fit(X)
    assert np.all(np.isfinite(model.history_["loss"]))
    X[0, 0] = 1e39
    with pytest.raises(ValueError, match="values up to 1e\\+39, beyond the float32 range"):
        cls(*args, **SMALL).fit(X)


def test_global_scale_of_a_float32_column_near_its_maximum_is_its_std():
    """A column at +-1e37 overflowed the float32 sum of Y: y_scale fell back to 1 and every output was NaN."""
    from coclust_deep.deep._data import MatrixData

    X = np.random.default_rng(0).normal(size=(120, 40))
    X[:, 2] = 1e37
    X[0, 2] = -1e37
    np.testing.assert_allclose(MatrixData(X, "gaussian").stats["y_scale"], X.std(), rtol=1e-6)


def test_small_units_are_standardised_like_ordinary_ones():
    """Absolute floors (std < 1e-8 is constant) fed X * 1e-9 to the encoders unscaled: one cluster."""
    from coclust_deep.deep._data import MatrixData, check_views

    X = np.random.default_rng(0).normal(size=(60, 8))
    big, small = (MatrixData(s * X, "gaussian", max_col_input=30, rng=np.random.default_rng(0)) for s in (1.0, 1e-9))
    rows = np.arange(60)
    for key in ("input", "block"):
        np.testing.assert_allclose(small.rows(rows)[key], big.rows(rows)[key], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(small.column_input, big.column_input, rtol=1e-5, atol=1e-5)
    views = [check_views({"v": s * X}, None, 60, axis="rows", kind="row")["v"][0] for s in (1.0, 1e-9)]
    np.testing.assert_allclose(views[1], views[0], rtol=1e-5, atol=1e-5)


def test_images_in_small_units_are_standardised_like_ordinary_ones():
    """A channel std below 1e-8 counted as constant: images in tiny units reached the network unscaled."""
    from coclust_deep.deep._images import ImageData

    images = np.random.default_rng(0).uniform(size=(20, 2, 6, 6))
    big, small = (ImageData(s * images) for s in (1.0, 1e-9))
    np.testing.assert_allclose(small.Z, big.Z, rtol=1e-4, atol=1e-4)


def test_views_near_the_float64_maximum_are_standardised():
    """The mean and std of a view of ~1e300 (or 1.7e308) overflowed: an all-zero view, or NaN reaching KMeans."""
    from coclust_deep.deep._data import check_views

    rng = np.random.default_rng(0)
    V = np.c_[rng.normal(size=(50, 2)), np.sign(rng.normal(size=50))]
    ordinary = check_views({"v": V}, None, 50, axis="rows", kind="row")["v"][0]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huge = check_views({"v": V * [1e300, 1e300, 1.7e308]}, None, 50, axis="rows", kind="row")["v"][0]
    np.testing.assert_allclose(huge, ordinary, rtol=1e-6, atol=1e-6)
