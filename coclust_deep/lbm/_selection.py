"""Choosing the numbers of row and column clusters by ICL."""
from __future__ import annotations

import numbers
import time
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.utils.validation import validate_data

from .._logging import info, user_stacklevel
from .._validation import check_choice, check_matrix
from ._estimator import LatentBlockModel

__all__ = ["select_lbm"]


def _as_grid(values, name, upper):
    if isinstance(values, numbers.Integral) and not isinstance(values, (bool, np.bool_)):
        values = [values]
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be an int or an iterable of ints (e.g. range(2, 7)), got {values!r}.")
    values = list(np.asarray(values).ravel()) if isinstance(values, np.ndarray) else list(values)
    wrong = [v for v in values if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Integral)]
    if wrong:
        raise TypeError(
            f"{name} must hold whole numbers of clusters (ints), got {wrong[0]!r} "
            f"({type(wrong[0]).__name__}); pass e.g. range(2, 7) or [2, 4, 8]."
        )
    vals = sorted({int(v) for v in values})
    if not vals:
        raise ValueError(f"{name} is empty; give at least one number of clusters.")
    if vals[0] < 1 or vals[-1] > upper:
        raise ValueError(f"{name} must lie in [1, {upper}], got {vals}.")
    return vals


def _edge_warning(best, gs, ms, shape):
    """Warn when the chosen (g, m) lies on an edge of the grid that could be extended."""
    notes = []
    for value, grid, axis, upper in ((best[0], gs, "row", shape[0]), (best[1], ms, "column", shape[1])):
        name = f"n_{'row' if axis == 'row' else 'col'}_clusters"
        if len(grid) < 2:
            continue  # fixed by the caller
        if value == grid[-1] and value < upper:
            notes.append(f"{name}={value} is the largest value tried: more {axis} clusters may score higher "
                         f"(extend {name} beyond {value})")
        elif value == grid[0] and value > 1:
            notes.append(f"{name}={value} is the smallest value tried: fewer {axis} clusters may score higher "
                         f"(extend {name} below {value})")
    if notes:
        warnings.warn("select_lbm: the best ICL lies on the edge of the grid; " + "; ".join(notes) + ".",
                      UserWarning, stacklevel=user_stacklevel())


def select_lbm(
    X,
    n_row_clusters=range(1, 6),
    n_col_clusters=range(1, 6),
    *,
    family="poisson",
    search="grid",
    criterion="icl",
    verbose=True,
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
        highest criterion while it improves, fitting a path instead of the grid.
    criterion : {"icl", "icl_exact"}, default="icl"
        ``"icl"``: the BIC-like ICL (``icl_``), the complete log-likelihood of
        the MAP partition minus ``(nu/2) log`` penalties. ``"icl_exact"``: the
        exact ICL (``icl_exact_``), ``log p(X, z, w)`` with the parameters
        integrated out under conjugate priors (Jeffreys' Dirichlet(1/2) on the
        proportions and categorical levels, Beta(1/2, 1/2) on Bernoulli
        probabilities, Gamma(1/2, 1/(2 rate)) on Poisson rates, centred on the
        overall rate); Bernoulli, Poisson and categorical only. ``"icl"`` is the
        default because it exists for every family (negative binomial and
        Gaussian too), so grids of different families compare on one scale, and
        it needs no prior; the BIC-like form is the large-sample limit of the
        exact one, and the two pick the same (g, m) on the generated data of
        the tests. The exact form is the better guide on small matrices, where
        the penalty's asymptotics are loosest. The table holds both.
    verbose : bool, default=True
        Show a tqdm progress bar over the fitted pairs. Each fitted pair is
        also logged at scanpy's ``info`` level (``sc.settings.verbosity = 2``).
    **estimator_kwargs
        Other :class:`LatentBlockModel` parameters (``algorithm``, ``n_init``,
        ``random_state``, ``backend``, ...).

    Returns
    -------
    best_model : LatentBlockModel
        Fitted model with the highest ICL.
    table : pandas.DataFrame
        One row per fitted pair: ``n_row_clusters``, ``n_col_clusters``,
        ``icl``, ``icl_exact`` (NaN-free: only for families that have it),
        ``elbo``, ``n_iter``, ``converged``, sorted by (g, m).

    Warns
    -----
    UserWarning
        When the best pair lies on the edge of the grid (the largest or
        smallest g or m tried, where a larger or smaller value was possible):
        the best model may lie outside the grid.

    Examples
    --------
    >>> from coclust_deep import select_lbm
    >>> from coclust_deep.datasets import make_lbm
    >>> X, _, _ = make_lbm(200, 100, 3, 3, family="poisson", row_effects=True, signal=1.0, random_state=1)
    >>> best, table = select_lbm(X, range(2, 5), range(2, 5), n_init=2, random_state=0, verbose=False)
    >>> best.n_row_clusters, best.n_col_clusters
    (3, 3)
    """
    import pandas as pd  # imported here: `import coclust_deep` stays light

    given = X
    X = check_matrix(X)
    gs = _as_grid(n_row_clusters, "n_row_clusters", X.shape[0])
    ms = _as_grid(n_col_clusters, "n_col_clusters", X.shape[1])
    check_choice(search, "search", ("grid", "greedy"))
    check_choice(criterion, "criterion", ("icl", "icl_exact"))
    base = LatentBlockModel(family=family, **estimator_kwargs)
    fitted = {}
    from tqdm.auto import tqdm

    bar = tqdm(total=len(gs) * len(ms) if search == "grid" else None, desc="select_lbm", unit="model",
               leave=False, disable=not verbose)

    def score(model):
        if criterion == "icl":
            return model.icl_
        if model.icl_exact_ is None:
            raise ValueError(
                f"criterion='icl_exact' needs a family with conjugate priors (bernoulli, poisson, categorical); "
                f"family={model.family_!r} has none: use criterion='icl'."
            )
        return model.icl_exact_

    def fit_pair(g, m):
        if (g, m) not in fitted:
            model = clone(base).set_params(n_row_clusters=g, n_col_clusters=m)
            bar.set_postfix_str(f"g={g} m={m}")
            start = time.perf_counter()
            with warnings.catch_warnings():
                # Too many clusters empty some of them: that is what ICL is judging.
                warnings.filterwarnings("ignore", message=".*clusters are empty", category=RuntimeWarning)
                model.fit(X)
            validate_data(model, given, reset=True, skip_check_array=True)  # a DataFrame's names, as fit(given)
            fitted[(g, m)] = model
            score(model)  # a family without an exact ICL fails on the first pair
            bar.update()
            info(f"select_lbm: g={g} m={m} ICL={model.icl_:.2f} ELBO={model.elbo_:.2f} "
                 f"{model.n_iter_} iterations, {time.perf_counter() - start:.1f} s ({len(fitted)} fitted)")
        return fitted[(g, m)]

    with bar:  # closed however the search ends
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
                cand = [(score(fit_pair(gs[a], ms[b])), a, b) for a, b in moves]
                best_score, a, b = max(cand)
                if best_score <= score(current):
                    break
                gi, mi, current = a, b, fitted[(gs[a], ms[b])]

    rows = [
        {"n_row_clusters": g, "n_col_clusters": m, "icl": mod.icl_,
         **({} if mod.icl_exact_ is None else {"icl_exact": mod.icl_exact_}),
         "elbo": mod.elbo_, "n_iter": mod.n_iter_, "converged": bool(mod.converged_)}
        for (g, m), mod in sorted(fitted.items())
    ]
    table = pd.DataFrame(rows)
    best_key = max(fitted, key=lambda k: score(fitted[k]))
    _edge_warning(best_key, gs, ms, X.shape)
    return fitted[best_key], table
