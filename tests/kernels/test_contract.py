"""One declaration of the mode codes and of the CSR row chunks, used by every backend."""
import re

import numpy as np
import pytest

from coclust_deep.kernels import _numba_csr, _numba_posterior, contract, cupy_backend


def test_numba_kernels_use_the_contract_codes():
    for name in ("SOFT", "HARD", "GIVEN"):
        assert getattr(_numba_posterior, name) == getattr(contract, name)


def test_cuda_source_gets_the_contract_codes_and_no_literals():
    src = cupy_backend._SOURCE
    for name in ("SOFT", "HARD", "GIVEN"):
        assert f"#define MODE_{name} {getattr(contract, name)}\n" in src
    assert not re.search(r"mode\s*[!=]=\s*\d", src)


@pytest.mark.parametrize("row_lengths", [[3, 0, 5, 1, 0, 0, 7], [0, 0, 0, 0], [4], [1] * 20])
@pytest.mark.parametrize("n_chunks", [1, 2, 3, 8])
def test_csr_chunks_tile_the_rows(row_lengths, n_chunks):
    indptr = np.concatenate([[0], np.cumsum(row_lengths)]).astype(np.int64)
    bounds = [_numba_csr._chunk_rows(indptr, c, n_chunks) for c in range(n_chunks)]
    assert bounds[0][0] == 0 and bounds[-1][1] == len(row_lengths)
    assert all(hi == lo for (_, hi), (lo, _) in zip(bounds, bounds[1:]))
    assert all(lo <= hi for lo, hi in bounds)
