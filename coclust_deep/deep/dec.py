"""DEC and IDEC: deep embedded clustering of the rows of a matrix."""
from __future__ import annotations

import numpy as np
import torch
from sklearn.base import ClusterMixin
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from .._validation import check_n_clusters, check_nonneg_float
from ._base import DeepEstimatorBase, encode_rows, seeded, to_tensors
from ._data import MatrixData
from ._module import DECModule
from ._nn import target_distribution



class _EmbeddedClustering(ClusterMixin, DeepEstimatorBase):
    """Shared DEC / IDEC fit: pretrain the autoencoder, k-means the latent, then sharpen with KL(P||Q)."""

    _fitted_attributes = ("labels_", "embedding_", "soft_assignments_", "cluster_centers_", "history_",
                          "n_epochs_", "interrupted_", "preprocessing_")
    _keep_reconstruction = True

    def _gamma(self):
        return self.gamma

    def _build_module(self, config):
        return DECModule(**config)

    def fit(self, X, y=None):
        """Fit the model to the rows of ``X`` (dense or sparse, n_samples x n_features).

        Returns
        -------
        self
        """
        hidden, device, seed = self._check_common()
        check_nonneg_float(self._gamma(), "gamma")
        data = MatrixData(X, self.likelihood)
        k = check_n_clusters(self.n_clusters, "n_clusters", data.n_rows, "rows")
        self.device_ = device
        self.preprocessing_ = data.stats
        self._module_config = dict(n_input=data.n_cols, n_clusters=k, hidden=hidden,
                                   latent_dim=int(self.latent_dim), likelihood=self.likelihood,
                                   alpha=float(self.alpha))
        self._start_history()
        rng = np.random.default_rng(seed)
        with seeded(seed, device):
            self.module_ = self._build_module(self._module_config).to(device)
            self._heads_ready = False
            self._fit_guarded(lambda: self._train(data, rng, seed), lambda: self._finalize(data, seed))
        return self

    def _batches(self, n, rng):
        n_steps = max(1, int(np.ceil(n / self.batch_size)))
        return np.array_split(rng.permutation(n), n_steps)

    def _train(self, data, rng, seed):
        module = self.module_
        optimizer = torch.optim.Adam(module.parameters(), lr=self.lr)

        def pretrain_epoch(epoch):
            module.train()
            total = 0.0
            for idx in self._batches(data.n_rows, rng):
                batch = to_tensors(data.rows(idx), self.device_)
                loss = module.loss(batch)["reconstruction"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                total += loss.item() * len(idx)
            mean = total / data.n_rows
            return {"loss": mean, "reconstruction": mean}, False

        self._run_phase("pretrain", self.pretrain_epochs, pretrain_epoch)
        self._init_centres(data, seed)
        # fresh optimiser: the clustering head joins, and DEC drops the decoder
        params = list(module.encoder.parameters()) + list(module.head.parameters())
        if self._keep_reconstruction:
            params += list(module.decoder.parameters())
        optimizer = torch.optim.Adam(params, lr=self.lr)
        state = {"labels": None}
        gamma = self._gamma()

        def train_epoch(epoch):
            q = self._soft_assign(data)
            labels = q.argmax(axis=1)
            changed = 1.0 if state["labels"] is None else float(np.mean(labels != state["labels"]))
            state["labels"] = labels
            if epoch > 0 and changed < self.tol:
                return None, True
            p = target_distribution(torch.from_numpy(q)).numpy()
            module.train()
            sums = {"loss": 0.0, "reconstruction": 0.0, "clustering": 0.0}
            for idx in self._batches(data.n_rows, rng):
                batch = to_tensors(data.rows(idx), self.device_)
                target = torch.as_tensor(p[idx], device=self.device_)
                terms = module.loss(batch, target, with_reconstruction=self._keep_reconstruction)
                loss = gamma * terms["clustering"]
                if self._keep_reconstruction:
                    loss = loss + terms["reconstruction"]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                sums["loss"] += loss.item() * len(idx)
                for key, value in terms.items():
                    sums[key] += value.item() * len(idx)
            out = {key: value / data.n_rows for key, value in sums.items()}
            if not self._keep_reconstruction:
                del out["reconstruction"]
            out["label_change"] = changed
            return out, False

        self._run_phase("train", self.epochs, train_epoch)

    def _embed(self, data):
        self.module_.eval()
        return encode_rows(self.module_.embed, data, self.device_)

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
        self._heads_ready = True

    def _finalize(self, data, seed):
        if not self._heads_ready:  # interrupted during pretraining: centres still need k-means
            self._init_centres(data, seed)
        self.embedding_ = self._embed(data)
        self.soft_assignments_ = self._soft_assign(data, self.embedding_)
        self.labels_ = self.soft_assignments_.argmax(axis=1).astype(np.int64)
        self.cluster_centers_ = self.module_.head.centres.detach().cpu().numpy().copy()

    def _new_data(self, X):
        check_is_fitted(self, "labels_")
        data = MatrixData(X, self.likelihood, stats=self.preprocessing_)
        if data.n_cols != self._module_config["n_input"]:
            raise ValueError(f"X has {data.n_cols} features but the model was fitted on "
                             f"{self._module_config['n_input']}.")
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
        Per epoch: ``phase``, ``epoch``, ``loss`` and each loss term
        (``pd.DataFrame(model.history_)`` gives a table).
    n_epochs_ : dict
        Completed epochs per phase.
    interrupted_ : bool
        True when a KeyboardInterrupt stopped fit; the model then holds the
        weights after the last completed epoch.
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
