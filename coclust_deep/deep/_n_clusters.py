"""Number of clusters from an embedding, without labels: leiden on its kNN graph."""
from __future__ import annotations

import numpy as np

LEIDEN_RESOLUTION = 1.0
N_NEIGHBORS = 15


def leiden_n_clusters(z, *, seed, resolution=LEIDEN_RESOLUTION, n_neighbors=N_NEIGHBORS):
    """``(k, how)``: the number of leiden communities of ``z``'s kNN graph, and how it was found.

    The graph joins each point to its ``n_neighbors`` nearest neighbours
    (euclidean, exact, scikit-learn), symmetrised, unit weights; leiden
    (``leidenalg``, RB configuration model = modularity at ``resolution``,
    scanpy's default objective and resolution) partitions it. ``how`` is the
    record stored in the estimator's ``n_row_clusters_estimation_``.
    """
    try:
        import igraph
        import leidenalg
    except ImportError as err:
        raise ImportError("estimating the number of clusters needs igraph and leidenalg "
                          "(`pip install igraph leidenalg`); or pass n_row_clusters.") from err
    from sklearn.neighbors import kneighbors_graph

    z = np.asarray(z, dtype=np.float32)
    n_neighbors = int(min(n_neighbors, len(z) - 1))
    if n_neighbors < 1:
        k = len(z)
    else:
        A = kneighbors_graph(z, n_neighbors, mode="connectivity", include_self=False)
        A = (A + A.T).tocoo()
        upper = A.row < A.col
        graph = igraph.Graph(n=len(z), edges=np.column_stack([A.row[upper], A.col[upper]]).tolist())
        partition = leidenalg.find_partition(graph, leidenalg.RBConfigurationVertexPartition,
                                             resolution_parameter=float(resolution), seed=int(seed) % (2 ** 31),
                                             n_iterations=-1)
        k = int(len(set(partition.membership)))
    how = {"method": "leiden (modularity, RB configuration) on the symmetric kNN graph of the pretrained "
                     "row embedding", "resolution": float(resolution), "n_neighbors": n_neighbors, "n_clusters": k}
    return k, how
