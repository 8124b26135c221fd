"""An LBM generator written independently of coclust_deep.datasets.make_lbm.

Labels are assigned round-robin and shuffled; the block parameters are fixed
by hand so that every pair of row clusters and of column clusters differs.
"""
import numpy as np

ROW_CLUSTERS, COL_CLUSTERS = 4, 3

BERNOULLI_P = np.array([[0.10, 0.50, 0.80], [0.60, 0.20, 0.30], [0.85, 0.75, 0.20], [0.30, 0.90, 0.55]])
POISSON_LAMBDA = np.array([[1.0, 4.0, 2.0], [3.0, 1.0, 6.0], [5.0, 5.0, 1.0], [2.0, 6.0, 4.0]])
GAUSSIAN_MEAN = np.array([[0.0, 2.0, -1.0], [1.0, -1.0, 2.0], [2.0, 1.0, 0.0], [-1.0, 0.0, 1.0]])
GAUSSIAN_SD = np.array([[1.0, 0.7, 1.3], [0.8, 1.2, 1.0], [1.1, 0.9, 0.7], [1.0, 1.0, 1.2]])


def handwritten_lbm(family, n_rows=1500, n_cols=400, seed=0):
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n_rows) % ROW_CLUSTERS)
    w = rng.permutation(np.arange(n_cols) % COL_CLUSTERS)
    if family == "bernoulli":
        X = (rng.random((n_rows, n_cols)) < BERNOULLI_P[z][:, w]).astype(float)
    elif family == "poisson":
        X = rng.poisson(POISSON_LAMBDA[z][:, w]).astype(float)
    else:
        X = rng.normal(GAUSSIAN_MEAN[z][:, w], GAUSSIAN_SD[z][:, w])
    return X, z, w
