"""Lazy (dask) matrices: their margins in one pass, remembered per array.

Every estimator that takes a dask array needs some of the same facts about it
before its first half-step: row and column sums (and sums of squares), the
number of negative, non-integer and non-binary values, the minimum, and that
nothing is NaN. :func:`lazy_margins` reads them in one pass over the row
blocks (``coclust_deep.kernels.dask_backend.margins``) and keeps the answer
for as long as the array object lives, so the input checks, the family
check of ``tl.lbm(family="auto")``, the spectral starts and the estimators'
constants share one read of X. (A dask array is a fixed graph: if the files
behind it change, build a new array.)
"""
from __future__ import annotations

import weakref

from .kernels import dask_backend

__all__ = ["lazy_margins"]

# id(X) -> (weak reference to X, {extra key: Margins}); an entry goes with its array.
_MEMO: dict = {}


def lazy_margins(X, extra=None, *extra_args):
    """:class:`~coclust_deep.kernels.dask_backend.Margins` of dask array ``X``, one pass at most per need.

    Without ``extra`` any remembered pass over ``X`` serves; with it (a
    function of each block's stored values, summed over blocks, see
    ``dask_backend.margins``) only a pass that computed the same
    ``(extra, extra_args)``.
    """
    entry = _MEMO.get(id(X))
    if entry is not None and entry[0]() is not X:  # an id reused by a new array
        entry = None
    if entry is not None:
        found = entry[1].get((extra, extra_args)) if extra is not None else next(iter(entry[1].values()))
        if found is not None:
            return found
    result = dask_backend.margins(X, extra, *extra_args)
    if entry is None:
        entry = (weakref.ref(X), {})
        _MEMO[id(X)] = entry
        weakref.finalize(X, _MEMO.pop, id(X), None)
    entry[1][(extra, extra_args)] = result
    return result
