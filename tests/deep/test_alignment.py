"""DM2C's readouts: B's micro-clusters moved onto A's by unbalanced OT ("ot"), or each modality's clusters paired."""
import numpy as np
import pytest

pytest.importorskip("ot")

from coclust_deep.deep._alignment import apply_shifts, matched_kmeans, micro_cluster_shifts  # noqa: E402


def two_groups(rng, n, share_left):
    left = int(n * share_left)
    return np.r_[rng.normal(size=(left, 2)), rng.normal(size=(n - left, 2)) + [10.0, 0.0]], left


def test_an_offset_copy_is_moved_back_onto_the_reference():
    rng = np.random.default_rng(0)
    reference, _ = two_groups(rng, 400, 0.5)
    other, left = two_groups(rng, 400, 0.5)
    moved = apply_shifts(other + [0.0, 4.0], *micro_cluster_shifts(reference, other + [0.0, 4.0], seed=0))
    np.testing.assert_allclose(moved[:left].mean(axis=0), [0.0, 0.0], atol=0.5)
    np.testing.assert_allclose(moved[left:].mean(axis=0), [10.0, 0.0], atol=0.5)


def test_groups_of_other_proportions_stay_with_their_counterparts():
    # 90/10 against 50/50: balanced transport would send 4 in 9 of the large group to the small one
    rng = np.random.default_rng(1)
    reference, _ = two_groups(rng, 400, 0.5)
    other, left = two_groups(rng, 400, 0.9)
    moved = apply_shifts(other + [0.0, 4.0], *micro_cluster_shifts(reference, other + [0.0, 4.0], seed=0))
    assert np.mean(moved[:left, 0] > 5.0) < 0.2
    assert np.all(moved[left:, 0] > 5.0)


def test_new_points_take_the_shift_of_their_nearest_micro_centre():
    centres = np.array([[0.0, 0.0], [10.0, 0.0]])
    shifts = np.array([[1.0, 1.0], [-1.0, 0.0]])
    moved = apply_shifts(np.array([[0.5, 0.0], [9.0, 1.0]], dtype=np.float32), centres, shifts)
    np.testing.assert_allclose(moved, [[1.5, 1.0], [8.0, 1.0]])
    assert moved.dtype == np.float32


# -- readout="matched" ----------------------------------------------------------------------------------
def three_groups(rng, sizes, order=(0, 1, 2)):
    centres = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])[list(order)]
    return np.vstack([rng.normal(size=(n, 2)) + c for n, c in zip(sizes, centres)])


def test_matched_clusters_take_the_name_of_the_nearest_reference_cluster():
    # B lists its groups in another order, with other sizes, 3 units off A's: B's k-means numbers its clusters
    # its own way, and each must be renamed to the label of the A group it lies near
    rng = np.random.default_rng(0)
    a = three_groups(rng, (100, 60, 40))
    b = three_groups(rng, (30, 50, 70), order=(2, 0, 1)) + [3.0, 0.0]
    labels_a, labels_b, centres_a, centres_b = matched_kmeans(a, b, 3, n_init=5, seed=0)
    for group_a, group_b in ((slice(0, 100), slice(30, 80)), (slice(100, 160), slice(80, 150)),
                             (slice(160, 200), slice(0, 30))):
        assert np.unique(labels_a[group_a]).size == 1
        np.testing.assert_array_equal(labels_b[group_b], labels_a[group_a][0])


def test_matched_centres_are_each_modality_s_own_in_label_order():
    rng = np.random.default_rng(1)
    a, b = three_groups(rng, (80, 80, 80)), three_groups(rng, (50, 50, 50), order=(1, 2, 0)) + [0.0, 2.0]
    labels_a, labels_b, centres_a, centres_b = matched_kmeans(a, b, 3, n_init=5, seed=0)
    for label in range(3):
        np.testing.assert_allclose(centres_a[label], a[labels_a == label].mean(axis=0))
        np.testing.assert_allclose(centres_b[label], b[labels_b == label].mean(axis=0))
