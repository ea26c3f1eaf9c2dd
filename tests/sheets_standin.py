"""A loopback stand-in for the Google Sheets API v4, for gspread's real HTTP code.

Serves, from in-memory spreadsheets (id -> tab -> {(row, col): value}):
- GET  /v4/spreadsheets/{id}                       (metadata: titles, sheet ids, grid sizes)
- GET  /v4/spreadsheets/{id}/values:batchGet      (UNFORMATTED values, serial dates)
- POST /v4/spreadsheets/{id}/values:batchUpdate   (RAW values; recorded as "valuesBatchUpdate")
- POST /v4/spreadsheets/{id}:batchUpdate           (recorded as "batchUpdate": addSheet,
  appendDimension, updateCells, addChart, updateChartSpec, deleteEmbeddedObject,
  setDataValidation, addConditionalFormatRule, deleteConditionalFormatRule)
and records every request. As strict as Google where it matters:

- Quota: at most ``reads_per_minute`` read requests (metadata, batchGet) and
  ``writes_per_minute`` write requests per user (the bearer token) in any rolling
  ``minute_s`` window (60 and 60 in a real minute, as Google's per-user quota); more get
  429 RESOURCE_EXHAUSTED. Tests shrink ``minute_s`` to run in seconds.
- Grid: every tab has a grid (a new tab 1,000 rows x 26 columns; a loaded tab at least
  its content); a write beyond it is 400 "exceeds grid limits", and a batch with one bad
  range or request applies nothing: both batchUpdates are atomic, and a spreadsheets
  batchUpdate applies its requests in order, each seeing the ones before (so a grid must
  grow before the cells past it are written). A spreadsheet holds at most 10 million
  cells. Unknown request kinds, unknown sheet ids, duplicate titles or ids, a missing
  ``fields`` mask, or an ExtendedValue of the wrong type are 400 INVALID_ARGUMENT.
- Charts and conditional formats as the API reference has them: an ``EmbeddedChart`` needs
  a spec and a position (an anchor cell inside its tab's grid), a chartId not taken by
  another object, a basicChart whose domain and series are ``ChartSourceRange``s of
  ``GridRange``s on known sheets, inside the grid, one column or row wide, the same number
  of sources in each (aligned), a series ``type`` LINE/AREA/COLUMN; ``deleteEmbeddedObject``
  needs an object that is there; a ``ConditionalFormatRule`` has ranges (one grid, inside
  it) and exactly one of booleanRule/gradientRule (a gradient: minpoint and maxpoint with a
  type, and a value unless MIN/MAX); rule indexes must exist (delete) or be at most the
  count (add).
- Cells keep their number formats (``formats``, loaded from the .xlsx) unless a write's
  ``fields`` mask names ``userEnteredFormat``.

``faults`` is a queue of statuses (or "timeout") served before normal answers; ``always``
serves one status forever; ``shared`` lists the ids the service account may open (others
get 403 when known or named "unshared...", 404 otherwise).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable
from pathlib import Path

import openpyxl
from gspread.utils import a1_to_rowcol, rowcol_to_a1
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

EPOCH = dt.datetime(1899, 12, 30)
NEW_TAB_ROWS, NEW_TAB_COLUMNS = 1_000, 26
READ_KINDS = frozenset({"metadata", "batchGet"})
WRITE_KINDS = frozenset({"batchUpdate", "valuesBatchUpdate"})
MAX_CELLS = 10_000_000  # Google's limit per spreadsheet
REQUEST_KINDS = ("addSheet", "appendDimension", "updateCells", "addChart", "updateChartSpec",
                 "setDataValidation", "deleteEmbeddedObject", "addConditionalFormatRule",
                 "deleteConditionalFormatRule")
CHART_TYPES = frozenset({"BAR", "LINE", "AREA", "COLUMN", "SCATTER", "COMBO", "STEPPED_AREA"})
AXIS_POSITIONS = frozenset({"BOTTOM_AXIS", "LEFT_AXIS", "RIGHT_AXIS"})
POINT_TYPES = frozenset({"MIN", "MAX", "NUMBER", "PERCENT", "PERCENTILE"})
CONDITION_TYPES = frozenset({"ONE_OF_LIST", "NUMBER_BETWEEN", "DATE_BETWEEN", "NUMBER_GREATER",
                             "NUMBER_LESS", "TEXT_CONTAINS", "CUSTOM_FORMULA", "BOOLEAN",
                             "ONE_OF_RANGE", "DATE_AFTER", "DATE_BEFORE"})


class BadRequest(Exception):
    """A request Google would answer 400 INVALID_ARGUMENT."""


def _serial(value):
    if isinstance(value, dt.datetime):
        delta = value - EPOCH
        return delta.days + delta.seconds / 86400
    if isinstance(value, dt.date):
        return (value - EPOCH.date()).days
    return value


def _parse_range(text: str):
    tab, _, cells = text.rpartition("!")
    tab = tab.strip("'").replace("''", "'")
    if ":" in cells:
        start, end = cells.split(":")
    else:
        start = end = cells
    if re.fullmatch(r"[A-Z]+", start):  # whole columns: A:Z
        return tab, (1, a1_to_rowcol(start + "1")[1]), (10**7, a1_to_rowcol(end + "1")[1])
    return tab, a1_to_rowcol(start), a1_to_rowcol(end)


class Book:
    """One spreadsheet: tab -> cells, each tab's grid size [rows, columns], sheet id,
    number formats (tab -> {(row, col): pattern}) and charts (chartId -> spec)."""

    def __init__(self) -> None:
        self.tabs: dict[str, dict[tuple[int, int], object]] = {}
        self.grid: dict[str, list[int]] = {}
        self.ids: dict[str, int] = {}
        self.formats: dict[str, dict[tuple[int, int], str]] = defaultdict(dict)
        self.charts: dict[int, dict] = {}  # chartId -> {"sheetId": ..., "spec": ...}
        self.notes: dict[str, dict[tuple[int, int], str]] = defaultdict(dict)
        self.validations: dict[str, dict[tuple[int, int], dict]] = defaultdict(dict)
        self.rules: dict[str, list[dict]] = defaultdict(list)  # conditional formats, in order

    def add_tab(self, title: str, cells: dict | None = None, sheet_id: int | None = None,
                rows: int = NEW_TAB_ROWS, columns: int = NEW_TAB_COLUMNS) -> None:
        self.tabs[title] = dict(cells or {})
        if sheet_id is None:
            sheet_id = max(self.ids.values(), default=-1) + 1
        self.ids[title] = sheet_id
        self.grid[title] = [max(rows, *(r for r, _ in self.tabs[title]), 0),
                            max(columns, *(c for _, c in self.tabs[title]), 0)]

    def grid_of(self, title: str) -> list[int]:
        """The tab's grid; a tab put straight into ``tabs`` gets one around its content."""
        if title not in self.ids:
            self.ids[title] = max(self.ids.values(), default=-1) + 1
        if title not in self.grid:
            cells = self.tabs[title]
            self.grid[title] = [max(NEW_TAB_ROWS, *(r for r, _ in cells), 0),
                                max(NEW_TAB_COLUMNS, *(c for _, c in cells), 0)]
        return self.grid[title]

    def title_of(self, sheet_id: object) -> str:
        for title in self.tabs:
            self.grid_of(title)
            if self.ids[title] == sheet_id:
                return title
        raise BadRequest(f"No grid with id: {sheet_id}")

    def cell_count(self) -> int:
        return sum(rows * cols for rows, cols in (self.grid_of(t) for t in self.tabs))


def _extended_value(value: dict | None):
    """An ExtendedValue's content: exactly one of its kinds, of the right JSON type."""
    if value is None or value == {}:
        return None
    if len(value) != 1:
        raise BadRequest(f"an ExtendedValue has exactly one kind: {value}")
    kind, content = next(iter(value.items()))
    expected = {"numberValue": (int, float), "stringValue": (str,), "boolValue": (bool,),
                "formulaValue": (str,)}.get(kind)
    if expected is None or not isinstance(content, expected) or (
            kind == "numberValue" and isinstance(content, bool)):
        raise BadRequest(f"Invalid value at 'userEnteredValue.{kind}' ({content!r})")
    return content


class SheetsStandIn:
    def __init__(self, spreadsheet_id: str, workbook: Path | None = None, *,
                 reads_per_minute: int = 60, writes_per_minute: int = 60,
                 minute_s: float = 60.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.books: dict[str, Book] = {spreadsheet_id: Book()}
        if workbook is not None:
            self.load(workbook)
        self.requests: list[tuple[str, str]] = []
        self.faults: deque = deque()
        self.always: int | None = None
        self.delay_s = 0.0
        self.shared = {spreadsheet_id}
        self.limits = {"read": reads_per_minute, "write": writes_per_minute}
        self.minute_s = minute_s
        self.clock = clock
        self.throttled = 0  # 429s served for quota
        self._calls: dict[tuple[str, str], deque] = defaultdict(deque)
        self._lock = threading.Lock()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def tabs(self) -> dict[str, dict[tuple[int, int], object]]:
        """The tabs of the first spreadsheet."""
        return self.books[self.spreadsheet_id].tabs

    def load(self, path: Path, spreadsheet_id: str | None = None) -> None:
        book = self.books.setdefault(spreadsheet_id or self.spreadsheet_id, Book())
        for ws in openpyxl.load_workbook(path, data_only=True).worksheets:
            book.add_tab(ws.title, {(c.row, c.column): _serial(c.value)
                                    for row in ws.iter_rows() for c in row if c.value is not None})
            book.formats[ws.title] = {(c.row, c.column): c.number_format for row in ws.iter_rows()
                                      for c in row if c.number_format != "General"}

    def copy_book(self, source_id: str, new_id: str, shared: bool = True) -> None:
        """Another spreadsheet with the same content (``shared`` with the service account)."""
        self.books[new_id] = copy.deepcopy(self.books[source_id])
        if shared:
            self.shared.add(new_id)

    def add_tab(self, title: str, spreadsheet_id: str | None = None) -> None:
        """A tab as Sheets makes it: empty, 1,000 rows x 26 columns."""
        self.books[spreadsheet_id or self.spreadsheet_id].add_tab(title)

    def number_format(self, tab: str, a1: str, spreadsheet_id: str | None = None) -> str | None:
        book = self.books[spreadsheet_id or self.spreadsheet_id]
        return book.formats[tab].get(a1_to_rowcol(a1))

    def note(self, tab: str, a1: str, spreadsheet_id: str | None = None) -> str | None:
        return self.books[spreadsheet_id or self.spreadsheet_id].notes[tab].get(a1_to_rowcol(a1))

    def validation(self, tab: str, a1: str, spreadsheet_id: str | None = None) -> dict | None:
        book = self.books[spreadsheet_id or self.spreadsheet_id]
        return book.validations[tab].get(a1_to_rowcol(a1))

    def charts(self, tab: str, spreadsheet_id: str | None = None) -> list[dict]:
        book = self.books[spreadsheet_id or self.spreadsheet_id]
        return [c["spec"] for c in book.charts.values() if c["sheetId"] == book.ids[tab]]

    def chart_ids(self, tab: str, spreadsheet_id: str | None = None) -> list[int]:
        book = self.books[spreadsheet_id or self.spreadsheet_id]
        return [cid for cid, c in book.charts.items() if c["sheetId"] == book.ids[tab]]

    def rules(self, tab: str, spreadsheet_id: str | None = None) -> list[dict]:
        """The tab's conditional format rules, in order."""
        return list(self.books[spreadsheet_id or self.spreadsheet_id].rules[tab])

    def value(self, tab: str, a1: str, spreadsheet_id: str | None = None):
        return self.books[spreadsheet_id or self.spreadsheet_id].tabs[tab].get(a1_to_rowcol(a1))

    def set_value(self, tab: str, a1: str, value, spreadsheet_id: str | None = None) -> None:
        """An edit made in the sheet's UI."""
        cells = self.books[spreadsheet_id or self.spreadsheet_id].tabs[tab]
        with self._lock:
            cells[a1_to_rowcol(a1)] = value

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.requests if k == kind)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()

    def _over_quota(self, user: str, kind: str) -> bool:
        family = "read" if kind in READ_KINDS else "write" if kind in WRITE_KINDS else None
        if family is None:
            return False
        now = self.clock()
        calls = self._calls[(user, family)]
        while calls and calls[0] <= now - self.minute_s:
            calls.popleft()
        if len(calls) >= self.limits[family]:
            self.throttled += 1
            return True
        calls.append(now)
        return False

    @Request.application
    def _app(self, request: Request) -> Response:
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(/values:(batchGet|batchUpdate)|:batchUpdate)?$",
                         request.path)
        kind = "other"
        if match:
            kind = {"batchGet": "batchGet", "batchUpdate": "valuesBatchUpdate"}.get(
                match.group(3) or "", "batchUpdate" if match.group(2) else "metadata")
        self.requests.append((kind, request.full_path))
        if self.delay_s:
            time.sleep(self.delay_s)
        if self.faults or self.always:
            fault = self.faults.popleft() if self.faults else self.always
            if fault == "timeout":
                time.sleep(3)
                fault = 503
            return self._error(int(fault), "injected fault")
        if not match:
            return self._error(404, "no such endpoint")
        user = request.headers.get("Authorization", "")
        with self._lock:
            if self._over_quota(user, kind):
                return self._error(429, "Quota exceeded for quota metric 'Read requests' and "
                                   "limit 'Read requests per minute per user'",
                                   "RESOURCE_EXHAUSTED")
            sid = match.group(1)
            if sid not in self.shared:
                if sid in self.books or sid.startswith("unshared"):
                    return self._error(403, "The caller does not have permission",
                                       "PERMISSION_DENIED")
                return self._error(404, "Requested entity was not found.", "NOT_FOUND")
            book = self.books[sid]
            if kind == "metadata":
                body = self._metadata(book)
            elif kind == "batchGet":
                assert request.args.get("valueRenderOption") == "UNFORMATTED_VALUE"
                ranges = [self._get(book, r) for r in request.args.getlist("ranges")]
                if any(vr is None for vr in ranges):
                    return self._error(400, "Unable to parse range")
                body = {"spreadsheetId": sid, "valueRanges": ranges}
            elif kind == "valuesBatchUpdate":
                error = self._write_values(book, json.loads(request.get_data()))
                if error:
                    return self._error(400, error, "INVALID_ARGUMENT")
                body = {"spreadsheetId": sid, "totalUpdatedCells": 0}
            else:
                try:
                    self.books[sid], replies = self._batch_update(book, json.loads(
                        request.get_data()))
                except BadRequest as exc:
                    return self._error(400, str(exc), "INVALID_ARGUMENT")
                body = {"spreadsheetId": sid, "replies": replies}
        return Response(json.dumps(body), content_type="application/json")

    @staticmethod
    def _metadata(book: Book) -> dict:
        for title in book.tabs:
            book.grid_of(title)
        return {"sheets": [{
            "properties": {"title": t, "sheetId": book.ids[t], "gridProperties": {
                "rowCount": book.grid_of(t)[0], "columnCount": book.grid_of(t)[1]}},
            **({"charts": charts} if (charts := [
                {"chartId": cid, "spec": c["spec"]} for cid, c in book.charts.items()
                if c["sheetId"] == book.ids[t]]) else {}),
            **({"conditionalFormats": copy.deepcopy(book.rules[t])} if book.rules[t] else {})}
            for t in book.tabs]}

    @staticmethod
    def _write_values(book: Book, payload: dict) -> str | None:
        assert payload["valueInputOption"] == "RAW"
        for item in payload["data"]:  # every range checked first: all or nothing
            tab, (r0, c0), _ = _parse_range(item["range"])
            if tab not in book.tabs:
                return f"Unable to parse range: {item['range']}"
            rows, cols = book.grid_of(tab)
            last_row = r0 + len(item["values"]) - 1
            last_col = c0 + max((len(v) for v in item["values"]), default=1) - 1
            if last_row > rows or last_col > cols:
                return (f"Range ('{tab}'!{rowcol_to_a1(r0, c0)}:{rowcol_to_a1(last_row, last_col)}) "
                        f"exceeds grid limits. Max rows: {rows}, max columns: {cols}")
        for item in payload["data"]:
            tab, (r0, c0), _ = _parse_range(item["range"])
            for i, row in enumerate(item["values"]):
                for j, value in enumerate(row):
                    if value == "":
                        book.tabs[tab].pop((r0 + i, c0 + j), None)
                    else:
                        book.tabs[tab][(r0 + i, c0 + j)] = value
        return None

    @staticmethod
    def _batch_update(book: Book, payload: dict) -> tuple[Book, list[dict]]:
        """Every request applied in order to a copy; the copy replaces the book only when
        all of them succeeded (Google: "If any request is not valid then the entire request
        will fail and nothing will be applied")."""
        work = copy.deepcopy(book)
        requests = payload.get("requests")
        if not isinstance(requests, list) or not requests:
            raise BadRequest("Invalid requests: must specify at least one request.")
        replies = []
        for index, req in enumerate(requests):
            if not isinstance(req, dict) or len(req) != 1 or next(iter(req)) not in REQUEST_KINDS:
                raise BadRequest(f"Invalid requests[{index}]: unsupported or malformed request "
                                 f"{sorted(req) if isinstance(req, dict) else req!r}")
            kind, spec = next(iter(req.items()))
            try:
                replies.append(getattr(SheetsStandIn, f"_{kind}")(work, spec))
            except BadRequest as exc:
                raise BadRequest(f"Invalid requests[{index}].{kind}: {exc}") from None
            if work.cell_count() > MAX_CELLS:
                raise BadRequest(f"Invalid requests[{index}].{kind}: This action would increase "
                                 f"the number of cells in the workbook above the limit of "
                                 f"{MAX_CELLS} cells.")
        return work, replies

    @staticmethod
    def _addSheet(book: Book, spec: dict) -> dict:
        props = spec.get("properties", {})
        title = props.get("title") or f"Sheet{len(book.tabs) + 1}"
        if title in book.tabs:
            raise BadRequest(f'A sheet with the name "{title}" already exists. Please enter '
                             "another name.")
        sheet_id = props.get("sheetId")
        if sheet_id is not None and (not isinstance(sheet_id, int) or sheet_id < 0
                                     or sheet_id in book.ids.values()):
            raise BadRequest(f"Invalid sheetId {sheet_id!r}: taken, or not a non-negative "
                             "integer")
        grid = props.get("gridProperties", {})
        rows, columns = grid.get("rowCount", NEW_TAB_ROWS), grid.get("columnCount", NEW_TAB_COLUMNS)
        if not (isinstance(rows, int) and isinstance(columns, int) and rows > 0 and columns > 0):
            raise BadRequest(f"Invalid gridProperties {grid}")
        book.add_tab(title, sheet_id=sheet_id, rows=rows, columns=columns)
        return {"addSheet": {"properties": {"sheetId": book.ids[title], "title": title}}}

    @staticmethod
    def _appendDimension(book: Book, spec: dict) -> dict:
        title = book.title_of(spec.get("sheetId"))
        length = spec.get("length")
        if spec.get("dimension") not in ("ROWS", "COLUMNS") or not isinstance(length, int) \
                or length < 1:
            raise BadRequest(f"invalid dimension or length: {spec}")
        book.grid_of(title)[0 if spec["dimension"] == "ROWS" else 1] += length
        return {}

    @staticmethod
    def _updateCells(book: Book, spec: dict) -> dict:
        fields = spec.get("fields")
        if not fields:
            raise BadRequest("At least one field must be specified.")
        masks = {f.strip() for f in fields.split(",")}
        unknown = masks - {"*", "userEnteredValue", "userEnteredFormat",
                           "userEnteredFormat.numberFormat", "note"}
        if unknown:
            raise BadRequest(f"unsupported fields {sorted(unknown)}")
        if ("start" in spec) == ("range" in spec):
            raise BadRequest("exactly one of start and range must be given")
        area = spec.get("start") or spec["range"]
        title = book.title_of(area.get("sheetId"))
        rows_max, cols_max = book.grid_of(title)
        data = spec.get("rows", [])
        if "start" in spec:
            r0, c0 = area.get("rowIndex", 0), area.get("columnIndex", 0)
            r1 = r0 + len(data)
            c1 = c0 + max((len(row.get("values", [])) for row in data), default=0)
        else:
            r0, c0 = area.get("startRowIndex", 0), area.get("startColumnIndex", 0)
            r1, c1 = area.get("endRowIndex", rows_max), area.get("endColumnIndex", cols_max)
            if len(data) > r1 - r0 or any(len(row.get("values", [])) > c1 - c0 for row in data):
                raise BadRequest("the rows given do not fit the range")
        if r0 < 0 or c0 < 0 or r1 > rows_max or c1 > cols_max:
            raise BadRequest(f"Range ('{title}'!{rowcol_to_a1(r0 + 1, c0 + 1)}:"
                             f"{rowcol_to_a1(max(r1, r0 + 1), max(c1, c0 + 1))}) exceeds grid "
                             f"limits. Max rows: {rows_max}, max columns: {cols_max}")
        values_too = bool(masks & {"*", "userEnteredValue"})
        notes_too = bool(masks & {"*", "note"})
        formats_too = bool(masks & {"*", "userEnteredFormat", "userEnteredFormat.numberFormat"})
        cells, formats = book.tabs[title], book.formats[title]
        covered = [(r, c) for r in range(r0, r1) for c in range(c0, c1)] if "range" in spec else []
        for r, c in covered:  # a range's cells the rows leave out are cleared (for the mask)
            if values_too:
                cells.pop((r + 1, c + 1), None)
            if formats_too:
                formats.pop((r + 1, c + 1), None)
            if notes_too:
                book.notes[title].pop((r + 1, c + 1), None)
        for i, row in enumerate(data):
            for j, cell in enumerate(row.get("values", [])):
                at = (r0 + i + 1, c0 + j + 1)
                if notes_too:
                    if cell.get("note"):
                        book.notes[title][at] = cell["note"]
                    else:
                        book.notes[title].pop(at, None)
                if values_too:
                    value = _extended_value(cell.get("userEnteredValue"))
                    if value is None:
                        cells.pop(at, None)
                    else:
                        cells[at] = value
                if formats_too:
                    pattern = cell.get("userEnteredFormat", {}).get("numberFormat")
                    if pattern is None:
                        formats.pop(at, None)
                    elif not pattern.get("type") or "pattern" not in pattern:
                        raise BadRequest("numberFormat needs a type and a pattern")
                    else:
                        formats[at] = pattern["pattern"]
        return {}

    @staticmethod
    def _setDataValidation(book: Book, spec: dict) -> dict:
        """A rule on every cell of the range (none: the rule cleared), inside the grid."""
        area = spec.get("range", {})
        title = book.title_of(area.get("sheetId"))
        rows_max, cols_max = book.grid_of(title)
        r0, c0 = area.get("startRowIndex", 0), area.get("startColumnIndex", 0)
        r1, c1 = area.get("endRowIndex", rows_max), area.get("endColumnIndex", cols_max)
        if r0 < 0 or c0 < 0 or r1 > rows_max or c1 > cols_max or r1 <= r0 or c1 <= c0:
            raise BadRequest(f"range exceeds grid limits or is empty: {area}")
        rule = spec.get("rule")
        if rule is not None and (rule.get("condition", {}).get("type") not in CONDITION_TYPES):
            raise BadRequest(f"invalid data validation condition: {rule.get('condition')}")
        for r in range(r0, r1):
            for c in range(c0, c1):
                if rule is None:
                    book.validations[title].pop((r + 1, c + 1), None)
                else:
                    book.validations[title][(r + 1, c + 1)] = rule
        return {}

    @staticmethod
    def _addChart(book: Book, spec: dict) -> dict:
        chart = spec.get("chart")
        if not isinstance(chart, dict) or not chart.get("spec"):
            raise BadRequest("chart.spec is required")
        chart_id = chart.get("chartId")
        if chart_id is not None and (not isinstance(chart_id, int) or isinstance(chart_id, bool)
                                     or chart_id < 0):
            raise BadRequest(f"Invalid chartId {chart_id!r}")
        if chart_id in book.charts:
            raise BadRequest(f"An object with id {chart_id} already exists.")
        position = chart.get("position")
        if not isinstance(position, dict) or len(position) != 1:
            raise BadRequest("chart.position needs exactly one of sheetId, overlayPosition, "
                             "newSheet")
        if "overlayPosition" in position:
            anchor = position["overlayPosition"].get("anchorCell")
            if not isinstance(anchor, dict):
                raise BadRequest("overlayPosition.anchorCell is required")
            sheet_id = anchor.get("sheetId")
            rows, cols = book.grid_of(book.title_of(sheet_id))
            if not (0 <= anchor.get("rowIndex", 0) < rows and 0 <= anchor.get("columnIndex", 0)
                    < cols):
                raise BadRequest(f"anchorCell {anchor} is outside the grid ({rows} x {cols})")
        elif "sheetId" in position:
            sheet_id = position["sheetId"]
            book.title_of(sheet_id)
        else:
            raise BadRequest("the stand-in does not make chart sheets (newSheet)")
        SheetsStandIn._check_chart(book, chart["spec"])
        if chart_id is None:
            chart_id = max(book.charts, default=0) + 1
        book.charts[chart_id] = {"sheetId": sheet_id, "spec": chart.get("spec", {})}
        return {"addChart": {"chart": {"chartId": chart_id}}}

    @staticmethod
    def _updateChartSpec(book: Book, spec: dict) -> dict:
        if spec.get("chartId") not in book.charts:
            raise BadRequest(f"No chart with id: {spec.get('chartId')}")
        SheetsStandIn._check_chart(book, spec.get("spec", {}))
        book.charts[spec["chartId"]]["spec"] = spec.get("spec", {})
        return {}

    @staticmethod
    def _check_chart(book: Book, spec: dict) -> None:
        basic = spec.get("basicChart")
        if not basic or basic.get("chartType") not in CHART_TYPES:
            raise BadRequest(f"a chart needs a basicChart with a chart type: {spec}")
        headers = basic.get("headerCount", 0)
        if not isinstance(headers, int) or headers < 0:
            raise BadRequest(f"Invalid headerCount {headers!r}")
        positions = [a.get("position") for a in basic.get("axis", [])]
        if any(p not in AXIS_POSITIONS for p in positions) or len(set(positions)) < len(positions):
            raise BadRequest(f"axis positions must be known and unique: {positions}")
        series = basic.get("series", [])
        for s in series:
            if s.get("targetAxis", "LEFT_AXIS") not in AXIS_POSITIONS:
                raise BadRequest(f"Invalid targetAxis {s.get('targetAxis')!r}")
            if s.get("type", "LINE") not in ("COLUMN", "LINE", "AREA"):  # COMBO's series kinds
                raise BadRequest(f"Invalid series type {s.get('type')!r}: LINE, AREA or COLUMN")
        parts = [d.get("domain", {}) for d in basic.get("domains", [])] + [
            s.get("series", {}) for s in series]
        spans = []
        for part in parts:
            sources = part.get("sourceRange", {}).get("sources")
            if not sources:
                raise BadRequest("a domain or series needs sourceRange.sources")
            spans.append([SheetsStandIn._check_source(book, g) for g in sources])
        if len({len(s) for s in spans}) > 1 or any(s != spans[0] for s in spans):
            raise BadRequest("the domain and every series must have the same number of "
                             "source ranges, in order and aligned")

    @staticmethod
    def _grid_range(book: Book, grid: dict) -> tuple[str, int, int, int, int]:
        """A GridRange's tab and bounds (end exclusive), checked inside the tab's grid."""
        title = book.title_of(grid.get("sheetId"))
        rows, cols = book.grid_of(title)
        r0, r1 = grid.get("startRowIndex", 0), grid.get("endRowIndex", rows)
        c0, c1 = grid.get("startColumnIndex", 0), grid.get("endColumnIndex", cols)
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (r0, r1, c0, c1)) \
                or not (0 <= r0 < r1 <= rows and 0 <= c0 < c1 <= cols):
            raise BadRequest(f"Range {grid} is empty or exceeds grid limits. Max rows: {rows}, "
                             f"max columns: {cols}")
        return title, r0, r1, c0, c1

    @staticmethod
    def _check_source(book: Book, grid: dict) -> tuple[str, int, int]:
        """A chart source: one column (or row) wide; its span along the other dimension."""
        title, r0, r1, c0, c1 = SheetsStandIn._grid_range(book, grid)
        if c1 - c0 != 1 and r1 - r0 != 1:
            raise BadRequest(f"a chart source range must be one column or one row: {grid}")
        return (title, r0, r1) if c1 - c0 == 1 else (title, c0, c1)

    @staticmethod
    def _deleteEmbeddedObject(book: Book, spec: dict) -> dict:
        if spec.get("objectId") not in book.charts:
            raise BadRequest(f"No object with id: {spec.get('objectId')}")
        del book.charts[spec["objectId"]]
        return {}

    @staticmethod
    def _addConditionalFormatRule(book: Book, spec: dict) -> dict:
        rule = spec.get("rule")
        if not isinstance(rule, dict) or not rule.get("ranges"):
            raise BadRequest("rule.ranges is required")
        titles = {SheetsStandIn._grid_range(book, g)[0] for g in rule["ranges"]}
        if len(titles) != 1:
            raise BadRequest("All the ranges of a conditional format rule must be on one grid")
        if ("booleanRule" in rule) == ("gradientRule" in rule):
            raise BadRequest("a rule needs exactly one of booleanRule and gradientRule")
        if "gradientRule" in rule:
            gradient = rule["gradientRule"]
            for name in ("minpoint", "midpoint", "maxpoint"):
                point = gradient.get(name)
                if point is None and name == "midpoint":
                    continue
                if not isinstance(point, dict) or point.get("type") not in POINT_TYPES or not (
                        point.get("color") or point.get("colorStyle")):
                    raise BadRequest(f"gradientRule.{name} needs a type and a colour: {point}")
                if (point["type"] in ("MIN", "MAX")) == ("value" in point):
                    raise BadRequest(f"gradientRule.{name}: a value with NUMBER, PERCENT or "
                                     "PERCENTILE only")
        title = titles.pop()
        index = spec.get("index", 0)
        if not isinstance(index, int) or not 0 <= index <= len(book.rules[title]):
            raise BadRequest(f"Invalid index {index!r} for {len(book.rules[title])} rule(s)")
        book.rules[title].insert(index, copy.deepcopy(rule))
        return {}

    @staticmethod
    def _deleteConditionalFormatRule(book: Book, spec: dict) -> dict:
        title = book.title_of(spec.get("sheetId"))
        index = spec.get("index")
        if not isinstance(index, int) or not 0 <= index < len(book.rules[title]):
            raise BadRequest(f"No conditional format rule at index {index!r} of "
                             f"{len(book.rules[title])}")
        return {"deleteConditionalFormatRule": {"rule": book.rules[title].pop(index)}}

    def _get(self, book: Book, text: str):
        tab, (r0, c0), (r1, c1) = _parse_range(text)
        if tab not in book.tabs:
            return None
        cells = book.tabs[tab]
        last_row = min(r1, max((r for r, _ in cells), default=0))
        values = []
        for r in range(r0, last_row + 1):
            row = [cells.get((r, c), "") for c in range(c0, c1 + 1)]
            while row and row[-1] == "":
                row.pop()
            values.append(row)
        while values and not values[-1]:
            values.pop()
        # Like Google: trailing blank cells and rows are left out, and an all-blank range
        # comes back with no "values" key at all.
        answer = {"range": text, "majorDimension": "ROWS"}
        if values:
            answer["values"] = values
        return answer

    @staticmethod
    def _error(status: int, message: str, code: str = "ERROR") -> Response:
        body = {"error": {"code": status, "message": message, "status": code}}
        return Response(json.dumps(body), status=status, content_type="application/json")
