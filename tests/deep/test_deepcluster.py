"""DeepCluster (k-means pseudo-labels as supervision) on small generated data."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coclust_deep.deep import DeepCluster  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

from ..generators import nb_cell_types  # noqa: E402

SMALL = dict(latent_dim=8, hidden=(32,), batch_size=64, n_init=3, pca_components=4, verbose=False)


def test_recovers_planted_rows(planted):
    X, rows, _ = planted
    model = DeepCluster(3, epochs=15, random_state=0, **SMALL).fit(X)
    assert ari(rows, model.labels_) > 0.95
    assert model.embedding_.shape == (240, 8)


def test_recovers_cells_of_an_independent_nb_simulator():
    X, types = nb_cell_types()  # not make_lbm: k cell types with their own up-regulated genes, varying depth
    model = DeepCluster(3, epochs=15, random_state=0, **SMALL).fit(X)
    assert ari(types, model.labels_) > 0.95  # measured 1.0 for data seeds 0-2 and random_state 0-3


def test_pseudo_labels_are_learnt_and_stabilise(planted):
    X, _, _ = planted
    model = DeepCluster(3, epochs=8, tol=0.0, random_state=0, **SMALL).fit(X)
    # cross-entropy of the fresh head on each epoch's pseudo-labels, well below chance (log 3)
    assert model.history_["loss"][-1] < 0.5 * np.log(3)
    assert model.history_["nmi_to_previous"][-1] > 0.9


def test_deterministic(planted):
    X, _, _ = planted
    a = DeepCluster(3, epochs=3, tol=0.0, random_state=3, **SMALL).fit(X)
    b = DeepCluster(3, epochs=3, tol=0.0, random_state=3, **SMALL).fit(X)
    np.testing.assert_array_equal(a.embedding_, b.embedding_)


def test_save_load(planted, tmp_path):
    X, _, _ = planted
    model = DeepCluster(3, epochs=3, random_state=0, **SMALL).fit(X)
    model.save(tmp_path / "dc.pt")
    loaded = DeepCluster.load(tmp_path / "dc.pt")
    np.testing.assert_array_equal(loaded.labels_, model.labels_)


def test_bad_input(planted):
    X, _, _ = planted
    with pytest.raises(TypeError, match="pretrain_epochs"):  # DeepCluster has no pretraining phase
        DeepCluster(3, pretrain_epochs=5, **SMALL)
    with pytest.raises(ValueError, match="device"):
        DeepCluster(3, device="gpu0", **SMALL).fit(X)
