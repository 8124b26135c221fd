"""scikit-learn's estimator checks over every classic estimator (small n_init and max_iter keep them quick)."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from coclust_deep import (
    ChengChurch,
    DoubleKMeans,
    InfoCoclustering,
    ModularityCoclustering,
    SpectralBiclustering,
    SpectralCoclustering,
)
from tests.sklearn_checks import expected_failures, run_check

ESTIMATORS = [
    DoubleKMeans(2, 2, n_init=2, max_iter=10, random_state=0),
    InfoCoclustering(2, 2, n_init=2, max_iter=10, random_state=0),
    ModularityCoclustering(2, n_init=2, max_iter=10, random_state=0),
    SpectralCoclustering(2, n_init=2, random_state=0),
    # the checks set n_components=1 on estimators that have it, so n_best must fit under it
    SpectralBiclustering(2, n_components=2, n_best=1, n_init=2, random_state=0),
    ChengChurch(2, random_state=0),
]


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=expected_failures)
def test_sklearn_compatible(estimator, check):
    run_check(estimator, check)
