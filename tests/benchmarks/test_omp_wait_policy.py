"""``python -m benchmarks.omp_wait_policy --quick`` runs both policies in fresh processes and writes JSON."""
import math

import pytest


@pytest.mark.slow
def test_quick_run_reports_both_policies(run_quick):
    result, stdout = run_quick("omp_wait_policy", "--busy", "0")
    rows = result["rows"]
    assert [r["policy"] for r in rows] == ["default", "PASSIVE"]
    for row in rows:
        for key in ("small_parallel_ms", "small_serial_ms", "large_parallel_ms", "fit_ms"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["policy"], key)
        assert len(row["loadavg_before"]) == 3
    assert "| OMP_WAIT_POLICY |" in stdout
