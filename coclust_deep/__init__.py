"""coclust_deep: co-clustering and biclustering for omics matrices.

Latent block models fitted with compiled kernels, classic co-clustering and
biclustering algorithms, deep co-clustering (``coclust_deep.deep``, needs
torch) and a scanpy-style interface (``coclust_deep.tl`` / ``coclust_deep.pl``).
"""
from . import datasets, kernels, metrics
from .classic import *  # noqa: F401,F403  (classic co-clustering estimators)
from .classic import __all__ as _classic_all
from .lbm import LatentBlockModel, select_lbm
from . import pl, tl

__version__ = "0.1.0"

__all__ = ["LatentBlockModel", "datasets", "kernels", "metrics", "pl", "select_lbm", "tl", *_classic_all]
