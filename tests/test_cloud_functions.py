"""The deployed functions end to end with real clients over loopback: ID tokens signed
locally, the Sheets API stand-in, the BigQuery emulator and the Elexon stand-in."""

import functions_framework
import pytest

from btm_ppa.entrypoints import runtime
from tests.conftest import cell, result_cell, status_cell
from tests.elexon_standin import ElexonStandIn
from tests.google_tokens import TokenIssuer
from tests.sheets_standin import SheetsStandIn
from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

AUDIENCE = "https://europe-west2-my-project.cloudfunctions.net/refresh"


@pytest.fixture
def issuer():
    with TokenIssuer() as server:
        yield server


@pytest.fixture
def configured(issuer, monkeypatch):
    monkeypatch.setenv("BTM_PPA_AUDIENCES", f"{AUDIENCE},apps-script-client-id")
    monkeypatch.setenv("BTM_PPA_ALLOWED_CALLERS", "@example.com,scheduler@my-project.iam.gserviceaccount.com")
    monkeypatch.setenv("BTM_PPA_CERTS_URL", issuer.certs_url)
    monkeypatch.setenv("BTM_PPA_SERVICE_ACCOUNT", SA)
    monkeypatch.delenv("BTM_PPA_AUTH", raising=False)
    yield
    for name in ("warehouse", "sheets", "elexon", "runs"):
        runtime.inject(name, None)


@pytest.fixture
def sheets(example_xlsx, configured):
    with SheetsStandIn(SHEET_ID, example_xlsx) as standin:
        runtime.inject("sheets", loopback_client(standin))
        yield standin


def _app(target):
    return functions_framework.create_app(target=target, source="functions/main.py").test_client()


def _post(client, token, body):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/", json=body, headers=headers)


def test_refresh_end_to_end_sheets_and_bigquery(sheets, bq_prices, issuer):
    runtime.inject("warehouse", bq_prices)
    response = _post(_app("refresh"), issuer.token(audience=AUDIENCE), {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["ok"] and body["rows"]["62"]["stream1"] == "OK"
    assert "BigQuery test-project.btm" in body["rows"]["61"]["notes"]
    assert sheets.value("BESS", status_cell()) == "OK"
    assert sheets.value("BESS", result_cell("profit_gbp")) == pytest.approx(
        body["rows"]["59"]["total"])
    assert (sheets.count("metadata"), sheets.count("batchGet"), sheets.count("batchUpdate")) == (
        1, 2, 1)  # the second read checks the inputs did not change before writing


def test_apps_script_audience_is_accepted(sheets, warehouse, issuer):
    runtime.inject("warehouse", warehouse)
    response = _post(_app("refresh"), issuer.token(audience="apps-script-client-id"),
                     {"spreadsheet_id": SHEET_ID, "sheet": "BESS"})
    assert response.status_code == 200


@pytest.mark.parametrize(("token_kwargs", "status", "says"), [
    (None, 401, "missing"),
    ({"audience": "someone-else"}, 401, "invalid ID token"),
    ({"expires_in_s": -600}, 401, "invalid ID token"),
    ({"issuer": "https://evil.example"}, 401, "issuer"),
    ({"email": "intruder@elsewhere.com"}, 403, "may not call"),
    ({"email_verified": False}, 403, "verified email"),
])
def test_bad_or_unlisted_callers_are_refused(sheets, warehouse, issuer, token_kwargs, status, says):
    runtime.inject("warehouse", warehouse)
    token = None if token_kwargs is None else issuer.token(**{"audience": AUDIENCE,
                                                               **token_kwargs})
    response = _post(_app("refresh"), token, {"spreadsheet_id": SHEET_ID})
    assert response.status_code == status
    assert says in response.get_json()["error"]["message"]
    assert sheets.count("batchUpdate") == 0


def test_unlisted_spreadsheet_is_403(sheets, warehouse, issuer, monkeypatch):
    runtime.inject("warehouse", warehouse)
    monkeypatch.setenv("BTM_PPA_ALLOWED_SPREADSHEETS", "another" + "x" * 30)
    response = _post(_app("refresh"), issuer.token(audience=AUDIENCE), {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 403
    assert sheets.requests == []


def test_ingest_prices_function(configured, issuer, tmp_path):
    from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
    from btm_ppa.adapters.elexon import ElexonClient
    from btm_ppa.adapters.retry import RetryPolicy

    store = DuckDbWarehouse(tmp_path / "w.duckdb")
    runtime.inject("warehouse", store)
    with ElexonStandIn() as elexon:
        runtime.inject("elexon", ElexonClient(base_url=elexon.base_url,
                                              policy=RetryPolicy(base_delay_s=0.01)))
        client = _app("ingest_prices")
        token = issuer.token(email="scheduler@my-project.iam.gserviceaccount.com", audience=AUDIENCE)
        response = _post(client, token, {"start": "2018-10-28", "end": "2018-10-29"})
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["rows"] == 98  # a 50-period day and a 48-period day
        bad = _post(client, token, {"start": "2018-10-29", "end": "2018-10-01"})
        assert bad.status_code == 400


def test_scheduled_refresh_carries_on_past_a_failing_sheet(sheets, warehouse, issuer,
                                                            monkeypatch, tmp_path):
    from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
    from btm_ppa.adapters.elexon import ElexonClient
    from btm_ppa.adapters.retry import RetryPolicy

    runtime.inject("warehouse", DuckDbWarehouse(tmp_path / "own.duckdb"))  # it ingests
    broken = "unshared" + "y" * 30
    monkeypatch.setenv("BTM_PPA_SPREADSHEETS", f"{broken},{SHEET_ID}:BESS")
    with ElexonStandIn() as elexon:
        runtime.inject("elexon", ElexonClient(base_url=elexon.base_url,
                                              policy=RetryPolicy(base_delay_s=0.01)))
        token = issuer.token(email="scheduler@my-project.iam.gserviceaccount.com", audience=AUDIENCE)
        response = _post(_app("scheduled_refresh"), token, {"start": "2030-01-01",
                                                             "end": "2030-01-01"})
    body = response.get_json()
    assert response.status_code == 200
    assert [r["ok"] for r in body["results"]] == [False, True]
    assert "not shared with" in body["results"][0]["status"]
    assert "refreshed 1 of 2" in body["summary"]
    assert sheets.value("BESS", status_cell()) == "OK"


def test_registry_rows_without_a_tab_refresh_the_default_tab(bq_prices, monkeypatch):
    """A NULL (or blank) tab in spreadsheet_registry means the layout's tab, never "nan"."""
    import json
    from pathlib import Path

    from google.cloud import bigquery

    monkeypatch.delenv("BTM_PPA_SPREADSHEETS", raising=False)
    fields = json.loads((Path(__file__).parents[1] / "deploy" / "bigquery"
                         / "spreadsheet_registry.json").read_text())
    table = f"{bq_prices.dataset}.spreadsheet_registry"
    bq_prices.client.delete_table(table, not_found_ok=True)
    bq_prices.client.create_table(bigquery.Table(table, schema=[
        bigquery.SchemaField(f["name"], f["type"], mode=f["mode"]) for f in fields]))
    assert not bq_prices.client.insert_rows_json(table, [
        {"spreadsheet_id": "a" * 30, "sheet": None, "enabled": True},
        {"spreadsheet_id": "b" * 30, "sheet": "Deal 2", "enabled": True},
        {"spreadsheet_id": "c" * 30, "sheet": "  ", "enabled": True},
        {"spreadsheet_id": "d" * 30, "sheet": "BESS", "enabled": False}])
    runtime.inject("warehouse", bq_prices)
    try:
        assert runtime.registry() == [("a" * 30, None), ("b" * 30, "Deal 2"), ("c" * 30, None)]
    finally:
        runtime.inject("warehouse", None)


def test_an_edit_during_a_refresh_makes_the_function_run_again(sheets, warehouse, issuer,
                                                               monkeypatch):
    """The first run finds B45 changed after writing, marks its figures stale, and runs
    again on the new inputs: the sheet ends with results of what the analyst typed."""
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook

    runtime.inject("warehouse", warehouse)
    reads = []
    original = SheetsWorkbook._batch_get

    def read_then_edit(self, ranges):
        values = original(self, ranges)
        reads.append(ranges)
        if len(reads) == 1:
            sheets.set_value("BESS", cell("ppa_price_gbp_per_mwh"), 151.25)
        return values

    monkeypatch.setattr(SheetsWorkbook, "_batch_get", read_then_edit)
    response = _post(_app("refresh"), issuer.token(audience=AUDIENCE), {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 200, response.get_json()
    assert (sheets.count("metadata"), sheets.count("batchGet"), sheets.count("batchUpdate")) == (
        2, 4, 3)  # per run: a read, a write and a read after it; the stale marking
    assert sheets.value("BESS", status_cell()) == "OK"
    assert sheets.value("BESS", cell("ppa_price_gbp_per_mwh")) == 151.25
    # Stream 1's PPA revenue is its volume at the new price, not the old one.
    assert sheets.value("BESS", result_cell("ppa_revenue_gbp", "stream1")) == pytest.approx(
        sheets.value("BESS", result_cell("volume_mwh", "stream1")) * 151.25, abs=0.01)
