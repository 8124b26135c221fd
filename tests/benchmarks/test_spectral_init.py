"""``python -m benchmarks.spectral_init --quick`` times the three SVD routes and writes JSON."""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_quick_run_reports_every_route(tmp_path):
    out = tmp_path / "spectral.json"
    proc = subprocess.run([sys.executable, "-m", "benchmarks.spectral_init", "--quick", "--repeats", "1",
                           "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert {r["case"] for r in rows} == {"csr_bernoulli", "dense_gaussian_centred"}
    for row in rows:
        for key in ("ours_s", "randomized_svd_s", "svds_arpack_s"):
            assert math.isfinite(row[key]) and row[key] > 0, (row["case"], key)
        # the three routes find the same leading singular value
        leading = pytest.approx(row["svds_arpack_sv"][0], rel=1e-4)  # randomised: 3 power iterations
        assert row["ours_sv"][0] == leading and row["randomized_svd_sv"][0] == leading
