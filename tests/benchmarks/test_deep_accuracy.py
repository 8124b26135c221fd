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


def test_ours_only_replaces_deepcoclustering_rows_and_keeps_the_peers(monkeypatch):
    def row(method, ari, seed):
        return {"method": method, "uses_true_k": True, "ari": ari, "nmi": 0.5, "n_clusters_found": 3,
                "time_s": 1.0, "cpu_s": 1.0, "seed": seed}

    previous = {"datasets": {"d": {"per_seed": [
        [row("k-means on PCA50", 0.4, s), row("DeepCoclustering (RNA)", 0.1, s),
         row("DeepCoclustering (RNA), k estimated", 0.1, s)] for s in (0, 1)]}}}
    calls = []

    def fake_ours(X, labels, views, *, estimate_k, block_ablation, scaling_ablation, seed, **kw):
        calls.append((estimate_k, block_ablation, scaling_ablation, views))
        return [row("DeepCoclustering (RNA)", 0.9, None), row("DeepCoclustering (RNA), k estimated", 0.7, None)], {}

    monkeypatch.setattr(deep_accuracy, "load", lambda name, data_dir: (None, None, {"ADT": None}, None))
    monkeypatch.setattr(deep_accuracy, "ours", fake_ours)
    out = deep_accuracy.rerun_ours(previous, ["d"], "unused", seeds=[1])
    assert calls == [(True, False, False, {})]  # the same kinds of rows as before, no view row before
    seed0, seed1 = out["datasets"]["d"]["per_seed"]
    assert [r["ari"] for r in seed0] == [0.4, 0.1, 0.1]
    assert [(r["method"], r["ari"], r["seed"]) for r in seed1] == [
        ("k-means on PCA50", 0.4, 1), ("DeepCoclustering (RNA)", 0.9, 1),
        ("DeepCoclustering (RNA), k estimated", 0.7, 1)]
    summary = {e["method"]: e["ari"][0] for e in out["datasets"]["d"]["summary"]}
    assert summary["k-means on PCA50"] == pytest.approx(0.4) and summary["DeepCoclustering (RNA)"] == pytest.approx(0.5)
    assert out["runs"]["d, DeepCoclustering rows only"]["seeds"] == [1]


def test_ours_only_adds_the_scaling_ablation_when_asked(monkeypatch):
    previous = {"datasets": {"d": {"per_seed": [[{"method": "DeepCoclustering (RNA)", "seed": 0}]]}}}
    seen = []

    def fake_ours(X, labels, views, *, scaling_ablation, **kw):
        seen.append(scaling_ablation)
        return [{"method": "DeepCoclustering (RNA)", "uses_true_k": True, "ari": 0.5, "nmi": 0.5,
                 "n_clusters_found": 3, "time_s": 1.0, "cpu_s": 1.0}], {}

    monkeypatch.setattr(deep_accuracy, "load", lambda name, data_dir: (None, None, {}, None))
    monkeypatch.setattr(deep_accuracy, "ours", fake_ours)
    deep_accuracy.rerun_ours(previous, ["d"], "unused", seeds=[0])
    deep_accuracy.rerun_ours(previous, ["d"], "unused", seeds=[0], scaling_ablation=True)
    assert seen == [False, True]


def test_ours_only_refuses_seeds_without_an_earlier_run(monkeypatch):
    previous = {"datasets": {"d": {"per_seed": [[{"method": "k-means on PCA50", "seed": 0}]]}}}
    with pytest.raises(ValueError, match=r"seeds \[3\] have no earlier run"):
        deep_accuracy.rerun_ours(previous, ["d"], "unused", seeds=[3])


def test_scaling_ablation_only_adds_the_shared_rows_and_keeps_every_other_row(monkeypatch):
    shared = f"DeepCoclustering (RNA), {deep_accuracy.SHARED}"
    previous = {"datasets": {"d": {"per_seed": [[
        {"method": "k-means on PCA50", "uses_true_k": True, "ari": 0.4, "nmi": 0.5, "n_clusters_found": 3,
         "time_s": 1.0, "cpu_s": 1.0, "seed": 0},
        {"method": "DeepCoclustering (RNA)", "uses_true_k": True, "ari": 0.6, "nmi": 0.5, "n_clusters_found": 3,
         "time_s": 1.0, "cpu_s": 1.0, "seed": 0}]]}}}
    selected = []

    def fake_ours(X, labels, views, *, scaling_ablation, select, **kw):
        selected.append([m for m in ("DeepCoclustering (RNA)", shared) if select(m)])
        return [{"method": shared, "uses_true_k": True, "ari": 0.7, "nmi": 0.5, "n_clusters_found": 3,
                 "time_s": 1.0, "cpu_s": 1.0}], {}

    monkeypatch.setattr(deep_accuracy, "load", lambda name, data_dir: (None, None, {}, None))
    monkeypatch.setattr(deep_accuracy, "ours", fake_ours)
    out = deep_accuracy.rerun_ours(previous, ["d"], "unused", seeds=[0], scaling_ablation_only=True)
    assert selected == [[shared]]  # only the ablation is fitted
    assert [(r["method"], r["ari"]) for r in out["datasets"]["d"]["per_seed"][0]] == [
        ("k-means on PCA50", 0.4), ("DeepCoclustering (RNA)", 0.6), (shared, 0.7)]
    assert f"d, {deep_accuracy.SHARED} rows only" in out["runs"]


def test_ours_keeps_only_the_selected_fits(monkeypatch):
    pytest.importorskip("torch")  # ours imports the deep package
    fitted = []

    class FakeModel:
        def __init__(self, k, m, **kw):
            self.kw = kw

        def fit(self, X, row_views=None):
            fitted.append(self.kw.get("feature_scaling", "per_feature"))
            self.row_labels_ = np.zeros(4, dtype=int)
            self.n_epochs_, self.likelihood_, self.n_row_clusters_ = 1, "nb", 1
            return self

    import coclust_deep.deep as deep
    monkeypatch.setattr(deep, "DeepCoclustering", FakeModel)
    rows, _ = deep_accuracy.ours(np.ones((4, 3)), np.array([0, 0, 1, 1]), {}, estimate_k=True,
                                 scaling_ablation=True, select=lambda m: deep_accuracy.SHARED in m)
    assert fitted == ["shared"] and [r["method"] for r in rows] == [f"DeepCoclustering (RNA), {deep_accuracy.SHARED}"]
