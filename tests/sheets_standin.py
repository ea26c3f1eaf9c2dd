"""A loopback stand-in for the Google Sheets API v4, for gspread's real HTTP code.

Serves, from an in-memory copy of a workbook (tab -> {(row, col): value}):
- GET  /v4/spreadsheets/{id}                       (metadata: tab titles)
- GET  /v4/spreadsheets/{id}/values:batchGet      (UNFORMATTED values, serial dates)
- POST /v4/spreadsheets/{id}/values:batchUpdate   (RAW values)
and records every request. ``faults`` is a queue of statuses (or "timeout") served
before normal answers; ``always`` serves one status forever; ``shared`` lists the ids
the service account may open (others get 403), unknown ids get 404.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from collections import deque
from pathlib import Path

import openpyxl
from gspread.utils import a1_to_rowcol
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

EPOCH = dt.datetime(1899, 12, 30)


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


class SheetsStandIn:
    def __init__(self, spreadsheet_id: str, workbook: Path | None = None) -> None:
        self.spreadsheet_id = spreadsheet_id
        self.tabs: dict[str, dict[tuple[int, int], object]] = {}
        if workbook is not None:
            self.load(workbook)
        self.requests: list[tuple[str, str]] = []
        self.faults: deque = deque()
        self.always: int | None = None
        self.delay_s = 0.0
        self.shared = {spreadsheet_id}
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True)
        self.port = self._server.server_port
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def load(self, path: Path) -> None:
        book = openpyxl.load_workbook(path, data_only=True)
        for ws in book.worksheets:
            self.tabs[ws.title] = {(c.row, c.column): _serial(c.value)
                                   for row in ws.iter_rows() for c in row if c.value is not None}

    def value(self, tab: str, a1: str):
        return self.tabs[tab].get(a1_to_rowcol(a1))

    def count(self, kind: str) -> int:
        return sum(1 for k, _ in self.requests if k == kind)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._server.shutdown()

    @Request.application
    def _app(self, request: Request) -> Response:
        match = re.match(r"^/v4/spreadsheets/([^/:]+)(/values:(batchGet|batchUpdate))?$",
                         request.path)
        kind = "other"
        if match:
            kind = match.group(3) or "metadata"
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
        sid = match.group(1)
        if sid not in self.shared:
            if sid == self.spreadsheet_id or sid.startswith("unshared"):
                return self._error(403, "The caller does not have permission")
            return self._error(404, "Requested entity was not found.")
        if kind == "metadata":
            body = {"sheets": [{"properties": {"title": t, "sheetId": i}}
                               for i, t in enumerate(self.tabs)]}
        elif kind == "batchGet":
            assert request.args.get("valueRenderOption") == "UNFORMATTED_VALUE"
            body = {"spreadsheetId": sid,
                    "valueRanges": [self._get(r) for r in request.args.getlist("ranges")]}
            if any(vr is None for vr in body["valueRanges"]):
                return self._error(400, "Unable to parse range")
        else:
            payload = json.loads(request.get_data())
            assert payload["valueInputOption"] == "RAW"
            for item in payload["data"]:
                tab, (r0, c0), _ = _parse_range(item["range"])
                if tab not in self.tabs:
                    return self._error(400, f"Unable to parse range: {item['range']}")
            for item in payload["data"]:  # all checked first: all or nothing
                tab, (r0, c0), _ = _parse_range(item["range"])
                for i, row in enumerate(item["values"]):
                    for j, value in enumerate(row):
                        if value == "":
                            self.tabs[tab].pop((r0 + i, c0 + j), None)
                        else:
                            self.tabs[tab][(r0 + i, c0 + j)] = value
            body = {"spreadsheetId": sid, "totalUpdatedCells": 0}
        return Response(json.dumps(body), content_type="application/json")

    def _get(self, text: str):
        tab, (r0, c0), (r1, c1) = _parse_range(text)
        if tab not in self.tabs:
            return None
        cells = self.tabs[tab]
        last_row = min(r1, max((r for r, _ in cells), default=0))
        values = []
        for r in range(r0, last_row + 1):
            row = [cells.get((r, c), "") for c in range(c0, c1 + 1)]
            while row and row[-1] == "":
                row.pop()
            values.append(row)
        while values and not values[-1]:
            values.pop()
        return {"range": text, "majorDimension": "ROWS", "values": values}

    @staticmethod
    def _error(status: int, message: str) -> Response:
        body = {"error": {"code": status, "message": message, "status": "ERROR"}}
        return Response(json.dumps(body), status=status, content_type="application/json")
