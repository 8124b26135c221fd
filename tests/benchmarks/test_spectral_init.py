"""``python -m benchmarks.spectral_init --quick`` times the three SVD routes and writes JSON."""
import math

import pytest


def test_quick_run_reports_every_route(run_quick):
    result, _ = run_quick("spectral_init", "--repeats", "1")
    rows = result["rows"]
    assert {r["case"] for r in rows} == {"csr_bernoulli", "dense_gaussian_centred"}
    for row in rows:
        for key in ("ours_s", "randomized_svd_s", "svds_arpack_s"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["case"], key)
        # the three routes find the same leading singular value
        leading = pytest.approx(row["svds_arpack_sv"][0], rel=1e-4)  # randomised: 3 power iterations
        assert row["ours_sv"][0] == leading and row["randomized_svd_sv"][0] == leading
