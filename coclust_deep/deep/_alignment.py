"""Readouts of two modalities in one common space: B moved onto A by unbalanced OT, or clusters matched (numpy, POT).

DM2C's generators bring B's samples into A's latent space, but on real
cells some groups of B land beside, not on, A's: k-means on the union then
gives clusters that hold one modality only. Transporting B's micro-clusters
onto A's (entropic optimal transport with relaxed marginals, Chizat et al.
2018, so that cell-type proportions may differ between the modalities) and
moving each B sample by its micro-cluster's displacement to its transport
barycentre closes those gaps before the final k-means, as SCOT's
barycentric projection does for its coupled spaces (Demetci et al. 2022).

Or each modality is clustered on its own and B's clusters are named after
the A clusters whose centres lie nearest (:func:`matched_kmeans`): every
cluster then holds both modalities, and an offset between the modalities
cannot split a cluster into two of one modality each.

This module is pure numpy/SciPy/POT, no torch.
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial.distance import cdist

from ._anchors import _require_pot, micro_clusters

MAX_MICRO_CLUSTERS = 1000  # cost grows as its square; 1000 matched the full sample-level transport on CBMC
_ENTROPY = 0.05            # entropic regularisation, relative to the mean squared distance of the micro-centres
_MARGINAL = 1.0            # KL penalty on the marginals (unbalanced OT); the same unit as the cost


def micro_cluster_shifts(reference, other, seed):
    """Micro-clusters of ``other`` and the shift that moves each onto ``reference``.

    Both arrays live in one space, shape ``(n_reference, d)`` and
    ``(n_other, d)``. Returns ``(centres, shifts)``, one row per micro-cluster
    of ``other``: its centre and the vector from it to the barycentre of the
    reference micro-centres it is transported to.

    Examples
    --------
    A shifted copy of a point cloud is moved back onto the original:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> points = np.r_[rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 8]
    >>> centres, shifts = micro_cluster_shifts(points, points + [0.0, 3.0], seed=0)
    >>> bool(np.abs(shifts.mean(axis=0) - [0.0, -3.0]).max() < 0.3)
    True
    """
    ot = _require_pot()
    n_micro = max(1, min(MAX_MICRO_CLUSTERS, len(reference) // 4, len(other) // 4))  # <= both sizes
    _, centres_ref, weights_ref = micro_clusters(reference, n_micro, seed, n_init=1)
    _, centres, weights = micro_clusters(other, n_micro, seed, n_init=1)
    cost = ot.dist(centres, centres_ref)
    scale = cost.mean()
    if not scale > 0:  # every centre at one point: nothing to move
        return centres, np.zeros_like(centres)
    plan = ot.unbalanced.sinkhorn_unbalanced(weights, weights_ref, cost / scale, _ENTROPY, _MARGINAL)
    mass = plan.sum(axis=1, keepdims=True)
    barycentres = np.where(mass > 1e-300, plan @ centres_ref / np.maximum(mass, 1e-300), centres)
    return centres, barycentres - centres


def apply_shifts(z, centres, shifts):
    """``z`` moved by the shift of its nearest micro-centre."""
    from sklearn.metrics import pairwise_distances_argmin

    return z + shifts[pairwise_distances_argmin(z, centres)].astype(z.dtype)


def assign_targets(outputs, targets):
    """The permutation of ``targets`` (rows) that minimises the summed Euclidean distance to ``outputs``.

    Output ``i`` gets ``targets[perm[i]]``: the linear assignment problem,
    solved by :func:`scipy.optimize.linear_sum_assignment`. MMDC permutes a
    batch's targets with it; :func:`matched_kmeans` pairs cluster centres.

    Examples
    --------
    >>> import numpy as np
    >>> assign_targets(np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([[1.0, 0.0], [0.0, 1.0]])).tolist()
    [1, 0]
    """
    rows, cols = linear_sum_assignment(cdist(outputs, targets))
    perm = np.empty(len(rows), dtype=np.int64)
    perm[rows] = cols
    return perm


def matched_kmeans(embedding_a, embedding_b, n_clusters, *, n_init, seed):
    """k-means of each modality on its own; B's clusters renamed to A's by the closest one-to-one pairing of centres.

    The pairing is the linear assignment (:func:`scipy.optimize.linear_sum_assignment`)
    that minimises the summed Euclidean distance between matched centres,
    so each label names one cluster of A and one of B. Returns ``(labels_a,
    labels_b, centres_a, centres_b)``; row ``j`` of both centre arrays
    belongs to label ``j``.

    Examples
    --------
    B's two groups lie a little off A's; each still gets the name of the A group it is nearest to:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> a = np.r_[rng.normal(size=(50, 2)), rng.normal(size=(50, 2)) + 10]
    >>> b = np.r_[rng.normal(size=(30, 2)) + 10, rng.normal(size=(30, 2))] + [0.0, 2.0]
    >>> labels_a, labels_b, _, _ = matched_kmeans(a, b, 2, n_init=1, seed=0)
    >>> bool(labels_b[0] == labels_a[50]), bool(labels_b[-1] == labels_a[0])
    (True, True)
    """
    from sklearn.cluster import KMeans

    fits = [KMeans(n_clusters, n_init=n_init, random_state=seed).fit(np.asarray(z, dtype=np.float64))
            for z in (embedding_a, embedding_b)]
    rename = assign_targets(fits[1].cluster_centers_, fits[0].cluster_centers_)  # B's cluster i -> A's label
    centres_b = np.empty_like(fits[1].cluster_centers_)
    centres_b[rename] = fits[1].cluster_centers_
    return (fits[0].labels_.astype(np.int64), rename[fits[1].labels_], fits[0].cluster_centers_, centres_b)
