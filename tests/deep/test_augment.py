"""The torch augmentations of deep/_augment.py: what each one does to its input, and its randomness."""
import numpy as np
import pytest
import torch

from coclust_deep.deep._augment import log_normalise, mask_features, random_affine, rotations, thin_counts
from coclust_deep.deep._data import MatrixData


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def _bar_images(n=6, size=9):
    x = torch.zeros(n, 1, size, size)
    x[:, :, size // 2, 2:-2] = 1.0  # a horizontal bar through the centre
    return x


def test_affine_without_settings_is_the_identity():
    x = torch.randn(4, 3, 8, 8)
    assert random_affine(x, generator=_gen()).equal(x)


def test_affine_shift_moves_the_image_by_at_most_max_shift():
    x = _bar_images()
    shifted = random_affine(x, max_shift=0.25, generator=_gen())
    rows = (shifted[:, 0].sum(dim=2) * torch.arange(9.0)).sum(dim=1) / shifted[:, 0].sum(dim=(1, 2))
    assert (rows - 4.0).abs().max() <= 0.25 * 9 + 1e-4
    assert (rows - 4.0).abs().max() > 0.1  # it did move


def test_affine_small_rotation_keeps_a_bar_mostly_horizontal():
    x = _bar_images()
    turned = random_affine(x, max_rotation=10.0, generator=_gen())
    # a bar turned by <= 10 degrees stays within a band of rows around the centre
    band = turned[:, 0, 3:6].sum(dim=(1, 2)) / turned[:, 0].sum(dim=(1, 2))
    assert bool((band > 0.8).all())
    assert not turned.equal(x)


def test_affine_crop_zooms_in():
    x = _bar_images()
    zoomed = random_affine(x, crop=(0.5, 0.5), generator=_gen())
    # half of each side resized to the full image: the bar's length doubles (clipped by the border)
    assert float(zoomed[:, 0].sum(dim=(1, 2)).mean()) > float(x[:, 0].sum(dim=(1, 2)).mean())


def test_affine_fills_the_outside_with_the_background():
    x = torch.full((2, 1, 6, 6), -1.0)
    out = random_affine(x, max_rotation=45.0, max_shift=0.3, fill=torch.tensor([-1.0]), generator=_gen())
    torch.testing.assert_close(out, x)
    unfilled = random_affine(x, max_rotation=45.0, max_shift=0.3, generator=_gen())
    assert float(unfilled.max()) > -1.0  # zeros came in from outside


def test_affine_same_generator_same_images():
    x = torch.randn(5, 1, 8, 8)
    kw = dict(max_rotation=15.0, crop=(0.7, 1.0), max_shift=0.1)
    assert random_affine(x, generator=_gen(3), **kw).equal(random_affine(x, generator=_gen(3), **kw))
    assert not random_affine(x, generator=_gen(3), **kw).equal(random_affine(x, generator=_gen(4), **kw))


def test_rotations_are_exact_quarter_turns_with_their_labels():
    x = torch.randn(3, 2, 5, 5)
    turned, labels = rotations(x)
    assert turned.shape == (12, 2, 5, 5) and labels.tolist() == [0, 1, 2, 3] * 3
    for i in range(3):
        for r in range(4):
            assert turned[4 * i + r].equal(torch.rot90(x[i], r, dims=(1, 2)))


def test_rotations_refuse_non_square_images():
    with pytest.raises(ValueError, match="square"):
        rotations(torch.zeros(2, 1, 4, 5))


def test_mask_features_hides_the_rate_and_keeps_the_rest():
    z = torch.randn(50, 400)
    masked, mask = mask_features(z, 0.25, generator=_gen())
    assert abs(float(mask.mean()) - 0.25) < 0.01
    assert bool((masked[mask.bool()] == 0).all())
    torch.testing.assert_close(masked[~mask.bool()], z[~mask.bool()] / 0.75)  # inverted dropout


def test_thinning_keeps_a_binomial_share_of_each_count():
    counts = torch.full((200, 50), 10.0)
    thinned = thin_counts(counts, keep=(0.5, 1.0), generator=_gen())
    assert bool((thinned <= counts).all()) and bool((thinned == thinned.round()).all())
    share = thinned.sum(dim=1) / counts.sum(dim=1)
    assert 0.45 < float(share.min()) and float(share.max()) < 1.0 + 1e-6 and float(share.std()) > 0.05


def test_log_normalise_matches_the_matrix_preprocessing():
    rng = np.random.default_rng(0)
    X = rng.poisson(rng.gamma(1.0, 2.0, size=(30, 12))).astype(np.float32)
    X[0] = 0.0  # an empty cell
    data = MatrixData(X, "nb")
    torch_side = log_normalise(torch.as_tensor(X), median_library=data.stats["median_library"],
                               mean=torch.as_tensor(data.stats["mean"]), std=torch.as_tensor(data.stats["std"]))
    np.testing.assert_allclose(torch_side.numpy(), data.inputs(np.arange(30))["input"], rtol=1e-5, atol=1e-5)


def test_a_row_without_counts_stays_zero_beside_huge_counts():
    # median / 1e-8 overflowed float32 and 0 * inf gave NaN
    data = MatrixData(np.array([[1e36, 1e36], [0.0, 0.0], [1e36, 1e35]], dtype=np.float32), "nb")
    Y = data.Y.toarray() if hasattr(data.Y, "toarray") else np.asarray(data.Y)
    assert np.all(np.isfinite(Y)) and np.all(Y[1] == 0)
    stats = data.stats
    y = log_normalise(torch.tensor([[1e36, 1e36], [0.0, 0.0]]), median_library=stats["median_library"],
                      mean=torch.zeros(2), std=torch.ones(2))
    assert torch.isfinite(y).all() and torch.all(y[1] == 0)


def test_median_row_total_is_finite_when_two_totals_sum_beyond_float32():
    data = MatrixData(np.full((2, 1), 3e38, dtype=np.float32), "nb")
    assert np.isfinite(data.stats["median_library"])


def test_row_totals_beyond_float32_are_refused_naming_the_total():
    with pytest.raises(ValueError, match=r"row totals up to 1e\+39.*likelihood='gaussian'"):
        MatrixData(np.full((3, 10), 1e38, dtype=np.float32), "nb")
