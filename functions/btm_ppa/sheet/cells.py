"""Reading typed values out of cells: numbers, percentages, dates and text.

Each parser names the cell, the value seen and the expected unit when it refuses.
"""

from __future__ import annotations

import datetime as dt
import re

from btm_ppa.errors import InputError
from btm_ppa.sheet.workbook import CellValue

_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$", re.ASCII)  # ASCII digits only
#: Day 0 of spreadsheet serial dates (Google Sheets, and Excel after 1 March 1900).
SERIAL_EPOCH = dt.date(1899, 12, 30)


def is_blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def is_uncomputed_formula(value: CellValue) -> bool:
    """A formula whose result was never saved (a file written by openpyxl): its text."""
    return isinstance(value, str) and value.startswith("=")


def formula_error(cell: str, value: CellValue, expected: str | None = None) -> InputError:
    return InputError(
        cell, value,
        f"{expected or 'a typed value'}, typed, or a formula whose result was saved (open and "
        "save the file in Excel, LibreOffice or Google Sheets first)",
        "holds a formula with no saved result")


def _range_text(unit: str, minimum: float | None, maximum: float | None) -> str:
    if minimum is not None and maximum is not None:
        return f"a number in {unit}, at least {minimum:,.10g} and at most {maximum:,.10g}"
    if minimum is not None:
        return f"a number in {unit} of at least {minimum:,.10g}"
    if maximum is not None:
        return f"a number in {unit} of at most {maximum:,.10g}"
    return f"a number in {unit}"


def parse_number(cell: str, value: CellValue, unit: str, *, required: bool,
                 minimum: float | None = None, maximum: float | None = None) -> float | None:
    """A number in ``unit`` within [minimum, maximum]; plain numeric text ("150", "1.5e3")
    is accepted."""
    expected = _range_text(unit, minimum, maximum)
    if _absent(cell, value, required, expected):
        return None
    if isinstance(value, bool | dt.date | dt.time | dt.timedelta):
        raise InputError(cell, value, expected, "is not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:  # an int too large for a float
            raise InputError(cell, value, expected, "is out of range") from None
    elif isinstance(value, str):
        text = value.strip()
        if cell_error(text):
            raise InputError(cell, value, expected, "holds a spreadsheet error")
        if not _PLAIN_NUMBER.match(text):
            raise InputError(cell, value, expected, "is text, not a number")
        number = float(text)
    else:
        raise InputError(cell, value, expected, "is not a number")
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(cell, value, expected, "is not a finite number")
    if minimum is not None and number < minimum:
        problem = "is negative" if minimum == 0 else f"is below {minimum:,.10g}"
        raise InputError(cell, value, expected, problem)
    if maximum is not None and number > maximum:
        raise InputError(cell, value, expected, "is above its plausible maximum")
    return number


#: Error values a spreadsheet shows in a cell whose formula failed.
_CELL_ERRORS = ("#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A",
                "#GETTING_DATA", "#ERROR!", "#SPILL!", "#CALC!")


def cell_error(value: CellValue) -> bool:
    return isinstance(value, str) and value.strip().upper() in _CELL_ERRORS


def parse_percent(cell: str, value: CellValue, *, required: bool,
                  minimum: float | None = None) -> float | None:
    """A percentage in (0, 100]. A cell formatted as % holds a fraction (0.85 for 85 %),
    so values in (0, 1] are read as fractions of one; text "85%" reads as 85 %."""
    least = minimum or 0.0
    expected = (f"a percentage from {least:g} to 100 % (e.g. 85 or 85%)" if least else
                "a percentage above 0 and at most 100 % (e.g. 85 or 85%)")
    if isinstance(value, str) and value.strip().endswith("%"):
        number = parse_number(cell, value.strip()[:-1], "%", required=True)
        pct = number if number is not None else 0.0
    else:
        number = parse_number(cell, value, "%", required=required)
        if number is None:
            return None
        pct = number * 100 if 0 < number <= 1 else number
    if not 0 < pct <= 100:
        raise InputError(cell, value, expected, "is outside (0, 100] %")
    if pct < least:
        raise InputError(cell, value, expected, f"is below {least:g} %")
    return pct


def parse_date(cell: str, value: CellValue, *, required: bool,
               earliest: dt.date | None = None, latest: dt.date | None = None) -> dt.date | None:
    """A date: a date cell, a spreadsheet serial number, or text as 2023-01-31 or 31/01/2023,
    within [earliest, latest] when given."""
    expected = "a date (a date cell, 2023-01-31 or 31/01/2023)"
    if earliest is not None and latest is not None:
        expected += f" from {earliest} to {latest}"
    day = _parse_date(cell, value, required, expected)
    if day is None:
        return None
    if earliest is not None and day < earliest:
        raise InputError(cell, value, expected, f"is before {earliest}")
    if latest is not None and day > latest:
        raise InputError(cell, value, expected, f"is after {latest}")
    return day


def _absent(cell: str, value: CellValue, required: bool, expected: str) -> bool:
    """Whether the cell is blank (allowed unless ``required``); a formula without a saved
    result, or a required blank, is an InputError naming the cell."""
    if is_uncomputed_formula(value):
        raise formula_error(cell, value, expected)
    if is_blank(value):
        if required:
            raise InputError(cell, value, expected, "is blank")
        return True
    return False


def _parse_date(cell: str, value: CellValue, required: bool, expected: str) -> dt.date | None:
    if _absent(cell, value, required, expected):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # up to 9999-12-31
            return SERIAL_EPOCH + dt.timedelta(days=int(value))
        raise InputError(cell, value, expected, "is not a date")
    if not isinstance(value, str):
        raise InputError(cell, value, expected, "is not a date")
    text = value.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return dt.datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise InputError(cell, value, expected, "is not a date")


def parse_text(value: CellValue) -> str | None:
    """Text of a cell; numbers typed into text cells (an MPAN) keep their digits."""
    if is_blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
