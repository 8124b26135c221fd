"""``python -m benchmarks.mmdc --quick --parts digits`` runs and writes the expected JSON (no timing or accuracy assertions)."""
import pytest

pytest.importorskip("torch")


def test_quick_digits_run_writes_every_method(run_quick):
    result, stdout = run_quick("mmdc", "--parts", "digits", "--seeds", "0")
    digits = result["parts"]["digits"]
    assert digits["shape"] == [1797, 8, 8] and digits["n_classes"] == 10
    assert set(digits["methods"]) == {"MMDC (defaults: rotation task)", "MMDC without the rotation task",
                                      "DCEC (defaults)", "k-means on raw pixels"}
    for method in digits["methods"].values():
        assert [run["seed"] for run in method["runs"]] == [0]
        assert all(0.0 <= method["summary"][m]["mean"] <= 1.0 for m in ("acc", "nmi", "ari"))
    assert digits["machine"]["quick"] and len(digits["machine"]["loadavg_before"]) == 3
    assert "| digits | DCEC (defaults) |" in stdout
