"""The sheet that guides (issue 23, item 13): every input of the layout gets a note and,
where its values are a fixed set or a range, a data validation (a drop-down, a range), in
the template and after any number of refreshes."""

from __future__ import annotations

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.forecast import PriceForecast
from btm_ppa.core.prices import PriceBasis
from btm_ppa.core.vocab import Method, VoltageLevel
from btm_ppa.reference.files import read_gsp_groups
from btm_ppa.refresh import refresh
from btm_ppa.sheet.guidance import block_guides, input_guides
from btm_ppa.sheet.template import build_template
from sheets_layout import Kind, load_bess_layout

LAYOUT = load_bess_layout()
AREAS = [g.name for g in read_gsp_groups()]


def _validations(ws) -> dict[str, object]:
    return {str(cell): dv for dv in ws.data_validations.dataValidation for cell in dv.sqref}


def test_the_fixed_sets_of_the_layout_are_what_the_inputs_accept():
    assert LAYOUT.input("method").choices == tuple(m.value for m in Method)
    assert LAYOUT.input("price_basis").choices == tuple(b.value for b in PriceBasis)
    assert LAYOUT.input("voltage_level").choices == tuple(v.value for v in VoltageLevel)
    assert LAYOUT.input("dno_area").choices_from == "gsp_groups"
    forecast = LAYOUT.input("price_forecast")  # realistic's forecast (B25)
    assert forecast.choices == tuple(f.value for f in PriceForecast)


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return build_template(tmp_path_factory.mktemp("guides") / "t.xlsx")


def test_every_input_has_a_note_with_its_meaning_unit_and_range(template):
    ws = openpyxl.load_workbook(template)["BESS"]
    for spec in LAYOUT.inputs:
        note = ws[spec.cell].comment
        assert note is not None, spec.cell
        assert spec.label in note.text and ("Required." in note.text or "Optional." in note.text)
        if spec.help:
            assert spec.help in note.text, spec.cell
        if spec.unit not in ("text", "date", "0-1"):
            assert spec.unit in note.text, spec.cell
        if spec.maximum is not None:
            assert f"{int(spec.maximum):,}" in note.text or f"{spec.maximum:g}" in note.text


def test_fixed_sets_are_drop_downs_and_numbers_and_dates_are_ranges(template):
    ws = openpyxl.load_workbook(template)["BESS"]
    rules = _validations(ws)
    for spec in LAYOUT.inputs:
        rule = rules.get(spec.cell)
        choices = AREAS if spec.choices_from else list(spec.choices)
        if choices:
            assert rule.type == "list" and rule.formula1.strip('"').split(",") == choices
            assert not rule.showDropDown  # openpyxl's name for "hide the arrow"
            # the area also takes ids (_G) and any case: other values are warned of
            assert rule.errorStyle in (("warning",) if spec.choices_from else (None, "stop"))
        elif spec.kind is Kind.DATE:
            assert rule.type == "date" and rule.operator == "between", spec.cell
        elif spec.minimum is not None and spec.maximum is not None:
            assert rule.type == "decimal" and rule.operator == "between", spec.cell
            low = spec.minimum / 100 if spec.kind is Kind.PERCENT else spec.minimum
            assert (float(rule.formula1), float(rule.formula2)) == (low, spec.maximum), spec.cell
        else:
            assert rule is None, spec.cell  # free text: a note only
    for guide in block_guides(LAYOUT):
        assert rules[guide.cell].type == "decimal" and ws[guide.cell].comment is not None


def test_an_input_the_layout_adds_is_guided_too():
    import dataclasses

    extra = dataclasses.replace(LAYOUT.input("method"), key="forecast", cell="B25",
                                label="Forecast", choices=("a", "b"), help="which forecast")
    layout = dataclasses.replace(LAYOUT, inputs=(*LAYOUT.inputs, extra))
    guide = {g.cell: g for g in input_guides(layout, AREAS)}["B25"]
    assert guide.choices == ("a", "b") and "which forecast" in guide.note


def test_the_guides_survive_a_refresh(example_xlsx, warehouse):
    before = openpyxl.load_workbook(example_xlsx)["BESS"]
    count = len(before.data_validations.dataValidation)
    assert count >= len([g for g in input_guides(LAYOUT, AREAS) if g.choices or g.minimum is not None])
    assert refresh(XlsxWorkbook(example_xlsx), warehouse).ok
    after = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert len(after.data_validations.dataValidation) == count
    assert after[LAYOUT.input("method").cell].comment.text == before[
        LAYOUT.input("method").cell].comment.text


def test_the_sheets_requests_carry_each_rule_and_note_and_never_a_value():
    from btm_ppa.adapters.sheets_guides import guide_requests

    guides = {g.cell: g for g in input_guides(LAYOUT, AREAS)}
    requests = guide_requests(42, list(guides.values()))
    rules = {_a1(r["setDataValidation"]["range"]): r["setDataValidation"]["rule"]
             for r in requests if "setDataValidation" in r}
    notes = {_a1(r["updateCells"]["range"]): r["updateCells"] for r in requests
             if "updateCells" in r}
    method = rules[LAYOUT.input("method").cell]
    assert method["condition"] == {"type": "ONE_OF_LIST", "values": [
        {"userEnteredValue": m.value} for m in Method]}
    assert method["strict"] and method["showCustomUi"]
    area = rules[LAYOUT.input("dno_area").cell]
    assert [v["userEnteredValue"] for v in area["condition"]["values"]] == AREAS
    assert not area["strict"]  # ids and any case are accepted too: a warning, not a refusal
    assert rules[LAYOUT.input("window_start").cell]["condition"] == {
        "type": "DATE_BETWEEN", "values": [{"userEnteredValue": "2001-01-01"},
                                           {"userEnteredValue": "2099-12-31"}]}
    assert rules[LAYOUT.input("ppa_price_gbp_per_mwh").cell]["condition"]["type"] == "NUMBER_BETWEEN"
    assert LAYOUT.input("mpan_core").cell not in rules  # free text: a note only
    assert set(notes) == set(guides)
    for cell, update in notes.items():
        assert update["fields"] == "note" and update["rows"] == [{"values": [
            {"note": guides[cell].note}]}]


def _a1(grid: dict) -> str:
    from sheets_layout import column_letters

    assert grid["sheetId"] == 42 and grid["endRowIndex"] == grid["startRowIndex"] + 1
    return f"{column_letters(grid['startColumnIndex'] + 1)}{grid['startRowIndex'] + 1}"


def test_a_refresh_on_google_sheets_guides_the_inputs_in_its_one_write(example_xlsx, warehouse):
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook
    from tests.sheets_standin import SheetsStandIn
    from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

    with SheetsStandIn(SHEET_ID, example_xlsx) as standin:
        typed = {spec.cell: standin.value("BESS", spec.cell) for spec in LAYOUT.inputs}
        assert standin.validation("BESS", LAYOUT.input("method").cell) is None
        outcome = refresh(SheetsWorkbook(SHEET_ID, loopback_client(standin), SA), warehouse)
        assert outcome.ok, outcome.status
        assert standin.count("batchUpdate") == 1  # the rules travel in the one write
        method = standin.validation("BESS", LAYOUT.input("method").cell)
        assert method["condition"] == {"type": "ONE_OF_LIST", "values": [
            {"userEnteredValue": m.value} for m in Method]} and method["showCustomUi"]
        ppa = standin.validation("BESS", LAYOUT.input("ppa_price_gbp_per_mwh").cell)
        assert ppa["condition"] == {"type": "NUMBER_BETWEEN", "values": [
            {"userEnteredValue": "0"}, {"userEnteredValue": "1000"}]}
        assert standin.validation("BESS", LAYOUT.input("window_end").cell)["condition"][
            "type"] == "DATE_BETWEEN"
        for spec in LAYOUT.inputs:
            assert spec.label in standin.note("BESS", spec.cell), spec.cell
        assert {spec.cell: standin.value("BESS", spec.cell) for spec in LAYOUT.inputs} == typed


def test_a_refused_refresh_on_google_sheets_leaves_the_guides_alone(example_xlsx, warehouse):
    """Only a tab whose layout matched gets them (after inserted rows they would land on
    the wrong cells)."""
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook
    from tests.conftest import set_cells
    from tests.sheets_standin import SheetsStandIn
    from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

    set_cells(example_xlsx, {LAYOUT.input("ppa_price_gbp_per_mwh").cell: "£1,2x"})
    with SheetsStandIn(SHEET_ID, example_xlsx) as standin:
        outcome = refresh(SheetsWorkbook(SHEET_ID, loopback_client(standin), SA), warehouse)
        assert not outcome.ok
        assert standin.validation("BESS", LAYOUT.input("method").cell) is None
        assert standin.note("BESS", LAYOUT.input("method").cell) is None
