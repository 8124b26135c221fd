"""Properties of the deep estimators on generated matrices (hypothesis; profiles in conftest.py).

Tiny networks and one or two epochs: the properties are about what a fit returns or refuses, not about
how well it clusters. Each estimator is a spec ``spec(draw, X, k) -> (inputs, fit, check)``: ``inputs``
are the caller's arrays (X and its views or second modality), ``fit()`` runs the fit, and
``check(model)`` tests the fitted attributes.
"""
import contextlib
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from coclust_deep.deep import DEC, DM2C, IDEC, MMDC, DeepCluster, DeepCoclustering  # noqa: E402

from .conftest import (  # noqa: E402
    FLOAT32_ATOL,
    check_finite,
    check_labels,
    check_posterior,
    clear_refusal,
    matrices,
    snapshot,
    unchanged,
)

torch.set_num_threads(1)  # as tests/deep: tiny nets on shared cores

# The deep models compute in float32 and refuse values beyond its range (3.4e38) with a message;
# 1e36 keeps row totals and squares near that edge, 1e-300 underflows float32 to zero.
DEEP_MAGNITUDES = (1e-300, 1e-12, 1.0, 1e12, 1e36)
DEEP_MATRICES = matrices(families=("poisson", "gaussian"), magnitudes=DEEP_MAGNITUDES)
CLUSTERS = st.integers(1, 4)
# per estimator and property, 3/5 of the profile's (ci: 15; thorough: 150): 7 estimators x 3 properties
MAX_EXAMPLES = max(1, settings.default.max_examples * 3 // 5)

TINY = dict(latent_dim=2, hidden=(8,), batch_size=4, n_init=1, device="cpu", verbose=False, random_state=0)


def _embedded(cls):
    def spec(draw, X, k):
        likelihood = draw(st.sampled_from(["gaussian", "nb", "zinb"]))
        model = cls(k, likelihood=likelihood, pretrain_epochs=1, epochs=1, **TINY)
        n = X.shape[0]

        def check(m):
            check_labels(m.labels_, n, k, "labels_")
            check_finite(m.embedding_, "embedding_")
            check_finite(m.cluster_centers_, "cluster_centers_")
            check_posterior(m.soft_assignments_, n, k, "soft_assignments_", FLOAT32_ATOL)
        return (X,), lambda: model.fit(X), check
    return spec


def _deepcluster(draw, X, k):
    model = DeepCluster(k, epochs=1, passes_per_epoch=1, pca_components=draw(st.integers(1, 3)),
                        likelihood=draw(st.sampled_from(["gaussian", "nb"])), **TINY)

    def check(m):
        check_labels(m.labels_, X.shape[0], k, "labels_")
        check_finite(m.embedding_, "embedding_")
    return (X,), lambda: model.fit(X), check


def _coclustering(with_view):
    def spec(draw, X, k):
        n, d = X.shape
        m = draw(CLUSTERS)
        model = DeepCoclustering(k, m, likelihood=draw(st.sampled_from(["auto", "gaussian"])),
                                 pretrain_epochs=1, epochs=1, **TINY)
        views = {"v": np.random.default_rng(n).normal(size=(n, 3))} if with_view else None

        def check(model):
            check_labels(model.row_labels_, n, k, "row_labels_")
            check_labels(model.column_labels_, d, m, "column_labels_")
            for name in ("row_embedding_", "column_embedding_", "row_cluster_centers_",
                         "column_cluster_centers_", "block_means_"):
                check_finite(getattr(model, name), name)
            check_posterior(model.row_soft_assignments_, n, k, "row_soft_assignments_", FLOAT32_ATOL)
            check_posterior(model.column_soft_assignments_, d, m, "column_soft_assignments_", FLOAT32_ATOL)
        inputs = (X,) if views is None else (X, views["v"])
        return inputs, lambda: model.fit(X, row_views=views), check
    return spec


def _mmdc(draw, X, k):
    model = MMDC(k, epochs=2, pretrain_epochs=draw(st.integers(0, 1)), hidden=(8, 4), batch_size=4, n_init=1,
                 device="cpu", verbose=False, random_state=0)

    def check(m):
        check_labels(m.labels_, X.shape[0], k, "labels_")
        check_finite(m.outputs_, "outputs_")
        check_finite(m.embedding_, "embedding_")
    return (X,), lambda: model.fit(X), check


def _dm2c(draw, X_a, k):
    X_b, _ = draw(DEEP_MATRICES)
    model = DM2C(k, generator_hidden=(8,), critic_hidden=(8,), pretrain_epochs=1, epochs=1, critic_steps=1,
                 readout=draw(st.sampled_from(["kmeans", "ot", "matched"])), **TINY)

    def check(m):
        check_labels(m.labels_a_, X_a.shape[0], k, "labels_a_")
        check_labels(m.labels_b_, X_b.shape[0], k, "labels_b_")
        for name in ("embedding_a_", "embedding_b_", "cluster_centers_", "cluster_centers_b_"):
            check_finite(getattr(m, name), name)
        if m.alignment_ is not None:
            for name, value in m.alignment_.items():
                check_finite(value, f"alignment_[{name!r}]")
    return (X_a, X_b), lambda: model.fit(X_a, X_b), check


ESTIMATORS = {
    "DEC": _embedded(DEC),
    "IDEC": _embedded(IDEC),
    "DeepCluster": _deepcluster,
    "DeepCoclustering": _coclustering(with_view=False),
    "DeepCoclustering+row_view": _coclustering(with_view=True),
    "MMDC": _mmdc,
    "DM2C": _dm2c,
}


def _run(fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # empty clusters, zero-count rows, convergence: warned, not wrong
        return fit()


@pytest.mark.parametrize("name", ESTIMATORS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=DEEP_MATRICES, k=CLUSTERS, extra=st.data())
def test_deep_fit_succeeds_or_refuses_clearly(name, data, k, extra):
    X, _ = data
    _, fit, _ = ESTIMATORS[name](extra.draw, X, k)
    try:
        _run(fit)
    except Exception as err:  # noqa: BLE001 - the property is about which errors
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"


@pytest.mark.parametrize("name", ESTIMATORS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=DEEP_MATRICES, k=CLUSTERS, extra=st.data())
def test_deep_fit_labels_in_range_and_outputs_finite(name, data, k, extra):
    X, _ = data
    _, fit, check = ESTIMATORS[name](extra.draw, X, k)
    try:
        model = _run(fit)
    except Exception as err:  # noqa: BLE001 - unclear refusals are the previous test's failure
        if clear_refusal(err):
            return
        raise
    check(model)


@pytest.mark.parametrize("name", ESTIMATORS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=DEEP_MATRICES, k=CLUSTERS, extra=st.data())
def test_deep_fit_leaves_the_callers_arrays_unchanged(name, data, k, extra):
    X, _ = data
    inputs, fit, _ = ESTIMATORS[name](extra.draw, X, k)
    before = [snapshot(A) for A in inputs]
    with contextlib.suppress(Exception):  # refused or not, the inputs must be untouched
        _run(fit)
    for i, (A, state) in enumerate(zip(inputs, before)):
        assert unchanged(A, state), f"input {i} was modified by fit"
