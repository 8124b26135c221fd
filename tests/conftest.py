"""Fixtures and collection rules shared by the whole suite.

The folders mirror the package: ``kernels/``, ``lbm/``, ``classic/``,
``deep/``, ``tl/``, ``pl/``, plus ``benchmarks/`` for the benchmark scripts'
smoke runs. ``generators.py`` holds the LBM generator written independently
of ``coclust_deep.datasets.make_lbm``.
"""
import importlib.util
import os

import pytest

# The library never sets the OpenMP wait policy; the suite runs on shared
# cores, where passive waiting keeps numba's parallel regions fast
# (kernels/_config.py). Set before any OpenMP runtime starts; xdist workers inherit it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# The deep models need torch (the `deep` extra); without it their folder is skipped.
collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["deep/*"]


@pytest.fixture
def scanpy_log():
    """What scanpy's logging writes during the test (``sc.settings.logfile`` redirected), at verbosity info."""
    import io
    import sys

    import scanpy as sc

    stream, verbosity = io.StringIO(), sc.settings.verbosity
    sc.settings.logfile, sc.settings.verbosity = stream, "info"
    yield stream
    sc.settings.logfile, sc.settings.verbosity = sys.stderr, verbosity
