"""Latent block models (Govaert & Nadif): the estimator, its EM machinery and model selection.

* ``_estimator.py``: :class:`LatentBlockModel`, the scikit-learn estimator (parameters
  declared in ``_constraints``, starts screened, the best kept).
* ``_em.py``: one fit's :class:`~._em.Context` (data on its backend, margins,
  half-steps on :mod:`coclust_deep.kernels`, criterion, ICL) and the run it advances:
  a :class:`~._em.Run` holding its :class:`~._em.State` (posteriors, block
  statistics, parameters, proportions) and its record.
* ``_families.py``: the distribution families in the kernels' matrix form; ``FAMILIES``.
* ``_selection.py``: :func:`select_lbm`, the ICL search over (g, m).

Shared with the other estimators: starting partitions (``coclust_deep._seeding``),
block averages with one empty-block rule (``coclust_deep._blocks``) and parameter
checks (``coclust_deep._validation``).
"""
from ._estimator import LatentBlockModel
from ._families import FAMILIES
from ._selection import select_lbm

__all__ = ["FAMILIES", "LatentBlockModel", "select_lbm"]
