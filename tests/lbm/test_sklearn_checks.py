"""scikit-learn's estimator checks over LatentBlockModel (small n_init and max_iter keep them quick)."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from coclust_deep import LatentBlockModel
from tests.sklearn_checks import INPUT_RULES, run_check

# Checks that cannot apply, with the reason: the package's input rules, plus the ones that predict_proba
# (new rows against a fitted model) brings, the same as for the deep clusterers (tests/deep).
_PREDICT_PROBA = {
    "check_estimator_sparse_array": "the check reads classifier tags whenever predict_proba exists, and a "
                                    "clusterer has none; sparse fit/predict is tested in tests/lbm/test_predict.py",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_array",
    "check_fit2d_predict1d": "a 1-D X gets the project's message ('reshape a single row with "
                             "X.reshape(1, -1)'), not sklearn's 'Reshape your data'",
}


def _expected_failures(estimator):
    return {**INPUT_RULES, **_PREDICT_PROBA}


@parametrize_with_checks(
    [LatentBlockModel(2, 2, family="gaussian", n_init=2, max_iter=10, random_state=0),
     LatentBlockModel(2, 2, family="poisson", algorithm="cem", n_init=1, max_iter=10, random_state=0)],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    run_check(estimator, check)
