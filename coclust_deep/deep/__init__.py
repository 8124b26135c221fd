"""Deep clustering and co-clustering (needs torch: ``pip install coclust_deep[deep]``).

* :class:`DEC`, :class:`IDEC`: deep embedded clustering of the rows.
* :class:`DeepCluster`: k-means pseudo-labels as supervision (Caron et al., 2018).
* :class:`DeepCoclustering`: row and column autoencoders with DEC heads, a
  latent-block-model term tying the two partitions, and optional extra views
  of the rows (``adata.obsm``) or columns (``adata.varm``) aligned CLIP-style.
* :class:`MultiSub`: one clustering per user-given concept (gene sets,
  feature vectors or keywords as proxies; Yao, Qian & Hu, 2024).

Layout (nn -> module -> training plan -> estimator): ``_nn.py`` reusable torch
blocks; ``_module.py`` the ``nn.Module``s, which return a ``Losses`` object
(terms grouped by kind); ``_train.py`` the one training plan every estimator
runs (phases, optimisers, history, per-epoch checkpoints, interrupt and
resume); ``_data.py`` numpy/scipy input preparation; ``_base.py`` the
estimator base (checks, save/load); one file per estimator.

This is the only part of coclust_deep that imports torch. Importing it also
runs one tiny optimiser step, so that torch's lazy imports happen here and
not inside a fit, where a KeyboardInterrupt could leave them half done.
"""
try:
    import torch  # noqa: F401
except ImportError as err:  # pragma: no cover - exercised only without torch
    raise ImportError(
        "coclust_deep.deep needs PyTorch, which is not installed. Install it with "
        "`pip install coclust_deep[deep]` (or `pip install torch`)."
    ) from err

from .coclustering import DeepCoclustering
from .dec import DEC, IDEC
from .deepcluster import DeepCluster
from .multisub import MultiSub

__all__ = ["DEC", "DeepCluster", "DeepCoclustering", "IDEC", "MultiSub"]
