"""DCEC: deep convolutional embedded clustering of images (Guo, Liu, Zhu & Yin, ICONIP 2017)."""
from __future__ import annotations

import numbers

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._validation import check_n_clusters, check_nonneg_float, check_positive_int
from ._base import resolve_device
from ._data import fingerprint
from ._images import ImageData
from ._module_mmdc import DCECModule
from .dec import _EmbeddedClustering


class DCEC(_EmbeddedClustering):
    """Deep convolutional embedded clustering (Guo et al. 2017): a convolutional autoencoder with a DEC head.

    As in the authors' code (``github.com/XifengGuo/DCEC``): the encoder has
    three strided convolutions (``filters`` = 32, 64, 128 channels, kernels
    5, 5, 3, stride 2, ReLU) and a linear embedding of size ``latent_dim``;
    the decoder mirrors it with transposed convolutions. The autoencoder is
    pretrained on the mean squared reconstruction error (Adam), k-means on
    the embedding places the centres of a Student-t clustering layer, then
    encoder, decoder and centres minimise ``MSE + gamma * KL(P || Q)`` until
    fewer than ``tol`` of the labels change. The target ``P`` is recomputed
    on all images at the start of each epoch (the authors: every 140
    mini-batches, about 0.6 epoch of MNIST). Images are standardised per
    channel; a convolution's "same" padding rounds each map size up, so any
    image size works (28x28 maps are 14, 7 and 4 pixels wide).

    Parameters
    ----------
    n_clusters : int, default=8
    latent_dim : int, default=10
    filters : tuple of int, default=(32, 64, 128)
    pretrain_epochs : int, default=200
    epochs : int, default=200
        Maximum clustering epochs.
    batch_size : int, default=256
    lr : float, default=1e-3
        Adam learning rate.
    gamma : float, default=0.1
        Weight of the clustering term.
    alpha : float, default=1.0
        Student-t degrees of freedom.
    tol : float, default=1e-3
    n_init : int, default=20
        k-means restarts for the centres.
    device, random_state, verbose
        As in :class:`DEC`.

    Attributes
    ----------
    labels_, embedding_, soft_assignments_, cluster_centers_, history_, n_epochs_, interrupted_
        As in :class:`IDEC`.
    image_shape_ : tuple
        ``(C, H, W)`` of the training images.
    n_features_in_ : int
        ``C * H * W``.

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep.deep import DCEC
    >>> images = np.random.default_rng(0).random((60, 8, 8))
    >>> model = DCEC(3, pretrain_epochs=2, epochs=2, random_state=0, verbose=False).fit(images)
    >>> model.labels_.shape, model.embedding_.shape
    ((60,), (60, 10))
    """

    _fitted_attributes = _EmbeddedClustering._fitted_attributes + ("image_shape_",)

    def __init__(self, n_clusters=8, *, latent_dim=10, filters=(32, 64, 128), pretrain_epochs=200, epochs=200,
                 batch_size=256, lr=1e-3, gamma=0.1, alpha=1.0, tol=1e-3, n_init=20, device="auto",
                 random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.filters = filters
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.gamma = gamma
        self.alpha = alpha
        self.tol = tol
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.three_d_array = True
        tags.input_tags.sparse = False
        return tags

    def _build_module(self, config):
        return DCECModule(**config)

    def fit(self, X, y=None, *, resume=False):
        """Cluster images ``X`` of shape (n, C, H, W) or (n, H, W).

        ``resume`` continues the previous fit, as in :meth:`DEC.fit`.

        Returns
        -------
        self
        """
        check_positive_int(self.latent_dim, "latent_dim")
        filters = self.filters
        if not isinstance(filters, (tuple, list)) or not filters or not all(
                isinstance(f, numbers.Integral) and not isinstance(f, bool) and f > 0 for f in filters):
            raise ValueError(f"filters must be a non-empty tuple of positive ints (channels), got {filters!r}.")
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        check_nonneg_float(self.tol, "tol")
        check_positive_int(self.n_init, "n_init")
        check_nonneg_float(self.gamma, "gamma")
        self._check_pretraining()
        device = resolve_device(self.device)
        seed = self._fit_seed(resume)
        data = ImageData(X)
        k = check_n_clusters(self.n_clusters, "n_clusters", data.n_rows, "images")
        self.n_features_in_ = int(np.prod(data.image_shape))
        self.image_shape_ = data.image_shape
        self.preprocessing_ = data.stats
        config = dict(image_shape=data.image_shape, n_clusters=k, filters=tuple(int(f) for f in filters),
                      latent_dim=int(self.latent_dim), alpha=float(self.alpha))
        self._run_plan(config, self._phases(data, seed), seed=seed, device=device,
                       rng=np.random.default_rng(seed), fingerprint=fingerprint(data.X), resume=resume,
                       finalize=lambda plan: self._finalize(data, seed, plan))
        return self

    def _new_data(self, X):
        check_is_fitted(self, "labels_")
        data = ImageData(X, stats=self.preprocessing_)
        if data.image_shape != tuple(self.image_shape_):
            raise ValueError(f"X holds images of shape {data.image_shape} (C, H, W) but the model was fitted on "
                             f"{tuple(self.image_shape_)}.")
        return data
