"""ICL model selection picks the generating numbers of clusters."""
import numpy as np
import pytest

from coclust_deep import select_lbm
from coclust_deep.datasets import make_lbm


# make_lbm's Poisson data come from the plain model (no row or column effects): fitted with it.
PLAIN = {"poisson_effects": False}


@pytest.fixture(scope="module")
def poisson_4x3():
    return make_lbm(300, 200, 4, 3, family="poisson", random_state=1)


@pytest.mark.slow
def test_icl_grid_picks_true_numbers_of_clusters(poisson_4x3):
    X, _, _ = poisson_4x3
    best, table = select_lbm(X, range(2, 7), range(2, 6), n_init=2, random_state=0, **PLAIN)
    assert (best.n_row_clusters, best.n_col_clusters) == (4, 3)
    assert len(table) == 20


def test_table_has_one_row_per_pair_with_criteria(poisson_4x3):
    X, _, _ = poisson_4x3
    _, table = select_lbm(X, [3, 4], [2, 3], n_init=1, random_state=0)
    assert list(table.columns) == ["n_row_clusters", "n_col_clusters", "icl", "icl_exact", "elbo", "n_iter",
                                   "converged"]
    assert len(table) == 4 and table["icl"].notna().all()


def test_greedy_search_finds_true_pair_with_fewer_fits(poisson_4x3):
    X, _, _ = poisson_4x3
    best, table = select_lbm(X, range(2, 7), range(2, 6), n_init=2, random_state=0, search="greedy", **PLAIN)
    assert (best.n_row_clusters, best.n_col_clusters) == (4, 3)
    assert len(table) < 20


# ---- exact ICL (conjugate priors), beside the BIC-like one
from tests.generators import handwritten_categorical, handwritten_lbm  # noqa: E402

EXACT_CASES = {
    "bernoulli": lambda: (handwritten_lbm("bernoulli", 300, 120, seed=1)[0], {}),
    "poisson": lambda: (make_lbm(300, 200, 4, 3, family="poisson", random_state=1)[0], PLAIN),
    "poisson_effects": lambda: (handwritten_lbm("poisson", 300, 120, seed=1)[0], {}),
    "categorical": lambda: (handwritten_categorical(300, 120, seed=1)[0], {}),
}


@pytest.mark.parametrize("case", sorted(EXACT_CASES))
def test_exact_icl_picks_the_true_pair_as_the_bic_like_one_does(case):
    X, kw = EXACT_CASES[case]()
    family = "poisson" if case.startswith("poisson") else case
    best, table = select_lbm(X, [3, 4, 5], [2, 3, 4], family=family, criterion="icl_exact", n_init=2,
                             random_state=0, **kw)
    assert (best.n_row_clusters, best.n_col_clusters) == (4, 3)
    by_bic = table.loc[table["icl"].idxmax()]
    assert (by_bic["n_row_clusters"], by_bic["n_col_clusters"]) == (4, 3)
    assert np.all(np.isfinite(table["icl_exact"]))


def test_exact_icl_is_the_log_marginal_of_a_bernoulli_block():
    # one block, one cluster each way: Beta(1/2, 1/2)-Bernoulli marginal, the proportions' terms are 0
    from scipy.special import betaln

    from coclust_deep import LatentBlockModel

    X = (np.random.default_rng(0).random((30, 20)) < 0.3).astype(float)
    model = LatentBlockModel(1, 1, family="bernoulli", n_init=1, random_state=0).fit(X)
    ones = X.sum()
    assert model.icl_exact_ == pytest.approx(betaln(0.5 + ones, 0.5 + X.size - ones) - betaln(0.5, 0.5))


@pytest.mark.parametrize("family", ["gaussian", "nb"])
def test_exact_icl_without_a_conjugate_prior_is_refused(family):
    X = make_lbm(60, 30, 2, 2, family=family, random_state=0)[0]
    with pytest.raises(ValueError, match="criterion='icl_exact' needs a family with conjugate priors"):
        select_lbm(X, [2], [2], family=family, criterion="icl_exact", n_init=1)


def test_unknown_criterion_rejected():
    with pytest.raises(ValueError, match="criterion"):
        select_lbm(np.ones((10, 5)), [2], [2], criterion="bic")


def test_progress_bar_and_one_log_line_per_pair(poisson_4x3, capsys, scanpy_log):
    X, _, _ = poisson_4x3
    select_lbm(X, [3, 4], [2, 3], n_init=1, max_iter=20, random_state=0, **PLAIN)
    assert "select_lbm" in capsys.readouterr().err  # tqdm writes to stderr
    lines = [x for x in scanpy_log.getvalue().splitlines() if x.startswith("select_lbm: g=")]
    assert len(lines) == 4 and "ICL=" in lines[0]


def test_verbose_false_is_silent(poisson_4x3, capsys):
    X, _, _ = poisson_4x3
    select_lbm(X, [3, 4], [3], n_init=1, max_iter=20, random_state=0, verbose=False, **PLAIN)
    assert "select_lbm" not in capsys.readouterr().err


def test_warns_when_the_best_pair_is_on_the_grid_edge(poisson_4x3):
    X, _, _ = poisson_4x3
    with pytest.warns(UserWarning, match=r"n_row_clusters=3 is the largest value tried"):
        select_lbm(X, [2, 3], [2, 3, 4], n_init=2, random_state=0, verbose=False, **PLAIN)


def test_no_edge_warning_inside_the_grid_or_on_a_fixed_axis(poisson_4x3):
    import warnings

    X, _, _ = poisson_4x3
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        best, _ = select_lbm(X, [3, 4, 5], [3], n_init=2, random_state=0, verbose=False, **PLAIN)
    assert best.n_row_clusters == 4


@pytest.mark.parametrize("grid", [["a"], [2.5], [True, 3], "23", None])
def test_grid_values_must_be_ints(poisson_4x3, grid):
    X, _, _ = poisson_4x3
    with pytest.raises(TypeError, match="n_row_clusters must"):
        select_lbm(X, grid, [2], verbose=False, **PLAIN)


def test_grid_accepts_numpy_integers(poisson_4x3):
    import numpy as np

    X, _, _ = poisson_4x3
    _, table = select_lbm(X, np.array([3, 4]), np.int64(3), n_init=1, max_iter=10, verbose=False, **PLAIN)
    assert table["n_row_clusters"].tolist() == [3, 4]


def test_best_model_records_a_dataframes_column_names():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(np.random.RandomState(0).poisson(2, (30, 6)).astype(float), columns=list("abcdef"))
    best, _ = select_lbm(frame, [2], [2], n_init=1, random_state=0, verbose=False)
    np.testing.assert_array_equal(best.feature_names_in_, frame.columns)  # so predict checks the columns
