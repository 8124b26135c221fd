"""The skeleton every ``coclust_deep.tl`` tool is written on.

A tool is a function that reads in the order of scanpy's ``tl.leiden``, with
the AnnData chores done by one :class:`Tool` object declared next to it
(``tests/tl/test_skeleton.py`` holds two complete, tested tools: a row-only
one and a co-clustering one)::

    DEEP_CLUSTER = Tool("deep_cluster", writes=("row_labels", "row_embedding"))

    @DEEP_CLUSTER.document  # fills {doc_input} {doc_key_added} {doc_overwrite_copy} {doc_writes}
    def deep_cluster(adata, n_clusters, *, layer=None, use_raw=False, mask_var=None,
                     use_highly_variable=None, key_added="deep_cluster", overwrite=False,
                     copy=False, random_state=0, **kw):
        \"\"\"numpydoc, with the four fields above where their entries belong.\"\"\"
        DEEP_CLUSTER.check(adata, key_added, overwrite=overwrite)          # 1. validate options
        from ..deep import DeepCluster                                     # 2. lazy backend
        model = DeepCluster(n_clusters, random_state=random_state, **kw)
        adata = adata.copy() if copy else adata                            # 3.
        data = get_matrix(adata, layer=layer, use_raw=use_raw,             # 4. read inputs
                          mask_var=mask_var, use_highly_variable=use_highly_variable)
        model.fit(data.X)                                                  # 5. compute
        DEEP_CLUSTER.write(adata, key_added, Result(                       # 6. write
            row_labels=model.labels_, row_embedding=model.embedding_,
            uns={"history": model.history_},
        ), data=data, params=model.get_params())
        return adata if copy else None                                     # 7.

What the skeleton gives:

* **Registration.** ``Tool(name, ...)`` adds the tool to :data:`RESULT_TOOLS`
  when its module is imported. Only a :class:`Tool` writes results, so a tool
  cannot be missing from the registry. The registry is how a result is
  recognised later: ``uns[key]["params"]["tool"]`` names a registered tool.
* **One key builder.** :func:`result_key` says where each part of a result
  lives (``obs[key]``, ``var[key]``, ``obsm[key + "_row_posterior"]``,
  ``varm[key + "_column_posterior"]``, ``obsm["X_" + key]``,
  ``varm["X_" + key]``, ``obsm``/``varm[key + "_biclusters"]``); collision checks, writing, the generated docs and
  the clean-up of an earlier result all read it.
* **Shared docs.** :meth:`Tool.document` fills ``{doc_input}`` (``layer``,
  ``use_raw``, ``mask_var``, ``use_highly_variable``), ``{doc_key_added}``,
  ``{doc_overwrite_copy}`` and ``{doc_writes}`` (the Returns entries of the
  declared parts and of ``uns[key_added]["params"]``).
* **Checks** (:meth:`Tool.check`): ``adata`` is an in-memory AnnData, the key
  is a non-empty string, and writing it replaces no user data unless
  ``overwrite=True``.
* **Writing** (:meth:`Tool.write`): labels become natsorted string
  categoricals, gene-side arrays are placed back over ``adata.var`` (genes
  outside ``mask_var`` are ``"unassigned"`` / zero rows), ``uns[key]`` gets
  ``params`` (``tool``, the input options, the tool's parameters) plus the
  result's own entries, everything made h5ad-safe. Parts an earlier result
  under the same key wrote and this one does not are removed, so a key never
  mixes two results.
* **Labels ordered by size** (in :meth:`Tool.write`), as ``sc.tl.leiden``
  does: cluster ``"0"`` is the largest, ``"1"`` the next, ... (ties keep the
  estimator's order; clusters left empty come last). The posterior columns
  follow, and so do the ``uns`` entries the result declares in
  :attr:`Result.by_cluster` (``{"block_means": ("row", "column"),
  "row_proportions": ("row",), ...}``): **a tool that stores anything indexed
  by cluster number in** ``uns`` **must declare it there**, or its entry ``k``
  will not match label ``str(k)``.
* **MuData** (in :meth:`Tool.document`, which wraps the tool with
  :func:`~coclust_deep.tl._mudata.accept_mudata`): every tool takes a
  ``MuData`` and ``mod="rna"``, and reads and writes that modality; view
  specs ``"mod:key"`` name another modality's ``X`` or ``obsm[key]``
  (:func:`~coclust_deep.tl._views.read_views`). The tool body is written
  for an AnnData and needs nothing for this.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._docs import inject_docs
from .._logging import info, notice
from ._mudata import accept_mudata
from ._utils import check_adata, check_h5ad_name, expand_column_rows, h5ad_safe, labels_to_categorical

PARTS = ("row_labels", "column_labels", "row_posterior", "column_posterior", "row_embedding", "column_embedding",
         "row_biclusters", "column_biclusters")
"""The arrays a result may hold, in the order they are written."""

# part -> (AnnData attribute, key template). The one place result keys are spelled.
_PLACES = {
    "row_labels": ("obs", "{key}"),
    "column_labels": ("var", "{key}"),
    "row_posterior": ("obsm", "{key}_row_posterior"),
    "column_posterior": ("varm", "{key}_column_posterior"),
    "row_embedding": ("obsm", "X_{key}"),
    "column_embedding": ("varm", "X_{key}"),
    "row_biclusters": ("obsm", "{key}_biclusters"),
    "column_biclusters": ("varm", "{key}_biclusters"),
}

_PART_DOCS = {
    "row_labels": 'Cell clusters: categorical, natsorted string categories ``"0"``, ``"1"``, ...,\n'
                  '    ordered by size (``"0"`` the largest).',
    "column_labels": 'Gene clusters, likewise; genes outside ``mask_var`` are ``"unassigned"``.',
    "row_posterior": "``(n_obs, n_row_clusters)`` soft assignments of the cells.",
    "column_posterior": "``(n_vars, n_col_clusters)`` soft assignments of the genes (zero rows\n"
                        "    for unassigned genes).",
    "row_embedding": "Cell embeddings, for ``sc.pp.neighbors(adata, use_rep=\"X_\" + key_added)``.",
    "column_embedding": "Gene embeddings (zero rows for unassigned genes).",
    "row_biclusters": "``(n_obs, n_biclusters)`` boolean: cell ``i`` belongs to bicluster ``k``\n"
                      "    (biclusters may overlap, and may leave cells out).",
    "column_biclusters": "``(n_vars, n_biclusters)`` boolean: gene ``j`` belongs to bicluster ``k``\n"
                         "    (``False`` for unassigned genes).",
}

_DOC_INPUT = """\
layer
    Use ``adata.layers[layer]`` instead of ``adata.X``.
use_raw
    Use ``adata.raw.X`` (and the genes of ``adata.raw``) instead of ``adata.X``.
    ``var``/``varm`` hold only the genes of ``adata.var``; when the tool
    clusters genes and some raw genes are not in ``adata.var`` (e.g. after
    subsetting to highly variable genes), the clusters of every fitted gene
    are also in ``uns[key_added]["raw_var_names"]`` and
    ``uns[key_added]["raw_column_labels"]`` (logged at warning level).
mask_var
    Genes to use: the name of a boolean column of ``var`` (for example
    ``"highly_variable"``) or a boolean array over the genes. ``None`` uses
    every gene. Genes left out get the category ``"unassigned"`` in
    ``var[key_added]`` when the tool clusters genes.
use_highly_variable
    Shorthand for ``mask_var="highly_variable"`` (scanpy's older spelling).
mod
    When ``adata`` is a ``MuData``: the modality to read and write
    (``adata.mod[mod]``; may be left out when there is only one). The result
    lands in that modality, as if the tool were given ``adata[mod]``."""

_DOC_KEY_ADDED = """\
key_added
    Name of the result: every ``obs``/``var``/``obsm``/``varm``/``uns`` key
    listed under Returns is built from it."""

_DOC_OVERWRITE_COPY = """\
overwrite
    Allow ``key_added`` to replace existing ``obs``/``var``/``obsm``/``varm``/``uns``
    entries that were not written by a coclust_deep tool.
copy
    Return a modified copy instead of writing into ``adata``."""

RESULT_TOOLS: dict = {}
"""Registered tools by name: ``{"lbm": Tool("lbm", ...), ...}``, filled by :class:`Tool`."""


def result_key(key, part):
    """``(AnnData attribute, key)`` where ``part`` of result ``key`` is stored.

    Examples
    --------
    >>> result_key("lbm", "column_posterior")
    ('varm', 'lbm_column_posterior')
    >>> result_key("deep", "row_embedding")
    ('obsm', 'X_deep')
    """
    if part not in _PLACES:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}.")
    attr, template = _PLACES[part]
    return attr, template.format(key=key)


def _doc_place(part):
    """``adata.obsm[key_added + "_row_posterior"]``: the key template spelled for docs."""
    attr, template = _PLACES[part]
    before, after = template.split("{key}")
    spelled = " + ".join([f'"{before}"'] * bool(before) + ["key_added"] + [f'"{after}"'] * bool(after))
    return f"``adata.{attr}[{spelled}]``"


@dataclass
class Result:
    """What a tool computed, ready for :meth:`Tool.write`.

    Every array is optional; ``None`` parts are not written. Bicluster
    memberships (``row_biclusters``, ``column_biclusters``) are boolean
    ``(n, n_biclusters)`` matrices, for methods whose biclusters overlap. Row arrays have
    one row per cell (``adata.n_obs``); column arrays one row per *fitted*
    gene (``len(data.var_names)`` of the :class:`~coclust_deep.tl._utils.InputMatrix`
    passed to :meth:`Tool.write`, every gene of ``adata.var`` without one).
    ``uns`` holds the tool's own entries of ``adata.uns[key]`` (numbers,
    arrays, nested dicts, DataFrames; made h5ad-safe on writing).
    """

    row_labels: object = None
    column_labels: object = None
    row_posterior: object = None
    column_posterior: object = None
    row_embedding: object = None
    column_embedding: object = None
    row_biclusters: object = None
    column_biclusters: object = None
    uns: dict = field(default_factory=dict)
    by_cluster: dict = field(default_factory=dict)
    """Entries of ``uns`` indexed by cluster number: ``{name: axes}``, where
    ``axes[i]`` is ``"row"``, ``"column"`` or ``None`` for dimension ``i`` of the
    array (of every array, for a dict entry). :meth:`Tool.write` renumbers the
    clusters by size and permutes these entries along, so that entry ``k``
    belongs to label ``str(k)``."""
    row_order: object = None
    """The row clusters' numbering, fixed by the tool: cluster ``row_order[k]``
    becomes ``k`` (instead of :func:`size_order` of this result's labels), for
    one numbering over several AnnData (``tl.dm2c``: both modalities)."""
    paired: bool = False
    """Row cluster ``k`` and column cluster ``k`` form co-cluster ``k`` (diagonal
    co-clustering: modularity, spectral co-clustering). Both sides are then
    renumbered with one permutation, by the sizes of the row clusters, so the
    pairing survives."""

    def parts(self):
        """Names of the parts this result holds, in :data:`PARTS` order."""
        return [p for p in PARTS if getattr(self, p) is not None]


class Tool:
    """A registered ``tl`` tool: its name, the parts it writes, its checks and writer.

    Parameters
    ----------
    name
        The tool's public name (``tl.<name>``), recorded as
        ``uns[key]["params"]["tool"]``. Registering a name twice raises.
    writes
        Parts (from :data:`PARTS`) every call writes. ``uns[key]`` is always
        written.
    may_write
        Parts some calls write (e.g. embeddings only some estimators have);
        documented as such.

    Examples
    --------
    >>> import coclust_deep.tl
    >>> lbm_tool = RESULT_TOOLS["lbm"]
    >>> lbm_tool.outputs == {"row_labels", "column_labels", "row_posterior", "column_posterior"}
    True
    """

    def __init__(self, name, *, writes, may_write=()):
        unknown = sorted((set(writes) | set(may_write)) - set(PARTS))
        if unknown:
            raise ValueError(f"unknown result parts {unknown}; choose from {PARTS}.")
        if name in RESULT_TOOLS:
            raise ValueError(f"a tool named {name!r} is already registered; pick another name.")
        self.name = name
        self.writes = tuple(p for p in PARTS if p in writes)
        self.may_write = tuple(p for p in PARTS if p in may_write and p not in writes)
        self.outputs = set(self.writes) | set(self.may_write)
        RESULT_TOOLS[name] = self

    def __repr__(self):
        return f"Tool({self.name!r}, writes={self.writes}, may_write={self.may_write})"

    def document(self, func):
        """Decorator: fill the shared parts of ``func``'s docstring, and accept MuData.

        ``{doc_input}``, ``{doc_key_added}``, ``{doc_overwrite_copy}`` and
        ``{doc_writes}``; the last lists where each declared part lands and
        ``uns[key_added]["params"]``, for the Returns section. The returned
        function also takes ``mod=`` (see
        :func:`~coclust_deep.tl._mudata.accept_mudata`).
        """
        entries = [f"{_doc_place(p)}\n    {_PART_DOCS[p]}" for p in self.writes]
        entries += [f"{_doc_place(p)}\n    {_PART_DOCS[p]}\n    Only when the method provides it." for p in self.may_write]
        entries.append(
            '``adata.uns[key_added]["params"]``\n'
            f'    ``tool`` (``"{self.name}"``), the input options (``layer``, ``use_raw``,\n'
            "    ``mask_var``) and every parameter of the model."
        )
        documented = inject_docs(
            doc_input=_DOC_INPUT, doc_key_added=_DOC_KEY_ADDED, doc_overwrite_copy=_DOC_OVERWRITE_COPY,
            doc_writes="\n".join(entries),
        )(func)
        return accept_mudata(documented)

    def check(self, adata, key, *, overwrite=False, allow_backed=False, copy=False):
        """Step 1 of a tool: raise unless ``adata`` and ``key`` can take this tool's result.

        ``adata`` must be an AnnData (in memory, unless ``allow_backed`` for a
        tool that reads a backed X by row blocks; then neither a view nor
        ``copy=True``, which anndata cannot do without a file) and ``key`` a
        non-empty string without ``"/"`` (h5ad reads a slash as a group).
        Unless ``overwrite`` is true, none of the keys this tool may write may
        exist, except those an earlier result under ``key`` (a registered
        tool's, per ``uns[key]["params"]["tool"]``) wrote.
        """
        check_adata(adata, allow_backed=allow_backed)
        if adata.isbacked and copy:
            raise ValueError("copy=True cannot copy a backed AnnData (anndata needs a file for the copy); pass "
                             "copy=False, which writes only the results into adata's obs/var/uns, or load it "
                             "with adata.to_memory() first.")
        if adata.isbacked and adata.is_view:
            raise ValueError("adata is a view of a backed AnnData, which cannot take results; load the subset "
                             "with adata[cells].to_memory(), or pass the whole backed AnnData.")
        if not isinstance(key, str) or not key:
            raise TypeError(f"key_added must be a non-empty string, got {key!r}.")
        check_h5ad_name(key, "key_added")
        if overwrite:
            return
        earlier = earlier_result(adata, key)
        taken = [f"uns[{key!r}]"] if earlier is None and key in adata.uns else []
        for part in PARTS:
            attr, name = result_key(key, part)
            ours = earlier is not None and part in earlier.outputs
            if part in self.outputs and not ours and name in getattr(adata, attr):
                taken.append(f"{attr}[{name!r}]")
        if taken:
            raise ValueError(
                f"key_added={key!r} would overwrite {', '.join(dict.fromkeys(taken))}, which coclust_deep "
                "did not write; choose another key_added or pass overwrite=True."
            )

    def write(self, adata, key, result, *, data=None, params=None):
        """Step 6 of a tool: write ``result`` into ``adata`` under ``key``.

        Parameters
        ----------
        adata
            The AnnData to write into (already copied when ``copy=True``).
        key
            The result's ``key_added``.
        result
            A :class:`Result`; it may hold only parts this tool declared.
        data
            The :class:`~coclust_deep.tl._utils.InputMatrix` the result was
            fitted on: places gene-side arrays over ``adata.var`` and adds
            the input options to ``params``.
        params
            The tool's parameters (typically the estimator's ``get_params()``
            plus tool options); ``uns[key]["params"]`` gets them, the input
            options and ``tool``.
        """
        parts = result.parts()
        undeclared = [p for p in parts if p not in self.outputs]
        if undeclared:
            raise ValueError(
                f"tl.{self.name} wrote {undeclared}, which Tool({self.name!r}) does not declare; "
                "add them to writes= or may_write=."
            )
        if "params" in result.uns:
            raise ValueError("Result.uns may not hold 'params'; pass the tool's parameters as write(..., params=).")
        if result.uns.get("interrupted"):  # the deep tools record their estimator's interrupted_ here
            stop_if_interrupted(True, f"tl.{self.name}", key)
        positions = np.arange(adata.n_vars) if data is None else np.asarray(data.var_positions)
        result = ordered_by_size(result)
        values = {p: _placed(p, getattr(result, p), adata, positions) for p in parts}
        all_params = dict(params or {})
        all_params.update(data.params if data is not None else {})
        all_params["tool"] = self.name
        uns = h5ad_safe({"params": all_params, **result.uns, **_raw_gene_labels(result, data, key, self.name)})
        earlier = earlier_result(adata, key)
        for part in sorted(earlier.outputs - set(parts)) if earlier is not None else ():
            attr, name = result_key(key, part)
            store = getattr(adata, attr)
            if name in store:
                del store[name]
        if earlier is not None:  # score_modules' columns describe the result being replaced
            for column in dict(adata.uns[key].get("module_scores", {})).values():
                if column in adata.obs.columns:
                    del adata.obs[column]
        written = []
        for part, value in values.items():
            attr, name = result_key(key, part)
            getattr(adata, attr)[name] = value
            written.append(f"{attr}[{name!r}]")
        adata.uns[key] = uns
        log_info(f"tl.{self.name}: added {', '.join(written + [f'uns[{key!r}]'])}")


def stop_if_interrupted(interrupted, tool, key):
    """Re-raise a Ctrl-C that a deep estimator caught (its ``interrupted_``), before the tool writes anything.

    The estimators catch KeyboardInterrupt to keep their last completed epoch
    (``fit(..., resume=True)`` continues), which suits the estimator API. A
    ``tl`` call cannot resume, and a scanpy user expects Ctrl-C to stop the
    call (and a loop around it) with the earlier result under ``key`` intact.
    """
    if interrupted:
        raise KeyboardInterrupt(f"{tool} was interrupted; nothing was written (an earlier result under "
                                f"key_added={key!r} is unchanged).")


def _raw_gene_labels(result, data, key, tool):
    """``uns`` entries with the gene clusters of fitted genes that ``adata.var`` lacks (``use_raw=True``).

    ``var[key]`` can only hold ``adata.var``'s genes; as scanpy's
    ``rank_genes_groups(use_raw=True)`` does, the raw genes' results go to
    ``uns`` (string arrays, h5ad-safe), and one notice says where.
    """
    if result.column_labels is None or data is None:
        return {}
    missing = int(np.sum(np.asarray(data.var_positions) < 0))
    if not missing:
        return {}
    notice(f"tl.{tool}: {missing} of the {len(data.var_names)} genes fitted from adata.raw are not in adata.var; "
           f"the clusters of all {len(data.var_names)} are in uns[{key!r}]['raw_var_names'] and ['raw_column_labels'].")
    labels = np.asarray(result.column_labels).astype(np.int64).astype(str)
    return {"raw_var_names": np.asarray(data.var_names, dtype=str), "raw_column_labels": labels}


def require_coclustering(adata, key, caller):
    """Raise a KeyError that says what ``key`` holds, unless ``obs[key]`` and ``var[key]`` both exist.

    For follow-ups (``pl.blocks``, ``tl.gene_modules``, ...) that need cell
    *and* gene clusters: a result without gene clusters (biclusters, a cell
    clustering) or someone else's ``obs`` column gets a message naming it,
    not advice to run a tool under a key that is already taken.
    """
    if isinstance(key, str) and key in adata.obs.columns and key in adata.var.columns:
        return
    needs = (f"{caller} needs a co-clustering, with cell clusters in obs[key] and gene clusters in var[key] "
             "(tl.lbm, tl.select_lbm, tl.cocluster with a partitioning method, tl.deep_cocluster); pass key= "
             "naming such a result.")
    tool = earlier_result(adata, key) if isinstance(key, str) else None
    if tool is not None:
        method = adata.uns[key]["params"].get("method")
        made_by = f"tl.{tool.name}" + (f"(method={method!r})" if isinstance(method, str) else "")
        biclusters = result_key(key, "row_biclusters")
        if biclusters[1] in getattr(adata, biclusters[0]):
            what = f"biclusters from {made_by} (in obsm/varm[{biclusters[1]!r}]), not a partition of the genes"
        else:
            what = f"a clustering of the cells from {made_by}, without gene clusters"
        raise KeyError(f"uns[{key!r}] holds {what}; {needs}")
    if isinstance(key, str) and (key in adata.obs.columns or key in adata.var.columns):
        where = "obs" if key in adata.obs.columns else "var"
        raise KeyError(f"{where}[{key!r}] is not a coclust_deep result (uns[{key!r}]['params'] names no "
                       f"coclust_deep tool); {needs}")
    raise KeyError(f"no co-clustering result {key!r} in obs/var; run one first (e.g. coclust_deep.tl.lbm(adata, "
                   f"..., key_added={key!r})), or pass key= naming an existing result. {needs}")


def size_order(labels, n_clusters=0):
    """``order`` such that cluster ``order[k]`` becomes cluster ``k``: largest first.

    Equal sizes go by first member (the cluster of the earliest row or
    column comes first), so one partition gets one numbering whatever label
    ids the estimator gave it; clusters without members (up to
    ``n_clusters``) come last. Negative labels are not clusters and are not
    counted.

    Examples
    --------
    >>> size_order([2, 2, 0, 1, 1, 1], n_clusters=4).tolist()
    [1, 2, 0, 3]
    >>> size_order([1, 0, 0, 1]).tolist()  # a tie: cluster 1 has the first member
    [1, 0]
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    labels = labels[labels >= 0]
    n = max(int(n_clusters), int(labels.max()) + 1 if labels.size else 0)
    counts = np.bincount(labels, minlength=n)
    first = np.full(n, labels.size)
    np.minimum.at(first, labels, np.arange(labels.size))
    return np.lexsort((np.arange(n), first, -counts))


def ordered_by_size(result):
    """A copy of ``result`` with its clusters renumbered by size on each side (see :func:`size_order`).

    Labels are renumbered, posterior columns and the ``uns`` entries listed in
    :attr:`Result.by_cluster` are permuted to match.
    """
    from dataclasses import replace

    changes, uns = {}, dict(result.uns)
    order = None
    for side in ("row", "column"):
        labels = getattr(result, f"{side}_labels")
        if labels is None:
            continue
        posterior = getattr(result, f"{side}_posterior")
        if not (result.paired and order is not None):
            sides = ("row", "column") if result.paired else (side,)
            widths = [np.shape(getattr(result, f"{s}_posterior"))[1] for s in sides
                      if getattr(result, f"{s}_posterior") is not None]
            widths += [int(np.max(getattr(result, f"{s}_labels"), initial=-1)) + 1 for s in sides
                       if getattr(result, f"{s}_labels") is not None]
            for name, axes in result.by_cluster.items():
                for array in _arrays(uns.get(name), axes):
                    widths += [np.shape(array)[i] for i, a in enumerate(axes) if a in sides]
            order = (np.asarray(result.row_order, dtype=np.int64) if side == "row" and result.row_order is not None
                     else size_order(labels, max(widths, default=0)))
        new_of_old = np.empty_like(order)
        new_of_old[order] = np.arange(order.size)
        labels = np.asarray(labels).astype(np.int64)
        changes[f"{side}_labels"] = np.where(labels >= 0, new_of_old[np.maximum(labels, 0)], labels)
        if posterior is not None:
            changes[f"{side}_posterior"] = np.asarray(posterior)[:, order]
        for name, axes in result.by_cluster.items():
            if name in uns:
                uns[name] = _permuted(uns[name], axes, side, order)
    return replace(result, uns=uns, **changes)


def _by_cluster(array, axes):
    """Whether ``array`` has every declared cluster axis; fewer dimensions (e.g. NB's per-gene
    ``theta`` beside the (g, m) ``lambda`` of ``block_params``) mean a per-feature value."""
    return np.ndim(array) >= len(axes)


def _arrays(entry, axes):
    arrays = [np.asarray(v) for v in entry.values()] if isinstance(entry, dict) else (
        [] if entry is None else [np.asarray(entry)])
    return [a for a in arrays if _by_cluster(a, axes)]


def _permuted(entry, axes, side, order):
    if isinstance(entry, dict):
        return {k: _permuted(v, axes, side, order) for k, v in entry.items()}
    array = np.asarray(entry)
    if not _by_cluster(array, axes):
        return array
    for i, a in enumerate(axes):
        if a == side:
            array = np.take(array, order, axis=i)
    return array


def _placed(part, value, adata, positions):
    """``value`` as stored: categorical labels, gene-side rows placed over ``adata.var``."""
    attr = _PLACES[part][0]
    n_expected = adata.n_obs if attr in ("obs", "obsm") else positions.size
    length = value.shape[0] if hasattr(value, "shape") else len(value)
    if length != n_expected:
        what = "cells (adata.n_obs)" if attr in ("obs", "obsm") else "fitted genes"
        raise ValueError(f"{part} has {length} rows but there are {n_expected} {what}.")
    if attr == "obs":
        return labels_to_categorical(value)
    if attr == "var":
        return labels_to_categorical(value, positions=positions, n_total=adata.n_vars)
    if attr == "varm":
        return expand_column_rows(value, positions, adata.n_vars)
    return np.asarray(value)


def earlier_result(adata, key):
    """The registered :class:`Tool` that wrote ``uns[key]``, or ``None``."""
    entry = adata.uns.get(key)
    if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
        return None
    return RESULT_TOOLS.get(entry["params"].get("tool"))


def log_info(message):
    """Log at scanpy's ``info`` level (shown with ``sc.settings.verbosity >= 2``)."""
    info(message)
