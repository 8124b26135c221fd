"""Batches built on the device (DeviceMatrix) equal the host batches; a fit with them gives the same result."""
import numpy as np
import pytest
import scipy.sparse as sp

torch = pytest.importorskip("torch")

from coclust_deep.deep import DeepCoclustering  # noqa: E402
from coclust_deep.deep import _device_data  # noqa: E402
from coclust_deep.deep._base import to_tensors  # noqa: E402
from coclust_deep.deep._data import MatrixData  # noqa: E402

from ..generators import nb_cell_types  # noqa: E402
from .test_deep_sc import SMALL  # noqa: E402

CPU = torch.device("cpu")


def _assert_same_batch(device_batch, host_batch):
    assert sorted(device_batch) == sorted(host_batch)
    for key, value in to_tensors(host_batch, CPU).items():
        assert torch.equal(device_batch[key], value), key


@pytest.mark.parametrize("likelihood, sparse, n_top", [("nb", False, None), ("nb", True, 30),
                                                        ("gaussian", False, None)])
def test_device_batches_equal_host_batches(likelihood, sparse, n_top):
    counts, _ = nb_cell_types(120, 50)
    X = sp.csr_matrix(counts) if sparse else (counts if likelihood == "nb" else np.log1p(counts))
    data = MatrixData(X, likelihood, max_col_input=64, rng=np.random.default_rng(0), n_top_genes=n_top)
    on_dev, _, _ = _device_data.on_device(data, {}, {}, CPU, force=True)
    idx = np.array([5, 0, 77, 119, 3])
    _assert_same_batch(on_dev.rows(idx), data.rows(idx))
    _assert_same_batch(on_dev.inputs(idx), data.inputs(idx))
    _assert_same_batch(on_dev.columns(np.array([49, 0, 7])), data.columns(np.array([49, 0, 7])))
    assert on_dev.n_rows == data.n_rows and on_dev.stats is data.stats


def test_fit_with_device_batches_matches_host_batches(monkeypatch):
    counts, _ = nb_cell_types(150, 40)
    protein = np.random.default_rng(1).normal(size=(150, 3))
    kw = dict(SMALL, pretrain_epochs=3, epochs=3, random_state=0)
    host = DeepCoclustering(3, 2, **kw).fit(counts, row_views={"protein": protein})
    original = _device_data.on_device
    monkeypatch.setattr("coclust_deep.deep.coclustering.on_device",
                        lambda *args: original(*args, force=True))
    device = DeepCoclustering(3, 2, **kw).fit(counts, row_views={"protein": protein})
    np.testing.assert_array_equal(device.row_labels_, host.row_labels_)
    np.testing.assert_array_equal(device.column_labels_, host.column_labels_)
    np.testing.assert_allclose(device.row_embedding_, host.row_embedding_, rtol=1e-5, atol=1e-6)


def test_device_copies_too_large_for_the_free_memory_stay_on_the_host(monkeypatch):
    counts, _ = nb_cell_types(60, 20)
    data = MatrixData(counts, "nb", max_col_input=64, rng=np.random.default_rng(0))
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (1024, 1 << 30))
    got, rows, cols = _device_data.on_device(data, {}, {}, torch.device("cuda"))
    assert got is data and rows == {} and cols == {}
