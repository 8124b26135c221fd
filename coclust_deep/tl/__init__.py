"""Scanpy-style tools: co-clustering results written into AnnData.

Each public tool lives in its own private module and follows
``scanpy.tl.leiden``: ``adata`` first, ``layer=``/``use_raw=``/``mask_var=``,
``key_added=``, ``copy=False``, ``random_state=0``; cell clusters in
``obs[key]``, gene clusters in ``var[key]`` (natsorted string categoricals),
parameters and block statistics in ``uns[key]``.
"""
from ._cocluster import cocluster
from ._deep_cocluster import deep_cocluster
from ._lbm import lbm
from ._select_lbm import select_lbm
from ._views import add_view, get_view, views

__all__ = ["add_view", "cocluster", "deep_cocluster", "get_view", "lbm", "select_lbm", "views"]
