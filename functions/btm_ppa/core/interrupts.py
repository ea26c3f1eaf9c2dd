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

import signal
import threading
from types import FrameType

_requested = threading.Event()


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    _requested.set()
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
