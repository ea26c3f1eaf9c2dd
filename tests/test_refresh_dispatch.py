"""greedy and optimal refreshes on a workbook: blocks, rows 45-48 and 50-62 from the
schedule, the Dispatch tab, the schedule export, and bad inputs by cell."""

import datetime as dt

import numpy as np
import openpyxl
import pandas as pd
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core import dispatch as D
from btm_ppa.core import periods
from btm_ppa.entrypoints.cli import main
from btm_ppa.entrypoints.report import ExitCode
from btm_ppa.refresh import refresh
from tests.conftest import cell_values, set_cells

JAN = {"B20": "2023-01-01", "B21": "2023-01-31"}


@pytest.fixture
def january(example_xlsx):
    set_cells(example_xlsx, JAN)
    return example_xlsx


def _run(path, warehouse, method):
    set_cells(path, {"B22": method})
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome, openpyxl.load_workbook(path)["BESS"]


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_rows_re_add_from_the_blocks_and_match_the_schedule(january, warehouse, method):
    outcome, ws = _run(january, warehouse, method)
    v = lambda a: ws[a].value  # noqa: E731
    # Stream 1 is the non-BESS block, Stream 2 the BESS block, to the penny.
    assert v("B55") == pytest.approx(v("C28") + v("C29") + v("C30"), abs=1e-9)
    assert v("C57") == pytest.approx(v("H35") + v("H36") + v("H37"), abs=1e-9)
    assert v("B54") == v("C42") and v("C54") == v("H42")
    assert v("B51") == pytest.approx(v("B28") + v("B29") + v("B30"))
    assert v("C51") == pytest.approx(v("B47"))
    assert v("D52") == pytest.approx(v("C48"))
    # The workbook's total profit is the schedule's profit (PPA x demand + VLP x discharge
    # - import cost x import), up to the penny rounding of each line.
    rows = outcome.schedule
    assert v("D59") == pytest.approx(rows["profit_gbp"].sum(), abs=0.05)
    # Demand is served exactly once.
    assert v("D51") == pytest.approx(rows["demand_mwh"].sum())
    assert (rows["grid_to_site_mwh"] >= -1e-9).all()


def test_optimal_beats_greedy_and_says_by_how_much(january, warehouse):
    _, greedy = _run(january, warehouse, "greedy")
    g = greedy["D59"].value
    _, optimal = _run(january, warehouse, "optimal")
    o = optimal["D59"].value
    assert o >= g - 0.01
    assert f"optimal +£{o - g:,.2f}" in optimal["E61"].value
    assert "vs the battery-first rule" in optimal["E61"].value


@pytest.mark.parametrize("area", ["_A", "_C", "_G", "_K", "_P"])
def test_optimal_schedule_passes_an_independent_check_for_any_area(january, warehouse, area):
    set_cells(january, {"B6": None, "B7": area})
    outcome, ws = _run(january, warehouse, "optimal")
    rows = outcome.schedule
    eff = 0.85
    soc = np.cumsum(eff * rows["charge_mwh"] - rows["discharge_mwh"])
    assert soc.min() >= -1e-6 and soc.max() <= 5.0 + 1e-6  # 2.5 MW x 2 h
    assert (rows["charge_mwh"] <= 1.25 + 1e-9).all() and (rows["discharge_mwh"] <= 1.25 + 1e-9).all()
    assert not ((rows["charge_mwh"] > 1e-9) & (rows["discharge_mwh"] > 1e-9)).any()
    assert (rows["discharge_mwh"] <= rows["demand_mwh"] + 1e-9).all()
    assert rows.groupby("settlement_date")["discharge_mwh"].sum().max() <= 5.0 + 1e-6
    cost = rows["import_cost_gbp_per_mwh"]
    profit = (150 * rows["demand_mwh"].sum() + 15 * rows["discharge_mwh"].sum()
              - (cost * (rows["grid_to_site_mwh"] + rows["charge_mwh"])).sum())
    assert ws["D59"].value == pytest.approx(profit, abs=0.05)


def test_dispatch_tab_has_a_day_per_row_and_a_chart(january, warehouse):
    _run(january, warehouse, "optimal")
    book = openpyxl.load_workbook(january)
    tab = book["Dispatch"]
    assert [c.value for c in tab[1]][:3] == ["Settlement date", "Charge (MWh)", "Discharge (MWh)"]
    assert tab.max_row == 32  # header + 31 days
    assert len(tab._charts) == 1


def test_the_2023_10_29_gap_is_interpolated_and_reported(example_xlsx, warehouse):
    set_cells(example_xlsx, {"B20": "2023-10-23", "B21": "2023-10-29"})
    outcome, ws = _run(example_xlsx, warehouse, "greedy")
    assert len(outcome.schedule) == 6 * 48 + 50  # the clock-change day has 50 periods
    assert "interpolated" in ws["E62"].value and "2023-10-29 SP2, SP3" in ws["E62"].value
    assert outcome.schedule["energy_price_gbp_per_mwh"].notna().all()


def test_hh_data_tab_drives_demand(january, warehouse):
    frame = periods.settlement_periods(dt.date(2023, 1, 1), dt.date(2023, 1, 31))
    book = openpyxl.load_workbook(january)
    hh = book.create_sheet("HH Data")
    hh.append(["Date", "Settlement period", "Demand (kWh)"])
    for day, sp in zip(frame["settlement_date"], frame["settlement_period"], strict=True):
        hh.append([day, sp, 400.0])
    book.save(january)
    _, ws = _run(january, warehouse, "optimal")
    assert ws["D51"].value == pytest.approx(0.4 * len(frame))
    assert "HH Data" in ws["E61"].value


def test_export_schedule_csv_and_parquet(january, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    set_cells(january, {"B22": "optimal"})
    for name in ("s.csv", "s.parquet"):
        target = tmp_path / name
        assert main(["refresh", "--workbook", str(january), "--export-schedule", str(target)]) == 0
        rows = pd.read_csv(target) if name.endswith("csv") else pd.read_parquet(target)
        assert len(rows) == 31 * 48
        assert {"charge_mwh", "discharge_mwh", "soc_end_mwh", "profit_gbp"} <= set(rows.columns)
    assert main(["refresh", "--workbook", str(january), "--export-schedule",
                 str(tmp_path / "s.txt")]) == ExitCode.USAGE


def _bad(path, warehouse, edits, cell, *fragments):
    set_cells(path, {"B22": "optimal", **edits})
    before = cell_values(path)
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert not outcome.ok
    after = cell_values(path)
    assert cell in after["B62"], after["B62"]
    for fragment in fragments:
        assert fragment in after["B62"], after["B62"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {"B62", "C62", "D62", "E62"}


@pytest.mark.parametrize(("cell", "value", "says"), [
    ("F13", 0, "above 0"), ("F14", -100, "is negative"), ("F15", 0, "above 0"),
    ("F16", 0, "above 0"), ("F17", 0, "(0, 100] %"), ("F17", 120, "(0, 100] %")])
def test_battery_must_have_power_capacity_cycles_and_efficiency(january, warehouse, cell, value,
                                                                 says):
    _bad(january, warehouse, {cell: value}, cell, says)


def test_no_demand_source(january, warehouse):
    _bad(january, warehouse, {"B23": None}, "B23", "HH Data")


def _hh(path, rows, header="Demand (kWh)"):
    book = openpyxl.load_workbook(path)
    hh = book.create_sheet("HH Data")
    hh.append(["Date", "Settlement period", header])
    for row in rows:
        hh.append(row)
    book.save(path)


def _full(day_from=dt.date(2023, 1, 1), day_to=dt.date(2023, 1, 31), kwh=400.0):
    frame = periods.settlement_periods(day_from, day_to)
    return [[d, p, kwh] for d, p in zip(frame["settlement_date"], frame["settlement_period"],
                                        strict=True)]


def test_hh_data_missing_periods(january, warehouse):
    _hh(january, _full()[:-10])
    _bad(january, warehouse, {}, "'HH Data'!A:C", "10 of 1,488 periods missing")


def test_hh_data_duplicate_period(january, warehouse):
    rows = _full()
    _hh(january, [*rows, rows[5]])
    _bad(january, warehouse, {}, "'HH Data'!A1490", "duplicate", "row 7")


def test_hh_data_outside_the_window(january, warehouse):
    _hh(january, [[dt.date(2022, 12, 31), 48, 400.0], *_full()])
    _bad(january, warehouse, {}, "'HH Data'!A2", "outside the price window")


def test_hh_data_kwh_typed_under_an_mwh_header(january, warehouse):
    _hh(january, _full(kwh=400.0), header="Demand (MWh)")
    _bad(january, warehouse, {}, "'HH Data'!C", "looks like kWh typed where the header says MWh")


def test_hh_data_all_zero(january, warehouse):
    _hh(january, _full(kwh=0.0))
    _bad(january, warehouse, {}, "'HH Data'!C:C", "zero in every period")


def test_window_longer_than_the_data(january, warehouse):
    _hh(january, _full(day_to=dt.date(2023, 1, 15)))
    _bad(january, warehouse, {}, "'HH Data'!A:C", "does not cover the price window")


def test_profit_identity_of_value_schedule():
    from btm_ppa.core.simulation import ChargeRates, value_schedule
    from btm_ppa.core.vocab import DuosBand

    rng = np.random.default_rng(7)
    n = 96
    price = rng.normal(80, 40, n)
    bands = rng.integers(0, 3, n).astype(np.int8)
    rates = ChargeRates(
        duos_gbp_per_mwh={DuosBand.RED: 176.4, DuosBand.AMBER: 20.5, DuosBand.GREEN: 1.1},
        tnuos_gbp_per_mwh=0.0, bsuos_gbp_per_mwh=4.5, ccl_gbp_per_mwh=7.75, ro_gbp_per_mwh=61.9,
        fit_gbp_per_mwh=11.5)
    p = D.DispatchProblem(rng.uniform(0.2, 1.0, n), rates.import_cost_gbp_per_mwh(price, bands),
                          bands, np.repeat(np.arange(2), 48), 15.0, D.Battery(1, 1, 2, 1, 0.85))
    s = D.optimal_schedule(p)
    v = value_schedule(p, s, price, rates, 150.0).valuation
    total = sum(f.ppa_revenue_gbp + f.vlp_revenue_gbp - f.energy_cost_gbp - f.duos_cost_gbp
                - f.tnuos_bsuos_cost_gbp - f.levies_cost_gbp for f in (v.stream1, v.stream2))
    assert total == pytest.approx(D.profit_gbp(p, s, 150.0), abs=0.01 * 16)  # 16 rounded lines
