"""DeepCoclustering: row and column autoencoders trained jointly with DEC heads and an LBM block term."""
from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.cluster import KMeans

from .._validation import check_choice, check_matrix, check_n_clusters, check_nonneg_float, check_positive_int
from ._base import DeepEstimatorBase, encode_in_chunks, to_tensors
from ._data import (FEATURE_SCALING, LIKELIHOODS, N_TOP_GENES, MatrixData, check_views, fingerprint,
                    resolve_likelihood)
from ._device_data import on_device
from ._module import CoclusteringModule
from ._n_clusters import leiden_n_clusters
from ._nn import StudentTHead, target_distribution
from ._train import EpochRecord, Phase


# Gaussian input noise (in standard deviations of the standardised input) of the denoising row
# autoencoder under a count likelihood. scDeepCluster's 2.5 drowned markers carried by few genes on
# count simulators: 1.5 was best of 0, 0.5, 1, 1.5, 2.5 there (README changelog), and
# benchmarks.deep_simulated compares it with 2.5 (other levels with --input-noise).
_COUNT_INPUT_NOISE = 1.5


class DeepCoclustering(DeepEstimatorBase):
    """Deep co-clustering: a row partition and a column partition learned with autoencoders.

    **Networks.** A row encoder embeds each row (a cell's profile over the
    columns); a column encoder embeds each column (a gene's profile over the
    rows). Gene profiles are ``n_rows`` long, so the column encoder reads each
    column on a fixed random subsample of at most ``max_col_input`` rows
    (drawn once per fit from ``random_state``, stored in ``column_anchors_``):
    its cost and size do not grow with the number of cells, and a sparse X
    is densified only on those rows. Each side has a decoder, a DEC
    Student-t head, and optionally extra views with their own encoders.

    **Objective.** Per step, one mini-batch of rows and one of columns::

        loss = reconstruction_weight * (row reconstruction + column reconstruction
                                        + view reconstructions)
             + alignment_weight * sum over views of CLIP(view, primary)
             + cluster_weight   * (KL(P_rows || Q_rows) + KL(P_cols || Q_cols))
             + block_weight     * LBM block term

    * reconstruction: Gaussian (MSE on standardised values) or a count
      likelihood (``"nb"``, ``"zinb"``, scVI-style mean = row total x softmax,
      i.e. size factor ``l_i / median(l)`` times a composition scaled to the
      median depth; one dispersion per gene) for the rows; Gaussian for
      columns and views. Under a count likelihood the row autoencoder is
      denoising: it reconstructs the counts from the embedding of the
      standardised input plus Gaussian noise (``input_noise``, 1.5; scDeepCluster
      uses 2.5); the clustering terms read the clean embedding.
    * DEC terms: ``q`` = Student-t similarity to learned centres, ``p = (q^2 /
      f) / normaliser`` recomputed on the full data each epoch.
    * block term: expected Gaussian LBM negative log-likelihood (unit
      variance) of the data block ``Y[rows, cols]`` (log-normalised for counts,
      scaled to unit global std) under the soft row and column assignments and
      learned block means (g x m). It ties the two partitions: a row cluster
      must be homogeneous on every column cluster, and conversely.
    * alignment: symmetric InfoNCE (CLIP) between a view's embedding and the
      primary embedding of the same row, over the rows of the batch that have
      the view. Off by default (``alignment_weight=0``): on CITE-seq CBMC
      (3000-cell subsample) it lowered the ARI from 0.49 (fusion alone) to
      0.38-0.40, as instance-level contrast spreads cells of one type apart.
      The fused embedding fed to the head is the mean of the embeddings
      available for the row (primary + each view it has).

    Training: ``pretrain_epochs`` of reconstruction (+ alignment), k-means on
    the fused embeddings to place the centres and initialise the block
    means, then up to ``epochs`` of the full objective, stopping early when
    less than ``tol`` of the row labels and of the column labels change.

    **Single-cell defaults** (one configuration for every data set; pass the
    raw counts, cells as rows, nothing else):

    * ``likelihood="auto"``: non-negative integer X -> ``"nb"``, anything
      else (log-normalised, scaled) -> ``"gaussian"``; the choice is in
      ``likelihood_``. Under a count likelihood the encoder reads
      ``log1p(x_i / s_i)`` with size factor ``s_i = l_i / median(l)``,
      standardised per gene and clipped at 10 (scanpy's ``normalize_total``,
      ``log1p``, ``scale``; see ``feature_scaling``). Counts with NaN,
      negative or non-integer values are refused with a ``ValueError``.
    * gene selection: under a count likelihood and when X has more than
      ``n_top_genes`` columns, the cell encoder and the count decoder see the
      ``n_top_genes`` highly variable genes of scanpy's ``seurat_v3`` rule on
      the counts (``selected_features_``); the gene side and the block term
      keep every gene, so every gene gets a cluster.
    * cells with zero counts (on the modelled genes) are left out of
      training with a warning; they are labelled from their embedding and
      listed in ``zero_count_rows_``.
    * ``n_row_clusters=None``: after pretraining, the number of cell clusters
      is the number of leiden communities (resolution 1, scanpy's default) of
      the symmetric 15-nearest-neighbour graph of the pretrained row
      embedding; recorded in ``n_row_clusters_`` and
      ``n_row_clusters_estimation_``. No label is read. Like leiden at its
      default resolution, it tends to split large populations.
    * ``pretrain_epochs=40``: the reconstruction loss gains less than 1 % per
      10 further epochs after about 32 epochs on 10X PBMC and on
      pbmc68k_reduced (``benchmarks/deep_accuracy.py`` notes); training then
      stops on label change.

    Parameters
    ----------
    n_row_clusters : int or None, default=None
        Number of row (cell) clusters; ``None`` estimates it (see above).
    n_col_clusters : int, default=2
    latent_dim : int, default=32
        Size of the shared latent space (rows, columns and views).
    hidden : tuple of int, default=(256, 64)
        Encoder widths for X's rows and columns; decoders mirror them.
    pretrain_epochs : int, default=40
    epochs : int, default=50
        Maximum joint-training epochs.
    batch_size : int, default=256
        Rows per step; columns are split into as many batches as there are
        row batches, so each epoch visits every row and every column once.
    lr : float, default=1e-3
        Adam learning rate.
    likelihood : {"auto", "gaussian", "nb", "zinb"}, default="auto"
        Row reconstruction likelihood; ``"nb"``/``"zinb"`` need raw counts;
        ``"auto"`` picks ``"nb"`` for non-negative integers, else ``"gaussian"``.
    input_noise : float or "auto", default="auto"
        Standard deviation of the Gaussian noise added to the standardised
        row input for the reconstruction path; ``"auto"``: 1.5 under a count
        likelihood, 0 under ``"gaussian"``.
    n_top_genes : int or None, default=2000
        Columns the row side models under a count likelihood (highly
        variable, ``seurat_v3``); ``None`` keeps every column.
    feature_scaling : {"per_feature", "shared"}, default="per_feature"
        How the row encoder's input is scaled after centring each column: by
        the column's own standard deviation (``"per_feature"``, scanpy's
        ``scale``), or every column by one scale, the root mean square of the
        standard deviations of the columns it reads (``"shared"``: genes
        keep their relative variance, as in a PCA of log-normalised counts;
        MMDC's choice for counts). Measured with true k (ARI, mean ± std
        over 5 seeds), first with the earlier input noise 2.5: on two count
        simulators without real labels (``python -m
        benchmarks.deep_simulated``) shared scaling won, 0.621 ± 0.090 and
        0.715 ± 0.169 against 0.470 ± 0.115 and 0.643 ± 0.186; on the real
        sets of ``benchmarks/deep_accuracy.py`` it gained on pbmc68k_reduced
        (0.588 ± 0.012 against 0.522 ± 0.070) but lost on 10X PBMC (0.744
        against 0.756) and CITE-seq CBMC (RNA 0.509 against 0.546, with the
        protein view 0.514 against 0.602), so the default stayed per feature.
        With the input noise of 1.5 it still wins on the three simulators
        (0.698, 0.764 and 0.500 against 0.633, 0.731 and 0.355) and loses on
        the real sets: pbmc68k_reduced 0.557 ± 0.047 against 0.583 ± 0.009,
        10X PBMC 0.738 ± 0.005 against 0.747 ± 0.008, CBMC with the protein
        view 0.551 ± 0.026 against 0.590 ± 0.015.
    reconstruction_weight, cluster_weight, block_weight, alignment_weight : float
        Loss weights (defaults 1.0, 0.1, 0.1, 0.0).
    temperature : float, default=0.1
        Temperature of the contrastive alignment.
    alpha : float, default=1.0
        Student-t degrees of freedom.
    max_col_input : int, default=2048
        Rows read by the column encoder.
    tol : float, default=1e-3
        Early stopping threshold on the fraction of changed labels.
    n_init : int, default=10
        k-means restarts for the centre initialisation (leiden bisected to
        k centres was measured instead and did not gain; README changelog).
    device : str, default="auto"
        ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``, ``"cuda:N"`` or ``"mps"``.
        On an accelerator the prepared matrix (dense float32), the count
        target and the views are copied to the device once per fit and every
        mini-batch is built there (no per-batch host copy of data), when they
        take at most half of the device's free memory; otherwise batches are
        built on the host, as on the CPU.
    random_state : int or None
        Same value, same result on CPU.
    verbose : bool, default=True
        tqdm progress bar.

    Attributes
    ----------
    row_labels_, column_labels_ : ndarray of int
    row_embedding_ : ndarray, shape (n_rows, latent_dim)
        Fused row embeddings.
    column_embedding_ : ndarray, shape (n_cols, latent_dim)
    row_soft_assignments_, column_soft_assignments_ : ndarray
        Student-t ``q`` for rows (n_rows, g) and columns (n_cols, m).
    row_cluster_centers_, column_cluster_centers_ : ndarray
    block_means_ : ndarray, shape (g, m)
        Block means of the LBM head on the scaled data.
    history_ : dict of lists
        Per epoch: ``phase``, ``epoch``, ``loss`` (the weighted total), every
        loss term (``row_reconstruction``, ``col_clustering``, ``block``,
        ``row_alignment:<view>``, ...) and, in training, the fractions of
        changed labels ``row_label_change`` and ``col_label_change``
        (``pd.DataFrame(model.history_)``; :func:`coclust_deep.pl.convergence`
        draws it). Each term is weighted by its kind (reconstruction,
        clustering, block, alignment), whatever the view names.
    view_contributions_ : dict
        ``{"rows": {name: {...}}, "columns": {...}}``: per extra view, its
        ``observed_fraction`` (share of rows with the view) and
        ``label_change_without_view``, the fraction of labels that change when
        the view is left out of the fused embedding.
    column_anchors_ : ndarray of int
        Rows read by the column encoder.
    n_epochs_ : dict
        Completed epochs per phase (``"pretrain"``, ``"train"``).
    interrupted_ : bool
        True when KeyboardInterrupt stopped fit; the model then holds the
        weights after the last completed epoch, and ``fit(X, ...,
        resume=True)`` continues from there.
    likelihood_ : str
        The likelihood used (what ``"auto"`` chose).
    input_noise_ : float
    selected_features_ : ndarray of bool, shape (n_cols,)
        Columns read by the row encoder and decoder.
    zero_count_rows_ : ndarray of int
        Rows without counts, left out of training (count likelihoods).
    n_row_clusters_ : int
        Number of row clusters used (given or estimated).
    n_row_clusters_estimation_ : dict or None
        How ``n_row_clusters_`` was estimated (method, resolution,
        n_neighbors, n_clusters); ``None`` when given.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names seen by fit (DataFrame input or ``feature_names``).

    Examples
    --------
    >>> from coclust_deep.datasets import make_lbm
    >>> from coclust_deep.deep import DeepCoclustering
    >>> X, rows, cols = make_lbm(150, 60, 3, 2, family="gaussian", signal=1.0, random_state=0)
    >>> model = DeepCoclustering(3, 2, pretrain_epochs=10, epochs=10, random_state=0, verbose=False)
    >>> model = model.fit(X)
    >>> model.row_labels_.shape, model.column_labels_.shape, model.block_means_.shape
    ((150,), (60,), (3, 2))
    """

    _fitted_attributes = (
        "row_labels_", "column_labels_", "row_embedding_", "column_embedding_",
        "row_soft_assignments_", "column_soft_assignments_", "row_cluster_centers_",
        "column_cluster_centers_", "block_means_", "history_", "view_contributions_",
        "column_anchors_", "n_epochs_", "interrupted_", "preprocessing_", "likelihood_",
        "input_noise_", "selected_features_", "zero_count_rows_", "n_row_clusters_",
        "n_row_clusters_estimation_",
    )
    _likelihoods = ("auto", *LIKELIHOODS)

    def __init__(self, n_row_clusters=None, n_col_clusters=2, *, latent_dim=32, hidden=(256, 64),
                 pretrain_epochs=40, epochs=50, batch_size=256, lr=1e-3, likelihood="auto",
                 input_noise="auto", n_top_genes=N_TOP_GENES, feature_scaling="per_feature",
                 reconstruction_weight=1.0, cluster_weight=0.1, block_weight=0.1, alignment_weight=0.0,
                 temperature=0.1, alpha=1.0, max_col_input=2048, tol=1e-3, n_init=10, device="auto",
                 random_state=None, verbose=True):
        self.n_row_clusters = n_row_clusters
        self.n_col_clusters = n_col_clusters
        self.latent_dim = latent_dim
        self.hidden = hidden
        self.pretrain_epochs = pretrain_epochs
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.likelihood = likelihood
        self.input_noise = input_noise
        self.n_top_genes = n_top_genes
        self.feature_scaling = feature_scaling
        self.reconstruction_weight = reconstruction_weight
        self.cluster_weight = cluster_weight
        self.block_weight = block_weight
        self.alignment_weight = alignment_weight
        self.temperature = temperature
        self.alpha = alpha
        self.max_col_input = max_col_input
        self.tol = tol
        self.n_init = n_init
        self.device = device
        self.random_state = random_state
        self.verbose = verbose

    def _build_module(self, config):
        return CoclusteringModule(**config)

    def _check_weights(self):
        for name in ("reconstruction_weight", "cluster_weight", "block_weight", "alignment_weight"):
            check_nonneg_float(getattr(self, name), name)
        if not (isinstance(self.temperature, numbers.Real) and self.temperature > 0):
            raise ValueError(f"temperature must be a positive number, got {self.temperature!r}.")
        check_positive_int(self.max_col_input, "max_col_input", minimum=2)
        if self.n_top_genes is not None:
            check_positive_int(self.n_top_genes, "n_top_genes")
        check_choice(self.feature_scaling, "feature_scaling", FEATURE_SCALING)
        noise = self.input_noise
        if not (noise == "auto" or (isinstance(noise, numbers.Real) and not isinstance(noise, bool)
                                    and np.isfinite(noise) and noise >= 0)):
            raise ValueError(f"input_noise must be 'auto' or a non-negative number, got {noise!r}.")

    def fit(self, X, y=None, *, row_views=None, col_views=None, row_view_masks=None, col_view_masks=None,
            resume=False, feature_names=None):
        """Co-cluster ``X`` (dense or sparse, n_rows x n_cols), optionally with extra views.

        Parameters
        ----------
        X : array-like, DataFrame or sparse matrix of shape (n_rows, n_cols)
        y : ignored
        row_views : dict of {str: array of shape (n_rows, p)}, optional
            Extra embeddings of the rows (image or text features, protein
            counts, ...). Standardised per feature internally; transform
            counts first (e.g. log1p or CLR).
        col_views : dict of {str: array of shape (n_cols, p)}, optional
            Extra embeddings of the columns.
        row_view_masks, col_view_masks : dict of {str: bool array}, optional
            True where the row (column) has the view; missing entries may
            hold NaN. Default: every entry observed.
        resume : bool, default=False
            Continue the previous fit of this object from its last completed
            epoch (after a KeyboardInterrupt, or with more ``epochs``); X, the
            views and every parameter except ``epochs``, ``pretrain_epochs``,
            ``tol`` and ``verbose`` must be unchanged.
        feature_names : sequence of str, optional
            Names of X's columns (a DataFrame's columns are used otherwise),
            stored in ``feature_names_in_``.

        Returns
        -------
        self
        """
        hidden, device = self._check_common()
        self._check_pretraining()
        self._check_weights()
        seed = self._fit_seed(resume)
        rng = np.random.default_rng(seed)
        checked = check_matrix(X, allow_gpu=False)
        likelihood = resolve_likelihood(checked, self.likelihood)
        data = MatrixData(checked, likelihood, max_col_input=int(self.max_col_input), rng=rng,
                          n_top_genes=self.n_top_genes, feature_scaling=self.feature_scaling)
        if self.n_row_clusters is None:
            g = 0  # placeholder: the row head is sized once k is estimated after pretraining
        else:
            g = check_n_clusters(self.n_row_clusters, "n_row_clusters", data.n_rows, "rows")
        m = check_n_clusters(self.n_col_clusters, "n_col_clusters", data.n_cols, "columns")
        train_rows = self._training_rows(data)
        if train_rows.size < g:
            raise ValueError(f"n_row_clusters={g} but only {train_rows.size} rows of X have counts (on the modelled "
                             "columns); pass at most that many clusters, or the raw counts of more cells.")
        row_v = check_views(row_views, row_view_masks, data.n_rows, axis="rows", kind="row")
        col_v = check_views(col_views, col_view_masks, data.n_cols, axis="columns", kind="col")
        self._record_features(X, feature_names)
        self.preprocessing_ = data.stats
        self.column_anchors_ = data.column_anchors
        self.likelihood_ = likelihood
        self.input_noise_ = float((0.0 if likelihood == "gaussian" else _COUNT_INPUT_NOISE)
                                  if self.input_noise == "auto" else self.input_noise)
        self.selected_features_ = np.zeros(data.n_cols, dtype=bool)
        self.selected_features_[data.features] = True
        if not resume:
            self.n_row_clusters_ = g
            self.n_row_clusters_estimation_ = None
        elif g == 0:  # back to the row head the checkpoint holds (sized 0 while still pretraining)
            self._resize_row_head(self._training_state.checkpoint.module["rows.head.centres"].shape[0])
        common = dict(hidden=hidden, latent_dim=int(self.latent_dim), alpha=float(self.alpha))
        config = {
            "row_kwargs": dict(n_input=data.n_row_features, n_clusters=g, likelihood=likelihood,
                               view_dims={k: v[0].shape[1] for k, v in row_v.items()}, **common),
            "column_kwargs": dict(n_input=data.column_input.shape[1], n_clusters=m, likelihood="gaussian",
                                  view_dims={k: v[0].shape[1] for k, v in col_v.items()}, **common),
        }
        views = [a for v in (row_v, col_v) for name in sorted(v) for a in v[name]]
        digest = fingerprint(data.X, *views)
        data, row_v, col_v = on_device(data, row_v, col_v, device)  # on a GPU: batches built there
        self._run_plan(config, self._phases(data, row_v, col_v, seed, train_rows), seed=seed, device=device,
                       rng=rng, fingerprint=digest, resume=resume,
                       finalize=lambda plan: self._finalize(data, row_v, col_v, seed, plan, train_rows))
        return self

    def _training_rows(self, data):
        """Rows the losses see: under a count likelihood, those with counts (warn about the others)."""
        if data.likelihood == "gaussian":
            self.zero_count_rows_ = np.zeros(0, dtype=np.int64)
            return np.arange(data.n_rows)
        empty = data.count_library <= 0
        self.zero_count_rows_ = np.flatnonzero(empty).astype(np.int64)
        if empty.all():
            raise ValueError("every row of X has zero counts (on the modelled columns); there is nothing to "
                             "learn. Pass the raw counts of the cells.")
        if empty.any():
            warnings.warn(f"{int(empty.sum())} row(s) of X have zero counts (on the modelled columns), e.g. rows "
                          f"{self.zero_count_rows_[:5].tolist()}; they are left out of training and labelled "
                          "from their embedding (indices in zero_count_rows_). Filter them out first "
                          "(sc.pp.filter_cells(adata, min_counts=1)) to silence this.", UserWarning, stacklevel=3)
        return np.flatnonzero(~empty)

    # -- number of row clusters ----------------------------------------------------------------
    def _resize_row_head(self, k):
        """Replace the row head's centres and the block means by (untrained) ones for ``k`` row clusters."""
        module = self.module_
        head = module.rows.head
        module.rows.head = StudentTHead(k, head.centres.shape[1], head.alpha).to(head.centres.device)
        m = module.block_means.shape[1]
        module.block_means = torch.nn.Parameter(torch.zeros(k, m, device=module.block_means.device))

    def _ensure_row_head(self, data, row_v, col_v, seed, train_rows):
        """Estimate k on the pretrained embedding and size the row head, when ``n_row_clusters=None``."""
        if self.module_.rows.head.centres.shape[0] > 0:
            return
        z_rows = self._embed_side(self.module_.rows, lambda i: self._row_batch(data, row_v, i), data.n_rows)
        k, how = leiden_n_clusters(z_rows[train_rows], seed=seed)
        self.n_row_clusters_, self.n_row_clusters_estimation_ = k, how
        self._resize_row_head(k)

    # -- batches -------------------------------------------------------------------------------
    @staticmethod
    def _with_views(batch, views, idx):
        batch["views"] = {name: arr[idx] for name, (arr, _) in views.items()}
        batch["masks"] = {name: mask[idx] for name, (_, mask) in views.items()}
        return batch

    def _row_batch(self, data, views, idx):
        return self._with_views(data.rows(idx), views, idx)

    def _column_batch(self, data, views, idx):
        return self._with_views(data.columns(idx), views, idx)

    def _steps(self, data, rng, train_rows):
        n_steps = max(1, int(np.ceil(len(train_rows) / self.batch_size)))
        row_parts = np.array_split(train_rows[rng.permutation(len(train_rows))], n_steps)
        col_parts = np.array_split(rng.permutation(data.n_cols), min(n_steps, data.n_cols))
        return [(r, col_parts[i % len(col_parts)]) for i, r in enumerate(row_parts)]

    # -- training ------------------------------------------------------------------------------
    def _phases(self, data, row_v, col_v, seed, train_rows):
        weights = {"reconstruction": self.reconstruction_weight, "clustering": self.cluster_weight,
                   "block": self.block_weight, "alignment": self.alignment_weight}

        def pretrain(epoch):
            return self._epoch(epoch, data, row_v, col_v, train_rows)

        def train_optimizer(module):
            self._ensure_row_head(data, row_v, col_v, seed, train_rows)
            return torch.optim.Adam(module.parameters(), lr=self.lr)

        def train(epoch):
            q_rows, q_cols = self._soft_assign(data, row_v, col_v)
            labels = {"row": q_rows.argmax(1), "col": q_cols.argmax(1)}
            previous = epoch.state.setdefault("labels", {})
            change = {k: (1.0 if k not in previous else float(np.mean(v != previous[k])))
                      for k, v in labels.items()}
            previous.update(labels)
            if epoch.index > 0 and max(change.values()) < self.tol:
                return None
            targets = tuple(target_distribution(torch.from_numpy(q)).float().to(epoch.device)  # once per epoch
                            for q in (q_rows, q_cols))
            losses = self._epoch(epoch, data, row_v, col_v, train_rows, targets)
            return EpochRecord(losses, metrics={"row_label_change": change["row"],
                                                "col_label_change": change["col"]})

        return [Phase("pretrain", self.pretrain_epochs, pretrain, weights=weights),
                Phase("train", self.epochs, train, weights=weights, optimizer=train_optimizer,
                      setup=lambda: self._init_heads(data, row_v, col_v, seed, train_rows))]

    def _epoch(self, epoch, data, row_v, col_v, train_rows, targets=None):
        """One pass over the rows (and as many column batches), without targets in pretraining."""
        module, device = epoch.module, epoch.device
        module.train()
        for row_idx, col_idx in self._steps(data, epoch.rng, train_rows):
            rb = to_tensors(self._row_batch(data, row_v, row_idx), device)
            cb = to_tensors(self._column_batch(data, col_v, col_idx), device)
            y_block = rb["block"][:, torch.as_tensor(col_idx, device=device)]
            kwargs = {"temperature": float(self.temperature), "input_noise": self.input_noise_}
            if targets is not None:
                kwargs["row_target"] = torch.as_tensor(targets[0][row_idx], device=device)
                kwargs["col_target"] = torch.as_tensor(targets[1][col_idx], device=device)
            epoch.update(module.loss(rb, cb, y_block, **kwargs), len(row_idx))
        return epoch.mean()

    # -- inference -----------------------------------------------------------------------------
    def _embed_side(self, side, make_batch, n, drop_view=None):
        side.eval()
        return encode_in_chunks(n, make_batch, lambda batch: side.encode(batch, drop_view=drop_view)[0],
                                self.device_)

    def _embeddings(self, data, row_v, col_v):
        rows = self._embed_side(self.module_.rows, lambda i: self._row_batch(data, row_v, i), data.n_rows)
        cols = self._embed_side(self.module_.columns, lambda i: self._column_batch(data, col_v, i),
                                data.n_cols)
        return rows, cols

    @torch.inference_mode()
    def _head(self, side, z):
        return side.head(torch.as_tensor(z, device=self.device_)).cpu().numpy().astype(np.float64)

    def _soft_assign(self, data, row_v, col_v):
        z_rows, z_cols = self._embeddings(data, row_v, col_v)
        return self._head(self.module_.rows, z_rows), self._head(self.module_.columns, z_cols)

    def _init_heads(self, data, row_v, col_v, seed, train_rows):
        z_rows, z_cols = self._embeddings(data, row_v, col_v)
        labels = []
        for side, z, fit_on in ((self.module_.rows, z_rows, train_rows), (self.module_.columns, z_cols, None)):
            km = KMeans(side.head.centres.shape[0], n_init=self.n_init, random_state=seed)
            km.fit(z if fit_on is None else z[fit_on])
            with torch.no_grad():
                side.head.centres.copy_(torch.as_tensor(km.cluster_centers_, dtype=torch.float32))
            labels.append(km.predict(z).astype(np.int64))
        means = _block_means(data, *labels, *self.module_.block_means.shape)
        with torch.no_grad():
            self.module_.block_means.copy_(torch.as_tensor(means, dtype=torch.float32))

    def _finalize(self, data, row_v, col_v, seed, plan, train_rows):
        if not plan.started("train"):  # interrupted before the heads were placed
            self._ensure_row_head(data, row_v, col_v, seed, train_rows)
            self._init_heads(data, row_v, col_v, seed, train_rows)
        self._module_config = copy.deepcopy(self._module_config)  # saved with the (estimated) k
        self._module_config["row_kwargs"]["n_clusters"] = int(self.module_.rows.head.centres.shape[0])
        module = self.module_
        self.row_embedding_, self.column_embedding_ = self._embeddings(data, row_v, col_v)
        self.row_soft_assignments_ = self._head(module.rows, self.row_embedding_)
        self.column_soft_assignments_ = self._head(module.columns, self.column_embedding_)
        self.row_labels_ = self.row_soft_assignments_.argmax(1).astype(np.int64)
        self.column_labels_ = self.column_soft_assignments_.argmax(1).astype(np.int64)
        self.row_cluster_centers_ = module.rows.head.centres.detach().cpu().numpy().copy()
        self.column_cluster_centers_ = module.columns.head.centres.detach().cpu().numpy().copy()
        self.block_means_ = module.block_means.detach().cpu().numpy().copy()
        self.view_contributions_ = {
            "rows": self._contributions(module.rows, lambda i: self._row_batch(data, row_v, i),
                                        data.n_rows, self.row_labels_, row_v),
            "columns": self._contributions(module.columns, lambda i: self._column_batch(data, col_v, i),
                                           data.n_cols, self.column_labels_, col_v),
        }

    def _contributions(self, side, make_batch, n, labels, views):
        out = {}
        for name in side.view_names:
            z = self._embed_side(side, make_batch, n, drop_view=name)
            without = self._head(side, z).argmax(1)
            out[name] = {"observed_fraction": float(views[name][1].mean()),
                         "label_change_without_view": float(np.mean(without != labels))}
        return out


def _block_means(data, row_labels, col_labels, g, m):
    """Mean of the scaled data in each (row cluster, column cluster) block; 0 for empty blocks."""
    n, d = len(row_labels), len(col_labels)
    S = sp.csr_matrix((np.ones(n), (row_labels, np.arange(n))), shape=(g, n))
    T = sp.csr_matrix((np.ones(d), (np.arange(d), col_labels)), shape=(d, m))
    YT = data.Y @ T
    sums = S @ YT
    sums = sums.toarray() if sp.issparse(sums) else np.asarray(sums)
    sizes = np.bincount(row_labels, minlength=g)[:, None] * np.bincount(col_labels, minlength=m)[None, :]
    means = np.divide(sums, sizes, out=np.zeros((g, m)), where=sizes > 0)
    return means / data.stats["y_scale"]
