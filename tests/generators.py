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


# Negative binomial: block means on top of depth (row) and abundance (column) effects, and the
# standard gamma-Poisson over-dispersion with a size per column that does NOT scale with depth
# (the library's model scales it; this generator is deliberately not that model). A third of the
# columns are very noisy (size 0.3), the rest nearly Poisson (size 20).
NB_MEAN = np.array([[1.0, 4.0, 2.0], [3.0, 1.0, 5.0], [5.0, 4.0, 1.0], [2.0, 6.0, 4.0]])
NB_NOISY_SIZE, NB_CLEAN_SIZE = 0.3, 20.0

# Categorical: level probabilities (levels 0, 1, 2 as genotype calls) per block, by hand.
CATEGORICAL_ALPHA = np.array([
    [[0.80, 0.15, 0.05], [0.10, 0.30, 0.60], [0.30, 0.60, 0.10]],
    [[0.20, 0.70, 0.10], [0.70, 0.20, 0.10], [0.05, 0.15, 0.80]],
    [[0.10, 0.20, 0.70], [0.40, 0.50, 0.10], [0.75, 0.20, 0.05]],
    [[0.45, 0.10, 0.45], [0.05, 0.90, 0.05], [0.30, 0.30, 0.40]],
])


def handwritten_nb(n_rows=1000, n_cols=600, seed=0):
    """Over-dispersed counts: x = Poisson(mean * G), G ~ Gamma(size_j, 1/size_j)."""
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n_rows) % ROW_CLUSTERS)
    w = rng.permutation(np.arange(n_cols) % COL_CLUSTERS)
    depth = np.exp(rng.normal(0.0, 0.4, size=n_rows))
    abundance = np.exp(rng.normal(0.0, 0.4, size=n_cols))
    size = np.where(rng.random(n_cols) < 1 / 3, NB_NOISY_SIZE, NB_CLEAN_SIZE)
    mean = NB_MEAN[z][:, w] * depth[:, None] * abundance[None, :]
    X = rng.poisson(mean * rng.gamma(size[None, :], 1.0 / size[None, :], size=mean.shape)).astype(float)
    return X, z, w


def handwritten_categorical(n_rows=900, n_cols=300, seed=0):
    """Levels drawn cell by cell by inverting each block's cumulative probabilities."""
    rng = np.random.default_rng(seed)
    z = rng.permutation(np.arange(n_rows) % ROW_CLUSTERS)
    w = rng.permutation(np.arange(n_cols) % COL_CLUSTERS)
    cdf = np.cumsum(CATEGORICAL_ALPHA, axis=2)[z][:, w]  # (n_rows, n_cols, levels)
    X = (rng.random((n_rows, n_cols, 1)) > cdf[:, :, :-1]).sum(axis=2).astype(float)
    return X, z, w


# Ten row clusters over five column clusters, rates written by hand (rows and columns pairwise
# distinct): enough clusters that a fit from a few unlabelled starts can end in a local optimum.
MANY_RATES = np.array([
    [1.0, 2.0, 3.0, 4.0, 5.0],
    [5.0, 4.0, 3.0, 2.0, 1.0],
    [1.0, 5.0, 1.0, 5.0, 1.0],
    [5.0, 1.0, 5.0, 1.0, 5.0],
    [3.0, 3.0, 1.0, 1.0, 4.0],
    [1.0, 1.0, 4.0, 4.0, 2.0],
    [4.0, 2.0, 2.0, 5.0, 3.0],
    [2.0, 4.0, 5.0, 2.0, 3.0],
    [3.0, 5.0, 4.0, 3.0, 1.0],
    [2.0, 1.0, 2.0, 3.0, 5.0],
])


def handwritten_many_clusters(n_rows=1000, n_cols=400, seed=0):
    """Poisson counts from :data:`MANY_RATES` with round-robin labels, shuffled."""
    rng = np.random.default_rng(seed)
    g, m = MANY_RATES.shape
    z = rng.permutation(np.arange(n_rows) % g)
    w = rng.permutation(np.arange(n_cols) % m)
    return rng.poisson(MANY_RATES[z][:, w] * 0.25).astype(float), z, w


def nb_cell_types(n_cells=300, n_genes=80, k=3, seed=0):
    """Independent NB simulator: k cell types, each with its own up-regulated genes, varying depth."""
    rng = np.random.default_rng(seed)
    types = rng.permutation(np.arange(n_cells) % k)
    base = rng.gamma(2.0, 0.5, size=n_genes)
    profile = np.tile(base, (k, 1))
    for t, genes in enumerate(np.array_split(rng.permutation(n_genes), k)):
        profile[t, genes] *= 6.0
    depth = rng.lognormal(0.0, 0.3, size=n_cells)
    mean = depth[:, None] * profile[types]
    theta = 5.0
    counts = rng.poisson(rng.gamma(theta, mean / theta))
    return counts.astype(np.float32), types
