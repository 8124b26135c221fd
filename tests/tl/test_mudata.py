"""tl tools on a MuData: mod= picks the modality read and written; 'mod:key' view specs."""
import subprocess
import sys

import anndata as ad
import numpy as np
import pytest

from coclust_deep import tl
from coclust_deep.datasets import make_lbm
from coclust_deep.tl._mudata import accept_mudata
from coclust_deep.tl._views import read_views

mudata = pytest.importorskip("mudata")

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture
def mdata():
    X, rows, _ = make_lbm(60, 40, 3, 2, family="poisson", signal=0.9, random_state=0)
    rna = ad.AnnData(X)
    rna.obs_names = [f"cell{i}" for i in range(60)]
    rna.obs["truth"] = rows.astype(str)
    protein = np.random.default_rng(0).normal(size=(60, 4)) + 3.0 * np.eye(4)[rows]
    prot = ad.AnnData(protein[::-1].copy())  # stored in another cell order
    prot.obs_names = rna.obs_names[::-1]
    prot.obsm["X_pca"] = prot.X[:, :2].copy()
    return mudata.MuData({"rna": rna, "prot": prot})


def test_tool_reads_and_writes_the_modality(mdata):
    tl.lbm(mdata, 3, 2, mod="rna", n_init=2, random_state=0)
    assert mdata["rna"].obs["lbm"].nunique() == 3 and "lbm" in mdata["rna"].uns
    assert "lbm" not in mdata["prot"].obs


def test_same_result_as_the_modality_itself(mdata):
    direct = mdata["rna"].copy()
    tl.lbm(direct, 3, 2, n_init=2, random_state=0)
    tl.lbm(mdata, 3, 2, mod="rna", n_init=2, random_state=0)
    assert mdata["rna"].obs["lbm"].equals(direct.obs["lbm"])


def test_copy_returns_a_new_mudata(mdata):
    out = tl.lbm(mdata, 3, 2, mod="rna", n_init=2, copy=True)
    assert isinstance(out, mudata.MuData) and "lbm" in out["rna"].obs
    assert "lbm" not in mdata["rna"].obs


def test_mod_required_with_several_modalities(mdata):
    with pytest.raises(ValueError, match="pass mod= naming"):
        tl.lbm(mdata, 3, 2)
    with pytest.raises(KeyError, match="not a modality"):
        tl.lbm(mdata, 3, 2, mod="atac")


def test_mod_with_an_anndata_raises(mdata):
    with pytest.raises(ValueError, match="mod='rna' names a modality of a MuData"):
        tl.lbm(mdata["rna"], 3, 2, mod="rna")


def test_functions_without_mod_name_the_fix(mdata):
    from coclust_deep import pl

    with pytest.raises(TypeError, match=r"mdata\['rna'\]"):
        pl.blocks(mdata)


def test_every_tool_signature_has_mod():
    import inspect

    for name in ("lbm", "select_lbm", "cocluster", "deep_cocluster", "add_view", "gene_modules", "score_modules"):
        assert "mod" in inspect.signature(getattr(tl, name)).parameters, name


def test_view_spec_reads_another_modality_aligned_by_cell(mdata):
    tl.add_view(mdata, "protein", "prot:X", mod="rna")
    stored = mdata["rna"].obsm["view_protein"]
    np.testing.assert_array_equal(stored, mdata["prot"].X[::-1])
    tl.add_view(mdata, "pca", "prot:X_pca", mod="rna")
    np.testing.assert_array_equal(mdata["rna"].obsm["view_pca"], mdata["prot"].obsm["X_pca"][::-1])


def test_read_views_resolves_specs_inside_a_tool(mdata):
    @accept_mudata
    def tool(adata, *, views=None):
        return read_views(adata, views, "obs")

    found, used = tool(mdata, views=["prot:X", "prot:X_pca"], mod="rna")
    assert sorted(found) == ["prot", "prot_X_pca"] and used == ["prot:X", "prot:X_pca"]
    np.testing.assert_array_equal(found["prot"], mdata["prot"].X[::-1])
    with pytest.raises(KeyError, match="mod:key"):
        read_views(mdata["rna"], ["prot:X"], "obs")


def test_view_spec_and_another_key_raise(mdata):
    with pytest.raises(ValueError, match="pass one of them"):
        tl.add_view(mdata, "protein", "prot:X", mod="rna", key="X_pca")


def test_view_spec_with_missing_cells_raises(mdata):
    small = mudata.MuData({"rna": mdata["rna"], "prot": mdata["prot"][:50].copy()})
    with pytest.raises(ValueError, match="lacks 10 of the 60 cells"):
        tl.add_view(small, "protein", "prot:X", mod="rna")


def test_mudata_stays_optional():
    code = "import coclust_deep.tl, coclust_deep.pl, sys; assert 'mudata' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=120).returncode == 0
