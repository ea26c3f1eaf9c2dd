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


def test_a_table_tab_is_written_only_when_it_exists(standin):
    from btm_ppa.sheet.workbook import TableWrite

    book = _book(standin)
    book.write("VLP Batteries", [], {"VLP Batteries": TableWrite(rows=[["a"], [1.5]])})
    assert standin.count("batchUpdate") == 0 and "VLP Batteries" not in standin.tabs
    standin.add_tab("VLP Batteries")
    _book(standin).write("VLP Batteries", [], {"VLP Batteries": TableWrite(rows=[["a"], [1.5]])})
    assert standin.value("VLP Batteries", "A2") == 1.5


def test_a_table_longer_than_the_grid_grows_the_tab_first(standin):
    from btm_ppa.sheet.workbook import TableWrite

    standin.add_tab("Dispatch")  # as the add-on makes it: 1,000 rows x 26 columns
    rows = [["day", "mwh"]] + [[i, i / 2] for i in range(1, 1_827)]  # five years of days
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=rows)})
    assert standin.count("spreadsheetBatchUpdate") == 1
    assert standin.books[SHEET_ID].grid["Dispatch"] == [1_827, 26]
    assert standin.value("Dispatch", "B1827") == 913.0


def test_a_shorter_table_blanks_the_old_rows_within_the_grid(standin):
    from btm_ppa.sheet.workbook import TableWrite

    standin.add_tab("Dispatch")
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=[["d"]] + [[1]] * 900)})
    _book(standin).write("Dispatch", [], {"Dispatch": TableWrite(rows=[["d"], [2]])})
    assert standin.value("Dispatch", "A2") == 2 and standin.value("Dispatch", "A900") is None
    assert standin.count("spreadsheetBatchUpdate") == 0  # it fitted: no growth asked


def test_the_standin_refuses_a_write_beyond_the_grid_and_applies_none_of_the_batch(standin):
    from gspread.exceptions import APIError

    standin.add_tab("Dispatch")
    client = loopback_client(standin, policy=RetryPolicy(max_attempts=1))
    body = {"valueInputOption": "RAW", "data": [
        {"range": "'BESS'!B62", "values": [["changed"]]},
        {"range": "'Dispatch'!A1", "values": [[1]] * 1_001}]}
    with pytest.raises(APIError, match="exceeds grid limits"):
        client.http_client.values_batch_update(SHEET_ID, body=body)
    assert standin.value("BESS", status_cell()) != "changed"


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
    assert standin.count("batchUpdate") == 0  # old results never land on new inputs
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
