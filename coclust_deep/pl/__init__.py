"""Scanpy-style plots of co-clustering results (matplotlib only).

Every function returns matplotlib Axes, accepts ``ax=``, ``show=`` and
``save=`` like scanpy's plots, and never calls ``plt.show()`` unless
``show=True`` is passed.
"""
from ._blocks import block_means, blocks
from ._convergence import convergence
from ._icl import icl

__all__ = ["block_means", "blocks", "convergence", "icl"]
