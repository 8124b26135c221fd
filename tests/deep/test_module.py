"""The loss object the modules return, and weighting by kind whatever the term names."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from coclust_deep.datasets import make_lbm  # noqa: E402
from coclust_deep.deep import DeepCoclustering  # noqa: E402
from coclust_deep.deep._module import CoclusteringModule, Losses  # noqa: E402

SMALL = dict(latent_dim=8, hidden=(32,), batch_size=64, n_init=3, verbose=False)
# names that fooled the old key-parsing weights: "...clustering" got cluster_weight, "alignment..." alignment_weight
TRICKY_VIEWS = ("leiden_clustering", "alignment_feats")


def test_losses_total_weighs_each_kind():
    losses = Losses(reconstruction={"a": 2.0, "b": 4.0}, block={"block": 1.0})
    losses.add("auxiliary", "rotation", 3.0)
    assert losses.total({"reconstruction": 0.5, "block": 2.0, "auxiliary": 1.0}) == 8.0
    assert losses.total() == 10.0
    assert losses.as_dict() == {"a": 2.0, "b": 4.0, "block": 1.0, "rotation": 3.0}


def test_losses_refuse_unknown_kinds_repeated_names_and_missing_weights():
    losses = Losses(clustering={"kl": 1.0})
    with pytest.raises(ValueError, match="unknown loss kind"):
        losses.add("contrastive", "x", 1.0)
    with pytest.raises(ValueError, match="already set"):
        losses.add("block", "kl", 1.0)
    with pytest.raises(ValueError, match="two kinds"):
        Losses(reconstruction={"x": 1.0}, alignment={"x": 1.0})
    with pytest.raises(KeyError, match="no weight for loss kind 'clustering'"):
        losses.total({"reconstruction": 1.0})
    with pytest.raises(ValueError, match="no loss terms"):
        Losses().total()


def test_view_names_do_not_change_the_kind_of_a_term():
    rng = np.random.default_rng(0)
    view_dims = {name: 3 for name in TRICKY_VIEWS}
    side = dict(n_clusters=2, hidden=(8,), latent_dim=4, likelihood="gaussian", view_dims=view_dims)
    module = CoclusteringModule(dict(n_input=6, **side), dict(n_input=10, **{**side, "view_dims": {}}))

    def batch(n, d):
        x = torch.as_tensor(rng.normal(size=(n, d)), dtype=torch.float32)
        return {"input": x, "target": x,
                "views": {v: torch.as_tensor(rng.normal(size=(n, 3)), dtype=torch.float32) for v in TRICKY_VIEWS},
                "masks": {v: torch.ones(n) for v in TRICKY_VIEWS}}

    target = torch.full((10, 2), 0.5)
    losses = module.loss(batch(10, 6), batch(6, 10), torch.zeros(10, 6), row_target=target,
                         col_target=target[:6])
    for view in TRICKY_VIEWS:
        assert f"row_view_reconstruction:{view}" in losses.reconstruction
        assert f"row_alignment:{view}" in losses.alignment
    assert set(losses.clustering) == {"row_clustering", "col_clustering"}
    weights = {"reconstruction": 1.0, "clustering": 0.1, "block": 0.1, "alignment": 0.0}
    expected = sum(weights[kind] * v.item() for kind, _, v in losses.terms())
    assert losses.total(weights).item() == pytest.approx(expected)


def test_view_reconstruction_trains_whatever_the_view_is_called():
    """With cluster_weight=0 and alignment_weight=0 (the default), both view decoders still learn."""
    X, rows, _ = make_lbm(200, 30, 2, 2, family="gaussian", signal=1.0, random_state=0)
    rng = np.random.default_rng(0)
    views = {name: 2.0 * rows[:, None] + rng.normal(size=(200, 3)) for name in TRICKY_VIEWS}
    model = DeepCoclustering(2, 2, cluster_weight=0.0, alignment_weight=0.0, pretrain_epochs=15, epochs=0,
                             random_state=0, **SMALL).fit(X, row_views=views)
    for name in TRICKY_VIEWS:
        curve = model.history_[f"row_view_reconstruction:{name}"]
        assert curve[-1] < 0.8 * curve[0], name
