"""DCEC: convolutional autoencoder + DEC head on images."""
import numpy as np
import pytest
import torch

from coclust_deep.deep import DCEC
from coclust_deep.deep._module_mmdc import DCECModule
from coclust_deep.deep._train import Epoch
from coclust_deep.metrics import ari
from tests.deep.test_mmdc import shape_images

SMALL = dict(latent_dim=4, filters=(8, 16, 16), pretrain_epochs=30, epochs=20, batch_size=16, n_init=4,
             device="cpu", verbose=False, random_state=0)


@pytest.fixture(scope="module")
def images():
    return shape_images(n_per=40)


@pytest.fixture(scope="module")
def fitted(images):
    X, _ = images
    return DCEC(3, **SMALL).fit(X)


@pytest.mark.parametrize("shape", [(1, 8, 8), (1, 7, 9), (3, 28, 28), (2, 1, 1)])
def test_decoder_gives_back_the_image_shape(shape):
    module = DCECModule(shape, 3, filters=(4, 8, 8), latent_dim=3)
    x = torch.zeros(2, *shape)
    assert module.decoder(module.embed(x)).shape == x.shape


def test_recovers_planted_image_clusters(fitted, images):
    _, labels = images
    assert ari(labels, fitted.labels_) > 0.9


def test_pretraining_lowers_the_reconstruction_error(fitted):
    errors = [r for r, phase in zip(fitted.history_["reconstruction"], fitted.history_["phase"]) if phase == "pretrain"]
    assert errors[-1] < 0.5 * errors[0]


def test_fitted_attributes(fitted):
    assert fitted.embedding_.shape == (120, 4) and fitted.cluster_centers_.shape == (3, 4)
    np.testing.assert_allclose(fitted.soft_assignments_.sum(axis=1), 1.0, rtol=1e-5)
    assert fitted.image_shape_ == (1, 8, 8) and fitted.n_features_in_ == 64


def test_channels_first_and_plain_images_agree(images):
    X, _ = images
    settings = {**SMALL, "pretrain_epochs": 2, "epochs": 2}
    a = DCEC(3, **settings).fit(X)
    b = DCEC(3, **settings).fit(X[:, None])
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


def test_save_load_round_trip(fitted, images, tmp_path):
    X, _ = images
    fitted.save(tmp_path / "dcec.pt")
    loaded = DCEC.load(tmp_path / "dcec.pt")
    np.testing.assert_array_equal(loaded.predict(X), fitted.labels_)
    np.testing.assert_allclose(loaded.transform(X), fitted.embedding_, rtol=1e-5, atol=1e-6)


def test_resume_after_interrupt_equals_uninterrupted_fit(images, monkeypatch):
    X, _ = images
    settings = {**SMALL, "pretrain_epochs": 3, "epochs": 3, "tol": 0.0}
    reference = DCEC(3, **settings).fit(X)
    calls = {"n": 0}
    original = Epoch.update

    def update(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 4 * 8 + 2:  # 8 batches per epoch: inside the 2nd training epoch
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Epoch, "update", update)
    model = DCEC(3, **settings)
    with pytest.warns(RuntimeWarning, match="resume=True"):
        model.fit(X)
    assert model.interrupted_ and model.n_epochs_ == {"pretrain": 3, "train": 1}
    monkeypatch.undo()
    model.fit(X, resume=True)
    np.testing.assert_array_equal(model.embedding_, reference.embedding_)
    np.testing.assert_equal(model.history_, reference.history_)


def test_flat_matrix_raises_with_a_reshape_hint():
    with pytest.raises(ValueError, match="reshape"):
        DCEC(2, **SMALL).fit(np.zeros((10, 64)))


def test_nan_raises():
    X = np.zeros((10, 8, 8))
    X[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        DCEC(2, **SMALL).fit(X)


def test_more_clusters_than_images_raises():
    with pytest.raises(ValueError, match="more clusters than the 5 images"):
        DCEC(6, **SMALL).fit(np.zeros((5, 8, 8)))


def test_predict_on_other_shape_raises(fitted):
    with pytest.raises(ValueError, match="fitted on"):
        fitted.predict(np.zeros((3, 9, 9)))


def test_bad_filters_raise():
    with pytest.raises(ValueError, match="filters"):
        DCEC(2, **{**SMALL, "filters": (8, 0)}).fit(np.zeros((10, 8, 8)))
