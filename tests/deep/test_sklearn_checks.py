"""scikit-learn's estimator checks over the deep estimators, with networks small enough to run in seconds."""
import pytest

pytest.importorskip("torch")

from sklearn.utils.estimator_checks import parametrize_with_checks  # noqa: E402

from coclust_deep.deep import DEC, IDEC, DeepCluster, DeepCoclustering  # noqa: E402
from tests.sklearn_checks import INPUT_RULES  # noqa: E402

TINY = dict(latent_dim=2, hidden=(8,), batch_size=16, n_init=1, device="cpu", verbose=False, random_state=0)

# Checks that cannot apply, with the reason: the package's input rules, plus the ones below.
_PREDICT_PROBA = {
    "check_estimator_sparse_array": "the check reads classifier tags whenever predict_proba exists, and a "
                                    "clusterer has none; sparse fit/predict is tested in test_models.py",
    "check_estimator_sparse_matrix": "as check_estimator_sparse_array",
    "check_fit2d_predict1d": "a 1-D X gets the project's message ('reshape a single row with "
                             "X.reshape(1, -1)'), not sklearn's 'Reshape your data'",
}


def _expected_failures(estimator):
    failures = dict(INPUT_RULES)
    if isinstance(estimator, (DEC, IDEC)):
        failures.update(_PREDICT_PROBA)
    return failures


@parametrize_with_checks(
    [
        DEC(3, pretrain_epochs=2, epochs=2, **TINY),
        IDEC(3, pretrain_epochs=2, epochs=2, **TINY),
        DeepCluster(3, epochs=2, passes_per_epoch=1, pca_components=2, **TINY),
        DeepCoclustering(2, 2, pretrain_epochs=2, epochs=2, max_col_input=16, **TINY),
    ],
    expected_failed_checks=_expected_failures,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)
