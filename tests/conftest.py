"""Fixtures and collection rules shared by the whole suite.

The folders mirror the package: ``kernels/``, ``lbm/``, ``classic/``,
``deep/``, ``tl/``, ``pl/``, plus ``benchmarks/`` for the benchmark scripts'
smoke runs. ``generators.py`` holds the LBM generator written independently
of ``coclust_deep.datasets.make_lbm``.
"""
import importlib.util

# The deep models need torch (the `deep` extra); without it their folder is skipped.
collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["deep/*"]
