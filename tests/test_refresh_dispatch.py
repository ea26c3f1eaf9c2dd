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
from tests.conftest import (
    RESULT_PARTS,
    before_april_2023,
    block_cell,
    cell,
    cell_values,
    ppa_cell,
    result_cell,
    set_cells,
    status_cell,
    system_buy_cell,
)

JAN = {cell("window_start"): "2023-01-01", cell("window_end"): "2023-01-31",
       **before_april_2023()}


@pytest.fixture
def january(example_xlsx):
    set_cells(example_xlsx, JAN)
    return example_xlsx


def _run(path, warehouse, method):
    set_cells(path, {cell("method"): method})
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome, openpyxl.load_workbook(path)["BESS"]


@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_rows_re_add_from_the_blocks_and_match_the_schedule(january, warehouse, method):
    outcome, ws = _run(january, warehouse, method)
    v = lambda a: ws[a].value  # noqa: E731
    # Stream 1 is the non-BESS block, Stream 2 the BESS block, to the penny.
    duos, levies = ("red_duos", "amber_duos", "green_duos"), ("ccl", "ro", "fit", "other_levies")
    assert v(result_cell("duos_cost_gbp", "stream1")) == pytest.approx(
        sum(v(block_cell("non_bess", key, "cost")) for key in duos), abs=1e-9)
    assert v(result_cell("levies_cost_gbp", "stream2")) == pytest.approx(
        sum(v(block_cell("bess", key, "cost")) for key in levies), abs=1e-9)
    assert v(result_cell("energy_cost_gbp", "stream1")) == v(system_buy_cell("non_bess", "cost"))
    assert v(result_cell("energy_cost_gbp", "stream2")) == v(system_buy_cell("bess", "cost"))
    assert v(result_cell("volume_mwh", "stream1")) == pytest.approx(
        sum(v(block_cell("non_bess", key)) for key in duos))
    assert v(result_cell("volume_mwh", "stream2")) == pytest.approx(v(ppa_cell("stream2")))
    assert v(result_cell("ppa_revenue_gbp")) == pytest.approx(v(ppa_cell("total", "revenue")))
    # The workbook's total profit is the schedule's profit (PPA x demand + VLP x discharge
    # - import cost x import), up to the penny rounding of each line.
    rows = outcome.schedule
    assert v(result_cell("profit_gbp")) == pytest.approx(rows["profit_gbp"].sum(), abs=0.05)
    # Demand is served exactly once.
    assert v(result_cell("volume_mwh")) == pytest.approx(rows["demand_mwh"].sum())
    assert (rows["grid_to_site_mwh"] >= -1e-9).all()


def test_optimal_beats_greedy_and_says_by_how_much(january, warehouse):
    _, greedy = _run(january, warehouse, "greedy")
    g = greedy[result_cell("profit_gbp")].value
    _, optimal = _run(january, warehouse, "optimal")
    o = optimal[result_cell("profit_gbp")].value
    assert o >= g - 0.01
    assert f"optimal +£{o - g:,.2f}" in optimal[result_cell("prices_used", "notes")].value
    assert "vs the battery-first rule" in optimal[result_cell("prices_used", "notes")].value


def test_row_61_says_which_schedule_answered_when_the_search_is_cut_short(
        january, warehouse, monkeypatch):
    from btm_ppa.core.dispatch import value_function

    def out_of_time(*args, **kwargs):
        raise value_function.DeadlineExceeded  # as if the budget ran out in the programme

    _, full = _run(january, warehouse, "optimal")
    monkeypatch.setattr(value_function, "solve", out_of_time)
    _, cut = _run(january, warehouse, "optimal")
    note = cut[result_cell("prices_used", "notes")].value
    assert "the optimal search was cut short by its deadline" in note
    assert "the schedule is the relaxation's, repaired to one mode per period" in note
    # The repaired relaxation is feasible and within the stated gap of the full search.
    o, c = full[result_cell("profit_gbp")].value, cut[result_cell("profit_gbp")].value
    assert c <= o + 0.01
    if "of the bound" in note:
        gap = float(note.split("optimal within £")[1].split(" of the bound")[0].replace(",", ""))
        assert o - c <= gap + 0.01
    else:
        assert c == pytest.approx(o, abs=0.01)


@pytest.mark.parametrize("area", ["_A", "_C", "_G", "_K", "_P"])
def test_optimal_schedule_passes_an_independent_check_for_any_area(january, warehouse, area):
    set_cells(january, {cell("mpan_core"): None, cell("dno_area"): area})
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
    assert ws[result_cell("profit_gbp")].value == pytest.approx(profit, abs=0.05)


def test_dispatch_tab_has_a_day_per_row_and_a_chart(january, warehouse):
    _run(january, warehouse, "optimal")
    book = openpyxl.load_workbook(january)
    tab = book["Dispatch"]
    assert [c.value for c in tab[1]][:3] == ["Settlement date", "Charge (MWh)", "Discharge (MWh)"]
    assert tab.max_row == 32  # header + 31 days
    assert len(tab._charts) == 1


def test_a_short_gap_is_interpolated_and_reported(example_xlsx, gappy_warehouse):
    set_cells(example_xlsx, {cell("window_start"): "2023-10-23", cell("window_end"): "2023-10-29"})
    outcome, ws = _run(example_xlsx, gappy_warehouse, "greedy")
    assert len(outcome.schedule) == 6 * 48 + 50  # the clock-change day has 50 periods
    notes = ws[status_cell("notes")].value
    assert "filled by linear interpolation" in notes and "2023-10-29 SP2-SP3" in notes
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
    assert ws[result_cell("volume_mwh")].value == pytest.approx(0.4 * len(frame))
    assert "HH Data" in ws[result_cell("prices_used", "notes")].value


def test_export_schedule_csv_and_parquet(january, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    set_cells(january, {cell("method"): "optimal"})
    for name in ("s.csv", "s.parquet"):
        target = tmp_path / name
        assert main(["refresh", "--workbook", str(january), "--export-schedule", str(target)]) == 0
        rows = pd.read_csv(target) if name.endswith("csv") else pd.read_parquet(target)
        assert len(rows) == 31 * 48
        assert {"charge_mwh", "discharge_mwh", "soc_end_mwh", "profit_gbp"} <= set(rows.columns)
    assert main(["refresh", "--workbook", str(january), "--export-schedule",
                 str(tmp_path / "s.txt")]) == ExitCode.USAGE


def _bad(path, warehouse, edits, address, *fragments):
    set_cells(path, {cell("method"): "optimal", **edits})
    before = cell_values(path)
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert not outcome.ok
    after = cell_values(path)
    assert address in after[status_cell()], after[status_cell()]
    for fragment in fragments:
        assert fragment in after[status_cell()], after[status_cell()]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {status_cell(part) for part in RESULT_PARTS[1:]}


@pytest.mark.parametrize(("cell", "value", "says"), [
    (cell("import_power_kw"), 0, "above 0"), (cell("export_power_kw"), -100, "is negative"),
    (cell("duration_h"), 0, "above 0"), (cell("cycles_per_day"), 0, "above 0"),
    (cell("round_trip_efficiency_pct"), 0, "(0, 100] %"),
    (cell("round_trip_efficiency_pct"), 120, "(0, 100] %")])
def test_battery_must_have_power_capacity_cycles_and_efficiency(january, warehouse, cell, value,
                                                                 says):
    _bad(january, warehouse, {cell: value}, cell, says)


def test_no_demand_source(january, warehouse):
    _bad(january, warehouse, {cell("annual_demand_mwh"): None}, cell("annual_demand_mwh"), "HH Data")


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
    _bad(january, warehouse, {}, "'HH Data'!A:C", "10 of 1,488 periods missing (2023-01-31 SP39-SP48)")


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
