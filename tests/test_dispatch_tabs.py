"""A Dispatch chart an analyst reads (issue 23, item 14): the chosen week period by period
(price, state of charge, charge, discharge) and each stream's profit by month, as bars."""

from __future__ import annotations

import datetime as dt
import math

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.refresh import refresh
from btm_ppa.sheet.dispatch_tabs import MONTHLY_TAB, WEEK_TAB
from tests.conftest import before_april_2023, cell, result_cell, set_cells, status_cell

JAN = {cell("window_start"): "2023-01-01", cell("window_end"): "2023-01-31",
       **before_april_2023()}


def _run(path, warehouse, **edits):
    set_cells(path, {**JAN, cell("method"): "optimal", **edits})
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome, openpyxl.load_workbook(path)


def test_the_chosen_week_is_charted_period_by_period_with_the_price_on_its_own_axis(
        example_xlsx, warehouse):
    outcome, book = _run(example_xlsx, warehouse,
                         **{cell("dispatch_chart_week"): dt.datetime(2023, 1, 9)})
    tab = book[WEEK_TAB]
    rows = list(tab.iter_rows(values_only=True))
    assert rows[0] == ("Start (UK time)", "Energy price (£/MWh)", "State of charge (MWh)",
                       "Charge (MWh)", "Discharge (MWh)")
    assert len(rows) == 1 + 7 * 48
    assert rows[1][0] == dt.datetime(2023, 1, 9, 0, 0) and rows[-1][0] == dt.datetime(2023, 1, 15, 23, 30)
    schedule = outcome.schedule.set_index(["settlement_date", "settlement_period"])
    first = schedule.loc[(dt.date(2023, 1, 9), 1)]
    assert rows[1][1] == pytest.approx(first["energy_price_gbp_per_mwh"], abs=1e-4)
    assert rows[1][2] == pytest.approx(first["soc_end_mwh"], abs=1e-6)
    assert all(0 <= r[2] <= 5.0 + 1e-6 for r in rows[1:])  # 2.5 MW x 2 h
    (chart,) = tab._charts
    assert [s.tx.strRef.f for s in chart.series] == [f"'{WEEK_TAB}'!C1", f"'{WEEK_TAB}'!D1",
                                                    f"'{WEEK_TAB}'!E1"]
    (price,) = chart._charts[1:]  # the price: a second line chart on a right-hand axis
    assert price.y_axis.axId == 200 and price.y_axis.crosses == "max"
    assert [s.tx.strRef.f for s in price.series] == [f"'{WEEK_TAB}'!B1"]


def test_a_week_outside_the_window_is_set_aside_with_a_warning_naming_the_cell(
        example_xlsx, warehouse):
    _, book = _run(example_xlsx, warehouse,
                         **{cell("dispatch_chart_week"): dt.datetime(2024, 3, 1)})
    assert book[WEEK_TAB]["A2"].value == dt.datetime(2023, 1, 1, 0, 0)
    note = book["BESS"][status_cell("notes")].value
    assert cell("dispatch_chart_week") in note and "2024-03-01" in note


def test_monthly_profit_by_stream_as_bars_adds_up_to_row_59(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("window_end"): "2023-03-31"})
    daily_fixed = {cell("duos_fixed_gbp_per_day"): 1.5}
    _, book = _run(example_xlsx, warehouse, **{cell("window_end"): "2023-03-31"},
                         **daily_fixed)
    rows = list(book[MONTHLY_TAB].iter_rows(values_only=True))
    assert rows[0] == ("Month", "Stream 1 profit (£)", "Stream 2 profit (£)", "Total (£)")
    assert [r[0] for r in rows[1:]] == [dt.datetime(2023, m, 1) for m in (1, 2, 3)]
    ws = book["BESS"]
    fixed = 90 * 1.5  # per day, Stream 1's, not in the monthly bars
    s1 = math.fsum(r[1] for r in rows[1:])
    s2 = math.fsum(r[2] for r in rows[1:])
    assert s1 - fixed == pytest.approx(ws[result_cell("profit_gbp", "stream1")].value, abs=0.03)
    assert s2 == pytest.approx(ws[result_cell("profit_gbp", "stream2")].value, abs=0.03)
    assert all(round(r[1] + r[2], 2) == r[3] for r in rows[1:])
    (chart,) = book[MONTHLY_TAB]._charts
    assert chart.tagname == "barChart" and chart.type == "col" and len(chart.series) == 2


def test_under_the_sheet_method_the_tabs_say_there_is_no_schedule(example_xlsx, warehouse):
    _run(example_xlsx, warehouse)
    set_cells(example_xlsx, {cell("method"): "sheet"})
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    book = openpyxl.load_workbook(example_xlsx)
    for name in (WEEK_TAB, MONTHLY_TAB):
        assert book[name]["A1"].value.startswith("No schedule: the sheet method"), name
