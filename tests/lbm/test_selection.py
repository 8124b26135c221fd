"""ICL model selection picks the generating numbers of clusters."""
import pytest

from coclust_deep import select_lbm
from coclust_deep.datasets import make_lbm


@pytest.fixture(scope="module")
def poisson_4x3():
    return make_lbm(300, 200, 4, 3, family="poisson", random_state=1)


@pytest.mark.slow
def test_icl_grid_picks_true_numbers_of_clusters(poisson_4x3):
    X, _, _ = poisson_4x3
    best, table = select_lbm(X, range(2, 7), range(2, 6), n_init=2, random_state=0)
    assert (best.n_row_clusters, best.n_col_clusters) == (4, 3)
    assert len(table) == 20


def test_table_has_one_row_per_pair_with_criteria(poisson_4x3):
    X, _, _ = poisson_4x3
    _, table = select_lbm(X, [3, 4], [2, 3], n_init=1, random_state=0)
    assert list(table.columns) == ["n_row_clusters", "n_col_clusters", "icl", "elbo", "n_iter", "converged"]
    assert len(table) == 4 and table["icl"].notna().all()


def test_greedy_search_finds_true_pair_with_fewer_fits(poisson_4x3):
    X, _, _ = poisson_4x3
    best, table = select_lbm(X, range(2, 7), range(2, 6), n_init=2, random_state=0, search="greedy")
    assert (best.n_row_clusters, best.n_col_clusters) == (4, 3)
    assert len(table) < 20
