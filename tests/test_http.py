"""The `refresh` Cloud Function through functions-framework's test client."""

import json
import shutil

import functions_framework
import pytest

from btm_ppa.entrypoints import runtime
from tests.conftest import cell, set_cells


@pytest.fixture
def client(example_xlsx, warehouse, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")  # local development mode
    runtime.inject("warehouse", warehouse)
    app = functions_framework.create_app(target="refresh", source="functions/main.py")
    yield app.test_client()
    runtime.inject("warehouse", None)


def test_refresh_returns_rows_and_logs_json(client, capsys):
    response = client.post("/", json={"workbook": "bess.xlsx", "sheet": "BESS"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] and body["status"] == "OK" and body["method"] == "sheet"
    assert set(body["rows"]) == {str(r) for r in range(51, 63)}
    assert body["rows"]["59"]["total"] == pytest.approx(
        body["rows"]["59"]["stream1"] + body["rows"]["59"]["stream2"], abs=0.001)
    log_line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert log_line["severity"] == "INFO" and log_line["status"] == "OK"


def test_bad_input_is_422_with_the_cell(client, example_xlsx):
    set_cells(example_xlsx, {cell("ppa_price_gbp_per_mwh"): "£1,2x"})
    response = client.post("/", json={"workbook": "bess.xlsx"})
    assert response.status_code == 422
    body = response.get_json()
    assert body["error"]["cell"] == cell("ppa_price_gbp_per_mwh") and body["status_written"] is True


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"data": "not json", "content_type": "application/json"}, "JSON object"),
        ({"json": {"workbook": "bess.xlsx", "spreadsheet_id": "x" * 30}}, "exactly one"),
        ({"json": {"spreadsheet_id": "bad id!"}}, "spreadsheet id"),
        ({"json": ["a list"]}, "JSON object"),
        ({"json": {"workbook": "../outside.xlsx"}}, "inside the workbook root"),
        ({"json": {"workbook": "bess.csv"}}, "not an .xlsx"),
        ({"json": {"workbook": "bess.xlsx", "sheet": "Bad/Name"}}, "character"),
        ({"json": {"workbook": "bess.xlsx", "colour": "red"}}, "unknown field(s): colour"),
        ({"json": {}}, "exactly one"),
    ],
)
def test_bad_requests_are_400_with_a_message_and_no_trace(client, kwargs, message):
    response = client.post("/", **kwargs)
    assert response.status_code == 400
    body = response.get_json()
    assert message in body["error"]["message"]
    assert "Traceback" not in response.get_data(as_text=True)


def test_get_is_refused(client):
    assert client.get("/").status_code == 400


def test_missing_workbook_is_409(client, example_xlsx):
    shutil.move(example_xlsx, example_xlsx.with_name("moved.xlsx"))
    response = client.post("/", json={"workbook": "bess.xlsx"})
    assert response.status_code == 409
    assert "not found" in response.get_json()["error"]["message"]


def test_a_crash_is_500_without_a_trace(client, monkeypatch):
    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    import btm_ppa.refresh

    monkeypatch.setattr(btm_ppa.refresh, "refresh", boom)
    response = client.post("/", json={"workbook": "bess.xlsx"})
    assert response.status_code == 500
    assert "secret" not in response.get_data(as_text=True)


def test_local_workbooks_need_a_root(client, monkeypatch):
    monkeypatch.delenv("BTM_PPA_WORKBOOK_ROOT")
    response = client.post("/", json={"workbook": "bess.xlsx"})
    assert response.status_code == 400
    assert "local workbooks are disabled" in response.get_json()["error"]["message"]
