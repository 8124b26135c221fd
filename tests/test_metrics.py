"""Metrics agree with hand-computed values."""
import numpy as np
import pytest

from coclust_deep import metrics


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
