"""Reading typed values out of cells: numbers, percentages, dates and text.

Each parser names the cell, the value seen and the expected unit when it refuses.
"""

from __future__ import annotations

import datetime as dt
import re

from btm_ppa.errors import InputError
from btm_ppa.sheet.workbook import CellValue

_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
#: Day 0 of spreadsheet serial dates (Google Sheets, and Excel after 1 March 1900).
SERIAL_EPOCH = dt.date(1899, 12, 30)


def is_blank(value: CellValue) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


def is_uncomputed_formula(value: CellValue) -> bool:
    """A formula whose result was never saved (a file written by openpyxl): its text."""
    return isinstance(value, str) and value.startswith("=")


def formula_error(cell: str, value: CellValue) -> InputError:
    return InputError(
        cell, value,
        "a typed value, or a formula whose result was saved (open and save the file in "
        "Excel, LibreOffice or Google Sheets first)",
        "holds a formula with no saved result")


def parse_number(cell: str, value: CellValue, unit: str, *, required: bool,
                 minimum: float | None = None) -> float | None:
    """A number in ``unit``; plain numeric text ("150", "1.5e3") is accepted."""
    expected = f"a number in {unit}" + (f" of at least {minimum:g}" if minimum is not None else "")
    if is_uncomputed_formula(value):
        raise formula_error(cell, value)
    if is_blank(value):
        if required:
            raise InputError(cell, value, expected, "is blank")
        return None
    if isinstance(value, bool | dt.date):
        raise InputError(cell, value, expected, "is not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        if not _PLAIN_NUMBER.match(text):
            raise InputError(cell, value, expected, "is text, not a number")
        number = float(text)
    if number != number or number in (float("inf"), float("-inf")):
        raise InputError(cell, value, expected, "is not a finite number")
    if minimum is not None and number < minimum:
        problem = "is negative" if minimum == 0 else f"is below {minimum:g}"
        raise InputError(cell, value, expected, problem)
    return number


def parse_percent(cell: str, value: CellValue, *, required: bool) -> float | None:
    """A percentage in (0, 100]. A cell formatted as % holds a fraction (0.85 for 85 %),
    so values in (0, 1] are read as fractions of one."""
    expected = "a percentage above 0 and at most 100 % (e.g. 85 or 85%)"
    number = parse_number(cell, value, "%", required=required)
    if number is None:
        return None
    pct = number * 100 if 0 < number <= 1 else number
    if not 0 < pct <= 100:
        raise InputError(cell, value, expected, "is outside (0, 100] %")
    return pct


def parse_date(cell: str, value: CellValue, *, required: bool) -> dt.date | None:
    """A date: a date cell, a spreadsheet serial number, or text as 2023-01-31 or 31/01/2023."""
    expected = "a date (a date cell, 2023-01-31 or 31/01/2023)"
    if is_uncomputed_formula(value):
        raise formula_error(cell, value)
    if is_blank(value):
        if required:
            raise InputError(cell, value, expected, "is blank")
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466:  # up to 9999-12-31
            return SERIAL_EPOCH + dt.timedelta(days=int(value))
        raise InputError(cell, value, expected, "is not a date")
    text = str(value).strip()
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
