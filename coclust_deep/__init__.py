"""coclust_deep: co-clustering and biclustering for omics matrices.

Latent block models fitted with compiled kernels, classic co-clustering and
biclustering algorithms, deep co-clustering (``coclust_deep.deep``, needs
torch) and a scanpy-style interface (``coclust_deep.tl`` / ``coclust_deep.pl``).
``get_config``/``set_config``/``config_context`` hold the compute layer's
settings (:mod:`coclust_deep.kernels`); nothing is changed on import.
"""
from . import datasets, kernels, metrics
from .kernels import config_context, get_config, set_config
from .classic import *  # noqa: F401,F403  (classic co-clustering estimators)
from .classic import __all__ as _classic_all
from .lbm import LatentBlockModel, select_lbm
from . import pl, tl

__version__ = "0.1.0"

__all__ = [
    "LatentBlockModel", "config_context", "datasets", "get_config", "kernels", "metrics", "pl",
    "select_lbm", "set_config", "tl", *_classic_all,
]
