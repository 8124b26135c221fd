"""pl.convergence on every model family: LBM, classic estimators, deep models, and their tl results."""
import matplotlib

matplotlib.use("Agg")

import anndata as ad  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from coclust_deep import InfoCoclustering, LatentBlockModel, pl, tl  # noqa: E402
from coclust_deep.datasets import make_lbm  # noqa: E402

SMALL = dict(latent_dim=4, hidden=(16,), batch_size=32, n_init=2, verbose=False, random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def X():
    return make_lbm(90, 40, 3, 2, family="poisson", signal=0.9, random_state=1)[0]


def _assert_labelled(ax):
    assert ax.get_title() and ax.get_xlabel() and ax.get_ylabel()


def _deep_models():
    deep = pytest.importorskip("coclust_deep.deep")
    return {
        "DEC": deep.DEC(3, pretrain_epochs=3, epochs=3, **SMALL),
        "IDEC": deep.IDEC(3, pretrain_epochs=3, epochs=3, **SMALL),
        "DeepCluster": deep.DeepCluster(3, epochs=3, passes_per_epoch=1, pca_components=2, **SMALL),
        "DeepCoclustering": deep.DeepCoclustering(3, 2, pretrain_epochs=3, epochs=3, **SMALL),
    }


def test_lbm_estimator_and_tl_result(X):
    model = LatentBlockModel(3, 2, n_init=1, random_state=0).fit(X)
    ax = pl.convergence(model)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), model.elbo_history_)
    assert ax.get_title() == "LatentBlockModel: ELBO per iteration" and ax.get_ylabel() == "ELBO"
    adata = ad.AnnData(X)
    tl.lbm(adata, 3, 2, n_init=1)
    ax = pl.convergence(adata)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), adata.uns["lbm"]["elbo_history"])
    _assert_labelled(ax)


def test_classic_estimator_and_tl_result(X):
    model = InfoCoclustering(3, 2, random_state=0).fit(X)
    ax = pl.convergence(model)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), model.criterion_history_)
    assert ax.get_ylabel() == "criterion"
    adata = ad.AnnData(X)
    tl.cocluster(adata, "info", 3, 2, key_added="info")
    ax = pl.convergence(adata, key="info")
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), adata.uns["info"]["criterion_history"])
    _assert_labelled(ax)


@pytest.mark.parametrize("name", ["DEC", "IDEC", "DeepCluster", "DeepCoclustering"])
def test_deep_model_draws_one_panel_per_phase(name, X):
    model = _deep_models()[name].fit(X)
    phases = list(dict.fromkeys(model.history_["phase"]))
    axes = pl.convergence(model)
    axes = axes if isinstance(axes, list) else [axes]
    assert [ax.get_title() for ax in axes] == [f"{name}: {phase}" for phase in phases]
    for ax, phase in zip(axes, phases):
        _assert_labelled(ax)
        rows = [i for i, p in enumerate(model.history_["phase"]) if p == phase]
        lines = {line.get_label(): line for line in ax.get_lines()}
        np.testing.assert_allclose(lines["loss"].get_ydata(), np.asarray(model.history_["loss"])[rows])
        np.testing.assert_array_equal(lines["loss"].get_xdata(), np.arange(1, len(rows) + 1))


def test_deep_model_single_phase_and_axes_checks(X):
    model = _deep_models()["IDEC"].fit(X)
    ax = pl.convergence(model, phase="train", logy=True)
    assert ax.get_title() == "IDEC: train" and ax.get_yscale() == "log"
    assert {"loss", "reconstruction", "clustering", "label_change"} <= {line.get_label() for line in ax.get_lines()}
    _, axes = plt.subplots(1, 2)
    assert list(pl.convergence(model, ax=axes)) == list(axes)
    with pytest.raises(ValueError, match="2 phase.*one Axes per phase"):
        pl.convergence(model, ax=axes[0])
    with pytest.raises(ValueError, match="phase='finetune' is not in the history"):
        pl.convergence(model, phase="finetune")


def test_tl_deep_cocluster_result_survives_h5ad(X, tmp_path):
    pytest.importorskip("torch")
    adata = ad.AnnData(X)
    tl.deep_cocluster(adata, 3, 2, pretrain_epochs=2, epochs=2, latent_dim=4, hidden=(16,), n_init=2,
                      verbose=False)
    path = tmp_path / "deep.h5ad"
    adata.write_h5ad(path)
    for source in (adata, ad.read_h5ad(path)):
        axes = pl.convergence(source, key="deep")
        assert [ax.get_title() for ax in axes] == ["uns['deep']: pretrain", "uns['deep']: train"]
        loss = np.asarray(adata.uns["deep"]["history"]["loss"])
        lines = {line.get_label(): line for line in axes[1].get_lines()}
        np.testing.assert_allclose(lines["loss"].get_ydata(), loss[2:])
        assert axes[1].get_lines()[0] is lines["loss"]


def test_errors_name_the_problem(X):
    with pytest.raises(ValueError, match="fit it first"):
        pl.convergence(LatentBlockModel())
    with pytest.raises(KeyError, match="uns\\['nope'\\] is absent"):
        pl.convergence(ad.AnnData(X), key="nope")
    with pytest.raises(ValueError, match="phase='train' applies to deep-model histories"):
        pl.convergence([3.0, 2.0, 1.0], phase="train")


def test_mudata_is_refused_with_a_type_error(X):
    mudata = pytest.importorskip("mudata")
    mdata = mudata.MuData({"rna": ad.AnnData(X)})
    tl.lbm(mdata, 3, 2, mod="rna", n_init=1, max_iter=5)
    with pytest.raises(TypeError, match="MuData.*mdata\\['rna'\\]"):
        pl.convergence(mdata, show=False)


def test_none_is_refused_with_a_type_error():
    with pytest.raises(TypeError, match="model_or_adata is None"):
        pl.convergence(None, show=False)
