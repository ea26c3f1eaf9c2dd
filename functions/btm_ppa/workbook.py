"""The workbook port: what the refresh needs of a spreadsheet, whatever holds it.

Two adapters implement it: a local .xlsx file (openpyxl) and a Google Sheet (gspread).
A refresh reads once and writes once:

- ``read`` returns every value of the tab's declared range (plus whole optional tabs such
  as ``HH Data``) in one call, as unformatted values: numbers as numbers, text as text,
  dates as ``datetime.date``/``datetime`` or spreadsheet serial numbers.
- ``write`` sets a list of cells in one call and is all-or-nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

CellValue = str | int | float | bool | dt.date | dt.datetime | None


@dataclass(frozen=True)
class TabSnapshot:
    """Values read from a workbook in one call."""

    tab_names: tuple[str, ...]
    cells: Mapping[str, CellValue]  # "B45" -> value; absent means blank
    tables: Mapping[str, list[list[CellValue]]] = field(default_factory=dict)

    def get(self, address: str) -> CellValue:
        return self.cells.get(address)


@dataclass(frozen=True)
class CellWrite:
    """One cell to set. ``number_format`` uses spreadsheet format codes."""

    address: str
    value: CellValue
    number_format: str | None = None


class Workbook(Protocol):
    #: Human-readable name for messages ("my.xlsx", "spreadsheet 1AbC…").
    description: str

    def read(self, tab: str, cell_range: str, optional_tabs: Sequence[str] = ()) -> TabSnapshot:
        """Read ``cell_range`` of ``tab`` and the whole of each optional tab that exists.

        Raises WorkbookUnavailableError (missing, locked, not shared) or LayoutError (no
        such tab).
        """
        ...

    def write(self, tab: str, writes: Sequence[CellWrite]) -> None:
        """Set all ``writes`` in ``tab`` at once, or none of them."""
        ...
