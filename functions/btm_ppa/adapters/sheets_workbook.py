"""Google Sheets workbooks through gspread, with one metadata read, one values batchGet
and one values batchUpdate per refresh.

- Reads ask for UNFORMATTED values (numbers as numbers whatever the sheet's locale) and
  serial-number dates; writes are RAW JSON numbers, so nothing lands as text.
- Every request has a timeout and a bounded retry with backoff and jitter on 429/5xx
  (``RetryingHTTPClient``); gspread's own backoff client never gives up on a 429.
- Errors users can act on: "not shared with <service account>", "not found", "BESS tab
  not found".
- Whole tabs (the Dispatch summary) are written into the same batchUpdate, when the tab
  exists; the Apps Script add-on creates it, with its chart, on first use. Google rejects
  a write beyond a tab's grid (a new tab is 1,000 x 26) and fails the whole batch, so a
  table that does not fit grows the grid first (``appendDimension``).
- No lost edit: before writing, the ranges read are read again and compared (every cell
  but those about to be written); if an input changed meanwhile nothing is written and
  ``InputsChangedError`` tells the caller to run again on the new inputs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

import google.auth
import gspread
import requests
from google.auth.credentials import Credentials
from gspread.exceptions import APIError
from gspread.utils import a1_to_rowcol, rowcol_to_a1

from btm_ppa.adapters.retry import RETRYABLE_STATUSES, RetryPolicy
from btm_ppa.errors import LayoutError, WorkbookUnavailableError
from btm_ppa.sheet.cells import SERIAL_EPOCH
from btm_ppa.sheet.workbook import (
    CellValue,
    CellWrite,
    ColorScale,
    RangeChart,
    TableWrite,
    TabSnapshot,
)

SHEETS_SCOPE = "https://www.googleapis.com/auth/spreadsheets"
DEFAULT_TIMEOUT_S = 30.0
_SPREADSHEET_ID = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
#: Rows of a replaced table tab blanked beyond the new content: the tab's grid, up to this.
TABLE_CLEAR_ROWS = 5_000


class InputsChangedError(WorkbookUnavailableError):
    """The tab's inputs changed between the read and the write: nothing was written."""

    kind = "inputs_changed"


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
    """A value as the Sheets API takes it with RAW input: numbers stay numbers; dates and
    times become serial days (the cells' number formats display them); None clears."""
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
            params={"fields": "sheets.properties(title,sheetId,gridProperties)"}))
        for sheet in meta.get("sheets", []):
            props = sheet["properties"]
            grid = props.get("gridProperties", {})
            self._grid[props["title"]] = (props.get("sheetId", 0), grid.get("rowCount", 1_000),
                                          grid.get("columnCount", 26))
        return tuple(s["properties"]["title"] for s in meta.get("sheets", []))

    def _batch_get(self, ranges: list[str]) -> list[list[list[Any]]]:
        body = self._call("reading values", lambda: self.client.http_client.values_batch_get(
            self.spreadsheet_id, ranges, params={"valueRenderOption": "UNFORMATTED_VALUE",
                                                 "dateTimeRenderOption": "SERIAL_NUMBER",
                                                 "majorDimension": "ROWS"}))
        return [vr.get("values", []) for vr in body.get("valueRanges", [])]

    def _check_unchanged(self, written: set[str]) -> None:
        """Read the same ranges again; raise InputsChangedError if any cell not about to be
        written differs from the first read."""
        if not self._read_ranges:
            return
        again = self._batch_get(self._read_ranges)
        if _cells(again[:1], self._read_origin, written) != _cells(
                self._read_values[:1], self._read_origin, written) or again[1:] != self._read_values[1:]:
            self.inputs_changed = True
            raise InputsChangedError(
                f"the inputs of {self.description} changed while it was being refreshed; "
                "nothing was written")

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
              charts: Sequence[RangeChart | ColorScale] = ()) -> None:
        data = [{"range": f"{_quote(w.tab or tab)}!{w.address}", "values": [[_to_sheet(w.value)]]}
                for w in writes]
        if tables and self._tabs is None:  # written without a read first (the register)
            self._tabs = self._tab_names()
        grow: list[dict[str, Any]] = []
        for name, table in (tables or {}).items():
            if self._tabs is not None and name not in self._tabs:
                continue  # created with its chart by the add-on; nothing to write into yet
            width = max(len(r) for r in table.rows)
            sheet_id, grid_rows, grid_cols = self._grid.get(name, (0, 1_000, 26))
            rows = [[_to_sheet(v) for v in r] + [""] * (width - len(r)) for r in table.rows]
            rows += [[""] * width] * max(0, min(grid_rows, TABLE_CLEAR_ROWS) - len(rows))
            for dimension, need, have in (("ROWS", len(rows), grid_rows),
                                          ("COLUMNS", width, grid_cols)):
                if need > have:
                    grow.append({"appendDimension": {"sheetId": sheet_id, "dimension": dimension,
                                                     "length": need - have}})
            data.append({"range": f"{_quote(name)}!A1", "values": rows})
        if not data:
            return
        self._check_unchanged({w.address for w in writes if w.tab in (None, tab)})
        if grow:  # a write beyond the grid would fail the whole batch
            self._call("growing a tab", lambda: self.client.http_client.batch_update(
                self.spreadsheet_id, {"requests": grow}))
        body = {"valueInputOption": "RAW", "data": data}
        self._call("writing results", lambda: self.client.http_client.values_batch_update(
            self.spreadsheet_id, body=body))


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
