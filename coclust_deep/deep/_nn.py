"""Reusable torch building blocks: MLPs, Student-t heads, likelihoods, losses.

Nothing here knows about AnnData, labels or training loops; the modules in
``_module.py`` assemble these pieces and the user classes train them.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

_EPS = 1e-8


def mlp(n_in, hidden, n_out, *, last_activation=False):
    """``n_in -> hidden[0] -> ... -> n_out`` with ReLU between layers.

    No batch norm: the same network embeds full datasets at inference and
    mini-batches in training, and without it the two agree exactly.
    """
    sizes = [int(n_in), *[int(h) for h in hidden], int(n_out)]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or last_activation:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class GaussianDecoder(nn.Module):
    """Latent -> reconstructed features; negative log-likelihood = mean squared error."""

    def __init__(self, latent_dim, hidden, n_out):
        super().__init__()
        self.net = mlp(latent_dim, tuple(reversed(hidden)), n_out)

    def forward(self, z, target, library=None):
        return F.mse_loss(self.net(z), target)


class CountDecoder(nn.Module):
    """Latent -> negative binomial (optionally zero-inflated) parameters, scVI-style.

    The mean is ``library * softmax(h)``: the network models composition, the
    observed library size carries sequencing depth. Dispersion is one learned
    value per feature.
    """

    def __init__(self, latent_dim, hidden, n_out, *, zero_inflated=False):
        super().__init__()
        hidden = tuple(reversed(hidden))
        self.body = mlp(latent_dim, hidden[:-1], hidden[-1], last_activation=True) if hidden else nn.Identity()
        width = hidden[-1] if hidden else latent_dim
        self.scale = nn.Linear(width, n_out)
        self.log_theta = nn.Parameter(torch.zeros(n_out))
        self.dropout = nn.Linear(width, n_out) if zero_inflated else None

    def forward(self, z, target, library):
        h = self.body(z)
        mu = library[:, None] * torch.softmax(self.scale(h), dim=1)
        theta = torch.exp(self.log_theta).clamp(1e-4, 1e4)
        if self.dropout is None:
            return negative_binomial_nll(target, mu, theta)
        return zinb_nll(target, mu, theta, self.dropout(h))


def negative_binomial_nll(x, mu, theta):
    """Mean negative log-likelihood of counts ``x`` under NB(mean ``mu``, inverse dispersion ``theta``)."""
    log_theta_mu = torch.log(theta + mu + _EPS)
    ll = (
        theta * (torch.log(theta + _EPS) - log_theta_mu)
        + x * (torch.log(mu + _EPS) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
    )
    return -ll.mean()


def zinb_nll(x, mu, theta, pi_logits):
    """Mean negative log-likelihood under a zero-inflated NB; ``pi_logits`` are dropout logits."""
    softplus_pi = F.softplus(-pi_logits)
    log_theta_eps = torch.log(theta + _EPS)
    log_theta_mu = torch.log(theta + mu + _EPS)
    pi_theta_log = -pi_logits + theta * (log_theta_eps - log_theta_mu)
    case_zero = F.softplus(pi_theta_log) - softplus_pi
    case_non_zero = (
        -softplus_pi
        + pi_theta_log
        + x * (torch.log(mu + _EPS) - log_theta_mu)
        + torch.lgamma(x + theta)
        - torch.lgamma(theta)
        - torch.lgamma(x + 1)
    )
    ll = torch.where(x < _EPS, case_zero, case_non_zero)
    return -ll.mean()


class StudentTHead(nn.Module):
    """DEC soft assignment: ``q_ik`` proportional to ``(1 + |z_i - mu_k|^2 / alpha)^(-(alpha+1)/2)``."""

    def __init__(self, n_clusters, latent_dim, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)
        self.centres = nn.Parameter(torch.zeros(int(n_clusters), int(latent_dim)))

    def forward(self, z):
        dist2 = torch.cdist(z, self.centres).pow(2)
        # log-space then softmax: no underflow for far-away points
        logits = -(self.alpha + 1.0) / 2.0 * torch.log1p(dist2 / self.alpha)
        return torch.softmax(logits, dim=1)


def target_distribution(q):
    """DEC target ``p_ik = (q_ik^2 / f_k) / sum_k' (q_ik'^2 / f_k')`` with ``f_k = sum_i q_ik``."""
    weight = q.pow(2) / q.sum(dim=0).clamp_min(_EPS)
    return weight / weight.sum(dim=1, keepdim=True)


def kl_divergence(p, q):
    """``KL(P || Q)`` summed over clusters, averaged over rows."""
    return (p * (torch.log(p + _EPS) - torch.log(q + _EPS))).sum(dim=1).mean()


def info_nce(za, zb, temperature):
    """Symmetric CLIP loss: row i of ``za`` must pick row i of ``zb`` among the batch, and back."""
    za = F.normalize(za, dim=1)
    zb = F.normalize(zb, dim=1)
    logits = za @ zb.T / temperature
    target = torch.arange(za.shape[0], device=za.device)
    return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


def gaussian_block_loss(y, s, t, means):
    """Gaussian LBM negative log-likelihood (unit variance, constants dropped), per entry.

    ``sum_ij sum_kl s_ik t_jl (y_ij - means_kl)^2 / (n_rows * n_cols)`` in
    matrix form: ``sum y^2 - 2 <means, S^T Y T> + <means^2, s_. t_.^T>``, so no
    ``n x d x g x m`` temporary is built.
    """
    n, d = y.shape
    sxt = s.T @ y @ t
    sizes = s.sum(dim=0)[:, None] * t.sum(dim=0)[None, :]
    total = y.pow(2).sum() - 2.0 * (means * sxt).sum() + (means.pow(2) * sizes).sum()
    return total / (n * d)



# --- DM2C ---
def leaky_mlp(n_in, hidden, n_out, *, slope=0.2):
    """``n_in -> hidden[0] -> ... -> n_out`` with LeakyReLU between layers (GAN generators and critics).

    LeakyReLU as in the DM2C authors' code: a critic's gradient must not
    vanish where a ReLU unit is off, and the gradient penalty reads it.
    """
    sizes = [int(n_in), *[int(h) for h in hidden], int(n_out)]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.LeakyReLU(slope))
    return nn.Sequential(*layers)


def gradient_penalty(critic, real, fake):
    """WGAN-GP penalty ``E[(|grad critic(x_hat)| - 1)^2]`` on random interpolates of ``real`` and ``fake``.

    Gulrajani et al. (2017). ``real`` and ``fake`` have the same shape; the
    interpolation weights come from torch's global generator. The graph is
    kept (``create_graph``) so that the penalty trains the critic.
    """
    weight = torch.rand(real.shape[0], 1, device=real.device, dtype=real.dtype)
    mixed = (weight * real + (1.0 - weight) * fake).requires_grad_(True)
    grad, = torch.autograd.grad(critic(mixed).sum(), mixed, create_graph=True)
    return (grad.norm(dim=1) - 1.0).pow(2).mean()


def distance_distortion(z, mapped):
    """Mean ``|d(z_i, z_j) / mean d(z) - d(m_i, m_j) / mean d(m)|`` over the pairs of a batch.

    How much a map ``z -> mapped`` distorts the batch's pairwise distances,
    each set scaled by its mean (Benaim & Wolf 2017, "One-sided unsupervised
    domain mapping"); 0 for a similarity transform.
    """
    d_in = torch.cdist(z, z)
    d_out = torch.cdist(mapped, mapped)
    return (d_in / d_in.mean().clamp_min(_EPS) - d_out / d_out.mean().clamp_min(_EPS)).abs().mean()


# --- MMDC / DCEC: convolutional blocks ---

def _conv_out(size, kernel, stride, padding):
    return (size + 2 * padding - kernel) // stride + 1


class ConvBackbone(nn.Module):
    """Small VGG-style image features, as the MMDC authors' ``small_vgg``.

    For each width in ``channels``: 3x3 convolution, batch norm, ReLU, then
    2x2 max-pooling while the feature map is at least 4 pixels on its
    shorter side. The last map is average-pooled to 2x2 and flattened, so
    ``out_features = 4 * channels[-1]`` for any image size (a 32x32 input
    pools 32 -> 16 -> 8 -> 4 -> 2, exactly the authors' network).
    """

    def __init__(self, in_channels, height, width, channels):
        super().__init__()
        layers, c_in = [], int(in_channels)
        for c_out in channels:
            layers += [nn.Conv2d(c_in, int(c_out), 3, padding=1, bias=False), nn.BatchNorm2d(int(c_out)), nn.ReLU()]
            if min(height, width) >= 4:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            c_in = int(c_out)
        layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten()]
        self.net = nn.Sequential(*layers)
        self.out_features = 4 * c_in
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        return self.net(x)


class ConvEncoder(nn.Module):
    """DCEC's convolutional encoder (Guo et al. 2017): strided convolutions, then a linear embedding.

    Layer ``i`` has ``filters[i]`` channels, stride 2, kernel 5 (3 for the
    last) and "same" padding, so each halves the map (rounding up);
    ``map_sizes`` records the sizes for the decoder.
    """

    def __init__(self, image_shape, filters, latent_dim):
        super().__init__()
        channels, height, width = (int(s) for s in image_shape)
        layers, c_in = [], channels
        self.map_sizes = [(height, width)]
        for i, c_out in enumerate(filters):
            kernel = 3 if i == len(filters) - 1 else 5
            layers += [nn.Conv2d(c_in, int(c_out), kernel, stride=2, padding=kernel // 2), nn.ReLU()]
            height, width = _conv_out(height, kernel, 2, kernel // 2), _conv_out(width, kernel, 2, kernel // 2)
            self.map_sizes.append((height, width))
            c_in = int(c_out)
        self.conv = nn.Sequential(*layers, nn.Flatten())
        self.embedding = nn.Linear(c_in * height * width, int(latent_dim))

    def forward(self, x):
        return self.embedding(self.conv(x))


class ConvDecoder(nn.Module):
    """Mirror of :class:`ConvEncoder`: linear, then transposed convolutions back to the exact image size."""

    def __init__(self, image_shape, filters, latent_dim, map_sizes):
        super().__init__()
        channels = int(image_shape[0])
        self.top_shape = (int(filters[-1]), *map_sizes[-1])
        self.dense = nn.Sequential(nn.Linear(int(latent_dim), int(torch.tensor(self.top_shape).prod())), nn.ReLU())
        layers = []
        outs = [*[int(f) for f in filters[:-1]][::-1], channels]
        c_in = int(filters[-1])
        for j, c_out in enumerate(outs):
            i = len(filters) - 1 - j  # the encoder layer this one undoes
            kernel = 3 if i == len(filters) - 1 else 5
            (h_in, w_in), (h_out, w_out) = map_sizes[i + 1], map_sizes[i]
            padding = kernel // 2
            extra = (h_out - ((h_in - 1) * 2 - 2 * padding + kernel), w_out - ((w_in - 1) * 2 - 2 * padding + kernel))
            layers.append(nn.ConvTranspose2d(c_in, c_out, kernel, stride=2, padding=padding, output_padding=extra))
            if j < len(outs) - 1:
                layers.append(nn.ReLU())
            c_in = c_out
        self.deconv = nn.Sequential(*layers)

    def forward(self, z):
        return self.deconv(self.dense(z).reshape(-1, *self.top_shape))
