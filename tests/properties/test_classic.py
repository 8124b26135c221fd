"""Properties of the classic estimators on generated matrices (hypothesis; profiles in conftest.py)."""
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from coclust_deep import (
    ChengChurch,
    DoubleKMeans,
    InfoCoclustering,
    ModularityCoclustering,
    SpectralBiclustering,
    SpectralCoclustering,
)

from .conftest import check_finite, check_labels, clear_refusal, matrices, snapshot, unchanged

PARTITIONS = {
    "DoubleKMeans": lambda g, m: DoubleKMeans(g, m, n_init=2, max_iter=20, random_state=0),
    "InfoCoclustering": lambda g, m: InfoCoclustering(g, m, n_init=2, max_iter=20, random_state=0),
    "ModularityCoclustering": lambda g, m: ModularityCoclustering(g, n_init=2, max_iter=20, random_state=0),
    "SpectralCoclustering": lambda g, m: SpectralCoclustering(g, n_init=2, random_state=0),
    "SpectralBiclustering": lambda g, m: SpectralBiclustering((g, m), n_components=3, n_best=2, n_init=2,
                                                              random_state=0),
}
CRITERIA = ("criterion_", "criterion_history_", "information_loss_", "mutual_information_", "modularity_",
            "block_means_", "joint_", "row_embedding_", "column_embedding_")


def _fit(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # degenerate clusters, convergence: warned, not wrong
        return estimator.fit(X)


@pytest.mark.parametrize("name", sorted(PARTITIONS))
@given(data=matrices(), g=st.integers(1, 4), m=st.integers(1, 4))
def test_partitions_fit_or_refuse_clearly(name, data, g, m):
    X, _ = data
    before = snapshot(X)
    estimator = PARTITIONS[name](g, m)
    n, d = X.shape
    try:
        model = _fit(estimator, X)
    except Exception as err:  # noqa: BLE001 - the property is about which errors
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
    else:
        k_rows, k_cols = (g, g) if name in ("ModularityCoclustering", "SpectralCoclustering") else (g, m)
        check_labels(model.row_labels_, n, k_rows, "row_labels_")
        check_labels(model.column_labels_, d, k_cols, "column_labels_")
        for attribute in CRITERIA:
            if hasattr(model, attribute):
                check_finite(getattr(model, attribute), attribute)
        rows, cols = model.biclusters_
        assert rows.dtype == bool and rows.shape[1] == n and cols.shape[1] == d
    assert unchanged(X, before)


@given(data=matrices(), k=st.integers(1, 3), delta=st.sampled_from([0.0, 0.1, 1.0, 1e6]))
def test_cheng_church_fits_or_refuses_clearly(data, k, delta):
    X, _ = data
    before = snapshot(X)
    try:
        model = _fit(ChengChurch(k, delta=delta, multiple_node_min=5, random_state=0), X)
    except Exception as err:  # noqa: BLE001
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
    else:
        assert model.rows_.shape == (k, X.shape[0]) and model.columns_.shape == (k, X.shape[1])
        assert model.rows_.any(axis=1).all() and model.columns_.any(axis=1).all()  # never an empty bicluster
        check_finite(model.residues_, "residues_")
        assert np.all(model.residues_ >= 0)
    assert unchanged(X, before)
