"""A tab made with an older layout keeps working: the cells a later layout added (their
label and value both blank) read as blank; a label that is there must still match."""

from __future__ import annotations

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.refresh import refresh
from tests.conftest import cell_values

pytestmark = pytest.mark.e2e


def _added_after_layout_1(layout):
    return [spec for spec in layout.inputs if spec.since_layout > 1]


def _blank(path, addresses):
    book = openpyxl.load_workbook(path)
    for address in addresses:
        book["BESS"][address] = None
    book.save(path)


def test_a_layout_1_tab_without_the_site_charge_cells_refreshes_as_if_they_were_blank(
        example_xlsx, warehouse, layout):
    added = _added_after_layout_1(layout)
    assert {s.key for s in added} >= {"agreed_import_capacity_kva", "price_basis"}
    # blank values under the current layout (a 5.5 GWh LV site with no agreed capacity: the
    # aggregated tariff, band 4, whose residual is typed here as no table holds it)
    _blank(example_xlsx, [s.cell for s in added])
    fresh = refresh(XlsxWorkbook(example_xlsx), warehouse)
    _blank(example_xlsx, [c for s in added for c in (s.label_cell, s.cell)])
    older = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert older.status == fresh.status  # blank cells and missing cells read alike
    assert older.table == fresh.table


def test_a_wrong_label_in_an_added_cell_is_still_refused(example_xlsx, warehouse, layout):
    spec = _added_after_layout_1(layout)[0]
    book = openpyxl.load_workbook(example_xlsx)
    book["BESS"][spec.label_cell] = "Something else"
    book.save(example_xlsx)
    before = cell_values(example_xlsx, cell_range="A1:H49")
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and spec.label_cell in outcome.status
    assert cell_values(example_xlsx, cell_range="A1:H49") == before


def test_a_value_without_its_label_is_refused(example_xlsx, warehouse, layout):
    spec = next(s for s in _added_after_layout_1(layout) if s.key == "agreed_import_capacity_kva")
    book = openpyxl.load_workbook(example_xlsx)
    book["BESS"][spec.label_cell] = None
    book["BESS"][spec.cell] = 1500
    book.save(example_xlsx)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and spec.label_cell in outcome.status
