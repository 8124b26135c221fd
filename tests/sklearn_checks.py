"""What the scikit-learn estimator checks of every estimator folder share.

``INPUT_RULES``: the checks expected to fail, with the reason. None is a
co-clustering limit; each is one of this package's input rules, tested on its
own (tests/lbm/test_bad_input.py; every estimator reads X through check_matrix).
"""
import warnings

from sklearn.exceptions import ConvergenceWarning

INPUT_RULES = {
    "check_complex_data": "complex X is the wrong type of data: TypeError naming the dtype, where "
                          "scikit-learn expects ValueError",
    "check_dtype_object": "object arrays are refused with a TypeError (test_object_dtype_rejected) "
                          "rather than converted, which would hide non-numeric entries",
}


def expected_failures(estimator):
    return INPUT_RULES


def run_check(estimator, check):
    """Run one check; the checks fit noise with few iterations, so convergence and empty-cluster warnings are expected."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.filterwarnings("ignore", "clusters are empty", RuntimeWarning)
        check(estimator)
