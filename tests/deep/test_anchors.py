"""Gromov-Wasserstein anchors: clusters of one space coupled with the same clusters of another, with no pairing."""
import numpy as np
import pytest

pytest.importorskip("ot")

from coclust_deep.deep._anchors import Anchors, geodesic_distances, micro_clusters  # noqa: E402


def two_views(seed=0, n=300, shares=(0.5, 0.3, 0.2)):
    """Three clusters of unequal sizes in 3-D, seen once as they are and once rotated, scaled and shifted.

    The two views draw their own samples (no pairing); the second is an
    isometry of the first up to scale, so its internal distances agree.
    """
    rng = np.random.default_rng(seed)
    centres = np.array([[6.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 9.0]])
    y_a, y_b = rng.choice(3, n, p=shares), rng.choice(3, n, p=shares)
    z_a = centres[y_a] + rng.normal(size=(n, 3))
    rotation = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    z_b = 2.5 * (centres[y_b] + rng.normal(size=(n, 3))) @ rotation + 7.0
    return z_a, z_b, y_a, y_b, centres, rotation


def _nearest_cluster(points, centres):
    return ((points[:, None, :] - centres[None]) ** 2).sum(axis=2).argmin(axis=1)


def _majority(labels, micro, n_micro):
    return np.array([np.bincount(labels[micro == c], minlength=3).argmax() for c in range(n_micro)])


def test_each_micro_cluster_of_b_gets_a_target_in_its_own_cluster_of_a():
    z_a, z_b, _, y_b, centres, _ = two_views()
    anchors = Anchors(z_a, z_b, seed=0)
    targets_b = anchors.pairs(z_a, z_b)[3]
    truth = _majority(y_b, anchors.labels_b, len(targets_b))
    assert np.sum(anchors.weights_b * (_nearest_cluster(targets_b, centres) == truth)) >= 0.9


def test_each_micro_cluster_of_a_gets_a_target_in_its_own_cluster_of_b():
    z_a, z_b, y_a, _, centres, rotation = two_views()
    anchors = Anchors(z_a, z_b, seed=0)
    targets_a = anchors.pairs(z_a, z_b)[1]
    truth = _majority(y_a, anchors.labels_a, len(targets_a))
    assert np.sum(anchors.weights_a * (_nearest_cluster(targets_a, 2.5 * centres @ rotation + 7.0) == truth)) >= 0.9


def test_centres_and_targets_follow_the_current_latents():
    z_a, z_b, *_ = two_views()
    anchors = Anchors(z_a, z_b, seed=0)
    centres_a, _, _, targets_b = anchors.pairs(z_a, z_b)
    moved_a, _, _, moved_targets_b = anchors.pairs(z_a + 3.0, z_b)
    np.testing.assert_allclose(moved_a, centres_a + 3.0, atol=1e-4)
    np.testing.assert_allclose(moved_targets_b, targets_b + 3.0, atol=1e-4)


def test_same_seed_same_coupling():
    z_a, z_b, *_ = two_views()
    np.testing.assert_array_equal(Anchors(z_a, z_b, seed=1).coupling, Anchors(z_a, z_b, seed=1).coupling)


def test_geodesic_distances_are_scaled_and_finite_across_disconnected_parts():
    centres = np.r_[np.zeros((12, 2)) + np.arange(12)[:, None] * [0.1, 0.0], np.full((12, 2), 100.0)
                    + np.arange(12)[:, None] * [0.1, 0.0]]
    distances = geodesic_distances(centres)
    assert np.all(np.isfinite(distances)) and distances.max() == pytest.approx(1.0)


@pytest.mark.filterwarnings("ignore:Number of distinct clusters")
def test_micro_clusters_of_repeated_points_have_no_empty_cluster():
    # 2 distinct points asked for 4 micro-clusters: an empty one had a zero marginal, which broke POT's GW
    labels, centres, weights = micro_clusters(np.repeat([[0.0], [1.0]], 3, axis=0), 4, seed=0)
    assert len(centres) == len(weights) == 2 and np.all(weights > 0)
    assert sorted(set(labels)) == [0, 1] and np.isclose(weights.sum(), 1.0)


def test_geodesic_distances_of_one_centre_are_zero():
    np.testing.assert_array_equal(geodesic_distances(np.zeros((1, 3))), np.zeros((1, 1)))
