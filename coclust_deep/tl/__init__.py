"""Scanpy-style tools: co-clustering results written into AnnData.

Each public tool lives in its own private module and follows
``scanpy.tl.leiden``: ``adata`` first, ``layer=``/``use_raw=``/``mask_var=``,
``key_added=``, ``copy=False``, ``random_state=0``; cell clusters in
``obs[key]``, gene clusters in ``var[key]`` (natsorted string categoricals),
clusters numbered by size (``"0"`` the largest, as ``sc.tl.leiden``),
soft assignments in ``obsm[key + "_row_posterior"]``/``varm[key + "_column_posterior"]``,
embeddings in ``obsm``/``varm["X_" + key]``, parameters and statistics in ``uns[key]``.

* ``_skeleton.py``: :class:`~coclust_deep.tl._skeleton.Tool` (registration,
  key checks, writing, shared docs) and :class:`~coclust_deep.tl._skeleton.Result`;
  every tool is written on it.
* ``_utils.py``: reading the matrix (``layer``/``use_raw``/``mask_var``), the
  matrix a stored result was fitted on, h5ad-safe values.
* ``_views.py``: extra views (image or text embeddings) in ``obsm``/``varm``.
* ``_mudata.py``: ``mod=`` for every tool (a MuData's modality is read and written).
* ``_lbm.py``, ``_select_lbm.py``, ``_cocluster.py``, ``_deep_cocluster.py``, ``_multisub.py``: the tools.
* ``_gene_modules.py``: ``gene_modules`` (gene clusters ranked per cell cluster, top
  genes for ``sc.pl.dotplot``) and ``score_modules`` (``sc.tl.score_genes`` per module).
"""
from ._cocluster import cocluster
from ._deep_cocluster import deep_cocluster
from ._gene_modules import gene_modules, score_modules
from ._lbm import lbm
from ._multisub import multisub
from ._select_lbm import select_lbm
from ._views import add_view, get_view, views

__all__ = [
    "add_view", "cocluster", "deep_cocluster", "gene_modules", "get_view", "lbm", "multisub", "score_modules",
    "select_lbm", "views",
]
