"""The market index price basis (MID), and B23's annual demand as the window supplies it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core import periods
from btm_ppa.core.demand import default_shape_weights, spread_annual_demand
from btm_ppa.refresh import refresh
from tests.conftest import set_cells
from tests.independent import band_means, expected_rows, missing_count, window_prices


@pytest.mark.integration
def test_market_index_prices_the_sheet_blocks_at_mid_band_averages(example_xlsx, layout,
                                                                    warehouse):
    """Independent: band means of marketIndexPrice computed with csv alone (short gaps
    filled linearly); rows 40-42 and 50-60 of both streams to the penny, typed fixed
    charges included. May-July 2023: MID from the DETSYSPRICES file, short gaps only."""
    start, end = dt.date(2023, 5, 1), dt.date(2023, 7, 31)
    set_cells(example_xlsx, {layout.input("price_basis").cell: "market index",
                             layout.input("window_start").cell: start,
                             layout.input("window_end").cell: end,
                             layout.input("agreed_import_capacity_kva").cell: 1500,
                             layout.input("duos_fixed_gbp_per_day").cell: 1.5,
                             layout.input("tnuos_residual_gbp_per_day").cell: 20,
                             layout.input("duos_capacity_p_per_kva_day").cell: 8.35})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    for row, columns in expected_rows(example_xlsx, "_G").items():
        for col, want in columns.items():
            got = ws[f"{col}{row}"].value
            # £ to the penny; prices per MWh (row 40) written to 4 decimals; volumes to 1 Wh
            tolerance = 0.005 if isinstance(want, Decimal) else 5e-5 if row == "40" else 1e-6
            assert abs(Decimal(repr(got)) - Decimal(repr(float(want)))) <= Decimal(
                repr(tolerance)), f"{col}{row}: {got} != {want}"
    mid = band_means("_G", start, end, "marketIndexPrice")
    sb = band_means("_G", start, end)
    assert max(abs(mid[b] - sb[b]) for b in mid) > 0.1  # the basis matters
    blanks = missing_count(start, end)
    assert blanks > 0
    assert (f"{blanks} settlement period(s) in the window have no market index price and were "
            "filled by linear interpolation") in ws[f"E{layout.result_row('status').row}"].value
    assert "price basis: market index" in outcome.prices.note()
    assert ws[f"A{layout.result_row('energy_cost_gbp').row}"].value == (
        "Energy cost at market index price")


@pytest.mark.integration
@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_market_index_prices_both_simulated_streams(example_xlsx, layout, warehouse, method):
    set_cells(example_xlsx, {layout.input("price_basis").cell: "market index",
                             layout.input("method").cell: method,
                             layout.input("window_start").cell: dt.date(2023, 7, 1),
                             layout.input("window_end").cell: dt.date(2023, 7, 31),
                             # energy on metered volume alone (losses: test_charges_independent)
                             layout.input("loss_factor").cell: 1.0})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    rows = outcome.schedule
    want = window_prices(dt.date(2023, 7, 1), dt.date(2023, 7, 31), "marketIndexPrice")
    assert [(str(d), int(sp)) for d, sp in zip(rows["settlement_date"], rows["settlement_period"],
                                               strict=True)] == [(d, sp) for d, sp, _, _ in want]
    assert rows["energy_price_gbp_per_mwh"].to_numpy() == pytest.approx(
        np.array([p for *_, p in want]))
    blanks = missing_count(dt.date(2023, 7, 1), dt.date(2023, 7, 31))
    # valued as exported: volumes to the watt-hour, the energy price to 6 decimals
    price = rows["energy_price_gbp_per_mwh"].round(6)
    energy = (rows["grid_to_site_mwh"].round(6) * price).sum()
    charged = (rows["charge_mwh"].round(6) * price).sum()
    assert float(outcome.table.stream1.energy_cost_gbp) == pytest.approx(energy, abs=0.006)
    assert float(outcome.table.stream2.energy_cost_gbp) == pytest.approx(charged, abs=0.006)
    assert blanks > 0 and any(
        f"{blanks} settlement period(s) had no market index price and were filled by linear "
        "interpolation" in w for w in outcome.warnings)


@pytest.mark.integration
def test_a_window_without_mid_is_an_error_naming_the_basis_cell(example_xlsx, layout, warehouse):
    cell = layout.input("price_basis").cell
    set_cells(example_xlsx, {cell: "market index",
                             layout.input("window_start").cell: dt.date(2018, 1, 1),
                             layout.input("window_end").cell: dt.date(2018, 12, 31)})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok
    assert outcome.status.startswith(f"ERROR: {cell} price basis 'market index'")
    assert "(2018-01-01 SP1 to 2018-12-31 SP48)" in outcome.status
    assert "holds the market index price (MID) on 2023-01-01 to 2023-03-25" in outcome.status


@pytest.mark.integration
def test_a_long_mid_gap_is_refused_naming_it(example_xlsx, layout, warehouse):
    """The DETSYSPRICES file's clock-change days are dropped, so 2023-10-29 has no MID."""
    cell = layout.input("price_basis").cell
    set_cells(example_xlsx, {cell: "market index",
                             layout.input("window_start").cell: dt.date(2023, 10, 1),
                             layout.input("window_end").cell: dt.date(2023, 10, 31)})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok
    assert outcome.status.startswith(f"ERROR: {cell} price basis 'market index'")
    assert "in runs longer than 4 periods, which are not filled (2023-10-29 SP1-SP50)" in (
        outcome.status)


@pytest.mark.integration
def test_an_unknown_price_basis_names_the_cell(example_xlsx, layout, warehouse):
    cell = layout.input("price_basis").cell
    set_cells(example_xlsx, {cell: "day ahead"})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and cell in outcome.status and "system buy or market index" in outcome.status


@pytest.mark.integration
def test_power_factor_above_1_names_the_cell(example_xlsx, layout, warehouse):
    cell = layout.input("power_factor").cell
    set_cells(example_xlsx, {cell: 1.2})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and cell in outcome.status and "at most 1" in outcome.status


# ----------------------------------------------------------------------- demand ----

def _frame(start: dt.date, end: dt.date):
    return periods.settlement_periods(start, end)


@pytest.mark.unit
@pytest.mark.parametrize("group", ["_G", "_N", "_K"])
def test_a_365_day_window_supplies_exactly_the_annual_demand(group):
    demand = spread_annual_demand(5500, _frame(dt.date(2023, 1, 1), dt.date(2023, 12, 31)), group)
    assert demand.sum() == pytest.approx(5500, abs=1e-6)
    assert len(demand) == 17_520 and (demand > 0).all()


@pytest.mark.unit
def test_a_leap_year_window_is_scaled_by_its_days():
    demand = spread_annual_demand(5500, _frame(dt.date(2024, 1, 1), dt.date(2024, 12, 31)), "_G")
    assert demand.sum() == pytest.approx(5500 * 366 / 365, abs=1e-6)  # 5,515.068...


@pytest.mark.unit
def test_a_shorter_window_supplies_its_share_of_the_year_from_its_start():
    frame = _frame(dt.date(2023, 12, 25), dt.date(2023, 12, 31))  # Christmas week
    year = _frame(dt.date(2023, 12, 25), dt.date(2024, 12, 23))  # 365 days from the start
    weights, year_weights = (default_shape_weights(f, "_G") for f in (frame, year))
    demand = spread_annual_demand(5500, frame, "_G")
    assert demand.sum() == pytest.approx(5500 * weights.sum() / year_weights.sum())
    # Christmas week is mostly bank holidays and a weekend: less than 7/365 of the year
    assert demand.sum() < 5500 * 7 / 365
    assert demand.sum() == pytest.approx(
        spread_annual_demand(5500, year, "_G")[: len(frame)].sum())


@pytest.mark.unit
def test_bank_holidays_take_the_non_working_level_and_count_in_the_normalisation():
    frame = _frame(dt.date(2023, 1, 1), dt.date(2023, 12, 31))
    demand = spread_annual_demand(5500, frame, "_G")
    day = frame["settlement_date"]
    holiday = demand[(day == dt.date(2023, 12, 25)).to_numpy()]
    monday = demand[(day == dt.date(2023, 12, 18)).to_numpy()]
    assert np.ptp(holiday) == 0 and holiday[0] < monday.max()
    # by hand: the weights of 2023 (England: 8 bank holidays, one a weekday coronation
    # holiday) give the unit demand per weight
    weights = default_shape_weights(frame, "_G")
    assert demand == pytest.approx(5500 * weights / weights.sum())
