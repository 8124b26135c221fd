"""Every Examples section in the package's docstrings runs and prints what it shows."""
import doctest
import importlib
import pkgutil

import pytest

import coclust_deep
import coclust_deep.kernels


def _module_names():
    """Every module of coclust_deep, and of coclust_deep.kernels, which lives in another folder."""
    names = ["coclust_deep.kernels"]
    for package in (coclust_deep, coclust_deep.kernels):
        prefix = package.__name__ + "."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return [name for name in names if not name.endswith("__main__")]


def _modules_with_examples():
    names = []
    for name in _module_names():
        try:
            mod = importlib.import_module(name)
        except ImportError:  # optional extras (torch, cupy) absent
            continue
        finder = doctest.DocTestFinder(exclude_empty=True)
        if any(t.examples for t in finder.find(mod)):
            names.append(name)
    return names


def test_walk_reaches_the_kernels():
    names = _module_names()
    assert "coclust_deep.kernels.numba_backend" in names and "coclust_deep.kernels.contract" in names


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples_run(module_name):
    mod = importlib.import_module(module_name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
