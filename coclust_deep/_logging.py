"""Messages to the user, through scanpy's logging (``sc.settings.verbosity``).

* :func:`info`: what a step did (shown at ``verbosity >= "info"``).
* :func:`notice`: something the user should see by default, such as a long
  one-off wait, logged at scanpy's warning level (scanpy does the same for
  "saving figure to file").
* :func:`compile_notice`: wraps a fit; the first time in the process that
  Numba starts compiling a ``coclust_deep.kernels`` function (its cache is
  empty: a fresh install, or new input types), one notice says so.

Progress bars are tqdm's (``verbose=True`` on the estimators that loop for
long: ``select_lbm`` and the deep models).
"""
from __future__ import annotations

import contextlib
import threading

_KERNEL_MODULE = "coclust_deep.kernels"
COMPILE_MESSAGE = (
    "coclust_deep: compiling the Numba kernels for this kind of input (dense or sparse, float32 or float64); "
    "this happens once per installation and input kind, takes about 20-30 s (longer on a busy machine), and "
    "the compiled code is cached for later runs."
)

_state = {"compile_notice_shown": False}
_lock = threading.Lock()


def user_stacklevel():
    """The ``stacklevel`` that makes a warning point at the first caller outside coclust_deep.

    Tools reach the same warning through different depths (``tl`` wrappers,
    estimators), so a fixed ``stacklevel`` would blame library code.
    """
    import os
    import sys

    package = os.path.dirname(os.path.abspath(__file__))
    # the package, its kernels, and contextlib (whose decorators wrap the fits)
    skipped = (package, os.path.join(os.path.dirname(package), "kernels"), os.path.abspath(contextlib.__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(skipped):
        frame, level = frame.f_back, level + 1
    return level


def info(message):
    """Log at scanpy's ``info`` level (shown with ``sc.settings.verbosity >= 2``)."""
    from scanpy import logging as logg

    logg.info(message)


def notice(message):
    """Log at scanpy's warning level: shown by default, as scanpy's own notices are."""
    from scanpy import logging as logg

    logg.warning(message)


def _compile_listener():
    from numba.core import event

    class CompileNotice(event.Listener):
        """Numba event listener: the first compile of a coclust_deep kernel logs :data:`COMPILE_MESSAGE`."""

        def on_start(self, ev):
            dispatcher = ev.data.get("dispatcher") if isinstance(ev.data, dict) else None
            module = getattr(getattr(dispatcher, "py_func", None), "__module__", "") or ""
            if not module.startswith(_KERNEL_MODULE):
                return
            with _lock:
                if _state["compile_notice_shown"]:
                    return
                _state["compile_notice_shown"] = True
            notice(COMPILE_MESSAGE)

        def on_end(self, ev):
            pass

    return CompileNotice()


@contextlib.contextmanager
def compile_notice():
    """While active, the first Numba compile of a kernel (cache miss) in this process is announced once.

    Loading kernels from Numba's cache (``cache=True``) triggers no compile
    event, so a warm installation stays silent.
    """
    if _state["compile_notice_shown"]:
        yield
        return
    from numba.core import event

    with event.install_listener("numba:compile", _compile_listener()):
        yield
