"""DeepCluster (Caron et al., 2018) for the rows of a matrix: k-means pseudo-labels train the encoder."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClusterMixin
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import normalized_mutual_info_score

from .._validation import check_n_clusters, check_positive_int
from ._base import DeepEstimatorBase, encode_in_chunks, to_tensors
from ._data import MatrixData, fingerprint
from ._module import DeepClusterModule
from ._train import EpochRecord, Phase


class DeepCluster(ClusterMixin, DeepEstimatorBase):
    """DeepCluster: alternate k-means on the learned features and supervised training on its labels.

    Each epoch (Caron et al., 2018): embed every row with the encoder; reduce
    the features with PCA (whitened) and L2-normalise them; k-means gives
    pseudo-labels; the classifier head is re-initialised (cluster ids are
    arbitrary from one epoch to the next) and the encoder and head are
    trained with cross-entropy on the pseudo-labels, sampling rows uniformly
    over pseudo-classes so that large clusters cannot swallow the others.
    There is no autoencoder and no decoder. ``labels_`` are the k-means
    labels of the last epoch's features; training stops early when the NMI
    between consecutive pseudo-label sets exceeds ``1 - tol``.

    Parameters
    ----------
    n_clusters : int, default=8
    latent_dim : int, default=32
    hidden : tuple of int, default=(256, 64)
    epochs : int, default=30
    batch_size : int, default=256
    lr : float, default=1e-3
    passes_per_epoch : int, default=5
        Passes over the (class-balanced) data between two k-means: the
        freshly initialised head needs a few to learn the new pseudo-labels.
    pca_components : int, default=16
        Whitened PCA size before k-means (capped by ``latent_dim``).
    likelihood : {"gaussian", "nb", "zinb"}, default="gaussian"
        Only selects the preprocessing: ``"nb"``/``"zinb"`` log-normalise
        counts before standardising, as in DEC/IDEC.
    tol : float, default=0.01
    n_init : int, default=10
        k-means restarts in every epoch.
    device, random_state, verbose
        As in :class:`DeepCoclustering`.

    Attributes
    ----------
    labels_ : ndarray of int
    embedding_ : ndarray, shape (n_samples, latent_dim)
    history_ : dict of lists
        Per epoch: ``loss`` and ``cross_entropy``, the cross-entropy on the
        epoch's pseudo-labels over its last pass, and ``nmi_to_previous``,
        the NMI between this epoch's and the previous epoch's pseudo-labels.
    n_epochs_ : dict
        Completed epochs of the one phase, ``{"train": n}``.
    interrupted_ : bool
        As in :class:`DEC`; ``fit(X, resume=True)`` continues.
    n_features_in_, feature_names_in_
        As in :class:`DEC`.

    Examples
    --------
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.deep import DeepCluster
    >>> X, rows, _ = make_lbm(120, 30, 3, 2, family="gaussian", signal=1.0, random_state=0)
    >>> DeepCluster(3, epochs=5, random_state=0, verbose=False).fit_predict(X).shape
    (120,)
    """

    _fitted_attributes = ("labels_", "embedding_", "history_", "n_epochs_", "interrupted_", "preprocessing_")

    def __init__(self, n_clusters=8, *, latent_dim=32, hidden=(256, 64), epochs=30, batch_size=256, lr=1e-3,
                 passes_per_epoch=5, pca_components=16, likelihood="gaussian", tol=0.01, n_init=10,
                 device="auto", random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.passes_per_epoch = passes_per_epoch
        self.pca_components = pca_components
        self.likelihood = likelihood
        self.tol = tol
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_module(self, config):
        return DeepClusterModule(**config)

    def fit(self, X, y=None, *, resume=False, feature_names=None):
        """Cluster the rows of ``X`` (dense or sparse); ``resume`` and ``feature_names`` as in :meth:`DEC.fit`.

        Returns
        -------
        self
        """
        hidden, device = self._check_common()
        check_positive_int(self.passes_per_epoch, "passes_per_epoch")
        check_positive_int(self.pca_components, "pca_components")
        seed = self._fit_seed(resume)
        data = MatrixData(X, self.likelihood)
        k = check_n_clusters(self.n_clusters, "n_clusters", data.n_rows, "rows")
        self._record_features(X, feature_names)
        self.preprocessing_ = data.stats
        config = dict(n_input=data.n_cols, n_clusters=k, hidden=hidden, latent_dim=int(self.latent_dim))
        phases = [Phase("train", self.epochs, lambda epoch: self._epoch(epoch, data, seed),
                        optimizer=lambda module: torch.optim.Adam(module.encoder.parameters(), lr=self.lr))]
        self._run_plan(config, phases, seed=seed, device=device, rng=np.random.default_rng(seed),
                       fingerprint=fingerprint(data.X), resume=resume,
                       finalize=lambda plan: self._finalize(data, seed))
        return self

    def _embed(self, data):
        self.module_.eval()
        return encode_in_chunks(data.n_rows, data.inputs, lambda b: self.module_.embed(b["input"]),
                                self.device_)

    def _pseudo_labels(self, z, seed):
        n_comp = int(min(self.pca_components, z.shape[1], z.shape[0] - 1))
        feats = PCA(n_comp, whiten=True, random_state=seed).fit_transform(z) if n_comp >= 1 else z
        feats = feats / np.maximum(np.linalg.norm(feats, axis=1, keepdims=True), 1e-12)
        k = self.module_.classifier.out_features
        return KMeans(k, n_init=self.n_init, random_state=seed).fit_predict(feats)

    def _uniform_batches(self, labels, rng):
        """One epoch of row indices drawn uniformly over pseudo-classes (with replacement inside a class)."""
        n = len(labels)
        classes = np.unique(labels)
        per_class = int(np.ceil(n / len(classes)))
        idx = np.concatenate([rng.choice(np.flatnonzero(labels == c), per_class) for c in classes])
        idx = rng.permutation(idx)[:n]
        return np.array_split(idx, max(1, int(np.ceil(n / self.batch_size))))

    def _epoch(self, epoch, data, seed):
        module = epoch.module
        labels = self._pseudo_labels(self._embed(data), seed + epoch.index)
        previous = epoch.state.get("labels")
        stability = float("nan") if previous is None else float(normalized_mutual_info_score(previous, labels))
        epoch.state["labels"] = labels
        if epoch.index > 0 and stability > 1.0 - self.tol:
            return None
        module.classifier.reset_parameters()  # pseudo-label ids are arbitrary each epoch
        # the head starts from scratch every epoch: a larger step lets it catch up within the epoch
        head_optimizer = torch.optim.Adam(module.classifier.parameters(), lr=10 * self.lr)
        module.train()
        n_batches = max(1, int(np.ceil(data.n_rows / self.batch_size)))
        batches = [b for _ in range(self.passes_per_epoch) for b in self._uniform_batches(labels, epoch.rng)]
        for step, idx in enumerate(batches):
            batch = to_tensors(data.inputs(idx), epoch.device)
            losses = module.loss(batch, torch.as_tensor(labels[idx], dtype=torch.long, device=epoch.device))
            head_optimizer.zero_grad()
            epoch.update(losses, len(idx), record=step >= len(batches) - n_batches)
            head_optimizer.step()
        # the head restarts every epoch, so the last pass says how well this epoch's labels were learnt
        return EpochRecord(epoch.mean(), metrics={"nmi_to_previous": stability})

    def _finalize(self, data, seed):
        self.embedding_ = self._embed(data)
        self.labels_ = self._pseudo_labels(self.embedding_, seed).astype(np.int64)
