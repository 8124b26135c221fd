"""Latent block models (Govaert & Nadif): the estimator, its EM machinery and model selection.

* ``_estimator.py``: :class:`LatentBlockModel`, the scikit-learn estimator.
* ``_em.py``: one fit's data, margins, half-steps (on :mod:`coclust_deep.kernels`),
  criterion and ICL.
* ``_families.py``: the distribution families in the kernels' matrix form.
* ``_init.py``: hard starting partitions (spectral embedding + k-means, random).
* ``_selection.py``: :func:`select_lbm`, the ICL search over (g, m).
"""
from ._estimator import LatentBlockModel
from ._families import FAMILIES
from ._selection import select_lbm

__all__ = ["FAMILIES", "LatentBlockModel", "select_lbm"]
