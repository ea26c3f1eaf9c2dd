"""Hostile cell values and tab shapes: each is refused naming the cell, the value and the
expected range with its unit; nothing but the status row changes; the analyst's tabs are
never written; a workbook survives any number of refreshes."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.entrypoints.cli import main
from btm_ppa.errors import ExitCode, InputError, InputErrors
from btm_ppa.refresh import refresh
from btm_ppa.sheet import cells as cellparse
from sheets_layout import Kind, Owner, load_bess_layout
from tests.conftest import (
    block_cell,
    cell,
    cell_values,
    ppa_cell,
    refresh_refused,
    set_cells,
    status_cell,
)

pytestmark = pytest.mark.e2e


class CountingWarehouse:
    """The session warehouse, recording each query it is asked."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.description = inner.description
        self.queries: list[str] = []

    def query(self, name, params=None):
        self.queries.append(name)
        return self.inner.query(name, params)


@pytest.fixture
def refreshed(example_xlsx, warehouse) -> Path:
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    return example_xlsx


def _refused(path: Path, warehouse, edits: dict, address: str, *fragments: str):
    """Refused by cell; only B62, D62 and E62 change (C62 keeps the method, or shows the
    method typed in ``edits``)."""
    outcome, changed = refresh_refused(path, warehouse, edits, address, *fragments)
    allowed = {status_cell(), status_cell("total"), status_cell("notes")} | (
        {status_cell("stream2")} if cell("method") in edits else set()
    )
    assert changed <= allowed, changed
    return outcome


# ------------------------------------------------------------- 1. ranges and sizes ----
def test_every_numeric_input_declares_a_plausible_range_with_its_unit():
    layout = load_bess_layout()
    for spec in layout.all_cells():
        if spec.owner is Owner.BACKEND:
            continue
        if spec.kind is Kind.NUMBER:
            assert spec.minimum is not None and spec.maximum is not None, spec.key
            assert spec.minimum < spec.maximum and spec.unit, spec.key
        if spec.kind is Kind.DATE:
            assert spec.earliest is not None and spec.latest is not None, spec.key


@pytest.mark.parametrize(
    "address, value, unit",
    [
        (block_cell("non_bess", "red_duos", "cost"), 1e23, "£"),
        (block_cell("bess", "amber_duos"), 1e300, "MWh"),
        (cell("export_power_kw"), 1e300, "kW"),
        (cell("duration_h"), 1e300, "h"),
        (cell("ppa_price_gbp_per_mwh"), 10**30, "£/MWh"),
        (cell("vlp_payment_gbp_per_mwh"), -1e12, "£/MWh"),
    ],
)
def test_absurd_magnitudes_are_refused_with_the_range(refreshed, warehouse, address, value, unit):
    edits = {address: value}
    if address in (cell("export_power_kw"), cell("duration_h")):
        edits |= {cell("method"): "optimal", cell("annual_demand_mwh"): 5500}
    _refused(refreshed, warehouse, edits, address, unit, "at most")


def test_huge_battery_under_optimal_is_refused_not_crashed(refreshed, warehouse, capsys):
    set_cells(
        refreshed,
        {
            cell("method"): "optimal",
            cell("annual_demand_mwh"): 5500,
            cell("export_power_kw"): 1e300,
            cell("duration_h"): 1e300,
        },
    )
    assert main(["refresh", "--workbook", str(refreshed),
                 "--warehouse", str(warehouse.path)]) == ExitCode.INPUT
    out = " ".join(capsys.readouterr().out.split())
    assert cell("export_power_kw") in out and cell("duration_h") in out and "Traceback" not in out


@pytest.mark.parametrize("start, end, address", [
    ("0001-01-01", "9999-12-31", cell("window_start")), ("2001-01-01", "2024-05-30", cell("window_start")),
])
def test_a_window_too_long_is_refused_from_its_dates_before_any_price_is_fetched(
        refreshed, warehouse, start, end, address):
    counting = CountingWarehouse(warehouse)
    set_cells(refreshed, {cell("window_start"): start, cell("window_end"): end})
    outcome = refresh(XlsxWorkbook(refreshed), counting)
    assert isinstance(outcome.error, InputError | InputErrors) and address in outcome.status
    assert counting.queries == []


def test_a_defaulted_end_is_checked_before_the_window_is_fetched(refreshed, warehouse):
    counting = CountingWarehouse(warehouse)
    set_cells(refreshed, {cell("window_start"): "2001-01-01", cell("window_end"): None})
    outcome = refresh(XlsxWorkbook(refreshed), counting)
    assert isinstance(outcome.error, InputError) and outcome.error.cell == cell("window_start")
    assert "too long" in outcome.status and "1,830 days" in outcome.status
    assert "system_prices_window" not in counting.queries


# ------------------------------------------------------ 6. formulas in input cells ----
def _with_saved_result(path: Path, address: str, formula: str, result: float) -> None:
    """Put a formula and its saved result in a cell, as Excel or LibreOffice save them."""
    book = openpyxl.load_workbook(path)
    book["BESS"][address] = formula
    book.save(path)
    with zipfile.ZipFile(path) as archive:
        items = {i.filename: archive.read(i.filename) for i in archive.infolist()}
    member = "xl/worksheets/sheet1.xml"
    xml = items[member].decode()
    xml, count = re.subn(rf'(<c r="{address}"[^>]*><f>[^<]*</f>)<v ?/>',
                         rf"\g<1><v>{result!r}</v>", xml)
    assert count == 1
    items[member] = xml.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for name, data in items.items():
            out.writestr(name, data)


def test_a_formula_input_with_a_saved_result_survives_any_number_of_refreshes(
        example_xlsx, warehouse):
    _with_saved_result(example_xlsx, cell("ppa_price_gbp_per_mwh"), "=100+50", 150.0)
    first = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert first.ok, first.status
    for _ in range(3):
        again = refresh(XlsxWorkbook(example_xlsx), warehouse)
        assert again.ok, again.status
        assert again.table.total.ppa_revenue_gbp == first.table.total.ppa_revenue_gbp
    assert openpyxl.load_workbook(example_xlsx)["BESS"][cell("ppa_price_gbp_per_mwh")].value == "=100+50"
    assert (
        openpyxl.load_workbook(example_xlsx, data_only=True)["BESS"][
            cell("ppa_price_gbp_per_mwh")
        ].value
        == 150
    )


def test_a_formula_input_without_a_result_names_the_cell_and_does_not_break_the_next(
        refreshed, warehouse):
    _refused(
        refreshed,
        warehouse,
        {cell("ppa_price_gbp_per_mwh"): "=B44*2"},
        cell("ppa_price_gbp_per_mwh"),
        "formula",
        "saved result",
    )
    set_cells(refreshed, {cell("ppa_price_gbp_per_mwh"): 150})
    assert refresh(XlsxWorkbook(refreshed), warehouse).ok


# ------------------------------------------------------------ 7. inserted columns ----
def test_a_column_inserted_at_a_moves_the_status_with_it(refreshed, warehouse):
    book = openpyxl.load_workbook(refreshed)
    book["BESS"].insert_cols(1)
    book.save(refreshed)
    before = cell_values(refreshed)
    outcome = refresh(XlsxWorkbook(refreshed), warehouse)
    assert not outcome.ok and outcome.error.kind == "layout"
    assert "column(s) seem to have been inserted" in outcome.status
    after = cell_values(refreshed)
    assert after["C62"].startswith("ERROR: ")  # the moved status cell no longer says OK
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {"C62", "E62", "F62"}, changed


# --------------------------------------------------------- 8. tabs that are not BESS ----
def test_a_tab_that_is_not_a_bess_tab_is_never_written(refreshed, warehouse, capsys):
    book = openpyxl.load_workbook(refreshed)
    notes = book.create_sheet("Notes")
    notes["A1"] = "My notes"
    book.save(refreshed)
    assert main(["refresh", "--workbook", str(refreshed), "--tab", "Notes",
                 "--warehouse", str(warehouse.path)]) == ExitCode.INPUT
    assert "nothing was written" in capsys.readouterr().out
    sheet = openpyxl.load_workbook(refreshed)["Notes"]
    assert [[c.value for c in row] for row in sheet.iter_rows()] == [["My notes"]]


# --------------------------------------------------- 11. switching method to sheet ----
def test_switching_optimal_to_sheet_leaves_no_optimal_figures(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "optimal", cell("annual_demand_mwh"): 5500})
    optimal = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert optimal.ok
    # Under sheet the blocks are analyst inputs again: the example's.
    from btm_ppa.sheet.example import EXAMPLE_BLOCKS

    layout = load_bess_layout()
    values: dict[str, object] = {cell("method"): "sheet"}
    for key, (v1, c1, v2, c2) in EXAMPLE_BLOCKS.items():
        row = layout.block_row(key)
        values |= {layout.non_bess.volume_cell(row).cell: v1,
                   layout.non_bess.cost_cell(row).cell: c1,
                   layout.bess.volume_cell(row).cell: v2, layout.bess.cost_cell(row).cell: c2}
    set_cells(example_xlsx, values)
    sheet = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert sheet.ok
    book = openpyxl.load_workbook(example_xlsx)
    ws = book["BESS"]
    for row, result in ((46, sheet.table.stream1), (47, sheet.table.stream2),
                        (48, sheet.table.total)):
        assert ws[f"B{row}"].value == pytest.approx(result.volume_mwh)
        assert ws[f"C{row}"].value == pytest.approx(float(result.ppa_revenue_gbp))
    assert ws[ppa_cell("total")].value != pytest.approx(optimal.table.total.volume_mwh)
    dispatch = [[c.value for c in r] for r in book["Dispatch"].iter_rows()]
    assert len(dispatch) == 1 and "sheet method" in dispatch[0][0]


def test_a_sheet_refresh_keeps_the_templates_display_formulas(example_xlsx, warehouse):
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert str(ws[ppa_cell("stream1")].value).startswith("=SUM(") and str(
        ws[ppa_cell("total", "revenue")].value
    ).startswith("=")
    assert "Dispatch" not in openpyxl.load_workbook(example_xlsx).sheetnames


# ---------------------------------------------------------------- 12. PPA price ----
@pytest.mark.parametrize("price", [-5, -0.01])
def test_a_negative_ppa_price_is_refused(refreshed, warehouse, price):
    _refused(
        refreshed,
        warehouse,
        {cell("ppa_price_gbp_per_mwh"): price},
        cell("ppa_price_gbp_per_mwh"),
        "is negative",
        "£/MWh",
    )


# ------------------------------------------------------------------- 13. details ----
def test_each_other_cell_is_listed_once(refreshed, warehouse):
    errors = [
        InputError(cell("ppa_price_gbp_per_mwh"), "x", "a number"),
        InputError(cell("ppa_price_gbp_per_mwh"), "y", "a number"),
        InputError(cell("round_trip_efficiency_pct"), 0, "a percentage"),
        InputError(cell("round_trip_efficiency_pct"), 0, "a percentage"),
    ]
    assert InputErrors(errors).message.endswith(f"(and 1 more: {cell('round_trip_efficiency_pct')})")
    _refused(
        refreshed,
        warehouse,
        {
            cell("ppa_price_gbp_per_mwh"): "x",
            cell("round_trip_efficiency_pct"): 0,
            cell("vlp_payment_gbp_per_mwh"): "y",
        },
        cell("round_trip_efficiency_pct"),
        f"(and 2 more: {cell('vlp_payment_gbp_per_mwh')}, {cell('ppa_price_gbp_per_mwh')})",
    )


@pytest.mark.parametrize("text, pct", [("85%", 85.0), (" 85 % ", 85.0), ("0.5%", 0.5)])
def test_a_percentage_typed_as_text_reads_as_the_message_suggests(text, pct):
    assert cellparse.parse_percent("F17", text, required=True) == pytest.approx(pct)


def test_85_percent_as_text_refreshes(refreshed, warehouse):
    set_cells(refreshed, {cell("round_trip_efficiency_pct"): "85%"})
    assert refresh(XlsxWorkbook(refreshed), warehouse).ok


def test_a_reversed_window_is_a_wrong_cell_exit_3(refreshed, warehouse, capsys):
    set_cells(refreshed, {cell("window_start"): "2023-12-31", cell("window_end"): "2023-01-01"})
    assert main(["refresh", "--workbook", str(refreshed),
                 "--warehouse", str(warehouse.path)]) == ExitCode.INPUT
    assert cell("window_end") in capsys.readouterr().out


def test_the_method_cell_of_the_status_row_is_kept_on_input_errors(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "greedy", cell("annual_demand_mwh"): 5500})
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    set_cells(example_xlsx, {cell("ppa_price_gbp_per_mwh"): "oops"})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert (
        ws[status_cell("stream2")].value == "greedy"
        and cell("ppa_price_gbp_per_mwh") in ws[status_cell()].value
    )


# ------------------------------------------------ 1. a bug never leaves "OK" standing ----
class BrokenWarehouse(CountingWarehouse):
    def query(self, name, params=None):
        raise RuntimeError("a bug in a warehouse adapter")


def test_a_crash_while_computing_is_reported_in_the_status_row(refreshed, warehouse, capsys):
    before = cell_values(refreshed)
    outcome = refresh(XlsxWorkbook(refreshed), BrokenWarehouse(warehouse))
    assert not outcome.ok and outcome.error.kind == "internal"
    after = cell_values(refreshed)
    assert after[status_cell()].startswith("ERROR: internal error (RuntimeError)")
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert changed <= {status_cell(), status_cell("total"), status_cell("notes")}, changed
    from btm_ppa.errors import ExitCode, exit_code_for, http_status_for

    assert (exit_code_for(outcome.error), http_status_for(outcome.error)) == (
        ExitCode.INTERNAL, 500)
