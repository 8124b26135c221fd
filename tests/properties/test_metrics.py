"""Properties of the agreement metrics on generated labels and biclusters (hypothesis)."""
import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from coclust_deep import metrics


def labels(n, k=6):
    return st.lists(st.integers(0, k), min_size=n, max_size=n)


@st.composite
def label_pairs(draw):
    n = draw(st.integers(1, 30))
    return draw(labels(n)), draw(labels(n))


@given(pair=label_pairs())
def test_partition_scores_are_finite_and_bounded(pair):
    a, b = pair
    for name in ("nmi", "accuracy"):
        value = getattr(metrics, name)(a, b)
        assert np.isfinite(value) and -1e-12 <= value <= 1 + 1e-12, (name, value)
    value = metrics.ari(a, b)
    assert np.isfinite(value) and -1 - 1e-12 <= value <= 1 + 1e-12
    assert metrics.ari(a, a) == 1.0 and metrics.nmi(a, a) == 1.0 and metrics.accuracy(a, a) == 1.0


@given(rows=label_pairs(), cols=label_pairs())
def test_cari_is_finite_bounded_and_one_on_itself(rows, cols):
    value = metrics.cari(rows[0], cols[0], rows[1], cols[1])
    assert np.isfinite(value) and value <= 1 + 1e-12
    assert metrics.cari(rows[0], cols[0], rows[0], cols[0]) == 1.0


@st.composite
def bicluster_sets(draw, n_rows, n_cols):
    k = draw(st.integers(1, 4))
    rows = np.array(draw(st.lists(st.lists(st.booleans(), min_size=n_rows, max_size=n_rows), min_size=k,
                                  max_size=k)), dtype=bool)
    cols = np.array(draw(st.lists(st.lists(st.booleans(), min_size=n_cols, max_size=n_cols), min_size=k,
                                  max_size=k)), dtype=bool)
    return rows, cols


@given(data=st.data(), n_rows=st.integers(1, 8), n_cols=st.integers(1, 8))
def test_consensus_score_is_in_0_1_and_one_on_itself(data, n_rows, n_cols):
    a = data.draw(bicluster_sets(n_rows, n_cols))
    b = data.draw(bicluster_sets(n_rows, n_cols))
    value = metrics.consensus_score(a, b)
    assert np.isfinite(value) and 0.0 <= value <= 1.0 + 1e-12
    assert metrics.consensus_score(a, a) == 1.0
