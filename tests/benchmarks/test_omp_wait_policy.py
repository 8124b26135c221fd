"""``python -m benchmarks.omp_wait_policy --quick`` runs both policies in fresh processes and writes JSON."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_quick_run_reports_both_policies(tmp_path):
    out = tmp_path / "omp.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.omp_wait_policy", "--quick", "--busy", "0",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["policy"] for r in rows] == ["default", "PASSIVE"]
    for row in rows:
        for key in ("small_parallel_ms", "small_serial_ms", "large_parallel_ms", "fit_ms"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["policy"], key)
        assert len(row["loadavg_before"]) == 3
    assert "| OMP_WAIT_POLICY |" in proc.stdout
