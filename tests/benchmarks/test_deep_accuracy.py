"""The bookkeeping of benchmarks.deep_accuracy (the fits themselves run in the benchmark, not here)."""
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks import deep_accuracy


def test_summary_is_mean_and_std_over_seeds():
    rows = [[{"method": "m", "uses_true_k": True, "ari": a, "nmi": 0.5, "n_clusters_found": 3, "time_s": 1.0,
              "cpu_s": 1.0}] for a in (0.2, 0.4)]
    (entry,) = deep_accuracy.summarise(rows)
    assert entry["n_seeds"] == 2 and entry["uses_true_k"] is True
    assert entry["ari"] == [pytest.approx(0.3), pytest.approx(0.1)]
    assert "0.300 ± 0.100" in deep_accuracy.markdown({"d": {"shape": [5, 4], "n_types": 3, "summary": [entry]}})


def test_marker_coherence_counts_marker_pairs_in_one_gene_cluster():
    genes = ["MS4A1", "CD79A", "CD79B", "LYZ", "S100A8", "OTHER"]
    labels = np.array([0, 0, 1, 2, 2, 1])
    out = deep_accuracy.marker_coherence(SimpleNamespace(column_labels_=labels), genes)
    assert out["B"]["share_in_modal_cluster"] == pytest.approx(2 / 3, abs=1e-3)  # rounded to 3 digits
    assert out["CD14 Mono"]["gene_clusters"] == [2, 2]
    assert out["marker_pairs_same_cluster"] == pytest.approx(2 / 4)  # B: 1 of 3 pairs, mono: 1 of 1
    assert "NK" not in out  # fewer than two of its markers present
