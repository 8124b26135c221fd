"""get_config / set_config / config_context: explicit settings of the compute layer."""
import os
import subprocess
import sys

import numba
import pytest

import coclust_deep
from coclust_deep import kernels
from coclust_deep.kernels import numba_backend as nb


def test_defaults():
    assert kernels.get_config() == {"parallel_min_values": 500_000}


def test_reexported_from_the_package():
    assert coclust_deep.set_config is kernels.set_config and coclust_deep.get_config is kernels.get_config
    assert coclust_deep.config_context is kernels.config_context


def test_get_config_returns_a_copy():
    kernels.get_config()["parallel_min_values"] = 1
    assert kernels.get_config()["parallel_min_values"] == 500_000


def test_context_restores_on_error():
    with pytest.raises(RuntimeError), kernels.config_context(parallel_min_values=7):
        assert kernels.get_config()["parallel_min_values"] == 7
        raise RuntimeError
    assert kernels.get_config()["parallel_min_values"] == 500_000


@pytest.mark.parametrize("value,error", [(-1, ValueError), (1.5, TypeError), (True, TypeError), ("0", TypeError)])
def test_bad_values_rejected(value, error):
    with pytest.raises(error, match="parallel_min_values"):
        kernels.set_config(parallel_min_values=value)
    assert kernels.get_config()["parallel_min_values"] == 500_000


def test_threshold_decides_one_thread():
    before = numba.get_num_threads()
    with kernels.config_context(parallel_min_values=100):
        with nb._threads_for(99) as threads:
            assert threads == 1 and numba.get_num_threads() == 1
        with nb._threads_for(100) as threads:
            assert threads == before and numba.get_num_threads() == before
    assert numba.get_num_threads() == before


def test_importing_sets_no_environment_variable():
    env = {k: v for k, v in os.environ.items() if not k.startswith("OMP_")}
    code = ("import os, coclust_deep, coclust_deep.kernels.numba_backend, numpy as np;"
            "from coclust_deep import LatentBlockModel;"
            "LatentBlockModel(2, 2, n_init=1).fit(np.random.default_rng(0).poisson(1.0, (30, 20)));"
            "print(sorted(k for k in os.environ if k.startswith('OMP_')))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
