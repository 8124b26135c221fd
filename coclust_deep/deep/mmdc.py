"""MMDC: multi-modal deep clustering with fixed targets on the unit sphere (Shiran & Weinshall, ICPR 2020)."""
from __future__ import annotations

import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.base import ClusterMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.metrics.cluster import contingency_matrix
from sklearn.utils.validation import check_is_fitted

from .._validation import check_choice, check_matrix, check_n_clusters, check_nonneg_float, check_positive_int
from ._alignment import assign_targets
from ._augment import log_normalise, mask_features, random_affine, thin_counts
from ._base import DeepEstimatorBase, encode_in_chunks, resolve_device, to_tensors
from ._data import FEATURE_SCALING, MatrixData, check_views, fingerprint
from ._images import ImageData
from ._module_mmdc import MMDCModule
from ._train import EpochRecord, Phase

INPUT_TYPES = ("auto", "image", "counts", "continuous")
AUX_CHOICES = ("auto", "rotation", "masked_features", "none")
REFINE_ON = ("auto", "outputs", "features")
AUGMENTATION_DEFAULTS = {
    "image": {"max_rotation": 15.0, "crop": (0.75, 1.0), "max_shift": 0.1},
    "counts": {"keep": (0.5, 1.0), "mask_rate": 0.8},
    "continuous": {"mask_rate": 0.8},
}
OPTIMIZERS = ("auto", "sgd", "adam")
_DEFAULT_LR = {"sgd": 0.05, "adam": 1e-3}
_AUX_MASK_RATE = 0.3  # share of entries hidden by the masked-feature task (VIME's p_m, Yoon et al. 2020)
_LR_DECAY_AT = 0.8  # the learning rate drops 10-fold for the last 20 % of epochs (the authors' MNIST schedule)


def sample_targets(n, n_clusters, *, sigma=0.0, rng):
    """``n`` fixed targets on the unit sphere of dimension ``n_clusters``, about ``n / n_clusters`` per cluster.

    Each is drawn from a Gaussian around one of the one-hot means (``sigma``
    0: the mean itself, as in the authors' code) and L2-normalised. The
    components are a shuffled round robin, so cluster sizes differ by at most 1.

    Examples
    --------
    >>> import numpy as np
    >>> targets = sample_targets(6, 3, rng=np.random.default_rng(0))
    >>> targets.sum(axis=0).tolist(), np.linalg.norm(targets, axis=1).tolist()
    ([2.0, 2.0, 2.0], [1.0, 1.0, 1.0, 1.0, 1.0, 1.0])
    """
    components = rng.permutation(np.arange(n) % n_clusters)
    targets = np.eye(n_clusters)[components]
    if sigma > 0:
        targets = targets + sigma * rng.normal(size=targets.shape)
    norms = np.linalg.norm(targets, axis=1, keepdims=True)
    return (targets / np.maximum(norms, 1e-12)).astype(np.float32)


def align_labels(labels, previous, n_clusters):
    """Relabel ``labels`` so that they agree with ``previous`` as much as a permutation of names allows."""
    table = contingency_matrix(labels, previous) if len(labels) else np.zeros((0, 0))
    rows, cols = linear_sum_assignment(-table)
    mapping = np.arange(n_clusters)
    names_new, names_old = np.unique(labels), np.unique(previous)
    mapping[names_new[rows]] = names_old[cols]
    unused = np.setdiff1d(np.arange(n_clusters), mapping[names_new[rows]])
    leftover = np.setdiff1d(names_new, names_new[rows])
    mapping[leftover] = unused[:len(leftover)]
    return mapping[labels]


class MMDC(ClusterMixin, TransformerMixin, DeepEstimatorBase):
    """Multi-modal deep clustering (Shiran & Weinshall, ICPR 2020), for images and for rows of a matrix (cells).

    Follows the authors' code (``github.com/guysrn/mmdc``):

    * **Fixed targets.** Each sample gets one target on the unit sphere,
      drawn from a mixture with ``n_clusters`` one-hot means (``sigma = 0``:
      the means themselves), so about ``n / n_clusters`` targets per cluster.
    * **Network.** A backbone (a small VGG-style ConvNet for images, an MLP
      for rows) and one linear layer; the output is L2-normalised.
    * **Clustering pass**, per mini-batch: the outputs of the clean inputs
      (network in eval mode) are matched to the batch's targets by the
      linear assignment on Euclidean distances
      (:func:`scipy.optimize.linear_sum_assignment`), which permutes the
      targets inside the batch; then one SGD step on the mean squared error
      between the outputs of an **augmented** view and the assigned targets.
    * **Auxiliary pass**, before each clustering pass, a full epoch of a
      self-supervised task with the same optimiser: images predict which of
      the four quarter turns they went through (``"rotation"``); rows of a
      matrix reconstruct a random 30 % of their entries hidden by a mask
      (``"masked_features"``: masked-gene reconstruction for cells).
    * **Pretraining** (optional, ``pretrain_epochs``, 0 by default; not in
      the authors' code): epochs of the auxiliary task alone, on the
      primary input, before the first clustering pass, so that the first
      reassignments meet features that already know the data. It is off by
      default because its gain did not replicate: on a splat-like count
      simulator 50 epochs raised the mean NMI from 0.569 to 0.624 on the 5
      draws it was tried on, but gave 0.635 against 0.631 on 5 fresh draws
      and 0.806 against 0.806 on the other count simulator
      (``python -m benchmarks.mmdc --parts unbalanced``), for about 20 %
      more time. With extra views it makes the fused features lean on the
      pretrained backbone: in a small test where only a view tells two
      clusters apart, the ARI fell below 0.85 in 3 of 5 draws.
    * **Refinement**, from epoch ``refine_epoch`` on: the targets become the
      one-hot k-means labels of all samples, renamed to agree best with the
      previous targets, and are no longer reassigned per batch. This frees
      the equal-size prior of the fixed targets. The authors run k-means on
      the outputs; for rows of a matrix the default runs it on the
      (standardised) features before the last layer instead (``refine_on``):
      the outputs have already been pulled to ``n_clusters`` balanced
      corners, so k-means there mostly returns the balanced partition, while
      the features still show how large each group is. On simulated
      unbalanced types (8 of 2-30 %, 5 draws; ``python -m benchmarks.mmdc
      --parts unbalanced``) this raised the mean NMI from 0.779 to 0.811 on
      negative-binomial counts (0.734 to 0.755 with per-gene scaling, when
      the choice was made) and from 0.974 to 0.996 on Gaussian clusters.
      Images keep the authors' outputs, with which the digits were measured.
    * **Labels**: the argmax of the output (the nearest target mean).

    **Inputs.** ``input_type="auto"`` reads a 3-D ``(n, H, W)`` or 4-D
    ``(n, C, H, W)`` array as images (standardised per channel), a 2-D
    matrix of non-negative integers (dense or sparse) as counts (cells x
    genes: ``log1p(x / total * median total)``, centred per gene, divided by
    one scale shared by all genes and clipped at +-10; pass raw counts and
    nothing else), and any other 2-D matrix as continuous features
    (standardised per column). The shared scale (``feature_scaling``) keeps
    the genes' relative variance, as a PCA of log-normalised counts does:
    per-gene z-scores, which ``DEC(likelihood="nb")`` reads, give a gene
    seen in a few cells as much weight as a marker of a cell type, and the
    masked-gene task then spends its effort on noise. The choice was made
    on the count simulator (5 draws, ``--parts unbalanced``): NMI 0.811 +-
    0.046 against 0.751 +- 0.078 with per-gene scaling, higher on four
    draws and equal on the fifth; continuous matrices keep per-column
    z-scores (``"auto"``).

    **Principal components** (``n_pcs``, off by default): the MLP may read
    the scaled input projected on its leading principal axes, fixed before
    training, as k-means on 50 PCs reads log-normalised counts. Measured
    with ``n_pcs=50`` (NMI, mean +- std over 5 draws or seeds; ``python -m
    benchmarks.mmdc --parts unbalanced pbmc10x``, and 5 fresh simulator
    draws in one-off runs): on the splat-like simulator (2000 mostly weak
    genes) it gains, 0.711 +- 0.059 against 0.638 +- 0.073 (higher on all
    5 draws; 0.642 against 0.597 on the fresh draws, higher on 4), level
    with k-means on 50 PCs (0.702); on the other count simulator (400 genes,
    strong markers) it loses, 0.785 +- 0.064 against 0.811 +- 0.046 (0.728
    against 0.746 on the fresh draws); on 10X PBMC it loses, 0.739 +- 0.018
    against 0.749 +- 0.016. The rule fixed before these runs (a gain on
    both count simulators) failed, so the MLP reads every column unless
    asked. With 2000 genes a fit takes 25-35 % less CPU time.

    **Augmentations** (the "augmented view", :mod:`coclust_deep.deep._augment`),
    overridable key by key with ``augmentation``:

    * images: a random crop keeping ``crop`` = (0.75, 1) of each side,
      resized back, a shift of up to ``max_shift`` = 0.1 of the side and a
      rotation of up to ``max_rotation`` = 15 degrees (milder than the
      authors' MNIST crops of 57-86 % and 25 degrees: an 8x8 digit has few
      pixels to lose); the rotation task reads crops and shifts only;
    * counts: binomial thinning keeping a fraction ``keep`` = (0.5, 1) of
      each cell's counts (0.5 is the split of molecular cross-validation,
      Batson et al. 2019), then masking ``mask_rate`` = 80 % of the genes
      (the input dropout of contrastive-sc, Ciortan & Defrance 2021);
    * continuous: masking ``mask_rate`` = 80 % of the entries;
    * extra views: masking 80 % of their entries.

    Strong masking matters for rows: an MLP that can tell cells apart
    memorises the random balanced targets it starts from (cluster sizes stay
    exactly ``n / n_clusters``), whereas one that sees a fifth of the genes
    can only tell cell types apart.

    **Extra views** of the rows (``fit(X, row_views={name: array})``, e.g.
    protein counts of the same cells, image or text embeddings) get their own
    MLP encoders into the feature space; a row's features are the mean over
    the inputs it has, so a second modality changes the embedding and the
    clusters.

    **Optimiser** (``optimizer="auto"``). Images: the authors' SGD
    (learning rate 0.05, momentum 0.9, weight decay 5e-4 on weight matrices
    only). Rows of a matrix: Adam at 1e-3, the other deep models' optimiser;
    there is no convolutional prior to lean on, and with SGD the target MSE of
    an MLP stays flat for tens of epochs on small data (the outputs sit at the
    mean of the targets). Both: the learning rate drops 10-fold for the last
    20 % of the epochs, the authors' MNIST schedule.

    Parameters
    ----------
    n_clusters : int, default=8
    aux_task : {"auto", "rotation", "masked_features", "none"}, default="auto"
        ``"auto"``: rotation for square images, none for other images,
        masked features for rows of a matrix.
    input_type : {"auto", "image", "counts", "continuous"}, default="auto"
    pretrain_epochs : int, default=0
        Epochs of the auxiliary task alone before training (see above), on
        the primary input only; needs an auxiliary task.
    epochs : int, default=100
        Training epochs (each: one auxiliary pass, one clustering pass).
        200 did not fit count data better (README changelog).
    refine_epoch : int, float or None, default=0.4
        Epoch where refinement starts; a float in [0, 1] is a fraction of
        ``epochs``; ``None`` never refines. 0.4 and the learning-rate drop
        at 0.8 are the authors' MNIST schedule (epochs 20 and 40 of 50);
        0.2 on count data was not better on both count simulators.
    refine_on : {"auto", "outputs", "features"}, default="auto"
        What refinement's k-means reads: the L2-normalised outputs (the
        authors' choice) or the features before the last layer, standardised
        per column. ``"auto"``: outputs for images, features for rows of a
        matrix (see above).
    batch_size : int, default=128
        At least 4, so that every mini-batch has 2 or more rows for batch norm.
    optimizer : {"auto", "sgd", "adam"}, default="auto"
        ``"auto"``: SGD for images, Adam for rows (see above).
    lr : float or None, default=None
        Learning rate; ``None``: 0.05 for SGD, 1e-3 for Adam.
    sigma : float, default=0.0
        Spread of the targets around their one-hot means.
    channels : tuple of int, default=(32, 64, 128, 256)
        ConvNet widths (images).
    hidden : tuple of int, default=(256, 64)
        MLP widths (rows); the last is the size of the features.
    n_pcs : int or None, default=None
        Rows of a matrix: the MLP reads the scaled input projected on its
        ``n_pcs`` leading principal axes (scikit-learn's PCA, fitted once on
        the training rows and then fixed), instead of every column. Masking
        and thinning still act on the genes, before the projection, and the
        masked-feature task still predicts the genes. None: every column, as
        the authors' MLP does, and the default (see **Principal
        components** above).
    augmentation : dict or None, default=None
        Overrides of the augmentation settings above (keys ``max_rotation``,
        ``crop``, ``max_shift`` for images; ``keep``, ``mask_rate`` for rows).
    n_init : int, default=10
        k-means restarts in each refinement epoch.
    feature_scaling : {"auto", "per_feature", "shared"}, default="auto"
        How rows of a matrix are scaled after centring each column: by the
        column's own standard deviation (``"per_feature"``), or all columns
        by one scale, the root mean square of their standard deviations
        (``"shared"``). ``"auto"``: shared for counts, per feature for
        continuous input, whose columns may have different units (see above).
    device : str, default="auto"
    random_state : int or None
        Same value, same result on CPU.
    verbose : bool, default=True

    Attributes
    ----------
    labels_ : ndarray of int, shape (n_samples,)
    outputs_ : ndarray, shape (n_samples, n_clusters)
        L2-normalised network outputs of the clean inputs.
    embedding_ : ndarray, shape (n_samples, n_features)
        Fused features before the last layer (``4 * channels[-1]`` for
        images, ``hidden[-1]`` for rows).
    input_type_ : str
        ``"image"``, ``"counts"`` or ``"continuous"``.
    feature_scaling_ : str or None
        ``"per_feature"`` or ``"shared"`` (None for images).
    n_pcs_ : int or None
        Principal components the MLP reads (None: the input itself).
    aux_task_ : str
        The auxiliary task used.
    refine_on_ : str
        ``"outputs"`` or ``"features"``: what refinement's k-means read.
    optimizer_ : str
        ``"sgd"`` or ``"adam"``.
    image_shape_ : tuple or None
        ``(C, H, W)`` of image input.
    view_names_ : list of str
    history_ : dict of lists
        Per epoch: ``loss``, ``target_mse`` (clustering pass), the auxiliary
        loss (``rotation`` or ``masked_features``), ``label_change`` (share of
        labels changed since the previous epoch, measured at the epoch's
        start) and ``refining`` (1 in refinement epochs).
    n_epochs_ : dict
        ``{"train": completed epochs}``.
    interrupted_ : bool
        True when a KeyboardInterrupt stopped fit; ``fit(X, resume=True)``
        continues from the last completed epoch.
    n_features_in_ : int
        Columns of X, or ``C * H * W`` for images.
    feature_names_in_ : ndarray of str
        Column names seen by fit (tabular input only).

    Examples
    --------
    >>> import numpy as np
    >>> from coclust_deep.deep import MMDC
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(m, 1.0, size=(40, 20)) for m in (-2.0, 0.0, 2.0)])
    >>> model = MMDC(3, epochs=10, hidden=(32, 16), random_state=0, verbose=False).fit(X)
    >>> model.input_type_, model.aux_task_, model.outputs_.shape
    ('continuous', 'masked_features', (120, 3))
    """

    _fitted_attributes = ("labels_", "outputs_", "embedding_", "history_", "n_epochs_", "interrupted_",
                          "preprocessing_", "input_type_", "feature_scaling_", "n_pcs_", "aux_task_", "refine_on_",
                          "optimizer_", "image_shape_", "view_names_")
    _resumable_params = ("epochs", "verbose")  # not pretrain_epochs: at 0 the plan has no pretraining phase

    def __init__(self, n_clusters=8, *, aux_task="auto", input_type="auto", pretrain_epochs=0, epochs=100,
                 refine_epoch=0.4, refine_on="auto", batch_size=128, optimizer="auto", lr=None, sigma=0.0,
                 channels=(32, 64, 128, 256), hidden=(256, 64), n_pcs=None, augmentation=None, n_init=10,
                 feature_scaling="auto", device="auto", random_state=None, verbose=True):
        self.n_clusters = n_clusters
        self.aux_task = aux_task
        self.input_type = input_type
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.refine_epoch = refine_epoch
        self.refine_on = refine_on
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.lr = lr
        self.sigma = sigma
        self.channels = channels
        self.hidden = hidden
        self.n_pcs = n_pcs
        self.augmentation = augmentation
        self.n_init = n_init
        self.feature_scaling = feature_scaling
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.three_d_array = True  # images
        return tags

    # -- checks -----------------------------------------------------------------------------------
    def _check_params(self):
        check_choice(self.aux_task, "aux_task", AUX_CHOICES)
        check_choice(self.refine_on, "refine_on", REFINE_ON)
        check_choice(self.feature_scaling, "feature_scaling", ("auto", *FEATURE_SCALING))
        check_choice(self.input_type, "input_type", INPUT_TYPES)
        check_positive_int(self.pretrain_epochs, "pretrain_epochs", minimum=0)
        check_positive_int(self.epochs, "epochs", minimum=0)
        check_positive_int(self.batch_size, "batch_size", minimum=4)  # batch norm needs 2+ rows in every batch
        check_positive_int(self.n_init, "n_init")
        if self.n_pcs is not None:
            check_positive_int(self.n_pcs, "n_pcs")
        check_choice(self.optimizer, "optimizer", OPTIMIZERS)
        if self.lr is not None and (isinstance(self.lr, bool) or not isinstance(self.lr, numbers.Real)
                                    or not self.lr > 0):
            raise ValueError(f"lr must be a positive number or None (the optimiser's default), got {self.lr!r}.")
        check_nonneg_float(self.sigma, "sigma")
        for name in ("channels", "hidden"):
            widths = getattr(self, name)
            if not isinstance(widths, (tuple, list)) or not widths or not all(
                    isinstance(w, numbers.Integral) and not isinstance(w, bool) and w > 0 for w in widths):
                raise ValueError(f"{name} must be a non-empty tuple of positive ints (layer widths), "
                                 f"got {widths!r}.")
        self._refine_start()
        return resolve_device(self.device)

    def _refine_start(self):
        """The first refinement epoch, or None."""
        value = self.refine_epoch
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise ValueError(f"refine_epoch must be an epoch (int), a fraction of epochs (float in [0, 1]) "
                             f"or None, got {value!r}.")
        if isinstance(value, numbers.Integral):
            if value < 0:
                raise ValueError(f"refine_epoch must be >= 0, got {value}.")
            return int(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"a float refine_epoch is a fraction of epochs and must lie in [0, 1], got {value}.")
        return int(round(value * self.epochs))

    def _augmentation(self, input_type):
        settings = dict(AUGMENTATION_DEFAULTS[input_type])
        given = {} if self.augmentation is None else self.augmentation
        if not isinstance(given, dict):
            raise TypeError(f"augmentation must be a dict of settings or None, got {type(given).__name__}.")
        unknown = sorted(set(given) - set(settings))
        if unknown:
            raise ValueError(f"augmentation keys {unknown} do not apply to {input_type} input; "
                             f"its keys are {sorted(settings)}.")
        settings.update(given)
        for key in ("crop", "keep"):
            if key in settings:
                low, high = _pair(settings[key], key)
                if not 0 < low <= high <= 1:
                    raise ValueError(f"augmentation[{key!r}] must be (low, high) with 0 < low <= high <= 1, "
                                     f"got {settings[key]!r}.")
                settings[key] = (low, high)
        for key in ("max_rotation", "max_shift"):
            if key in settings:
                settings[key] = check_nonneg_float(settings[key], f"augmentation[{key!r}]")
        if "mask_rate" in settings:
            rate = check_nonneg_float(settings["mask_rate"], "augmentation['mask_rate']")
            if rate >= 1:
                raise ValueError(f"augmentation['mask_rate'] must be below 1, got {rate}.")
            settings["mask_rate"] = rate
        return settings

    def _resolve_input_type(self, X):
        if self.input_type != "auto":
            return self.input_type
        if _rank(X) in (3, 4):
            return "image"
        Xc = check_matrix(X, allow_gpu=False)
        values = Xc.data if sp.issparse(Xc) else Xc
        if values.size and values.min() >= 0 and np.all(values == np.round(values)):
            return "counts"
        return "continuous"

    def _make_data(self, X, input_type, stats=None):
        if input_type == "image":
            return ImageData(X, stats=stats)
        if _rank(X) in (3, 4):
            raise ValueError(f"input_type={input_type!r} needs a 2-D matrix (rows x features), got an array "
                             f"with {_rank(X)} dimensions; pass images with input_type='image' or 'auto'.")
        return MatrixData(X, "nb" if input_type == "counts" else "gaussian", stats=stats,
                          feature_scaling=self._resolve_feature_scaling(input_type))

    def _resolve_feature_scaling(self, input_type):
        if self.feature_scaling != "auto":
            return self.feature_scaling
        return "shared" if input_type == "counts" else "per_feature"

    def _resolve_n_pcs(self, input_type, n_rows, n_features):
        """Principal components the MLP reads (None: the input itself)."""
        if self.n_pcs is None:
            return None
        if input_type == "image":
            raise ValueError(f"n_pcs={self.n_pcs} projects rows of a matrix; images go to the ConvNet as they "
                             "are. Use n_pcs=None.")
        if self.n_pcs > n_features:
            raise ValueError(f"n_pcs={self.n_pcs} is more than the {n_features} columns of X.")
        return min(int(self.n_pcs), n_rows)

    def _resolve_aux(self, input_type, image_shape):
        if self.aux_task == "auto":
            if input_type != "image":
                return "masked_features"
            return "rotation" if image_shape[1] == image_shape[2] else "none"
        if self.aux_task == "rotation":
            if input_type != "image":
                raise ValueError(f"aux_task='rotation' needs images, but X is {input_type} input; use "
                                 "'masked_features' or 'none'.")
            if image_shape[1] != image_shape[2]:
                raise ValueError(f"aux_task='rotation' needs square images, got {image_shape[1]}x"
                                 f"{image_shape[2]}; use aux_task='none'.")
        if self.aux_task == "masked_features" and input_type == "image":
            raise ValueError("aux_task='masked_features' is for rows of a matrix; use 'rotation' for images.")
        return self.aux_task

    # -- fit --------------------------------------------------------------------------------------
    def fit(self, X, y=None, *, row_views=None, row_view_masks=None, resume=False, feature_names=None):
        """Cluster the samples of ``X``.

        Parameters
        ----------
        X : array of shape (n, C, H, W) or (n, H, W) (images), or a 2-D array, DataFrame or sparse matrix
        y : ignored
        row_views : dict of {str: array of shape (n, n_features)}, optional
            Extra views of the samples; each gets its own encoder.
        row_view_masks : dict of {str: bool array of shape (n,)}, optional
            Which samples have each view (all when absent).
        resume : bool, default=False
            Continue the previous fit from its last completed epoch (after a
            KeyboardInterrupt, or with more ``epochs``); X, the views and every
            parameter except ``epochs`` and ``verbose`` must be unchanged.
        feature_names : sequence of str, optional
            Names of X's columns (tabular input).

        Returns
        -------
        self
        """
        device = self._check_params()
        seed = self._fit_seed(resume)
        input_type = self._resolve_input_type(X)
        augmentation = self._augmentation(input_type)
        data = self._make_data(X, input_type)
        n = data.n_rows
        if n < 2:
            raise ValueError(f"MMDC needs at least 2 samples (its batch norm compares samples), got {n} sample; "
                             "n_samples=1 cannot be clustered.")
        k = check_n_clusters(self.n_clusters, "n_clusters", n, "samples")
        views = check_views(row_views, row_view_masks, n, axis="rows", kind="row")
        if input_type == "image":
            if feature_names is not None:
                raise ValueError("feature_names name the columns of a matrix; images have none.")
            self.n_features_in_ = int(np.prod(data.image_shape))
            self.image_shape_ = data.image_shape
            input_shape = data.image_shape
        else:
            self._record_features(X, feature_names)
            self.image_shape_ = None
            input_shape = (data.n_cols,)
        self.input_type_ = input_type
        self.feature_scaling_ = None if input_type == "image" else self._resolve_feature_scaling(input_type)
        self.aux_task_ = self._resolve_aux(input_type, self.image_shape_)
        if self.pretrain_epochs and self.aux_task_ == "none":
            raise ValueError(f"pretrain_epochs={self.pretrain_epochs} trains the auxiliary task alone, but "
                             "aux_task='none'; set pretrain_epochs=0 or choose an auxiliary task.")
        if self.refine_on == "auto":
            self.refine_on_ = "outputs" if input_type == "image" else "features"
        else:
            self.refine_on_ = self.refine_on
        if self.optimizer == "auto":
            self.optimizer_ = "sgd" if input_type == "image" else "adam"
        else:
            self.optimizer_ = self.optimizer
        self.view_names_ = list(views)
        self.preprocessing_ = data.stats
        self.n_pcs_ = self._resolve_n_pcs(input_type, n, int(np.prod(input_shape)))
        if self.n_pcs_ and not resume:
            self._principal_axes = data.principal_axes(self.n_pcs_, random_state=seed % 2**32)
        config = dict(input_shape=tuple(int(s) for s in input_shape), target_dim=k,
                      channels=tuple(int(c) for c in self.channels), hidden=tuple(int(h) for h in self.hidden),
                      aux_task=self.aux_task_, view_dims={name: int(v.shape[1]) for name, (v, _) in views.items()},
                      n_pcs=self.n_pcs_)
        arrays = [data.X] + [a for pair in views.values() for a in pair]
        rng = np.random.default_rng(seed)
        phases = [Phase("train", self.epochs, lambda epoch: self._epoch(epoch, data, views, augmentation, k, seed),
                        weights={"clustering": 1.0, "auxiliary": 1.0}, optimizer=self._optimizer,
                        scheduler=self._scheduler)]
        if self.pretrain_epochs:  # absent, not empty, at 0: the default trains exactly as before
            phases.insert(0, Phase("pretrain", int(self.pretrain_epochs),
                                   lambda epoch: self._auxiliary_pass(epoch, data, {}, augmentation),
                                   weights={"auxiliary": 1.0}, optimizer=self._optimizer))
        self._run_plan(config, phases, seed=seed, device=device, rng=rng, fingerprint=fingerprint(*arrays),
                       resume=resume, finalize=lambda plan: self._finalize(data, views))
        return self

    def _build_module(self, config):
        module = MMDCModule(**config)
        axes = self.__dict__.pop("_principal_axes", None)
        if config.get("n_pcs") and axes is not None:  # a new fit; a loaded model gets them from its state
            module.backbone[0].axes.copy_(torch.as_tensor(axes))
        return module

    def _optimizer(self, module):
        name = self.optimizer_
        lr = float(self.lr) if self.lr is not None else _DEFAULT_LR[name]
        if name == "adam":
            return torch.optim.Adam(module.parameters(), lr=lr)
        decay = [p for p in module.parameters() if p.ndim > 1]
        no_decay = [p for p in module.parameters() if p.ndim <= 1]  # biases and batch-norm scales
        return torch.optim.SGD([{"params": no_decay, "weight_decay": 0.0},
                                {"params": decay, "weight_decay": 5e-4}], lr=lr, momentum=0.9)

    def _scheduler(self, optimizer):
        return torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones=[int(round(_LR_DECAY_AT * self.epochs))],
                                                    gamma=0.1)

    # -- batches ----------------------------------------------------------------------------------
    @staticmethod
    def _inputs(data, views, idx):
        batch = dict(data.inputs(idx))
        if views:
            batch["views"] = {name: v[idx] for name, (v, _) in views.items()}
            batch["masks"] = {name: m[idx] for name, (_, m) in views.items()}
        return batch

    def _augmented(self, data, batch, idx, augmentation, device):
        """The augmented view of the batch: its primary input, and its extra views masked as continuous rows."""
        if self.input_type_ == "image":
            fill = torch.as_tensor(data.stats["fill"], device=device)
            x = random_affine(batch["input"], fill=fill, max_rotation=augmentation["max_rotation"],
                              crop=augmentation["crop"], max_shift=augmentation["max_shift"])
        else:
            z = batch["input"]
            if self.input_type_ == "counts":
                counts = torch.as_tensor(_dense_rows(data.X, idx), device=device)
                thinned = thin_counts(counts, augmentation["keep"])
                z = log_normalise(thinned, median_library=data.stats["median_library"],
                                  mean=torch.as_tensor(data.stats["mean"], device=device),
                                  std=torch.as_tensor(data.stats["std"], device=device))
            x = mask_features(z, augmentation["mask_rate"])[0]
        views = batch.get("views")
        if views:
            rate = AUGMENTATION_DEFAULTS["continuous"]["mask_rate"]
            views = {name: mask_features(v, rate)[0] for name, v in views.items()}
        return x, views

    def _outputs(self, data, views, what="output"):
        self.module_.eval()
        module = self.module_
        encode = module if what == "output" else module.features
        return encode_in_chunks(data.n_rows, lambda idx: self._inputs(data, views, idx),
                                lambda b: encode(b["input"], b.get("views"), b.get("masks")), self.device_)

    def _features_and_outputs(self, data, views):
        """The fused features and the outputs of every sample, from one inference pass."""
        self.module_.eval()
        module = self.module_

        def both(batch):
            features = module.features(batch["input"], batch.get("views"), batch.get("masks"))
            return torch.cat([features, module.head(features)], dim=1)

        joined = encode_in_chunks(data.n_rows, lambda idx: self._inputs(data, views, idx), both, self.device_)
        k = module.top_layer.out_features
        return joined[:, :-k], joined[:, -k:]

    # -- one epoch --------------------------------------------------------------------------------
    def _epoch(self, epoch, data, views, augmentation, k, seed):
        module, device = epoch.module, epoch.device
        state = epoch.state
        if "targets" not in state:
            state["targets"] = sample_targets(data.n_rows, k, sigma=float(self.sigma), rng=epoch.rng)
        targets = state["targets"]
        features, outputs = self._features_and_outputs(data, views)
        labels = outputs.argmax(axis=1)
        previous = state.get("labels")
        change = float("nan") if previous is None else float(np.mean(labels != previous))
        state["labels"] = labels
        start = self._refine_start()
        refining = start is not None and epoch.index >= start
        if refining:  # targets <- one-hot k-means labels of all samples, named after the previous targets
            if self.refine_on_ == "features":
                points = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-8)
            else:
                points = outputs
            km = KMeans(k, n_init=self.n_init, random_state=(seed + epoch.index) % 2**32).fit_predict(points)
            targets[:] = np.eye(k, dtype=np.float32)[align_labels(km, targets.argmax(axis=1), k)]

        if self.aux_task_ != "none":
            self._auxiliary_pass(epoch, data, views, augmentation)

        for idx in epoch.batches(data.n_rows, self.batch_size):
            batch = to_tensors(self._inputs(data, views, idx), device)
            if not refining:
                self._reassign(module, batch, targets, idx)
            module.train()
            x, views_aug = self._augmented(data, batch, idx, augmentation, device)
            losses = module.clustering_loss(x, torch.as_tensor(targets[idx], device=device), views_aug,
                                            batch.get("masks"))
            epoch.update(losses, len(idx))
        return EpochRecord(epoch.mean(), metrics={"label_change": change, "refining": float(refining)})

    def _auxiliary_pass(self, epoch, data, views, augmentation):
        """One epoch of the auxiliary task: the first half of a training epoch, or alone in pretraining.

        Pretraining leaves the extra views out: the task reconstructs the
        primary input, which a view cannot help with.
        """
        for idx in epoch.batches(data.n_rows, self.batch_size):
            batch = to_tensors(self._inputs(data, views, idx), epoch.device)
            epoch.module.train()
            epoch.update(self._aux_loss(epoch.module, data, batch, augmentation, epoch.device), len(idx))
        return epoch.mean()

    def _reassign(self, module, batch, targets, idx):
        """Permute the targets of the rows ``idx`` among them, to fit the outputs of their clean inputs (in place)."""
        module.eval()
        with torch.no_grad():
            out = module(batch["input"], batch.get("views"), batch.get("masks")).cpu().numpy()
        targets[idx] = targets[idx][assign_targets(out, targets[idx])]

    def _aux_loss(self, module, data, batch, augmentation, device):
        views_b, masks_b = batch.get("views"), batch.get("masks")
        if self.aux_task_ == "rotation":
            fill = torch.as_tensor(data.stats["fill"], device=device)
            x = random_affine(batch["input"], fill=fill, crop=augmentation["crop"],
                              max_shift=augmentation["max_shift"])
            return module.rotation_loss(x, views_b, masks_b)
        z = batch["input"]
        masked, mask = mask_features(z, _AUX_MASK_RATE)
        return module.masked_loss(masked, z, mask, views_b, masks_b)

    def _finalize(self, data, views):
        self.embedding_, self.outputs_ = self._features_and_outputs(data, views)
        self.labels_ = self.outputs_.argmax(axis=1).astype(np.int64)
        k = self.outputs_.shape[1]
        unused = np.setdiff1d(np.arange(k), self.labels_)
        if unused.size:  # refinement's k-means split a group the network cannot tell apart on augmented views
            warnings.warn(f"MMDC: {k - unused.size} of the {k} clusters hold "
                          f"samples; no output has its maximum at clusters {unused.tolist()}. The data may hold fewer "
                          "groups that survive the augmentations; labels_ keeps the clusters found.", UserWarning,
                          stacklevel=3)

    # -- new data ---------------------------------------------------------------------------------
    def _new_data(self, X, row_views, row_view_masks):
        check_is_fitted(self, "labels_")
        if self.input_type_ == "image":
            data = ImageData(X, stats=self.preprocessing_)
            if data.image_shape != tuple(self.image_shape_):
                raise ValueError(f"X holds images of shape {data.image_shape} (C, H, W) but the model was fitted "
                                 f"on {tuple(self.image_shape_)}.")
        else:
            self._check_features(X)  # before preparing X, which indexes the fitted columns
            data = self._make_data(X, self.input_type_, stats=self.preprocessing_)
        n = data.n_rows
        if row_views is None and self.view_names_:  # no views given: every sample lacks them
            dims = self._module_config["view_dims"]
            views = {name: (np.zeros((n, dims[name]), np.float32), np.zeros(n, np.float32))
                     for name in self.view_names_}
        else:
            views = check_views(row_views, row_view_masks, n, axis="rows", kind="row")
        if sorted(views) != sorted(self.view_names_):
            raise ValueError(f"row_views must name the views seen by fit, {sorted(self.view_names_)}, "
                             f"got {sorted(views)}.")
        return data, views

    def transform(self, X, *, row_views=None, row_view_masks=None):
        """Features of the samples of ``X`` (the ``embedding_`` of new data)."""
        data, views = self._new_data(X, row_views, row_view_masks)
        return self._outputs(data, views, what="features")

    def fit_transform(self, X, y=None, **fit_params):
        """Fit, then return ``embedding_``."""
        return self.fit(X, y, **fit_params).embedding_

    def predict_outputs(self, X, *, row_views=None, row_view_masks=None):
        """L2-normalised outputs of the samples of ``X``, shape (n, n_clusters)."""
        data, views = self._new_data(X, row_views, row_view_masks)
        return self._outputs(data, views)

    def predict(self, X, *, row_views=None, row_view_masks=None):
        """Cluster of each sample of ``X``: the argmax of its output."""
        return self.predict_outputs(X, row_views=row_views, row_view_masks=row_view_masks).argmax(axis=1)


def _pair(value, name):
    try:
        low, high = value
        return float(low), float(high)
    except (TypeError, ValueError):
        raise ValueError(f"augmentation[{name!r}] must be a pair (low, high), got {value!r}.") from None


def _rank(X):
    """Dimensions of array-like input; 2 for sparse matrices and data frames."""
    if sp.issparse(X) or hasattr(X, "to_numpy"):
        return 2
    return np.asarray(X).ndim


def _dense_rows(X, idx):
    rows = X[idx]
    return (rows.toarray() if sp.issparse(rows) else np.asarray(rows)).astype(np.float32, copy=False)
