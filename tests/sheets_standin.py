"""A loopback stand-in for the Google Sheets API v4, for gspread's real HTTP code.

Serves, from in-memory spreadsheets (id -> tab -> {(row, col): value}):
- GET  /v4/spreadsheets/{id}                       (metadata: titles, sheet ids, grid sizes)
- GET  /v4/spreadsheets/{id}/values:batchGet      (UNFORMATTED values, serial dates)
- POST /v4/spreadsheets/{id}/values:batchUpdate   (RAW values)
- POST /v4/spreadsheets/{id}:batchUpdate           (appendDimension, addSheet)
and records every request. As strict as Google where it matters:

- Quota: at most ``reads_per_minute`` read requests (metadata, batchGet) and
  ``writes_per_minute`` write requests per user (the bearer token) in any rolling
  ``minute_s`` window (60 and 60 in a real minute, as Google's per-user quota); more get
  429 RESOURCE_EXHAUSTED. Tests shrink ``minute_s`` to run in seconds.
- Grid: every tab has a grid (a new tab 1,000 rows x 26 columns; a loaded tab at least
  its content); a values write beyond it is 400 "exceeds grid limits", and a batch with
  one bad range applies nothing (values.batchUpdate is atomic).

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
WRITE_KINDS = frozenset({"batchUpdate", "spreadsheetBatchUpdate"})


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
    """One spreadsheet: tab -> cells, and each tab's grid size [rows, columns]."""

    def __init__(self) -> None:
        self.tabs: dict[str, dict[tuple[int, int], object]] = {}
        self.grid: dict[str, list[int]] = {}

    def add_tab(self, title: str, cells: dict | None = None) -> None:
        self.tabs[title] = dict(cells or {})
        self.grid_of(title)

    def grid_of(self, title: str) -> list[int]:
        """The tab's grid; a tab put straight into ``tabs`` gets one around its content."""
        if title not in self.grid:
            cells = self.tabs[title]
            rows = max((r for r, _ in cells), default=0)
            cols = max((c for _, c in cells), default=0)
            self.grid[title] = [max(NEW_TAB_ROWS, rows), max(NEW_TAB_COLUMNS, cols)]
        return self.grid[title]


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

    def copy_book(self, source_id: str, new_id: str, shared: bool = True) -> None:
        """Another spreadsheet with the same content (``shared`` with the service account)."""
        self.books[new_id] = copy.deepcopy(self.books[source_id])
        if shared:
            self.shared.add(new_id)

    def add_tab(self, title: str, spreadsheet_id: str | None = None) -> None:
        """A tab as Sheets makes it: empty, 1,000 rows x 26 columns."""
        self.books[spreadsheet_id or self.spreadsheet_id].add_tab(title)

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
            kind = match.group(3) or ("spreadsheetBatchUpdate" if match.group(2) else "metadata")
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
            elif kind == "batchUpdate":
                error = self._write_values(book, json.loads(request.get_data()))
                if error:
                    return self._error(400, error, "INVALID_ARGUMENT")
                body = {"spreadsheetId": sid, "totalUpdatedCells": 0}
            else:
                error = self._batch_update(book, json.loads(request.get_data()))
                if error:
                    return self._error(400, error, "INVALID_ARGUMENT")
                body = {"spreadsheetId": sid, "replies": []}
        return Response(json.dumps(body), content_type="application/json")

    @staticmethod
    def _metadata(book: Book) -> dict:
        return {"sheets": [{"properties": {
            "title": t, "sheetId": i,
            "gridProperties": {"rowCount": book.grid_of(t)[0], "columnCount": book.grid_of(t)[1]}}}
            for i, t in enumerate(book.tabs)]}

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
    def _batch_update(book: Book, payload: dict) -> str | None:
        titles = list(book.tabs)
        grid = {t: list(book.grid_of(t)) for t in titles}
        added = []
        for req in payload.get("requests", []):
            if "appendDimension" in req:
                spec = req["appendDimension"]
                if not 0 <= spec["sheetId"] < len(titles) or spec.get("length", 0) < 1:
                    return f"Invalid appendDimension: {spec}"
                axis = {"ROWS": 0, "COLUMNS": 1}[spec["dimension"]]
                grid[titles[spec["sheetId"]]][axis] += spec["length"]
            elif "addSheet" in req:
                added.append(req["addSheet"]["properties"]["title"])
            else:
                return f"unsupported request {sorted(req)}"
        book.grid = grid  # applied together, like Google's batchUpdate
        for title in added:
            book.add_tab(title)
        return None

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
