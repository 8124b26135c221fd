"""Properties of the torch tools on generated AnnData (hypothesis; profiles in conftest.py).

tl.deep_cocluster, tl.deep_cluster and tl.dm2c with the tiny models of test_deep.py and one epoch: each call
writes its results (categorical labels with no missing value, finite embeddings and soft assignments) or
refuses clearly and writes nothing; either way the AnnData's X and layers are untouched. Each tool is a spec
``spec(draw, X, k) -> (adatas, call, check)``: ``call()`` runs the tool, ``check()`` tests what it wrote.
"""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from coclust_deep import tl  # noqa: E402

from .conftest import FLOAT32_ATOL, check_posterior, clear_refusal  # noqa: E402
from .test_deep import CLUSTERS, DEEP_MATRICES, TINY  # noqa: E402
from .anndata_checks import (  # noqa: E402
    assert_matrices_unchanged,
    assert_nothing_written,
    call_quietly,
    check_labels_column,
    check_written_arrays,
    contents,
    make_adata,
    matrices_of,
    with_dtype,
)

torch.set_num_threads(1)  # as tests/deep: tiny nets on shared cores

# per tool and property, 2/5 of the profile's (ci: 10; thorough: 100): 6 tools x 2 properties
MAX_EXAMPLES = max(1, settings.default.max_examples * 2 // 5)

SMALL = {k: v for k, v in TINY.items() if k != "random_state"}  # the tools pass their own random_state


def _check_soft(Q, n_items, what):
    check_posterior(Q, n_items, np.asarray(Q).shape[1], what, FLOAT32_ATOL)  # k may be estimated


def _deep_cocluster(draw, X, k):
    adata = make_adata(with_dtype(X, draw))
    m = draw(CLUSTERS)
    g = draw(st.sampled_from([k, None]))  # None: estimated by leiden on the pretrained embedding
    kw = dict(layer=draw(st.sampled_from([None, "counts"])), likelihood=draw(st.sampled_from(["auto", "gaussian"])),
              obs_views=draw(st.sampled_from([None, ["X_before"]])), pretrain_epochs=1, epochs=1, **SMALL)

    def check():
        check_labels_column(adata.obs["deep"], "obs['deep']")
        check_labels_column(adata.var["deep"], "var['deep']")
        check_written_arrays(adata, "deep")
        _check_soft(adata.obsm["deep_row_posterior"], adata.n_obs, "deep_row_posterior")
        _check_soft(adata.varm["deep_column_posterior"], adata.n_vars, "deep_column_posterior")
    return (adata,), lambda: tl.deep_cocluster(adata, g, m, **kw), check


def _deep_cluster(method):
    def spec(draw, X, k):
        adata = make_adata(with_dtype(X, draw))
        kw = dict(layer=draw(st.sampled_from([None, "counts"])))
        if method in ("dec", "idec"):
            kw.update(likelihood=draw(st.sampled_from(["gaussian", "nb", "zinb"])), pretrain_epochs=1, epochs=1,
                      **SMALL)
        elif method == "deepcluster":
            kw.update(epochs=1, passes_per_epoch=1, pca_components=draw(st.integers(1, 3)),
                      likelihood=draw(st.sampled_from(["gaussian", "nb"])), **SMALL)
        else:  # mmdc
            kw.update(obs_views=draw(st.sampled_from([None, ["X_before"]])), epochs=1,
                      pretrain_epochs=draw(st.integers(0, 1)), hidden=(8, 4), batch_size=4, n_init=1,
                      device="cpu", verbose=False)

        def check():
            check_labels_column(adata.obs[method], f"obs[{method!r}]")
            check_written_arrays(adata, method)
            if method in ("dec", "idec"):
                _check_soft(adata.obsm[method + "_row_posterior"], adata.n_obs, method + "_row_posterior")
        return (adata,), lambda: tl.deep_cluster(adata, method, k, **kw), check
    return spec


def _dm2c(draw, X_a, k):
    X_b, _ = draw(DEEP_MATRICES)
    adata_a, adata_b = make_adata(with_dtype(X_a, draw)), make_adata(with_dtype(X_b, draw))
    adata_b.obs_names = [f"b{i}" for i in range(adata_b.n_obs)]
    kw = dict(generator_hidden=(8,), critic_hidden=(8,), pretrain_epochs=1, epochs=1, critic_steps=1,
              readout=draw(st.sampled_from(["kmeans", "ot", "matched"])),
              layer_b=draw(st.sampled_from([None, "counts"])), **SMALL)

    def check():
        for side, adata in (("a", adata_a), ("b", adata_b)):
            check_labels_column(adata.obs["dm2c"], f"adata_{side}.obs['dm2c']")
            check_written_arrays(adata, "dm2c")
    return (adata_a, adata_b), lambda: tl.dm2c(adata_a, adata_b, k, **kw), check


TOOLS = {
    "deep_cocluster": _deep_cocluster,
    "deep_cluster-dec": _deep_cluster("dec"),
    "deep_cluster-idec": _deep_cluster("idec"),
    "deep_cluster-mmdc": _deep_cluster("mmdc"),
    "deep_cluster-deepcluster": _deep_cluster("deepcluster"),
    "dm2c": _dm2c,
}


@pytest.mark.parametrize("name", TOOLS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=DEEP_MATRICES, k=CLUSTERS, extra=st.data())
def test_tl_deep_writes_results_or_refuses_clearly_and_writes_nothing(name, data, k, extra):
    X, _ = data
    adatas, call, check = TOOLS[name](extra.draw, X, k)
    before = [contents(adata) for adata in adatas]
    err = call_quietly(call)
    if err is not None:
        assert clear_refusal(err), f"{type(err).__name__} from inside a dependency: {err}"
        for i, (adata, state) in enumerate(zip(adatas, before)):
            assert_nothing_written(adata, state, f"tl.{name} (AnnData {i})")
        return
    check()


@pytest.mark.parametrize("name", TOOLS)
@settings(max_examples=MAX_EXAMPLES)
@given(data=DEEP_MATRICES, k=CLUSTERS, extra=st.data())
def test_tl_deep_never_touches_x_or_layers(name, data, k, extra):
    X, _ = data
    adatas, call, _ = TOOLS[name](extra.draw, X, k)
    before = [matrices_of(adata) for adata in adatas]
    call_quietly(call)  # refused or not
    for i, (adata, state) in enumerate(zip(adatas, before)):
        assert_matrices_unchanged(adata, state, f"tl.{name} (AnnData {i})")
