"""Every Examples section in the package's docstrings runs and prints what it shows."""
import doctest
import importlib
import pkgutil

import pytest

import coclust_deep


def _modules_with_examples():
    names = []
    for info in pkgutil.walk_packages(coclust_deep.__path__, "coclust_deep."):
        if info.name.endswith("__main__"):
            continue
        try:
            mod = importlib.import_module(info.name)
        except ImportError:  # optional extras (torch, cupy) absent
            continue
        finder = doctest.DocTestFinder(exclude_empty=True)
        if any(t.examples for t in finder.find(mod)):
            names.append(info.name)
    return names


@pytest.mark.parametrize("module_name", _modules_with_examples())
def test_docstring_examples_run(module_name):
    mod = importlib.import_module(module_name)
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted > 0
    assert result.failed == 0
