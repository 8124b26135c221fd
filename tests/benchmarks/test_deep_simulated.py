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


def test_rna_protein_view_marks_the_type_inside_each_lineage():
    from benchmarks.deep_simulated import rna_protein

    X, types, views = rna_protein(0, n=800, d=100)
    view = views["protein"]
    assert X.shape == (800, 100) and np.all(X == np.floor(X)) and view.shape == (800, 10)
    for lineage in range(4):
        second, first = (view[types == 2 * lineage + j, 4 + lineage].mean() for j in (1, 0))
        assert second > first + 0.5


def test_merge_keeps_the_simulators_not_rerun(run_quick):
    from benchmarks.deep_simulated import VIEW_METHODS

    run_quick("deep_simulated", "--draws", "0", "--simulators", "markers")
    result, _ = run_quick("deep_simulated", "--draws", "0", "--simulators", "views", "--merge")
    assert set(result["datasets"]) == {"markers", "views"}
    assert [row["method"] for row in result["datasets"]["views"]["per_seed"][0]] == list(VIEW_METHODS)
