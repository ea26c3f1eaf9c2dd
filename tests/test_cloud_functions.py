"""The functions end to end with real clients over loopback: ID tokens signed locally, the
Sheets API stand-in, the BigQuery emulator and the Elexon stand-in.

``_app`` serves a function as deployed: behind Cloud Run's front door (tests/front_door.py),
which checks the token and removes its signature. ``_laptop`` serves it as the functions
framework does on a developer's machine: nothing in front, so the function verifies the
token's signature itself."""

import functions_framework
import pytest

from btm_ppa.entrypoints import runtime
from tests.conftest import FUNCTION_SOURCE, cell, result_cell, status_cell
from tests.elexon_standin import ElexonStandIn
from tests.front_door import FrontDoor
from tests.google_tokens import TokenIssuer
from tests.sheets_standin import SheetsStandIn
from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

AUDIENCE = "https://refresh-123456789012.europe-west2.run.app"
SCHEDULER = "scheduler@my-project.iam.gserviceaccount.com"
#: The front door's configuration here: who holds the invoker role, the custom audience.
INVOKERS = ("domain:example.com", f"serviceAccount:{SCHEDULER}")


@pytest.fixture
def issuer(monkeypatch):
    with TokenIssuer() as server:
        _ISSUER["it"] = server
        # _app sets these as the deployment does; monkeypatch puts back what was there.
        for name in ("BTM_PPA_FRONT_DOOR", "K_SERVICE"):
            monkeypatch.setenv(name, "")
            monkeypatch.delenv(name)
        yield server
        _ISSUER.clear()


@pytest.fixture
def configured(issuer, monkeypatch):
    monkeypatch.setenv("BTM_PPA_AUDIENCES", f"{AUDIENCE},apps-script-client-id")
    monkeypatch.setenv("BTM_PPA_ALLOWED_CALLERS", f"@example.com,{SCHEDULER}")
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


_ISSUER = {}


def _laptop(target):
    """The function as the functions framework serves it on a laptop: no front door."""
    source = str(FUNCTION_SOURCE / "main.py")
    return functions_framework.create_app(target=target, source=source).test_client()


def _app(target):
    """The function as deployed: behind the front door (K_SERVICE is Cloud Run's)."""
    import os

    os.environ["BTM_PPA_FRONT_DOOR"] = "cloud-run"
    os.environ["K_SERVICE"] = target.replace("_", "-")
    app = functions_framework.create_app(target=target, source=str(FUNCTION_SOURCE / "main.py"))
    app.wsgi_app = FrontDoor(app.wsgi_app, url=AUDIENCE, certs=_ISSUER["it"].public_certs,
                             invokers=INVOKERS, custom_audiences=["apps-script-client-id"])
    return app.test_client()


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
    """The function's own check, with nothing in front of it (the door refuses all these
    too, with its own answers: test_the_front_door_refuses_before_the_function_runs)."""
    runtime.inject("warehouse", warehouse)
    token = None if token_kwargs is None else issuer.token(**{"audience": AUDIENCE,
                                                               **token_kwargs})
    response = _post(_laptop("refresh"), token, {"spreadsheet_id": SHEET_ID})
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
    """The first run finds B45 changed before writing, writes nothing, and runs again on
    the new inputs: the sheet ends with results of what the analyst typed."""
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
        2, 4, 1)
    assert sheets.value("BESS", status_cell()) == "OK"
    assert sheets.value("BESS", cell("ppa_price_gbp_per_mwh")) == 151.25
    # Stream 1's PPA revenue is its volume at the new price, not the old one.
    assert sheets.value("BESS", result_cell("ppa_revenue_gbp", "stream1")) == pytest.approx(
        sheets.value("BESS", result_cell("volume_mwh", "stream1")) * 151.25, abs=0.01)


@pytest.mark.parametrize(("token_kwargs", "status"), [
    (None, 403),  # no credentials: Cloud Run's 403
    ({"audience": "someone-else"}, 401),
    ({"expires_in_s": -600}, 401),
    ({"issuer": "https://evil.example"}, 401),
    ({"email": "intruder@elsewhere.com"}, 403),  # no invoker role
    ({"email": "analyst@example.com", "hd": None}, 403),  # a personal account: not domain:
])
def test_the_front_door_refuses_before_the_function_runs(sheets, warehouse, issuer,
                                                         token_kwargs, status):
    runtime.inject("warehouse", warehouse)
    token = None if token_kwargs is None else issuer.token(**{"audience": AUDIENCE,
                                                               **token_kwargs})
    response = _post(_app("refresh"), token, {"spreadsheet_id": SHEET_ID})
    assert response.status_code == status
    assert b"Your client does not have permission" in response.data
    assert sheets.requests == []  # the function never ran


def _stripped(token: str) -> str:
    return token.rsplit(".", 1)[0] + ".SIGNATURE_REMOVED_BY_GOOGLE"


def test_a_token_whose_signature_was_removed_is_refused_off_cloud_run(sheets, warehouse,
                                                                      issuer, monkeypatch):
    """A token as Cloud Run forwards it, replayed where no front door checked it: refused,
    on a laptop and where the deployment's environment was copied without Cloud Run's
    K_SERVICE."""
    runtime.inject("warehouse", warehouse)
    token = _stripped(issuer.token(audience=AUDIENCE))
    response = _post(_laptop("refresh"), token, {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 401
    assert "signature was removed" in response.get_json()["error"]["message"]
    monkeypatch.setenv("BTM_PPA_FRONT_DOOR", "cloud-run")  # the deployed env, on a laptop
    assert _post(_laptop("refresh"), token, {"spreadsheet_id": SHEET_ID}).status_code == 401
    assert sheets.requests == []


def test_a_forged_token_is_refused_off_cloud_run_and_at_the_door(sheets, warehouse, issuer):
    runtime.inject("warehouse", warehouse)
    forger = TokenIssuer()  # another key under the same key id; its server never started
    forged = forger.token(audience=AUDIENCE)
    response = _post(_laptop("refresh"), forged, {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 401 and "invalid ID token" in response.get_json()["error"]["message"]
    assert _post(_app("refresh"), forged, {"spreadsheet_id": SHEET_ID}).status_code == 401
    assert sheets.requests == []


def test_a_company_address_outside_the_workspace_domain_is_refused(sheets, warehouse, issuer):
    """A personal Google account registered with a company address carries no ``hd``:
    "@example.com" in the allowlist means accounts of that Workspace domain only."""
    runtime.inject("warehouse", warehouse)
    token = issuer.token(email="analyst@example.com", audience=AUDIENCE, hd=None)
    response = _post(_laptop("refresh"), token, {"spreadsheet_id": SHEET_ID})
    assert response.status_code == 403
    assert "Workspace domain" in response.get_json()["error"]["message"]
    other = issuer.token(email="analyst@example.com", audience=AUDIENCE, hd="elsewhere.com")
    assert _post(_laptop("refresh"), other, {"spreadsheet_id": SHEET_ID}).status_code == 403
    assert sheets.requests == []


def test_behind_the_door_the_function_reads_the_checked_header(sheets, warehouse, issuer):
    """A caller may send its ID token in X-Serverless-Authorization (Cloud Run checks that
    header, removes its signature, and passes Authorization through untouched)."""
    runtime.inject("warehouse", warehouse)
    response = _app("refresh").post("/", json={"spreadsheet_id": SHEET_ID, "validate_only": True},
                                    headers={"X-Serverless-Authorization":
                                             f"Bearer {issuer.token(audience=AUDIENCE)}",
                                             "Authorization": "Bearer app-level-token"})
    assert response.status_code == 200, response.get_json()
