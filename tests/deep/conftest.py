"""Shared data and settings of the deep-model tests (CPU, one thread, small nets)."""
import pytest
import torch

from coclust_deep.datasets import make_lbm

torch.set_num_threads(1)


@pytest.fixture(scope="session")
def planted():
    """Gaussian LBM: 240 rows in 3 clusters, 60 columns in 2 clusters, clear signal."""
    return make_lbm(240, 60, 3, 2, family="gaussian", signal=1.0, random_state=0)
