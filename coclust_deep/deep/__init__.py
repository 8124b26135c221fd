"""Deep clustering and co-clustering (needs torch: ``pip install coclust_deep[deep]``).

* :class:`DEC`, :class:`IDEC`: deep embedded clustering of the rows.
* :class:`DeepCluster`: k-means pseudo-labels as supervision (Caron et al., 2018).
* :class:`DeepCoclustering`: row and column autoencoders with DEC heads, a
  latent-block-model term tying the two partitions, and optional extra views
  of the rows (``adata.obsm``) or columns (``adata.varm``) aligned CLIP-style.

This is the only part of coclust_deep that imports torch.
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

__all__ = ["DEC", "DeepCluster", "DeepCoclustering", "IDEC"]
