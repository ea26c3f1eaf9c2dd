"""Make a BESS workbook from the layout: labels, units, formats, display formulas, a
``Layout`` tab documenting every cell, and optionally the worked example's inputs.

Every address, heading and formula pattern comes from ``sheets_layout/bess.toml`` (its
cells and its ``[template]`` section); this module only places them.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import tomllib
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import openpyxl
from openpyxl.comments import Comment
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation

from btm_ppa.sheet.example import EXAMPLE_BLOCKS, EXAMPLE_INPUTS
from btm_ppa.sheet.guidance import InputGuide, block_guides, input_guides
from sheets_layout import BessLayout, DealLayout, Kind, load_bess_layout, load_deal_layout

_INPUT_FILL = PatternFill("solid", fgColor="FFF2CC")  # analyst cells: pale yellow
_BOLD = Font(bold=True)
_FORMATS = {Kind.NUMBER: "#,##0.00", Kind.PERCENT: "0.0", Kind.DATE: "yyyy-mm-dd"}


@functools.cache
def template_spec() -> dict[str, Any]:
    """The ``[template]`` section of the shipped ``bess.toml``."""
    text = resources.files("sheets_layout").joinpath("bess.toml").read_text(encoding="utf-8")
    return dict(tomllib.loads(text)["template"])


def build_template(path: Path, *, example: bool = False,
                   layout: BessLayout | None = None, deal: bool = False) -> Path:
    """Write a new workbook at ``path`` (replacing any file there); with ``deal``, a Deal
    tab too (then every refresh values the deal over its term)."""
    from btm_ppa.reference.files import read_gsp_groups  # the area drop-down's names

    layout = layout or load_bess_layout()
    spec = template_spec()
    formulas = spec["formulas"]
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = layout.tab_name
    ws[spec["title_cell"]] = spec["title"]
    ws[spec["title_cell"]].font = Font(bold=True, size=14)
    ws[spec["intro_cell"]] = spec["intro"]
    for heading in spec["headings"]:
        ws[heading["cell"]] = heading["text"]
        ws[heading["cell"]].font = _BOLD

    for cell_spec in layout.inputs:
        plain = cell_spec.unit in ("text", "date")
        ws[cell_spec.label_cell] = spec["labels"].get(
            cell_spec.label_cell,
            cell_spec.label if plain else f"{cell_spec.label} ({cell_spec.unit})")
        ws[cell_spec.cell].fill = _INPUT_FILL
        if cell_spec.kind in _FORMATS:
            ws[cell_spec.cell].number_format = _FORMATS[cell_spec.kind]
        if example:
            ws[cell_spec.cell] = EXAMPLE_INPUTS[cell_spec.key]

    for anchor in layout.anchors:
        ws[anchor.cell] = anchor.text
        ws[anchor.cell].font = _BOLD
    nb, bess = layout.non_bess, layout.bess
    header_row = min(r.row for r in layout.block_rows) - 1
    columns = ((nb.label_column, nb.volume_column, nb.cost_column),
               (bess.label_column, bess.rate_column, bess.volume_column, bess.cost_column))
    for cols, texts in zip(columns, (spec["non_bess_headers"], spec["bess_headers"]),
                           strict=True):
        for col, text in zip(cols, texts, strict=True):
            ws[f"{col}{header_row}"] = text
            ws[f"{col}{header_row}"].font = _BOLD
    for row in layout.block_rows:
        for block in (nb, bess):
            ws[f"{block.label_column}{row.row}"] = row.label
            vol, cost = block.volume_cell(row).cell, block.cost_cell(row).cell
            ws[vol].number_format, ws[cost].number_format = "#,##0.000", "£#,##0.00"
            ws[vol].fill = ws[cost].fill = _INPUT_FILL
        if row.band:  # display only: the backend reads the DUoS inputs, never these
            rate = layout.input(f"duos_{row.band}_p_per_kwh").cell
            ws[f"{bess.rate_column}{row.row}"] = formulas["duos_rate"].format(rate=rate)
            ws[f"{bess.rate_column}{row.row}"].number_format = "#,##0.00"
        if example and row.key in EXAMPLE_BLOCKS:
            v1, c1, v2, c2 = EXAMPLE_BLOCKS[row.key]
            ws[nb.volume_cell(row).cell], ws[nb.cost_cell(row).cell] = v1, c1
            ws[bess.volume_cell(row).cell], ws[bess.cost_cell(row).cell] = v2, c2

    levies = [r.row for r in layout.block_rows if r.group == "levies"]
    total_row = min(levies) - 1
    for block in (nb, bess):
        ws[f"{block.label_column}{total_row}"] = spec["levies_total_label"]
        ws[f"{block.volume_column}{total_row}"] = formulas["levies_volume"].format(
            first=f"{block.volume_column}{min(levies)}")
        ws[f"{block.cost_column}{total_row}"] = formulas["levies_cost"].format(
            first=f"{block.cost_column}{min(levies)}", last=f"{block.cost_column}{max(levies)}")
        ws[f"{block.cost_column}{total_row}"].number_format = "£#,##0.00"
        sb = layout.system_buy
        ws[f"{block.label_column}{sb['heading_row']}"] = sb["heading"]
        ws[f"{block.label_column}{sb['heading_row']}"].font = _BOLD
        for key, cell_spec in layout.system_buy_cells(block).items():
            ws[cell_spec.label_cell] = f"{cell_spec.label} ({cell_spec.unit})"
            ws[cell_spec.cell].number_format = {"average": "#,##0.00", "volume": "#,##0.000",
                                                "cost": "£#,##0.00"}[key]

    add_guides(ws, input_guides(layout, [g.name for g in read_gsp_groups()])
               + block_guides(layout))
    _ppa_rows(ws, layout)
    _result_rows(ws, layout)
    _layout_tab(book, layout)
    if deal:
        _deal_tab(book, load_deal_layout())
    for col, width in spec["column_widths"].items():
        ws.column_dimensions[col].width = width
    path.parent.mkdir(parents=True, exist_ok=True)
    _save_whole(book, path)
    return path


def _save_whole(book: openpyxl.Workbook, path: Path) -> None:
    """Save to a temporary file beside ``path`` and rename it over ``path``, so that a
    Ctrl-C or kill -9 mid-save (``--force`` over an existing workbook) leaves the old file
    or the new one, never half of one."""
    tmp = path.with_name(f".~btm-ppa-new-{os.getpid()}{path.suffix}")
    try:
        book.save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def add_guides(ws, guides: Sequence[InputGuide]) -> None:
    """Each input's note (a cell comment) and data validation: a drop-down for a fixed set,
    a range for a number or a date. Excel and LibreOffice show the note on hover, the
    drop-down's arrow on the cell, and the prompt when the cell is selected."""
    for guide in guides:
        ws[guide.cell].comment = Comment(guide.note, "btm-ppa", width=320, height=140)
        rule = _validation(guide)
        if rule is not None:
            ws.add_data_validation(rule)
            rule.add(guide.cell)


def _excel_day(day: dt.date) -> int:
    return (day - dt.date(1899, 12, 30)).days


def _validation(guide: InputGuide) -> DataValidation | None:
    common = {"allow_blank": True, "showErrorMessage": True, "showInputMessage": True,
              "errorTitle": guide.title, "error": guide.refusal[:255],
              "promptTitle": guide.title, "prompt": guide.note[:255]}
    if guide.choices:  # showDropDown=False shows the arrow (the attribute means "hide")
        return DataValidation(type="list", formula1='"' + ",".join(guide.choices) + '"',
                              showDropDown=False, errorStyle="stop" if guide.strict else "warning",
                              **common)
    if guide.kind is Kind.DATE and guide.earliest and guide.latest:
        return DataValidation(type="date", operator="between",
                              formula1=str(_excel_day(guide.earliest)),
                              formula2=str(_excel_day(guide.latest)), **common)
    if guide.minimum is not None and guide.maximum is not None:
        return DataValidation(type="decimal", operator="between", formula1=repr(guide.minimum),
                              formula2=repr(guide.maximum), **common)
    return None


def _ppa_rows(ws, layout: BessLayout) -> None:
    spec = template_spec()
    formulas = spec["formulas"]
    p = layout.ppa
    v, r = p["volume_column"], p["revenue_column"]
    header = spec["ppa_header_row"]
    ws[f"{v}{header}"], ws[f"{r}{header}"] = spec["ppa_headers"]
    price = layout.input("ppa_price_gbp_per_mwh").cell
    nb, bess = layout.non_bess, layout.bess
    duos_rows = [row.row for row in layout.block_rows if row.band]
    lo, hi = min(duos_rows), max(duos_rows)
    rte = layout.input("round_trip_efficiency_pct").cell
    rows = (p["stream1_row"], p["stream2_row"], p["total_row"])
    for row, label in zip(rows, spec["ppa_labels"], strict=True):
        ws[f"{nb.label_column}{row}"] = label
    # Display formulas for the `sheet` method; greedy/optimal overwrite them with numbers.
    ws[f"{v}{rows[0]}"] = formulas["stream1_volume"].format(
        first=f"{nb.volume_column}{lo}", last=f"{nb.volume_column}{hi}")
    ws[f"{v}{rows[1]}"] = formulas["stream2_volume"].format(
        first=f"{bess.volume_column}{lo}", last=f"{bess.volume_column}{hi}", rte=rte)
    ws[f"{v}{rows[2]}"] = formulas["total_volume"].format(s1=f"{v}{rows[0]}", s2=f"{v}{rows[1]}")
    for row in rows:
        ws[f"{r}{row}"] = formulas["revenue"].format(volume=f"{v}{row}", price=price)
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


def _deal_tab(book: openpyxl.Workbook, deal: DealLayout) -> None:
    """The Deal tab: every input with its default typed in, its unit and its source; the
    results are the backend's (written by each refresh of the BESS tab)."""
    ws = book.create_sheet(deal.tab_name, 1)
    ws["A1"] = deal.title
    ws["A1"].font = Font(bold=True, size=14)
    ws["A2"] = deal.intro
    for col, text in zip("ABCD", deal.headers, strict=True):
        ws[f"{col}{deal.header_row}"] = text
        ws[f"{col}{deal.header_row}"].font = _BOLD
    for spec in deal.inputs:
        ws[spec.label_cell] = spec.label
        ws[spec.cell] = spec.default
        ws[spec.cell].fill = _INPUT_FILL
        if spec.kind is Kind.NUMBER:
            ws[spec.cell].number_format = "0" if spec.integer else "#,##0.00##"
        ws[f"C{spec.row}"] = spec.unit
        shown = "blank" if spec.default is None else f"{spec.default:g}" if isinstance(
            spec.default, float | int) else spec.default
        ws[f"D{spec.row}"] = f"{shown}: {spec.source}"
    fade = deal.fade_table
    for col, text in zip((fade["efc_column"], fade["remaining_column"]), fade["headers"],
                         strict=True):
        ws[f"{col}{fade['header_row']}"] = text
        ws[f"{col}{fade['header_row']}"].font = _BOLD
        for row in range(int(fade["first_row"]), int(fade["last_row"]) + 1):
            ws[f"{col}{row}"].fill = _INPUT_FILL
    ws[f"A{deal.results['first_row']}"] = "Results"
    ws[f"A{deal.results['first_row']}"].font = _BOLD
    for col, width in {"A": 44, "B": 14, "C": 16, "D": 16, "E": 60, "F": 16, "G": 16}.items():
        ws.column_dimensions[col].width = width
    for index in range(8, 21):
        ws.column_dimensions[chr(ord("A") + index - 1)].width = 15
