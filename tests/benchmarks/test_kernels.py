"""``python -m benchmarks.kernels --quick`` runs and writes the expected JSON.

No timing assertions: only that every figure is there, finite and positive.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "kernels.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.kernels", "--quick", "--repeats", "1", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def _positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_json_has_machine_and_load(quick_result):
    result, _ = quick_result
    assert {"cpu", "nproc", "backends"} <= set(result["machine"])
    assert len(result["loadavg_before"]) == 3 and len(result["loadavg_after"]) == 3


def test_floor_ratios_are_finite_and_positive_for_each_case_and_backend(quick_result):
    result, _ = quick_result
    seen = {(r["case"], r["backend"]) for r in result["cases"]}
    for case in ("dense_gaussian", "csr_bernoulli"):
        for backend in result["machine"]["backends"]:
            assert (case, backend) in seen
    for row in result["cases"]:
        for key in ("floor_s", "half_steps_s", "half_steps_floor_ratio"):
            assert _positive(row[key]), (row["case"], row["backend"], key, row[key])
        # per-iteration time is a difference of two fits: on tiny sizes timing
        # noise can swamp it, so only finiteness is checked here
        for key in ("iteration_s", "floor_ratio"):
            assert math.isfinite(row[key]), (row["case"], row["backend"], key, row[key])


def test_peer_section_reports_our_time_and_ari(quick_result):
    result, _ = quick_result
    peer = result["peer"]
    assert _positive(peer["ours_s"])
    assert -1.0 <= peer["ours_ari_rows"] <= 1.0
    if "sparsebm_s" in peer:  # sparsebm is in the optional `benchmark` extra
        assert _positive(peer["peer_ratio"])


def test_compile_times_are_recorded(quick_result):
    result, _ = quick_result
    assert _positive(result["compile"]["cold_cache_s"]) and _positive(result["compile"]["warm_cache_s"])


def test_markdown_table_is_printed(quick_result):
    _, stdout = quick_result
    assert "| case | backend |" in stdout and "numba" in stdout
