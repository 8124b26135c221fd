"""``python -m benchmarks.lbm_families --quick`` runs on scanpy's shipped data and writes the expected JSON.

No timing or accuracy assertions: only that every figure is there and finite.
"""
import math

import pytest


@pytest.mark.slow
def test_quick_run_scores_every_method_and_the_time_ratio(run_quick):
    result, stdout = run_quick("lbm_families", "--datasets", "pbmc68k")
    entry = result["datasets"]["pbmc68k"]
    methods = {row["method"] for row in entry["summary"]}
    assert {"k-means on PCA50", "leiden (PCA50, 15 nn)", "tl.lbm defaults (Poisson with effects)",
            "tl.lbm poisson_effects=False (plain Poisson)", "tl.lbm family='nb'"} <= methods
    for row in entry["summary"]:
        assert all(math.isfinite(row[key]) for key in ("ari", "nmi", "time_s"))
    assert math.isfinite(entry["nb_time_ratio_to_poisson"]["mean"])
    assert {r["family"] for r in entry["runs"] if r["method"].startswith("tl.lbm")} == {"poisson", "nb"}
    assert "NB fit time / Poisson fit time" in stdout


def test_missing_data_directory_fails_clearly(tmp_path):
    import subprocess
    import sys

    from tests.benchmarks.conftest import ROOT

    proc = subprocess.run([sys.executable, "-m", "benchmarks.lbm_families", "--datasets", "pbmc10x",
                           "--data-dir", str(tmp_path)], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "not found" in proc.stderr
