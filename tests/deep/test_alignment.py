"""DM2C's readout="ot" alignment: B's micro-clusters moved onto A's by unbalanced optimal transport."""
import numpy as np
import pytest

pytest.importorskip("ot")

from coclust_deep.deep._alignment import apply_shifts, micro_cluster_shifts  # noqa: E402


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
