"""coclust_deep._blocks: one block average with one rule for empty blocks."""
import numpy as np
import pytest
import scipy.sparse as sp

from coclust_deep._blocks import EMPTY_SIZE, block_average, block_means, block_sums, one_hot


def test_one_hot_rows_mark_the_labels():
    np.testing.assert_array_equal(one_hot(np.array([2, 0, 2]), 3), [[0, 0, 1], [1, 0, 0], [0, 0, 1]])


def test_full_blocks_are_plain_ratios():
    np.testing.assert_allclose(block_average([[2.0, 9.0]], [[4.0, 3.0]]), [[0.5, 3.0]])


def test_empty_blocks_get_the_pooled_average():
    sums = np.array([[4.0, 2.0], [0.0, 0.0]])
    sizes = np.array([[2.0, 2.0], [0.0, EMPTY_SIZE / 2]])  # a vanished soft cluster counts as empty
    np.testing.assert_allclose(block_average(sums, sizes), [[2.0, 1.0], [1.5, 1.5]])


def test_all_empty_is_zero():
    np.testing.assert_array_equal(block_average(np.zeros((2, 2)), np.zeros((2, 2))), np.zeros((2, 2)))


@pytest.mark.parametrize("fmt", ["dense", "csr"])
def test_block_sums_and_means_match_a_direct_computation(fmt):
    rng = np.random.default_rng(0)
    X = rng.poisson(2.0, size=(30, 12)).astype(float)
    rows, cols = rng.integers(0, 3, 30), rng.integers(0, 2, 12)
    sums, sizes = block_sums(sp.csr_matrix(X) if fmt == "csr" else X, rows, cols, 3, 2)
    for k in range(3):
        for l in range(2):
            block = X[rows == k][:, cols == l]
            assert sums[k, l] == pytest.approx(block.sum()) and sizes[k, l] == block.size
    np.testing.assert_allclose(block_means(X, rows, cols), sums / sizes)


def test_a_cluster_without_members_gives_the_mean_of_x():
    X = np.arange(12.0).reshape(3, 4)
    means = block_means(X, np.array([0, 0, 0]), np.array([0, 0, 1, 1]), 2, 2)
    np.testing.assert_allclose(means[1], [X.mean(), X.mean()])
