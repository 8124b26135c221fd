"""LatentBlockModel on dask arrays: the same fit as in memory, by passes over row blocks."""
import threading

import numpy as np
import pytest
import scipy.sparse as sp

da = pytest.importorskip("dask.array")

from coclust_deep import LatentBlockModel  # noqa: E402
from coclust_deep.datasets import make_lbm  # noqa: E402
from coclust_deep.lbm._em import margin_info  # noqa: E402
from coclust_deep.lbm._families import make_family  # noqa: E402


class CountingArray:
    """An array-like that counts how many rows dask reads from it (each read of a block adds its rows)."""

    def __init__(self, X):
        self.X, self.shape, self.dtype, self.ndim = X, X.shape, X.dtype, 2
        self.rows_read = 0
        self._lock = threading.Lock()

    def __getitem__(self, index):
        block = self.X[index]
        with self._lock:
            self.rows_read += block.shape[0]
        return block


def same_fit(ref, model):
    assert model.backend_ == "dask"
    assert np.array_equal(ref.row_labels_, model.row_labels_)
    assert np.array_equal(ref.column_labels_, model.column_labels_)
    assert model.elbo_ == pytest.approx(ref.elbo_, rel=1e-9)
    assert model.icl_ == pytest.approx(ref.icl_, rel=1e-9)


def test_sparse_poisson_effects_fit_matches_in_memory():
    X, _, _ = make_lbm(300, 90, 3, 3, family="poisson", sparse=True, row_effects=True, random_state=1)
    kw = dict(family="poisson", poisson_effects=True, n_init=2, random_state=0)
    ref = LatentBlockModel(3, 3, **kw).fit(X)
    same_fit(ref, LatentBlockModel(3, 3, **kw).fit(da.from_array(X, chunks=(64, -1), asarray=False)))


def test_dense_float32_gaussian_fit_matches_in_memory():
    X, _, _ = make_lbm(250, 60, 3, 2, family="gaussian", random_state=2)
    X = X.astype(np.float32)
    kw = dict(family="gaussian", n_init=2, random_state=0)
    same_fit(LatentBlockModel(3, 2, **kw).fit(X), LatentBlockModel(3, 2, **kw).fit(da.from_array(X, chunks=(40, -1))))


def test_constant_column_gaussian_fit_matches_in_memory():
    # a constant gene embeds as rounding noise, which differs in memory and by blocks: it must not seed a start
    rng = np.random.default_rng(0)
    counts = rng.poisson(rng.gamma(2, 1, size=(1, 40)) * rng.gamma(3, 1, size=(120, 1)), size=(120, 40)).astype(np.float32)
    counts[:, 3] = 0
    X = np.log1p(counts / np.maximum(counts.sum(1, keepdims=True), 1) * 1e4).astype(np.float32)
    kw = dict(family="gaussian", n_init=2, random_state=1)
    same_fit(LatentBlockModel(3, 2, **kw).fit(X), LatentBlockModel(3, 2, **kw).fit(da.from_array(X, chunks=(30, -1))))

def test_sem_fit_matches_in_memory():
    X, _, _ = make_lbm(200, 60, 2, 2, family="bernoulli", random_state=3)
    kw = dict(family="bernoulli", algorithm="sem", n_init=1, max_iter=20, random_state=0)
    same_fit(LatentBlockModel(2, 2, **kw).fit(X), LatentBlockModel(2, 2, **kw).fit(da.from_array(X, chunks=(32, -1))))


def test_column_chunked_input_is_read_by_rows():
    X, _, _ = make_lbm(200, 80, 3, 2, family="poisson", random_state=0)
    kw = dict(n_init=2, random_state=0)
    same_fit(LatentBlockModel(3, 2, **kw).fit(X), LatentBlockModel(3, 2, **kw).fit(da.from_array(X, chunks=(50, 30))))


def test_margins_take_one_pass_and_serve_the_spectral_start():
    from coclust_deep._seeding import is_nonneg, spectral_embedding

    X, _, _ = make_lbm(200, 40, 2, 2, family="poisson", random_state=0)
    source = CountingArray(X)
    Xd = da.from_array(source, chunks=(50, -1))
    info = margin_info(Xd, make_family("poisson", poisson_effects=True))
    assert source.rows_read == 200  # one pass
    want = margin_info(X, make_family("poisson", poisson_effects=True))
    np.testing.assert_allclose(info.row_sums, want.row_sums)
    assert info.const == pytest.approx(want.const, rel=1e-12) and info.global_var == pytest.approx(want.global_var)
    assert is_nonneg(Xd) and source.rows_read == 200  # remembered, not read again
    spectral_embedding(Xd, 2, np.random.RandomState(0), nonneg=True)
    assert source.rows_read == 200 * 9  # 8 products of the range finder; the sums came from the margins


def test_nan_in_a_block_names_it():
    X, _, _ = make_lbm(200, 40, 2, 2, family="poisson", random_state=0)
    X[130, 7] = np.nan
    with pytest.raises(ValueError, match=r"NaN or infinite values in row block 2 of 4 \(rows 100 to 149\)"):
        LatentBlockModel(2, 2, n_init=1).fit(da.from_array(X, chunks=(50, -1)))


def test_family_check_runs_in_the_blocks():
    X = np.ones((40, 10))
    X[33, 2] = 2.0
    with pytest.raises(ValueError, match="binary"):
        LatentBlockModel(2, 2, family="bernoulli", n_init=1).fit(da.from_array(X, chunks=(10, -1)))


def test_caller_dask_array_is_not_modified():
    X, _, _ = make_lbm(120, 40, 2, 2, family="gaussian", random_state=0)
    before = X.copy()
    LatentBlockModel(2, 2, family="gaussian", n_init=1).fit(da.from_array(X, chunks=(30, -1)))
    np.testing.assert_array_equal(X, before)


def test_sparse_dask_blocks_are_never_densified(monkeypatch):
    X, rows, _ = make_lbm(400, 300, 2, 2, family="bernoulli", sparse=True, random_state=0)
    Xd = da.from_array(X, chunks=(100, -1), asarray=False)

    def refuse(self, *args, **kwargs):
        raise AssertionError("a sparse block was densified")

    for cls in (sp.csr_matrix, sp.csr_array):
        monkeypatch.setattr(cls, "toarray", refuse)
        monkeypatch.setattr(cls, "todense", refuse)
    model = LatentBlockModel(2, 2, family="bernoulli", n_init=2, init="spectral", random_state=0).fit(Xd)
    assert model.row_posterior_.shape == (400, 2)


@pytest.mark.parametrize("family", ["nb", "categorical"])
def test_sparse_family_fits_match_in_memory(family):
    X, _, _ = make_lbm(240, 60, 3, 2, family=family, signal=0.8, sparse=True, random_state=4)
    kw = dict(family=family, n_init=2, random_state=0)
    ref = LatentBlockModel(3, 2, **kw).fit(X)
    same_fit(ref, LatentBlockModel(3, 2, **kw).fit(da.from_array(X, chunks=(50, -1), asarray=False)))


def test_semi_supervised_fit_matches_in_memory():
    X, rows, cols = make_lbm(240, 60, 3, 2, family="poisson", signal=0.6, random_state=5)
    rng = np.random.default_rng(0)
    known_rows = np.where(rng.random(240) < 0.3, rows, -1)
    known_cols = np.where(rng.random(60) < 0.3, cols, -1)
    kw = dict(n_init=2, random_state=0)
    ref = LatentBlockModel(3, 2, **kw).fit(X, row_labels=known_rows, column_labels=known_cols)
    model = LatentBlockModel(3, 2, **kw).fit(da.from_array(X, chunks=(50, -1)), row_labels=known_rows,
                                             column_labels=known_cols)
    same_fit(ref, model)
    assert np.array_equal(model.row_labels_[known_rows >= 0], known_rows[known_rows >= 0])


def test_gaussian_variance_on_an_offset_is_exact_by_blocks():
    X, _, _ = make_lbm(200, 40, 2, 2, family="gaussian", random_state=6)
    X = X + 1e8  # E[x^2] - E[x]^2 would lose every digit here
    fam = make_family("gaussian")
    got, want = margin_info(da.from_array(X, chunks=(30, -1)), fam), margin_info(X, fam)
    assert got.global_var == pytest.approx(want.global_var, rel=1e-9)
    assert got.global_var == pytest.approx(X.var(), rel=1e-9)
