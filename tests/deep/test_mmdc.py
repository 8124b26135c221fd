"""MMDC: fixed targets, per-batch Hungarian reassignment, refinement, auxiliary tasks, inputs, views, plan."""
import itertools

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from coclust_deep.datasets import make_lbm
from coclust_deep.deep import MMDC
from coclust_deep.deep._train import Epoch
from coclust_deep.deep.mmdc import align_labels, assign_targets, sample_targets
from coclust_deep.metrics import ari
from tests.generators import handwritten_lbm

ROWS = dict(hidden=(32, 16), batch_size=32, epochs=60, n_init=2, device="cpu", verbose=False, random_state=0)
IMAGES = dict(channels=(8, 16), batch_size=32, epochs=12, optimizer="adam", n_init=2, device="cpu", verbose=False, random_state=0)


def gaussian_mixture(n_per=(50, 50, 50), dim=20, seed=0):
    """A hand-written Gaussian mixture: one mean per cluster drawn at distance ~4 from the others."""
    rng = np.random.default_rng(seed)
    means = rng.normal(0.0, 1.0, size=(len(n_per), dim)) * 1.0
    X = np.vstack([rng.normal(means[c], 1.0, size=(n, dim)) for c, n in enumerate(n_per)])
    labels = np.repeat(np.arange(len(n_per)), n_per)
    order = rng.permutation(len(labels))
    return X[order], labels[order]


def shape_images(n_per=30, size=8, seed=0):
    """Planted image clusters: a horizontal bar, a vertical bar and a ring, each with noise."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((3, size, size), dtype=np.float32)
    protos[0, size // 2 - 1:size // 2 + 1, 1:-1] = 1.0
    protos[1, 1:-1, size // 2 - 1:size // 2 + 1] = 1.0
    protos[2, 1:-1, 1] = protos[2, 1:-1, -2] = protos[2, 1, 1:-1] = protos[2, -2, 1:-1] = 1.0
    labels = np.repeat(np.arange(3), n_per)
    X = protos[labels] + rng.normal(0.0, 0.3, size=(len(labels), size, size)).astype(np.float32)
    order = rng.permutation(len(labels))
    return X[order], labels[order]


def _batches_per_pass(n, settings):
    return -(-n // settings["batch_size"])


@pytest.fixture(scope="module")
def mixture():
    return gaussian_mixture()


@pytest.fixture(scope="module")
def fitted(mixture):
    X, _ = mixture
    return MMDC(3, **ROWS).fit(X)


# -- the pieces -----------------------------------------------------------------------------------
def test_targets_are_one_hot_on_the_unit_sphere_and_balanced():
    targets = sample_targets(101, 4, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0)
    assert set(np.unique(targets)) == {0.0, 1.0}
    assert np.bincount(targets.argmax(axis=1)).tolist() == [26, 25, 25, 25]


def test_targets_with_sigma_stay_on_the_unit_sphere():
    targets = sample_targets(200, 5, sigma=0.3, rng=np.random.default_rng(0))
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0, rtol=1e-6)
    assert len(np.unique(targets.round(6), axis=0)) == 200


def test_assignment_is_a_permutation_of_the_batch():
    rng = np.random.default_rng(0)
    outputs = rng.normal(size=(64, 5))
    targets = np.eye(5)[rng.integers(0, 5, size=64)]
    perm = assign_targets(outputs, targets)
    assert sorted(perm.tolist()) == list(range(64))


def test_assignment_minimises_the_summed_distance():
    rng = np.random.default_rng(1)
    outputs, targets = rng.normal(size=(6, 3)), rng.normal(size=(6, 3))
    cost = lambda p: np.linalg.norm(outputs - targets[list(p)], axis=1).sum()  # noqa: E731
    best = min(itertools.permutations(range(6)), key=cost)
    assert cost(assign_targets(outputs, targets)) == pytest.approx(cost(best))


def test_align_labels_renames_a_permuted_partition_back():
    previous = np.repeat(np.arange(4), 5)
    renamed = np.array([2, 0, 3, 1])[previous]
    np.testing.assert_array_equal(align_labels(renamed, previous, 4), previous)


def test_align_labels_with_a_missing_cluster_is_still_a_renaming():
    previous = np.repeat(np.arange(3), 4)
    labels = np.array([1] * 6 + [2] * 6)  # cluster 0 unused
    aligned = align_labels(labels, previous, 3)
    assert len(np.unique(aligned)) == 2 and ari(labels, aligned) == 1.0


def test_reassignment_permutes_targets_only_within_each_batch(mixture, monkeypatch):
    """Wrap each batch's reassignment inside fit: the batch's rows swap targets among themselves, nothing else moves."""
    X, _ = mixture
    batches = []
    original = MMDC._reassign

    def spy(self, module, batch, targets, idx):
        before = targets.copy()
        original(self, module, batch, targets, idx)
        others = np.setdiff1d(np.arange(len(targets)), idx)
        np.testing.assert_array_equal(targets[others], before[others])
        moved = [np.flatnonzero((before[idx] == row).all(axis=1)) for row in targets[idx]]
        assert all(len(m) for m in moved)  # every new target of the batch was one of its old targets
        np.testing.assert_array_equal(np.sort(before[idx], axis=0), np.sort(targets[idx], axis=0))
        batches.append(idx.copy())

    monkeypatch.setattr(MMDC, "_reassign", spy)
    model = MMDC(3, **{**ROWS, "epochs": 2, "refine_epoch": None}).fit(X)
    per_epoch = _batches_per_pass(150, ROWS)
    assert len(batches) == 2 * per_epoch
    assert sorted(np.concatenate(batches[-per_epoch:]).tolist()) == list(range(150))  # an epoch's batches partition the rows
    targets = model._training_state.checkpoint.state["targets"]
    np.testing.assert_allclose(np.linalg.norm(targets, axis=1), 1.0)
    assert np.bincount(targets.argmax(axis=1)).tolist() == [50, 50, 50]  # the multiset never changes


# -- the fitted model -----------------------------------------------------------------------------
def test_outputs_lie_on_the_unit_sphere_and_labels_are_their_argmax(fitted):
    np.testing.assert_allclose(np.linalg.norm(fitted.outputs_, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(fitted.labels_, fitted.outputs_.argmax(axis=1))
    assert fitted.embedding_.shape == (150, 16)


def test_clustering_loss_decreases(fitted):
    mse = fitted.history_["target_mse"]
    assert mse[-1] < 0.5 * mse[0]


def test_auxiliary_loss_decreases(fitted):
    aux = fitted.history_["masked_features"]
    assert fitted.aux_task_ == "masked_features" and aux[-1] < 0.8 * aux[0]  # measured 0.66-0.69, random_state 0-2


def test_refinement_epochs_are_marked(fitted):
    start = round(0.4 * ROWS["epochs"])  # refine_epoch=0.4 by default
    assert fitted.history_["refining"] == [0.0] * start + [1.0] * (ROWS["epochs"] - start)


def test_recovers_the_handwritten_gaussian_mixture(fitted, mixture):
    _, labels = mixture
    assert ari(labels, fitted.labels_) > 0.95


def test_recovers_a_gaussian_lbm(planted):
    X, rows, _ = planted
    assert ari(rows, MMDC(3, **ROWS).fit_predict(X)) > 0.95


def test_recovers_poisson_counts_from_the_handwritten_generator():
    X, rows, _ = handwritten_lbm("poisson", n_rows=240, n_cols=60)
    # counts are normalised by cell totals: row clusters 0 and 3 differ in depth, not composition; keep 0-2
    X, rows = X[rows < 3], rows[rows < 3]
    model = MMDC(3, **ROWS).fit(X)
    assert model.input_type_ == "counts"
    assert ari(rows, model.labels_) > 0.95


def test_sparse_counts_equal_dense_counts():
    X, _, _ = make_lbm(90, 30, 3, 2, family="poisson", signal=1.0, random_state=0)
    dense = MMDC(3, **{**ROWS, "epochs": 2}).fit(X)
    sparse = MMDC(3, **{**ROWS, "epochs": 2}).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(dense.outputs_, sparse.outputs_, rtol=1e-5, atol=1e-6)


def test_recovers_planted_image_clusters_with_the_rotation_task():
    X, labels = shape_images()
    model = MMDC(3, **IMAGES).fit(X)
    assert model.input_type_ == "image" and model.aux_task_ == "rotation"
    assert model.history_["rotation"][-1] < model.history_["rotation"][0]
    assert ari(labels, model.labels_) > 0.9


def test_images_with_channels_and_without_rotation():
    X, labels = shape_images(size=10)
    model = MMDC(3, aux_task="none", **IMAGES).fit(np.repeat(X[:, None], 2, axis=1))
    assert model.image_shape_ == (2, 10, 10) and "rotation" not in model.history_
    assert ari(labels, model.labels_) > 0.9


def test_non_square_images_get_no_rotation_task():
    X = np.random.default_rng(0).random((20, 6, 8))
    model = MMDC(2, **{**IMAGES, "epochs": 1}).fit(X)
    assert model.aux_task_ == "none"
    with pytest.raises(ValueError, match="square"):
        MMDC(2, aux_task="rotation", **IMAGES).fit(X)


def test_refinement_frees_the_equal_size_prior():
    """Unbalanced planted clusters (120/30/30): refinement lets the big cluster keep its rows."""
    X, labels = gaussian_mixture(n_per=(120, 30, 30), seed=2)
    balanced = MMDC(3, **{**ROWS, "refine_epoch": None}).fit(X)
    refined = MMDC(3, **ROWS).fit(X)
    assert np.bincount(balanced.labels_).max() < 80  # fixed targets: about 60 per cluster
    assert np.bincount(refined.labels_).max() > 100
    assert ari(labels, refined.labels_) > 0.9 > 0.6 > ari(labels, balanced.labels_)


def test_a_view_with_the_structure_changes_the_clusters():
    """X cannot tell clusters 1 and 2 apart, a second modality can: with it MMDC finds all three."""
    rng = np.random.default_rng(0)
    labels = rng.permutation(np.repeat(np.arange(3), 50))
    means = rng.normal(size=(3, 20))
    means[2] = means[1]
    X = means[labels] + rng.normal(size=(150, 20))
    view = 2.0 * rng.normal(size=(3, 5))[labels] + rng.normal(size=(150, 5))
    alone = MMDC(3, **ROWS).fit(X)
    both = MMDC(3, **ROWS).fit(X, row_views={"protein": view})
    assert both.view_names_ == ["protein"]
    assert ari(labels, alone.labels_) < 0.6 < 0.9 < ari(labels, both.labels_)
    assert not np.allclose(alone.embedding_, both.embedding_)
    np.testing.assert_array_equal(both.predict(X, row_views={"protein": view}), both.labels_)


def test_views_may_be_missing_for_some_rows(mixture):
    X, labels = mixture
    masks = {"extra": np.arange(150) % 3 != 0}
    model = MMDC(3, **ROWS).fit(X, row_views={"extra": np.random.default_rng(0).normal(size=(150, 4))},
                                row_view_masks=masks)
    assert ari(labels, model.labels_) > 0.9
    assert model.predict(X).shape == (150,)  # no views at predict: every row lacks them


# -- plan: determinism, save/load, interrupt/resume -------------------------------------------------
def test_same_seed_same_fit(mixture, fitted):
    X, _ = mixture
    again = MMDC(3, **ROWS).fit(X)
    np.testing.assert_array_equal(again.outputs_, fitted.outputs_)
    np.testing.assert_equal(again.history_, fitted.history_)


def test_other_seed_other_fit(mixture, fitted):
    X, _ = mixture
    other = MMDC(3, **{**ROWS, "random_state": 1}).fit(X)
    assert not np.array_equal(other.outputs_, fitted.outputs_)


def test_save_load_round_trip(fitted, mixture, tmp_path):
    X, _ = mixture
    fitted.save(tmp_path / "mmdc.pt")
    loaded = MMDC.load(tmp_path / "mmdc.pt")
    np.testing.assert_array_equal(loaded.labels_, fitted.labels_)
    np.testing.assert_allclose(loaded.predict_outputs(X), fitted.outputs_, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.transform(X), fitted.embedding_, rtol=1e-5, atol=1e-6)
    assert loaded.aux_task_ == "masked_features" and loaded.get_params() == fitted.get_params()


def test_save_load_keeps_the_principal_axes(tmp_path):
    X, _, _ = handwritten_lbm("poisson", n_rows=120, n_cols=40)
    model = MMDC(3, **{**ROWS, "epochs": 2, "n_pcs": 5}).fit(X)
    model.save(tmp_path / "mmdc.pt")
    loaded = MMDC.load(tmp_path / "mmdc.pt")
    np.testing.assert_array_equal(loaded.module_.backbone[0].axes, model.module_.backbone[0].axes)
    np.testing.assert_allclose(loaded.predict_outputs(X), model.outputs_, rtol=1e-5, atol=1e-6)


def test_save_load_images(tmp_path):
    X, _ = shape_images()
    model = MMDC(3, **{**IMAGES, "epochs": 2}).fit(X)
    model.save(tmp_path / "mmdc.pt")
    loaded = MMDC.load(tmp_path / "mmdc.pt")
    assert loaded.image_shape_ == (1, 8, 8)
    np.testing.assert_array_equal(loaded.predict(X), model.labels_)


def _interrupt_on_update(monkeypatch, n):
    calls = {"n": 0}
    original = Epoch.update

    def update(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Epoch, "update", update)


@pytest.mark.parametrize("kind", ["rows", "images"])
def test_resume_after_interrupt_equals_uninterrupted_fit(kind, mixture, monkeypatch):
    """Interrupted inside the refinement stage, resumed: bit-identical to a fit that was never interrupted."""
    X = mixture[0] if kind == "rows" else shape_images()[0]
    settings = {**(ROWS if kind == "rows" else IMAGES), "epochs": 6}
    reference = MMDC(3, **settings).fit(X)
    model = MMDC(3, **settings)
    per_epoch = 2 * _batches_per_pass(len(X), settings)  # an auxiliary and a clustering pass
    _interrupt_on_update(monkeypatch, 4 * per_epoch + 3)  # inside epoch 5
    with pytest.warns(RuntimeWarning, match="resume=True"):
        model.fit(X)
    assert model.interrupted_ and model.n_epochs_ == {"train": 4}
    assert model.labels_.shape == (len(X),)
    monkeypatch.undo()
    model.fit(X, resume=True)
    assert not model.interrupted_ and model.n_epochs_ == {"train": 6}
    np.testing.assert_array_equal(model.outputs_, reference.outputs_)
    np.testing.assert_equal(model.history_, reference.history_)


def test_resume_inside_pretraining_equals_uninterrupted_fit(mixture, monkeypatch):
    X = mixture[0]
    settings = {**ROWS, "pretrain_epochs": 4, "epochs": 2}
    reference = MMDC(3, **settings).fit(X)
    model = MMDC(3, **settings)
    _interrupt_on_update(monkeypatch, 2 * _batches_per_pass(len(X), settings) + 1)  # inside pretraining epoch 3
    with pytest.warns(RuntimeWarning, match="resume=True"):
        model.fit(X)
    assert model.interrupted_ and model.n_epochs_ == {"pretrain": 2, "train": 0}
    monkeypatch.undo()
    model.fit(X, resume=True)
    assert model.n_epochs_ == {"pretrain": 4, "train": 2}
    np.testing.assert_array_equal(model.outputs_, reference.outputs_)


def test_pretraining_trains_the_auxiliary_task_alone(mixture):
    model = MMDC(3, **{**ROWS, "pretrain_epochs": 6, "epochs": 2}).fit(mixture[0])
    history = model.history_
    assert history["phase"] == ["pretrain"] * 6 + ["train"] * 2
    pretraining = history["masked_features"][:6]
    assert np.all(np.isnan(history["target_mse"][:6])) and pretraining[-1] < pretraining[0]


def test_pretraining_recovers_the_handwritten_gaussian_mixture(mixture):
    X, labels = mixture
    assert ari(labels, MMDC(3, **{**ROWS, "pretrain_epochs": 10}).fit_predict(X)) > 0.95


def test_pretraining_leaves_the_views_out(mixture, monkeypatch):
    """The pretraining passes run the backbone alone; the training passes fuse the view."""
    import coclust_deep.deep._module_mmdc as module

    seen, real = [], module.MMDCModule.masked_loss

    def recording(self, x_masked, x, mask, views=None, masks=None):
        seen.append(views is not None)
        return real(self, x_masked, x, mask, views, masks)

    monkeypatch.setattr(module.MMDCModule, "masked_loss", recording)
    X = mixture[0]
    settings = {**ROWS, "pretrain_epochs": 1, "epochs": 1}
    MMDC(3, **settings).fit(X, row_views={"v": np.random.default_rng(0).normal(size=(len(X), 3))})
    per_pass = _batches_per_pass(len(X), settings)
    assert seen == [False] * per_pass + [True] * per_pass


def test_resume_with_another_pretraining_length_raises(mixture):
    model = MMDC(3, **{**ROWS, "epochs": 1}).fit(mixture[0])
    with pytest.raises(ValueError, match=r"\['pretrain_epochs'\] changed since"):
        model.set_params(pretrain_epochs=2).fit(mixture[0], resume=True)


def test_pretraining_without_an_auxiliary_task_raises():
    with pytest.raises(ValueError, match="pretrain_epochs=3 trains the auxiliary task alone"):
        MMDC(2, **{**ROWS, "pretrain_epochs": 3, "aux_task": "none"}).fit(np.random.default_rng(0).normal(size=(20, 5)))


def test_resume_with_more_epochs_continues(mixture):
    X, _ = mixture
    model = MMDC(3, **{**ROWS, "epochs": 3, "refine_epoch": None}).fit(X)
    model.set_params(epochs=5).fit(X, resume=True)
    assert model.n_epochs_ == {"train": 5} and len(model.history_["loss"]) == 5


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(10,), (4, 2, 3, 5, 5)])
def test_wrong_image_rank_raises(shape):
    with pytest.raises(ValueError, match=r"\(n, C, H, W\) or \(n, H, W\)"):
        MMDC(2, input_type="image", **IMAGES).fit(np.zeros(shape))


def test_flat_images_get_a_reshape_hint():
    with pytest.raises(ValueError, match="reshape"):
        MMDC(2, input_type="image", **IMAGES).fit(np.zeros((10, 64)))


def test_channel_last_images_raise():
    with pytest.raises(ValueError, match="channel-last"):
        MMDC(2, **IMAGES).fit(np.zeros((10, 8, 8, 3)))


@pytest.mark.parametrize("kind", ["rows", "images"])
def test_nan_raises(kind):
    X = np.ones((10, 6)) if kind == "rows" else np.ones((10, 6, 6))
    X[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MMDC(2, **ROWS).fit(X)


def test_more_clusters_than_samples_raises():
    with pytest.raises(ValueError, match="n_clusters=11 is more clusters than the 10 samples"):
        MMDC(11, **ROWS).fit(np.random.default_rng(0).normal(size=(10, 4)))


def test_view_with_the_wrong_number_of_rows_raises(mixture):
    X, _ = mixture
    with pytest.raises(ValueError, match="has 149 rows but X has 150"):
        MMDC(3, **ROWS).fit(X, row_views={"protein": np.zeros((149, 3))})


def test_predict_with_other_image_shape_raises():
    X, _ = shape_images()
    model = MMDC(3, **{**IMAGES, "epochs": 1}).fit(X)
    with pytest.raises(ValueError, match="fitted on"):
        model.predict(np.zeros((4, 9, 9)))


@pytest.mark.parametrize("n_features", [50, 70])
def test_predict_with_another_number_of_count_columns_raises(n_features):
    X = np.random.default_rng(0).poisson(2.0, size=(40, 60)).astype(float)
    model = MMDC(3, **{**ROWS, "epochs": 1}).fit(X)
    other = np.random.default_rng(1).poisson(2.0, size=(5, n_features)).astype(float)
    with pytest.raises(ValueError, match=f"X has {n_features} features, but MMDC is expecting 60"):
        model.predict(other)


def test_predict_on_one_unreshaped_row_says_how_to_reshape(fitted, mixture):
    X, _ = mixture
    with pytest.raises(ValueError, match=r"reshape a single row with X.reshape\(1, -1\)"):
        fitted.predict(X[0])


def test_n_pcs_on_images_raises():
    with pytest.raises(ValueError, match="images go to the ConvNet"):
        MMDC(2, **{**IMAGES, "n_pcs": 5}).fit(np.zeros((12, 8, 8)))


@pytest.mark.parametrize("params, message", [
    (dict(aux_task="jigsaw"), "aux_task must be one of"),
    (dict(input_type="video"), "input_type must be one of"),
    (dict(refine_epoch=1.5), "fraction of epochs"),
    (dict(refine_epoch="late"), "refine_epoch must be"),
    (dict(refine_on="embedding"), "refine_on must be one of"),
    (dict(feature_scaling="minmax"), "feature_scaling must be one of"),
    (dict(augmentation={"max_rotation": 10}), "do not apply to continuous input"),
    (dict(augmentation={"keep": (0.0, 1.0)}), "0 < low <= high <= 1"),
    (dict(lr=0.0), "lr must be"),
    (dict(pretrain_epochs=-1), "pretrain_epochs must be"),
    (dict(pretrain_epochs="long"), "pretrain_epochs must be"),
    (dict(hidden=()), "hidden must be"),
    (dict(aux_task="rotation"), "needs images"),
    (dict(n_pcs=0), "n_pcs must be"),
    (dict(n_pcs=6), "more than the 5 columns"),
])
def test_bad_parameters_raise(params, message):
    X = np.random.default_rng(0).poisson(2.0, size=(20, 5)) if "keep" in str(params) else \
        np.random.default_rng(0).normal(size=(20, 5))
    with pytest.raises(ValueError, match=message):
        MMDC(2, **{**ROWS, **params}).fit(X)


def test_counts_with_negative_values_forced_raise():
    with pytest.raises(ValueError, match="negative values"):
        MMDC(2, input_type="counts", **ROWS).fit(-np.ones((10, 3)))


def test_fit_leaves_the_input_untouched(mixture):
    X, _ = mixture
    copy = X.copy()
    MMDC(3, **{**ROWS, "epochs": 1}).fit(X)
    np.testing.assert_array_equal(X, copy)


@pytest.mark.parametrize("kind, expected", [("rows", "adam"), ("images", "sgd")])
def test_auto_optimizer_is_sgd_for_images_and_adam_for_rows(kind, expected):
    X = np.random.default_rng(0).normal(size=(12, 8, 8) if kind == "images" else (12, 5))
    model = MMDC(2, epochs=0, channels=(4,), hidden=(4,), verbose=False, random_state=0).fit(X)
    assert model.optimizer_ == expected
    assert MMDC(2, epochs=0, optimizer="adam", channels=(4,), hidden=(4,), verbose=False).fit(X).optimizer_ == "adam"


@pytest.mark.parametrize("kind, expected", [("rows", "features"), ("images", "outputs")])
def test_auto_refinement_reads_features_for_rows_and_outputs_for_images(kind, expected):
    X = np.random.default_rng(0).normal(size=(12, 8, 8) if kind == "images" else (12, 5))
    model = MMDC(2, epochs=0, channels=(4,), hidden=(4,), verbose=False, random_state=0).fit(X)
    assert model.refine_on_ == expected


@pytest.mark.parametrize("kind, expected", [("counts", "shared"), ("continuous", "per_feature"), ("images", None)])
def test_auto_feature_scaling_is_shared_for_counts_only(kind, expected):
    rng = np.random.default_rng(0)
    X = {"counts": rng.poisson(3.0, size=(12, 5)), "continuous": rng.normal(size=(12, 5)),
         "images": rng.normal(size=(12, 8, 8))}[kind]
    model = MMDC(2, epochs=0, channels=(4,), hidden=(4,), verbose=False, random_state=0).fit(X)
    assert model.feature_scaling_ == expected


def test_shared_feature_scaling_gives_counts_one_scale_kept_for_new_data():
    X = np.random.default_rng(0).poisson([0.2, 2.0, 20.0], size=(60, 3))
    model = MMDC(2, epochs=0, hidden=(4,), verbose=False, random_state=0).fit(X)
    std = model.preprocessing_["std"]
    assert np.all(std == std[0])
    per_gene = MMDC(2, epochs=0, hidden=(4,), feature_scaling="per_feature", verbose=False, random_state=0).fit(X)
    assert len(np.unique(per_gene.preprocessing_["std"])) == 3
    np.testing.assert_allclose(model.transform(X), model.embedding_, rtol=1e-5, atol=1e-6)


def test_principal_axes_are_the_pca_of_the_scaled_log_normalised_counts_and_stay_fixed():
    X, _, _ = handwritten_lbm("poisson", n_rows=240, n_cols=60)
    model = MMDC(3, **{**ROWS, "epochs": 3, "n_pcs": 5}).fit(X)
    axes = model.module_.backbone[0].axes.numpy()
    logged = np.log1p(X / X.sum(axis=1, keepdims=True) * np.median(X.sum(axis=1)))
    centred = logged - logged.mean(axis=0)
    expected = np.linalg.svd(centred, full_matrices=False)[2][:5]  # one shared scale: the same axes
    np.testing.assert_allclose(np.abs(np.sum(axes * expected, axis=1)), 1.0, atol=1e-4)
    assert not any(name.endswith("axes") for name, _ in model.module_.named_parameters())


def test_by_default_the_mlp_reads_the_input_itself():
    X, _, _ = handwritten_lbm("poisson", n_rows=240, n_cols=60)
    model = MMDC(3, **{**ROWS, "epochs": 1}).fit(X)
    assert model.n_pcs_ is None
    assert model.module_.backbone[0].in_features == 60


def test_recovers_poisson_counts_through_principal_components():
    X, rows, _ = handwritten_lbm("poisson", n_rows=240, n_cols=60)
    X, rows = X[rows < 3], rows[rows < 3]  # as in the test without projection
    model = MMDC(3, **{**ROWS, "n_pcs": 10}).fit(X)
    assert model.n_pcs_ == 10
    assert ari(rows, model.labels_) > 0.95


@pytest.mark.parametrize("refine_on", ["outputs", "features"])
def test_refinement_targets_are_the_kmeans_labels_of_what_refine_on_names(refine_on, mixture, monkeypatch):
    """The points refinement's k-means reads have the width of the outputs (k) or of the features."""
    import coclust_deep.deep.mmdc as module

    seen = []
    real = module.KMeans

    class Recording(real):
        def fit_predict(self, points, *args, **kwargs):
            seen.append(points.shape[1])
            return super().fit_predict(points, *args, **kwargs)

    monkeypatch.setattr(module, "KMeans", Recording)
    X, _ = mixture
    MMDC(3, refine_on=refine_on, **{**ROWS, "epochs": 3, "refine_epoch": 2}).fit(X)
    assert seen == [3 if refine_on == "outputs" else ROWS["hidden"][-1]]


@pytest.mark.parametrize("params, message", [
    (dict(optimizer="rmsprop"), "optimizer must be one of"),
    (dict(batch_size=3), "batch_size must be an int >= 4"),
])
def test_bad_training_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        MMDC(2, **{**ROWS, **params}).fit(np.random.default_rng(0).normal(size=(20, 5)))


def test_clusters_left_empty_are_named_in_a_warning():
    X = np.tile(np.arange(5.0), (20, 1))  # identical rows: every output is the same, one cluster holds all
    with pytest.warns(UserWarning, match="1 of the 3 clusters hold samples") as record:
        model = MMDC(3, **{**ROWS, "epochs": 2}).fit(X)
    found = int(model.labels_[0])
    assert np.all(model.labels_ == found)
    message = next(str(w.message) for w in record if "clusters hold samples" in str(w.message))
    assert str(sorted({0, 1, 2} - {found})) in message


def test_one_sample_raises():
    with pytest.raises(ValueError, match="at least 2 samples"):
        MMDC(1, **ROWS).fit(np.ones((1, 5)))
