"""``python -m benchmarks.lbm_out_of_core --quick`` fits a CSR zarr store on a LocalCluster and reports every figure."""
import math

import pytest

pytest.importorskip("distributed")
pytest.importorskip("zarr")


@pytest.mark.slow
def test_quick_run_reports_every_figure(run_quick):
    result, _ = run_quick("lbm_out_of_core", "--cases", "csr", "--no-scaling")
    (case,) = result["cases"]
    assert case["case"] == "csr" and case["row_blocks"] > 1
    (fit,) = case["fits"]
    assert fit["n_workers"] == 2 and not fit["worker_restarted"]
    assert fit["row_ari"] > 0.9 and fit["col_ari"] > 0.9
    assert len(fit["worker_peak_memory_bytes_distributed"]) == 2 and fit["driver_peak_rss_bytes"] > 0
    steps = fit["floor_and_half_steps"]
    for key in ("read_cold_s", "read_warm_s", "row_half_step_s", "column_half_step_s",
                "row_half_step_over_read_warm", "column_half_step_over_read_warm"):
        assert math.isfinite(steps[key]) and steps[key] > 0, key
    assert case["in_memory"]["same_partition_as_dask"]


def test_scaling_passes_merge_into_the_case_of_the_same_shape_and_keep_its_fits():
    from benchmarks.lbm_out_of_core import merge_scaling

    previous = {"cases": [{"case": "dense", "shape": [10, 4], "fits": [{"fit_s": 3.0}]}]}
    passes = {"runs": [{"n_workers": 1}, {"n_workers": 2}], "speedup_1_to_2_workers": {"read_warm": 1.8}}
    new = {"load_start": (1.0, 1.0, 1.0), "load_end": (2.0, 2.0, 2.0), "cases": [
        {"case": "dense", "shape": [10, 4], "scaling_passes": passes},
        {"case": "csr", "shape": [20, 8], "scaling_passes": passes}]}
    merged = merge_scaling(previous, new)
    dense, csr = merged["cases"]
    assert dense["fits"] == [{"fit_s": 3.0}]
    assert dense["scaling_passes"]["speedup_1_to_2_workers"] == {"read_warm": 1.8}
    assert dense["scaling_passes"]["load_end"] == (2.0, 2.0, 2.0)
    assert csr["case"] == "csr" and "fits" not in csr
