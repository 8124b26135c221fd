"""``python -m benchmarks.dm2c --quick --cases digits`` runs and writes every figure (no timing or accuracy assertions)."""
import math

import pytest

pytest.importorskip("torch")


def test_quick_digits_run_writes_every_figure(run_quick):
    result, stdout = run_quick("dm2c", "--cases", "digits")
    digits = result["cases"]["digits"]
    assert digits["n_clusters_given"] == 10 and len(digits["runs"]) == 1
    for name in ("nmi", "acc_shared_mapping", "nmi_with_modality", "nmi_a", "nmi_b"):
        assert 0.0 <= digits["dm2c"][name]["mean"] <= 1.0
    assert math.isfinite(digits["dm2c"]["fit_seconds"]["mean"]) and len(result["loadavg_before"]) == 3
    assert "| digits (k=10) | DM2C |" in stdout


def test_missing_data_names_the_folder(tmp_path):
    from benchmarks.dm2c import load_cbmc

    with pytest.raises(FileNotFoundError, match="--data-dir"):
        load_cbmc(tmp_path)
