"""torch modules of MMDC (fixed targets on the unit sphere, auxiliary task) and DCEC (conv autoencoder + DEC head).

Like ``_module.py``: sizes at construction, tensors at call time, a
:class:`~coclust_deep.deep._module.Losses` out; nothing about AnnData,
targets bookkeeping or schedules.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from ._augment import rotations
from ._module import ClusteringAutoencoder, Losses
from ._nn import ConvBackbone, ConvDecoder, ConvEncoder, StudentTHead

AUX_TASKS = ("rotation", "masked_features", "none")


class MMDCModule(nn.Module):
    """Backbone (+ one encoder per extra view) -> fused features -> linear layer -> L2-normalised output.

    Parameters
    ----------
    input_shape : tuple
        ``(C, H, W)`` for images (convolutional backbone) or ``(p,)`` for
        rows of a matrix (MLP backbone).
    target_dim : int
        Size of the output (= the targets' dimension; ``n_clusters`` for one-hot means).
    channels : tuple of int
        Convolution widths (images).
    hidden : tuple of int
        MLP widths (rows); the last is the feature size.
    aux_task : {"rotation", "masked_features", "none"}
        ``"rotation"``: a linear head on the features predicts which of the
        four quarter turns an image went through. ``"masked_features"``: a
        linear head reconstructs the entries hidden by a random mask
        (masked-gene reconstruction).
    view_dims : dict
        ``{name: n_features}`` of the extra views of the rows; each gets an
        MLP encoder (batch norm, as the backbone) into the feature space, and
        the fused features are the mean over the inputs a row has (as in
        ``SideModule``).
    n_pcs : int or None
        Rows of a matrix: the MLP reads the input projected on ``n_pcs`` fixed
        principal axes (:class:`PrincipalProjection`, set by the estimator)
        instead of the input itself. The auxiliary head still predicts the
        input's own entries.
    """

    def __init__(self, input_shape, target_dim, *, channels, hidden, aux_task, view_dims, n_pcs=None):
        super().__init__()
        if aux_task not in AUX_TASKS:
            raise ValueError(f"aux_task must be one of {AUX_TASKS}, got {aux_task!r}.")
        if len(input_shape) == 3:
            self.backbone = ConvBackbone(*input_shape, channels)
            n_features = self.backbone.out_features
        elif n_pcs:
            self.backbone = nn.Sequential(PrincipalProjection(input_shape[0], n_pcs),
                                          _batch_norm_mlp(n_pcs, hidden))
            n_features = int(hidden[-1])
        else:
            self.backbone = _batch_norm_mlp(input_shape[0], hidden)
            n_features = int(hidden[-1])
        self.view_names = list(view_dims)
        view_widths = (min(n_features, 64), n_features)
        self.view_encoders = nn.ModuleDict({name: _batch_norm_mlp(dim, view_widths) for name, dim in view_dims.items()})
        self.top_layer = nn.Linear(n_features, int(target_dim))
        nn.init.normal_(self.top_layer.weight, 0.0, 0.01)  # the authors' initialisation
        nn.init.zeros_(self.top_layer.bias)
        self.aux_task = aux_task
        if aux_task == "rotation":
            self.aux_head = nn.Linear(n_features, 4)
        elif aux_task == "masked_features":
            self.aux_head = nn.Linear(n_features, int(input_shape[0]))
        else:
            self.aux_head = None

    def features(self, x, views=None, masks=None):
        """Fused features: the mean of the backbone's and each available view encoder's output.

        ``masks=None`` (pretraining) reads the backbone alone.
        """
        total = self.backbone(x)
        count = torch.ones_like(total[:, :1])
        for name in self.view_names if masks is not None else ():
            present = masks[name][:, None]
            total = total + present * self.view_encoders[name](views[name])
            count = count + present
        return total / count

    def head(self, features):
        """The L2-normalised outputs of fused features."""
        return F.normalize(self.top_layer(features), dim=1)

    def forward(self, x, views=None, masks=None):
        return self.head(self.features(x, views, masks))

    def clustering_loss(self, x, targets, views=None, masks=None):
        """MSE between the outputs and their assigned targets (kind clustering)."""
        return Losses(clustering={"target_mse": F.mse_loss(self(x, views, masks), targets)})

    def rotation_loss(self, x, views=None, masks=None):
        """Cross-entropy of predicting the quarter turn of each of the four rotations of ``x``."""
        turned, labels = rotations(x)
        if self.view_names:
            views = {name: v.repeat_interleave(4, dim=0) for name, v in views.items()}
            masks = {name: m.repeat_interleave(4, dim=0) for name, m in masks.items()}
        logits = self.aux_head(self.features(turned, views, masks))
        return Losses(auxiliary={"rotation": F.cross_entropy(logits, labels)})

    def masked_loss(self, x_masked, x, mask, views=None, masks=None):
        """MSE of the reconstruction of the masked entries of ``x`` from ``x_masked`` (kind auxiliary)."""
        reconstruction = self.aux_head(self.features(x_masked, views, masks))
        error = ((reconstruction - x) ** 2 * mask).sum() / mask.sum().clamp_min(1.0)
        return Losses(auxiliary={"masked_features": error})


class PrincipalProjection(nn.Module):
    """``x @ axes.T``: a fixed projection on principal axes, a buffer (saved with the module, never trained)."""

    def __init__(self, n_in, n_components):
        super().__init__()
        self.register_buffer("axes", torch.zeros(int(n_components), int(n_in)))

    def forward(self, x):
        return x @ self.axes.T


def _batch_norm_mlp(n_in, widths):
    """``Linear -> BatchNorm -> ReLU`` per width: the MLP counterpart of the authors' conv blocks.

    Batch norm keeps the features of different samples apart from the first
    step (without it, ReLU features share a large common part and every
    output starts in the same cluster); MMDC reads outputs in eval mode, with
    the running statistics, as the authors do.
    """
    layers, previous = [], int(n_in)
    for width in widths:
        layers += [nn.Linear(previous, int(width), bias=False), nn.BatchNorm1d(int(width)), nn.ReLU()]
        previous = int(width)
    return nn.Sequential(*layers)


class DCECModule(ClusteringAutoencoder):
    """Convolutional autoencoder with a Student-t clustering head (DCEC, Guo et al. 2017).

    The DEC/IDEC module with convolutions and an MSE reconstruction, so the
    DEC/IDEC training plan runs it unchanged.
    """

    def __init__(self, image_shape, n_clusters, *, filters, latent_dim, alpha=1.0):
        super().__init__()
        self.encoder = ConvEncoder(image_shape, filters, latent_dim)
        self.decoder = ConvDecoder(image_shape, filters, latent_dim, self.encoder.map_sizes)
        self.head = StudentTHead(n_clusters, latent_dim, alpha)

    def reconstruction(self, z, batch):
        return F.mse_loss(self.decoder(z), batch["target"])
