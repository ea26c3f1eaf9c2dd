"""realistic refreshes: rows 50-62 from a plan a day settled at outturn prices, the
Valuation tab (methods side by side, wear, cycles, capture rates), the forecast and wear
cells, the schedule export recomputed to the penny, the CLI's wear calculator and HTTP."""

import datetime as dt

import functions_framework
import openpyxl
import pandas as pd
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.wear import DEFAULT_WEAR_GBP_PER_MWH
from btm_ppa.entrypoints import runtime
from btm_ppa.entrypoints.cli import main
from btm_ppa.refresh import refresh
from sheets_layout import load_bess_layout
from tests.conftest import (
    before_april_2023,
    cell,
    cell_values,
    result_cell,
    set_cells,
    status_cell,
)

pytestmark = pytest.mark.e2e

#: February 2023: the warehouse holds the 29 days before it, so every forecast is whole.
FEB = {cell("window_start"): dt.date(2023, 2, 1), cell("window_end"): dt.date(2023, 2, 28),
       **before_april_2023()}
VALUATION = load_bess_layout().valuation["tab"]


@pytest.fixture
def february(example_xlsx):
    set_cells(example_xlsx, {**FEB, cell("method"): "realistic"})
    return example_xlsx


def _valuation(path):
    rows = list(openpyxl.load_workbook(path)[VALUATION].values)
    header = rows[0]
    table = {}
    for row in rows[1:]:
        if not row or row[0] is None or row[1] is None:
            break
        table[row[0].split(" ")[0] if not row[0].startswith("daily") else "daily"] = dict(
            zip(header, row, strict=True))
    return table, [r[0] for r in rows if r and r[0] and (len(r) < 2 or r[1] is None)]


def test_realistic_fills_rows_50_to_62_and_the_valuation_tab(february, warehouse):
    outcome = refresh(XlsxWorkbook(february), warehouse)
    assert outcome.ok, outcome.status
    ws = openpyxl.load_workbook(february)["BESS"]
    assert ws[status_cell("stream2")].value == "realistic"
    note = ws[result_cell("prices_used", "notes")].value
    assert "realistic: a plan a day at 11:00 on D-1" in note and "profile 28d" in note
    assert "29 of the 29 days before the window held" in note
    table, notes = _valuation(february)
    assert set(table) == {"optimal", "daily", "realistic", "greedy"}
    value = {k: r["Value over no battery (£)"] for k, r in table.items()}
    assert value["optimal"] >= value["daily"] - 0.01 >= value["realistic"] - 0.02
    for row in table.values():
        assert row["Capture rate, gross"] <= 1 + 1e-9
        assert row["Wear cost (£)"] == 0
    assert table["optimal"]["Capture rate, gross"] == pytest.approx(1.0)
    # The realistic row is rows 50-62's method: its profit is row 59's.
    assert table["realistic"]["Profit at outturn (£)"] == ws[result_cell("profit_gbp")].value
    # Cycles: MWh discharged / capacity (2.5 MW x 2 h).
    discharged = outcome.schedule["discharge_mwh"].sum()
    assert table["realistic"]["Equivalent full cycles"] == pytest.approx(discharged / 5.0)
    assert table["realistic"]["Cycles a year"] == pytest.approx(discharged / 5.0 * 365.25 / 28)
    assert any("Wear not priced" in n for n in notes)
    # One cycle a day at most, kept by every method.
    daily = outcome.schedule.groupby("settlement_date")["discharge_mwh"].sum()
    assert daily.max() <= 5.0 + 1e-6


def test_the_exported_realistic_schedule_recomputes_the_profit_to_the_penny(
        february, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    target = tmp_path / "realistic.csv"
    assert main(["refresh", "--workbook", str(february), "--export-schedule", str(target)]) == 0
    rows = pd.read_csv(target)
    assert len(rows) == 28 * 48
    ws = openpyxl.load_workbook(february)["BESS"]
    row59 = ws[result_cell("profit_gbp")].value

    def recomputed(frame):  # PPA x demand + VLP x discharge - import cost x import
        imported = frame["grid_to_site_mwh"] + frame["charge_mwh"]
        return float((150.0 * frame["demand_mwh"] + 15.0 * frame["discharge_mwh"]
                      - frame["import_cost_gbp_per_mwh"] * imported).sum())

    # The schedule as computed (the same inputs refreshed in process), its volumes to the
    # watt-hour as valued and exported (no fixed charges are held for 2023): row 59 adds
    # 12 lines a stream, each rounded to the penny, so it is within 24 half-pennies of the
    # unrounded sum (tests/test_charges_independent.py recomputes every line exactly).
    schedule = refresh(XlsxWorkbook(february), warehouse).schedule
    exact = recomputed(schedule.assign(**{c: schedule[c].round(6) for c in (
        "demand_mwh", "grid_to_site_mwh", "charge_mwh", "discharge_mwh")}))
    assert row59 == pytest.approx(exact, abs=24 * 0.005)
    # The export: its per-period profits are pennies adding up to the exact total rounded
    # to the penny; recomputed from its rounded columns (watt-hours, 4-decimal prices) it
    # is within what that rounding allows.
    assert rows["profit_gbp"].sum() == pytest.approx(round(exact, 2), abs=1e-6)
    assert recomputed(rows) == pytest.approx(exact, abs=0.05)
    # Settled at outturn: the energy price exported is the warehouse's system price.
    frame = warehouse.query("system_prices_window", {"window_start": dt.date(2023, 2, 1),
                                                     "window_end": dt.date(2023, 2, 1)})
    first = frame.sort_values("settlement_period")["system_buy_price_gbp_per_mwh"].iloc[0]
    assert rows["energy_price_gbp_per_mwh"].iloc[0] == pytest.approx(first)


@pytest.mark.parametrize("forecast", ["profile 7d", "Persistence-Day", "persistence week"])
def test_each_forecast_is_named_in_row_61_and_the_tab(february, warehouse, forecast):
    set_cells(february, {cell("price_forecast"): forecast})
    outcome = refresh(XlsxWorkbook(february), warehouse)
    assert outcome.ok, outcome.status
    name = forecast.casefold().replace("-", " ")
    assert f"price forecast {name}" in outcome.prices.note()
    table, _ = _valuation(february)
    assert table["realistic"]["Capture rate, gross"] <= 1 + 1e-9


def test_an_unknown_forecast_is_refused_naming_its_cell(february, warehouse):
    set_cells(february, {cell("price_forecast"): "crystal ball"})
    before = cell_values(february, cell_range="A1:H49")
    outcome = refresh(XlsxWorkbook(february), warehouse)
    assert not outcome.ok
    status = openpyxl.load_workbook(february)["BESS"][status_cell()].value
    assert cell("price_forecast") in status and "profile 28d" in status
    assert cell_values(february, cell_range="A1:H49") == before


def test_a_wear_cost_is_a_cost_line_and_cuts_cycling(february, warehouse):
    set_cells(february, {cell("method"): "optimal"})
    assert refresh(XlsxWorkbook(february), warehouse).ok
    unworn, _ = _valuation(february)
    set_cells(february, {cell("wear_gbp_per_mwh"): 60})
    assert refresh(XlsxWorkbook(february), warehouse).ok
    worn, notes = _valuation(february)
    for row in worn.values():
        cycles = row["Equivalent full cycles"]
        assert row["Wear cost (£)"] == pytest.approx(60 * cycles * 5.0, abs=0.01)
        assert row["Value net of wear (£)"] == pytest.approx(
            row["Value over no battery (£)"] - row["Wear cost (£)"], abs=0.011)
        assert row["Capture rate, net of wear"] <= 1 + 1e-9
    assert worn["optimal"]["Equivalent full cycles"] < unworn["optimal"]["Equivalent full cycles"]
    assert any("£60.00 per MWh discharged" in n for n in notes)


def test_the_method_cell_lists_realistic(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "clairvoyant"})
    assert not refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    status = openpyxl.load_workbook(example_xlsx)["BESS"][status_cell()].value
    assert "realistic" in status


def test_the_wear_calculator(capsys):
    assert main(["wear"]) == 0
    out = capsys.readouterr().out
    assert f"£{DEFAULT_WEAR_GBP_PER_MWH:,.2f} per MWh discharged" in out
    assert main(["wear", "--discount-rate-pct", "0", "--replacement-gbp-per-kwh", "102"]) == 0
    assert "£20.00 per MWh" in capsys.readouterr().out  # 102,000 / (6,000 x 0.85)
    assert main(["wear", "--cycle-life", "0"]) != 0


def test_realistic_through_the_http_function(february, warehouse, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WORKBOOK_ROOT", str(february.parent))
    monkeypatch.setenv("BTM_PPA_AUTH", "off")
    runtime.inject("warehouse", warehouse)
    try:
        app = functions_framework.create_app(target="refresh", source="functions/main.py")
        response = app.test_client().post("/", json={"workbook": february.name, "sheet": "BESS"})
    finally:
        runtime.inject("warehouse", None)
    assert response.status_code == 200
    body = response.get_json()
    assert body["ok"] and body["method"] == "realistic"
    assert VALUATION in openpyxl.load_workbook(february).sheetnames


def test_the_day_ahead_forecast_where_held_and_refused_by_cell_where_not(example_xlsx,
                                                                          warehouse):
    # no charge table holds 2018/19: the rates typed, as an analyst would
    set_cells(example_xlsx, {**before_april_2023(), cell("duos_red_p_per_kwh"): 17.64,
                             cell("duos_amber_p_per_kwh"): 2.05,
                             cell("duos_green_p_per_kwh"): 0.11, cell("ccl_gbp_per_mwh"): 5.83})
    set_cells(example_xlsx, {cell("window_start"): dt.date(2019, 3, 1),
                             cell("window_end"): dt.date(2019, 3, 31),
                             cell("method"): "realistic", cell("price_forecast"): "day-ahead"})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    assert "price forecast day-ahead" in outcome.prices.note()
    table, _ = _valuation(example_xlsx)
    assert table["realistic"]["Capture rate, gross"] <= 1 + 1e-9
    # 2023: the warehouse holds no day-ahead prices then.
    set_cells(example_xlsx, FEB)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and cell("price_forecast") in outcome.status
    assert "day-ahead prices" in outcome.status


def test_on_google_sheets_the_valuation_tab_comes_in_the_one_write(february, warehouse):
    from tests.sheets_standin import SheetsStandIn
    from tests.test_sheets_workbook import SHEET_ID, _book

    with SheetsStandIn(SHEET_ID, february) as standin:
        outcome = refresh(_book(standin), warehouse)
        assert outcome.ok, outcome.status
        assert standin.count("batchUpdate") == 1  # rows 50-62 and every tab, one request
        assert standin.value(VALUATION, "A1") == "Method"
        names = [standin.value(VALUATION, f"A{r}") for r in range(2, 6)]
        assert any(str(n).startswith("realistic") and n.endswith("<- B22") for n in names)
        assert standin.value("BESS", result_cell("profit_gbp")) == pytest.approx(
            float(outcome.table.total.profit_gbp))
