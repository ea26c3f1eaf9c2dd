"""Local .xlsx workbooks through openpyxl.

Reads take cached values (what Excel, LibreOffice or Google Sheets last computed): a read
cell holding a formula with no cached value is reported by cell, since openpyxl does not
compute formulas. The template keeps every read cell formula-free.

Writes are all-or-nothing: the workbook is saved to a temporary file beside it and moved
over the original in one rename, so a crash leaves the old file whole.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import openpyxl
from openpyxl.chart import LineChart, Reference
from openpyxl.utils.cell import get_column_letter, range_boundaries

from btm_ppa.errors import LayoutError, WorkbookUnavailableError
from btm_ppa.sheet.workbook import CellValue, CellWrite, TableWrite, TabSnapshot


def lock_files(path: Path) -> list[Path]:
    """Lock files that Excel (``~$name``) and LibreOffice (``.~lock.name#``) keep while a
    workbook is open in them."""
    candidates = [path.with_name(f"~${path.name}"), path.with_name(f".~lock.{path.name}#")]
    return [p for p in candidates if p.exists()]


class XlsxWorkbook:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.description = self.path.name

    def _check_available(self, for_writing: bool) -> None:
        if not self.path.exists():
            raise WorkbookUnavailableError(
                f"workbook {self.path} not found: expected an .xlsx file "
                "(make one with `btm-ppa template --out FILE`)")
        if self.path.is_dir():
            raise WorkbookUnavailableError(f"{self.path} is a folder: expected an .xlsx file")
        locks = lock_files(self.path)
        if locks:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} is open in another program (lock file "
                f"{locks[0].name}): close it there and refresh again")
        if not os.access(self.path, os.R_OK | (os.W_OK if for_writing else 0)):
            raise WorkbookUnavailableError(
                f"workbook {self.path} cannot be {'written' if for_writing else 'read'} "
                "(permission denied)")

    def _open(self, data_only: bool, read_only: bool = False) -> openpyxl.Workbook:
        try:
            return openpyxl.load_workbook(self.path, data_only=data_only, read_only=read_only)
        except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} cannot be opened as .xlsx: {exc}") from exc

    def read(self, tab: str, cell_range: str, optional_tabs: Sequence[str] = ()) -> TabSnapshot:
        self._check_available(for_writing=False)
        # Read-only (streaming) mode: tabs other than those asked for are never parsed.
        values_wb = self._open(data_only=True, read_only=True)
        formulas_wb = self._open(data_only=False, read_only=True)
        try:
            if tab not in values_wb.sheetnames:
                raise LayoutError(
                    f"workbook {self.path.name} has no {tab!r} tab (tabs: "
                    f"{', '.join(values_wb.sheetnames)}): expected the BESS tab of the layout",
                    cell=None)
            min_col, min_row, max_col, max_row = range_boundaries(cell_range)
            window = {"min_row": min_row, "max_row": max_row, "min_col": min_col,
                      "max_col": max_col, "values_only": True}
            cells: dict[str, CellValue] = {}
            rows = zip(values_wb[tab].iter_rows(**window), formulas_wb[tab].iter_rows(**window),
                       strict=False)
            for r, (values, formulas) in enumerate(rows, start=min_row):
                for c, (value, formula) in enumerate(zip(values, formulas, strict=False),
                                                     start=min_col):
                    if value is not None:
                        cells[f"{get_column_letter(c)}{r}"] = value
                    elif isinstance(formula, str) and formula.startswith("="):
                        cells[f"{get_column_letter(c)}{r}"] = formula  # parsers name the cell
            tables = {
                name: [list(row) for row in values_wb[name].iter_rows(values_only=True)]
                for name in optional_tabs if name in values_wb.sheetnames
            }
            return TabSnapshot(tuple(values_wb.sheetnames), cells, tables)
        finally:
            values_wb.close()
            formulas_wb.close()

    def write(self, tab: str, writes: Sequence[CellWrite],
              tables: Mapping[str, TableWrite] | None = None) -> None:
        self._check_available(for_writing=True)
        book = self._open(data_only=False)
        if writes and tab not in book.sheetnames:
            raise LayoutError(f"workbook {self.path.name} has no {tab!r} tab", cell=None)
        for name, table in (tables or {}).items():
            _replace_tab(book, name, table)
        for write in writes:
            sheet = book[tab]
            cell = sheet[write.address]
            value = write.value
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)  # xlsx has no zones
            cell.value = value
            if write.number_format:
                cell.number_format = write.number_format
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.stem}-", suffix=".xlsx",
                                   dir=self.path.parent)
        os.close(fd)
        try:
            book.save(tmp)
            os.replace(tmp, self.path)
        except OSError as exc:
            raise WorkbookUnavailableError(
                f"workbook {self.path.name} could not be saved: {exc}") from exc
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)


def _replace_tab(book: openpyxl.Workbook, name: str, table: TableWrite) -> None:
    """Recreate a tab (in the same place) holding ``table``, with its chart."""
    index = book.sheetnames.index(name) if name in book.sheetnames else len(book.sheetnames)
    if name in book.sheetnames:
        del book[name]
    sheet = book.create_sheet(name, index)
    for row in table.rows:
        sheet.append(row)
    for column, number_format in table.number_formats.items():
        letter = get_column_letter(column + 1)
        for cell in sheet[letter][1:]:
            cell.number_format = number_format
        sheet.column_dimensions[letter].width = 16
    if table.chart and len(table.rows) > 1:
        spec = table.chart
        chart = LineChart()
        chart.title, chart.y_axis.title = spec.title, spec.y_title
        chart.height, chart.width = 9, 24
        last = len(table.rows)
        for column in spec.series_columns:
            chart.add_data(Reference(sheet, min_col=column + 1, min_row=1, max_row=last),
                           titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=spec.x_column + 1, min_row=2, max_row=last))
        sheet.add_chart(chart, f"{get_column_letter(len(table.rows[0]) + 2)}2")
