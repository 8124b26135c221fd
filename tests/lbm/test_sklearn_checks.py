"""scikit-learn's estimator checks over LatentBlockModel (small n_init and max_iter keep them quick)."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from coclust_deep import LatentBlockModel
from tests.sklearn_checks import expected_failures, run_check


@parametrize_with_checks(
    [LatentBlockModel(2, 2, family="gaussian", n_init=2, max_iter=10, random_state=0),
     LatentBlockModel(2, 2, family="poisson", algorithm="cem", n_init=1, max_iter=10, random_state=0)],
    expected_failed_checks=expected_failures,
)
def test_sklearn_compatible(estimator, check):
    run_check(estimator, check)
