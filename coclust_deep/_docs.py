"""Shared docstring parts, written once and injected where they apply (scanpy's ``_doc_params``)."""
from __future__ import annotations

import inspect


def inject_docs(**parts):
    """Decorator: fill the ``{name}`` fields of a docstring with shared text.

    The docstring is dedented first (:func:`inspect.cleandoc`), so a part is
    written without indentation and lines up with the section it lands in.
    Literal braces in a docstring that uses this are written ``{{`` / ``}}``.

    Examples
    --------
    >>> @inject_docs(doc_x="x\\n    The input.")
    ... def f(x):
    ...     '''Identity.
    ...
    ...     Parameters
    ...     ----------
    ...     {doc_x}
    ...     '''
    >>> print(f.__doc__)
    Identity.
    <BLANKLINE>
    Parameters
    ----------
    x
        The input.
    """

    def decorator(func):
        func.__doc__ = inspect.cleandoc(func.__doc__).format(**parts)
        return func

    return decorator
