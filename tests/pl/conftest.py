"""Plots return their Axes in these tests: scanpy's autoshow is off unless a test turns it on."""
import pytest


@pytest.fixture(autouse=True)
def no_autoshow():
    """``show=None`` follows ``sc.settings.autoshow``; the tests inspect the returned Axes instead."""
    import scanpy as sc

    before = sc.settings.autoshow
    sc.settings.autoshow = False
    yield
    sc.settings.autoshow = before
