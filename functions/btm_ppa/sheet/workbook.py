"""The workbook port: what the refresh needs of a spreadsheet, whatever holds it.

Two adapters implement it: a local .xlsx file (openpyxl) and a Google Sheet (gspread).
A refresh reads once and writes once:

- ``read`` returns every value of the tab's declared range (plus whole optional tabs such
  as ``HH Data``) in one call, as unformatted values: numbers as numbers, text as text,
  dates as ``datetime.date``/``datetime`` or spreadsheet serial numbers.
- ``write`` sets a list of cells and replaces whole tabs in one call, all or nothing
  (on Google Sheets one ``spreadsheets.batchUpdate``; see ``adapters/sheets_workbook.py``
  for how to add requests to it).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from btm_ppa.sheet.guidance import InputGuide

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
    """One cell to set. ``number_format`` uses spreadsheet format codes; None keeps the
    cell's format. ``tab`` None means the tab the write is for; another tab's name writes
    there (it must exist, or be created by a table of the same write)."""

    address: str
    value: CellValue
    number_format: str | None = None
    tab: str | None = None  # another tab than the one written (the Deal tab); None: that one


@dataclass(frozen=True)
class ChartSpec:
    """A chart over a table's columns (0-based column indexes; row 1 is the header)."""

    title: str
    x_column: int
    series_columns: tuple[int, ...]
    y_title: str
    kind: str = "LINE"  # LINE, or COLUMN (bars side by side); on Sheets also BAR, AREA
    secondary_columns: tuple[int, ...] = ()  # lines on a right-hand axis (a price beside MWh)
    secondary_title: str = ""
    label_every: int = 0  # label every n-th category on the x axis (0: as the program likes)
    x_format: str = ""  # number format of the x axis labels


@dataclass(frozen=True)
class RangeChart:
    """A chart over cell ranges of a tab (1-based rows and columns; row ``header_row``
    holds the series names). ``kind`` is "bar" or "line"; ``line_columns`` are drawn as
    lines over a bar chart."""

    tab: str
    title: str
    anchor: str  # top-left cell of the chart
    kind: str
    header_row: int
    first_row: int
    last_row: int
    category_column: int
    columns: tuple[int, ...]
    line_columns: tuple[int, ...] = ()
    y_title: str = ""
    x_title: str = ""


@dataclass(frozen=True)
class ColorScale:
    """A green (high) to red (low) colour scale over a range: the sizing heatmap."""

    tab: str
    cell_range: str


#: Either kind of chart the port writes.
AnyChart = RangeChart | ColorScale


@dataclass(frozen=True)
class TableWrite:
    """A whole tab written afresh: its rows (header first), column formats, charts. A tab
    not there yet is created in the same write, unless ``only_if_exists``."""

    rows: list[list[CellValue]]
    number_formats: Mapping[int, str] = field(default_factory=dict)
    chart: ChartSpec | None = None
    only_if_exists: bool = False  # replace the tab if it is there; never create it
    more_charts: tuple[ChartSpec, ...] = ()

    @property
    def charts(self) -> tuple[ChartSpec, ...]:
        return ((self.chart,) if self.chart else ()) + self.more_charts


class Workbook(Protocol):
    #: Human-readable name for messages ("my.xlsx", "spreadsheet 1AbC…").
    description: str

    def read(self, tab: str, cell_range: str, optional_tabs: Sequence[str] = ()) -> TabSnapshot:
        """Read ``cell_range`` of ``tab`` and the whole of each optional tab that exists.

        Raises WorkbookUnavailableError (missing, locked, not shared) or LayoutError (no
        such tab).
        """
        ...

    def write(self, tab: str, writes: Sequence[CellWrite],
              tables: Mapping[str, TableWrite] | None = None,
              charts: Sequence[RangeChart | ColorScale] = (),
              guides: Sequence[InputGuide] = ()) -> None:
        """Set all ``writes`` in ``tab`` (a write naming another tab goes there) and
        replace each tab in ``tables``, all at once or none of it; ``charts`` replace the
        charts and colour scales of the tabs they name. ``guides`` (the inputs' notes and
        data validation) are put on ``tab``'s cells in the same write where the adapter
        carries them (Google Sheets; a local workbook has them from its template)."""
        ...
