"""torch modules of Multi-Sub: one subspace-proxy head per concept, and the paper's within/between loss."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._module import Losses


def within_between_loss(u, labels, *, balance=0.5, margin=1.0):
    """Multi-Sub's clustering loss: ``balance * within + (1 - balance) * between``.

    ``within`` is the mean distance between two samples with the same
    pseudo-label, ``between`` the mean hinge ``max(0, margin - distance)``
    over pairs with different labels (Yao, Qian & Hu, 2024, Phase II). The
    distances are computed from ``u`` inside the graph, so the loss has a
    gradient with respect to the encoder (the published code built ``u``
    from numpy copies, which cut it).

    Examples
    --------
    >>> u = torch.tensor([[0.0, 0.0], [0.1, 0.0], [2.0, 0.0]], requires_grad=True)
    >>> loss = within_between_loss(u, torch.tensor([0, 0, 1]))
    >>> round(loss.item(), 4), u.grad is None
    (0.05, True)
    >>> loss.backward(); bool(u.grad.abs().sum() > 0)
    True
    """
    n = u.shape[0]
    # sqrt of a clamped square: cdist's gradient is NaN at distance 0 (a sample with itself)
    dist = (u[:, None, :] - u[None, :, :]).pow(2).sum(-1).clamp_min(1e-12).sqrt()
    same = labels[:, None] == labels[None, :]
    off_diagonal = ~torch.eye(n, dtype=torch.bool, device=u.device)
    within_pairs = same & off_diagonal
    between_pairs = ~same
    zero = u.sum() * 0.0  # keeps the graph when a batch has no pair of a kind
    within = dist[within_pairs].mean() if within_pairs.any() else zero
    between = F.relu(margin - dist[between_pairs]).mean() if between_pairs.any() else zero
    return balance * within + (1.0 - balance) * between


class ConceptHead(nn.Module):
    """One concept: proxies ``Z`` (K, D), the fixed map ``(P0, b0)`` and its learnable copy, the latent factors.

    * ``teacher(x) = P0 x + b0``: the sample's coordinates in the concept's
      space, fixed (the pre-aligned encoder: for gene sets, its expression of
      the concept's genes);
    * ``encode(x) = P x + b``: the sample encoder (the paper's learnable
      projection), initialised at ``(P0, b0)``;
    * latent factor ``p = teacher(x) W + c``, proxy weights
      ``a = softmax(p Zᵀ)``, proxy ``w = a Z``.
    """

    def __init__(self, Z, P0, b0):
        super().__init__()
        Z, P0, b0 = (torch.as_tensor(v, dtype=torch.float32) for v in (Z, P0, b0))
        dim = Z.shape[1]
        self.register_buffer("Z", Z)
        self.register_buffer("P0", P0)
        self.register_buffer("b0", b0)
        self.projection = nn.Linear(P0.shape[1], dim)
        self.latent = nn.Linear(dim, dim)
        with torch.no_grad():
            self.projection.weight.copy_(P0)
            self.projection.bias.copy_(b0)
            self.latent.weight.zero_()  # uniform weights over the proxies at the start
            self.latent.bias.zero_()

    def teacher(self, x):
        return x @ self.P0.T + self.b0

    def encode(self, x):
        return self.projection(x)

    def proxy(self, x):
        """``(a, w)``: the sample's weights over the proxies and its proxy embedding."""
        a = torch.softmax(self.latent(self.teacher(x)) @ self.Z.T, dim=1)
        return a, a @ self.Z

    def similarity(self, e, w):
        """Cosine similarity of the sample embedding plus that of its proxy, to each proxy: (n, K)."""
        return F.normalize(e, dim=1) @ self.Z.T + F.normalize(w, dim=1) @ self.Z.T


class MultiSubModule(nn.Module):
    """One :class:`ConceptHead` per concept, all reading the same standardised samples.

    ``concepts`` maps a concept name to ``{"Z", "P0", "b0", ...}``. The heads
    share nothing, so training them together equals training them apart.
    """

    def __init__(self, concepts):
        super().__init__()
        self.names = list(concepts)
        self.heads = nn.ModuleList([ConceptHead(c["Z"], c["P0"], c["b0"]) for c in concepts.values()])

    def alignment(self, x):
        """Phase I: ``1 - <e/|e|, w>`` per concept (kind alignment).

        ``w = a Z`` is not normalised: with unit proxies this is the paper's
        ``1 - cos(e, w)`` times ``|w|``, equal to it when ``a`` is one-hot. The
        cosine alone is blind to how ``a`` splits between opposite proxies
        (two proxies ``z`` and ``-z`` give ``w`` along ``z`` whatever the
        split), so the latent factors would get no gradient there.
        """
        out = Losses()
        for name, head in zip(self.names, self.heads):
            _, w = head.proxy(x)
            agreement = (F.normalize(head.encode(x), dim=1) * w).sum(dim=1)
            out.add("alignment", f"alignment:{name}", (1.0 - agreement).mean())
        return out

    def clustering(self, x, pseudo_labels, *, balance, margin):
        """Phase II: the within/between loss on ``[e/|e|, w/|w|]`` per concept (kind clustering)."""
        out = Losses()
        for name, head, labels in zip(self.names, self.heads, pseudo_labels):
            _, w = head.proxy(x)
            u = torch.cat([F.normalize(head.encode(x), dim=1), F.normalize(w, dim=1)], dim=1)
            out.add("clustering", f"clustering:{name}", within_between_loss(u, labels, balance=balance, margin=margin))
        return out

    def outputs(self, x):
        """Per concept ``(embedding e, proxy weights a, similarity to each proxy)``."""
        result = []
        for head in self.heads:
            e = head.encode(x)
            a, w = head.proxy(x)
            result.append((e, a, head.similarity(e, w)))
        return result
