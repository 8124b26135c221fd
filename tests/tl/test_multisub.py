"""tl.multisub: one obs column, obsm embedding and uns entry per concept; h5ad-safe; never clobbers user data."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from coclust_deep import tl  # noqa: E402
from coclust_deep.metrics import ari  # noqa: E402

FAST = dict(align_epochs=8, cluster_epochs=4, verbose=False)
CONCEPTS = {"shape": {"round": ["g0", "g1"], "square": ["g5", "g6"], "long": ["g10", "g11"]},
            "colour": {"red": ["g15", "g16"], "green": ["g20", "g21"]}}


@pytest.fixture
def adata():
    """Two independent partitions of 240 cells, each raising its own genes (as tests/deep/test_multisub.py)."""
    rng = np.random.default_rng(0)
    shape, colour = rng.integers(0, 3, 240), rng.integers(0, 2, 240)
    X = rng.normal(size=(240, 40)).astype(np.float32)
    for k in range(3):
        X[shape == k, 5 * k:5 * k + 5] += 2.0
    for k in range(2):
        X[colour == k, 15 + 5 * k:20 + 5 * k] += 2.0
    out = ad.AnnData(X, var=pd.DataFrame(index=[f"g{j}" for j in range(40)]))
    out.obs["shape"], out.obs["colour"] = shape, colour
    return out


def test_writes_one_clustering_and_embedding_per_concept(adata):
    tl.multisub(adata, CONCEPTS, **FAST)
    assert list(adata.obs["multisub_colour"].cat.categories) == ["red", "green"]
    assert set(adata.obs["multisub_shape"].cat.categories) <= {"round", "square", "long"}
    assert ari(adata.obs["shape"], adata.obs["multisub_shape"]) >= 0.9
    assert ari(adata.obs["colour"], adata.obs["multisub_colour"]) >= 0.9
    assert adata.obsm["X_multisub_shape"].shape == (240, 6) and adata.obsm["X_multisub_colour"].shape == (240, 4)
    params = adata.uns["multisub"]["params"]
    assert params["tool"] == "multisub" and params["random_state"] == 0 and "concepts" in params
    assert list(adata.uns["multisub"]["concepts"]) == ["shape", "colour"]
    assert list(adata.uns["multisub_colour"]["proxies"]) == ["red", "green"]
    assert adata.uns["multisub_colour"]["proxy_weights"].shape == (240, 2)


def test_background_and_h5ad_round_trip(adata, tmp_path):
    tl.multisub(adata, {"colour": CONCEPTS["colour"]}, background=True, key_added="ms", **FAST)
    assert list(adata.uns["ms_colour"]["proxies"]) == ["red", "green", "none"]
    adata.write_h5ad(tmp_path / "multisub.h5ad")
    back = ad.read_h5ad(tmp_path / "multisub.h5ad")
    assert back.obs["ms_colour"].equals(adata.obs["ms_colour"])
    np.testing.assert_array_equal(back.obsm["X_ms_colour"], adata.obsm["X_ms_colour"])
    assert back.uns["ms"]["params"]["tool"] == "multisub"


def test_unknown_genes_are_listed(adata):
    concepts = {"colour": {"red": ["g15", "NOT_A_GENE"], "green": ["g20"]}}
    with pytest.raises(ValueError, match=r"\['NOT_A_GENE'\]"):
        tl.multisub(adata, concepts, **FAST)
    assert "multisub_colour" not in adata.obs and "multisub" not in adata.uns


def test_copy_leaves_the_input_untouched(adata):
    before = adata.X.copy()
    out = tl.multisub(adata, {"colour": CONCEPTS["colour"]}, copy=True, **FAST)
    assert "multisub_colour" in out.obs and "multisub_colour" not in adata.obs
    np.testing.assert_array_equal(adata.X, before)


def test_rerun_drops_concepts_it_does_not_write_again(adata):
    tl.multisub(adata, CONCEPTS, **FAST)
    tl.multisub(adata, {"colour": CONCEPTS["colour"]}, **FAST)
    assert "multisub_shape" not in adata.obs and "X_multisub_shape" not in adata.obsm
    assert "multisub_shape" not in adata.uns and "multisub_colour" in adata.obs


def test_user_columns_are_protected(adata):
    adata.obs["multisub_colour"] = "a user's notes"
    with pytest.raises(ValueError, match=r"overwrite obs\['multisub_colour'\]"):
        tl.multisub(adata, {"colour": CONCEPTS["colour"]}, **FAST)
    tl.multisub(adata, {"colour": CONCEPTS["colour"]}, overwrite=True, **FAST)
    assert list(adata.obs["multisub_colour"].cat.categories) == ["red", "green"]


def test_bad_concepts_raise(adata):
    with pytest.raises(ValueError, match="non-empty dict"):
        tl.multisub(adata, {}, **FAST)
    with pytest.raises(ValueError, match="single proxy"):
        tl.multisub(adata, {"colour": {"red": ["g15"]}}, **FAST)


@pytest.mark.parametrize("concepts", [{"shape/size": CONCEPTS["shape"]},
                                      {"colour": {"red/pink": ["g15", "g16"], "green": ["g20", "g21"]}}],
                         ids=["concept", "proxy"])
def test_a_slash_in_a_concept_or_proxy_name_raises(adata, concepts):
    with pytest.raises(ValueError, match="contains '/'|contain '/'"):
        tl.multisub(adata, concepts, **FAST)


def test_a_gene_list_concept_points_to_the_gene_set_form(adata):
    # read as text keywords, a list of genes would load a text encoder and fail on the dimensions
    with pytest.raises(ValueError, match=r"all gene names.*'cell type': \{'g0': \['g0'\], 'g5': \['g5'\]\}"):
        tl.multisub(adata, {"cell type": ["g0", "g5"]}, **FAST)


def test_a_proxy_to_one_gene_string_points_to_the_gene_set_form(adata):
    with pytest.raises(ValueError, match=r"To use genes as proxies write \{'cell type': \{'T': \['g0'\]"):
        tl.multisub(adata, {"cell type": {"T": "g0", "B": "g5"}}, **FAST)


def test_a_plain_list_of_genes_as_concepts_points_to_the_dict_form(adata):
    with pytest.raises(ValueError, match=r"got a list; for genes as proxies write e\.g\. \{'cell type'"):
        tl.multisub(adata, ["g0", "g5"], **FAST)


def test_ctrl_c_propagates_and_keeps_every_earlier_concept(adata, monkeypatch):
    from ..deep.test_train import _interrupt_on_update

    tl.multisub(adata, CONCEPTS, **FAST)
    before = {key: adata.obs[key].copy() for key in ("multisub_shape", "multisub_colour")}
    _interrupt_on_update(monkeypatch, 12)  # after the first epochs: MultiSub keeps them and returns
    with pytest.raises(KeyboardInterrupt, match="nothing was written"), pytest.warns(RuntimeWarning):
        tl.multisub(adata, CONCEPTS, **{**FAST, "random_state": 5})
    for key, labels in before.items():
        assert adata.obs[key].equals(labels), key
