"""torch module of DM2C (Jiang et al., NeurIPS 2019): two autoencoders, two latent generators, two critics.

Follows the authors' ``code/model.py``: one autoencoder per modality;
generators ``G_AB`` and ``G_BA`` map one latent space into the other;
critic ``D_A`` tells real A latents from ``G_BA(z_b)`` and ``D_B`` real B
latents from ``G_AB(z_a)``. The generator objective adds each
autoencoder's reconstruction, the latent cycle loss
``|z - G_BA(G_AB(z))|_1`` (both ways), the reconstruction of the input
from its cycled latent (as the authors' code does) and the adversarial
terms. The critic objective is separate: the estimator steps it with its
own optimiser.

Like the other modules it knows nothing of numpy, AnnData or schedules:
it takes dicts of tensors (``input``, ``target``, ``library`` for count
likelihoods) and returns :class:`~coclust_deep.deep._module.Losses`.
"""
from __future__ import annotations

import torch
from torch import nn

from ._module import Losses, make_decoder
from ._nn import distance_distortion, gradient_penalty, leaky_mlp, mlp

ADVERSARIAL_OBJECTIVES = ("wgan-gp", "lsgan", "wgan-clip")


class DM2CModule(nn.Module):
    """Autoencoders, cross-modal generators and critics of DM2C.

    Parameters
    ----------
    n_input_a, n_input_b : int
        Features of modality A and B.
    hidden : tuple of int
        Encoder widths (decoders mirror them), the same for both modalities.
    latent_dim : int
        Size of both latent spaces.
    likelihood_a, likelihood_b : {"gaussian", "nb", "zinb"}
    generator_hidden, critic_hidden : tuple of int
        Widths of ``G_AB``/``G_BA`` and of ``D_A``/``D_B`` (LeakyReLU MLPs).
    objective : {"wgan-gp", "lsgan", "wgan-clip"}
        Adversarial game (see :meth:`critic_loss`).
    """

    def __init__(self, n_input_a, n_input_b, *, hidden, latent_dim, likelihood_a, likelihood_b,
                 generator_hidden, critic_hidden, objective):
        super().__init__()
        if objective not in ADVERSARIAL_OBJECTIVES:
            raise ValueError(f"objective must be one of {ADVERSARIAL_OBJECTIVES}, got {objective!r}.")
        self.objective = objective
        self.encoder_a = mlp(n_input_a, hidden, latent_dim)
        self.encoder_b = mlp(n_input_b, hidden, latent_dim)
        self.decoder_a = make_decoder(likelihood_a, latent_dim, hidden, n_input_a)
        self.decoder_b = make_decoder(likelihood_b, latent_dim, hidden, n_input_b)
        self.a_to_b = leaky_mlp(latent_dim, generator_hidden, latent_dim)  # G_AB
        self.b_to_a = leaky_mlp(latent_dim, generator_hidden, latent_dim)  # G_BA
        self.critic_a = leaky_mlp(latent_dim, critic_hidden, 1)  # D_A: real z_a vs G_BA(z_b)
        self.critic_b = leaky_mlp(latent_dim, critic_hidden, 1)  # D_B: real z_b vs G_AB(z_a)
        # each latent space's mean and scale, set after pretraining (set_latent_scale): the generators,
        # critics and cycle loss work on standardised latents, whatever scale each autoencoder settled on
        for side in ("a", "b"):
            self.register_buffer(f"latent_mean_{side}", torch.zeros(latent_dim))
            self.register_buffer(f"latent_std_{side}", torch.ones(latent_dim))

    # -- parameter groups (one optimiser each) ------------------------------------------------------
    def autoencoder_parameters(self):
        for part in (self.encoder_a, self.decoder_a, self.encoder_b, self.decoder_b):
            yield from part.parameters()

    def generator_parameters(self):
        """What the generator step trains: both autoencoders and both generators (the authors' optimizer_G)."""
        yield from self.autoencoder_parameters()
        yield from self.a_to_b.parameters()
        yield from self.b_to_a.parameters()

    def critic_parameters(self):
        yield from self.critic_a.parameters()
        yield from self.critic_b.parameters()

    # -- latents ---------------------------------------------------------------------------------
    def set_latent_scale(self, side, mean, std):
        """Fix the standardisation of latent space ``side`` ("a"/"b") from its embeddings' moments."""
        getattr(self, f"latent_mean_{side}").copy_(torch.as_tensor(mean))
        getattr(self, f"latent_std_{side}").copy_(torch.as_tensor(std).clamp_min(1e-6))

    def latent_a(self, x):
        """Standardised latent of modality-A inputs."""
        return (self.encoder_a(x) - self.latent_mean_a) / self.latent_std_a

    def latent_b(self, x):
        return (self.encoder_b(x) - self.latent_mean_b) / self.latent_std_b

    def embed_a(self, x):
        """Modality-A inputs -> the common space (A's standardised latent space)."""
        return self.latent_a(x)

    def embed_b(self, x):
        """Modality-B inputs -> the common space: ``G_BA(z_b)``."""
        return self.b_to_a(self.latent_b(x))

    def _decode_a(self, z, batch):
        return self.decoder_a(z * self.latent_std_a + self.latent_mean_a, batch["target"], batch.get("library"))

    def _decode_b(self, z, batch):
        return self.decoder_b(z * self.latent_std_b + self.latent_mean_b, batch["target"], batch.get("library"))

    # -- losses ----------------------------------------------------------------------------------
    def reconstruction_losses(self, batch_a, batch_b):
        """Pretraining: each autoencoder's reconstruction likelihood (kind reconstruction)."""
        z_a = self.encoder_a(batch_a["input"])
        z_b = self.encoder_b(batch_b["input"])
        return Losses(reconstruction={
            "reconstruction_a": self.decoder_a(z_a, batch_a["target"], batch_a.get("library")),
            "reconstruction_b": self.decoder_b(z_b, batch_b["target"], batch_b.get("library")),
        })

    def critic_loss(self, z_a, z_b):
        """The critics' objective on (detached) latents, to minimise; ``(loss, monitors)``.

        ``fake_a = G_BA(z_b)`` must look like ``z_a`` to ``D_A``, ``fake_b =
        G_AB(z_a)`` like ``z_b`` to ``D_B``.

        * ``"wgan-gp"``: ``E D(fake) - E D(real) + 10 * gradient penalty``
          per critic (Gulrajani et al. 2017);
        * ``"lsgan"``: ``((D(real) - 1)^2 + D(fake)^2) / 2`` (Mao et al. 2017);
        * ``"wgan-clip"``: ``E D(fake) - E D(real)``; the caller clips the
          critic weights after each step (the authors' setting).

        The monitors are ``wasserstein_a``/``wasserstein_b`` (``E D(real) - E
        D(fake)``, the critic's estimate of the distance between real and
        mapped latents) and, for WGAN-GP, the penalty.
        """
        with torch.no_grad():
            fake_a = self.b_to_a(z_b)
            fake_b = self.a_to_b(z_a)
        total = 0.0
        monitors = {}
        for side, critic, real, fake in (("a", self.critic_a, z_a, fake_a), ("b", self.critic_b, z_b, fake_b)):
            d_real, d_fake = critic(real), critic(fake)
            if self.objective == "lsgan":
                total = total + 0.5 * ((d_real - 1.0).pow(2).mean() + d_fake.pow(2).mean())
            else:
                total = total + d_fake.mean() - d_real.mean()
                if self.objective == "wgan-gp":
                    n = min(real.shape[0], fake.shape[0])
                    penalty = gradient_penalty(critic, real[:n], fake[:n])
                    total = total + 10.0 * penalty
                    monitors[f"gradient_penalty_{side}"] = penalty.item()
            monitors[f"wasserstein_{side}"] = (d_real.mean() - d_fake.mean()).item()
        return total, monitors

    def clip_critics(self, value):
        """Clamp every critic weight to ``[-value, value]`` (WGAN with weight clipping)."""
        with torch.no_grad():
            for param in self.critic_parameters():
                param.clamp_(-value, value)

    def generator_losses(self, batch_a, batch_b, anchors=None):
        """The generator step's terms and the two latents (for the critic step, detached by the caller).

        Terms: ``reconstruction_a``/``_b`` and ``cycle_reconstruction_a``/``_b``
        (the input decoded from its cycled latent; kind reconstruction),
        ``cycle_a``/``cycle_b`` (L1 between a latent and its cycle; kind
        alignment), ``geometry_a``/``geometry_b`` (distortion of the
        batch's pairwise distances by ``G_AB``/``G_BA``; kind auxiliary),
        ``adversarial_a``/``adversarial_b`` (the generators' terms against
        ``D_A``/``D_B``; kind adversarial) and, given ``anchors`` (tensors
        ``centres_a``/``_b``: micro-cluster centres in their own latent
        space, ``targets_a``/``_b``: their targets in the other one,
        ``weights_a``/``_b``: the micro-clusters' shares of samples),
        ``anchor_a``/``anchor_b``, the weighted mean squared distance of
        ``G_AB(centres_a)`` and ``G_BA(centres_b)`` to their targets (kind
        anchor). The adversarial, geometry and anchor terms read detached
        latents: they train the generators, not the encoders.
        """
        z_a = self.latent_a(batch_a["input"])
        z_b = self.latent_b(batch_b["input"])
        fake_b = self.a_to_b(z_a)
        fake_a = self.b_to_a(z_b)
        cycled_a = self.b_to_a(fake_b)
        cycled_b = self.a_to_b(fake_a)
        out = Losses(
            reconstruction={
                "reconstruction_a": self._decode_a(z_a, batch_a),
                "reconstruction_b": self._decode_b(z_b, batch_b),
                "cycle_reconstruction_a": self._decode_a(cycled_a, batch_a),
                "cycle_reconstruction_b": self._decode_b(cycled_b, batch_b),
            },
            alignment={
                "cycle_a": (z_a - cycled_a).abs().mean(),
                "cycle_b": (z_b - cycled_b).abs().mean(),
            },
        )
        # the adversarial terms train the generators only: passed on to the encoders, they pull the
        # latent spaces towards whatever the critics cannot tell apart and wreck them (measured on digits)
        d_fake_a = self.critic_a(self.b_to_a(z_b.detach()))
        d_fake_b = self.critic_b(self.a_to_b(z_a.detach()))
        if self.objective == "lsgan":
            out.add("adversarial", "adversarial_a", 0.5 * (d_fake_a - 1.0).pow(2).mean())
            out.add("adversarial", "adversarial_b", 0.5 * (d_fake_b - 1.0).pow(2).mean())
        else:
            out.add("adversarial", "adversarial_a", -d_fake_a.mean())
            out.add("adversarial", "adversarial_b", -d_fake_b.mean())
        # generators keep the shape of each batch (DistanceGAN): without it they tear clusters apart
        # while matching the marginals
        za, zb = z_a.detach(), z_b.detach()
        out.add("auxiliary", "geometry_a", distance_distortion(za, self.a_to_b(za)))
        out.add("auxiliary", "geometry_b", distance_distortion(zb, self.b_to_a(zb)))
        if anchors is not None:  # micro-cluster centres and their targets in the other space
            for side, generator in (("a", self.a_to_b), ("b", self.b_to_a)):
                gap = (generator(anchors[f"centres_{side}"]) - anchors[f"targets_{side}"]).pow(2).mean(dim=1)
                out.add("anchor", f"anchor_{side}", (anchors[f"weights_{side}"] * gap).sum())
        return out, z_a, z_b
