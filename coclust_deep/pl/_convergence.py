"""``pl.convergence``: training curves of an estimator or of a stored result."""
from __future__ import annotations

import numpy as np

from ._utils import finish, new_axes

# Where training curves live, in the order looked for: estimator attributes
# and the matching ``uns[key]`` entries written by the tl tools.
_ATTRIBUTES = ("elbo_history_", "history_", "loss_history_", "criterion_history_")
_UNS_ENTRIES = ("elbo_history", "history", "loss_history", "criterion_history")


def _series(source, key):
    """``(name, {label: 1-D array})`` of the curves held by ``source``."""
    from anndata import AnnData

    if isinstance(source, AnnData):
        entry = source.uns.get(key)
        if not isinstance(entry, dict):
            raise KeyError(f"uns[{key!r}] is absent; run a coclust_deep tool with key_added={key!r} first.")
        found = [(n, entry[n]) for n in _UNS_ENTRIES if n in entry]
        where = f"uns[{key!r}]"
    elif isinstance(source, dict):
        found = [("history", source)]
        where = "the dict"
    elif hasattr(source, "get_params"):
        found = [(a.rstrip("_"), getattr(source, a)) for a in _ATTRIBUTES if getattr(source, a, None) is not None]
        where = type(source).__name__
        if not found:
            raise ValueError(f"{where} has no training history; fit it first (looked for {list(_ATTRIBUTES)}).")
    else:
        found = [("history", source)]
        where = "the array"
    if not found:
        raise KeyError(f"{where} holds no training history (looked for {list(_UNS_ENTRIES)}).")
    name, value = found[0]
    curves = value if isinstance(value, dict) else {name: value}
    out = {}
    for label, curve in curves.items():
        arr = np.asarray(curve, dtype=np.float64).ravel()
        if arr.size:
            out[str(label)] = arr
    if not out:
        raise ValueError(f"the training history in {where} is empty.")
    return name, out


def convergence(model_or_adata, *, key="lbm", logy=False, ax=None, show=None, save=None):
    """Training curve(s): the ELBO per iteration, or a deep model's losses per epoch.

    Parameters
    ----------
    model_or_adata
        A fitted estimator (``elbo_history_``, ``history_``, ``loss_history_``
        or ``criterion_history_``), an AnnData holding a result under ``key``
        (``uns[key]["elbo_history"]`` and the like), a dict of named curves,
        or a 1-D array.
    key
        Result key when an AnnData is passed.
    logy
        Logarithmic y axis (for positive losses).
    ax, show, save
        As in :func:`coclust_deep.pl.blocks`.

    Returns
    -------
    The matplotlib ``Axes`` (``None`` when ``show=True``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from coclust_deep import LatentBlockModel, pl
    >>> from coclust_deep.datasets import make_lbm
    >>> X, _, _ = make_lbm(100, 50, 2, 2, family="poisson", random_state=0)
    >>> ax = pl.convergence(LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X))
    """
    name, curves = _series(model_or_adata, key)
    ax = new_axes(ax, (5, 3.5))
    for label, curve in curves.items():
        ax.plot(np.arange(1, curve.size + 1), curve, marker="." if curve.size < 50 else None, label=label)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("iteration" if "elbo" in name or "criterion" in name else "iteration / epoch")
    ax.set_ylabel(name.replace("_", " "))
    ax.set_title("convergence")
    return finish(ax, "convergence", show, save)
