"""HTTP handling for the Cloud Functions in ``functions/main.py``: ``refresh``,
``ingest_prices``, ``scheduled_refresh`` and ``vlp_register``.

Callers: add-on users call ``refresh`` (their access to the spreadsheet is checked with
their OAuth token; with a queue their refresh is deferred to a task so the add-on's 60 s
UrlFetchApp deadline never matters); Cloud Tasks calls ``refresh`` for each queued sheet;
Cloud Scheduler calls the other three. Each sheet's run is recorded (``run_log``).

Handlers are thin: check the caller, parse and validate the JSON request, call the use
case, serialise. 400 for a malformed request, 401/403 from auth, 422 when the tab's
content is wrong, 409 when the workbook is unavailable, 502 when a dependency fails,
500 (generic message, trace in the log only) for anything unexpected.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

import flask

from btm_ppa.entrypoints import runtime
from btm_ppa.entrypoints.auth import (
    SERVERLESS_AUTHORIZATION,
    AuthConfig,
    AuthError,
    verify_caller,
)
from btm_ppa.entrypoints.requests import (
    RETRY_COUNT_HEADER,
    ingest_window,
    local_workbook_path,
    parse_body,
    retry_attempt,
)
from btm_ppa.errors import (
    BtmError,
    RequestError,
    ServiceUnavailableError,
    WarehouseError,
    WorkbookUnavailableError,
    http_status_for,
)
from btm_ppa.sheet.workbook import Workbook
from sheets_layout import load_bess_layout

# pandas, the model, openpyxl and the Elexon client load on a request's first use, so a
# cold start only pays for what its request needs.

log = logging.getLogger(__name__)

#: Characters Google Sheets does not allow in a tab name, plus quotes that break A1 ranges.
_BAD_TAB_CHARS = re.compile(r"[\[\]*?:/\\']")
#: Days of prices the nightly job re-ingests (settlement runs revise recent days).
NIGHTLY_DAYS_BACK = 3
MAX_INGEST_DAYS = 366
#: Runs of one refresh when its inputs keep changing under it (each finds them changed).
MAX_RERUNS = 3
#: Header the add-on sends the user's OAuth access token in (for the access check).
USER_TOKEN_HEADER = "X-User-Access-Token"
TRIGGERS = frozenset({"menu", "edit", "nightly"})

Response = tuple[dict[str, Any], int]


#: A malformed request (HTTP 400); the name the handlers below raise.
BadRequest = RequestError


def json_log(severity: str, message: str, **fields: Any) -> None:
    """One structured log line (Cloud Logging reads ``severity`` and ``message``)."""
    print(json.dumps({"severity": severity, "message": message, **fields}, default=str),
          file=sys.stdout, flush=True)


def status_for(error: BaseException | None) -> int:
    """HTTP status of an outcome's error, from the one table in ``btm_ppa.errors``."""
    return http_status_for(error)


def _error(kind: str, message: str, status: int) -> Response:
    return {"ok": False, "error": {"kind": kind, "message": message}}, status


def guarded(name: str, handler: Callable[[flask.Request, dict[str, Any]], Response]
            ) -> Callable[[flask.Request], Response]:
    """Auth, JSON parsing and error translation shared by every function."""

    def run(request: flask.Request) -> Response:
        try:
            caller = verify_caller(request.headers.get("Authorization"), AuthConfig.from_env(),
                                   serverless_authorization=request.headers.get(
                                       SERVERLESS_AUTHORIZATION))
            request.environ["btm_ppa.caller"] = caller
            if request.method != "POST":
                raise BadRequest(f"use POST with a JSON body, not {request.method}")
            body = parse_body(request.get_data(cache=True), name)
            json_log("INFO", f"{name} called", caller=caller)
            return handler(request, body)
        except AuthError as exc:
            json_log("WARNING", f"{name} refused", reason=exc.message)
            return _error("auth", exc.message, status_for(exc))
        except BtmError as exc:
            json_log("ERROR" if status_for(exc) >= 500 else "WARNING", f"{name} failed",
                     error=exc.message)
            return _error(exc.kind, exc.message, status_for(exc))
        except Exception as exc:  # the last guard: the trace goes to the log, one line out
            log.exception("%s crashed", name)
            unavailable = _unavailable(exc)
            if unavailable is not None:
                json_log("ERROR", f"{name} unavailable", error=unavailable.message)
                return _error(unavailable.kind, unavailable.message, 503)
            json_log("ERROR", f"{name} crashed", error=type(exc).__name__)
            return _error("internal", "internal error; see the function's log", 500)

    return run


def _unavailable(exc: BaseException) -> ServiceUnavailableError | None:
    """Missing Google credentials are the deployment's fault, not the caller's: 503."""
    from google.auth.exceptions import DefaultCredentialsError, InvalidValue, MalformedError

    # (google-auth derives its token errors from DefaultCredentialsError too)
    if isinstance(exc, DefaultCredentialsError) and not isinstance(
            exc, InvalidValue | MalformedError):
        return ServiceUnavailableError("the backend has no Google credentials to open "
                                       "spreadsheets here; try again later or tell its admin")
    return None


def validate_tab_name(value: object) -> str:
    if value is None:
        return load_bess_layout().tab_name
    if not isinstance(value, str) or not value.strip() or len(value) > 100:
        raise BadRequest('"sheet" must be a tab name of 1 to 100 characters')
    if _BAD_TAB_CHARS.search(value):
        raise BadRequest(f'"sheet" {value!r} has a character tab names cannot hold ([]*?:/\\\')')
    return value


def _spreadsheet_id(body: dict[str, Any]) -> str:
    from btm_ppa.adapters.sheets_workbook import valid_spreadsheet_id

    try:
        sid = valid_spreadsheet_id(body["spreadsheet_id"])
    except ValueError as exc:
        raise BadRequest(f'"spreadsheet_id": {exc}') from None
    AuthConfig.from_env().check_spreadsheet(sid)
    return sid


def _workbook(body: dict[str, Any]) -> Workbook:
    if "spreadsheet_id" in body:
        from btm_ppa.adapters.sheets_workbook import SheetsWorkbook

        return SheetsWorkbook(_spreadsheet_id(body), runtime.sheets_client(),
                              runtime.service_account_email())
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook

    return XlsxWorkbook(local_workbook_path(body.get("workbook")))


def _check_user_access(request: flask.Request, body: dict[str, Any]) -> None:
    """A person (not Cloud Tasks) asking for a spreadsheet must be able to edit it."""
    caller = request.environ.get("btm_ppa.caller")
    access = runtime.drive_access()
    if access is None or caller is None or "spreadsheet_id" not in body:
        return
    if caller.lower() == runtime.tasks_caller():
        return  # a queued refresh: checked when it was queued
    from btm_ppa.adapters.drive_access import AccessDenied

    try:
        access.check(_spreadsheet_id(body), request.headers.get(USER_TOKEN_HEADER), caller)
    except AccessDenied as exc:
        raise AuthError(exc.message, exc.status) from exc


def _refresh(request: flask.Request, body: dict[str, Any]) -> Response:
    """POST {"spreadsheet_id": "...", "sheet": "BESS"} (or {"workbook": "x.xlsx"} locally);
    ``"defer": true`` queues it (202) when a queue is configured; ``"trigger"`` says who
    asked (menu, edit, nightly) for the run record."""
    from btm_ppa.entrypoints.report import outcome_json

    unknown = set(body) - {"workbook", "spreadsheet_id", "sheet", "validate_only", "defer",
                           "trigger", "size", "sizing"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    if ("workbook" in body) == ("spreadsheet_id" in body):
        raise BadRequest('send exactly one of "spreadsheet_id" and "workbook"')
    trigger = body.get("trigger", "menu")
    if trigger not in TRIGGERS:
        raise BadRequest(f'"trigger" must be one of {", ".join(sorted(TRIGGERS))}, not {trigger!r}')
    tab = validate_tab_name(body.get("sheet"))
    _check_user_access(request, body)
    if "size" in body or "sizing" in body:  # a sizing sweep's task
        return _sizing_task(request, body, tab, trigger)
    layout = load_bess_layout()
    if body.get("validate_only") is True:
        from btm_ppa.refresh import validate

        outcome = validate(_workbook(body), tab=tab, layout=layout,
                           warehouse=runtime.warehouse())
        return outcome_json(outcome, layout), status_for(outcome.error)
    queue = runtime.task_queue()
    if body.get("defer") is True and queue is not None and "spreadsheet_id" in body:
        from btm_ppa.adapters.cloud_tasks import edit_task

        sid = _spreadsheet_id(body)
        task = {"spreadsheet_id": sid, "sheet": tab, "trigger": trigger}
        if trigger == "edit":  # a burst of edits on the tab: one refresh, after the last
            wanted, when = edit_task(sid, tab, dt.datetime.now(dt.UTC))
            name = queue.enqueue(task, name=wanted, schedule_time=when)
            if name is None:
                json_log("INFO", "refresh already queued for this burst of edits", task=wanted)
                return {"ok": True, "queued": True, "task": wanted, "joined": True,
                        "status": "QUEUED: a refresh already queued will include this edit"}, 202
        else:
            name = queue.enqueue(task)
        json_log("INFO", "refresh queued", task=name, trigger=trigger)
        return {"ok": True, "queued": True, "task": name,
                "status": "QUEUED: the results appear in rows 50-62 when it has run"}, 202
    return _run_refresh(request, body, tab, trigger)


def _run_refresh(request: flask.Request, body: dict[str, Any], tab: str,
                 trigger: str) -> Response:
    """Refresh now, again while the inputs change under it, and record the run. Cloud
    Tasks gets 503 for what a retry can cure (quota, timeouts, BigQuery) and 200 for the
    rest, which the status row already reports (a retry would fail the same way)."""
    from btm_ppa.adapters.run_log import RefreshRun
    from btm_ppa.entrypoints.report import outcome_json
    from btm_ppa.entrypoints.sizing_tasks import fan_out
    from btm_ppa.refresh import refresh

    started = dt.datetime.now(dt.UTC)
    layout = load_bess_layout()
    sweep = fan_out(body, tab, trigger)  # on Google Cloud: the sizing as Cloud Tasks
    for _ in range(MAX_RERUNS):
        workbook = _workbook(body)
        outcome = refresh(workbook, runtime.warehouse(), tab=tab, layout=layout, sweep=sweep,
                          sheet=(body.get("spreadsheet_id"), tab))
        if not getattr(workbook, "inputs_changed", False):
            break
        json_log("INFO", "inputs changed during the refresh; running again",
                 workbook=workbook.description)
    caller = request.environ.get("btm_ppa.caller")
    attempt, doubt = retry_attempt(request.headers.get(RETRY_COUNT_HEADER))
    if doubt:
        json_log("WARNING", doubt)
    json_log("INFO" if outcome.ok else "WARNING", "refresh finished", status=outcome.status,
             workbook=workbook.description, method=outcome.method)
    runtime.run_log().record(RefreshRun(
        spreadsheet_id=body.get("spreadsheet_id") or str(body.get("workbook")), sheet=tab,
        trigger=trigger, started_at=started, finished_at=dt.datetime.now(dt.UTC),
        ok=outcome.ok, status=outcome.status, attempt=attempt, caller=caller))
    status = 202 if outcome.queued else status_for(outcome.error)
    if caller is not None and caller.lower() == runtime.tasks_caller() and status >= 300:
        status = 503 if _retryable(outcome.error) else 200
    return outcome_json(outcome, layout), status


def _sizing_task(request: flask.Request, body: dict[str, Any], tab: str,
                 trigger: str) -> Response:
    """A size of a sweep, or its gather: Cloud Tasks' calls only (the queue's identity)."""
    from btm_ppa.entrypoints import sizing_tasks

    caller = request.environ.get("btm_ppa.caller")
    if caller is not None and caller.lower() != runtime.tasks_caller():
        raise AuthError("sizing tasks are queued by the refresh function itself, not sent by "
                        "callers", 403)
    sweep = sizing_tasks.fan_out(body, tab, trigger)
    if sweep is None:
        raise BadRequest('"size" and "sizing" need the Cloud Tasks queue and prices in '
                         "BigQuery (BTM_PPA_TASKS_QUEUE, BTM_PPA_BIGQUERY_DATASET) and a "
                         '"spreadsheet_id"')
    size = sizing_tasks.size_request(body)
    if size is None:  # the gather: a refresh that finds the sizes valued
        return _run_refresh(request, body, tab, trigger)
    try:
        answer, status = sizing_tasks.run_size_task(_workbook(body), sweep, tab, size)
    except BtmError as exc:  # Sheets or BigQuery failed: Cloud Tasks retries (503)
        if status_for(exc) < 500 and not _retryable(exc):
            raise
        json_log("WARNING", "size task failed; the queue retries it", error=exc.message)
        return _error(exc.kind, exc.message, 503)
    json_log("INFO", answer["status"], spreadsheet=body["spreadsheet_id"])
    return answer, status


def _retryable(error: BaseException | None) -> bool:
    if isinstance(error, WarehouseError) or getattr(error, "kind", None) == "tasks":
        return True  # BigQuery, or Cloud Tasks refusing a sizing sweep's tasks
    if isinstance(error, WorkbookUnavailableError):
        text = error.message
        return any(s in text for s in ("rate-limiting", "did not answer", "failed", "changed"))
    return False


def _ingest(request: flask.Request, body: dict[str, Any]) -> Response:
    """POST {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"} (default: the last three days)."""
    from btm_ppa.prices.ingest import ingest_prices

    unknown = set(body) - {"start", "end"}
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
    start, end = ingest_window(body, NIGHTLY_DAYS_BACK, MAX_INGEST_DAYS)
    report = ingest_prices(runtime.warehouse(), start, end,
                           client=runtime.elexon())
    json_log("INFO", report.summary(), rows=report.rows)
    return {"ok": True, "summary": report.summary(), "rows": report.rows,
            "incomplete_days": report.short_days}, 200


def _scheduled(request: flask.Request, body: dict[str, Any]) -> Response:
    """Nightly: ingest the latest prices, then queue one refresh task per registered sheet
    (the queue's rate keeps the Sheets quota); without a queue (local) refresh them here,
    one failure not stopping the others."""
    from btm_ppa.adapters.cloud_tasks import task_id
    from btm_ppa.prices.ingest import ingest_prices

    start, end = ingest_window(body, NIGHTLY_DAYS_BACK, MAX_INGEST_DAYS)
    report = ingest_prices(runtime.warehouse(), start, end,
                           client=runtime.elexon())
    sheets = runtime.registry()
    queue = runtime.task_queue()
    if queue is not None:
        night = dt.datetime.now(dt.UTC).date().isoformat()
        queued, skipped = 0, []
        for sid, tab in sheets:  # one bad registry entry must not stop the others
            try:
                name = queue.enqueue({"spreadsheet_id": sid, "sheet": validate_tab_name(tab),
                                      "trigger": "nightly"},
                                     name=task_id("nightly", night, sid, tab or ""))
                queued += 1 if name else 0
            except BtmError as exc:
                skipped.append({"spreadsheet_id": sid, "sheet": tab, "error": exc.message})
        already = len(sheets) - queued - len(skipped)
        summary = (f"{report.summary()}; queued {queued} of {len(sheets)} spreadsheet(s)"
                   + (f" ({already} already queued tonight)" if already else "")
                   + (f"; skipped {len(skipped)} registry entr{'y' if len(skipped) == 1 else 'ies'}"
                      " that cannot be refreshed: " + "; ".join(
                          f"{e['spreadsheet_id']} tab {e['sheet']!r}: {e['error']}"
                          for e in skipped) + " (fix them in the registry)" if skipped else ""))
        json_log("WARNING" if skipped else "INFO", summary, skipped=skipped)
        return {"ok": not skipped, "summary": summary, "ingest_rows": report.rows,
                "queued": queued, "skipped": skipped}, 200
    results = []
    for spreadsheet_id, tab in sheets:
        try:
            response, _ = _run_refresh(request, {"spreadsheet_id": spreadsheet_id},
                                       validate_tab_name(tab), "nightly")
            results.append({"spreadsheet_id": spreadsheet_id, "ok": response["ok"],
                            "status": response["status"]})
        except Exception as exc:  # one sheet's failure must not stop the rest
            log.exception("nightly refresh of %s crashed", spreadsheet_id)
            results.append({"spreadsheet_id": spreadsheet_id, "ok": False,
                            "status": f"ERROR: {exc}"})
    failed = [r for r in results if not r["ok"]]
    summary = (f"{report.summary()}; refreshed {len(results) - len(failed)} of {len(results)} "
               "spreadsheet(s)")
    json_log("WARNING" if failed else "INFO", summary, failed=failed)
    return {"ok": not failed, "summary": summary, "ingest_rows": report.rows,
            "results": results}, 200


def _vlp_register(request: flask.Request, body: dict[str, Any]) -> Response:
    """POST {} : fetch BM units from Elexon, rebuild the register, load it to the warehouse."""
    from btm_ppa.register.export import REGISTER_TABLE, make_register, register_frame

    if body:
        raise BadRequest("vlp_register takes an empty JSON object")
    register = make_register("elexon", client=runtime.elexon())
    runtime.warehouse().replace_tables(
        {REGISTER_TABLE: register_frame(register)})
    stats = register["summary_statistics"]
    json_log("INFO", "VLP register rebuilt", units=register["metadata"]["total_battery_bmus"])
    return {"ok": True, "summary_statistics": stats,
            "total_battery_bmus": register["metadata"]["total_battery_bmus"],
            "generated_date": register["metadata"]["generated_date"]}, 200


handle_refresh = guarded("refresh", _refresh)
handle_vlp_register = guarded("vlp_register", _vlp_register)
handle_ingest_prices = guarded("ingest_prices", _ingest)
handle_scheduled_refresh = guarded("scheduled_refresh", _scheduled)
