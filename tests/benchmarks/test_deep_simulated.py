"""``python -m benchmarks.deep_simulated --quick`` runs and writes the expected JSON (no accuracy assertions)."""
import numpy as np
import pytest

pytest.importorskip("torch")


def test_marker_counts_are_counts_of_k_types():
    from benchmarks.deep_simulated import marker_counts

    X, types = marker_counts(0, k=4, n=300, d=60)
    assert X.shape == (300, 60) and np.all(X >= 0) and np.all(X == np.floor(X))
    assert set(types) == {0, 1, 2, 3}


def test_quick_run_writes_every_method_for_each_simulator_asked(run_quick):
    from benchmarks.deep_simulated import methods

    result, stdout = run_quick("deep_simulated", "--draws", "0", "--simulators", "unbalanced", "markers",
                               "--input-noise", "0.5", "2.5")
    assert set(result["datasets"]) == {"unbalanced", "markers"}
    for entry in result["datasets"].values():
        assert entry["n_types"] == 8
        assert [row["method"] for row in entry["per_seed"][0]] == list(methods((0.5, 2.5)))
        assert all(0.0 <= row["ari"] <= 1.0 for row in entry["per_seed"][0])
    assert result["machine"]["quick"] and "| markers 2500x500, 8 types |" in stdout
