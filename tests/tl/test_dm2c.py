"""tl.dm2c: labels with one meaning in both modalities, embeddings, MuData, obsm views, h5ad, bad input."""
import anndata as ad
import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from coclust_deep import tl  # noqa: E402
from coclust_deep.deep import DM2C  # noqa: E402
from coclust_deep.tl._skeleton import size_order  # noqa: E402
from tests.deep.test_dm2c import TINY, unpaired_mixture  # noqa: E402

KW = {k: v for k, v in TINY.items() if k != "random_state"}


@pytest.fixture
def pair():
    """Cells of modality A (30 genes) and other cells of modality B (12 proteins), as two AnnData."""
    X_a, X_b, y_a, y_b = unpaired_mixture()
    rna = ad.AnnData(X_a, obs=pd.DataFrame({"truth": y_a}, index=[f"rna{i}" for i in range(len(y_a))]),
                     var=pd.DataFrame(index=[f"g{j}" for j in range(30)]))
    protein = ad.AnnData(X_b, obs=pd.DataFrame({"truth": y_b}, index=[f"adt{i}" for i in range(len(y_b))]),
                         var=pd.DataFrame(index=[f"p{j}" for j in range(12)]))
    return rna, protein


def test_writes_the_estimators_labels_and_embeddings_into_both(pair):
    rna, protein = pair
    model = DM2C(3, random_state=0, **KW).fit(rna.X, protein.X)
    tl.dm2c(rna, protein, 3, **KW)
    # one numbering for both modalities, by the clusters' sizes over all cells ("0" the largest)
    new_of_old = np.argsort(size_order(np.r_[model.labels_a_, model.labels_b_], 3))
    np.testing.assert_array_equal(rna.obs["dm2c"].astype(int), new_of_old[model.labels_a_])
    np.testing.assert_array_equal(protein.obs["dm2c"].astype(int), new_of_old[model.labels_b_])
    np.testing.assert_allclose(rna.uns["dm2c"]["cluster_centers"], model.cluster_centers_[np.argsort(new_of_old)])
    np.testing.assert_allclose(protein.obsm["X_dm2c"], model.embedding_b_, atol=1e-6)
    assert rna.uns["dm2c"]["modality"] == "a" and protein.uns["dm2c"]["likelihood"] == "gaussian"
    assert rna.uns["dm2c"]["params"]["tool"] == "dm2c" and rna.uns["dm2c"]["params"]["n_clusters"] == 3


def test_matched_readout_writes_each_modality_s_own_centres(pair):
    rna, protein = pair
    model = DM2C(3, readout="matched", random_state=0, **KW).fit(rna.X, protein.X)
    tl.dm2c(rna, protein, 3, readout="matched", **KW)
    old_of_new = size_order(np.r_[model.labels_a_, model.labels_b_], 3)
    np.testing.assert_allclose(rna.uns["dm2c"]["cluster_centers"], model.cluster_centers_[old_of_new])
    np.testing.assert_allclose(protein.uns["dm2c"]["cluster_centers"], model.cluster_centers_b_[old_of_new])


def test_copy_returns_both_copies_and_leaves_the_inputs_alone(pair):
    rna, protein = pair
    before = rna.X.copy()
    out_a, out_b = tl.dm2c(rna, protein, 3, copy=True, **KW)
    assert "dm2c" not in rna.obs and "dm2c" not in protein.obs and "dm2c" in out_b.obs
    np.testing.assert_array_equal(rna.X, before)


def test_a_protein_view_in_obsm_gives_the_same_result_as_the_matrix(pair):
    rna, protein = pair
    holder = ad.AnnData(np.zeros((protein.n_obs, 1)), obs=protein.obs.copy())
    holder.obsm["protein"] = protein.X.copy()
    tl.dm2c(rna, protein, 3, **KW)
    expected = rna.obs["dm2c"].copy()
    tl.dm2c(rna, holder, 3, view_b="protein", overwrite=True, **KW)
    np.testing.assert_array_equal(rna.obs["dm2c"], expected)
    np.testing.assert_array_equal(holder.obs["dm2c"], protein.obs["dm2c"])
    assert holder.uns["dm2c"]["params"]["view_b"] == "protein"
    with pytest.raises(ValueError, match="drop layer_b"):
        tl.dm2c(rna, holder, 3, view_b="protein", layer_b="counts", overwrite=True, **KW)


def test_mudata_with_two_disjoint_modalities(pair):
    md = pytest.importorskip("mudata")
    rna, protein = pair
    mdata = md.MuData({"rna": rna, "protein": protein})
    tl.dm2c(mdata, 3, **KW)
    assert mdata.obs["dm2c"].notna().all() and mdata.obsm["X_dm2c"].shape == (rna.n_obs + protein.n_obs, 2)
    assert mdata.uns["dm2c"]["mod"] == ["rna", "protein"]
    rows = mdata.obs_names.get_indexer(mdata.mod["protein"].obs_names)
    np.testing.assert_array_equal(mdata.obs["dm2c"].iloc[rows].astype(str), mdata.mod["protein"].obs["dm2c"].astype(str))
    swapped = tl.dm2c(mdata, 3, mod=("protein", "rna"), key_added="swapped", copy=True, **KW)
    assert swapped.mod["protein"].uns["swapped"]["modality"] == "a" and "swapped" not in mdata.obs


def test_mudata_with_shared_cells_is_refused(pair):
    md = pytest.importorskip("mudata")
    rna, protein = pair
    protein.obs_names = rna.obs_names[: protein.n_obs]
    with pytest.raises(ValueError, match="share 200 cells"):
        tl.dm2c(md.MuData({"rna": rna, "protein": protein}), 3, **KW)


def test_h5ad_round_trip(pair, tmp_path):
    rna, protein = pair
    tl.dm2c(rna, protein, 3, **KW)
    protein.write_h5ad(tmp_path / "protein.h5ad")
    back = ad.read_h5ad(tmp_path / "protein.h5ad")
    np.testing.assert_array_equal(back.obs["dm2c"], protein.obs["dm2c"])
    assert back.uns["dm2c"]["params"]["tool"] == "dm2c"


@pytest.mark.parametrize("call, error, match", [
    (lambda a, b: tl.dm2c(a, b, **KW), TypeError, "needs n_clusters"),
    (lambda a, b: tl.dm2c(a, a, 3, **KW), ValueError, "same object"),
    (lambda a, b: tl.dm2c(a, None, 3, **KW), TypeError, "two AnnData"),
    (lambda a, b: tl.dm2c(a, b, 3, mod=("x", "y"), **KW), TypeError, "mod= applies to a MuData"),
    (lambda a, b: tl.dm2c(a, b, 3, view_b=["x", "y"], **KW), TypeError, "view_b must be one key"),
])
def test_bad_calls_raise_clear_errors(pair, call, error, match):
    with pytest.raises(error, match=match):
        call(*pair)


def test_does_not_overwrite_user_columns(pair):
    rna, protein = pair
    protein.obs["dm2c"] = "mine"
    with pytest.raises(ValueError, match="dm2c"):
        tl.dm2c(rna, protein, 3, **KW)
    assert (protein.obs["dm2c"] == "mine").all() and "dm2c" not in rna.obs


def test_both_modalities_carry_every_cluster_in_one_order(pair):
    # TINY training leaves B in one cluster: its categorical must still list all three, as A's
    rna, protein = pair
    with pytest.warns(RuntimeWarning, match="modality B is in one cluster"):
        tl.dm2c(rna, protein, 3, **KW)
    assert protein.obs["dm2c"].nunique() == 1
    assert list(rna.obs["dm2c"].cat.categories) == list(protein.obs["dm2c"].cat.categories) == ["0", "1", "2"]


def test_mudata_modalities_and_global_obs_carry_every_cluster(pair):
    md = pytest.importorskip("mudata")
    rna, protein = pair
    mdata = md.MuData({"rna": rna, "protein": protein})
    with pytest.warns(RuntimeWarning, match="one cluster"):
        tl.dm2c(mdata, 3, **KW)
    for obs in (mdata.obs, mdata.mod["rna"].obs, mdata.mod["protein"].obs):
        assert list(obs["dm2c"].cat.categories) == ["0", "1", "2"]


def test_view_typo_names_the_argument_given(pair):
    rna, protein = pair
    with pytest.raises(KeyError, match=r"view_b \(modality B\): 'protien' is not in adata\.obsm") as info:
        tl.dm2c(rna, protein, 3, view_b="protien", **KW)
    assert "obs_views" not in str(info.value)
