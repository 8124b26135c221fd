"""``python -m benchmarks.classic --quick`` runs and writes the expected JSON.

No timing assertions: only that every figure is there and finite.
"""
import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CASES = ["text_scipy_docstrings", "make_biclusters"]


@pytest.fixture(scope="module")
def quick_result(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "classic.json"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.classic", "--quick", "--out", str(out), "--cases", *CASES],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text()), proc.stdout


def test_every_algorithm_is_scored_on_every_case(quick_result):
    result, _ = quick_result
    assert len(result["loadavg_before"]) == 3 and len(result["loadavg_after"]) == 3
    seen = {(r["case"], r["algorithm"]) for r in result["cases"]}
    for case in CASES:
        for algo in ("InfoCoclustering", "ModularityCoclustering", "SpectralCoclustering",
                     "sklearn SpectralCoclustering"):
            assert (case, algo) in seen
    for row in result["cases"]:
        assert "error" not in row, row
        assert math.isfinite(row["time_s"]) and row["time_s"] > 0
        assert 0.0 <= row["nmi_rows"] <= 1.0 and math.isfinite(row["vs_sklearn"])


def test_text_matrix_is_a_real_document_term_matrix(quick_result):
    result, _ = quick_result
    text = [r for r in result["cases"] if r["case"] == "text_scipy_docstrings"]
    n_docs, n_terms = text[0]["shape"]
    assert n_docs > 500 and n_terms > 1000
    # the subpackages are recoverable from the words, well above chance (NMI 0)
    assert max(r["nmi_rows"] for r in text) > 0.4


def test_markdown_table_is_printed(quick_result):
    _, stdout = quick_result
    assert "| case | shape (nnz) | algorithm |" in stdout
