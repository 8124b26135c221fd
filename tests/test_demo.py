"""The demo command: python -m coclust_deep / coclust-deep."""
import contextlib
import io
import subprocess
import sys

import pytest

from coclust_deep.__main__ import main

PNG_MAGIC = b"\x89PNG"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "demo.png"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["--out", str(out), "--no-progress", "--n-init", "2"])
    return code, out, stdout.getvalue(), stderr.getvalue()


@pytest.mark.slow
def test_demo_writes_png(demo_run):
    code, out, _, _ = demo_run
    assert code == 0
    assert out.read_bytes()[:4] == PNG_MAGIC


@pytest.mark.slow
def test_demo_prints_summary(demo_run):
    _, out, printed, _ = demo_run
    for expected in ("ARI vs bulk_labels", "ICL", "cell clusters", "gene clusters", str(out)):
        assert expected in printed


@pytest.mark.slow
def test_demo_progress_bar_switched_off(demo_run):
    assert "coclust-deep demo" not in demo_run[3]


@pytest.mark.slow
def test_demo_ari_beats_chance(demo_run):
    line = next(x for x in demo_run[2].splitlines() if x.startswith("ARI vs bulk_labels"))
    assert float(line.split()[3]) > 0.4  # Leiden on the shipped graph: ~0.48; chance: ~0


def test_module_entry_point_help():
    result = subprocess.run([sys.executable, "-m", "coclust_deep", "--help"], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    assert "--no-progress" in result.stdout and "--out" in result.stdout


@pytest.mark.parametrize("argv", [["--n-row-clusters", "0"], ["--n-init", "0"], ["--family", "beta"],
                                  ["--seed", "-1"], ["--top-genes", "x"], ["--out", "demo.xyz"],
                                  ["--out", "/no/such/folder/demo.png"]],
                         ids=["g0", "n_init0", "family", "seed", "top_genes", "suffix", "folder"])
def test_bad_arguments_are_usage_errors_before_the_fit(argv, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(argv + ["--no-progress"])
    assert exit_info.value.code == 2
    assert "coclust-deep: error: " in capsys.readouterr().err


def test_recover_counts_inverts_log_normalisation():
    sc = pytest.importorskip("scanpy")
    import numpy as np

    from coclust_deep.datasets import recover_counts

    adata = sc.datasets.pbmc68k_reduced()
    counts = recover_counts(adata)
    assert np.all(counts.data == np.round(counts.data)) and counts.data.min() >= 1
    libsize = np.asarray(counts.sum(axis=1)).ravel()
    rebuilt = np.log1p(counts.multiply(1e4 / adata.obs["n_counts"].to_numpy()[:, None]).toarray())
    np.testing.assert_allclose(rebuilt, adata.raw.X.toarray(), atol=1e-3)
    assert np.all(libsize <= adata.obs["n_counts"].to_numpy())  # a gene subset of each library


def test_recover_counts_rejects_other_normalisations():
    sc = pytest.importorskip("scanpy")
    from coclust_deep.datasets import recover_counts

    adata = sc.datasets.pbmc68k_reduced()
    adata.obs["n_counts"] = adata.obs["n_counts"] * 1.37
    with pytest.raises(ValueError, match="pass the counts as a layer"):
        recover_counts(adata)
