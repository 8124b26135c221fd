"""DEC and IDEC: deep embedded clustering of the rows of a matrix."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from .._validation import check_n_clusters, check_nonneg_float
from ._base import DeepEstimatorBase, encode_in_chunks, to_tensors
from ._data import MatrixData, fingerprint
from ._module import DECModule
from ._nn import target_distribution
from ._train import EpochRecord, Phase


class _EmbeddedClustering(ClusterMixin, TransformerMixin, DeepEstimatorBase):
    """Shared DEC / IDEC fit: pretrain the autoencoder, k-means the latent, then sharpen with KL(P||Q)."""

    _fitted_attributes = ("labels_", "embedding_", "soft_assignments_", "cluster_centers_", "history_",
                          "n_epochs_", "interrupted_", "preprocessing_")
    _keep_reconstruction = True

    def _gamma(self):
        return self.gamma

    def _build_module(self, config):
        return DECModule(**config)

    def fit(self, X, y=None, *, resume=False, feature_names=None):
        """Fit the model to the rows of ``X`` (dense or sparse, n_samples x n_features).

        Parameters
        ----------
        X : array-like, DataFrame or sparse matrix of shape (n_samples, n_features)
        y : ignored
        resume : bool, default=False
            Continue the previous fit of this object from its last completed
            epoch (after a KeyboardInterrupt, or with more ``epochs``); X
            and every parameter except ``epochs``, ``pretrain_epochs``,
            ``tol`` and ``verbose`` must be unchanged.
        feature_names : sequence of str, optional
            Names of X's columns (a DataFrame's columns are used otherwise);
            stored in ``feature_names_in_`` and checked by transform/predict.

        Returns
        -------
        self
        """
        hidden, device = self._check_common()
        self._check_pretraining()
        check_nonneg_float(self._gamma(), "gamma")
        seed = self._fit_seed(resume)
        data = MatrixData(X, self.likelihood)
        k = check_n_clusters(self.n_clusters, "n_clusters", data.n_rows, "rows")
        self._record_features(X, feature_names)
        self.preprocessing_ = data.stats
        config = dict(n_input=data.n_cols, n_clusters=k, hidden=hidden, latent_dim=int(self.latent_dim),
                      likelihood=self.likelihood, alpha=float(self.alpha))
        self._run_plan(config, self._phases(data, seed), seed=seed, device=device,
                       rng=np.random.default_rng(seed), fingerprint=fingerprint(data.X), resume=resume,
                       finalize=lambda plan: self._finalize(data, seed, plan))
        return self

    def _phases(self, data, seed):
        def pretrain(epoch):
            epoch.module.train()
            for idx in epoch.batches(data.n_rows, self.batch_size):
                epoch.update(epoch.module.loss(to_tensors(data.rows(idx), epoch.device)), len(idx))
            return epoch.mean()

        def train(epoch):
            q = self._soft_assign(data)
            labels = q.argmax(axis=1)
            previous = epoch.state.get("labels")
            changed = 1.0 if previous is None else float(np.mean(labels != previous))
            epoch.state["labels"] = labels
            if epoch.index > 0 and changed < self.tol:
                return None
            p = target_distribution(torch.from_numpy(q)).numpy()
            epoch.module.train()
            for idx in epoch.batches(data.n_rows, self.batch_size):
                batch = to_tensors(data.rows(idx), epoch.device)
                target = torch.as_tensor(p[idx], device=epoch.device)
                losses = epoch.module.loss(batch, target, with_reconstruction=self._keep_reconstruction)
                epoch.update(losses, len(idx))
            return EpochRecord(epoch.mean(), metrics={"label_change": changed})

        def train_optimizer(module):
            # fresh optimiser: the clustering head joins, and DEC drops the decoder
            params = list(module.encoder.parameters()) + list(module.head.parameters())
            if self._keep_reconstruction:
                params += list(module.decoder.parameters())
            return torch.optim.Adam(params, lr=self.lr)

        return [
            Phase("pretrain", self.pretrain_epochs, pretrain, weights={"reconstruction": 1.0}),
            Phase("train", self.epochs, train, weights={"reconstruction": 1.0, "clustering": self._gamma()},
                  optimizer=train_optimizer, setup=lambda: self._init_centres(data, seed)),
        ]

    def _embed(self, data):
        self.module_.eval()
        return encode_in_chunks(data.n_rows, data.inputs, lambda b: self.module_.embed(b["input"]),
                                self.device_)

    @torch.inference_mode()
    def _soft_assign(self, data, z=None):
        z = self._embed(data) if z is None else z
        q = self.module_.head(torch.as_tensor(z, device=self.device_))
        return q.cpu().numpy().astype(np.float64)

    def _init_centres(self, data, seed):
        z = self._embed(data)
        km = KMeans(self.module_.head.centres.shape[0], n_init=self.n_init, random_state=seed).fit(z)
        with torch.no_grad():
            self.module_.head.centres.copy_(torch.as_tensor(km.cluster_centers_, dtype=torch.float32))

    def _finalize(self, data, seed, plan):
        if not plan.started("train"):  # interrupted before the centres were placed
            self._init_centres(data, seed)
        self.embedding_ = self._embed(data)
        self.soft_assignments_ = self._soft_assign(data, self.embedding_)
        self.labels_ = self.soft_assignments_.argmax(axis=1).astype(np.int64)
        self.cluster_centers_ = self.module_.head.centres.detach().cpu().numpy().copy()

    def _new_data(self, X):
        check_is_fitted(self, "labels_")
        self._check_features(X)
        data = MatrixData(X, self.likelihood, stats=self.preprocessing_)
        return data

    def transform(self, X):
        """Latent embedding of the rows of ``X``, shape (n_samples, latent_dim)."""
        return self._embed(self._new_data(X))

    def predict_proba(self, X):
        """Student-t soft assignments of the rows of ``X``, shape (n_samples, n_clusters)."""
        return self._soft_assign(self._new_data(X))

    def predict(self, X):
        """Cluster label of each row of ``X``."""
        return self.predict_proba(X).argmax(axis=1).astype(np.int64)


_SHARED_DOC = """
    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters.
    latent_dim : int, default=10
        Size of the embedding.
    hidden : tuple of int, default=(256, 64)
        Encoder layer widths (the decoder mirrors them).
    pretrain_epochs : int, default=50
        Autoencoder pretraining epochs (reconstruction only).
    epochs : int, default=100
        Maximum clustering epochs. The target P is recomputed on the full data
        at the start of every epoch.
    batch_size : int, default=256
    lr : float, default=1e-3
        Adam learning rate.
    {gamma}likelihood : {{"gaussian", "nb", "zinb"}}, default="gaussian"
        Reconstruction likelihood. ``"nb"``/``"zinb"`` expect raw counts: the
        encoder then reads standardised log-normalised values and the decoder
        predicts counts scaled by each row's total.
    alpha : float, default=1.0
        Degrees of freedom of the Student-t kernel.
    tol : float, default=1e-3
        Stop when fewer than this fraction of labels change between epochs.
    n_init : int, default=10
        k-means restarts for the centre initialisation.
    device : str, default="auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    random_state : int or None
        Seeds torch, the mini-batch order and k-means; same value, same result on CPU.
    verbose : bool, default=True
        Show a tqdm progress bar.

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_samples,)
    embedding_ : ndarray, shape (n_samples, latent_dim)
    soft_assignments_ : ndarray, shape (n_samples, n_clusters)
        Student-t assignments q.
    cluster_centers_ : ndarray, shape (n_clusters, latent_dim)
    history_ : dict of lists
        Per epoch: ``phase``, ``epoch``, ``loss`` (the weighted total), each
        loss term and, in training, ``label_change`` (fraction of labels
        changed since the previous epoch); ``pd.DataFrame(model.history_)``
        gives a table and :func:`coclust_deep.pl.convergence` draws it.
    n_epochs_ : dict
        Completed epochs per phase (``"pretrain"``, ``"train"``).
    interrupted_ : bool
        True when a KeyboardInterrupt stopped fit; the model then holds the
        weights after the last completed epoch, and ``fit(X, resume=True)``
        continues from there.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names seen by fit (DataFrame input or ``feature_names``).
"""


class IDEC(_EmbeddedClustering):
    __doc__ = """Improved deep embedded clustering (Guo et al., 2017).

    An autoencoder is pretrained, k-means on its embedding initialises the
    cluster centres, then the encoder, decoder and centres are trained on
    ``reconstruction + gamma * KL(P || Q)``, where ``q`` is the Student-t soft
    assignment and ``p = (q^2 / f) / normaliser`` its sharpened target
    (``f`` = soft cluster sizes). Keeping the reconstruction preserves the
    local structure of the embedding.
""" + _SHARED_DOC.format(gamma="gamma : float, default=0.1\n        Weight of the clustering (KL) term.\n    ") + """
    Examples
    --------
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.deep import IDEC
    >>> X, rows, _ = make_lbm(120, 30, 3, 2, family="gaussian", signal=1.0, random_state=0)
    >>> model = IDEC(3, pretrain_epochs=20, epochs=20, random_state=0, verbose=False).fit(X)
    >>> model.labels_.shape
    (120,)
    """

    def __init__(self, n_clusters=8, *, latent_dim=10, hidden=(256, 64), pretrain_epochs=50, epochs=100,
                 batch_size=256, lr=1e-3, gamma=0.1, likelihood="gaussian", alpha=1.0, tol=1e-3, n_init=10,
                 device="auto", random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.gamma = gamma
        self.likelihood = likelihood
        self.alpha = alpha
        self.tol = tol
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose


class DEC(_EmbeddedClustering):
    __doc__ = """Deep embedded clustering (Xie, Girshick & Farhadi, 2016).

    As :class:`IDEC`, but after pretraining the decoder is dropped and the
    encoder and centres minimise ``KL(P || Q)`` alone.
""" + _SHARED_DOC.format(gamma="") + """
    Examples
    --------
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.deep import DEC
    >>> X, rows, _ = make_lbm(120, 30, 3, 2, family="gaussian", signal=1.0, random_state=0)
    >>> DEC(3, pretrain_epochs=20, epochs=20, random_state=0, verbose=False).fit_predict(X).shape
    (120,)
    """

    _keep_reconstruction = False

    def _gamma(self):
        return 1.0

    def __init__(self, n_clusters=8, *, latent_dim=10, hidden=(256, 64), pretrain_epochs=50, epochs=100,
                 batch_size=256, lr=1e-3, likelihood="gaussian", alpha=1.0, tol=1e-3, n_init=10,
                 device="auto", random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.likelihood = likelihood
        self.alpha = alpha
        self.tol = tol
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
