"""``pl.convergence``: training curves of an estimator or of a stored result."""
from __future__ import annotations

import numpy as np

from ._utils import finish, new_axes

# Where training curves live, in the order looked for: the estimator attribute,
# the matching ``uns[key]`` entry written by the tl tools, and the y label.
_SOURCES = (
    ("elbo_history_", "elbo_history", "ELBO"),              # LatentBlockModel, tl.lbm
    ("criterion_history_", "criterion_history", "criterion"),  # classic estimators, tl.cocluster
    ("history_", "history", "loss"),                        # deep models, tl.deep_cocluster
)
# columns of a deep-model history that index epochs rather than hold curves
_INDEX_COLUMNS = ("phase", "epoch")


def _find(source, key):
    """``(where, label, value)``: a name for titles, the quantity, and the stored history."""
    from anndata import AnnData

    from ..tl._mudata import is_mudata
    from ..tl._utils import check_adata

    if source is None:
        raise TypeError("model_or_adata is None; pass a fitted estimator, an AnnData holding a result, "
                        "a dict of curves or a 1-D array.")
    if is_mudata(source):
        check_adata(source)  # raises its TypeError: pass the modality, e.g. mdata['rna']
    if isinstance(source, AnnData):
        entry = source.uns.get(key)
        if not isinstance(entry, dict):
            raise KeyError(f"uns[{key!r}] is absent; run a coclust_deep tool with key_added={key!r} first.")
        for _, name, label in _SOURCES:
            if name in entry:
                return f"uns[{key!r}]", label, entry[name]
        raise KeyError(f"uns[{key!r}] holds no training history (looked for "
                       f"{[name for _, name, _ in _SOURCES]}).")
    if hasattr(source, "get_params"):
        for attribute, _, label in _SOURCES:
            if getattr(source, attribute, None) is not None:
                return type(source).__name__, label, getattr(source, attribute)
        raise ValueError(f"{type(source).__name__} has no training history; fit it first "
                         f"(looked for {[a for a, _, _ in _SOURCES]}).")
    if isinstance(source, dict):
        return "training curves", "value", source
    return "training curve", "value", source


def _curve(values, name, where):
    try:
        return np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: history column {name!r} is not numeric.") from err


def _phased(history, where):
    """``{phase: (epochs, {column: curve})}`` of a deep-model history, phases in training order."""
    phases = np.asarray(history["phase"]).astype(str)
    epochs = _curve(history["epoch"], "epoch", where) if "epoch" in history else np.arange(phases.size)
    columns = {name: _curve(values, name, where) for name, values in history.items()
               if name not in _INDEX_COLUMNS}
    for name, curve in columns.items():
        if curve.size != phases.size:
            raise ValueError(f"{where}: history column {name!r} has {curve.size} values for "
                             f"{phases.size} epochs.")
    out = {}
    for phase in dict.fromkeys(phases):
        rows = phases == phase
        curves = {name: curve[rows] for name, curve in columns.items() if np.isfinite(curve[rows]).any()}
        out[phase] = (epochs[rows] + 1, curves)
    return out


def _plot_phase(ax, epochs, curves, *, title, logy):
    names = sorted(curves, key=lambda name: name != "loss")  # the total first (h5ad may reorder columns)
    for name in names:
        curve = curves[name]
        style = dict(color="black", lw=2.0, zorder=3) if name == "loss" else dict(lw=1.2)
        ax.plot(epochs, curve, marker="." if curve.size < 50 else None, label=name, **style)
    if len(curves) > 1:
        ax.legend(fontsize=7, framealpha=0.6)
    if logy:
        ax.set_yscale("log")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("per-epoch value (loss terms, monitors)")
    ax.set_title(title)


def convergence(model_or_adata, *, key="lbm", phase=None, logy=False, ax=None, show=None, save=None):
    """Training curves: the ELBO or criterion per iteration, or a deep model's losses per epoch and phase.

    Parameters
    ----------
    model_or_adata
        A fitted estimator (``LatentBlockModel``, a classic estimator with
        ``criterion_history_``, or a deep model with ``history_``), an
        AnnData holding a result under ``key`` (from ``tl.lbm``,
        ``tl.cocluster``, ``tl.deep_cocluster``), a dict of named curves (a
        deep-model history when it has a ``phase`` column), or a 1-D array.
    key
        Result key when an AnnData is passed.
    phase
        For a deep-model history, draw only this phase (``"pretrain"``,
        ``"train"``, ...). By default every phase gets its own panel: the
        total ``loss`` (black) and every loss term and monitor (e.g. the
        fraction of labels changed) that the phase recorded.
    logy
        Logarithmic y axis (for positive losses).
    ax
        Axes to draw in: one Axes, or for a deep history drawn in several
        panels a sequence of one Axes per phase.
    show, save
        As in :func:`coclust_deep.pl.blocks`.

    Returns
    -------
    The matplotlib ``Axes``; a list of ``Axes``, one per phase, when a
    deep-model history is drawn in several panels; ``None`` when
    the figure is shown (see ``show``).

    Examples
    --------
    >>> import matplotlib; matplotlib.use("Agg")
    >>> from coclust_deep import LatentBlockModel, pl
    >>> from coclust_deep.datasets import make_lbm
    >>> X, _, _ = make_lbm(100, 50, 2, 2, family="poisson", random_state=0)
    >>> ax = pl.convergence(LatentBlockModel(2, 2, n_init=1, random_state=0).fit(X), show=False)
    >>> ax.get_title(), ax.get_xlabel(), ax.get_ylabel()
    ('LatentBlockModel: ELBO per iteration', 'iteration', 'ELBO')
    """
    where, label, history = _find(model_or_adata, key)
    if isinstance(history, dict) and "phase" in history:
        return _convergence_phased(_phased(history, where), where, phase, logy, ax, show, save)
    if phase is not None:
        raise ValueError(f"phase={phase!r} applies to deep-model histories; {where} has none.")
    curves = history if isinstance(history, dict) else {label: history}
    curves = {str(name): _curve(values, name, where) for name, values in curves.items()}
    curves = {name: curve for name, curve in curves.items() if curve.size}
    if not curves:
        raise ValueError(f"the training history in {where} is empty.")
    made_figure = ax is None
    ax = new_axes(ax, (5, 3.5))
    for name, curve in curves.items():
        ax.plot(np.arange(1, curve.size + 1), curve, marker="." if curve.size < 50 else None, label=name)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel(label)
    ax.set_title(f"{where}: {label} per iteration")
    return finish(ax, "convergence", show, save, made_figure=made_figure)


def _convergence_phased(phases, where, phase, logy, ax, show, save):
    if not phases:
        raise ValueError(f"the training history in {where} is empty.")
    if phase is not None:
        if phase not in phases:
            raise ValueError(f"phase={phase!r} is not in the history of {where}; it has {list(phases)}.")
        phases = {phase: phases[phase]}
    if ax is None:
        import matplotlib.pyplot as plt

        _, axes = plt.subplots(1, len(phases), figsize=(4.5 * len(phases), 3.5), squeeze=False,
                                    layout="constrained")
        axes = list(axes[0])
    elif hasattr(ax, "plot"):
        axes = [ax]
    else:
        axes = list(ax)
    if len(axes) != len(phases) or not all(hasattr(a, "plot") for a in axes):
        raise ValueError(f"the history of {where} has {len(phases)} phase(s) {list(phases)}; pass one Axes "
                         f"per phase (e.g. plt.subplots(1, {len(phases)})[1]) or choose one with phase=.")
    for a, (name, (epochs, curves)) in zip(axes, phases.items()):
        _plot_phase(a, epochs, curves, title=f"{where}: {name}", logy=logy)
    shown = finish(axes[0], "convergence", show, save, made_figure=ax is None)
    if shown is None:
        return None
    return axes if len(axes) > 1 else axes[0]
