"""The project's own hostile-case suite (issue 26's classes), so that the next round of
hostile testing starts from these: ingest files and Elexon answers, HH Data, the results
block, files and folders, signals, timeouts, the nightly fan-out and HTTP headers.

Each case states the promise it checks: nothing lost, no wrong number, no traceback, a
message that says what, where, the value seen, what was expected and what to do.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest

from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
from btm_ppa.entrypoints.cli import main
from btm_ppa.errors import ElexonError
from btm_ppa.prices.ingest import ingest_prices, parse_system_prices
from tests.elexon_standin import item

NOW = dt.datetime(2026, 11, 21, 3, 0, tzinfo=dt.UTC)
DAY = dt.date(2023, 6, 1)  # held whole (48 periods) in the shipped prices


@pytest.fixture
def store_path(tmp_path: Path, warehouse: DuckDbWarehouse) -> Path:
    """A private copy of the session's warehouse, free to be written."""
    return Path(shutil.copy(warehouse.path, tmp_path / "w.duckdb"))


def _held(path: Path, day: dt.date = DAY) -> pd.DataFrame:
    held = DuckDbWarehouse(path).query("system_prices_window",
                                       {"window_start": day, "window_end": day})
    return held.sort_values("settlement_period").reset_index(drop=True)


def _csv(tmp_path: Path, rows: list[tuple[object, ...]], name: str = "prices.csv") -> Path:
    path = tmp_path / name
    lines = ["settlementDate,settlementPeriod,startTime,systemSellPrice,systemBuyPrice"]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _start(day: dt.date, sp: int) -> str:
    start = pd.Timestamp(dt.datetime.combine(day, dt.time()), tz="Europe/London")
    return (start.tz_convert("UTC") + pd.Timedelta(minutes=30 * (sp - 1))).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _ingest_csv(path: Path, store: Path, day: dt.date = DAY, first: dt.date | None = None) -> int:
    return main(["ingest-prices", "--start", str(first or day), "--end", str(day),
                 "--from-csv", str(path), "--warehouse", str(store)])


# --- 1. a partial day never replaces the periods held ----------------------------------

def test_a_partial_csv_day_replaces_only_its_periods(tmp_path, store_path, capsys):
    before = _held(store_path)
    rows = [(DAY, sp, _start(DAY, sp), 7.0, 7.0) for sp in range(1, 11)]
    assert _ingest_csv(_csv(tmp_path, rows), store_path) == 0
    after = _held(store_path)
    assert len(after) == 48
    assert (after["system_buy_price_gbp_per_mwh"][:10] == 7.0).all()
    assert after["system_buy_price_gbp_per_mwh"][10:].tolist() == before[
        "system_buy_price_gbp_per_mwh"][10:].tolist()
    assert "2023-06-01: 10 of 48" in capsys.readouterr().out


def test_a_partial_elexon_day_replaces_only_its_periods(store_path):
    before = _held(store_path)

    class TenPeriods:
        def get_system_prices(self, d):
            return {"data": [item(str(d), sp, _start(d, sp), 9.0) for sp in range(1, 11)]}

        def get_market_index(self, d):
            return {"data": []}

    report = ingest_prices(DuckDbWarehouse(store_path), DAY, DAY, client=TenPeriods(),
                           now=NOW)  # type: ignore[arg-type]
    after = _held(store_path)
    assert report.rows == 10 and len(after) == 48
    assert after["system_buy_price_gbp_per_mwh"][10:].tolist() == before[
        "system_buy_price_gbp_per_mwh"][10:].tolist()
    assert "the periods it lacks are kept as held" in report.summary()


# --- 6. every row checked before anything is written -----------------------------------

def _good(sp: int) -> tuple[object, ...]:
    return (DAY, sp, _start(DAY, sp), 50.0, 50.0)


BAD_ROWS = {
    "infinite price": ((DAY, 5, _start(DAY, 5), 1.0, "inf"), "line 6", "systemBuyPrice 'inf'"),
    "1e308": ((DAY, 5, _start(DAY, 5), 1.0, "1e308"), "line 6", "systemBuyPrice '1e308'"),
    "1e999 as text": ((DAY, 5, _start(DAY, 5), "1e999", 1.0), "line 6",
                      "systemSellPrice '1e999'"),
    "not a number": ((DAY, 5, _start(DAY, 5), 1.0, "abc"), "line 6", "systemBuyPrice 'abc'"),
    "blank buy price": ((DAY, 5, _start(DAY, 5), 1.0, None), "line 6",
                        "systemBuyPrice is blank"),
    "period 0": ((DAY, 0, _start(DAY, 1), 1.0, 1.0), "line 6", "settlementPeriod '0'"),
    "period 77": ((DAY, 77, _start(DAY, 1), 1.0, 1.0), "line 6", "settlementPeriod '77'"),
    "period 47 on a 46-period day": ((dt.date(2023, 3, 26), 47, "2023-03-26T23:00:00Z", 1, 1),
                                     "line 6", "from 1 to 46"),
    "period 2.5": ((DAY, 2.5, _start(DAY, 2), 1.0, 1.0), "line 6", "settlementPeriod '2.5'"),
    "duplicate period": (_good(3), "line 6", "SP3 appears again"),
    "bad date": (("2023-02-30", 5, _start(DAY, 5), 1.0, 1.0), "line 6",
                 "settlementDate '2023-02-30'"),
    "bad start time": ((DAY, 5, "noon", 1.0, 1.0), "line 6", "startTime 'noon'"),
}


@pytest.mark.parametrize("case", list(BAD_ROWS), ids=list(BAD_ROWS))
def test_a_bad_csv_row_is_refused_by_line_and_nothing_is_loaded(case, tmp_path, store_path,
                                                                 capsys):
    bad_row, where, fragment = BAD_ROWS[case]
    rows = [_good(sp) for sp in range(1, 5)] + [bad_row] + [_good(sp) for sp in range(6, 9)]
    before = _held(store_path)
    assert _ingest_csv(_csv(tmp_path, rows), store_path, first=dt.date(2023, 3, 26)) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert "prices.csv" in err and where in err and fragment in err, err
    assert "expected" in err and "nothing was loaded" in err
    assert "Traceback" not in err
    pd.testing.assert_frame_equal(_held(store_path), before)


@pytest.mark.parametrize("price", [float("inf"), 1e308, "1e999", float("nan"), -2e4, None])
def test_an_elexon_answer_with_an_impossible_price_is_refused(price, store_path):
    payload = {"data": [item(str(DAY), sp, _start(DAY, sp), 5.0) for sp in range(1, 49)]}
    payload["data"][7]["systemBuyPrice"] = price
    with pytest.raises(ElexonError, match=r"item 8: systemBuyPrice .*expected a"):
        parse_system_prices(DAY, payload, NOW)


def test_an_elexon_answer_for_another_day_is_refused():
    payload = {"data": [item("2023-06-02", 1, _start(dt.date(2023, 6, 2), 1), 5.0)]}
    with pytest.raises(ElexonError, match="item 1 is for 2023-06-02: expected only 2023-06-01"):
        parse_system_prices(DAY, payload, NOW)


@pytest.mark.parametrize(("args", "code", "fragment"), [
    (["--start", "2023-06-02", "--end", "2023-06-01"], 2, "--end 2023-06-01 is before"),
    (["--start", "2023-06-01", "--end", "2023-06-01", "--from-csv", "{tmp}/none.csv"], 3,
     "no such file"),
    (["--start", "2023-06-01", "--end", "2023-06-01", "--from-csv", "{tmp}"], 3,
     "is a folder"),
])
def test_ingest_arguments_are_refused_with_a_message(args, code, fragment, tmp_path,
                                                     store_path, capsys):
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    assert main(["ingest-prices", *args, "--warehouse", str(store_path)]) == code
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err, err


# --- 5. HH Data: plausible half hours only, by cell ------------------------------------

@pytest.mark.parametrize(("header", "value", "says"), [
    ("Demand (kWh)", 1e8, "at most 50,000 kWh in a half hour"),
    ("Demand (kWh)", 1e15, "at most 50,000 kWh in a half hour"),
    ("Demand (kWh)", 1e200, "at most 50,000 kWh in a half hour"),
    ("Demand (kWh)", "1e200", "at most 50,000 kWh in a half hour"),
    ("Demand (kWh)", 50_001, "at most 50,000 kWh in a half hour"),
    ("Demand (MWh)", 400.0, "looks like kWh typed where the header says MWh"),
    ("Demand (MWh)", 1e200, "at most 50 MWh in a half hour"),
    ("Demand (kWh)", float("inf"), "is not a finite number"),
])
def test_hh_data_values_beyond_one_site_are_refused_by_cell(header, value, says):
    from btm_ppa.core import periods
    from btm_ppa.errors import InputError
    from btm_ppa.sheet.hh_data import parse_hh_demand

    frame = periods.settlement_periods(DAY, DAY)
    rows: list[list[object]] = [["Date", "Settlement period", header]]
    rows += [[DAY, sp, 1.0] for sp in range(1, 49)]
    rows[6][2] = value  # row 7 of the tab
    with pytest.raises(InputError) as caught:
        parse_hh_demand("HH Data", rows, frame, "B20:B21")
    assert caught.value.cell == "'HH Data'!C7"
    assert says in caught.value.message


# --- 9. digits are ASCII digits ---------------------------------------------------------

@pytest.mark.parametrize("mpan", ["²" * 13, "١٢٣٤٥٦٧٨٩٠١٢٣", "１２００００００００００１"])
def test_mpan_of_non_ascii_digits_is_refused_by_cell(mpan, example_xlsx, warehouse):
    from tests.conftest import cell, refresh_refused

    refresh_refused(example_xlsx, warehouse, {cell("mpan_core"): mpan}, cell("mpan_core"),
                    "is not an MPAN core", "13-digit")


@pytest.mark.parametrize("mpan", ["²" * 13, "١٢٣٤٥٦٧٨٩٠١٢٣"])
def test_lookup_of_a_non_ascii_mpan_is_a_message(mpan, capsys):
    assert main(["lookup", "--mpan", mpan]) == 3
    err = capsys.readouterr().err
    assert "--mpan" in err and "is not an MPAN core" in err and "Traceback" not in err


@pytest.mark.parametrize("value", ["1²", "١٢", "١.٥"])
def test_numbers_of_non_ascii_digits_are_text(value):
    from btm_ppa.errors import InputError
    from btm_ppa.sheet.cells import parse_number

    with pytest.raises(InputError, match="is text, not a number"):
        parse_number("B13", value, "MW", required=True)


# --- 3. the results block is written whole only where it is intact ---------------------

@pytest.mark.parametrize(("row", "content"), [(56, "my own note"), (51, None), (62, 12.5)])
def test_a_row_inserted_inside_the_results_block_is_never_overwritten(row, content,
                                                                      example_xlsx, warehouse):
    import openpyxl

    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    book = openpyxl.load_workbook(example_xlsx)
    book["BESS"].insert_rows(row)
    book["BESS"][f"A{row}"] = content
    book["BESS"][f"C{row}"] = "keep me"
    book.save(example_xlsx)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and outcome.error is not None
    assert f"A{row}" in outcome.status and "inserted" in outcome.status, outcome.status
    sheet = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert sheet[f"A{row}"].value == content and sheet[f"C{row}"].value == "keep me"
    assert sheet["B63"].value.startswith("ERROR")  # the status row, moved down one


# --- 4. demo --out never overwrites without --force -------------------------------------

def test_demo_refuses_to_overwrite_an_existing_workbook(tmp_path, capsys):
    out = tmp_path / "mine.xlsx"
    out.write_bytes(b"precious")
    assert main(["demo", "--out", str(out)]) == 2
    assert out.read_bytes() == b"precious"
    assert "pass --force to replace it" in capsys.readouterr().err


# --- 12. the nightly fan-out carries on past a bad registry entry ----------------------

def test_nightly_fan_out_queues_every_valid_sheet_past_a_bad_entry(store_path, monkeypatch):
    import functions_framework

    from btm_ppa.adapters.elexon import ElexonClient
    from btm_ppa.adapters.retry import RetryPolicy
    from btm_ppa.entrypoints import runtime
    from tests.elexon_standin import ElexonStandIn

    class Queue:
        def __init__(self) -> None:
            self.tasks: list[dict] = []

        def enqueue(self, payload, name=None):
            self.tasks.append(payload)
            return f"task-{len(self.tasks)}"

    queue = Queue()
    ids = ["a" * 30, "b" * 30, "c" * 30, "d" * 30]
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    monkeypatch.setenv("BTM_PPA_SPREADSHEETS",
                       f"{ids[0]}:BESS,{ids[1]}:Model/2024,{ids[2]},{ids[3]}:Deal B")
    runtime.inject("warehouse", DuckDbWarehouse(store_path))
    runtime.inject("tasks", queue)
    try:
        with ElexonStandIn() as elexon:
            runtime.inject("elexon", ElexonClient(base_url=elexon.base_url,
                                                  policy=RetryPolicy(base_delay_s=0.01)))
            app = functions_framework.create_app(target="scheduled_refresh",
                                                 source="functions/main.py")
            response = app.test_client().post("/", json={"start": "2030-01-01",
                                                         "end": "2030-01-01"})
    finally:
        for name in ("warehouse", "tasks", "elexon"):
            runtime.inject(name, None)
    body = response.get_json()
    assert response.status_code == 200, body
    assert [t["spreadsheet_id"] for t in queue.tasks] == [ids[0], ids[2], ids[3]]
    assert body["queued"] == 3 and not body["ok"]
    assert body["skipped"][0]["sheet"] == "Model/2024"
    assert "queued 3 of 4" in body["summary"] and "Model/2024" in body["summary"]


# --- 13. a non-numeric Cloud Tasks retry count ------------------------------------------

@pytest.mark.parametrize("count", ["abc", "1.5", "-1", "²", "9" * 40, ""])
def test_a_non_numeric_retry_count_never_fails_a_finished_refresh(count, example_xlsx,
                                                                   warehouse, monkeypatch):
    import functions_framework

    from btm_ppa.entrypoints import runtime
    from tests.conftest import cell_values, status_cell

    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    try:
        app = functions_framework.create_app(target="refresh", source="functions/main.py")
        response = app.test_client().post("/", json={"workbook": "bess.xlsx"},
                                          headers={"X-CloudTasks-TaskRetryCount": count})
    finally:
        runtime.inject("warehouse", None)
    assert response.status_code == 200, response.get_json()
    assert cell_values(example_xlsx)[status_cell()] == "OK"


# --- 9. a crash: one line, the trace saved -----------------------------------------------

def test_a_crash_inside_a_refresh_is_one_line_and_a_saved_trace(example_xlsx, warehouse,
                                                                  monkeypatch, capsys):
    import logging

    import btm_ppa.refresh as refresh_module

    def broken(*args, **kwargs):
        raise ZeroDivisionError("a bug")

    # A server started by another test in this process may have disabled existing loggers
    # (dictConfig); the CLI's own process never has it.
    monkeypatch.setattr(logging.getLogger(refresh_module.__name__), "disabled", False)

    monkeypatch.setattr(refresh_module, "value_sheet_method", broken)
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse",
                 str(warehouse.path)])
    captured = capsys.readouterr()
    assert code == 1
    assert "Traceback" not in captured.err + captured.out
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "ZeroDivisionError" in lines[0], captured.err
    saved = Path(lines[0].rsplit("the trace is saved in ", 1)[1].rstrip(")"))
    assert "Traceback" in saved.read_text() and "a bug" in saved.read_text()
    saved.unlink()
    assert "ERROR: internal error (ZeroDivisionError)" in captured.out


def test_an_infinite_price_in_the_warehouse_is_a_message_not_a_crash(example_xlsx,
                                                                       store_path):
    import duckdb

    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from tests.conftest import cell, set_cells

    set_cells(example_xlsx, {cell("window_start"): dt.datetime(2023, 6, 1),
                             cell("window_end"): dt.datetime(2023, 6, 30)})
    with duckdb.connect(str(store_path)) as con:
        con.execute("UPDATE system_prices SET system_buy_price_gbp_per_mwh = 'inf'::DOUBLE "
                    "WHERE settlement_date = DATE '2023-06-05' AND settlement_period = 7")
    outcome = refresh(XlsxWorkbook(example_xlsx), DuckDbWarehouse(store_path))
    assert not outcome.ok
    assert "2023-06-05 SP7" in outcome.status and "ingest-prices" in outcome.status, (
        outcome.status)


# --- 10. Ctrl-C: at start-up, inside a DuckDB query ------------------------------------

# As the console script runs: its module (standard library only) is imported, and its
# main() installs the handler before anything heavy; GO marks that moment. (A Ctrl-C in the
# microseconds between the interpreter's start and main's first line is Python's own.)
START_UP_CHILD = """
import sys
from btm_ppa.core import interrupts
from btm_ppa.entrypoints import console
interrupts.install()
print("GO", flush=True)
sys.exit(console.main(sys.argv[1:]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.01, 0.05, 0.2])
def test_ctrl_c_during_start_up_is_an_interruption(delay_s, example_xlsx, warehouse):
    import signal
    import subprocess
    import sys
    import time

    before = example_xlsx.read_bytes()
    child = subprocess.Popen(
        [sys.executable, "-c", START_UP_CHILD, "refresh", "--workbook", str(example_xlsx),
         "--warehouse", str(warehouse.path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "GO"
        time.sleep(delay_s)  # inside the imports of pandas, numpy, DuckDB and rich
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=60)
    finally:
        child.kill()
    assert child.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err and "ImportError" not in err
    assert example_xlsx.read_bytes() == before


@pytest.fixture
def pressed_ctrl_c():
    from btm_ppa.core import interrupts

    yield interrupts._requested.set
    interrupts.clear()


@pytest.mark.parametrize("raised", [RuntimeError("Query interrupted"), "InterruptException"])
def test_an_interrupted_duckdb_query_is_an_interruption_not_a_bug(
        raised, pressed_ctrl_c, example_xlsx, warehouse, monkeypatch, capsys):
    import duckdb

    from tests.conftest import cell_values, status_cell

    error: Exception = duckdb.InterruptException("INTERRUPT Error: Interrupted!") if raised == (
        "InterruptException") else raised
    real_connect = duckdb.connect

    class Interrupting:
        def __init__(self, con):
            self.con = con

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.con.close()

        def execute(self, sql, params=None):
            if "system_buy_price_gbp_per_mwh" in sql and "BETWEEN" in sql.upper():
                pressed_ctrl_c()  # what interrupts' handler does when Ctrl-C arrives
                raise error
            return self.con.execute(sql, params or [])

    monkeypatch.setattr(duckdb, "connect",
                        lambda *a, **k: Interrupting(real_connect(*a, **k)))
    before = cell_values(example_xlsx)
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse",
                 str(warehouse.path)])
    err = capsys.readouterr().err
    assert code == 130, err
    assert "interrupted" in err and "internal error" not in err
    assert cell_values(example_xlsx) == before  # row 62 not overwritten with "internal error"
    assert status_cell() not in before


# --- 23.12 / 11 / 7. results never blanked: kept and marked stale -----------------------

def _refreshed(example_xlsx, warehouse):
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    return outcome


def _figures(path: Path) -> dict[str, tuple[object, str]]:
    import openpyxl

    sheet = openpyxl.load_workbook(path)["BESS"]
    return {f"{c}{r}": (sheet[f"{c}{r}"].value, sheet[f"{c}{r}"].number_format)
            for r in range(51, 62) for c in "BCD"
            if isinstance(sheet[f"{c}{r}"].value, int | float)}


@pytest.mark.parametrize(("edits", "says"), [
    ({"B13": -5}, "ERROR: B13"),  # an input error
    ({"B20": dt.datetime(2030, 1, 1), "B21": dt.datetime(2030, 1, 31)}, "ERROR: B20"),  # prices
])
def test_on_an_error_the_previous_results_stay_marked_stale(edits, says, example_xlsx,
                                                            warehouse):
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from tests.conftest import cell_values, set_cells

    _refreshed(example_xlsx, warehouse)
    before = _figures(example_xlsx)
    refreshed_at = cell_values(example_xlsx)["D62"]
    set_cells(example_xlsx, edits)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and outcome.status.startswith(says), outcome.status
    after = _figures(example_xlsx)
    assert len(after) == len(before) > 20  # never blanked
    for address, (value, number_format) in after.items():
        assert value == before[address][0]
        assert number_format.startswith('[Color16]"(stale) "'), (address, number_format)
    note = cell_values(example_xlsx)["E62"]
    assert note.startswith("stale: rows 51-61 hold the results of the last successful refresh")
    assert refreshed_at.strftime("%Y-%m-%d %H:%M") in note
    # A second failure keeps saying whose results they are; a success restores the style.
    refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert cell_values(example_xlsx)["E62"] == note
    # (the default window, the latest 12 months held, reaches 2025: no CfD rate is held
    # from January 2025, so D11 is typed, as an analyst must)
    set_cells(example_xlsx, {"B13": 50} if "B13" in edits else
              {"B20": None, "B21": None, "D11": 8.75})
    _refreshed(example_xlsx, warehouse)
    assert not any(f.startswith("[Color16]") for _, f in _figures(example_xlsx).values())
    assert not str(cell_values(example_xlsx).get("E62", "")).startswith("stale:")


def test_a_timeout_is_its_own_outcome_and_marks_the_results_stale(example_xlsx, warehouse,
                                                                  monkeypatch, capsys):
    from btm_ppa.refresh import BUDGET_ENV
    from tests.conftest import cell, cell_values, set_cells

    _refreshed(example_xlsx, warehouse)
    set_cells(example_xlsx, {cell("method"): "optimal", cell("window_start"): "2023-04-01",
                             cell("window_end"): "2023-06-30"})
    monkeypatch.setenv(BUDGET_ENV, "0.000001")
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse",
                 str(warehouse.path)])
    assert code == 6, capsys.readouterr()
    values = cell_values(example_xlsx)
    assert values["B62"].startswith("ERROR: the refresh did not finish within")
    assert values["E62"].startswith("stale: rows 51-61")
    assert all(f.startswith("[Color16]") for _, f in _figures(example_xlsx).values())


def test_a_timeout_answers_http_504(example_xlsx, warehouse, monkeypatch):
    import functions_framework

    from btm_ppa.entrypoints import runtime
    from btm_ppa.refresh import BUDGET_ENV
    from tests.conftest import cell, set_cells

    set_cells(example_xlsx, {cell("method"): "optimal", cell("window_start"): "2023-04-01",
                             cell("window_end"): "2023-06-30"})
    monkeypatch.setenv(BUDGET_ENV, "0.000001")
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    try:
        app = functions_framework.create_app(target="refresh", source="functions/main.py")
        response = app.test_client().post("/", json={"workbook": "bess.xlsx"})
    finally:
        runtime.inject("warehouse", None)
    assert response.status_code == 504
    assert response.get_json()["error"]["kind"] == "timeout"


def test_an_edit_after_the_last_check_marks_the_written_figures_stale(example_xlsx,
                                                                      warehouse):
    """Sheets has no transaction: B45 typed while the results are being written. The
    figures computed from the old B45 are marked stale, naming B45, never left under OK."""
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook
    from btm_ppa.refresh import refresh
    from tests.conftest import cell
    from tests.sheets_standin import SheetsStandIn
    from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

    price = cell("ppa_price_gbp_per_mwh")
    with SheetsStandIn(SHEET_ID, example_xlsx) as standin:
        book = SheetsWorkbook(SHEET_ID, loopback_client(standin), SA)
        original_write = book.write

        def write_while_the_analyst_types(tab, writes, tables=None, **more):
            standin.set_value("BESS", price, 777)
            return original_write(tab, writes, tables, **more)

        book.write = write_while_the_analyst_types  # type: ignore[method-assign]
        outcome = refresh(book, warehouse)
        assert not outcome.ok and book.inputs_changed
        status = standin.value("BESS", "B62")
        assert status.startswith(f"STALE: {price} changed while the refresh ran"), status
        assert standin.value("BESS", "E62").startswith("stale:")
        book.write = original_write  # type: ignore[method-assign]
        again = refresh(SheetsWorkbook(SHEET_ID, loopback_client(standin), SA), warehouse)
        assert again.ok and standin.value("BESS", "B62") == "OK"


# --- bad messages: what, where, the value seen, what was expected, what to do ----------

def test_a_damaged_warehouse_is_named_damaged_not_in_use(example_xlsx, store_path, capsys):
    data = bytearray(store_path.read_bytes())
    for offset in range(12_288, len(data), 4_096):  # every block's header: a damaged file
        data[offset:offset + 64] = b"\xff" * 64
    store_path.write_bytes(bytes(data))
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse", str(store_path)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 5, err
    assert "in use by another process" not in err and "Traceback" not in err
    assert "damaged" in err and "delete it" in err, err


def test_a_warehouse_missing_its_prices_table_is_named_damaged(example_xlsx, store_path):
    import duckdb

    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    with duckdb.connect(str(store_path)) as con:
        con.execute("DROP TABLE system_prices")
    outcome = refresh(XlsxWorkbook(example_xlsx), DuckDbWarehouse(store_path))
    assert not outcome.ok
    assert "is damaged" in outcome.status and "delete it to have it rebuilt" in outcome.status
    assert "Catalog Error" not in outcome.status.split("(")[0]


@pytest.mark.parametrize("in_the_way", ["file", "unwritable", "dangling link"])
def test_an_unusable_lock_folder_is_a_message(in_the_way, example_xlsx, warehouse, tmp_path,
                                              monkeypatch, capsys):
    import os
    import tempfile

    if in_the_way == "unwritable" and os.geteuid() == 0:
        pytest.skip("root writes into any folder; the file case covers the message")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    locks = tmp / "btm-ppa-locks"
    if in_the_way == "file":
        locks.write_text("in the way")
    elif in_the_way == "dangling link":
        locks.symlink_to(tmp_path / "gone")
    else:
        tmp.chmod(0o500)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp))
    before = example_xlsx.read_bytes()
    code = main(["refresh", "--workbook", str(example_xlsx), "--warehouse",
                 str(warehouse.path)])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 4, out
    assert "lock folder" in out and "TMPDIR" in out and "internal error" not in out
    assert in_the_way != "dangling link" or "which does not exist" in out
    assert example_xlsx.read_bytes() == before


@pytest.mark.parametrize(("argv", "code", "says"), [
    (["refresh", "--workbook", "{wb}", "--export-schedule", "{tmp}/missing/s.csv"], 2,
     "the folder {tmp}/missing does not exist; create it first"),
    (["refresh", "--workbook", "{wb}", "--export-schedule", "{tmp}"], 2, "expected a file"),
    (["refresh", "--workbook", "{wb}", "--tab", ""], 2, "--tab '': expected a tab name"),
    (["refresh", "--workbook", "{wb}", "--tab", "  "], 2, "expected a tab name"),
    (["vlp-register", "--from", "{tmp}/none.json", "--out", "{tmp}"], 2,
     "expected a file name ending in .json"),
    (["vlp-register", "--from", "{tmp}/none.json", "--out", "{tmp}/file.txt/r.json"], 2,
     "file.txt is a file, not a folder"),
])
def test_command_line_paths_and_names_are_refused_before_anything_is_written(
        argv, code, says, example_xlsx, tmp_path, warehouse, capsys):
    fill = {"{wb}": str(example_xlsx), "{tmp}": str(tmp_path)}
    (tmp_path / "file.txt").write_text("a file where a folder is expected")

    def filled(text: str) -> str:
        for key, value in fill.items():
            text = text.replace(key, value)
        return text

    before = example_xlsx.read_bytes()
    assert main([filled(a) for a in argv] + ["--warehouse", str(warehouse.path)]) == code
    err = " ".join(capsys.readouterr().err.split())
    assert filled(says) in err and "Traceback" not in err, err
    assert example_xlsx.read_bytes() == before
    assert not (tmp_path / "missing").exists()


def test_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.startswith("btm-ppa ")


def test_a_symlink_loop_in_the_workbook_root_is_a_400(example_xlsx, warehouse, monkeypatch):
    import functions_framework

    from btm_ppa.entrypoints import runtime

    loop = example_xlsx.parent / "loop.xlsx"
    loop.symlink_to(loop)
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    try:
        app = functions_framework.create_app(target="refresh", source="functions/main.py")
        response = app.test_client().post("/", json={"workbook": "loop.xlsx"})
    finally:
        runtime.inject("warehouse", None)
    assert response.status_code == 400, response.get_json()
    assert "internal" not in response.get_json()["error"]["kind"]


def test_tokeninfo_failing_is_503_not_401():
    from btm_ppa.adapters.drive_access import AccessDenied, DriveAccess
    from tests.drive_standin import DriveStandIn

    with DriveStandIn() as google:
        google.faults.extend([500] * 10)
        access = DriveAccess(["client"], drive_url=f"{google.url}/drive/v3/files",
                             tokeninfo_url=f"{google.url}/tokeninfo")
        with pytest.raises(AccessDenied) as denied:
            access.check("x" * 30, "some-token", "analyst@example.com")
    assert denied.value.status == 503 and "try again" in denied.value.message


# --- 8. an optimal answer worse than leaving the battery idle is not OK -----------------

def _losing_battery(example_xlsx, method: str) -> None:
    from tests.conftest import cell, set_cells

    # At 60 % round trip and no VLP payment the battery-first rule loses money in January.
    set_cells(example_xlsx, {cell("method"): method, cell("round_trip_efficiency_pct"): 60,
                             cell("vlp_payment_gbp_per_mwh"): 0,
                             cell("window_start"): "2023-05-01", cell("window_end"): "2023-05-31"})


@pytest.mark.parametrize("month", ["2023-05", "2023-07"])
def test_an_optimal_fallback_worse_than_idle_says_so_in_row_62(month, example_xlsx, warehouse,
                                                              monkeypatch):
    """The memory-budget (or deadline) fallback answered with the rule's schedule and the
    relaxation's bound; where that schedule loses money, row 62 must not say OK.

    Since issue 22 the real fallback also weighs leaving the battery idle, and a daily
    perfect-foresight plan replaces a worse answer (``daily.better_of``), so no input makes
    the real one lose money; here the search answers as the old fallback did once its
    budget is spent, so the daily plans (which run after it) are left out too, and the
    losing schedule reaches row 62."""
    import time

    import btm_ppa.refresh as refresh_module
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.core import dispatch
    from tests.conftest import cell, cell_values, set_cells

    real = dispatch.optimal_dispatch

    def fallback(problem, deadline=None):  # the search's whole budget, then the rule
        found = real(problem)
        time.sleep(max(0.0, deadline - time.monotonic()) + 0.05)
        rule = dispatch.greedy_schedule(problem)
        return dispatch.OptimalResult(rule, dispatch.battery_value_gbp(problem, rule),
                                      found.bound_gbp, 0, dispatch.RULE, "memory budget")

    monkeypatch.setattr(refresh_module.dispatch, "optimal_dispatch", fallback)
    _losing_battery(example_xlsx, "optimal")
    last = pd.Period(month).end_time.date()
    set_cells(example_xlsx, {cell("window_start"): f"{month}-01",
                             cell("window_end"): str(last)})
    outcome = refresh_module.refresh(XlsxWorkbook(example_xlsx), warehouse, budget_s=3.0)
    assert outcome.ok, outcome.status  # the figures are written ...
    status = cell_values(example_xlsx)["B62"]
    assert status.startswith("WARNING: the optimal search did not finish"), (
        status, outcome.prices.comparison)
    assert "less than leaving the battery idle" in status  # ... and row 62 says what they are


def test_a_greedy_rule_losing_money_is_a_warning_beside_ok(example_xlsx, warehouse):
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from tests.conftest import cell_values

    _losing_battery(example_xlsx, "greedy")
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    values = cell_values(example_xlsx)
    assert outcome.ok and values["B62"] == "OK"
    assert "schedule earns" in values["E62"] and "less than leaving" in values["E62"]


def test_the_real_optimum_never_loses_against_idle(example_xlsx, warehouse):
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from tests.conftest import cell_values

    _losing_battery(example_xlsx, "optimal")
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok and cell_values(example_xlsx)["B62"] == "OK", outcome.status


# --- register input: capacities beyond any unit ------------------------------------------

@pytest.mark.parametrize("capacity", [1e308, "1e999", float("inf"), -5e4, float("nan")])
def test_an_implausible_bm_unit_capacity_is_refused_by_record(capacity):
    import json

    from btm_ppa.errors import RegisterError
    from btm_ppa.register.bm_units import parse_bm_units
    from tests.test_register import SAMPLE

    records = json.loads(json.dumps(SAMPLE))
    records[5]["generationCapacity"] = capacity
    with pytest.raises(RegisterError, match="record 5 \\(generationCapacity\\)") as info:
        parse_bm_units(records)
    assert "finite number of MW from -10,000 to 10,000" in info.value.message


@pytest.mark.parametrize(("change", "says"), [
    ("empty", "holds no BM units"),
    ("duplicate", "record 63 (E_ARBRB-1) repeats record 1"),
    ("boolean capacity", "record 5 (demandCapacity): True is not a number of MW"),
    ("numeric id", "record 5 (elexonBmUnit): 5 is not a BM unit id"),
    ("blank id", "is not a BM unit id; expected text such as"),
])
def test_a_register_answer_that_would_lose_or_double_units_is_refused(change, says, tmp_path,
                                                                      store_path, capsys):
    """An empty answer replaced the register held with nothing (exit 0); a repeated unit
    was counted twice; True counted as 1 MW."""
    import json

    import duckdb

    from btm_ppa.errors import RegisterError
    from btm_ppa.register.bm_units import parse_bm_units
    from tests.test_register import SAMPLE

    records = json.loads(json.dumps(SAMPLE))
    if change == "empty":
        records = []
    elif change == "duplicate":
        records.append(records[1])
    elif change == "boolean capacity":
        records[5]["demandCapacity"] = True
    else:
        records[5]["elexonBmUnit"] = 5 if change == "numeric id" else "  "
    source = tmp_path / "units.json"
    source.write_text(json.dumps(records), encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text(json.dumps(SAMPLE), encoding="utf-8")
    assert main(["vlp-register", "--from", str(good), "--warehouse", str(store_path)]) == 0
    with duckdb.connect(str(store_path), read_only=True) as con:
        held = con.execute("SELECT count(*) FROM vlp_battery_units").fetchone()[0]
    capsys.readouterr()
    assert main(["vlp-register", "--from", str(source), "--warehouse", str(store_path)]) == 3
    err = " ".join(capsys.readouterr().err.split())
    assert says in err and "Traceback" not in err, err
    with duckdb.connect(str(store_path), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM vlp_battery_units").fetchone()[0] == held > 0
    with pytest.raises(RegisterError):  # the HTTP function's path too
        parse_bm_units(records)


# --- saved formula results survive every save, on every tab ------------------------------

WEEK = {"window_start": "2023-06-01", "window_end": "2023-06-07"}


def _with_saved_results(path: Path, formulas: dict[str, dict[str, tuple[str, object]]]) -> None:
    """Formulas and their saved results on several tabs, as Excel or LibreOffice save them
    (openpyxl saves a formula with an empty result; its XML is patched here)."""
    import re
    import zipfile

    import openpyxl

    book = openpyxl.load_workbook(path)
    for tab, cells in formulas.items():
        sheet = book[tab] if tab in book.sheetnames else book.create_sheet(tab)
        for address, (formula, _result) in cells.items():
            sheet[address] = formula
    order = book.sheetnames
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        items = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    for tab, cells in formulas.items():
        member = f"xl/worksheets/sheet{order.index(tab) + 1}.xml"

        def saved(match, cells=cells):
            if match.group(2) not in cells:
                return match.group(0)
            result = cells[match.group(2)][1]
            if isinstance(result, str):  # a text result: t="str" on the cell
                head = re.sub(r' t="[^"]*"', "", match.group(1)).replace(
                    f'r="{match.group(2)}"', f'r="{match.group(2)}" t="str"', 1)
                return f"{head}<v>{result}</v>"
            return f"{match.group(1)}<v>{result!r}</v>"

        xml = re.sub(r'(<c r="([A-Z]+\d+)"[^>]*><f>[^<]*</f>)<v ?/>', saved,
                     items[member].decode())
        items[member] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in items.items():
            out.writestr(name, data)
    values = openpyxl.load_workbook(path, data_only=True)
    assert all(values[tab][a].value == r for tab, cells in formulas.items()
               for a, (_f, r) in cells.items())


def _week_with_formulas(path: Path) -> dict[str, dict[str, tuple[str, object]]]:
    """The worked example over one June week with a formula in an input cell (its saved
    result 150), an HH Data tab of formulas (each 400 kWh) and an analyst's own tab."""
    from btm_ppa.core import periods
    from tests.conftest import cell, set_cells

    set_cells(path, {cell(k): v for k, v in WEEK.items()} | {cell("method"): "greedy"})
    frame = periods.settlement_periods(dt.date(2023, 6, 1), dt.date(2023, 6, 7))
    import openpyxl

    book = openpyxl.load_workbook(path)
    hh = book.create_sheet("HH Data")
    hh.append(["Date", "Settlement period", "Demand (kWh)"])
    for day, sp in zip(frame["settlement_date"], frame["settlement_period"], strict=True):
        hh.append([day, int(sp), None])
    book.save(path)
    formulas = {
        "BESS": {cell("ppa_price_gbp_per_mwh"): ("=100+50", 150.0)},
        "HH Data": {f"C{r}": (f"=B{r}*0+400", 400.0) for r in range(2, len(frame) + 2)},
        "Notes": {"A1": ('="my "&"note"', "my note"), "B2": ("=6*7", 42.0)},
    }
    _with_saved_results(path, formulas)
    return formulas


def _saved(path: Path, formulas: dict[str, dict[str, tuple[str, object]]]) -> dict[str, object]:
    import openpyxl

    texts, values = openpyxl.load_workbook(path), openpyxl.load_workbook(path, data_only=True)
    return {f"{tab}!{a}": (texts[tab][a].value, values[tab][a].value)
            for tab, cells in formulas.items() for a in cells}


@pytest.mark.parametrize("path", ["refresh", "export", "vlp-register", "http"])
def test_a_save_keeps_every_formula_and_its_saved_result_on_every_tab(
        path, example_xlsx, store_path, tmp_path, monkeypatch):
    """vlp-register dropped the BESS tab's saved results (the next refresh then refused
    the formula input it had accepted) and a refresh dropped HH Data's."""
    from btm_ppa.reference.files import data_path

    formulas = _week_with_formulas(example_xlsx)
    expected = {f"{tab}!{a}": (f, r) for tab, cells in formulas.items()
                for a, (f, r) in cells.items()}
    assert _saved(example_xlsx, formulas) == expected
    refresh = ["refresh", "--workbook", str(example_xlsx), "--warehouse", str(store_path)]
    if path == "refresh":
        assert main(refresh) == 0
    elif path == "export":
        assert main([*refresh, "--export-schedule", str(tmp_path / "s.csv")]) == 0
    elif path == "vlp-register":
        sample = data_path("elexon_bmunits_storage_sample.json")
        assert main(["vlp-register", "--from", str(sample), "--workbook", str(example_xlsx),
                     "--warehouse", str(store_path)]) == 0
    else:
        import functions_framework

        from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse
        from btm_ppa.entrypoints import runtime

        monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(example_xlsx.parent))
        monkeypatch.setenv("BTM_PPA_AUTH", "off")
        runtime.inject("warehouse", DuckDbWarehouse(store_path))
        try:
            app = functions_framework.create_app(target="refresh", source="functions/main.py")
            response = app.test_client().post("/", json={"workbook": example_xlsx.name})
        finally:
            runtime.inject("warehouse", None)
        assert response.status_code == 200, response.get_json()
    assert _saved(example_xlsx, formulas) == expected
    assert main(refresh) == 0  # the next refresh reads them as before
    assert _saved(example_xlsx, formulas) == expected


@pytest.mark.parametrize("command", ["template", "demo"])
def test_a_new_workbook_asks_for_its_formulas_to_be_computed_on_opening(command, tmp_path,
                                                                         warehouse):
    """A new workbook's formulas have no saved result yet: the file asks the spreadsheet
    program to compute them all on opening (openpyxl computes nothing)."""
    import openpyxl

    out = tmp_path / "new.xlsx"
    argv = ["template", "--out", str(out), "--example"] if command == "template" else [
        "demo", "--out", str(out), "--warehouse", str(warehouse.path)]
    assert main(argv) == 0
    assert openpyxl.load_workbook(out).calculation.fullCalcOnLoad


# --- two BESS tabs: each its own schedule tabs -------------------------------------------

@pytest.mark.parametrize(("second", "third"), [
    ("Site B", None), ("Battery at the north substation", None),  # 31 characters
    ("Battery at the north substatio2", "Battery at the north substatio1")])  # alike
def test_two_bess_tabs_never_overwrite_each_others_schedule(second, third, example_xlsx,
                                                            warehouse):
    """Two BESS tabs shared one Dispatch tab that did not say whose schedule it held: a
    refresh of one replaced the other's (under `sheet`, with "No schedule")."""
    import openpyxl

    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from btm_ppa.sheet.dispatch_tabs import TAB_NAME_MAX, owned_name
    from sheets_layout import load_bess_layout
    from tests.conftest import cell, set_cells

    layout = load_bess_layout()
    set_cells(example_xlsx, {cell(k): v for k, v in WEEK.items()} | {cell("method"): "greedy"})
    book = openpyxl.load_workbook(example_xlsx)
    book.copy_worksheet(book["BESS"]).title = second
    if third:
        book.copy_worksheet(book["BESS"]).title = third
    book.save(example_xlsx)
    set_cells(example_xlsx, {cell("export_power_kw"): 50, cell("import_power_kw"): 50},
              tab=second)
    tabs = ("Dispatch", "Dispatch week", "Monthly profit", "Valuation")

    def rows(name: str) -> list[tuple[object, ...]]:
        return list(openpyxl.load_workbook(example_xlsx)[name].iter_rows(values_only=True))

    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    first = {name: rows(name) for name in tabs}
    assert refresh(XlsxWorkbook(example_xlsx), warehouse, tab=second).ok
    if third:
        assert refresh(XlsxWorkbook(example_xlsx), warehouse, tab=third).ok
        assert rows(owned_name(layout, third, "Dispatch")) == first["Dispatch"]  # as BESS
    theirs = {name: owned_name(layout, second, name) for name in tabs}
    names = {owned_name(layout, t, n) for t in (second, third) if t for n in tabs}
    assert all(len(n) <= TAB_NAME_MAX for n in names)
    assert len(names | set(tabs)) == len(tabs) * (3 if third else 2)
    assert {name: rows(name) for name in tabs} == first  # BESS's schedule kept
    assert rows(theirs["Dispatch"]) != first["Dispatch"]  # Site B's own, at 50 kW
    assert second in theirs["Dispatch"] or "~" in theirs["Dispatch"]
    # a method that simulates nothing says so in its own tabs, not in BESS's
    set_cells(example_xlsx, {cell("method"): "sheet"}, tab=second)
    assert refresh(XlsxWorkbook(example_xlsx), warehouse, tab=second).ok
    assert {name: rows(name) for name in tabs} == first
    assert str(rows(theirs["Dispatch"])[0][0]).startswith("No schedule")


# --- the day-ahead CSV: every row checked as the system prices' ----------------------------

def _day_ahead_csv(tmp_path: Path, rows: list[tuple[object, ...]]) -> Path:
    path = tmp_path / "da.csv"
    lines = ["settlementDate,settlementPeriod,startTime,dayAheadPrice"]
    lines += [",".join("" if v is None else str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _day_ahead_held(store: Path, first: dt.date, last: dt.date) -> pd.DataFrame:
    from btm_ppa.prices import warehouse as wh

    return wh.day_ahead_prices(DuckDbWarehouse(store), wh.PriceWindow(first, last, defaulted=False))


def _da(day: dt.date, sp: object, price: object = 60.0) -> tuple[object, ...]:
    start = _start(day, sp) if isinstance(sp, int) and 1 <= sp <= 50 else _start(day, 1)
    return (day, sp, start, price)


AUTUMN, SPRING = dt.date(2022, 10, 30), dt.date(2022, 3, 27)  # 50 and 46 periods
BAD_DAY_AHEAD = {
    "-inf": (_da(DAY, 5, "-inf"), "dayAheadPrice '-inf'"),
    "nan": (_da(DAY, 5, "nan"), "dayAheadPrice 'nan'"),
    "20,000": (_da(DAY, 5, 20000.5), "dayAheadPrice '20000.5'"),
    "a currency sign": (_da(DAY, 5, "£80"), "dayAheadPrice '£80'"),
    "period 49 on a 48-period day": (_da(DAY, 49), "from 1 to 48"),
    "period 51 on the autumn clock change": (_da(AUTUMN, 51), "from 1 to 50"),
    "period 47 on the spring clock change": (_da(SPRING, 47), "from 1 to 46"),
    "period -1": (_da(DAY, -1), "settlementPeriod '-1'"),
    "period 'three'": (_da(DAY, "three"), "settlementPeriod 'three'"),
    "duplicate": (_da(DAY, 2), "SP2 appears again"),
    "date 2023-13-01": (("2023-13-01", 5, _start(DAY, 5), 60.0), "settlementDate '2023-13-01'"),
    "start time 'yesterday'": ((DAY, 5, "yesterday", 60.0), "startTime 'yesterday'"),
}


@pytest.mark.parametrize("case", list(BAD_DAY_AHEAD), ids=list(BAD_DAY_AHEAD))
def test_a_bad_day_ahead_row_is_refused_by_line_and_nothing_is_loaded(case, tmp_path,
                                                                      store_path, capsys):
    bad_row, fragment = BAD_DAY_AHEAD[case]
    rows = [_da(DAY, sp) for sp in range(1, 5)] + [bad_row] + [_da(DAY, 6)]
    before = _day_ahead_held(store_path, SPRING, DAY)
    code = main(["ingest-prices", "--start", str(SPRING), "--end", str(DAY),
                 "--day-ahead-csv", str(_day_ahead_csv(tmp_path, rows)),
                 "--warehouse", str(store_path)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 3, err
    assert "da.csv" in err and "line 6" in err and fragment in err, err
    assert "expected" in err and "nothing was loaded" in err and "Traceback" not in err
    pd.testing.assert_frame_equal(_day_ahead_held(store_path, SPRING, DAY), before)


@pytest.mark.parametrize(("day", "hourly"), [(AUTUMN, False), (AUTUMN, True), (SPRING, False),
                                             (SPRING, True)])
def test_day_ahead_rows_of_a_clock_change_day_load_whole(day, hourly, tmp_path, store_path):
    from btm_ppa.core import periods
    from btm_ppa.prices import warehouse as wh

    count = periods.periods_in_day(day)
    sps = range(1, count + 1, 2) if hourly else range(1, count + 1)
    path = _day_ahead_csv(tmp_path, [_da(day, sp, 40.0 + sp) for sp in sps])
    assert main(["ingest-prices", "--start", str(day), "--end", str(day), "--day-ahead-csv",
                 str(path), "--warehouse", str(store_path)]) == 0
    held = _day_ahead_held(store_path, day, day)[wh.DAY_AHEAD_COLUMN]
    assert len(held) == count and held.notna().all()


# --- Ctrl-C anywhere in a refresh --------------------------------------------------------

def test_a_ctrl_c_landing_in_a_finalizer_still_interrupts():
    """A Ctrl-C during a garbage collection (openpyxl's ZipFile.__del__ at the end of a
    save) was swallowed: Python printed "Exception ignored in ..." with a traceback and the
    refresh carried on to exit 0. It is raised again once the finalizer has returned."""
    import signal

    from btm_ppa.core import interrupts

    finished = []

    class Collected:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)
            sum(range(200_000))  # the rest of the finalizer runs
            finished.append(True)

    previous = signal.getsignal(signal.SIGINT)
    interrupts.install()
    try:
        with pytest.raises(KeyboardInterrupt):
            Collected()  # collected at once
            for _ in range(10_000_000):  # the work that follows is interrupted
                pass
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupts.clear()
    assert finished == [True]


@pytest.mark.slow
def test_ctrl_c_anywhere_in_a_refresh_exits_130_and_leaves_the_workbook_whole(tmp_path):
    """A few moments of ``benchmarks/ctrl_c_sweep.py`` (which sweeps 45): start-up,
    imports, the warehouse build, the price query, the search, the write and the save."""
    from benchmarks.ctrl_c_sweep import sweep

    _took, moments = sweep(6, tmp_path, reach=1.0)
    assert all(m.ok for m in moments), [m for m in moments if not m.ok]
    assert sum(m.returncode == 130 for m in moments) >= 2  # runs vary: some may finish


# --- hold-out values of the bad messages -----------------------------------------

@pytest.mark.parametrize(("argv", "code", "says"), [
    (["template", "--out", "{tmp}/notes.txt/new.xlsx"], 2, "notes.txt is a file, not a folder"),
    (["template", "--out", "{tmp}/folder.xlsx"], 2, "is a folder: expected an .xlsx file"),
    (["vlp-register", "--from", "{tmp}/notes.txt"], 3, "expected a JSON file in Elexon's"),
    (["vlp-register", "--from", "{tmp}/folder.xlsx"], 3, "expected a JSON file in Elexon's"),
])
def test_more_output_and_input_paths_are_refused_with_what_to_do(argv, code, says, tmp_path,
                                                                  capsys):
    (tmp_path / "notes.txt").write_bytes(b"\xd9\x00 not json")
    (tmp_path / "folder.xlsx").mkdir()
    assert main([a.format(tmp=tmp_path) for a in argv]) == code
    err = " ".join(capsys.readouterr().err.split())
    assert says in err and "internal error" not in err and "Traceback" not in err, err


def test_template_force_over_a_workbook_replaces_it_whole(example_xlsx, monkeypatch):
    """``template --force`` saved in place: a Ctrl-C mid-save left half a workbook. It
    saves beside the file and renames; a save that fails leaves the old file."""
    import openpyxl

    before = example_xlsx.read_bytes()

    def broken(self, filename):
        Path(filename).write_bytes(b"PK half a zip")
        raise KeyboardInterrupt

    monkeypatch.setattr(openpyxl.Workbook, "save", broken)
    assert main(["template", "--out", str(example_xlsx), "--force"]) == 130
    assert example_xlsx.read_bytes() == before
    assert [p.name for p in example_xlsx.parent.iterdir() if p.name.startswith(".~")] == []


def test_a_workbook_outside_the_root_names_the_value(example_xlsx, warehouse, monkeypatch,
                                                     tmp_path):
    import functions_framework

    from btm_ppa.entrypoints import runtime

    root = tmp_path / "root"
    root.mkdir()
    (root / "link.xlsx").symlink_to(example_xlsx)
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(root))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    try:
        app = functions_framework.create_app(target="refresh", source="functions/main.py")
        for name in ("link.xlsx", "../bess.xlsx", str(example_xlsx)):
            response = app.test_client().post("/", json={"workbook": name})
            assert response.status_code == 400
            message = response.get_json()["error"]["message"]
            assert repr(name) in message and "outside the workbook root" in message
    finally:
        runtime.inject("warehouse", None)
