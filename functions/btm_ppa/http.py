"""HTTP handling for the Cloud Functions in ``functions/main.py``.

Handlers are thin: parse and validate the JSON request, call the refresh, serialise the
outcome. A bad request gets 400 with a message; an unexpected failure gets 500 with a
generic message (the trace goes to the log, never to the caller).
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
from pathlib import Path
from typing import Any

import flask

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.errors import (
    BtmError,
    InputError,
    InputErrors,
    LayoutError,
    PriceDataError,
    WarehouseError,
    WorkbookUnavailableError,
)
from btm_ppa.refresh import refresh
from btm_ppa.report import outcome_json
from btm_ppa.warehouse import PriceWarehouse
from sheets_layout import load_bess_layout

log = logging.getLogger(__name__)

#: Characters Google Sheets does not allow in a tab name, plus quotes that break A1 ranges.
_BAD_TAB_CHARS = re.compile(r"[\[\]*?:/\\']")

_warehouse: PriceWarehouse | None = None
_warehouse_lock = threading.Lock()


class BadRequest(Exception):
    """The request itself is malformed (HTTP 400)."""


def get_warehouse() -> PriceWarehouse:
    """The warehouse, created on first use and reused by this instance."""
    global _warehouse
    with _warehouse_lock:
        if _warehouse is None:
            _warehouse = DuckDbWarehouse()
        return _warehouse


def set_warehouse(warehouse: PriceWarehouse | None) -> None:
    """Inject a warehouse (tests, or a deployment choosing BigQuery)."""
    global _warehouse
    with _warehouse_lock:
        _warehouse = warehouse


def json_log(severity: str, message: str, **fields: Any) -> None:
    """One structured log line (Cloud Logging reads ``severity`` and ``message``)."""
    print(json.dumps({"severity": severity, "message": message, **fields}, default=str),
          file=sys.stdout, flush=True)


def status_for(error: BtmError | None) -> int:
    if error is None:
        return 200
    if isinstance(error, InputError | InputErrors | LayoutError | PriceDataError):
        return 422  # the request was fine; the tab's content is not (see its status row)
    if isinstance(error, WorkbookUnavailableError):
        return 409
    if isinstance(error, WarehouseError):
        return 502
    return 500


def _request_json(request: flask.Request) -> dict[str, Any]:
    if request.method != "POST":
        raise BadRequest(f"use POST with a JSON body, not {request.method}")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("expected a JSON object body, e.g. "
                         '{"workbook": "my.xlsx", "sheet": "BESS"}')
    return body


def validate_tab_name(value: object) -> str:
    if value is None:
        return load_bess_layout().tab_name
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise BadRequest('"sheet" must be a tab name of 1 to 100 characters')
    if _BAD_TAB_CHARS.search(value):
        raise BadRequest(f'"sheet" {value!r} has a character tab names cannot hold ([]*?:/\\\')')
    return value


def local_workbook_path(value: object) -> Path:
    """The workbook path, which must be an .xlsx inside ``$BTM_PPA_WORKBOOK_ROOT``."""
    if not isinstance(value, str) or not value.strip():
        raise BadRequest('"workbook" must be the path of an .xlsx file')
    root = Path(os.environ.get("BTM_PPA_WORKBOOK_ROOT") or Path.cwd()).resolve()
    path = (root / value).resolve()
    if not path.is_relative_to(root):
        raise BadRequest(f'"workbook" must be inside the workbook root {root}')
    if path.suffix.lower() != ".xlsx":
        raise BadRequest(f'"workbook" {value!r} is not an .xlsx file')
    return path


def handle_refresh(request: flask.Request) -> tuple[dict[str, Any], int]:
    """POST {"workbook": "path.xlsx", "sheet": "BESS"} -> refresh outcome as JSON."""
    try:
        body = _request_json(request)
        unknown = set(body) - {"workbook", "sheet"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        tab = validate_tab_name(body.get("sheet"))
        workbook = XlsxWorkbook(local_workbook_path(body.get("workbook")))
    except BadRequest as exc:
        return {"ok": False, "error": {"kind": "request", "message": str(exc)}}, 400
    try:
        layout = load_bess_layout()
        outcome = refresh(workbook, get_warehouse(), tab=tab, layout=layout)
    except BtmError as exc:  # the warehouse could not be built or reached
        json_log("ERROR", "refresh failed", error=exc.message, workbook=workbook.description)
        return {"ok": False, "error": {"kind": exc.kind, "message": exc.message}}, status_for(exc)
    except Exception:
        log.exception("refresh crashed")
        json_log("ERROR", "refresh crashed", workbook=workbook.description)
        return {"ok": False, "error": {"kind": "internal",
                                       "message": "internal error; see the function's log"}}, 500
    json_log("INFO" if outcome.ok else "WARNING", "refresh finished", status=outcome.status,
             workbook=workbook.description, method=outcome.method)
    return outcome_json(outcome, layout), status_for(outcome.error)
