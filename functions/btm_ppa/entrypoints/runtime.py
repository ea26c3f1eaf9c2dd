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
"""

from __future__ import annotations

import os
import threading
from typing import Any

from btm_ppa.adapters.elexon import ELEXON_BASE_URL, ElexonClient
from btm_ppa.prices.warehouse import PriceWarehouse

_lock = threading.Lock()
_clients: dict[str, Any] = {}


def _get(name: str, make: Any) -> Any:
    with _lock:
        if name not in _clients:
            _clients[name] = make()
        return _clients[name]


def inject(name: str, client: Any) -> None:
    """Set (or, with None, forget) one of: warehouse, sheets, elexon."""
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
    return _get("elexon", lambda: ElexonClient(  # type: ignore[no-any-return]
        base_url=os.environ.get("BTM_PPA_ELEXON_URL", ELEXON_BASE_URL)))


def registry() -> list[tuple[str, str | None]]:
    """Spreadsheets the nightly job refreshes: (spreadsheet id, tab or None)."""
    entries = [e.strip() for e in os.environ.get("BTM_PPA_SPREADSHEETS", "").split(",")
               if e.strip()]
    if entries:
        return [(e.split(":", 1)[0], e.split(":", 1)[1] if ":" in e else None) for e in entries]
    return warehouse().spreadsheet_registry()
