"""coclust_deep._validation: parameters declared as data, one error type per kind of mistake."""
import numpy as np
import pytest

from coclust_deep._validation import BOOLEAN, NONE, Interval, Options, Pair, check_matrix, check_param


@pytest.mark.parametrize("constraint,text", [
    (Interval("int", 1), "an int >= 1"),
    (Interval("real", 0, 1, closed="left"), "a finite number in [0, 1)"),
    (Interval("real", None, 5, closed="neither"), "a finite number < 5"),
    (Options(("b", "a")), "one of 'a', 'b'"),
])
def test_constraints_describe_themselves(constraint, text):
    assert str(constraint) == text


@pytest.mark.parametrize("value", [3, np.int64(3), None])
def test_a_value_meeting_any_constraint_passes(value):
    assert check_param("Est", "k", value, [NONE, Interval("int", 1)]) is value


@pytest.mark.parametrize("value,error", [
    (0, ValueError), (np.inf, TypeError), ("3", TypeError), (True, TypeError), (2.5, TypeError),
])
def test_type_mistakes_are_type_errors_and_value_mistakes_value_errors(value, error):
    with pytest.raises(error, match="The 'k' parameter of Est must be an int >= 1"):
        check_param("Est", "k", value, [Interval("int", 1)])


def test_reals_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        check_param("Est", "tol", np.nan, [Interval("real", 0)])


def test_option_hints_are_appended():
    with pytest.raises(ValueError, match="in-memory only"):
        check_param("Est", "backend", "dask", [Options(("numba",), hints={"dask": "in-memory only."})])


def test_pairs_check_their_items():
    pair = [Pair(Interval("int", 1), "a pair of ints >= 1")]
    assert check_param("Est", "n", (2, 3), pair) == (2, 3)
    with pytest.raises(ValueError):
        check_param("Est", "n", (2, 0), pair)
    with pytest.raises(TypeError):
        check_param("Est", "n", (2, "x"), pair)


def test_numpy_bools_are_bools():
    assert check_param("Est", "flag", np.bool_(True), [BOOLEAN])


def test_ragged_lists_get_a_clear_message():
    from coclust_deep import DoubleKMeans, LatentBlockModel

    for estimator in (DoubleKMeans(2, 2), LatentBlockModel(2, 2)):
        with pytest.raises(ValueError, match="rows have different lengths"):
            estimator.fit([[1.0, 2.0], [3.0]])


def test_a_csr_array_with_duplicates_is_canonicalised_on_a_copy():
    import scipy.sparse as sp

    X = sp.csr_array((np.array([1.0, 1.0, 2.0]), np.array([1, 1, 0]), np.array([0, 3])), shape=(1, 2))
    data, indices = X.data.copy(), X.indices.copy()
    assert check_matrix(X).toarray().tolist() == [[2.0, 2.0]]
    np.testing.assert_array_equal(X.data, data)
    np.testing.assert_array_equal(X.indices, indices)


def test_numeric_dataframes_with_bool_or_nullable_columns_are_read_as_floats():
    import pandas as pd

    frame = pd.DataFrame({"a": [1.5, 2.0], "b": [True, False], "c": pd.array([3, 4], dtype="Int64")})
    X = check_matrix(frame)
    assert X.dtype == np.float64 and X.tolist() == [[1.5, 1.0, 3.0], [2.0, 0.0, 4.0]]


def test_dask_arrays_with_unknown_chunk_sizes_ask_for_them():
    da = pytest.importorskip("dask.array")
    X = da.from_array(np.ones((6, 3)), chunks=(2, 3))
    with pytest.raises(ValueError, match=r"unknown chunk sizes.*X\.compute_chunk_sizes\(\)"):
        check_matrix(X[X[:, 0] > 0])


def test_generators_are_refused_everywhere_with_one_message():
    """np.random.Generator: accepted nowhere (scikit-learn's convention), the same TypeError at every entry."""
    import anndata as ad

    from coclust_deep import DoubleKMeans, LatentBlockModel, SpectralCoclustering, pl, select_lbm, tl
    from coclust_deep.datasets import make_lbm

    X = np.random.default_rng(0).poisson(3.0, size=(20, 10)).astype(float)
    generator = np.random.default_rng(0)
    calls = [
        lambda: DoubleKMeans(2, 2, random_state=generator).fit(X),
        lambda: SpectralCoclustering(2, random_state=generator).fit(X),
        lambda: LatentBlockModel(2, 2, random_state=generator).fit(X),
        lambda: select_lbm(X, [2], [2], random_state=generator, verbose=False),
        lambda: tl.lbm(ad.AnnData(X), 2, 2, random_state=generator),
        lambda: make_lbm(20, 10, 2, 2, random_state=generator),
    ]
    adata = ad.AnnData(X)
    tl.lbm(adata, 2, 2, n_init=1)
    calls.append(lambda: pl.blocks(adata, random_state=generator, show=False))
    for call in calls:
        with pytest.raises(TypeError, match="np.random.Generator is not accepted anywhere"):
            call()
