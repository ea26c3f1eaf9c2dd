"""The exception hierarchy. Entry points translate these into HTTP status codes, CLI exit
codes and the text of the status row; nothing below the entry points formats them."""

from __future__ import annotations


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
        shown = "blank" if value is None or value == "" else repr(value)
        what = problem or "is not valid"
        super().__init__(f"{cell} {what}: found {shown}; expected {expected}")


class InputErrors(BtmError):
    """Several input cells are wrong. The message leads with the first and counts the rest."""

    kind = "input"

    def __init__(self, errors: list[InputError]) -> None:
        self.errors = errors
        first = errors[0]
        self.cell = first.cell
        message = first.message
        if len(errors) > 1:
            others = ", ".join(e.cell for e in errors[1:])
            message += f" (and {len(errors) - 1} more: {others})"
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
    """The price warehouse could not answer (missing table, SQL error, unreachable)."""

    kind = "warehouse"


class ElexonError(BtmError):
    """The Elexon Insights API failed or answered with something unreadable."""

    kind = "elexon"


class RefreshTimeoutError(BtmError):
    """A refresh did not finish within its time budget; nothing was written."""

    kind = "timeout"
