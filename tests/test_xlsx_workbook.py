import datetime as dt

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.errors import WorkbookUnavailableError
from btm_ppa.sheet.workbook import CellWrite
from tests.conftest import cell, result_cell, status_cell


def test_round_trip_reads_back_numbers_dates_text_and_formats(example_xlsx):
    book = XlsxWorkbook(example_xlsx)
    stamp = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    revenue, vlp = result_cell("ppa_revenue_gbp", "stream1"), result_cell("vlp_revenue_gbp", "stream1")
    book.write("BESS", [CellWrite(revenue, 1234.56, "£#,##0.00"), CellWrite(status_cell(), "OK"),
                        CellWrite(status_cell("total"), stamp, "yyyy-mm-dd hh:mm:ss"),
                        CellWrite(vlp, None)])
    snap = book.read("BESS", "A1:H62", optional_tabs=("HH Data", "Layout"))
    assert snap.get(revenue) == 1234.56 and snap.get(status_cell()) == "OK"
    assert snap.get(status_cell("total")) == dt.datetime(2026, 1, 2, 3, 4, 5)  # stored as UTC, no zone
    assert snap.get(vlp) is None
    assert (snap.get(cell("ppa_price_gbp_per_mwh")) == 150
            and snap.get(cell("window_start")) == dt.datetime(2023, 4, 1))
    assert "Layout" in snap.tables and "HH Data" not in snap.tables
    assert snap.tab_names == ("BESS", "Layout")
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert ws[revenue].number_format == "£#,##0.00"


def test_display_formulas_survive_a_write(example_xlsx, layout):
    XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(result_cell("ppa_revenue_gbp", "stream1"), 1.0)])
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    amber_rate = f"{layout.bess.rate_column}{layout.block_row('amber_duos').row}"
    assert ws[amber_rate].value == "=C10*10"
    assert ws["C34"].value == "=SUM(C35:C38)"  # CCL, RO, FiT, other levies


def test_a_failed_save_leaves_the_original_file_whole(example_xlsx, monkeypatch):
    before = example_xlsx.read_bytes()

    def broken_save(self, filename):
        with open(filename, "wb") as fh:
            fh.write(b"half a workbook")
        raise OSError("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(WorkbookUnavailableError, match="could not be saved: disk full"):
        XlsxWorkbook(example_xlsx).write("BESS", [CellWrite(result_cell("ppa_revenue_gbp", "stream1"), 1.0)])
    assert example_xlsx.read_bytes() == before
    assert sorted(p.name for p in example_xlsx.parent.iterdir()) == [example_xlsx.name]


def test_excel_lock_file_blocks_reads_and_writes(example_xlsx):
    example_xlsx.with_name(f"~${example_xlsx.name}").write_bytes(b"owner")
    book = XlsxWorkbook(example_xlsx)
    with pytest.raises(WorkbookUnavailableError, match="open in another program"):
        book.read("BESS", "A1:B2")
    with pytest.raises(WorkbookUnavailableError, match="open in another program"):
        book.write("BESS", [])
