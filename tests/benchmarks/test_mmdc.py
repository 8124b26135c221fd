"""``python -m benchmarks.mmdc --quick`` runs and writes the expected JSON (no timing or accuracy assertions)."""
import json

import numpy as np
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


def _result_file(path, seeds):
    runs = [{"seed": s, "acc": 0.5 + s / 10, "nmi": 0.5, "ari": 0.4, "cpu_s": 1.0, "time_s": 2.0} for s in seeds]
    entry = {"shape": [4, 2], "methods": {"m": {"runs": runs}}, "machine": {"seeds": seeds}}
    path.write_text(json.dumps({"parts": {"digits": entry}}))
    return str(path)


def test_combine_pools_the_seeds_of_parallel_runs(tmp_path):
    from benchmarks.mmdc import combine

    parts = combine([_result_file(tmp_path / "a.json", [1]), _result_file(tmp_path / "b.json", [0, 2])])
    method = parts["digits"]["methods"]["m"]
    assert [run["seed"] for run in method["runs"]] == [0, 1, 2]
    assert method["summary"]["acc"]["mean"] == pytest.approx(0.6) and method["summary"]["acc"]["std"] > 0
    assert [p["seeds"] for p in parts["digits"]["machine"]["processes"]] == [[1], [0, 2]]


def test_combine_refuses_a_seed_given_twice(tmp_path):
    from benchmarks.mmdc import combine

    with pytest.raises(ValueError, match="repeat seeds"):
        combine([_result_file(tmp_path / "a.json", [0]), _result_file(tmp_path / "b.json", [0])])


def test_combine_reads_the_printed_runs_of_a_stopped_run(tmp_path):
    from benchmarks.mmdc import combine

    log = tmp_path / "stopped.log"
    log.write_text("digits | m | seed 3 | ACC 0.900 NMI 0.800 ARI 0.700 | CPU 12s | load 2.5\nTraceback ...\n")
    parts = combine([_result_file(tmp_path / "a.json", [0]), str(log)])
    method = parts["digits"]["methods"]["m"]
    assert [run["seed"] for run in method["runs"]] == [0, 3] and method["runs"][1]["nmi"] == 0.8
    assert "time_s" not in method["summary"] and method["summary"]["cpu_s"]["mean"] == pytest.approx(6.5)
    assert parts["digits"]["shape"] == [4, 2]


def test_quick_unbalanced_run_compares_both_refinements_on_both_simulators(run_quick):
    result, _ = run_quick("mmdc", "--parts", "unbalanced", "--seeds", "0")
    methods = result["parts"]["unbalanced"]["methods"]
    assert set(methods) == {f"{generator}: {name}" for generator in ("counts", "gaussian", "splat") for name in (
        "MMDC (defaults: refinement on the features)",
        "MMDC with 50 epochs of pretraining on the auxiliary task (pretrain_epochs=50)",
        "MMDC reading 50 principal components (n_pcs=50)", "MMDC, refinement on the outputs (the authors')", "MMDC, genes standardised one by one (the earlier default)",
        "k-means")}


@pytest.mark.parametrize("make, shares", [("unbalanced_counts", "UNBALANCED_SHARES"),
                                          ("unbalanced_gaussian", "UNBALANCED_SHARES"),
                                          ("unbalanced_splat", "SPLAT_SHARES")])
def test_unbalanced_simulators_draw_the_stated_shares(make, shares):
    import benchmarks.mmdc as bench

    X, types = getattr(bench, make)(0, n=20000, d=60)
    assert X.shape == (20000, 60) and np.isfinite(X).all()
    np.testing.assert_allclose(np.bincount(types, minlength=8) / len(types), getattr(bench, shares), atol=0.01)
