"""torch ``nn.Module``s for deep (co-)clustering.

They take sizes at construction and tensors (or dicts of tensors) at call
time, and return dicts of loss terms. They know nothing of AnnData, numpy,
labels or training schedules: that lives in ``dec.py`` and ``coclustering.py``.
"""
from __future__ import annotations

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


def make_decoder(likelihood, latent_dim, hidden, n_out):
    if likelihood == "gaussian":
        return GaussianDecoder(latent_dim, hidden, n_out)
    return CountDecoder(latent_dim, hidden, n_out, zero_inflated=likelihood == "zinb")


class DECModule(nn.Module):
    """Autoencoder plus a Student-t clustering head (DEC / IDEC).

    ``loss(batch, target)`` returns ``{"reconstruction", "clustering"}``; the
    caller weighs them (DEC: clustering only; IDEC: reconstruction + gamma *
    clustering).
    """

    def __init__(self, n_input, n_clusters, *, hidden, latent_dim, likelihood, alpha=1.0):
        super().__init__()
        self.encoder = mlp(n_input, hidden, latent_dim)
        self.decoder = make_decoder(likelihood, latent_dim, hidden, n_input)
        self.head = StudentTHead(n_clusters, latent_dim, alpha)

    def embed(self, x):
        return self.encoder(x)

    def reconstruction(self, batch, z):
        return self.decoder(z, batch["target"], batch.get("library"))

    def loss(self, batch, target=None, *, with_reconstruction=True):
        z = self.encoder(batch["input"])
        out = {}
        if with_reconstruction:
            out["reconstruction"] = self.reconstruction(batch, z)
        if target is not None:
            out["clustering"] = kl_divergence(target, self.head(z))
        return out


class SideModule(nn.Module):
    """One side of the matrix (rows or columns): a primary encoder, optional view encoders, one head.

    Every input (the primary profile and each extra view) has its own encoder
    into the same latent space and its own decoder. The fused embedding is the
    mean of the embeddings available for each row (equal weights; learned
    softmax weights collapsed onto one view on CITE-seq data).
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

    def losses(self, batch, parts, temperature):
        """Reconstruction of every input, and CLIP alignment of each view with the primary embedding."""
        out = {"reconstruction": self.decoder(parts["primary"], batch["target"], batch.get("library"))}
        for name in self.view_names:
            mask = batch["masks"][name] > 0
            if int(mask.sum()) < 2:  # contrastive needs at least one negative
                continue
            z_view = parts[name][mask]
            out[f"view_reconstruction:{name}"] = self.view_decoders[name](
                z_view, batch["views"][name][mask])
            out[f"alignment:{name}"] = info_nce(parts["primary"][mask], z_view, temperature)
        return out


class CoclusteringModule(nn.Module):
    """Row side + column side + a Gaussian LBM block term tying both partitions.

    ``block_means`` (g x m) are the block parameters of the LBM head; the
    block loss is the expected Gaussian negative log-likelihood of the
    (scaled) data block under the soft row and column assignments.
    """

    def __init__(self, row_kwargs, col_kwargs):
        super().__init__()
        self.rows = SideModule(**row_kwargs)
        self.cols = SideModule(**col_kwargs)
        self.block_means = nn.Parameter(torch.zeros(row_kwargs["n_clusters"], col_kwargs["n_clusters"]))

    def loss(self, row_batch, col_batch, y_block, *, row_target=None, col_target=None, temperature=0.1):
        """All loss terms for one (row batch, column batch) pair, as a dict of scalars.

        Keys: ``row_reconstruction``, ``col_reconstruction``, per view
        ``row_view_reconstruction:<name>`` / ``row_alignment:<name>`` (and col),
        and when targets are given ``row_clustering``, ``col_clustering`` and
        ``block`` (the block term needs the heads, so it is off in pretraining).
        """
        out = {}
        z_rows, row_parts = self.rows.encode(row_batch)
        z_cols, col_parts = self.cols.encode(col_batch)
        for key, value in self.rows.losses(row_batch, row_parts, temperature).items():
            out["row_" + key] = value
        for key, value in self.cols.losses(col_batch, col_parts, temperature).items():
            out["col_" + key] = value
        if row_target is not None:
            q_rows = self.rows.head(z_rows)
            q_cols = self.cols.head(z_cols)
            out["row_clustering"] = kl_divergence(row_target, q_rows)
            out["col_clustering"] = kl_divergence(col_target, q_cols)
            out["block"] = gaussian_block_loss(y_block, q_rows, q_cols, self.block_means)
        return out
