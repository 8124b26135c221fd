"""Classic co-clustering and biclustering estimators (scikit-learn API).

Double k-means, information-theoretic and modularity co-clustering run their
hard block updates on :mod:`coclust_deep.kernels` (the loop is
``_base.HardBlockCoclustering``) and start from the partitions of
``coclust_deep._seeding``, as the latent block model does; the spectral methods
and Cheng & Church use sparse linear algebra and numpy directly. Every estimator
declares its parameters in ``_constraints`` (``coclust_deep._validation``).
"""
from .cheng_church import ChengChurch
from .double_kmeans import DoubleKMeans
from .info import InfoCoclustering
from .modularity import ModularityCoclustering
from .spectral import SpectralBiclustering, SpectralCoclustering

__all__ = [
    "ChengChurch",
    "DoubleKMeans",
    "InfoCoclustering",
    "ModularityCoclustering",
    "SpectralBiclustering",
    "SpectralCoclustering",
]
