"""The Sheets adapter through gspread's own HTTP code, against a loopback Sheets API."""

import time

import pytest
import requests
from google.auth.transport.requests import AuthorizedSession
from google.oauth2.credentials import Credentials

from btm_ppa.adapters.retry import RetryPolicy
from btm_ppa.adapters.sheets_workbook import SheetsWorkbook, make_client
from btm_ppa.errors import LayoutError, WorkbookUnavailableError
from btm_ppa.refresh import refresh
from tests.conftest import cell, result_cell, status_cell
from tests.sheets_standin import SheetsStandIn

SHEET_ID = "1AbCdEfGhIjKlMnOpQrStUvWxYz0123456789"
SA = "btm-ppa-fn@my-project.iam.gserviceaccount.com"


class _Loopback(requests.adapters.HTTPAdapter):
    """Sends https://sheets.googleapis.com requests to the stand-in on 127.0.0.1."""

    def __init__(self, port: int) -> None:
        super().__init__()
        self.port = port

    def send(self, request, **kwargs):
        request.url = request.url.replace("https://sheets.googleapis.com",
                                          f"http://127.0.0.1:{self.port}")
        return super().send(request, **kwargs)


def loopback_client(standin: SheetsStandIn, policy: RetryPolicy | None = None,
                    timeout_s: float = 5.0):
    credentials = Credentials(token="dummy")
    session = AuthorizedSession(credentials)
    session.mount("https://sheets.googleapis.com", _Loopback(standin.port))
    return make_client(credentials, session=session,
                       policy=policy or RetryPolicy(base_delay_s=0.01, max_delay_s=0.05),
                       timeout_s=timeout_s)


@pytest.fixture
def standin(example_xlsx):
    with SheetsStandIn(SHEET_ID, example_xlsx) as server:
        yield server


def _book(standin, **kw):
    return SheetsWorkbook(SHEET_ID, loopback_client(standin, **kw), SA)


def test_full_refresh_reads_three_times_and_writes_once(standin, warehouse):
    outcome = refresh(_book(standin), warehouse)
    assert outcome.ok, outcome.status
    # metadata, the values, the values again just before writing (no lost edit), one write
    assert (standin.count("metadata"), standin.count("batchGet"), standin.count("batchUpdate")) == (
        1, 2, 1)
    assert standin.count("valuesBatchUpdate") == 0
    assert standin.value("BESS", status_cell()) == "OK"
    assert isinstance(standin.value("BESS", result_cell("profit_gbp")), float)  # a number, not "£1,234"
    assert standin.value("BESS", result_cell("profit_gbp")) == pytest.approx(
        float(outcome.table.total.profit_gbp)
    )
    assert isinstance(standin.value("BESS", status_cell("total")), float)  # a serial date-time


def test_dates_arrive_as_serial_numbers_and_are_read_right(standin, warehouse):
    assert isinstance(standin.value("BESS", cell("window_start")), int | float)
    outcome = refresh(_book(standin), warehouse)
    assert outcome.prices.window.window.start.isoformat() == "2023-04-01"


def test_429_twice_then_success(standin, warehouse):
    standin.faults.extend([429, 429])
    assert refresh(_book(standin), warehouse).ok
    assert standin.count("metadata") == 3  # two refused, then served


def test_500_is_retried(standin, warehouse):
    standin.faults.extend([500, 503])
    assert refresh(_book(standin), warehouse).ok


def test_persistent_429_ends_with_a_clean_error_in_bounded_time(standin, warehouse):
    standin.always = 429
    started = time.monotonic()
    outcome = refresh(_book(standin, policy=RetryPolicy(max_attempts=4, base_delay_s=0.01)),
                      warehouse)
    assert time.monotonic() - started < 5
    assert isinstance(outcome.error, WorkbookUnavailableError)
    assert "rate-limiting" in outcome.status
    assert len(standin.requests) == 4


def test_timeout_is_reported(standin, warehouse):
    standin.delay_s = 1.0
    outcome = refresh(_book(standin, timeout_s=0.2,
                            policy=RetryPolicy(max_attempts=2, base_delay_s=0.01)), warehouse)
    assert isinstance(outcome.error, WorkbookUnavailableError)
    assert "did not answer" in outcome.status


def test_not_shared_names_the_service_account(standin, warehouse):
    standin.shared = set()
    outcome = refresh(_book(standin), warehouse)
    assert f"not shared with {SA}" in outcome.status
    assert standin.count("batchUpdate") == 0


def test_unknown_spreadsheet_is_not_found(standin, warehouse):
    book = SheetsWorkbook("9" * 44, loopback_client(standin), SA)
    outcome = refresh(book, warehouse)
    assert "was not found" in outcome.status


def test_missing_tab_is_named(standin, warehouse):
    standin.tabs["Model"] = standin.tabs.pop("BESS")
    outcome = refresh(_book(standin), warehouse)
    assert isinstance(outcome.error, LayoutError)
    assert "BESS tab not found" in outcome.status
    assert standin.count("batchUpdate") == 0


def test_bad_input_writes_only_the_status_row_in_one_request(standin, warehouse):
    standin.tabs["BESS"][(45, 2)] = "£1,2x"
    before = dict(standin.tabs["BESS"])
    outcome = refresh(_book(standin), warehouse)
    assert not outcome.ok and cell("ppa_price_gbp_per_mwh") in standin.value("BESS", status_cell())
    changed = {k for k in before.keys() | standin.tabs["BESS"].keys()
               if before.get(k) != standin.tabs["BESS"].get(k)}
    assert {r for r, _ in changed} == {62}
    assert standin.count("batchUpdate") == 1


def test_spreadsheet_ids_are_validated(standin):
    with pytest.raises(ValueError, match="spreadsheet id"):
        SheetsWorkbook("../../etc", loopback_client(standin), SA)


def test_a_table_tab_is_made_in_the_same_write_unless_only_if_exists(standin):
    from btm_ppa.sheet.workbook import CellWrite, ChartSpec, TableWrite

    book = _book(standin)
    book.write("VLP Batteries", [], {"VLP Batteries": TableWrite(rows=[["a"], [1.5]],
                                                                 only_if_exists=True)})
    assert standin.count("batchUpdate") == 0 and "VLP Batteries" not in standin.tabs
    chart = ChartSpec(title="t", x_column=0, series_columns=(1,), y_title="MWh")
    table = TableWrite(rows=[["day", "mwh"], [1, 1.5], [2, 2.5]], number_formats={1: "#,##0.000"},
                       chart=chart)
    _book(standin).write("BESS", [CellWrite("B62", "OK")], {"New tab": table})
    assert standin.count("batchUpdate") == 1  # the tab, its values, its chart and B62: one call
    assert standin.value("New tab", "B3") == 2.5 and standin.value("BESS", "B62") == "OK"
    assert standin.number_format("New tab", "B2") == "#,##0.000"
    assert standin.number_format("New tab", "B1") is None  # the header keeps no number format
    assert [c["title"] for c in standin.charts("New tab")] == ["t"]
    _book(standin).write("BESS", [], {"New tab": table})  # again: the chart updated, not doubled
    assert len(standin.charts("New tab")) == 1


def test_a_tab_charted_by_hand_keeps_its_chart_and_gets_no_second(standin):
    from btm_ppa.sheet.workbook import ChartSpec, TableWrite

    book = _book(standin)
    book.read("BESS", "A1:D70")
    chart = ChartSpec(title="ours", x_column=0, series_columns=(1,), y_title="MWh")
    # the add-on makes the Dispatch tab with a chart of its own
    client = loopback_client(standin)
    client.http_client.batch_update(SHEET_ID, {"requests": [
        {"addSheet": {"properties": {"title": "Dispatch", "sheetId": 77}}},
        {"addChart": {"chart": {"spec": {"title": "by hand", "basicChart": {"chartType": "LINE"}},
                                "position": {"overlayPosition": {"anchorCell": {"sheetId": 77}}}}}}]})
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=[["d", "x"], [1, 2]],
                                                                 chart=chart)})
    assert [c["title"] for c in standin.charts("Dispatch")] == ["by hand"]
    assert standin.value("Dispatch", "B2") == 2


def test_a_table_longer_than_the_grid_grows_the_tab_in_the_same_write(standin):
    from btm_ppa.sheet.workbook import TableWrite

    standin.add_tab("Dispatch")  # as the add-on makes it: 1,000 rows x 26 columns
    rows = [["day", "mwh"]] + [[i, i / 2] for i in range(1, 1_827)]  # five years of days
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=rows)})
    assert standin.count("batchUpdate") == 1 and standin.count("valuesBatchUpdate") == 0
    assert standin.books[SHEET_ID].grid["Dispatch"] == [1_827, 26]
    assert standin.value("Dispatch", "B1827") == 913.0


def test_a_shorter_table_blanks_the_old_rows(standin):
    from btm_ppa.sheet.workbook import TableWrite

    standin.add_tab("Dispatch")
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=[["d"]] + [[1]] * 900)})
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=[["d"], [2]])})
    assert standin.value("Dispatch", "A2") == 2 and standin.value("Dispatch", "A900") is None
    assert standin.books[SHEET_ID].grid["Dispatch"] == [1_000, 26]  # it fitted: no growth


def test_cells_of_another_tab_join_the_one_write(standin):
    from btm_ppa.sheet.workbook import CellWrite

    standin.add_tab("Valuation")
    _book(standin).write("BESS", [CellWrite("B62", "OK"), CellWrite("C3", 0.5, "0.0%", "Valuation"),
                                  CellWrite("A1200", "far", tab="Valuation")])
    assert standin.count("batchUpdate") == 1
    assert standin.value("Valuation", "C3") == 0.5 and standin.value("Valuation", "A1200") == "far"
    assert standin.number_format("Valuation", "C3") == "0.0%"


def test_results_are_numbers_and_the_templates_formats_are_kept(standin, warehouse):
    from gspread.utils import a1_to_rowcol

    # the analyst formatted the status cell by hand; the refresh writes it with no format
    standin.books[SHEET_ID].formats["BESS"][a1_to_rowcol(status_cell())] = "@"
    assert refresh(_book(standin), warehouse).ok
    assert standin.count("valuesBatchUpdate") == 0
    assert isinstance(standin.value("BESS", result_cell("profit_gbp")), float)
    assert standin.number_format("BESS", result_cell("profit_gbp")) == "£#,##0.00;[Red]-£#,##0.00"
    assert standin.number_format("BESS", result_cell("volume_mwh")) == "#,##0.000"
    assert standin.number_format("BESS", status_cell()) == "@"


def test_text_that_looks_like_a_formula_or_number_stays_text(standin):
    from btm_ppa.sheet.workbook import CellWrite

    _book(standin).write("BESS", [CellWrite("B62", "=1+1"), CellWrite("C62", "1,234")])
    assert standin.value("BESS", "B62") == "=1+1" and standin.value("BESS", "C62") == "1,234"


def test_the_standin_refuses_a_write_beyond_the_grid_and_applies_none_of_the_batch(standin):
    from gspread.exceptions import APIError

    standin.add_tab("Dispatch")
    client = loopback_client(standin, policy=RetryPolicy(max_attempts=1))
    dispatch = standin.books[SHEET_ID].ids["Dispatch"]
    bess = standin.books[SHEET_ID].ids["BESS"]
    changed = {"updateCells": {"start": {"sheetId": bess, "rowIndex": 61, "columnIndex": 1},
                               "rows": [{"values": [{"userEnteredValue": {"stringValue": "changed"}}]}],
                               "fields": "userEnteredValue"}}
    too_long = {"updateCells": {"start": {"sheetId": dispatch, "rowIndex": 0, "columnIndex": 0},
                                "rows": [{"values": [{"userEnteredValue": {"numberValue": 1}}]}] * 1_001,
                                "fields": "userEnteredValue"}}
    with pytest.raises(APIError, match="exceeds grid limits"):
        client.http_client.batch_update(SHEET_ID, {"requests": [changed, too_long]})
    assert standin.value("BESS", status_cell()) != "changed"
    grow = {"appendDimension": {"sheetId": dispatch, "dimension": "ROWS", "length": 1}}
    with pytest.raises(APIError, match="exceeds grid limits"):  # in order: grown too late
        client.http_client.batch_update(SHEET_ID, {"requests": [changed, too_long, grow]})
    assert standin.books[SHEET_ID].grid["Dispatch"] == [1_000, 26]
    client.http_client.batch_update(SHEET_ID, {"requests": [changed, grow, too_long]})
    assert standin.value("BESS", status_cell()) == "changed"
    assert standin.value("Dispatch", "A1001") == 1
    body = {"valueInputOption": "RAW", "data": [
        {"range": "'BESS'!B62", "values": [["again"]]},
        {"range": "'Dispatch'!A1", "values": [[1]] * 1_002}]}
    with pytest.raises(APIError, match="exceeds grid limits"):  # values.batchUpdate: the same
        client.http_client.values_batch_update(SHEET_ID, body=body)
    assert standin.value("BESS", status_cell()) == "changed"


@pytest.mark.parametrize("request_, message", [
    ({"updateCells": {"start": {"sheetId": 0}, "rows": []}}, "At least one field"),
    ({"updateCells": {"start": {"sheetId": 999}, "rows": [], "fields": "*"}}, "No grid with id"),
    ({"updateCells": {"start": {"sheetId": 0}, "fields": "userEnteredValue", "rows": [
        {"values": [{"userEnteredValue": {"numberValue": "12"}}]}]}}, "Invalid value"),
    ({"addSheet": {"properties": {"title": "BESS"}}}, "already exists"),
    ({"appendDimension": {"sheetId": 0, "dimension": "ROWS", "length": 10_000_000}},
     "above the limit of 10000000 cells"),
    ({"setSomethingElse": {}}, "unsupported"),
    ({"setDataValidation": {"range": {"sheetId": 0, "startRowIndex": 5000, "endRowIndex": 5001,
                                      "startColumnIndex": 0, "endColumnIndex": 1},
                            "rule": {"condition": {"type": "ONE_OF_LIST"}}}}, "exceeds grid"),
    ({"setDataValidation": {"range": {"sheetId": 0, "startRowIndex": 1, "endRowIndex": 2,
                                      "startColumnIndex": 0, "endColumnIndex": 1},
                            "rule": {"condition": {"type": "MADE_UP"}}}}, "invalid data validation"),
])
def test_the_standin_refuses_what_google_refuses(standin, request_, message):
    from gspread.exceptions import APIError

    client = loopback_client(standin, policy=RetryPolicy(max_attempts=1))
    with pytest.raises(APIError, match=message) as refused:
        client.http_client.batch_update(SHEET_ID, {"requests": [request_]})
    assert refused.value.response.status_code == 400


def test_an_edit_during_a_refresh_is_not_lost(standin, warehouse):
    book = _book(standin)
    reads = []
    first_read = book._batch_get

    def read_then_analyst_edits(ranges):
        values = first_read(ranges)
        reads.append(ranges)
        if len(reads) == 1:  # the analyst changes the PPA price while the refresh computes
            standin.set_value("BESS", cell("ppa_price_gbp_per_mwh"), 151.25)
        return values

    book._batch_get = read_then_analyst_edits
    outcome = refresh(book, warehouse)
    assert not outcome.ok and "changed while" in outcome.status and book.inputs_changed
    # Old results never stand under OK on new inputs: they are marked stale, by cell.
    assert standin.value("BESS", status_cell()).startswith(
        f"STALE: {cell('ppa_price_gbp_per_mwh')} changed while the refresh ran")
    again = refresh(_book(standin), warehouse)  # the caller runs again (see http.py)
    assert again.ok and standin.value("BESS", cell("ppa_price_gbp_per_mwh")) == 151.25


def test_the_standin_enforces_the_per_user_read_quota(example_xlsx):
    clock = [0.0]
    with SheetsStandIn(SHEET_ID, example_xlsx, reads_per_minute=5, minute_s=60.0,
                       clock=lambda: clock[0]) as server:
        client = loopback_client(server, policy=RetryPolicy(max_attempts=1))
        for _ in range(5):
            client.http_client.fetch_sheet_metadata(SHEET_ID)
        from gspread.exceptions import APIError

        with pytest.raises(APIError) as refused:
            client.http_client.fetch_sheet_metadata(SHEET_ID)
        assert refused.value.response.status_code == 429
        clock[0] = 60.5  # a minute later the window has rolled on
        client.http_client.fetch_sheet_metadata(SHEET_ID)
        assert server.throttled == 1


def test_the_input_guides_join_the_one_write_and_land_with_it(standin):
    """The notes and validation rules of the inputs (adapters/sheets_guides.py) added to
    the write's batch through its hook: one batchUpdate; the values typed stay."""
    from btm_ppa.adapters.sheets_guides import guide_requests
    from btm_ppa.reference.files import read_gsp_groups
    from btm_ppa.sheet.guidance import input_guides
    from btm_ppa.sheet.workbook import CellWrite
    from sheets_layout import load_bess_layout

    layout = load_bess_layout()
    guides = input_guides(layout, [g.name for g in read_gsp_groups()])
    book = _book(standin)
    book.read("BESS", layout.read_range)
    before = standin.value("BESS", cell("ppa_price_gbp_per_mwh"))
    batch = book.plan("BESS", [CellWrite("B62", "OK")], {})
    for request in guide_requests(batch.sheet_id("BESS"), guides):
        batch.add(request)
    book.client.http_client.batch_update(SHEET_ID, batch.body())
    assert standin.count("batchUpdate") == 1
    method = layout.input("method").cell
    assert standin.validation("BESS", method)["condition"]["type"] == "ONE_OF_LIST"
    assert standin.note("BESS", method) == next(g.note for g in guides if g.cell == method)
    assert standin.value("BESS", cell("ppa_price_gbp_per_mwh")) == before  # notes only
    assert standin.value("BESS", "B62") == "OK"
