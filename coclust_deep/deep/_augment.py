"""Small, explicit data augmentations in torch, for MMDC's augmented views and auxiliary tasks.

Every function takes and returns float tensors on any device and draws its
random numbers from ``generator`` (torch's global generator when ``None``,
which the training plan seeds and checkpoints, so resumed fits draw the
same augmentations).

Images, ``(n, C, H, W)``:

* :func:`random_affine`: one random warp per image combining a **crop**
  (a window keeping a fraction ``crop`` of each side, at a random place,
  resized back to ``H x W``), a **shift** of up to ``max_shift`` of the side
  on each axis and a **rotation** of up to ``max_rotation`` degrees either
  way. Bilinear sampling; pixels from outside the image take the value
  ``fill`` (per channel; the background).
* :func:`rotations`: the four exact rotations by 0, 90, 180 and 270 degrees
  and their labels (the rotation-prediction task of Gidaris et al. 2018).

Rows of a matrix (cells), ``(n, p)``:

* :func:`mask_features`: **gene dropout / masking**: each entry is set to 0
  with probability ``rate`` (0 is a gene's mean in standardised input) and
  the others are scaled by ``1 / (1 - rate)``, as dropout does.
* :func:`thin_counts`: **count subsampling**: each count is binomially
  thinned with a keep probability drawn per row in ``keep``, as if the cell
  had been sequenced less deeply.
* :func:`log_normalise`: the preprocessing of count input in torch (as
  :class:`~coclust_deep.deep._data.MatrixData`): ``log1p(x / total *
  median total)``, standardised per gene and clipped at +-10, so that
  thinned counts are normalised by their own new totals.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

_CLIP = 10.0


def _uniform(n, low, high, generator, device):
    return low + (high - low) * torch.rand(n, generator=generator, device=device)


def random_affine(x, *, max_rotation=0.0, crop=(1.0, 1.0), max_shift=0.0, fill=None, generator=None):
    """Randomly rotated, cropped and shifted copies of images ``x`` (n, C, H, W).

    Parameters
    ----------
    x : tensor (n, C, H, W)
    max_rotation : float
        Rotation angle drawn in ``[-max_rotation, max_rotation]`` degrees.
    crop : (float, float)
        Fraction of each side kept by the crop, drawn in ``[crop[0],
        crop[1]]`` (1 = no crop); the window sits at a random place inside
        the image and is resized back to ``H x W`` (a zoom).
    max_shift : float
        Extra shift drawn in ``[-max_shift, max_shift]`` times the side, per axis.
    fill : tensor (C,), optional
        Value of pixels coming from outside the image (default 0).

    Examples
    --------
    >>> import torch
    >>> x = torch.arange(2 * 16, dtype=torch.float32).reshape(2, 1, 4, 4)
    >>> random_affine(x).equal(x)       # no rotation, crop or shift: unchanged
    True
    >>> random_affine(x, max_rotation=10, crop=(0.8, 1.0), max_shift=0.1).shape
    torch.Size([2, 1, 4, 4])
    """
    n, _, height, width = x.shape
    device = x.device
    angle = _uniform(n, -max_rotation, max_rotation, generator, device) * (math.pi / 180.0)
    scale = _uniform(n, crop[0], crop[1], generator, device)
    # the crop window's centre lies where the whole window stays inside the image
    room = 1.0 - scale
    shift_x = room * _uniform(n, -1.0, 1.0, generator, device) + 2.0 * _uniform(n, -max_shift, max_shift,
                                                                                 generator, device)
    shift_y = room * _uniform(n, -1.0, 1.0, generator, device) + 2.0 * _uniform(n, -max_shift, max_shift,
                                                                                 generator, device)
    cos, sin = torch.cos(angle), torch.sin(angle)
    aspect = height / width  # rotate in pixel units, not in the unit square
    theta = torch.stack([
        torch.stack([scale * cos, -scale * sin * aspect, shift_x], dim=1),
        torch.stack([scale * sin / aspect, scale * cos, shift_y], dim=1),
    ], dim=1)
    if bool((angle == 0).all() and (scale == 1).all() and (shift_x == 0).all() and (shift_y == 0).all()):
        return x.clone()
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    if fill is None:
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    fill = fill.to(device=device, dtype=x.dtype).reshape(1, -1, 1, 1)
    warped = F.grid_sample(x - fill, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return warped + fill


def rotations(x):
    """The four rotations of square images ``x`` (n, C, H, H) and their labels 0..3 (quarter turns).

    Returns ``(images (4n, C, H, H), labels (4n,))``; image ``i`` rotated by
    ``r`` quarter turns is row ``4 * i + r``, as in the MMDC authors' code.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    >>> images, labels = rotations(x)
    >>> labels.tolist(), images[1, 0].tolist()
    ([0, 1, 2, 3], [[2.0, 4.0], [1.0, 3.0]])
    """
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"rotation prediction needs square images, got {x.shape[-2]}x{x.shape[-1]}.")
    turned = torch.stack([torch.rot90(x, r, dims=(2, 3)) for r in range(4)], dim=1)
    labels = torch.arange(4, device=x.device).repeat(x.shape[0])
    return turned.reshape(-1, *x.shape[1:]), labels


def mask_features(z, rate, *, generator=None):
    """``(masked z, mask)``: each entry of ``z`` set to 0 with probability ``rate`` (mask is 1 there).

    The kept entries are divided by ``1 - rate`` (inverted dropout), so that
    the first layer sees inputs of the same scale with and without masking:
    batch norm's running statistics, gathered on masked batches, then fit
    the clean inputs the network is evaluated on.

    Examples
    --------
    >>> import torch
    >>> z = torch.ones(3, 1000)
    >>> masked, mask = mask_features(z, 0.2, generator=torch.Generator().manual_seed(0))
    >>> round(float(mask.mean()), 1), bool((masked[mask.bool()] == 0).all()), float(masked.max())
    (0.2, True, 1.25)
    """
    mask = (torch.rand(z.shape, generator=generator, device=z.device) < rate).to(z.dtype)
    return z * (1.0 - mask) / (1.0 - rate), mask


def thin_counts(counts, keep=(0.5, 1.0), *, generator=None):
    """Binomially thinned counts: row ``i`` keeps each count with probability ``p_i`` drawn in ``keep``.

    Examples
    --------
    >>> import torch
    >>> counts = torch.full((2, 5000), 4.0)
    >>> thinned = thin_counts(counts, keep=(0.5, 0.5), generator=torch.Generator().manual_seed(0))
    >>> round(float(thinned.mean()), 1), bool((thinned <= counts).all())
    (2.0, True)
    """
    p = _uniform(counts.shape[0], keep[0], keep[1], generator, counts.device)
    return torch.binomial(counts, p[:, None].expand_as(counts), generator=generator)


def log_normalise(counts, *, median_library, mean, std):
    """Standardised ``log1p(counts / row total * median_library)``, clipped at +-10 (cells x genes).

    Examples
    --------
    >>> import torch
    >>> counts = torch.tensor([[1.0, 3.0], [2.0, 2.0]])
    >>> log_normalise(counts, median_library=4.0, mean=torch.zeros(2), std=torch.ones(2))
    tensor([[0.6931, 1.3863],
            [1.0986, 1.0986]])
    """
    library = counts.sum(dim=1, keepdim=True)
    # rows without counts stay 0: median / 1e-8 overflows float32 for large counts, and 0 * inf is NaN
    size = torch.where(library > 0, median_library / library.clamp_min(1e-8), torch.zeros_like(library))
    y = torch.log1p(counts * size)
    return ((y - mean) / std).clamp(-_CLIP, _CLIP)
