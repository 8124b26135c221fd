"""``tl.multisub``: one clustering of the cells per concept (Multi-Sub), written into AnnData."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._skeleton import Result, Tool, earlier_result, stop_if_interrupted
from ._utils import check_h5ad_name, get_matrix

MULTISUB = Tool("multisub", writes=())
MULTISUB_CONCEPT = Tool("multisub_concept", writes=("row_labels", "row_embedding"))


def _concept_key(key, concept):
    return f"{key}_{concept}"


@MULTISUB.document
def multisub(
    adata,
    concepts,
    *,
    background=False,
    layer=None,
    use_raw=False,
    mask_var=None,
    use_highly_variable=None,
    key_added="multisub",
    overwrite=False,
    copy=False,
    random_state=0,
    **kw,
):
    """One clustering of the cells per concept, each steered by its proxies (:class:`coclust_deep.deep.MultiSub`).

    Needs torch (``pip install coclust_deep[deep]``). The proxy sets are the
    user's input and replace the LLM of the paper: gene sets are matched to
    ``adata.var_names`` (genes outside the matrix are listed in the error;
    ``unknown_features="drop"`` drops them with a warning instead).

    Parameters
    ----------
    adata
        Annotated data matrix (log-normalised or scaled expression).
    concepts
        ``{{concept name: {{proxy name: [genes]}}}}``, e.g.
        ``{{"cell type": {{"B": ["MS4A1", "CD79A"], "NK": ["GNLY", "NKG7"]}},
        "cell cycle": {{"S": [...], "G2M": [...]}}}}``; the other proxy forms of
        :class:`~coclust_deep.deep.MultiSub` work too. Each concept's number of
        clusters is its number of proxies (plus the background).
    background
        Add a ``"none"`` proxy to every concept (True) or to the concepts
        named, for cells that express none of the concept's sets above
        average (G1 cells for a concept of S and G2M genes).
    {doc_input}
    {doc_key_added}
    {doc_overwrite_copy}
    random_state
        Seed of the model (same seed, same result on CPU).
    **kw
        Further :class:`~coclust_deep.deep.MultiSub` parameters
        (``align_epochs``, ``cluster_epochs``, ``unknown_features``, ``device``,
        ``verbose`` ...).

    Returns
    -------
    ``None``, or the modified copy when ``copy=True``. Writes, for each concept:

    ``adata.obs[key_added + "_" + concept]``
        The concept's clusters, named after its proxies (categorical, in
        the order the proxies were given; empty proxies are left out).
    ``adata.obsm["X_" + key_added + "_" + concept]``
        The cells' embedding in the concept's space.
    ``adata.uns[key_added + "_" + concept]``
        ``proxies`` (the proxy names), ``proxy_features`` (the genes of each
        set) and ``proxy_weights`` (each cell's weights over the proxies).

    and

    {doc_writes}
    ``adata.uns[key_added]``
        Also ``concepts`` (the concept names), ``history`` (loss terms per
        epoch), ``n_epochs`` and ``interrupted``.

    Examples
    --------
    >>> import scanpy as sc
    >>> from coclust_deep import tl
    >>> adata = sc.datasets.pbmc68k_reduced()
    >>> concepts = {{"cell type": {{"B": ["MS4A1", "CD79A"], "NK": ["GNLY", "NKG7"], "Mono": ["LYZ", "FCN1"]}},
    ...             "cell cycle": {{"S": ["PCNA"], "G2M": ["HMGB2"]}}}}
    >>> tl.multisub(adata, concepts, background=["cell cycle"], align_epochs=5, cluster_epochs=5, verbose=False)
    >>> sorted(adata.obs["multisub_cell cycle"].cat.categories)
    ['G2M', 'S', 'none']
    >>> adata.obsm["X_multisub_cell type"].shape
    (700, 6)
    """
    MULTISUB.check(adata, key_added, overwrite=overwrite)
    if isinstance(concepts, (list, tuple)) and concepts and all(isinstance(c, str) for c in concepts):
        example = {name: [name] for name in concepts[:3]}
        raise ValueError(f"concepts must be a dict {{concept name: {{proxy name: [genes]}}}}, got a list; for "
                         f"genes as proxies write e.g. {{'cell type': {example}}}.")
    if not isinstance(concepts, dict) or not concepts:
        raise ValueError("concepts must be a non-empty dict {concept name: {proxy name: [genes]}}.")
    for concept in concepts:
        if not isinstance(concept, str):
            raise TypeError(f"concept names must be strings, got {concept!r}.")
        MULTISUB_CONCEPT.check(adata, _concept_key(key_added, concept), overwrite=overwrite)
        for proxy in concepts[concept] if isinstance(concepts[concept], dict) else ():  # uns keys
            if isinstance(proxy, str):
                check_h5ad_name(proxy, f"the proxy name of concept {concept!r}")
    try:
        from ..deep import MultiSub
    except ImportError as err:
        raise ImportError("tl.multisub needs PyTorch: `pip install coclust_deep[deep]` "
                          "(or `pip install torch`).") from err
    model = MultiSub(concepts, background=background, random_state=random_state, **kw)

    adata = adata.copy() if copy else adata
    data = get_matrix(adata, layer=layer, use_raw=use_raw, mask_var=mask_var,
                      use_highly_variable=use_highly_variable)
    feature_names = [str(g) for g in data.var_names]
    _check_keywords_are_not_genes(concepts, feature_names, data.source)
    model.fit(data.X, feature_names=feature_names)
    # before the per-concept writes below: Tool.write would only stop at the last one
    stop_if_interrupted(model.interrupted_, "tl.multisub", key_added)

    _drop_earlier_concepts(adata, key_added, keep=set(concepts))
    for concept in concepts:
        concept_key = _concept_key(key_added, concept)
        labels = model.labels_[concept]
        MULTISUB_CONCEPT.write(adata, concept_key, Result(
            row_labels=labels,
            row_embedding=model.embeddings_[concept].astype(np.float32),
            uns={"proxies": list(model.proxy_names_[concept]),
                 "proxy_features": model.proxy_features_.get(concept, {}),
                 "proxy_weights": model.proxy_weights_[concept].astype(np.float32)},
        ), params={"concept": concept, "result": key_added})
        # clusters named after their proxies, in the order the proxies were given
        names = model.proxy_names_[concept]
        used = np.unique(labels)
        adata.obs[concept_key] = pd.Categorical(np.asarray(names, dtype=object)[labels],
                                                categories=[names[k] for k in used])
    params = {**model.get_params(deep=False), "concepts": concepts}
    params.pop("text_encoder", None)  # a callable cannot be stored; keyword embeddings live in the model
    MULTISUB.write(adata, key_added, Result(uns={
        "concepts": list(concepts),
        "history": {name: np.asarray(values) for name, values in model.history_.items()},
        "n_epochs": model.n_epochs_,
        "interrupted": model.interrupted_,
    }), data=data, params=params)
    return adata if copy else None


def _check_keywords_are_not_genes(concepts, feature_names, source):
    """Refuse a text-keyword concept whose keywords are all genes: gene sets were surely meant.

    ``[keyword, ...]`` and ``{proxy: text}`` are keyword forms for samples embedded
    in a text space; on expression data they would load a text encoder and fail on
    the dimensions, never saying how to pass genes.
    """
    genes = set(feature_names)
    for concept, proxies in concepts.items():
        if isinstance(proxies, (list, tuple)) and proxies and all(isinstance(p, str) for p in proxies):
            texts = dict(zip(proxies, proxies))
        elif isinstance(proxies, dict) and proxies and all(isinstance(v, str) for v in proxies.values()):
            texts = proxies
        else:
            continue
        if all(text in genes for text in texts.values()):
            example = {str(name): [text] for name, text in list(texts.items())[:3]}
            raise ValueError(
                f"concept {concept!r} gives {list(texts.values())}, which are all gene names of adata's {source}, "
                "as text keywords (a list, or {proxy name: text}, is embedded by a text encoder). To use genes "
                f"as proxies write {{{concept!r}: {example}}}: one gene set per proxy (a set may hold several "
                "genes)."
            )


def _drop_earlier_concepts(adata, key, *, keep):
    """Remove the per-concept results of an earlier ``tl.multisub`` under ``key`` for concepts not rerun."""
    if earlier_result(adata, key) is not MULTISUB:
        return
    for concept in adata.uns[key].get("concepts", []):
        concept_key = _concept_key(key, str(concept))
        if concept in keep or earlier_result(adata, concept_key) is not MULTISUB_CONCEPT:
            continue
        for attr, name in (("obs", concept_key), ("obsm", "X_" + concept_key)):
            store = getattr(adata, attr)
            if name in store:
                del store[name]
        del adata.uns[concept_key]
