"""A sparse fit allocates O(nnz + (n + d)(g + m)) extra memory: no densification."""
import tracemalloc

import numpy as np
import pytest

from coclust_deep import LatentBlockModel
from coclust_deep.datasets import make_lbm


@pytest.mark.parametrize("backend", ["numpy", "numba"])
def test_sparse_fit_extra_memory_is_bounded_by_csr_size(backend):
    X, _, _ = make_lbm(40_000, 4_000, 5, 5, family="bernoulli", sparse=True, density=0.005,
                       random_state=0)
    csr_bytes = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    dense_bytes = X.shape[0] * X.shape[1] * 8
    model = LatentBlockModel(5, 5, family="bernoulli", n_init=1, max_iter=5, init="random",
                             random_state=0, backend=backend)
    model.fit(X)  # warm-up: compilation caches are not the fit's working memory
    tracemalloc.start()
    model.fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # one transposed copy of X plus the (n + d) x (g + m) posteriors and statistics
    assert peak < 2.0 * csr_bytes + 64 * (X.shape[0] + X.shape[1]) * 10
    assert peak < dense_bytes / 20
    assert np.isfinite(model.elbo_)
