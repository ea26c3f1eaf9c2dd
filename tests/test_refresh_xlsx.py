"""End to end on a local workbook: template -> refresh -> rows 40-42 and 50-62."""

import datetime as dt
from decimal import Decimal

import openpyxl

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.refresh import refresh
from tests.conftest import cell, cell_values, result_cell, set_cells, status_cell, system_buy_cell
from tests.independent import band_means, expected_rows


def _refresh(path, warehouse):
    return refresh(XlsxWorkbook(path), warehouse)


def test_example_matches_an_independent_calculation_to_the_penny(example_xlsx, warehouse):
    outcome = _refresh(example_xlsx, warehouse)
    assert outcome.ok, outcome.status
    expected = expected_rows(example_xlsx, "_G")
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    for row, columns in expected.items():
        for col, want in columns.items():
            got = ws[f"{col}{row}"].value
            assert isinstance(got, int | float), f"{col}{row} is {got!r}, not a number"
            # £ to the penny; prices per MWh (row 40) written to 4 decimals; volumes to 1 Wh
            tolerance = 0.005 if isinstance(want, Decimal) else 5e-5 if row == "40" else 1e-6
            assert abs(Decimal(repr(got)) - Decimal(repr(float(want)))) <= Decimal(
                repr(tolerance)), f"{col}{row}: {got} != {want}"


def test_results_rows_are_complete_and_typed(example_xlsx, warehouse):
    now = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    assert refresh(XlsxWorkbook(example_xlsx), warehouse, now=now).ok
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert [ws[f"{c}50"].value for c in "ABCDE"] == [
        "Results", "Stream 1 (direct import)", "Stream 2 (battery)", "Total", "Unit / notes"]
    assert ws[status_cell()].value == "OK" and ws[status_cell("stream2")].value == "sheet"
    assert ws[status_cell("total")].value == dt.datetime(2026, 11, 21, 12, 0)
    assert ws[result_cell("profit_gbp")].number_format.startswith("£")
    note = ws[result_cell("prices_used", "notes")].value
    assert "window 2023-04-01 to 2024-03-31" in note  # charging year 2023/24
    assert "17,568 of 17,568 SPs priced" in note and "missing" not in note
    assert "source: embedded DuckDB warehouse (Elexon SSP/SBP/NIV (shipped))" in note
    means = band_means("_G", dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    assert min(means.values()) < ws[result_cell("prices_used")].value < max(means.values())
    # every charge of the year, with its tariff and rates
    assert "2023/24 (366 days): LV Site Specific Band 4 DUoS 7.456/1.432/0.131 p/kWh" in note
    assert "BSUoS 13.41/14.03 £/MWh" in note and "RO 27.6757 £/MWh" in note


def test_refresh_writes_only_backend_cells(example_xlsx, warehouse):
    before = cell_values(example_xlsx)
    assert _refresh(example_xlsx, warehouse).ok
    after = cell_values(example_xlsx)
    backend = {system_buy_cell(block, what) for block in ("non_bess", "bess")
               for what in ("average", "volume", "cost")} | {
        f"{c}{r}" for c in "ABCDE" for r in range(50, 63)}
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed and changed <= backend


def test_blank_window_defaults_to_the_latest_12_months(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("window_start"): None, cell("window_end"): None,
                             cell("cfd_gbp_per_mwh"): 8.0})  # not held for all of it
    outcome = _refresh(example_xlsx, warehouse)
    assert outcome.ok
    window = outcome.prices.window.window
    assert (window.start, window.end, window.defaulted) == (
        dt.date(2024, 6, 2), dt.date(2025, 6, 1), True)


def test_refresh_is_repeatable(example_xlsx, warehouse):
    first = _refresh(example_xlsx, warehouse)
    second = _refresh(example_xlsx, warehouse)
    assert first.table == second.table
