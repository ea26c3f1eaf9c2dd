"""Each bad input: a message naming the cell in row 62 (and the outcome), every other cell
left exactly as it was, so inputs are untouched and rows 50-61 keep the last results."""

import os
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.area import mpan_check_digit
from btm_ppa.errors import LayoutError, PriceDataError, WorkbookUnavailableError
from btm_ppa.refresh import refresh
from tests.conftest import (
    RESULT_PARTS,
    block_cell,
    cell,
    cell_values,
    refresh_refused,
    result_cell,
    set_cells,
    status_cell,
)


@pytest.fixture
def refreshed(example_xlsx, warehouse) -> Path:
    """The example, refreshed once, so rows 50-61 hold results to keep."""
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    return example_xlsx


def _bad(path: Path, warehouse, edits: dict, address: str, *fragments: str):
    outcome, changed = refresh_refused(path, warehouse, edits, address, *fragments)
    assert changed <= {status_cell(part) for part in RESULT_PARTS[1:]}, changed
    return outcome


def test_text_in_a_number_cell(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("ppa_price_gbp_per_mwh"): "£1,2x"},
        cell("ppa_price_gbp_per_mwh"),
        "'£1,2x'",
        "£/MWh",
    )


def test_required_cell_blank(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("vlp_payment_gbp_per_mwh"): None},
        cell("vlp_payment_gbp_per_mwh"),
        "is blank",
        "£/MWh",
    )


def test_negative_volume(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {block_cell("bess", "amber_duos"): -362},
        block_cell("bess", "amber_duos"),
        "is negative",
        "MWh",
    )


@pytest.mark.parametrize("efficiency", [0, 150])
def test_efficiency_outside_0_to_100(refreshed, warehouse, efficiency):
    _bad(
        refreshed,
        warehouse,
        {cell("round_trip_efficiency_pct"): efficiency},
        cell("round_trip_efficiency_pct"),
        "(0, 100] %",
    )


def test_mpan_distributor_id_not_10_to_23(refreshed, warehouse):
    body = "990012345678"
    _bad(refreshed, warehouse, {cell("mpan_core"): body + str(mpan_check_digit(body))}, cell("mpan_core"),
         "distributor id 99", "10-23")


def test_mpan_bad_check_digit(refreshed, warehouse):
    _bad(refreshed, warehouse, {cell("mpan_core"): "1600123456780"}, cell("mpan_core"), "check digit")


def test_row_inserted_above_the_cost_blocks(refreshed, warehouse):
    book = openpyxl.load_workbook(refreshed)
    book["BESS"].insert_rows(20)  # above row 26: everything from row 20 moves down one
    book.save(refreshed)
    before = cell_values(refreshed, cell_range="A1:H63")
    outcome = refresh(XlsxWorkbook(refreshed), warehouse)
    assert isinstance(outcome.error, LayoutError)
    after = cell_values(refreshed, cell_range="A1:H63")
    # The status row moved to 63 with everything else; the message lands there.
    assert after["B63"].startswith("ERROR: A21") or after["B63"].startswith("ERROR: A26")
    assert "inserted" in after["B63"]
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {"B63", "C63", "D63", "E63"}


def test_price_window_with_no_prices(refreshed, warehouse):
    outcome = _bad(
        refreshed,
        warehouse,
        {cell("window_start"): "2030-01-01", cell("window_end"): "2030-12-31"},
        cell("window_start"),
        "no system prices",
        "holds 2016-06-06 to 2025-06-01",
        "btm-ppa ingest-prices",
    )
    assert isinstance(outcome.error, PriceDataError)


def test_price_window_past_the_data(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("window_start"): "2025-01-01", cell("window_end"): "2025-12-31"},
        cell("window_start"),
        "in runs longer than 4 periods",
        "(2025-06-02 SP1 to 2025-12-31 SP48)",
        "holds the system buy price on 2016-06-06 to 2025-06-01",
    )


def test_volume_in_a_band_the_window_never_has(refreshed, warehouse):
    # A weekend-only window has no red periods to price B28's 2 MWh of red import.
    _bad(
        refreshed,
        warehouse,
        {cell("window_start"): "2023-10-28", cell("window_end"): "2023-10-29"},
        block_cell("non_bess", "red_duos"),
        "no red period",
    )


def test_window_end_before_start(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("window_start"): "2023-12-31", cell("window_end"): "2023-01-01"},
        cell("window_end"),
        "before",
    )


def test_window_with_gaps_reports_the_missing_periods(refreshed, gappy_warehouse):
    # Mon-Sun, clocks back; a warehouse that lacks 2023-10-29 SP2-SP3
    set_cells(refreshed, {cell("window_start"): "2023-10-23", cell("window_end"): "2023-10-29"})
    outcome = refresh(XlsxWorkbook(refreshed), gappy_warehouse)
    assert outcome.ok
    ws = openpyxl.load_workbook(refreshed)["BESS"]
    assert "336 of 338 SPs priced" in ws[result_cell("prices_used", "notes")].value
    assert (
        "2 missing (filled linearly, gaps of up to 4 SPs): 2023-10-29 SP2-SP3"
        in ws[result_cell("prices_used", "notes")].value
    )
    assert "2 settlement period(s)" in ws[status_cell("notes")].value
    assert sum(outcome.prices.band_prices.period_count.values()) == 338  # filled, counted


def test_bess_duos_costed_in_p_per_kwh(refreshed, warehouse):
    # The seed's error: 362 MWh at "£2.05/MWh" = £742, i.e. 2.05 p/kWh typed as £/MWh.
    _bad(
        refreshed,
        warehouse,
        {block_cell("bess", "amber_duos", "cost"): 742, cell("duos_amber_p_per_kwh"): 2.05},
        block_cell("bess", "amber_duos", "cost"),
        "£2.05/MWh",
        "ten times below",
        "p/kWh typed where £/MWh is expected",
    )


def test_bess_levy_rate_in_p_per_kwh(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("ccl_gbp_per_mwh"): 0.775},
        cell("ccl_gbp_per_mwh"),
        "p/kWh typed where £/MWh is expected",
    )


def test_duos_rate_in_pounds_per_mwh(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("duos_red_p_per_kwh"): 176.40},
        cell("duos_red_p_per_kwh"),
        "£/MWh typed where p/kWh is expected",
    )


def test_red_below_amber(refreshed, warehouse):
    _bad(refreshed, warehouse, {cell("duos_red_p_per_kwh"): 1.764, cell("duos_amber_p_per_kwh"): 2.05},
         cell("duos_red_p_per_kwh"), "below amber")


def test_several_problems_are_reported_together(refreshed, warehouse):
    outcome = _bad(
        refreshed,
        warehouse,
        {cell("ppa_price_gbp_per_mwh"): "x", cell("round_trip_efficiency_pct"): 0},
        cell("round_trip_efficiency_pct"),
        f"and 1 more: {cell('ppa_price_gbp_per_mwh')}",
    )
    assert outcome.error.kind == "input"


def test_method_not_known(refreshed, warehouse):
    _bad(refreshed, warehouse, {cell("method"): "magic"}, cell("method"), "sheet, greedy, optimal")


def test_workbook_without_a_bess_tab(refreshed, warehouse):
    book = openpyxl.load_workbook(refreshed)
    book["BESS"].title = "Model"
    book.save(refreshed)
    before = refreshed.read_bytes()
    outcome = refresh(XlsxWorkbook(refreshed), warehouse)
    assert isinstance(outcome.error, LayoutError)
    assert "no 'BESS' tab" in outcome.status and "Model" in outcome.status
    assert refreshed.read_bytes() == before


def test_locked_workbook(refreshed, warehouse):
    lock = refreshed.with_name(f".~lock.{refreshed.name}#")
    lock.write_text("analyst,laptop,01.01.2026 09:00,")
    before = refreshed.read_bytes()
    outcome = refresh(XlsxWorkbook(refreshed), warehouse)
    assert isinstance(outcome.error, WorkbookUnavailableError)
    assert "open in another program" in outcome.status
    assert refreshed.read_bytes() == before


def test_missing_workbook(tmp_path, warehouse):
    outcome = refresh(XlsxWorkbook(tmp_path / "nope.xlsx"), warehouse)
    assert isinstance(outcome.error, WorkbookUnavailableError)
    assert "not found" in outcome.status and "btm-ppa template" in outcome.status
    assert not os.listdir(tmp_path)


def test_not_an_xlsx(tmp_path, warehouse):
    path = tmp_path / "notes.xlsx"
    path.write_text("not a workbook")
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert isinstance(outcome.error, WorkbookUnavailableError)
    assert path.read_text() == "not a workbook"


def test_formula_in_a_read_cell_without_a_saved_result(refreshed, warehouse):
    _bad(
        refreshed,
        warehouse,
        {cell("round_trip_efficiency_pct"): "=0.85*100"},
        cell("round_trip_efficiency_pct"),
        "formula with no saved result",
    )


def test_validate_reports_without_computing(refreshed, warehouse):
    from btm_ppa.refresh import validate

    before = cell_values(refreshed)
    outcome = validate(XlsxWorkbook(refreshed))
    assert outcome.ok and outcome.status.startswith("VALID:")
    assert cell_values(refreshed) == before  # nothing written
    set_cells(refreshed, {cell("round_trip_efficiency_pct"): 0})
    before = cell_values(refreshed)
    outcome = validate(XlsxWorkbook(refreshed))
    assert not outcome.ok and cell("round_trip_efficiency_pct") in outcome.status
    assert cell_values(refreshed) == before and not outcome.status_written  # nothing written
