"""Make a BESS workbook from the layout: labels, units, formats, display formulas, a
``Layout`` tab documenting every cell, and optionally the worked example's inputs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from openpyxl.styles import Font, PatternFill

from btm_ppa.sheet.example import EXAMPLE_BLOCKS, EXAMPLE_INPUTS
from sheets_layout import BessLayout, Kind, load_bess_layout

_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # analyst cells: pale yellow
_BOLD = Font(bold=True)
_FORMATS = {Kind.NUMBER: "#,##0.00", Kind.PERCENT: "0.0", Kind.DATE: "yyyy-mm-dd"}


def build_template(path: Path, *, example: bool = False,
                   layout: BessLayout | None = None) -> Path:
    """Write a new workbook at ``path`` (replacing any file there)."""
    layout = layout or load_bess_layout()
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = layout.tab_name
    ws["A1"] = "BtM PPA model"
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = ("Yellow cells are inputs. Rows 40-42 and 50-62 are written by the backend "
                "(BtM PPA > Refresh profits, or `btm-ppa refresh`). See the Layout tab.")
    ws["A5"], ws["E12"] = "Site", "Battery"
    ws["A19"], ws["A43"] = "Pricing", "PPA revenue"
    for cell in ("A5", "E12", "A19", "A43"):
        ws[cell].font = _BOLD

    for spec in layout.inputs:
        ws[spec.label_cell] = (spec.label if spec.label_cell != "A10"
                               else f"{spec.label} (p/kWh): Red, Amber, Green")
        if spec.label_cell != "A10" and spec.unit not in ("text", "date"):
            ws[spec.label_cell] = f"{spec.label} ({spec.unit})"
        ws[spec.cell].fill = _INPUT_FILL
        if spec.kind in _FORMATS:
            ws[spec.cell].number_format = _FORMATS[spec.kind]
        if example:
            ws[spec.cell] = EXAMPLE_INPUTS[spec.key]

    for anchor in layout.anchors:
        ws[anchor.cell] = anchor.text
        ws[anchor.cell].font = _BOLD
    nb, bess = layout.non_bess, layout.bess
    header_row = min(r.row for r in layout.block_rows) - 1
    for col, text in ((nb.label_column, "Non-BESS element"), (nb.volume_column, "Volume (MWh)"),
                      (nb.cost_column, "Cost (£)"), (bess.label_column, "BESS element"),
                      (bess.rate_column, "Rate (£/MWh)"),
                      (bess.volume_column, "Volume charged (MWh)"), (bess.cost_column, "Cost (£)")):
        ws[f"{col}{header_row}"] = text
        ws[f"{col}{header_row}"].font = _BOLD
    duos_inputs = {"red": "B10", "amber": "C10", "green": "D10"}
    for row in layout.block_rows:
        for block in (nb, bess):
            ws[f"{block.label_column}{row.row}"] = row.label
            vol, cost = block.volume_cell(row).cell, block.cost_cell(row).cell
            ws[vol].number_format, ws[cost].number_format = "#,##0.000", "£#,##0.00"
            ws[vol].fill = ws[cost].fill = _INPUT_FILL
        if row.band:  # display only: the backend reads B10:D10, never these
            ws[f"{bess.rate_column}{row.row}"] = f"={duos_inputs[row.band]}*10"
            ws[f"{bess.rate_column}{row.row}"].number_format = "#,##0.00"
        if example:
            v1, c1, v2, c2 = EXAMPLE_BLOCKS[row.key]
            ws[nb.volume_cell(row).cell], ws[nb.cost_cell(row).cell] = v1, c1
            ws[bess.volume_cell(row).cell], ws[bess.cost_cell(row).cell] = v2, c2

    levies = [r.row for r in layout.block_rows if r.group == "levies"]
    total_row = min(levies) - 1
    for block in (nb, bess):
        ws[f"{block.label_column}{total_row}"] = "Levies total (CCL + RO + FiT)"
        ws[f"{block.volume_column}{total_row}"] = f"={block.volume_column}{min(levies)}"
        ws[f"{block.cost_column}{total_row}"] = (
            f"=SUM({block.cost_column}{min(levies)}:{block.cost_column}{max(levies)})")
        ws[f"{block.cost_column}{total_row}"].number_format = "£#,##0.00"
        sb = layout.system_buy
        ws[f"{block.label_column}{sb['heading_row']}"] = sb["heading"]
        ws[f"{block.label_column}{sb['heading_row']}"].font = _BOLD
        for key, spec in layout.system_buy_cells(block).items():
            ws[spec.label_cell] = f"{spec.label} ({spec.unit})"
            ws[spec.cell].number_format = {"average": "#,##0.00", "volume": "#,##0.000",
                                           "cost": "£#,##0.00"}[key]

    _ppa_rows(ws, layout)
    _result_rows(ws, layout)
    _layout_tab(book, layout)
    for col, width in zip("ABCDEFGH", (38, 16, 16, 14, 30, 14, 20, 14), strict=True):
        ws.column_dimensions[col].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    book.save(path)
    return path


def _ppa_rows(ws, layout: BessLayout) -> None:
    p = layout.ppa
    v, r = p["volume_column"], p["revenue_column"]
    ws[f"{v}44"], ws[f"{r}44"] = "Volume (MWh)", "Revenue (£)"
    price = layout.input("ppa_price_gbp_per_mwh").cell
    nb, bess = layout.non_bess, layout.bess
    duos_rows = [row.row for row in layout.block_rows if row.band]
    lo, hi = min(duos_rows), max(duos_rows)
    rte = layout.input("round_trip_efficiency_pct").cell
    # Display formulas for the `sheet` method; greedy/optimal overwrite them with numbers.
    ws[f"A{p['stream1_row']}"] = "Stream 1: direct import"
    ws[f"{v}{p['stream1_row']}"] = f"=SUM({nb.volume_column}{lo}:{nb.volume_column}{hi})"
    ws[f"A{p['stream2_row']}"] = "Stream 2: battery discharge"
    ws[f"{v}{p['stream2_row']}"] = (
        f"=SUM({bess.volume_column}{lo}:{bess.volume_column}{hi})"
        f"*IF({rte}>1,{rte}/100,{rte})")
    ws[f"A{p['total_row']}"] = "Total PPA revenue"
    ws[f"{v}{p['total_row']}"] = f"={v}{p['stream1_row']}+{v}{p['stream2_row']}"
    for row in (p["stream1_row"], p["stream2_row"], p["total_row"]):
        ws[f"{r}{row}"] = f"={v}{row}*{price}"
        ws[f"{v}{row}"].number_format = "#,##0.000"
        ws[f"{r}{row}"].number_format = "£#,##0.00"


def _result_rows(ws, layout: BessLayout) -> None:
    for col, text in zip(layout.result_columns, layout.result_headers, strict=True):
        ws[f"{col}{layout.result_header_row}"] = text
        ws[f"{col}{layout.result_header_row}"].font = _BOLD
    for spec in layout.result_rows:
        ws[f"{layout.result_columns[0]}{spec.row}"] = spec.label
        ws[f"{layout.result_columns[-1]}{spec.row}"] = spec.unit if spec.unit != "text" else ""


def _layout_tab(book: openpyxl.Workbook, layout: BessLayout) -> None:
    doc = book.create_sheet("Layout")
    doc.append(["cell", "label cell", "expected label", "unit", "owner", "meaning"])
    for cell in doc[1]:
        cell.font = _BOLD
    for spec in layout.all_cells():
        doc.append([spec.cell, spec.label_cell, spec.label, spec.unit, spec.owner.value,
                    spec.help])
    for row in layout.result_rows:
        doc.append([f"A{row.row}:E{row.row}", "", row.label, row.unit, "backend", row.help])
    doc.append([])
    doc.append([f"made by btm-ppa on {dt.date.today()} from sheets_layout/bess.toml "
                f"(layout version {layout.version})"])
    doc.column_dimensions["C"].width = 32
    doc.column_dimensions["F"].width = 80
