"""Ctrl-C as an interruption, wherever it lands.

Python raises KeyboardInterrupt for SIGINT, but libraries turn it into their own errors
when it arrives inside them: DuckDB answers ``RuntimeError('Query interrupted')`` (or its
InterruptException), numpy's import ``ImportError('initialization failed')``. The CLI
installs this handler first (``entrypoints/console.py``, before any heavy import); it
remembers the request, so that whatever error comes out of the interrupted code is
treated as the interruption it is (exit 130, nothing written), never as a bug.

Standard library only: this must load before pandas, numpy and DuckDB.
"""

from __future__ import annotations

import _thread
import signal
import threading
from types import FrameType

_requested = threading.Event()


def _in_finalizer(frame: FrameType | None) -> bool:
    """Whether ``frame`` runs inside a ``__del__`` (a garbage collection), where Python
    prints an exception as "Exception ignored in ..." with its traceback and carries on."""
    for _ in range(_FINALIZER_DEPTH):
        if frame is None:
            return False
        if frame.f_code.co_name == "__del__":
            return True
        frame = frame.f_back
    return False


_FINALIZER_DEPTH = 64
#: How soon a Ctrl-C that landed in a finalizer is raised again. [s]
_AGAIN_S = 0.005


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
    if _in_finalizer(frame):
        # Raised here the interruption would be swallowed (the work would carry on and
        # print a traceback): ask again in a moment, raised once the finalizer returned.
        again = threading.Timer(_AGAIN_S, _thread.interrupt_main)
        again.daemon = True
        again.start()
        return
    raise KeyboardInterrupt


def install() -> None:
    """Handle SIGINT here (main thread only; elsewhere Python's own handler stays)."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def requested() -> bool:
    """Whether Ctrl-C was pressed since ``install`` (or ``clear``)."""
    return _requested.is_set()


def clear() -> None:
    _requested.clear()


def ignore_from_now() -> None:
    """The work is done and its outcome decided: a late Ctrl-C (while the interpreter
    shuts down) must not turn it into a traceback or another exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


def interruption(error: BaseException) -> bool:
    """Whether ``error`` is, or came out of, a Ctrl-C."""
    return isinstance(error, KeyboardInterrupt) or _requested.is_set()
