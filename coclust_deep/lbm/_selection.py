"""Choosing the numbers of row and column clusters by ICL."""
from __future__ import annotations

import numbers
import warnings

from sklearn.base import clone

from .._validation import check_choice, check_matrix
from ._estimator import LatentBlockModel

__all__ = ["select_lbm"]


def _as_grid(values, name, upper):
    if isinstance(values, numbers.Integral) and not isinstance(values, bool):
        values = [values]
    try:
        vals = sorted({int(v) for v in values})
    except TypeError:
        raise TypeError(f"{name} must be an int or an iterable of ints, got {values!r}.") from None
    if not vals:
        raise ValueError(f"{name} is empty; give at least one number of clusters.")
    if vals[0] < 1 or vals[-1] > upper:
        raise ValueError(f"{name} must lie in [1, {upper}], got {vals}.")
    return vals


def select_lbm(
    X,
    n_row_clusters=range(1, 6),
    n_col_clusters=range(1, 6),
    *,
    family="poisson",
    search="grid",
    verbose=False,
    **estimator_kwargs,
):
    """Fit latent block models over (g, m) and keep the best by ICL.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_rows, n_cols)
    n_row_clusters, n_col_clusters : int or iterable of int
        Candidate numbers of row and column clusters.
    family : str, default="poisson"
        Passed to :class:`LatentBlockModel`.
    search : {"grid", "greedy"}, default="grid"
        ``"grid"`` fits every pair. ``"greedy"`` starts from the smallest pair
        and moves to the neighbour (g+1, m), (g, m+1) or (g+1, m+1) with the
        highest ICL while ICL improves, fitting a path instead of the grid.
    verbose : bool, default=False
        Print one line per fitted pair.
    **estimator_kwargs
        Other :class:`LatentBlockModel` parameters (``algorithm``, ``n_init``,
        ``random_state``, ``backend``, ...).

    Returns
    -------
    best_model : LatentBlockModel
        Fitted model with the highest ICL.
    table : pandas.DataFrame
        One row per fitted pair: ``n_row_clusters``, ``n_col_clusters``,
        ``icl``, ``elbo``, ``n_iter``, ``converged``, sorted by (g, m).

    Examples
    --------
    >>> from coclust_deep import select_lbm
    >>> from coclust_deep.datasets import make_lbm
    >>> X, _, _ = make_lbm(200, 90, 3, 2, family="poisson", random_state=0)
    >>> best, table = select_lbm(X, range(2, 5), range(1, 4), n_init=2, random_state=0)
    >>> best.n_row_clusters, best.n_col_clusters
    (3, 2)
    """
    import pandas as pd  # imported here: `import coclust_deep` stays light

    X = check_matrix(X)
    gs = _as_grid(n_row_clusters, "n_row_clusters", X.shape[0])
    ms = _as_grid(n_col_clusters, "n_col_clusters", X.shape[1])
    check_choice(search, "search", ("grid", "greedy"))
    base = LatentBlockModel(family=family, **estimator_kwargs)
    fitted = {}

    def fit_pair(g, m):
        if (g, m) not in fitted:
            model = clone(base).set_params(n_row_clusters=g, n_col_clusters=m)
            with warnings.catch_warnings():
                # Too many clusters empty some of them: that is what ICL is judging.
                warnings.filterwarnings("ignore", message=".*clusters are empty", category=RuntimeWarning)
                model.fit(X)
            fitted[(g, m)] = model
            if verbose:
                print(f"g={g} m={m} icl={model.icl_:.2f} elbo={model.elbo_:.2f} iters={model.n_iter_}")
        return fitted[(g, m)]

    if search == "grid":
        for g in gs:
            for m in ms:
                fit_pair(g, m)
    else:
        gi, mi = 0, 0
        current = fit_pair(gs[gi], ms[mi])
        while True:
            moves = [(gi + 1, mi), (gi, mi + 1), (gi + 1, mi + 1)]
            moves = [(a, b) for a, b in moves if a < len(gs) and b < len(ms)]
            if not moves:
                break
            cand = [(fit_pair(gs[a], ms[b]).icl_, a, b) for a, b in moves]
            icl, a, b = max(cand)
            if icl <= current.icl_:
                break
            gi, mi, current = a, b, fitted[(gs[a], ms[b])]

    rows = [
        {"n_row_clusters": g, "n_col_clusters": m, "icl": mod.icl_, "elbo": mod.elbo_,
         "n_iter": mod.n_iter_, "converged": bool(mod.converged_)}
        for (g, m), mod in sorted(fitted.items())
    ]
    table = pd.DataFrame(rows)
    best_key = max(fitted, key=lambda k: fitted[k].icl_)
    return fitted[best_key], table
