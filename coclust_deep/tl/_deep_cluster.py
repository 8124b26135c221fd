"""``tl.deep_cluster``: deep clustering of the cells (MMDC, DCEC, DEC, IDEC, DeepCluster), written into AnnData."""
from __future__ import annotations

import numbers

import numpy as np
import scipy.sparse as sp

from ._skeleton import Result, Tool
from ._utils import get_matrix
from ._views import read_views

DEEP_CLUSTER = Tool("deep_cluster", writes=("row_labels", "row_embedding"), may_write=("row_posterior",))

# method -> class name in coclust_deep.deep
METHODS = {"mmdc": "MMDC", "dcec": "DCEC", "dec": "DEC", "idec": "IDEC", "deepcluster": "DeepCluster"}
_IMAGE_ONLY = ("dcec",)
_WITH_VIEWS = ("mmdc",)
_WITH_POSTERIOR = ("dec", "idec", "dcec")


def _image_shape(image_shape, n_features):
    if image_shape is None:
        return None
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) not in (2, 3) or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s > 0 for s in image_shape):
        raise ValueError(f"image_shape must be (H, W) or (C, H, W) positive ints, got {image_shape!r}.")
    if int(np.prod(image_shape)) != n_features:
        raise ValueError(f"image_shape={tuple(image_shape)} holds {int(np.prod(image_shape))} pixels but the "
                         f"matrix has {n_features} columns; each cell's row must be one flattened image.")
    return tuple(int(s) for s in image_shape)


@DEEP_CLUSTER.document
def deep_cluster(
    adata,
    method="mmdc",
    n_clusters=8,
    *,
    layer=None,
    use_raw=False,
    mask_var=None,
    use_highly_variable=None,
    image_shape=None,
    obs_views=None,
    key_added=None,
    overwrite=False,
    copy=False,
    random_state=0,
    **kw,
):
    """Deep clustering of the observations with one of the deep models of :mod:`coclust_deep.deep`.

    Needs torch (``pip install coclust_deep[deep]``).

    Parameters
    ----------
    adata
        Annotated data matrix.
    method
        ``"mmdc"`` (:class:`~coclust_deep.deep.MMDC`; raw counts are
        detected and log-normalised), ``"dcec"`` (:class:`~coclust_deep.deep.DCEC`,
        images only), ``"dec"``, ``"idec"`` or ``"deepcluster"``.
    n_clusters
        Number of clusters.
    {doc_input}
    image_shape
        ``(H, W)`` or ``(C, H, W)``: each row of the matrix is a flattened
        image of that shape (C-order), clustered with the convolutional
        network (MMDC) or autoencoder (DCEC). Required for ``"dcec"``.
    obs_views
        Keys of ``adata.obsm`` holding extra views of the observations
        (``"mmdc"`` only); the name given to :func:`coclust_deep.tl.add_view`
        also works.
    {doc_key_added}
        Default: the method's name.
    {doc_overwrite_copy}
    random_state
        Seed of the model (same seed, same result on CPU).
    **kw
        Further parameters of the estimator (``epochs``, ``device``,
        ``verbose``, ``likelihood="nb"`` for DEC/IDEC on counts, ...).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes:

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``params["method"]``, ``params["obs_views"]`` (the keys read),
        ``history`` (loss terms per epoch), ``n_epochs`` and ``interrupted``;
        for MMDC ``input_type`` and ``aux_task``. The embedding is the
        encoder's latent space (DEC, IDEC, DCEC, DeepCluster) or MMDC's fused
        features; the posterior is the Student-t soft assignment (DEC, IDEC,
        DCEC only).

    Ctrl-C (KeyboardInterrupt) during training stops the call: nothing is
    written and an earlier result under ``key_added`` is kept.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> tl.deep_cluster(adata, "mmdc", 4, use_raw=True, epochs=2, hidden=(32, 16), verbose=False)
    >>> adata.obs["mmdc"].cat.categories.size <= 4, adata.obsm["X_mmdc"].shape
    (True, (700, 16))
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {sorted(METHODS)}, got {method!r}.")
    key_added = method if key_added is None else key_added
    DEEP_CLUSTER.check(adata, key_added, overwrite=overwrite)
    if obs_views is not None and method not in _WITH_VIEWS:
        raise ValueError(f"method={method!r} takes no extra views; obs_views work with {list(_WITH_VIEWS)}.")
    try:
        from .. import deep
    except ImportError as err:
        raise ImportError("tl.deep_cluster needs PyTorch: `pip install coclust_deep[deep]` "
                          "(or `pip install torch`).") from err
    model = getattr(deep, METHODS[method])(n_clusters, random_state=random_state, **kw)

    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    shape = _image_shape(image_shape, data.X.shape[1])
    if shape is None and method in _IMAGE_ONLY:
        raise ValueError(f"method={method!r} clusters images; pass image_shape=(H, W) or (C, H, W) to read each "
                         "row of the matrix as a flattened image.")
    X = data.X
    if shape is not None:
        X = (X.toarray() if sp.issparse(X) else np.asarray(X)).reshape(X.shape[0], *shape)
    fit_kw = {}
    row_keys = []
    if method in _WITH_VIEWS:
        row_views, row_keys = read_views(adata, obs_views, "obs")
        fit_kw["row_views"] = row_views or None
    model.fit(X, **fit_kw)

    uns = {"history": {name: np.asarray(values) for name, values in model.history_.items()},
           "n_epochs": model.n_epochs_, "interrupted": model.interrupted_}
    if method == "mmdc":
        uns.update(input_type=model.input_type_, aux_task=model.aux_task_)
    result = Result(
        row_labels=model.labels_,
        row_embedding=np.asarray(model.embedding_, dtype=np.float32),
        row_posterior=model.soft_assignments_ if method in _WITH_POSTERIOR else None,
        uns=uns,
    )
    params = {**model.get_params(deep=False), "method": method, "obs_views": row_keys,
              "image_shape": list(shape) if shape is not None else None}
    DEEP_CLUSTER.write(adata, key_added, result, data=data, params=params)
    return adata if copy else None
