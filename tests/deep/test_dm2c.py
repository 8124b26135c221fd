"""DM2C: clusters recovered across two unpaired modalities, the cycle, determinism, resume, files, bad input."""
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from coclust_deep.datasets import make_unpaired_digits
from coclust_deep.deep import DM2C
from coclust_deep.deep._train import Epoch
from coclust_deep.metrics import accuracy, nmi
from tests.deep.test_train import _interrupting

FAST = dict(pretrain_epochs=30, epochs=60, batch_size=64, random_state=0, verbose=False)
TINY = dict(latent_dim=2, hidden=(8,), generator_hidden=(8,), critic_hidden=(8,), pretrain_epochs=2, epochs=2,
            batch_size=16, n_init=1, device="cpu", verbose=False, random_state=0)


def unpaired_mixture(seed=0, n_a=240, n_b=200, shares=(0.5, 0.3, 0.2), held_out=0):
    """Three Gaussian clusters in a 4-D latent space, seen through two different maps, with no shared sample.

    A generator of its own (not DM2C's model): modality A is ``tanh`` of a
    random projection of the latent point (30 features), modality B a
    different random linear map (12 features); each modality draws its own
    samples. Unequal cluster shares make a cross-modal permutation of the
    clusters detectable. ``held_out`` > 0 also returns that many new samples
    of each modality from the same maps (drawn last: the rest is unchanged).
    """
    rng = np.random.default_rng(seed)
    k, d = len(shares), 4
    centres = rng.normal(size=(k, d))
    centres *= 5.0 / np.linalg.norm(centres - centres.mean(0), axis=1, keepdims=True)
    y_a, y_b = rng.choice(k, n_a, p=shares), rng.choice(k, n_b, p=shares)
    z_a = centres[y_a] + rng.normal(size=(n_a, d))
    z_b = centres[y_b] + rng.normal(size=(n_b, d))
    map_a = rng.normal(scale=0.5, size=(d, 30))
    X_a = np.tanh(z_a @ map_a) + 0.1 * rng.normal(size=(n_a, 30))
    map_b = rng.normal(size=(d, 12))
    X_b = z_b @ map_b + 0.1 * rng.normal(size=(n_b, 12))
    if not held_out:
        return X_a, X_b, y_a, y_b
    new_a = centres[rng.choice(k, held_out, p=shares)] + rng.normal(size=(held_out, d))
    new_b = centres[rng.choice(k, held_out, p=shares)] + rng.normal(size=(held_out, d))
    return (X_a, X_b, y_a, y_b, np.tanh(new_a @ map_a) + 0.1 * rng.normal(size=(held_out, 30)),
            new_b @ map_b + 0.1 * rng.normal(size=(held_out, 12)))


def _shared_scores(y_a, y_b, model):
    """ACC under one Hungarian mapping for both modalities, and the NMI of the prediction with the modality."""
    pred = np.r_[model.labels_a_, model.labels_b_]
    modality = np.r_[np.zeros(len(y_a)), np.ones(len(y_b))]
    return accuracy(np.r_[y_a, y_b], pred), nmi(modality, pred)


@pytest.fixture(scope="module")
def mixture():
    return unpaired_mixture()


@pytest.fixture(scope="module")
def fitted(mixture):
    X_a, X_b, _, _ = mixture
    return DM2C(3, **FAST).fit(X_a, X_b)


# -- planted structure ---------------------------------------------------------------------------------
def test_recovers_the_planted_clusters_of_an_independent_generator(mixture, fitted):
    _, _, y_a, y_b = mixture
    acc, with_modality = _shared_scores(y_a, y_b, fitted)
    # one mapping for both modalities; one cluster for all, or modality B permuted, gives <= 0.6.
    # Measured 0.89-0.99 over generator seeds 0-2 and random_state 0-2
    assert acc >= 0.85
    assert with_modality <= 0.05  # the clusters are not the modalities


def test_recovers_digit_classes_across_pixels_and_a_projection_of_other_digits():
    X_a, X_b, y_a, y_b = make_unpaired_digits(3, random_state=0)
    model = DM2C(3, **FAST).fit(X_a, X_b)
    acc, with_modality = _shared_scores(y_a, y_b, model)
    assert acc >= 0.7 and with_modality <= 0.05
    assert model.embedding_a_.shape == (len(y_a), 10) and model.embedding_b_.shape == (len(y_b), 10)


def test_cycle_loss_decreases(fitted):
    history = fitted.history_
    train = [i for i, phase in enumerate(history["phase"]) if phase == "train"]
    for side in ("a", "b"):
        cycle = np.asarray(history[f"cycle_{side}"])[train]
        assert cycle[-5:].mean() < 0.5 * cycle[:5].mean()


def test_generators_are_near_inverse_on_held_out_latents(fitted):
    new_a, new_b = unpaired_mixture(held_out=60)[4:]  # the fit's maps and centres, samples it never saw
    module = fitted.module_.eval()
    with torch.no_grad():
        for side, latent, there, back, X in (("a", module.latent_a, module.a_to_b, module.b_to_a, new_a),
                                             ("b", module.latent_b, module.b_to_a, module.a_to_b, new_b)):
            inputs = fitted._new_data(X, side).inputs(np.arange(len(X)))["input"]
            z = latent(torch.as_tensor(inputs))
            error = (back(there(z)) - z).abs().mean()
            spread = (z - z[torch.randperm(len(z), generator=torch.Generator().manual_seed(0))]).abs().mean()
            assert error < 0.2 * spread


def test_predict_and_transform_on_the_training_samples_give_the_fitted_results(mixture, fitted):
    X_a, X_b, _, _ = mixture
    np.testing.assert_allclose(fitted.transform(X_a, modality="a"), fitted.embedding_a_, atol=1e-5)
    np.testing.assert_allclose(fitted.transform(X_b, modality="b"), fitted.embedding_b_, atol=1e-5)
    assert np.mean(fitted.predict(X_b, modality="b") == fitted.labels_b_) >= 0.99


# -- readout="ot" ----------------------------------------------------------------------------------------
def test_ot_readout_moves_b_onto_a_where_the_generators_left_it_apart(mixture):
    # without joint training B's embeddings (an untrained G_BA) lie away from A's and k-means splits the modalities
    from sklearn.metrics import pairwise_distances_argmin_min

    X_a, X_b, y_a, y_b = mixture
    untrained = dict(FAST, epochs=0)
    kmeans = DM2C(3, **untrained).fit(X_a, X_b)
    ot = DM2C(3, readout="ot", **untrained).fit(X_a, X_b)
    gap = {name: np.median(pairwise_distances_argmin_min(m.embedding_b_, m.embedding_a_)[1])
           for name, m in (("kmeans", kmeans), ("ot", ot))}
    assert gap["ot"] < 0.75 * gap["kmeans"]  # measured 0.89 against 1.37
    assert _shared_scores(y_a, y_b, ot)[1] < 0.6 * _shared_scores(y_a, y_b, kmeans)[1]  # 0.14 against 0.29
    np.testing.assert_array_equal(ot.embedding_a_, kmeans.embedding_a_)  # only B moves


@pytest.mark.parametrize("readout", ["ot", "matched"])
def test_other_readouts_keep_the_recovery_of_the_trained_model(mixture, fitted, readout):
    X_a, X_b, y_a, y_b = mixture
    model = DM2C(3, readout=readout, **FAST).fit(X_a, X_b)
    acc, with_modality = _shared_scores(y_a, y_b, model)
    # acc measured over random_state 0-2: "ot" 0.95-0.98, "matched" 0.977-0.989
    assert acc >= 0.85 and with_modality <= 0.05
    np.testing.assert_array_equal(model.embedding_a_, fitted.embedding_a_)  # the same training


def test_ot_readout_moves_new_samples_as_the_training_samples(mixture, tmp_path):
    X_a, X_b, _, _ = mixture
    model = DM2C(3, readout="ot", **TINY).fit(X_a, X_b)
    assert model.alignment_["centres"].shape == model.alignment_["shifts"].shape
    np.testing.assert_allclose(model.transform(X_b, modality="b"), model.embedding_b_, atol=1e-5)
    model.save(tmp_path / "dm2c.pt")
    loaded = DM2C.load(tmp_path / "dm2c.pt")
    np.testing.assert_array_equal(loaded.predict(X_b, modality="b"), model.predict(X_b, modality="b"))


# -- readout="matched" -------------------------------------------------------------------------------------
def test_matched_readout_gives_every_cluster_both_modalities_where_the_generators_left_them_apart(mixture):
    X_a, X_b, y_a, y_b = mixture
    untrained = dict(FAST, epochs=0)
    kmeans = DM2C(3, **untrained).fit(X_a, X_b)
    matched = DM2C(3, readout="matched", **untrained).fit(X_a, X_b)
    for label in range(3):
        assert np.any(matched.labels_a_ == label) and np.any(matched.labels_b_ == label)
    # measured 0.004-0.030 against 0.27-0.30 over random_state 0-2 (the untrained pairing is not the point here)
    assert _shared_scores(y_a, y_b, matched)[1] < 0.5 * _shared_scores(y_a, y_b, kmeans)[1]
    np.testing.assert_array_equal(matched.embedding_b_, kmeans.embedding_b_)  # only the readout differs


def test_matched_readout_predicts_each_modality_by_its_own_centres(mixture, tmp_path):
    X_a, X_b, _, _ = mixture
    model = DM2C(3, readout="matched", **TINY).fit(X_a, X_b)
    np.testing.assert_array_equal(model.predict(X_a, modality="a"), model.labels_a_)
    np.testing.assert_array_equal(model.predict(X_b, modality="b"), model.labels_b_)
    model.save(tmp_path / "dm2c.pt")
    loaded = DM2C.load(tmp_path / "dm2c.pt")
    np.testing.assert_array_equal(loaded.predict(X_b, modality="b"), model.labels_b_)


def test_history_records_every_term_and_the_critic_monitors(fitted):
    history = fitted.history_
    for name in ("reconstruction_a", "reconstruction_b", "cycle_reconstruction_a", "cycle_a", "cycle_b",
                 "adversarial_a", "adversarial_b", "geometry_a", "anchor_a", "anchor_b", "wasserstein_a",
                 "wasserstein_b", "gradient_penalty_a", "critic_loss"):
        values = [v for v in history[name] if v is not None and not (isinstance(v, float) and np.isnan(v))]
        assert values and np.all(np.isfinite(values)), name
    assert fitted.n_epochs_ == {"pretrain": 30, "train": 60}


# -- inputs: unequal sizes, sparse counts, objectives -------------------------------------------------
def test_sparse_counts_get_the_negative_binomial_and_match_the_dense_fit():
    rng = np.random.default_rng(0)
    y_a, y_b = rng.integers(0, 2, 60), rng.integers(0, 2, 45)
    rates = np.where(np.arange(20) < 10, 4.0, 0.5)
    X_a = rng.poisson(np.where(y_a[:, None] == 0, rates, rates[::-1])).astype(float)
    X_b = rng.normal(size=(45, 5)) + 3.0 * y_b[:, None]
    dense = DM2C(2, **TINY).fit(X_a, X_b)
    sparse = DM2C(2, **TINY).fit(sp.csr_matrix(X_a), X_b)
    assert sparse.likelihoods_ == {"a": "nb", "b": "gaussian"}
    np.testing.assert_allclose(sparse.embedding_a_, dense.embedding_a_, atol=1e-4)
    np.testing.assert_allclose(sparse.embedding_b_, dense.embedding_b_, atol=1e-4)


@pytest.mark.parametrize("adversarial", ["lsgan", "wgan-clip"])
def test_other_adversarial_objectives_train_with_finite_losses(mixture, adversarial):
    X_a, X_b, _, _ = mixture
    model = DM2C(3, adversarial=adversarial, **TINY).fit(X_a, X_b)
    assert np.all(np.isfinite(model.history_["loss"])) and np.all(np.isfinite(model.embedding_b_))
    if adversarial == "wgan-clip":  # the authors' weight clipping holds after every critic step
        assert max(p.abs().max().item() for p in model.module_.critic_parameters()) <= 0.05 + 1e-7


# -- determinism, resume, files ------------------------------------------------------------------------
def test_anchors_none_trains_without_anchor_terms(mixture):
    X_a, X_b, _, _ = mixture
    model = DM2C(3, **{**TINY, "anchors": "none"}).fit(X_a, X_b)
    assert "anchor_a" not in model.history_ and "cycle_a" in model.history_


def test_one_sample_per_modality_fits_without_anchors(mixture):
    X_a, X_b, _, _ = mixture
    model = DM2C(1, **TINY).fit(X_a[:1], X_b[:1])
    assert model.labels_a_.tolist() == [0] and model.labels_b_.tolist() == [0] and "anchor_a" not in model.history_


def test_same_seed_same_result(mixture):
    X_a, X_b, _, _ = mixture
    first, again = DM2C(3, **TINY).fit(X_a, X_b), DM2C(3, **TINY).fit(X_a, X_b)
    np.testing.assert_array_equal(first.embedding_b_, again.embedding_b_)
    np.testing.assert_array_equal(first.labels_a_, again.labels_a_)
    other = DM2C(3, **{**TINY, "random_state": 1}).fit(X_a, X_b)
    assert not np.array_equal(other.embedding_b_, first.embedding_b_)


@pytest.mark.parametrize("n_steps", [20, 40])  # pretraining epoch 2; joint epoch 1 (15 steps an epoch)
def test_interrupt_then_resume_equals_an_uninterrupted_fit(mixture, monkeypatch, n_steps):
    X_a, X_b, _, _ = mixture
    params = {**TINY, "epochs": 3}
    reference = DM2C(3, **params).fit(X_a, X_b)
    model = DM2C(3, **params)
    with monkeypatch.context() as patch:
        # Epoch.record runs once per step in both phases (the joint phase steps its two optimisers itself)
        patch.setattr(Epoch, "record", _interrupting(Epoch.record, n_steps))
        with pytest.warns(RuntimeWarning, match="interrupted"):
            model.fit(X_a, X_b)
    assert model.interrupted_
    model.fit(X_a, X_b, resume=True)
    assert not model.interrupted_ and model.n_epochs_ == reference.n_epochs_
    np.testing.assert_equal(model.history_, reference.history_)
    np.testing.assert_array_equal(model.embedding_b_, reference.embedding_b_)


def test_resume_continues_with_more_epochs_and_refuses_other_changes(mixture):
    X_a, X_b, _, _ = mixture
    model = DM2C(3, **TINY).fit(X_a, X_b)
    model.set_params(epochs=4).fit(X_a, X_b, resume=True)
    assert model.n_epochs_ == {"pretrain": 2, "train": 4}
    with pytest.raises(ValueError, match="cycle_weight"):
        model.set_params(cycle_weight=2.0).fit(X_a, X_b, resume=True)
    with pytest.raises(ValueError, match="same X"):
        model.set_params(cycle_weight=1.0).fit(X_a, X_b[1:], resume=True)


def test_save_load_round_trip(mixture, fitted, tmp_path):
    X_a, X_b, _, _ = mixture
    fitted.save(tmp_path / "dm2c.pt")
    loaded = DM2C.load(tmp_path / "dm2c.pt")
    np.testing.assert_array_equal(loaded.labels_b_, fitted.labels_b_)
    np.testing.assert_array_equal(loaded.predict(X_b, modality="b"), fitted.predict(X_b, modality="b"))
    np.testing.assert_allclose(loaded.transform(X_a, modality="a"), fitted.transform(X_a, modality="a"), atol=1e-6)
    assert loaded.likelihoods_ == fitted.likelihoods_


def test_pickle_and_clone(mixture, fitted):
    import pickle

    from sklearn.base import clone

    X_b = mixture[1]
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X_b, modality="b"), fitted.predict(X_b, modality="b"))
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params() and not hasattr(copy, "labels_a_")


# DM2C.fit takes two matrices (fit(X_a, X_b)), so the checks that call fit(X, y) do not apply; these do.
@pytest.mark.parametrize("check_name", ["check_no_attributes_set_in_init", "check_get_params_invariance",
                                        "check_set_params"])
def test_sklearn_checks_that_apply(check_name):
    from sklearn.utils import estimator_checks

    getattr(estimator_checks, check_name)("DM2C", DM2C(3, **TINY))


# -- bad input -----------------------------------------------------------------------------------------
def test_transform_with_the_wrong_number_of_features_names_the_modality(fitted, mixture):
    X_a = mixture[0]
    with pytest.raises(ValueError, match="fitted with 12 features in modality B"):
        fitted.transform(X_a, modality="b")
    with pytest.raises(ValueError, match="modality must be 'a' or 'b'"):
        fitted.predict(X_a, modality="rna")


def test_nan_is_refused_in_either_modality(mixture, fitted):
    X_a, X_b, _, _ = mixture
    bad = X_b.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="X_b contains NaN"):
        DM2C(3, **TINY).fit(X_a, bad)
    with pytest.raises(ValueError, match="X contains NaN"):
        fitted.predict(bad, modality="b")


def test_a_modality_with_fewer_samples_than_clusters_is_refused(mixture):
    X_a, X_b, _, _ = mixture
    with pytest.raises(ValueError, match="modality B has 2 samples, fewer than n_clusters=3"):
        DM2C(3, **TINY).fit(X_a, X_b[:2])


@pytest.mark.parametrize("params, match", [
    ({"adversarial": "gan"}, "adversarial"), ({"cycle_weight": -1.0}, "cycle_weight"),
    ({"critic_steps": 0}, "critic_steps"), ({"generator_hidden": (0,)}, "generator_hidden"),
    ({"likelihood_a": "poisson"}, "likelihood_a"), ({"critic_lr": 0}, "critic_lr"),
    ({"anchors": "ot"}, "anchors"), ({"anchor_weight": -1.0}, "anchor_weight"), ({"readout": "mean"}, "readout"),
])
def test_bad_parameters_raise(mixture, params, match):
    X_a, X_b, _, _ = mixture
    with pytest.raises(ValueError, match=match):
        DM2C(3, **{**TINY, **params}).fit(X_a, X_b)


def test_inputs_are_not_modified(mixture):
    X_a, X_b, _, _ = mixture
    before_a, before_b = X_a.copy(), X_b.copy()
    DM2C(3, **TINY).fit(X_a, X_b)
    np.testing.assert_array_equal(X_a, before_a)
    np.testing.assert_array_equal(X_b, before_b)


def test_a_modality_left_in_one_cluster_warns_to_train_longer(mixture):
    X_a, X_b, _, _ = mixture
    with pytest.warns(RuntimeWarning, match="modality B is in one cluster.*Raise epochs and pretrain_epochs"):
        model = DM2C(3, **{**TINY, "pretrain_epochs": 0, "epochs": 0}).fit(X_a, X_b)
    assert np.unique(model.labels_b_).size == 1


def test_a_fit_that_spreads_both_modalities_does_not_warn(mixture):
    X_a, X_b, _, _ = mixture
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message="DM2C: every sample", category=RuntimeWarning)
        model = DM2C(3, **{**TINY, "latent_dim": 4, "hidden": (16,), "pretrain_epochs": 10, "epochs": 10}).fit(X_a, X_b)
    assert np.unique(model.labels_a_).size > 1 and np.unique(model.labels_b_).size > 1
