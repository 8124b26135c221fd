"""torch ``nn.Module``s for deep (co-)clustering, and the loss object they return.

They take sizes at construction and tensors (or dicts of tensors) at call
time, and return a :class:`Losses`: named loss terms grouped by kind. They
know nothing of AnnData, numpy, labels or training schedules: that lives in
``_train.py`` and the estimators, which weigh the terms by kind.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from ._nn import (
    CountDecoder,
    GaussianDecoder,
    StudentTHead,
    gaussian_block_loss,
    info_nce,
    kl_divergence,
    mlp,
)

LOSS_KINDS = ("reconstruction", "clustering", "block", "alignment", "auxiliary", "adversarial", "anchor")


@dataclass
class Losses:
    """Named loss terms grouped by kind; each kind maps a term name to a value.

    Values are scalar tensors when a module returns them, and floats once a
    training epoch has averaged them. Names are unique across kinds: they are
    the column names of the training history.

    * ``reconstruction``: likelihood of the inputs (X, extra views);
    * ``clustering``: partition objectives (DEC's KL(P||Q), pseudo-label
      cross-entropy, ...);
    * ``block``: latent-block-model terms tying row and column partitions;
    * ``alignment``: agreement between views (contrastive, cycle consistency);
    * ``auxiliary``: self-supervised side tasks (e.g. MMDC's rotation task);
    * ``adversarial``: a generator's terms against a discriminator (DM2C);
      the discriminator's own loss is trained by its own optimiser and
      recorded as a monitor, not a term;
    * ``anchor``: pulls towards targets computed outside the gradient
      (DM2C's Gromov-Wasserstein anchors: micro-cluster centres and their
      partners' centres in the other modality's space).

    Examples
    --------
    >>> losses = Losses(reconstruction={"x": 2.0}, clustering={"kl": 0.5})
    >>> losses.add("alignment", "clip", 1.0)
    >>> losses.total({"reconstruction": 1.0, "clustering": 0.1, "alignment": 0.0})
    2.05
    >>> losses.as_dict()
    {'x': 2.0, 'kl': 0.5, 'clip': 1.0}
    """

    reconstruction: dict = field(default_factory=dict)
    clustering: dict = field(default_factory=dict)
    block: dict = field(default_factory=dict)
    alignment: dict = field(default_factory=dict)
    auxiliary: dict = field(default_factory=dict)
    adversarial: dict = field(default_factory=dict)
    anchor: dict = field(default_factory=dict)

    def __post_init__(self):
        seen = set()
        for kind in LOSS_KINDS:
            for name in getattr(self, kind):
                if name in seen:
                    raise ValueError(f"loss term {name!r} is given under two kinds; names must be unique.")
                seen.add(name)

    def add(self, kind, name, value):
        """Add term ``name`` of ``kind`` (one of :data:`LOSS_KINDS`)."""
        if kind not in LOSS_KINDS:
            raise ValueError(f"unknown loss kind {kind!r}; use one of {LOSS_KINDS}.")
        if any(name in getattr(self, k) for k in LOSS_KINDS):
            raise ValueError(f"loss term {name!r} is already set; names must be unique.")
        getattr(self, kind)[name] = value

    def update(self, other, *, prefix=""):
        """Add every term of ``other`` under the same kind, its name prefixed by ``prefix``."""
        for kind, name, value in other.terms():
            self.add(kind, prefix + name, value)

    def terms(self):
        """``(kind, name, value)`` for every term, kinds in :data:`LOSS_KINDS` order."""
        for kind in LOSS_KINDS:
            for name, value in getattr(self, kind).items():
                yield kind, name, value

    def total(self, weights=None):
        """``sum over terms of weights[kind] * value``; ``weights=None`` weighs every kind 1.

        A kind that has terms but no weight is an error, so that no term is
        dropped silently.
        """
        total = None
        for kind, name, value in self.terms():
            if weights is None:
                weight = 1.0
            elif kind in weights:
                weight = weights[kind]
            else:
                raise KeyError(f"no weight for loss kind {kind!r} (term {name!r}); weights give "
                               f"{sorted(weights)}.")
            total = weight * value if total is None else total + weight * value
        if total is None:
            raise ValueError("no loss terms to add up.")
        return total

    def as_dict(self):
        """``{name: float}`` over every term (the training history's columns)."""
        return {name: value.item() if isinstance(value, torch.Tensor) else float(value)
                for _, name, value in self.terms()}


def make_decoder(likelihood, latent_dim, hidden, n_out):
    if likelihood == "gaussian":
        return GaussianDecoder(latent_dim, hidden, n_out)
    return CountDecoder(latent_dim, hidden, n_out, zero_inflated=likelihood == "zinb")


class ClusteringAutoencoder(nn.Module):
    """An encoder, a decoder and a Student-t clustering head (DEC, IDEC, DCEC).

    ``loss(batch, target)`` returns the ``reconstruction`` term (kind
    reconstruction) and, given a target, the ``clustering`` term (kind
    clustering); the caller weighs the kinds (DEC: clustering only; IDEC:
    reconstruction + gamma * clustering). Subclasses build ``encoder``,
    ``decoder`` and ``head`` and say how the decoder scores a batch.
    """

    def embed(self, x):
        return self.encoder(x)

    def reconstruction(self, z, batch):
        raise NotImplementedError

    def loss(self, batch, target=None, *, with_reconstruction=True):
        z = self.encoder(batch["input"])
        out = Losses()
        if with_reconstruction:
            out.add("reconstruction", "reconstruction", self.reconstruction(z, batch))
        if target is not None:
            out.add("clustering", "clustering", kl_divergence(target, self.head(z)))
        return out


class DECModule(ClusteringAutoencoder):
    """MLP autoencoder with a Gaussian or count likelihood and a Student-t head (DEC / IDEC)."""

    def __init__(self, n_input, n_clusters, *, hidden, latent_dim, likelihood, alpha=1.0):
        super().__init__()
        self.encoder = mlp(n_input, hidden, latent_dim)
        self.decoder = make_decoder(likelihood, latent_dim, hidden, n_input)
        self.head = StudentTHead(n_clusters, latent_dim, alpha)

    def reconstruction(self, z, batch):
        return self.decoder(z, batch["target"], batch.get("library"))


class DeepClusterModule(nn.Module):
    """Encoder plus a linear classifier trained on k-means pseudo-labels (DeepCluster)."""

    def __init__(self, n_input, n_clusters, *, hidden, latent_dim):
        super().__init__()
        self.encoder = mlp(n_input, hidden, latent_dim)
        self.classifier = nn.Linear(latent_dim, n_clusters)

    def embed(self, x):
        return self.encoder(x)

    def loss(self, batch, pseudo_labels):
        logits = self.classifier(self.encoder(batch["input"]))
        return Losses(clustering={"cross_entropy": nn.functional.cross_entropy(logits, pseudo_labels)})


class SideModule(nn.Module):
    """One side of the matrix (rows or columns): a primary encoder, optional view encoders, one head.

    Every input (the primary profile and each extra view) has its own encoder
    into the same latent space and its own decoder. The fused embedding is the
    mean of the embeddings available for each row (equal weights; learned
    softmax weights collapsed onto one view on CITE-seq data). The weights are
    equal in form: an input whose embedding spreads wider weighs more (RNA about
    3x the proteins on CITE-seq CBMC); concatenating embeddings scaled to one
    spread lost there (README changelog).
    """

    def __init__(self, n_input, n_clusters, *, hidden, latent_dim, likelihood, view_dims, alpha=1.0):
        super().__init__()
        self.view_names = list(view_dims)
        self.encoder = mlp(n_input, hidden, latent_dim)
        self.decoder = make_decoder(likelihood, latent_dim, hidden, n_input)
        # views are small (tens of features): the wide layers sized for X would only add parameters
        view_hidden = tuple(h for h in hidden if h <= 4 * max(latent_dim, 16)) or (max(latent_dim, 16),)
        self.view_encoders = nn.ModuleDict(
            {name: mlp(dim, view_hidden, latent_dim) for name, dim in view_dims.items()})
        self.view_decoders = nn.ModuleDict(
            {name: GaussianDecoder(latent_dim, view_hidden, dim) for name, dim in view_dims.items()})
        self.head = StudentTHead(n_clusters, latent_dim, alpha)

    def encode(self, batch, drop_view=None):
        """Per-input embeddings and the fused embedding.

        ``batch`` holds ``input`` and, per view, ``views[name]`` and
        ``masks[name]`` (1 where the row has the view). ``drop_view`` leaves one
        view out of the fusion (used to measure its contribution).
        """
        parts = {"primary": self.encoder(batch["input"])}
        num = parts["primary"]
        den = torch.ones_like(num[:, :1])
        for name in self.view_names:
            parts[name] = self.view_encoders[name](batch["views"][name])
            if name == drop_view:
                continue
            present = batch["masks"][name][:, None]
            num = num + present * parts[name]
            den = den + present
        return num / den, parts

    def losses(self, batch, parts, temperature, *, reconstruct_from=None):
        """Reconstruction of every input, and CLIP alignment of each view with the primary embedding.

        ``reconstruct_from``: the primary embedding the decoder reads (e.g. of a
        noise-corrupted input, for a denoising autoencoder); default ``parts["primary"]``.
        """
        z = parts["primary"] if reconstruct_from is None else reconstruct_from
        out = Losses(reconstruction={"reconstruction": self.decoder(z, batch["target"], batch.get("library"))})
        for name in self.view_names:
            mask = batch["masks"][name] > 0
            if int(mask.sum()) < 2:  # contrastive needs at least one negative
                continue
            z_view = parts[name][mask]
            out.add("reconstruction", f"view_reconstruction:{name}",
                    self.view_decoders[name](z_view, batch["views"][name][mask]))
            out.add("alignment", f"alignment:{name}", info_nce(parts["primary"][mask], z_view, temperature))
        return out


class CoclusteringModule(nn.Module):
    """Row side + column side + a Gaussian LBM block term tying both partitions.

    ``block_means`` (g x m) are the block parameters of the LBM head; the
    block loss is the expected Gaussian negative log-likelihood of the
    (scaled) data block under the soft row and column assignments.
    """

    def __init__(self, row_kwargs, column_kwargs):
        super().__init__()
        self.rows = SideModule(**row_kwargs)
        self.columns = SideModule(**column_kwargs)
        self.block_means = nn.Parameter(torch.zeros(row_kwargs["n_clusters"], column_kwargs["n_clusters"]))

    def loss(self, row_batch, col_batch, y_block, *, row_target=None, col_target=None, temperature=0.1,
             input_noise=0.0):
        """All loss terms for one (row batch, column batch) pair.

        ``input_noise`` > 0 (in training mode): the row decoder reconstructs
        from the embedding of ``input + N(0, input_noise^2)`` (denoising, as in
        scDeepCluster); the clustering and block terms read the clean embedding.

        Terms: ``row_reconstruction``, ``col_reconstruction`` and per view
        ``row_view_reconstruction:<name>`` (kind reconstruction),
        ``row_alignment:<name>`` (kind alignment), the same with ``col_``, and
        when targets are given ``row_clustering``, ``col_clustering`` (kind
        clustering) and ``block`` (kind block; it needs the heads, so it is
        off in pretraining).
        """
        out = Losses()
        noisy = None
        if input_noise > 0 and self.training:
            x = row_batch["input"]
            noisy = self.rows.encoder(x + input_noise * torch.randn_like(x))
        if noisy is not None and row_target is None and not self.rows.view_names:
            row_parts = {"primary": noisy}  # pretraining without views: the clean embedding is not needed
        else:
            z_rows, row_parts = self.rows.encode(row_batch)
        z_cols, col_parts = self.columns.encode(col_batch)
        out.update(self.rows.losses(row_batch, row_parts, temperature, reconstruct_from=noisy), prefix="row_")
        out.update(self.columns.losses(col_batch, col_parts, temperature), prefix="col_")
        if row_target is not None:
            q_rows = self.rows.head(z_rows)
            q_cols = self.columns.head(z_cols)
            out.add("clustering", "row_clustering", kl_divergence(row_target, q_rows))
            out.add("clustering", "col_clustering", kl_divergence(col_target, q_cols))
            out.add("block", "block", gaussian_block_loss(y_block, q_rows, q_cols, self.block_means))
        return out
