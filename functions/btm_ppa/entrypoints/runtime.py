"""Clients of a running function instance, created lazily once and reused, and
injectable (tests hand in loopback ones).

Configuration (environment):
- ``BTM_PPA_BIGQUERY_DATASET`` = ``project.dataset``: prices in BigQuery; unset: the
  embedded DuckDB warehouse (``BTM_PPA_WAREHOUSE``).
- ``BTM_PPA_SERVICE_ACCOUNT``: the email users must share spreadsheets with (shown in
  "not shared" messages; defaults to the credentials' own).
- ``BTM_PPA_SPREADSHEETS``: the nightly registry, ``id[:tab],id[:tab],...``; unset with
  BigQuery: the ``spreadsheet_registry`` table.
- ``BTM_PPA_ELEXON_URL``: the Elexon Insights API base URL.
- ``BTM_PPA_TASKS_QUEUE`` (``projects/P/locations/L/queues/Q``), ``BTM_PPA_REFRESH_URL``
  and ``BTM_PPA_TASKS_SERVICE_ACCOUNT``: the Cloud Tasks queue the nightly run and menu
  refreshes go through, the refresh function it calls and the identity it calls as
  (``BTM_PPA_TASKS_ENDPOINT`` points the client elsewhere, for tests). Unset: refreshes
  run inline.
- ``BTM_PPA_ADDON_CLIENT_IDS``: the add-on's OAuth client id(s); when set, a user's access
  to each spreadsheet is checked with their OAuth token through Drive
  (``BTM_PPA_DRIVE_URL`` / ``BTM_PPA_TOKENINFO_URL`` for tests).

Heavy libraries (pandas, BigQuery, Cloud Tasks) are imported on first use, not at import.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from btm_ppa.adapters.cloud_tasks import TaskQueue
    from btm_ppa.adapters.drive_access import DriveAccess
    from btm_ppa.adapters.elexon import ElexonClient
    from btm_ppa.adapters.run_log import RunLog
    from btm_ppa.prices.warehouse import PriceWarehouse

_lock = threading.RLock()  # re-entrant: one client may be made from another
_clients: dict[str, Any] = {}


def _get(name: str, make: Any) -> Any:
    with _lock:
        if name not in _clients:
            _clients[name] = make()
        return _clients[name]


def inject(name: str, client: Any) -> None:
    """Set (or, with None, forget) one of: warehouse, sheets, elexon, tasks, drive, runs,
    registry (where the registry table is read, when not the warehouse)."""
    with _lock:
        if client is None:
            _clients.pop(name, None)
        else:
            _clients[name] = client


def _make_warehouse() -> PriceWarehouse:
    dataset = os.environ.get("BTM_PPA_BIGQUERY_DATASET")
    if dataset:
        from google.cloud import bigquery

        from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse

        return BigQueryWarehouse(bigquery.Client(project=dataset.split(".")[0]), dataset)
    from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse

    return DuckDbWarehouse()


def warehouse() -> PriceWarehouse:
    return _get("warehouse", _make_warehouse)  # type: ignore[no-any-return]


def sheets_client() -> Any:
    from btm_ppa.adapters.sheets_workbook import make_client

    return _get("sheets", make_client)


def service_account_email() -> str | None:
    if email := os.environ.get("BTM_PPA_SERVICE_ACCOUNT"):
        return email
    auth = getattr(sheets_client(), "auth", None)
    return getattr(auth, "service_account_email", None)


def elexon() -> ElexonClient:
    def make() -> ElexonClient:
        from btm_ppa.adapters.elexon import ELEXON_BASE_URL, ElexonClient

        return ElexonClient(base_url=os.environ.get("BTM_PPA_ELEXON_URL", ELEXON_BASE_URL))

    return _get("elexon", make)  # type: ignore[no-any-return]


def task_queue() -> TaskQueue | None:
    """The Cloud Tasks queue, or None when refreshes run inline (local development)."""
    if not os.environ.get("BTM_PPA_TASKS_QUEUE") and "tasks" not in _clients:
        return None

    def make() -> TaskQueue:
        from btm_ppa.adapters.cloud_tasks import TaskQueue, TaskQueueConfig

        return TaskQueue(TaskQueueConfig(
            queue=os.environ["BTM_PPA_TASKS_QUEUE"],
            target_url=os.environ["BTM_PPA_REFRESH_URL"],
            service_account=os.environ["BTM_PPA_TASKS_SERVICE_ACCOUNT"],
            endpoint=os.environ.get("BTM_PPA_TASKS_ENDPOINT")))

    return _get("tasks", make)  # type: ignore[no-any-return]


def tasks_caller() -> str | None:
    """The identity Cloud Tasks calls refresh as: its calls are the nightly or deferred
    refreshes, already checked when they were queued."""
    return (os.environ.get("BTM_PPA_TASKS_SERVICE_ACCOUNT") or "").lower() or None


def drive_access() -> DriveAccess | None:
    """The per-spreadsheet access check of add-on users, or None when it is off."""
    ids = [c.strip() for c in os.environ.get("BTM_PPA_ADDON_CLIENT_IDS", "").split(",") if c.strip()]
    if not ids and "drive" not in _clients:
        return None

    def make() -> DriveAccess:
        from btm_ppa.adapters import drive_access as da

        return da.DriveAccess(ids, drive_url=os.environ.get("BTM_PPA_DRIVE_URL", da.DRIVE_FILES_URL),
                              tokeninfo_url=os.environ.get("BTM_PPA_TOKENINFO_URL",
                                                           da.TOKENINFO_URL))

    return _get("drive", make)  # type: ignore[no-any-return]


def run_log() -> RunLog:
    def make() -> RunLog:
        from btm_ppa.adapters.run_log import RunLog

        wh = warehouse()
        return RunLog(getattr(wh, "client", None), getattr(wh, "dataset", None))

    return _get("runs", make)  # type: ignore[no-any-return]


def _tab(value: object) -> str | None:
    """A registry tab name; NULL (None or pandas' NaN), blank or non-text mean the default."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def registry() -> list[tuple[str, str | None]]:
    """Spreadsheets the nightly job refreshes: (spreadsheet id, tab or None)."""
    entries = [e.strip() for e in os.environ.get("BTM_PPA_SPREADSHEETS", "").split(",")
               if e.strip()]
    if entries:
        return [(e.split(":", 1)[0], _tab(e.split(":", 1)[1]) if ":" in e else None)
                for e in entries]
    wh = _clients.get("registry") or warehouse()  # tests may keep it apart from the prices
    return [(spreadsheet_id, _tab(sheet)) for spreadsheet_id, sheet in wh.spreadsheet_registry()]
