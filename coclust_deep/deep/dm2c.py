"""DM2C: deep mixed-modal clustering of samples seen in one of two modalities, with no pairing."""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.cluster import KMeans
from sklearn.utils.validation import check_is_fitted

from .._validation import check_choice, check_matrix, check_positive_int
from ._alignment import apply_shifts, matched_kmeans, micro_cluster_shifts
from ._anchors import Anchors
from ._base import DeepEstimatorBase, check_widths, encode_in_chunks, resolve_device, to_tensors
from ._data import LIKELIHOODS, MatrixData, fingerprint
from ._module_dm2c import ADVERSARIAL_OBJECTIVES, DM2CModule
from ._train import EpochRecord, Phase

MODALITIES = ("a", "b")
ANCHORS = ("gw", "none")
READOUTS = ("kmeans", "ot", "matched")
_CLIP_VALUE = 0.05  # the authors' clip_value for adversarial="wgan-clip"


def pick_likelihood(X):
    """``"nb"`` when every stored value of ``X`` is a non-negative integer (counts), else ``"gaussian"``.

    Examples
    --------
    >>> import numpy as np
    >>> pick_likelihood(np.array([[0, 3], [1, 0]])), pick_likelihood(np.array([[0.5, -1.0], [1.0, 0.0]]))
    ('nb', 'gaussian')
    """
    values = X.data if sp.issparse(X) else np.asarray(X)
    if values.size and values.min() >= 0 and np.all(values == np.round(values)) and values.max() > 0:
        return "nb"
    return "gaussian"


def _feature_names(X, given, name):
    """Column names from ``given`` or a DataFrame's string columns, else None."""
    if given is None:
        columns = getattr(X, "columns", None)
        if columns is None or not all(isinstance(c, str) for c in columns):
            return None
        given = list(columns)
    names = np.asarray(given, dtype=object)
    n = X.shape[1]
    if names.shape != (n,) or not all(isinstance(v, str) for v in names):
        raise ValueError(f"feature_names_{name} must be {n} strings, one per column of X_{name}.")
    return names


def _step_batches(rng, n_a, n_b, batch_size):
    """Index pairs ``(idx_a, idx_b)`` for one epoch: one pass over the larger modality.

    Both batches have ``batch_size`` rows (fewer only when a modality is
    smaller); the smaller modality is cycled through fresh permutations, so
    every step shows the critics as many samples of each side.
    """
    n_steps = max(1, -(-max(n_a, n_b) // batch_size))
    size_a, size_b = min(batch_size, n_a), min(batch_size, n_b)

    def stream(n, size):
        order = rng.permutation(n)
        while order.size < n_steps * size:
            order = np.concatenate([order, rng.permutation(n)])
        return order[: n_steps * size].reshape(n_steps, size)

    return list(zip(stream(n_a, size_a), stream(n_b, size_b)))


class DM2C(DeepEstimatorBase):
    """Deep mixed-modal clustering (Jiang, Xu, Yang, Cao & Huang, NeurIPS 2019).

    Each sample is observed in exactly one of two modalities (for example
    cells profiled by RNA in one experiment and by surface proteins in
    another), and no pairing between the two sets is known. One autoencoder
    per modality learns a latent space; generators ``G_AB`` and ``G_BA``
    translate latents between the two spaces under a cycle-consistency loss
    ``|z - G_BA(G_AB(z))|_1`` (both ways) and against one critic per latent
    space, so that ``G_BA`` maps modality B's samples where modality A's
    samples of the same kind lie. Every sample is then placed in A's latent
    space (A: its own latent; B: ``G_BA`` of its latent) and k-means on that
    common space gives one partition with the same cluster meaning in both
    modalities.

    Training follows the authors' code (``jiangyangby/DM2C``, ``code/model.py``
    and ``code/train.py``): the autoencoders are pretrained on reconstruction
    alone; then each mini-batch step trains the autoencoders and generators
    on reconstruction + ``cycle_weight`` x cycle loss + the reconstruction
    of each input from its cycled latent + ``adversarial_weight`` x the
    generators' adversarial terms, followed by ``critic_steps`` updates of
    the critics on the same (detached) latents; labels come from k-means
    (``n_init`` restarts) on the common space after the last epoch.

    The authors use WGAN with weight clipping; the default here is WGAN-GP
    (gradient penalty, Gulrajani et al. 2017), which keeps the critics
    1-Lipschitz without clipping them into near-linear functions, so the
    critic's Wasserstein estimate (``wasserstein_a``/``_b`` in
    ``history_``) is a usable convergence monitor. ``"lsgan"`` (least
    squares) and the authors' ``"wgan-clip"`` are available for comparison.
    Two additions keep the translation stable: each latent space is
    standardised by its pretrained embeddings' moments before the
    generators see it (both spaces on one scale, whatever each autoencoder
    settled on), and a distance-preservation term (``geometry_weight``;
    Benaim & Wolf 2017, DistanceGAN) asks each generator to keep the
    batch's pairwise distances up to scale, so that matching the marginals
    does not tear clusters apart. The adversarial terms train the
    generators only, not the encoders.

    **Anchors** (``anchors="gw"``, not in the authors' code). Matching two
    distributions says nothing of *which* group of one modality belongs
    with which group of the other: any permutation of clusters of similar
    sizes fools the critics as well, and on real cells the adversarial game
    settles on partial matches (clusters that still encode the modality).
    Gromov-Wasserstein optimal transport compares two spaces through
    their internal distances only, so it needs neither pairs nor
    shared features (SCOT, Demetci et al. 2022, for unpaired single-cell
    modalities). At the start of joint training each modality's encoder
    input (standardised; log-normalised counts) is reduced to 30 principal
    components and cut into up to 200 k-means micro-clusters; the geodesic
    distances on a 10-nearest-neighbour graph of their centres are coupled
    by Gromov-Wasserstein (POT's conditional gradient from the product
    coupling and 9 random ones, the lowest GW loss kept). Each
    micro-cluster's target in the other latent space is the
    coupling-weighted mean of the current latent centres of the
    micro-clusters it is coupled with, and ``anchor_weight`` x the mean
    squared distance of ``G_AB`` and ``G_BA`` of the centres to their
    targets (weighted by the micro-clusters' sizes) joins the generator
    objective. Anchoring centres rather than every sample leaves the
    spread inside a micro-cluster to the cycle and geometry terms, so the
    generators stay near-inverse. These choices were made on the unpaired
    digits of :func:`~coclust_deep.datasets.make_unpaired_digits` (10
    classes, 3 draws, mean NMI): no anchors 0.321; coupling the pretrained
    latents, every sample anchored, 0.352; coupling the inputs' principal
    components 0.399 (weights 3 / 10 / 30: 0.390 / 0.399 / 0.406; 10 kept,
    inside that flat range; at a weight of 1 the cycle reconstruction of
    the inputs, which the generators also carry, drowns the anchors); the
    same with centres anchored 0.406.

    **Readout.** ``readout="kmeans"`` (the default, the authors') clusters
    the union of the embeddings. On real cells the generators leave some
    groups of B beside, not on, the matching groups of A, and k-means then
    finds clusters of one modality only. ``readout="ot"`` closes those gaps
    first: B's embeddings and A's are each cut into up to 1000 k-means
    micro-clusters, B's are transported onto A's by entropic optimal
    transport with relaxed marginals (POT's unbalanced Sinkhorn,
    regularisation 0.05 of the mean squared centre distance, marginal
    penalty 1; relaxed so that cell-type proportions may differ between
    the modalities), and every B sample moves by its micro-cluster's
    displacement to its transport barycentre in A's space (as SCOT's
    barycentric projection). Measured with defaults otherwise
    (``benchmarks/dm2c.py``, CBMC RNA/protein split, 3 seeds, one run), the
    NMI of the clusters with the modality falls from 0.095 to 0.010 and the
    shared-mapping ACC moves from 0.473 to 0.508, but the NMI with the cell
    types falls from 0.536 to 0.530 (0.546 to 0.512 in an earlier run on
    another torch build), hence not the default; on the unpaired digits the
    NMI is unchanged within the spread (0.407 and 0.405). The
    shifts are kept (``alignment_``) and :meth:`transform`/:meth:`predict`
    apply them to new B samples. ``readout="matched"`` clusters each
    modality's embeddings on its own (k-means) and names B's clusters after
    A's by the one-to-one pairing of their centres that minimises the summed
    distance (:func:`scipy.optimize.linear_sum_assignment`): every label then
    names a cluster of both modalities, and an offset between the modalities
    cannot give a cluster of one modality only. It assumes that every
    cluster occurs in both. Measured in one run against the default readout
    (the same training, 3 seeds): on CBMC an NMI of 0.550 against 0.536
    (higher on every seed) and an NMI with the modality of 0.033 (median
    0.036) against 0.095; on the unpaired digits 0.438 against 0.407 (higher
    on every seed), with the modality 0.016 against 0.011. The rule fixed
    before the run asked for a higher NMI on both sets with no higher NMI
    with the modality on either, so the digits' rise of 0.005 there keeps
    it an option.

    Each modality may be dense or sparse. Its likelihood is chosen from the
    data unless given: non-negative integers (counts, e.g. RNA UMIs) get a
    negative binomial on the raw counts with the sample's total as size
    factor, the encoder reading standardised log-normalised values (as in
    :class:`IDEC` with ``likelihood="nb"``); anything else (already
    normalised protein values, embeddings) a Gaussian on the standardised
    features. The choice is recorded in ``likelihoods_``.

    Parameters
    ----------
    n_clusters : int, default=8
        Number of clusters, shared by both modalities.
    latent_dim : int, default=10
        Size of both latent spaces (and of the common space).
    hidden : tuple of int, default=(256, 64)
        Encoder widths of both autoencoders (decoders mirror them).
    generator_hidden : tuple of int, default=(64, 64)
        Widths of ``G_AB`` and ``G_BA``.
    critic_hidden : tuple of int, default=(64, 64)
        Widths of the critics ``D_A`` and ``D_B``.
    pretrain_epochs : int, default=50
        Autoencoder pretraining epochs (reconstruction only).
    epochs : int, default=100
        Joint training epochs; an epoch is one pass over the larger modality.
    batch_size : int, default=256
        Samples of *each* modality per step.
    lr : float, default=1e-3
        Adam learning rate of the autoencoders and generators.
    critic_lr : float, default=1e-3
        Learning rate of the critics (Adam with betas (0.5, 0.9) for
        ``"wgan-gp"``/``"lsgan"``; RMSprop for ``"wgan-clip"``, as the authors).
    cycle_weight : float, default=1.0
        Weight of the latent cycle loss (the authors' ``lamda1``).
    adversarial_weight : float, default=0.5
        Weight of the generators' adversarial terms (the authors' ``lamda3``).
    geometry_weight : float, default=1.0
        Weight of the generators' distance-preservation term (not in the
        authors' code; see above). 0 turns it off.
    anchors : {"gw", "none"}, default="gw"
        ``"gw"``: Gromov-Wasserstein anchors (see above; needs POT, PyPI
        ``pot``, in the ``deep`` extra); ``"none"``: the authors' training.
        A modality with a single sample trains without anchors.
    anchor_weight : float, default=10.0
        Weight of the anchor terms; 0 turns them off.
    adversarial : {"wgan-gp", "lsgan", "wgan-clip"}, default="wgan-gp"
        Adversarial objective (see above).
    critic_steps : int, default=5
        Critic updates per generator update (WGAN-GP's setting; the authors
        instead update their clipped critic once every 5 generator steps).
    likelihood_a, likelihood_b : {"auto", "gaussian", "nb", "zinb"}, default="auto"
        Reconstruction likelihood per modality; ``"auto"`` picks ``"nb"`` for
        non-negative integer data and ``"gaussian"`` otherwise.
    readout : {"kmeans", "ot", "matched"}, default="kmeans"
        How labels are read from the common space. ``"kmeans"``: k-means on
        the union of both modalities' embeddings (the authors'). ``"ot"``:
        first move modality B's samples onto A's (see *Readout* above), then
        the same k-means; clusters then hold both modalities, at a cost in
        NMI on the cell data measured. ``"matched"``: k-means of each
        modality on its own, B's clusters named after A's by the one-to-one
        pairing of nearest centres (see *Readout* above); every label then
        names a cluster of both modalities.
    n_init : int, default=20
        k-means restarts on the common space (the authors use 20); with
        ``readout="matched"``, for each modality.
    device : str, default="auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
    random_state : int or None
        Seeds torch, the mini-batch order and k-means; same value, same result on CPU.
    verbose : bool, default=True
        Show a tqdm progress bar.

    Attributes
    ----------
    labels_a_, labels_b_ : ndarray of int
        Cluster of each sample of modality A and B; the same label means the
        same cluster in both.
    embedding_a_, embedding_b_ : ndarray, shape (n_samples_X, latent_dim)
        The samples in the common space (A's latent space); with
        ``readout="ot"``, B's after the shifts onto A's.
    alignment_ : dict or None
        With ``readout="ot"``: ``{"centres": ..., "shifts": ...}``, B's
        micro-centres in the common space and the shift of each; None
        otherwise.
    cluster_centers_ : ndarray, shape (n_clusters, latent_dim)
        k-means centres in the common space (used by :meth:`predict`); with
        ``readout="matched"``, modality A's.
    cluster_centers_b_ : ndarray, shape (n_clusters, latent_dim)
        The centres :meth:`predict` assigns B's samples to: modality B's own
        with ``readout="matched"`` (row ``j`` for label ``j``), otherwise
        ``cluster_centers_``.
    likelihoods_ : dict
        ``{"a": ..., "b": ...}``: the likelihood fitted to each modality.
    history_ : dict of lists
        Per epoch: ``phase``, ``epoch``, ``loss`` (the weighted generator
        total), each generator term (``reconstruction_a``/``_b``,
        ``cycle_reconstruction_a``/``_b``, ``cycle_a``/``_b``,
        ``adversarial_a``/``_b``, ``geometry_a``/``_b``, ``anchor_a``/``_b``)
        and, in training, the critic monitors
        ``critic_loss``, ``wasserstein_a``/``_b`` and, for WGAN-GP,
        ``gradient_penalty_a``/``_b``.
    n_epochs_ : dict
        Completed epochs per phase (``"pretrain"``, ``"train"``).
    interrupted_ : bool
        True when a KeyboardInterrupt stopped fit; the model keeps the
        weights of the last completed epoch and ``fit(X_a, X_b,
        resume=True)`` continues from there.
    n_features_a_, n_features_b_ : int
        Features of each modality seen by fit.
    feature_names_a_, feature_names_b_ : ndarray of str
        Column names seen by fit (DataFrame columns or ``feature_names_a``/
        ``feature_names_b``); only when known.
    n_features_in_ : int
        ``n_features_a_ + n_features_b_``.

    Examples
    --------
    >>> from coclust_deep.datasets import make_unpaired_digits
    >>> from coclust_deep.deep import DM2C
    >>> X_a, X_b, y_a, y_b = make_unpaired_digits(n_classes=3, random_state=0)
    >>> model = DM2C(3, pretrain_epochs=10, epochs=20, random_state=0, verbose=False).fit(X_a, X_b)
    >>> model.labels_a_.shape == y_a.shape, model.embedding_b_.shape[1]
    (True, 10)
    >>> model.predict(X_b[:4], modality="b").shape
    (4,)
    """

    _fitted_attributes = ("labels_a_", "labels_b_", "embedding_a_", "embedding_b_", "cluster_centers_",
                          "cluster_centers_b_", "likelihoods_", "history_", "n_epochs_", "interrupted_",
                          "preprocessing_", "alignment_", "n_features_a_", "n_features_b_", "feature_names_")

    def __init__(self, n_clusters=8, *, latent_dim=10, hidden=(256, 64), generator_hidden=(64, 64),
                 critic_hidden=(64, 64), pretrain_epochs=50, epochs=100, batch_size=256, lr=1e-3,
                 critic_lr=1e-3, cycle_weight=1.0, adversarial_weight=0.5, geometry_weight=1.0,
                 anchors="gw", anchor_weight=10.0, adversarial="wgan-gp", critic_steps=5, likelihood_a="auto",
                 likelihood_b="auto", readout="kmeans", n_init=20, device="auto", random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.generator_hidden = generator_hidden
        self.critic_hidden = critic_hidden
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.critic_lr = critic_lr
        self.cycle_weight = cycle_weight
        self.adversarial_weight = adversarial_weight
        self.geometry_weight = geometry_weight
        self.anchors = anchors
        self.anchor_weight = anchor_weight
        self.adversarial = adversarial
        self.critic_steps = critic_steps
        self.likelihood_a = likelihood_a
        self.likelihood_b = likelihood_b
        self.readout = readout
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    # -- checks ------------------------------------------------------------------------------------
    def _check_params(self):
        """Validate the parameters; return ``(hidden, generator_hidden, critic_hidden, device)``."""
        check_positive_int(self.latent_dim, "latent_dim")
        widths = [check_widths(getattr(self, name), name) for name in ("hidden", "generator_hidden",
                                                                         "critic_hidden")]
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", minimum=0)
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=2)
        check_positive_int(self.critic_steps, "critic_steps")
        check_positive_int(self.n_init, "n_init")
        for name in ("lr", "critic_lr"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
                raise ValueError(f"{name} must be a positive number, got {value!r}.")
        for name in ("cycle_weight", "adversarial_weight", "geometry_weight", "anchor_weight"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (
                    np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
        check_choice(self.adversarial, "adversarial", ADVERSARIAL_OBJECTIVES)
        check_choice(self.anchors, "anchors", ANCHORS)
        check_choice(self.readout, "readout", READOUTS)
        for name in ("likelihood_a", "likelihood_b"):
            check_choice(getattr(self, name), name, ("auto", *LIKELIHOODS))
        return (*widths, resolve_device(self.device))

    def _check_n_clusters(self, n_a, n_b):
        k = self.n_clusters
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, numbers.Integral):
            raise TypeError(f"n_clusters must be an int, got {type(k).__name__}.")
        if k < 1:
            raise ValueError(f"n_clusters must be >= 1, got {k}.")
        for name, n in (("A", n_a), ("B", n_b)):
            if n < k:
                raise ValueError(f"modality {name} has {n} samples, fewer than n_clusters={k}; each modality "
                                 f"needs at least n_clusters samples (lower n_clusters or add samples).")
        return int(k)

    def _prepare(self, X, name):
        """``MatrixData`` of modality ``name`` ("a"/"b") with its likelihood resolved."""
        X = check_matrix(X, name=f"X_{name}", allow_gpu=False)
        requested = getattr(self, f"likelihood_{name}")
        likelihood = pick_likelihood(X) if requested == "auto" else requested
        return MatrixData(X, likelihood)

    # -- fitting -----------------------------------------------------------------------------------
    def _build_module(self, config):
        return DM2CModule(**config)

    def fit(self, X_a, X_b, *, resume=False, feature_names_a=None, feature_names_b=None):
        """Fit on the samples of modality A (``X_a``) and those of modality B (``X_b``).

        Parameters
        ----------
        X_a : array-like, DataFrame or sparse matrix of shape (n_samples_a, n_features_a)
        X_b : array-like, DataFrame or sparse matrix of shape (n_samples_b, n_features_b)
            The two sets of samples; no row of one corresponds to a row of the other.
        resume : bool, default=False
            Continue the previous fit of this object from its last completed
            epoch (after a KeyboardInterrupt, or with more ``epochs``); the data
            and every parameter except ``epochs``, ``pretrain_epochs`` and
            ``verbose`` must be unchanged.
        feature_names_a, feature_names_b : sequence of str, optional
            Column names (a DataFrame's columns are used otherwise), checked by
            :meth:`transform` and :meth:`predict`.

        Returns
        -------
        self
        """
        hidden, generator_hidden, critic_hidden, device = self._check_params()
        seed = self._fit_seed(resume)
        data_a, data_b = self._prepare(X_a, "a"), self._prepare(X_b, "b")
        k = self._check_n_clusters(data_a.n_rows, data_b.n_rows)
        names = {"a": _feature_names(X_a, feature_names_a, "a"), "b": _feature_names(X_b, feature_names_b, "b")}
        self.n_features_a_, self.n_features_b_ = data_a.n_cols, data_b.n_cols
        self.n_features_in_ = data_a.n_cols + data_b.n_cols
        self.feature_names_ = {m: None if v is None else [str(s) for s in v] for m, v in names.items()}
        self.likelihoods_ = {"a": data_a.likelihood, "b": data_b.likelihood}
        self.preprocessing_ = {"a": data_a.stats, "b": data_b.stats}
        config = dict(n_input_a=data_a.n_cols, n_input_b=data_b.n_cols, hidden=hidden,
                      latent_dim=int(self.latent_dim), likelihood_a=data_a.likelihood,
                      likelihood_b=data_b.likelihood, generator_hidden=generator_hidden,
                      critic_hidden=critic_hidden, objective=self.adversarial)
        self._run_plan(config, self._phases(data_a, data_b, seed), seed=seed, device=device,
                       rng=np.random.default_rng(seed), fingerprint=fingerprint(data_a.X, data_b.X),
                       resume=resume, finalize=lambda plan: self._finalize(data_a, data_b, seed, k))
        self._warn_collapsed(k)
        return self

    def _warn_collapsed(self, k):
        """Warn when a modality's samples all share one cluster although ``k > 1``.

        Typical of too short a training: modality B's mapped cells still sit apart
        from A's in the common space, so k-means gives them a cluster of their own.
        """
        if k < 2:
            return
        for name, labels in (("A", self.labels_a_), ("B", self.labels_b_)):
            if np.unique(labels).size < 2:
                warnings.warn(f"DM2C: every sample of modality {name} is in one cluster (n_clusters={k}); the "
                              "training may be too short for the modalities to align. Raise epochs and "
                              f"pretrain_epochs (now {self.epochs} and {self.pretrain_epochs}).",
                              RuntimeWarning, stacklevel=3)

    def _phases(self, data_a, data_b, seed):
        def batches(epoch):
            for idx_a, idx_b in _step_batches(epoch.rng, data_a.n_rows, data_b.n_rows, self.batch_size):
                yield (to_tensors(data_a.rows(idx_a), epoch.device), to_tensors(data_b.rows(idx_b), epoch.device),
                       len(idx_a) + len(idx_b))

        def pretrain(epoch):
            epoch.module.train()
            for batch_a, batch_b, n in batches(epoch):
                epoch.update(epoch.module.reconstruction_losses(batch_a, batch_b), n)
            return epoch.mean()

        def train(epoch):
            module = epoch.module
            anchors = self._anchor_pairs(epoch.state, data_a, data_b, seed)
            anchors = None if anchors is None else to_tensors(anchors, epoch.device)
            module.train()
            monitors = {}
            for batch_a, batch_b, n in batches(epoch):
                losses, z_a, z_b = module.generator_losses(batch_a, batch_b, anchors)
                step(epoch.optimizer["generator"], losses.total(epoch.weights))
                epoch.record(losses, n)
                z_a, z_b = z_a.detach(), z_b.detach()
                for _ in range(self.critic_steps):
                    critic_loss, values = module.critic_loss(z_a, z_b)
                    step(epoch.optimizer["critic"], critic_loss)
                    if self.adversarial == "wgan-clip":
                        module.clip_critics(_CLIP_VALUE)
                for name, value in {"critic_loss": critic_loss.item(), **values}.items():
                    total, count = monitors.get(name, (0.0, 0))
                    monitors[name] = (total + value * n, count + n)
            return EpochRecord(epoch.mean(), metrics={k: t / c for k, (t, c) in monitors.items()})

        def pretrain_optimizer(module):
            return torch.optim.Adam(module.autoencoder_parameters(), lr=self.lr)

        def train_optimizers(module):
            generator = torch.optim.Adam(module.generator_parameters(), lr=self.lr)
            if self.adversarial == "wgan-clip":
                critic = torch.optim.RMSprop(module.critic_parameters(), lr=self.critic_lr)
            else:
                critic = torch.optim.Adam(module.critic_parameters(), lr=self.critic_lr, betas=(0.5, 0.9))
            return {"generator": generator, "critic": critic}

        weights = {"reconstruction": 1.0, "alignment": float(self.cycle_weight),
                   "adversarial": float(self.adversarial_weight), "auxiliary": float(self.geometry_weight),
                   "anchor": float(self.anchor_weight)}
        return [
            Phase("pretrain", self.pretrain_epochs, pretrain, weights={"reconstruction": 1.0},
                  optimizer=pretrain_optimizer),
            Phase("train", self.epochs, train, weights=weights, optimizer=train_optimizers,
                  setup=lambda: self._set_latent_scales(data_a, data_b)),
        ]

    def _set_latent_scales(self, data_a, data_b):
        """Standardise each latent space by its pretrained embeddings' per-dimension mean and std."""
        for side, data, encoder in (("a", data_a, self.module_.encoder_a), ("b", data_b, self.module_.encoder_b)):
            z = self._encode(data, encoder)
            with torch.no_grad():
                self.module_.set_latent_scale(side, z.mean(axis=0), z.std(axis=0))

    def _latents(self, data_a, data_b):
        """Every sample in its own standardised latent space: ``(z_a, z_b)``."""
        return self._encode(data_a, self.module_.latent_a), self._encode(data_b, self.module_.latent_b)

    def _anchor_pairs(self, state, data_a, data_b, seed):
        """This epoch's anchors (micro-cluster centres, targets and weights of both sides), or None.

        The coupling is computed once, in the first training epoch, on the
        principal components of both encoder inputs, and kept in the
        checkpointed state; the centres and targets follow the encoders'
        current latents.
        """
        if self.anchors == "none" or self.anchor_weight == 0 or min(data_a.n_rows, data_b.n_rows) < 2:
            return None  # (a single sample has no geometry to couple)
        if "anchors" not in state:
            state["anchors"] = Anchors(input_pcs(data_a, seed), input_pcs(data_b, seed), seed)
        anchors = state["anchors"]
        centres_a, targets_a, centres_b, targets_b = anchors.pairs(*self._latents(data_a, data_b))
        return {"centres_a": centres_a, "targets_a": targets_a, "weights_a": anchors.weights_a,
                "centres_b": centres_b, "targets_b": targets_b, "weights_b": anchors.weights_b}

    def _finalize(self, data_a, data_b, seed, k):
        self.embedding_a_ = self._embed(data_a, "a")
        embedding_b = self._encode(data_b, self.module_.embed_b)
        self.alignment_ = None
        if self.readout == "ot" and min(data_a.n_rows, data_b.n_rows) >= 2:
            centres, shifts = micro_cluster_shifts(self.embedding_a_.astype(np.float64),
                                                   embedding_b.astype(np.float64), seed)
            self.alignment_ = {"centres": centres.astype(np.float32), "shifts": shifts.astype(np.float32)}
        self.embedding_b_ = self._aligned(embedding_b)
        if self.readout == "matched":
            self.labels_a_, self.labels_b_, self.cluster_centers_, self.cluster_centers_b_ = matched_kmeans(
                self.embedding_a_, self.embedding_b_, k, n_init=self.n_init, seed=seed)
            return
        common = np.vstack([self.embedding_a_, self.embedding_b_]).astype(np.float64)
        km = KMeans(k, n_init=self.n_init, random_state=seed).fit(common)
        labels = km.labels_.astype(np.int64)
        self.labels_a_, self.labels_b_ = labels[: data_a.n_rows], labels[data_a.n_rows:]
        self.cluster_centers_ = self.cluster_centers_b_ = km.cluster_centers_

    def _embed(self, data, modality):
        if modality == "a":
            return self._encode(data, self.module_.embed_a)
        return self._aligned(self._encode(data, self.module_.embed_b))

    def _aligned(self, embedding_b):
        """B's samples moved onto A's by the ``readout="ot"`` shifts; unchanged under ``"kmeans"``."""
        alignment = getattr(self, "alignment_", None)
        if alignment is None:
            return embedding_b
        return apply_shifts(embedding_b, alignment["centres"], alignment["shifts"])

    def _encode(self, data, encode):
        """``encode`` (a module method reading an input batch) of every sample of ``data``, in eval mode."""
        self.module_.eval()
        return encode_in_chunks(data.n_rows, data.inputs, lambda b: encode(b["input"]), self.device_)

    # -- new samples -------------------------------------------------------------------------------
    def _new_data(self, X, modality):
        check_is_fitted(self, "labels_a_")
        if modality not in MODALITIES:
            raise ValueError(f"modality must be 'a' or 'b', got {modality!r}.")
        Xc = check_matrix(X, name="X", allow_gpu=False)
        expected = getattr(self, f"n_features_{modality}_")
        if Xc.shape[1] != expected:
            raise ValueError(f"X has {Xc.shape[1]} features, but this DM2C was fitted with {expected} features "
                             f"in modality {modality.upper()}; pass samples with the same features in the "
                             f"same order (or the other modality=).")
        names = self.feature_names_.get(modality)
        given = _feature_names(X, None, modality)
        if names is not None and given is not None and list(given) != list(names):
            raise ValueError(f"X's column names differ from those of modality {modality.upper()} seen in fit; "
                             "pass the same features in the same order.")
        return MatrixData(Xc, self.likelihoods_[modality], stats=self.preprocessing_[modality])

    def transform(self, X, *, modality):
        """Samples of one modality in the common space, shape (n_samples, latent_dim).

        Parameters
        ----------
        X : array-like or sparse matrix
            Samples of modality ``modality`` with that modality's features.
        modality : {"a", "b"}
            ``"a"``: the A encoder; ``"b"``: ``G_BA`` of the B encoder (then
            the ``readout="ot"`` shift of its nearest micro-centre).
        """
        return self._embed(self._new_data(X, modality), modality)

    def predict(self, X, *, modality):
        """Cluster of each sample of ``modality``: its nearest k-means centre in the common space."""
        z = self.transform(X, modality=modality)
        centres = self.cluster_centers_
        if modality == "b":  # a model saved before cluster_centers_b_ existed has one set of centres
            centres = getattr(self, "cluster_centers_b_", centres)
        d2 = ((z[:, None, :] - centres[None, :, :].astype(np.float32)) ** 2).sum(axis=2)
        return d2.argmin(axis=1).astype(np.int64)

    def fit_predict(self, X_a, X_b, **fit_params):
        """Fit, then return ``(labels_a_, labels_b_)``."""
        self.fit(X_a, X_b, **fit_params)
        return self.labels_a_, self.labels_b_


def input_pcs(data, seed, n_components=30):
    """Principal components of a modality's encoder input (standardised features; log-normalised for counts)."""
    from sklearn.decomposition import PCA

    X = data.inputs(np.arange(data.n_rows))["input"]
    return PCA(min(n_components, *X.shape), random_state=seed).fit_transform(X)


def step(optimizer, loss):
    """One ``zero_grad`` / ``backward`` / ``step`` of ``optimizer`` on ``loss``."""
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
