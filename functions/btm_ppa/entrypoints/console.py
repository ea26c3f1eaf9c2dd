"""The ``btm-ppa`` console script: Ctrl-C handling first, then the CLI; and the CLI's one-line
logging, which saves a trace to a crash file rather than print it.

Importing the CLI loads pandas, numpy, DuckDB and rich (about a second). A Ctrl-C in that
second used to print a traceback, or exit 1 with numpy's "ImportError: initialization
failed", or die by the signal (exit -2); with the handler installed before those imports
it is an interruption like any other: one line, exit 130, nothing read or written.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import traceback

from btm_ppa.core import interrupts
from btm_ppa.errors import ExitCode  # the standard library only, like interrupts

INTERRUPTED = ExitCode.INTERRUPTED  # 130: 128 + SIGINT, as shells report it


def main(argv: list[str] | None = None) -> int:
    try:
        interrupts.install()
        try:
            from btm_ppa.entrypoints import cli
        except BaseException as exc:
            if not interrupts.interruption(exc):
                raise
            _interrupted()
            # Half-imported C extensions (numpy, pandas) can crash the interpreter's
            # clean-up (SIGSEGV, exit -11, after the message): nothing was read or written,
            # so end here, without it.
            sys.stderr.flush()
            os._exit(INTERRUPTED)
        return cli.main(argv)
    except KeyboardInterrupt:  # between the handler's installation and the CLI's own guard
        return _interrupted()
    finally:
        interrupts.ignore_from_now()


def _interrupted() -> int:
    sys.stderr.write("interrupted while starting: nothing was read or written\n")
    return INTERRUPTED


def crash_report(exc: BaseException) -> str:
    """Write the trace of an unexpected error to a file; return its path (or a note)."""
    try:
        fd, name = tempfile.mkstemp(prefix="btm-ppa-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write("".join(traceback.format_exception(exc)))
        return name
    except OSError:
        return "(the trace could not be saved)"


class _OneLine(logging.Formatter):
    """Log records as one line each; a record carrying an exception saves its trace to a
    crash file and names it, so no traceback reaches the terminal."""

    def format(self, record: logging.LogRecord) -> str:
        text = f"{record.levelname} {record.name}: {record.getMessage()}"
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            text += f" ({type(error).__name__}; the trace is saved in {crash_report(error)})"
        return text


def one_line_logging() -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(_OneLine())
    root = logging.getLogger()
    for old in list(root.handlers):
        if isinstance(old, logging.StreamHandler) and getattr(old, "_btm_ppa", False):
            root.removeHandler(old)
    handler._btm_ppa = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(logging.WARNING)


if __name__ == "__main__":
    sys.exit(main())
