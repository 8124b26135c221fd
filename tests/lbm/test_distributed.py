"""LatentBlockModel on a dask.distributed LocalCluster: a zarr matrix larger than any worker's memory.

Each worker is a separate process with a small memory limit (distributed's
nanny pauses it at 80 % and kills it at 95 %); the matrix on disk is about
three times one worker's limit, so the fit only passes if every pass streams
row blocks instead of holding X (or its transpose) anywhere.
"""
import os

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
pytest.importorskip("zarr")

import dask  # noqa: E402

from benchmarks.lbm_out_of_core import peak_rss  # noqa: E402
from coclust_deep import LatentBlockModel  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

WORKER_LIMIT = 600 * 2**20  # bytes; an idle worker with the kernels loaded takes about 330 MiB
N_ROWS, N_COLS, ROWS_PER_CHUNK = 240_000, 2_000, 2_000  # float32: 1.79 GiB, 3.05 worker limits
G, M = 3, 3
MEANS = np.array([[0.0, 0.6, 1.2], [0.6, 0.0, 0.6], [1.2, 0.6, 0.0]], dtype=np.float32)


def planted_rows(block_id=None):
    """One chunk of the planted Gaussian matrix: row i is in cluster i % G, column j in j % M."""
    i = block_id[0]
    rng = np.random.default_rng([7, i])
    z = np.arange(i * ROWS_PER_CHUNK, (i + 1) * ROWS_PER_CHUNK) % G
    w = np.arange(N_COLS) % M
    return MEANS[z][:, w] + rng.standard_normal((ROWS_PER_CHUNK, N_COLS), dtype=np.float32)


@pytest.fixture(scope="module")
def zarr_matrix(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("ooc") / "X.zarr")
    X = da.map_blocks(planted_rows, chunks=((ROWS_PER_CHUNK,) * (N_ROWS // ROWS_PER_CHUNK), (N_COLS,)),
                      dtype=np.float32)
    with dask.config.set(scheduler="threads", num_workers=2):
        da.to_zarr(X, path, compressors=None)  # uncompressed: the test times reads, not zstd
    return path


@pytest.mark.slow
@pytest.mark.timeout(1200)  # about a minute on a quiet 2-core machine
def test_zarr_matrix_three_times_a_worker_limit_fits_like_in_memory(zarr_matrix):
    Xd = da.from_zarr(zarr_matrix)
    assert Xd.nbytes > 3 * WORKER_LIMIT
    kw = dict(family="gaussian", n_init=1, init="spectral", random_state=0)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=WORKER_LIMIT,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
        model = LatentBlockModel(G, M, **kw).fit(Xd)
        assert client.run(os.getpid) == pids  # no worker was killed and restarted on the way
        peaks = client.run(peak_rss)
    assert max(peaks.values()) < WORKER_LIMIT
    assert model.backend_ == "dask"
    ref = LatentBlockModel(G, M, backend="numba", **kw).fit(Xd.compute())
    assert np.array_equal(model.row_labels_, ref.row_labels_)
    assert np.array_equal(model.column_labels_, ref.column_labels_)
    assert model.elbo_ == pytest.approx(ref.elbo_, rel=1e-9)
    assert ari(np.arange(N_ROWS) % G, model.row_labels_) == 1.0
    assert ari(np.arange(N_COLS) % M, model.column_labels_) == 1.0


def _die_in_a_worker(block):
    try:
        distributed.get_worker()
    except ValueError:  # not in a worker: the driver is building the graph
        return block
    os._exit(1)  # as if the kernel's OOM killer ended the worker process


@pytest.mark.timeout(120)
def test_a_worker_that_dies_surfaces_distributeds_error():
    X = da.map_blocks(_die_in_a_worker, da.ones((400, 30), chunks=(100, 30)), dtype=float)
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                      dashboard_address=None) as cluster, distributed.Client(cluster):
            with pytest.raises(distributed.scheduler.KilledWorker):
                LatentBlockModel(2, 2, n_init=1, init="random").fit(X)
