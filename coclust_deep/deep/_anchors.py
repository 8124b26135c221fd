"""Cross-modal anchors without pairing: a Gromov-Wasserstein coupling of two modalities (numpy, POT).

DM2C's adversarial game matches the two latent distributions, but a match
of marginals is blind to *which* group of one space should land on which
group of the other: any permutation of equal-sized clusters fits as well.
Gromov-Wasserstein optimal transport (Mémoli 2011; SCOT, Demetci et al.
2022, for unpaired single-cell modalities) compares the two spaces through
their internal distances only, so it needs no common features and no pairs:
it couples the micro-clusters of one space with those of the other whose
*positions relative to the rest* agree. The coupling gives every
micro-cluster a target in the other modality's latent space, which DM2C's
generators are pulled towards.

This module is pure numpy/scikit-learn/POT, no torch.
"""
from __future__ import annotations

import numpy as np

MAX_MICRO_CLUSTERS = 200  # SCOT-scale problems solve in seconds; more adds time, not resolution of cell types
_NEIGHBOURS = 10          # kNN graph of the micro-centres, whose shortest paths are the geodesic distances
_STARTS = 10              # GW is non-convex: the product coupling and 9 random ones, the lowest GW loss kept


def _require_pot():
    try:
        import ot
    except ImportError as err:  # pragma: no cover - POT is in the deep extra
        raise ImportError("DM2C's Gromov-Wasserstein anchors need POT (PyPI 'pot'): "
                          "pip install coclust_deep[deep], or pass anchors='none'.") from err
    return ot


def micro_clusters(points, n_micro, seed, n_init=3):
    """k-means micro-clusters: ``(labels, centres, weights)``, weights the share of samples in each."""
    from sklearn.cluster import KMeans

    km = KMeans(n_micro, n_init=n_init, random_state=seed).fit(points)
    counts = np.bincount(km.labels_, minlength=n_micro).astype(np.float64)
    used = counts > 0  # fewer distinct points than n_micro leave clusters empty: a zero marginal breaks GW
    labels = (np.cumsum(used) - 1)[km.labels_]
    return labels.astype(np.int64), km.cluster_centers_[used], counts[used] / counts.sum()


def geodesic_distances(centres):
    """Shortest-path distances on the symmetric kNN graph of ``centres``, scaled to a maximum of 1."""
    from scipy.sparse.csgraph import shortest_path
    from sklearn.neighbors import kneighbors_graph

    n = len(centres)
    if n < 2:  # one micro-cluster (identical samples): no distance to measure
        return np.zeros((n, n))
    graph = kneighbors_graph(centres, min(_NEIGHBOURS, n - 1), mode="distance")
    distances = shortest_path(graph, directed=False)
    finite = np.isfinite(distances)
    distances[~finite] = distances[finite].max() if finite.any() else 0.0  # disconnected parts: far apart
    top = distances.max()
    return distances / top if top > 0 else distances


def gromov_wasserstein_coupling(distances_a, distances_b, weights_a, weights_b, seed):
    """The coupling (rows: A's micro-clusters, columns: B's) of the lowest GW loss over the starts.

    Examples
    --------
    Two copies of one point set, shuffled, are coupled point to point:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> points = rng.normal(size=(12, 2)) * [3.0, 1.0]
    >>> order = rng.permutation(12)
    >>> d = lambda p: np.linalg.norm(p[:, None] - p[None], axis=2)
    >>> w = np.full(12, 1 / 12)
    >>> T = gromov_wasserstein_coupling(d(points), d(points[order]), w, w, seed=0)
    >>> bool(np.all(order[T.argmax(axis=1)] == np.arange(12)))
    True
    """
    ot = _require_pot()
    rng = np.random.default_rng(seed)
    best, best_loss = None, np.inf
    for start in range(_STARTS):
        if start == 0:
            initial = np.outer(weights_a, weights_b)
        else:  # a random coupling with the right marginals
            initial = ot.sinkhorn(weights_a, weights_b, rng.random((len(weights_a), len(weights_b))), 1.0)
        coupling, log = ot.gromov.gromov_wasserstein(distances_a, distances_b, weights_a, weights_b,
                                                     "square_loss", G0=initial, log=True)
        if log["gw_dist"] < best_loss:
            best, best_loss = coupling, log["gw_dist"]
    return best


class Anchors:
    """Micro-clusters of both modalities and the GW coupling between them.

    Parameters
    ----------
    points_a, points_b : ndarray of shape (n_a, d_a) and (n_b, d_b)
        The samples of each modality in a space of its own (DM2C: the
        principal components of its encoder input), where the
        micro-clusters are cut and their distances measured.
    seed : int

    Attributes
    ----------
    labels_a, labels_b : ndarray of int
        Micro-cluster of each sample.
    weights_a, weights_b : ndarray
        Share of each modality's samples in each of its micro-clusters.
    coupling : ndarray, shape (n_micro_a, n_micro_b)
    """

    def __init__(self, points_a, points_b, seed):
        n_micro = max(2, min(MAX_MICRO_CLUSTERS, len(points_a) // 4, len(points_b) // 4))
        self.labels_a, centres_a, self.weights_a = micro_clusters(points_a, min(n_micro, len(points_a)), seed)
        self.labels_b, centres_b, self.weights_b = micro_clusters(points_b, min(n_micro, len(points_b)), seed)
        self.coupling = gromov_wasserstein_coupling(geodesic_distances(centres_a), geodesic_distances(centres_b),
                                                    self.weights_a, self.weights_b, seed)

    def pairs(self, z_a, z_b):
        """Micro-cluster centres and their targets in the other space, from the current latents.

        ``z_a``/``z_b`` are the samples' latents (in the order of
        ``points_a``/``points_b``). Returns ``(centres_a, targets_a,
        centres_b, targets_b)``: ``targets_a[i]``, in B's latent space, is
        the coupling-weighted mean of the centres of B's micro-clusters
        coupled with A's micro-cluster ``i``, and the other way round. The
        centres are recomputed at each call, so the pairs follow the
        encoders as they keep training.
        """
        centres_a = _centres(z_a, self.labels_a, self.coupling.shape[0])
        centres_b = _centres(z_b, self.labels_b, self.coupling.shape[1])
        targets_a = self.coupling @ centres_b / np.maximum(self.coupling.sum(axis=1, keepdims=True), 1e-300)
        targets_b = self.coupling.T @ centres_a / np.maximum(self.coupling.sum(axis=0)[:, None], 1e-300)
        return tuple(a.astype(np.float32) for a in (centres_a, targets_a, centres_b, targets_b))


def _centres(z, labels, n):
    sums = np.zeros((n, z.shape[1]))
    np.add.at(sums, labels, z)
    counts = np.bincount(labels, minlength=n)[:, None]
    return sums / np.maximum(counts, 1)
