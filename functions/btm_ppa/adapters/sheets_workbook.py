"""Google Sheets workbooks through gspread, with one metadata read, one values batchGet
and ONE ``spreadsheets.batchUpdate`` per refresh (Google applies it atomically).

- Reads ask for UNFORMATTED values (numbers as numbers whatever the sheet's locale) and
  serial-number dates; writes are typed ``updateCells`` values (``numberValue``,
  ``stringValue``), so nothing lands as text and no text is parsed; a cell's number format
  is kept unless the write gives one.
- Every request has a timeout and a bounded retry with backoff and jitter on 429/5xx
  (``RetryingHTTPClient``); gspread's own backoff client never gives up on a 429.
- Errors users can act on: "not shared with <service account>", "not found", "no BESS tab".
- Whole tabs (the Dispatch summary, the register) go into the same batchUpdate: a tab not
  there yet is added (``addSheet``), with its charts (``addChart``), and so do the Deal
  tab's charts and heatmap (``sheets_charts``); a table or cell beyond a tab's grid grows
  it first (``appendDimension``). ``SheetsBatch`` says how other writes join the batch.
- No figures under OK from old inputs: after writing, the ranges read are read again and
  compared (every cell but those written); if an input changed meanwhile, the refresh
  marks the figures it wrote stale, names the cells, and the caller runs again
  (``changed_since_read``). Inputs are never written, so no edit is ever lost.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import google.auth
import gspread
import requests
from google.auth.credentials import Credentials
from gspread.exceptions import APIError
from gspread.utils import a1_to_rowcol, rowcol_to_a1

from btm_ppa.adapters.retry import RETRYABLE_STATUSES, RetryPolicy
from btm_ppa.adapters.sheets_charts import add_charts
from btm_ppa.adapters.sheets_guides import add_guides
from btm_ppa.errors import LayoutError, WorkbookUnavailableError
from btm_ppa.sheet.cells import SERIAL_EPOCH
from btm_ppa.sheet.guidance import InputGuide
from btm_ppa.sheet.workbook import AnyChart, CellValue, CellWrite, ChartSpec, TableWrite, TabSnapshot

SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
DEFAULT_TIMEOUT_S = 30.0
_SPREADSHEET_ID = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
NEW_TAB_ROWS, NEW_TAB_COLUMNS = 1_000, 26  # a tab as Sheets makes it


def valid_spreadsheet_id(value: object) -> str:
    if not isinstance(value, str) or not _SPREADSHEET_ID.match(value):
        raise ValueError("a spreadsheet id is 20-100 letters, digits, '-' or '_' "
                         "(the part of the sheet's URL after /d/)")
    return value


class RetryingHTTPClient(gspread.HTTPClient):
    """gspread's HTTP client with a bounded retry on 429, 5xx, timeouts and resets."""

    policy = RetryPolicy()

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        def retryable(exc: BaseException) -> bool:
            if isinstance(exc, APIError):
                return exc.response.status_code in RETRYABLE_STATUSES
            return isinstance(exc, requests.Timeout | requests.ConnectionError)

        parent = super().request
        return self.policy.run(lambda: parent(*args, **kwargs), retryable)  # type: ignore[return-value]


def make_client(credentials: Credentials | None = None, session: requests.Session | None = None,
                policy: RetryPolicy | None = None,
                timeout_s: float = DEFAULT_TIMEOUT_S) -> gspread.Client:
    """A gspread client with the retrying HTTP client, a timeout, and the spreadsheets
    scope asked for explicitly (Cloud Run's metadata server honours requested scopes)."""
    if credentials is None:
        credentials, _ = google.auth.default(scopes=[SHEETS_SCOPE])
    client = gspread.Client(auth=credentials, session=session, http_client=RetryingHTTPClient)
    if policy is not None:
        client.http_client.policy = policy  # type: ignore[attr-defined]
    client.set_timeout(timeout_s)
    return client


def _quote(tab: str) -> str:
    return "'" + tab.replace("'", "''") + "'"


def _to_sheet(value: CellValue) -> Any:
    """A value as Sheets takes it: numbers stay numbers, dates serial days, None clears."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        delta = value - dt.datetime.combine(SERIAL_EPOCH, dt.time())
        return delta.days + delta.seconds / 86_400
    if isinstance(value, dt.date):
        return (value - SERIAL_EPOCH).days
    return value


class SheetsWorkbook:
    """One spreadsheet, through an injected gspread client."""

    def __init__(self, spreadsheet_id: str, client: gspread.Client,
                 service_account_email: str | None = None) -> None:
        self.spreadsheet_id = valid_spreadsheet_id(spreadsheet_id)
        self.client = client
        self.service_account = service_account_email or "the function's service account"
        self.description = f"spreadsheet {spreadsheet_id}"
        self._tabs: tuple[str, ...] | None = None
        self._grid: dict[str, tuple[int, int, int]] = {}  # title -> (sheetId, rows, columns)
        self._charts: dict[str, frozenset[int]] = {}  # title -> its charts' ids
        self._rules: dict[str, list[dict[str, Any]]] = {}  # title -> conditional formats
        self._read_ranges: list[str] = []
        self._read_values: list[list[list[Any]]] = []
        self._read_origin: tuple[int, int] = (1, 1)
        self.inputs_changed = False  # set when a write found the inputs changed since the read

    def _call(self, what: str, fn: Any) -> Any:
        try:
            return fn()
        except APIError as exc:
            status = exc.response.status_code
            if status == 403:
                raise WorkbookUnavailableError(
                    f"{self.description} is not shared with {self.service_account}: share it "
                    "with that address as an Editor, then refresh again") from exc
            if status == 404:
                raise WorkbookUnavailableError(
                    f"{self.description} was not found: check the spreadsheet id") from exc
            if status == 429:
                raise WorkbookUnavailableError(
                    f"Google Sheets is rate-limiting {what} of {self.description} (quota: 60 "
                    "requests a minute per user); wait a minute and refresh again") from exc
            raise WorkbookUnavailableError(
                f"Google Sheets failed {what} of {self.description} (HTTP {status}): "
                f"{exc.args[0] if exc.args else exc}") from exc
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise WorkbookUnavailableError(
                f"Google Sheets did not answer {what} of {self.description} in time; "
                "refresh again in a minute") from exc

    def _tab_names(self) -> tuple[str, ...]:
        meta = self._call("reading the tabs", lambda: self.client.http_client.fetch_sheet_metadata(
            self.spreadsheet_id,
            params={"fields": "sheets(properties(title,sheetId,gridProperties),charts.chartId,"
                              "conditionalFormats)"}))
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            self._grid[props["title"]] = (props.get("sheetId", 0),
                                          grid.get("rowCount", NEW_TAB_ROWS),
                                          grid.get("columnCount", NEW_TAB_COLUMNS))
            self._charts[props["title"]] = frozenset(
                c["chartId"] for c in sheet.get("charts", []) if "chartId" in c)
            self._rules[props["title"]] = list(sheet.get("conditionalFormats", []))
        return tuple(s["properties"]["title"] for s in meta.get("sheets", []))

    def _batch_get(self, ranges: list[str]) -> list[list[list[Any]]]:
        body = self._call("reading values", lambda: self.client.http_client.values_batch_get(
            self.spreadsheet_id, ranges, params={"valueRenderOption": "UNFORMATTED_VALUE",
                                                 "dateTimeRenderOption": "SERIAL_NUMBER",
                                                 "majorDimension": "ROWS"}))
        return [vr.get("values", []) for vr in body.get("valueRanges", [])]

    def changed_since_read(self, written: set[str], *, elsewhere: Mapping[str, set[str]] | None = None,
                           replaced: Collection[str] = ()) -> list[str]:
        """After a write: the cells (A1) and optional tabs that differ from the first read, less
        what the write set (Sheets has no transaction: an edit found here marks results stale)."""
        if not self._read_ranges:
            return []
        again = self._batch_get(self._read_ranges)
        before = _cells(self._read_values[:1], self._read_origin, written)
        after = _cells(again[:1], self._read_origin, written)
        changed = sorted({a for a, _ in before.items() ^ after.items()}, key=a1_to_rowcol)
        for r, old, new in zip(self._read_ranges[1:], self._read_values[1:], again[1:], strict=False):
            name = r.split("!")[0].strip("'")  # a tab the write replaced whole is backend-owned
            skip = (elsewhere or {}).get(name, set())
            if name not in replaced and _cells([old], (1, 1), skip) != _cells([new], (1, 1), skip):
                changed.append(name)
        if changed:
            self.inputs_changed = True
        return changed

    def read(self, tab: str, cell_range: str, optional_tabs: Sequence[str] = ()) -> TabSnapshot:
        tabs = self._tab_names()
        self._tabs = tabs
        if tab not in tabs:
            raise LayoutError(f"{tab} tab not found in {self.description} (tabs: "
                              f"{', '.join(tabs)}): expected the BESS tab of the layout", cell=None)
        extra = [name for name in optional_tabs if name in tabs]
        ranges = [f"{_quote(tab)}!{cell_range}"] + [f"{_quote(n)}!A:Z" for n in extra]
        value_ranges = self._batch_get(ranges)
        self._read_ranges, self._read_values = ranges, value_ranges
        self._read_origin = a1_to_rowcol(cell_range.split(":")[0])
        cells = _cells(value_ranges[:1], self._read_origin, set())
        tables = {name: [list(r) for r in values]
                  for name, values in zip(extra, value_ranges[1:], strict=False)}
        return TabSnapshot(tabs, cells, tables)

    def write(self, tab: str, writes: Sequence[CellWrite],
              tables: Mapping[str, TableWrite] | None = None,
              charts: Sequence[AnyChart] = (), guides: Sequence[InputGuide] = ()) -> None:
        if self._tabs is None:  # written without a read first (the register)
            self._tabs = self._tab_names()
        batch = self.plan(tab, writes, tables or {}, guides, charts)
        if not batch.requests:
            return
        self._call("writing results", lambda: self.client.http_client.batch_update(
            self.spreadsheet_id, batch.body()))

    def plan(self, tab: str, writes: Sequence[CellWrite],
             tables: Mapping[str, TableWrite], guides: Sequence[InputGuide] = (),
             charts: Sequence[AnyChart] = ()) -> SheetsBatch:
        """The one ``spreadsheets.batchUpdate`` of a write (after a read, which knows the
        tabs). A caller with more to write adds requests to the batch it returns (see
        ``SheetsBatch``) before it is sent."""
        batch = SheetsBatch(self._grid, self._charts)
        for name, table in tables.items():
            if name in batch.grid or not table.only_if_exists:
                batch.replace_table(name, table)
        batch.set_cells(tab, writes)
        add_guides(batch, tab, guides)  # the inputs' notes and drop-downs
        add_charts(batch, charts, self._rules)  # the Deal tab's, over the cells just set
        return batch


class SheetsBatch:
    """The requests of one ``spreadsheets.batchUpdate``, which Google validates whole and
    applies atomically, in order: all of them or none. Google refuses a write beyond a
    tab's grid (a new tab is 1,000 rows x 26 columns) and fails the whole batch, so every
    method grows the grid first (``appendDimension``) where its cells would not fit.

    How to add to the one write (other tabs, notes, validation, charts):
    - cells of another tab: ``CellWrite(..., tab="Valuation")``; a whole new tab: a
      ``TableWrite`` for a tab not there yet (``addSheet`` with a chosen sheetId, so later
      requests of the same batch can refer to it via ``sheet_id(title)``);
    - a per-cell feature (a note, a data validation rule): a field of ``CellData`` set in
      ``_cell_data`` and named in ``_cell_fields`` (``note``, ``dataValidation``);
    - charts: ``ChartSpec`` on a ``TableWrite`` (``addChart`` with a fixed chartId, then
      ``updateChartSpec`` on later writes), or the port's ``RangeChart``/``ColorScale``;
    - anything else: ``add(request)`` after the cells, or ``grow``/``sheet_id`` to place it.
    """

    def __init__(self, grid: Mapping[str, tuple[int, int, int]],
                 charts: Mapping[str, frozenset[int]] | None = None) -> None:
        self.grid: dict[str, list[int]] = {t: list(g) for t, g in grid.items()}  # id, rows, cols
        self.charts = {t: set(ids) for t, ids in (charts or {}).items()}
        self.requests: list[dict[str, Any]] = []

    def body(self) -> dict[str, Any]:
        return {"requests": self.requests, "includeSpreadsheetInResponse": False}

    def add(self, request: Mapping[str, Any]) -> None:
        self.requests.append(dict(request))

    def sheet_id(self, title: str) -> int:
        if title not in self.grid:
            raise LayoutError(f"no {title!r} tab to write in", cell=None)
        return self.grid[title][0]

    def add_sheet(self, title: str, rows: int = NEW_TAB_ROWS,
                  columns: int = NEW_TAB_COLUMNS) -> int:
        """A new tab, made in this batch, with a sheetId of our choosing."""
        taken = {g[0] for g in self.grid.values()}
        sheet_id = zlib.crc32(title.encode()) % 2_000_000_000 + 1
        while sheet_id in taken:
            sheet_id += 1
        self.add({"addSheet": {"properties": {
            "sheetId": sheet_id, "title": title,
            "gridProperties": {"rowCount": rows, "columnCount": columns}}}})
        self.grid[title] = [sheet_id, rows, columns]
        self.charts[title] = set()
        return sheet_id

    def grow(self, title: str, rows: int, columns: int) -> None:
        """Make the tab's grid at least ``rows`` x ``columns``."""
        sheet_id, have_rows, have_cols = self.grid[title]
        for dimension, need, have in (("ROWS", rows, have_rows), ("COLUMNS", columns, have_cols)):
            if need > have:
                self.add({"appendDimension": {"sheetId": sheet_id, "dimension": dimension,
                                              "length": need - have}})
        self.grid[title] = [sheet_id, max(rows, have_rows), max(columns, have_cols)]

    def set_cells(self, default_tab: str, writes: Sequence[CellWrite]) -> None:
        """One ``updateCells`` per cell: its value (numbers as numbers) and, where given,
        its number format; a cell's format is kept where none is given."""
        for write in writes:
            title = write.tab or default_tab
            row, column = a1_to_rowcol(write.address)
            self.sheet_id(title)
            self.grow(title, row, column)
            self.add({"updateCells": {
                "start": {"sheetId": self.grid[title][0], "rowIndex": row - 1,
                          "columnIndex": column - 1},
                "rows": [{"values": [_cell_data(write.value, write.number_format)]}],
                "fields": _cell_fields(write.number_format is not None)}})

    def replace_table(self, title: str, table: TableWrite) -> None:
        """The tab's values (and number formats) replaced by the table's over its whole
        grid; the tab is made if it is not there, its charts added or updated."""
        width = max((len(r) for r in table.rows), default=1)
        if title not in self.grid:
            self.add_sheet(title, max(NEW_TAB_ROWS, len(table.rows)),
                           max(NEW_TAB_COLUMNS, width))
        self.grow(title, len(table.rows), width)
        sheet_id, rows, columns = self.grid[title]
        data = [{"values": [_cell_data(value, table.number_formats.get(c) if r else None)
                            for c, value in enumerate(row)]}
                for r, row in enumerate(table.rows)]
        self.add({"updateCells": {
            "range": {"sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": rows,
                      "startColumnIndex": 0, "endColumnIndex": columns},
            "rows": data, "fields": _cell_fields(True)}})  # the rest of the grid is cleared
        ours = {_chart_id(title, n) for n in range(len(table.charts))}
        foreign = self.charts.get(title, set()) - ours
        for number, spec in enumerate(table.charts):
            chart_id = _chart_id(title, number)
            chart = _basic_chart(spec, sheet_id, len(table.rows))
            if chart_id in self.charts.get(title, set()):
                self.add({"updateChartSpec": {"chartId": chart_id, "spec": chart}})
            elif not foreign and len(table.rows) > 1:  # a tab charted by hand keeps its own
                self.add({"addChart": {"chart": {
                    "chartId": chart_id, "spec": chart,
                    "position": {"overlayPosition": {"anchorCell": {
                        "sheetId": sheet_id, "rowIndex": 1 + 20 * number,
                        "columnIndex": width + 1}}}}}})
                self.charts.setdefault(title, set()).add(chart_id)


def _chart_id(title: str, number: int) -> int:  # fixed, so a later write updates it
    return zlib.crc32(f"btm-ppa chart {number} {title}".encode()) % 2_000_000_000 + 1


def _basic_chart(spec: ChartSpec, sheet_id: int, rows: int) -> dict[str, Any]:
    def column(index: int) -> dict[str, Any]:
        return {"sourceRange": {"sources": [{
            "sheetId": sheet_id, "startRowIndex": 0, "endRowIndex": rows,
            "startColumnIndex": index, "endColumnIndex": index + 1}]}}

    value_axis = "BOTTOM_AXIS" if spec.kind == "BAR" else "LEFT_AXIS"
    axes = [{"position": value_axis, "title": spec.y_title}]
    series = [{"series": column(c), "targetAxis": value_axis} for c in spec.series_columns]
    if spec.secondary_columns:  # lines on a right-hand axis (a price beside MWh)
        axes.append({"position": "RIGHT_AXIS", "title": spec.secondary_title})
        series += [{"series": column(c), "targetAxis": "RIGHT_AXIS", "type": "LINE"}
                   for c in spec.secondary_columns]
    kind = "COMBO" if spec.secondary_columns and spec.kind != "LINE" else spec.kind
    return {"title": spec.title, "basicChart": {
        "chartType": kind, "legendPosition": "BOTTOM_LEGEND", "headerCount": 1,
        "axis": axes, "domains": [{"domain": column(spec.x_column)}], "series": series}}


def _cell_fields(with_format: bool) -> str:
    return "userEnteredValue,userEnteredFormat.numberFormat" if with_format else "userEnteredValue"


def _cell_data(value: CellValue, number_format: str | None) -> dict[str, Any]:
    """A ``CellData``: the value as a typed ``ExtendedValue`` (a number stays a number, a
    date is a serial number, text is never parsed); None clears the cell."""
    data: dict[str, Any] = {}
    sheet_value = _to_sheet(value)
    if isinstance(sheet_value, bool):
        data["userEnteredValue"] = {"boolValue": sheet_value}
    elif isinstance(sheet_value, int | float):
        data["userEnteredValue"] = {"numberValue": sheet_value}
    elif sheet_value != "":
        data["userEnteredValue"] = {"stringValue": str(sheet_value)}
    if number_format is not None:
        data["userEnteredFormat"] = {"numberFormat": {"type": _format_type(number_format),
                                                      "pattern": number_format}}
    return data


def _format_type(pattern: str) -> str:
    """The ``NumberFormat.type`` Google requires beside a pattern: DATE, TIME, DATE_TIME or
    NUMBER, from the pattern's codes outside quoted text."""
    codes = re.sub(r'"[^"]*"|\\.', "", pattern).lower()
    has_date = bool(re.search(r"[dy]", codes)) or bool(re.search(r"m", codes) and "#" not in codes
                                                         and "0" not in codes and "h" not in codes)
    has_time = bool(re.search(r"[hs]", codes))
    if "#" in codes or ("0" in codes and not (has_date or has_time)):
        return "NUMBER"
    return {(True, True): "DATE_TIME", (True, False): "DATE", (False, True): "TIME"}.get(
        (has_date, has_time), "NUMBER")


def _cells(value_ranges: list[list[list[Any]]], origin: tuple[int, int],
           skip: set[str]) -> dict[str, Any]:
    """The non-blank cells of the first value range by A1 address, leaving out ``skip``."""
    cells: dict[str, Any] = {}
    for r, row in enumerate(value_ranges[0] if value_ranges else []):
        for c, value in enumerate(row):
            address = rowcol_to_a1(origin[0] + r, origin[1] + c)
            if value != "" and address not in skip:
                cells[address] = value
    return cells
