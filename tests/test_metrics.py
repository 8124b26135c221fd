"""Metrics agree with hand-computed values."""
import numpy as np
import pytest

from coclust_deep import metrics
from coclust_deep.metrics import cari, consensus_score


def test_accuracy_uses_best_matching():
    assert metrics.accuracy([0, 0, 1, 1, 2, 2], [1, 1, 0, 0, 2, 0]) == pytest.approx(5 / 6)


def test_accuracy_counts_unmatched_predicted_clusters_as_errors():
    assert metrics.accuracy([0, 0, 0, 0], [0, 0, 1, 2]) == pytest.approx(0.5)


def test_cari_equals_ari_on_cells():
    rng = np.random.default_rng(0)
    rt, rp = rng.integers(0, 3, 12), rng.integers(0, 3, 12)
    ct, cp = rng.integers(0, 2, 7), rng.integers(0, 3, 7)
    cells_true = (rt[:, None] * 10 + ct[None, :]).ravel()
    cells_pred = (rp[:, None] * 10 + cp[None, :]).ravel()
    assert metrics.cari(rt, ct, rp, cp) == pytest.approx(metrics.ari(cells_true, cells_pred))


def test_cari_is_one_for_relabelled_partitions():
    assert metrics.cari([0, 1, 1, 2], [0, 0, 1], [2, 0, 0, 1], [1, 1, 0]) == 1.0


def test_nmi_is_symmetric_and_one_on_relabelling():
    assert metrics.nmi([0, 0, 1, 2], [5, 5, 3, 4]) == pytest.approx(1.0)


def test_consensus_score_of_identical_biclusters_is_one():
    rows, cols = metrics.labels_to_biclusters([0, 0, 1, 1], [1, 0, 1])
    assert metrics.consensus_score((rows, cols), (rows, cols)) == 1.0


def test_label_vectors_of_different_length_rejected():
    with pytest.raises(ValueError, match="length"):
        metrics.ari([0, 1], [0, 1, 1])


def test_labels_to_biclusters_pairs_present_labels_or_a_fixed_number():
    rows, cols = metrics.labels_to_biclusters([0, 0, 2], [2, 0])
    assert rows.astype(int).tolist() == [[1, 1, 0], [0, 0, 1]]
    assert cols.astype(int).tolist() == [[0, 1], [1, 0]]
    rows, cols = metrics.labels_to_biclusters([0, 0, 2], [2, 0], n_clusters=3)
    assert rows.shape == (3, 3) and not rows[1].any() and not cols[1].any()  # cluster 1 is empty


def test_cari_of_a_single_cell_is_one():
    assert cari([0], [0], [0], [0]) == 1.0
    assert cari([0, 0], [0], [1, 1], [3]) == 1.0  # one block on both sides


def test_consensus_score_matches_scikit_learn_without_empty_biclusters():
    from sklearn.metrics import consensus_score as sklearn_consensus

    rng = np.random.default_rng(0)
    for _ in range(20):
        a = (rng.random((3, 12)) < 0.5, rng.random((3, 9)) < 0.5)
        b = (rng.random((4, 12)) < 0.5, rng.random((4, 9)) < 0.5)
        if min(x.sum(axis=1).min() for x in a + b) == 0:
            continue
        assert consensus_score(a, b) == pytest.approx(sklearn_consensus(a, b))


def test_consensus_score_with_a_co_cluster_without_columns():
    from coclust_deep import SpectralCoclustering

    rows = np.array([[1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 0, 0]], dtype=bool)
    cols = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 0]], dtype=bool)
    assert consensus_score((rows, cols), (rows, cols)) == 1.0
    assert consensus_score((rows, cols), (rows[:2], cols[:2])) == pytest.approx(2 / 3)
    model = SpectralCoclustering(4, random_state=0).fit(np.abs(np.random.default_rng(1).poisson(2, (30, 6))))
    assert consensus_score(model.biclusters_, model.biclusters_) == 1.0


@pytest.mark.parametrize("missing", [np.nan, None, "pd.NA"])
def test_every_metric_rejects_missing_labels(missing):
    import pandas as pd

    missing = pd.NA if missing == "pd.NA" else missing
    labels = [0, missing, 1]
    for score in (metrics.accuracy, metrics.nmi, metrics.ari):
        with pytest.raises(ValueError, match="labels_true contains missing values"):
            score(labels, [0, 1, 1])
    with pytest.raises(ValueError, match="row_true contains missing values"):
        cari(labels, [0, 1], [0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="labels_pred contains missing values"):
        metrics.accuracy(["a", "b", "b"], pd.Categorical(["a", None, "b"]))


def test_labels_to_biclusters_rejects_n_clusters_that_is_not_a_positive_int():
    for bad in (0, -1):
        with pytest.raises(ValueError, match="n_clusters"):
            metrics.labels_to_biclusters([0, 1], [0, 1], n_clusters=bad)
    with pytest.raises(TypeError, match="n_clusters"):
        metrics.labels_to_biclusters([0, 1], [0, 1], n_clusters=2.5)


def test_labels_to_biclusters_rejects_empty_labels():
    with pytest.raises(ValueError, match="row_labels is empty"):
        metrics.labels_to_biclusters([], [0, 1])
