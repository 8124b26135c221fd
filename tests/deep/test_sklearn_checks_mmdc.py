"""scikit-learn's estimator checks over MMDC (rows of a matrix), with a network small enough to run in seconds.

DCEC takes images only (n, C, H, W) and cannot meet the 2-D checks; its
scikit-learn behaviour (get_params/clone, fit/predict, save/load) is tested
in test_dcec.py.
"""
import pytest

pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from coclust_deep.deep import MMDC  # noqa: E402
from tests.sklearn_checks import INPUT_RULES  # noqa: E402

TINY = dict(hidden=(16, 8), batch_size=16, epochs=2, n_init=1, device="cpu", verbose=False, random_state=0)

_FAILURES = {
    **INPUT_RULES,
    "check_fit2d_predict1d": "a 1-D X gets the project's message ('reshape a single row with "
                             "X.reshape(1, -1)'), not sklearn's 'Reshape your data'",
}


@parametrize_with_checks([MMDC(3, **TINY)], expected_failed_checks=lambda estimator: _FAILURES)
def test_sklearn_compatible(estimator, check):
    check(estimator)
