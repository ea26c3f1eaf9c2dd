"""The exception hierarchy, and the one table that says what each error means at the
edges: CLI exit code, HTTP status and the prefix of the sheet's status text.

Nothing below the entry points formats errors; the entry points look an error up here
(``outcome_of``), along its class hierarchy, so a new subclass inherits its parent's row.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import IntEnum


class ExitCode(IntEnum):
    """Exit codes of ``btm-ppa``; scripts can rely on them."""

    OK = 0
    INTERNAL = 1  # a bug: please report it
    USAGE = 2  # bad command line (argparse) or request
    INPUT = 3  # a cell of the tab is wrong or the layout does not match; see row 62
    WORKBOOK = 4  # the workbook is missing, locked or cannot be written
    PRICES = 5  # no usable prices for the window, or the warehouse or Elexon failed


class BtmError(Exception):
    """Base of every error this package raises on purpose."""

    #: Short machine-readable kind, used in JSON responses and logs.
    kind = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InputError(BtmError):
    """An analyst-owned cell holds a value the model cannot use.

    The message always names the cell, the value seen and what was expected, with unit.
    """

    kind = "input"

    def __init__(self, cell: str, value: object, expected: str, problem: str | None = None):
        self.cell = cell
        self.value = value
        self.expected = expected
        seen = "blank" if value is None or value == "" else shown(value)
        what = problem or "is not valid"
        super().__init__(f"{cell} {what}: found {seen}; expected {expected}")


def shown(value: object) -> str:
    """A cell's value for a message: dates as ISO dates (a midnight time is a date, as a
    spreadsheet date cell reads), other values as their repr, cut short (a cell may hold
    50,000 characters). Never a Python repr such as ``datetime.date(2023, 12, 31)``."""
    if isinstance(value, dt.datetime):
        text = (value.date().isoformat() if value.time() == dt.time() and value.tzinfo is None
                else value.isoformat(sep=" "))
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class InputErrors(BtmError):
    """Several input cells are wrong. The message leads with the first and lists each other
    cell once."""

    kind = "input"

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        self.cell = first.cell
        message = first.message
        others = list(dict.fromkeys(e.cell for e in errors[1:] if e.cell != first.cell))
        if others:
            message += f" (and {len(others)} more: {', '.join(others)})"
        super().__init__(message)


class LayoutError(BtmError):
    """The tab does not look like the declared layout (wrong label, missing tab)."""

    kind = "layout"

    def __init__(self, message: str, cell: str | None = None) -> None:
        super().__init__(message)
        self.cell = cell


class PriceDataError(BtmError):
    """The price warehouse has no usable prices for the requested window."""

    kind = "prices"

    def __init__(self, message: str, cell: str | None = None) -> None:
        super().__init__(message)
        self.cell = cell


class WorkbookUnavailableError(BtmError):
    """The workbook cannot be opened or written (missing, locked, not shared)."""

    kind = "workbook"


class WarehouseError(BtmError):
    """The price warehouse could not answer (missing table, SQL error, unreachable), or
    its path holds something that is not a warehouse."""

    kind = "warehouse"


class ElexonError(BtmError):
    """The Elexon Insights API failed or answered with something unreadable."""

    kind = "elexon"


class RefreshTimeoutError(BtmError):
    """A refresh did not finish within its time budget; nothing was written."""

    kind = "timeout"


class RegisterError(BtmError):
    """BM unit data that cannot be read as a register (a file given, or Elexon's answer)."""

    kind = "register"


class ReferenceDataError(BtmError):
    """A DNO reference lookup cannot be answered (unknown tariff, area or date)."""

    kind = "reference"


class RequestError(BtmError):
    """The request itself is malformed: a CLI argument or an HTTP body field."""

    kind = "request"


class ServiceUnavailableError(BtmError):
    """Something of ours or Google's is missing right now (certificates, credentials):
    the caller did nothing wrong and may retry."""

    kind = "unavailable"


class InternalError(BtmError):
    """A bug met while computing, reported in the status row so that it never keeps
    saying OK over figures that were not refreshed."""

    kind = "internal"


@dataclass(frozen=True)
class ErrorOutcome:
    """What an error means at each edge."""

    exit_code: ExitCode
    http_status: int
    sheet_prefix: str  # the status cell reads "<prefix>: <message>"


#: Error class -> outcome, resolved along the class hierarchy (the most specific class
#: listed wins). Anything not a BtmError is a bug: exit 1, HTTP 500.
OUTCOMES: dict[type[BaseException], ErrorOutcome] = {
    BaseException: ErrorOutcome(ExitCode.INTERNAL, 500, "ERROR"),
    BtmError: ErrorOutcome(ExitCode.INTERNAL, 500, "ERROR"),
    InputError: ErrorOutcome(ExitCode.INPUT, 422, "ERROR"),
    InputErrors: ErrorOutcome(ExitCode.INPUT, 422, "ERROR"),
    LayoutError: ErrorOutcome(ExitCode.INPUT, 422, "ERROR"),
    # The request was fine; the tab's window holds no prices (see its status row).
    PriceDataError: ErrorOutcome(ExitCode.PRICES, 422, "ERROR"),
    WorkbookUnavailableError: ErrorOutcome(ExitCode.WORKBOOK, 409, "ERROR"),
    WarehouseError: ErrorOutcome(ExitCode.PRICES, 502, "ERROR"),
    ElexonError: ErrorOutcome(ExitCode.PRICES, 502, "ERROR"),
    # A register file given on the command line is input; over HTTP it came from Elexon.
    RegisterError: ErrorOutcome(ExitCode.INPUT, 502, "ERROR"),
    ReferenceDataError: ErrorOutcome(ExitCode.INPUT, 422, "ERROR"),
    RequestError: ErrorOutcome(ExitCode.USAGE, 400, "ERROR"),
    ServiceUnavailableError: ErrorOutcome(ExitCode.INTERNAL, 503, "ERROR"),
    InternalError: ErrorOutcome(ExitCode.INTERNAL, 500, "ERROR"),
    # Over budget: nothing was written; the caller may try again.
    RefreshTimeoutError: ErrorOutcome(ExitCode.INTERNAL, 500, "ERROR"),
}


def outcome_of(error: BaseException) -> ErrorOutcome:
    """The table row of ``error``'s class or its nearest listed ancestor. An instance may
    carry its own ``http_status`` (authentication answers 401, 403 or 503)."""
    for cls in type(error).__mro__:
        if cls in OUTCOMES:
            found = OUTCOMES[cls]
            break
    status = getattr(error, "http_status", None)
    if isinstance(status, int):
        return ErrorOutcome(found.exit_code, status, found.sheet_prefix)
    return found


def exit_code_for(error: BaseException | None) -> ExitCode:
    return ExitCode.OK if error is None else outcome_of(error).exit_code


def http_status_for(error: BaseException | None) -> int:
    return 200 if error is None else outcome_of(error).http_status


def sheet_status_for(error: BtmError) -> str:
    """The status cell's text for an error: ``ERROR: <message>``."""
    return f"{outcome_of(error).sheet_prefix}: {error.message}"
