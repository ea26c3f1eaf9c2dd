"""The ``btm-ppa`` console script: Ctrl-C handling first, then the CLI.

Importing the CLI loads pandas, numpy, DuckDB and rich (about a second). A Ctrl-C in that
second used to print a traceback, or exit 1 with numpy's "ImportError: initialization
failed", or die by the signal (exit -2); with the handler installed before those imports
it is an interruption like any other: one line, exit 130, nothing read or written.
"""

from __future__ import annotations

import sys

from btm_ppa import interrupts
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
            return _interrupted()
        return cli.main(argv)
    except KeyboardInterrupt:  # between the handler's installation and the CLI's own guard
        return _interrupted()
    finally:
        interrupts.ignore_from_now()


def _interrupted() -> int:
    sys.stderr.write("interrupted while starting: nothing was read or written\n")
    return INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
