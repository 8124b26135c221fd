"""MuData support for every ``tl`` tool: ``mod=`` picks the modality a tool reads and writes.

mudata is optional (``pip install coclust_deep[mudata]`` or ``pip install
mudata``) and never imported here: an object is a MuData when the ``mudata``
module that made it is already loaded. :func:`accept_mudata` wraps a tool
function (``Tool.document`` applies it to every registered tool, and
``tl.add_view`` uses it too) so that

* ``tool(adata, ...)`` with an AnnData behaves as before (``mod=`` must then
  be ``None``);
* ``tool(mdata, ..., mod="rna")`` runs the tool on ``mdata.mod["rna"]``,
  which is read *and written*, exactly as ``tool(mdata["rna"], ...)`` would
  (``mod`` may be left out when the MuData holds one modality). With
  ``copy=True`` the whole MuData is copied and the copy returned.
  Results stay in the modality; ``mdata.pull_obs()`` / ``mdata.pull_var()``
  copy them to the global tables, as for scanpy's tools.

While a wrapped tool runs on a modality, :func:`parent_mudata` returns the
MuData, so that view specs ``"mod:key"`` (``read_views``, ``tl.add_view``)
can name another modality's ``X`` or ``obsm[key]``.
"""
from __future__ import annotations

import contextvars
import functools
import inspect
import sys

_PARENT = contextvars.ContextVar("coclust_deep_parent_mudata", default=None)

INSTALL_HINT = "pip install mudata (or pip install 'coclust_deep[mudata]')"


def is_mudata(obj):
    """Whether ``obj`` is a ``mudata.MuData`` (without importing mudata)."""
    mudata = sys.modules.get("mudata")
    return mudata is not None and isinstance(obj, mudata.MuData)


def parent_mudata():
    """The MuData whose modality the current tool runs on, or ``None``."""
    return _PARENT.get()


def modality_name(mdata, mod):
    """The name of the modality ``mod`` of ``mdata`` (checked), ``None`` allowed for a single one."""
    names = list(mdata.mod.keys())
    if mod is None:
        if len(names) == 1:
            return names[0]
        raise ValueError(f"adata is a MuData with modalities {names}; pass mod= naming the one to use "
                         f"(e.g. mod={names[0]!r}).")
    if not isinstance(mod, str):
        raise TypeError(f"mod must be the name of a modality (a string), got {type(mod).__name__}.")
    if mod not in mdata.mod:
        raise KeyError(f"mod={mod!r} is not a modality of the MuData; it has {names}.")
    return mod


def accept_mudata(func):
    """Let the tool ``func(adata, ...)`` take a MuData and a ``mod=`` name (see the module docstring)."""
    signature = inspect.signature(func)
    if "mod" in signature.parameters:  # already wrapped, or the tool handles it itself
        return func
    takes_copy = "copy" in signature.parameters

    @functools.wraps(func)
    def tool(adata, *args, mod=None, **kwargs):
        if not is_mudata(adata):
            if mod is not None:
                raise ValueError(
                    f"mod={mod!r} names a modality of a MuData, but adata is a {type(adata).__name__}; "
                    f"drop mod= or pass the MuData ({INSTALL_HINT})."
                )
            return func(adata, *args, **kwargs)
        name = modality_name(adata, mod)
        copy = bool(kwargs.pop("copy", False)) if takes_copy else False
        mdata = adata.copy() if copy else adata
        if takes_copy:
            kwargs["copy"] = False
        token = _PARENT.set(mdata)
        try:
            out = func(mdata.mod[name], *args, **kwargs)
        finally:
            _PARENT.reset(token)
        if takes_copy:
            return mdata if copy else None
        return out

    parameters = list(signature.parameters.values())
    mod_param = inspect.Parameter("mod", inspect.Parameter.KEYWORD_ONLY, default=None)
    at = next((i for i, p in enumerate(parameters) if p.kind == p.VAR_KEYWORD), len(parameters))
    tool.__signature__ = signature.replace(parameters=parameters[:at] + [mod_param] + parameters[at:])
    return tool
