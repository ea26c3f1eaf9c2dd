"""The saved results of formulas, kept through a save by openpyxl.

openpyxl reads a formula's text or its saved result, never both, and saves every formula
with an empty result; a file it saved then reads as "a formula with no result" everywhere
until a spreadsheet program recomputes it. So before a save the results the file holds
are read (``formula_results``) and after it they are written back into the saved file's
XML (``put_back_results``), on every tab: the tab the backend wrote (except the cells it
wrote), HH Data, the Deal tab, an analyst's own tabs. Tabs replaced whole are left out
(their formulas are the backend's, with no result yet).
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
import zipfile
from collections.abc import Mapping, Set
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape

import openpyxl
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.utils.cell import get_column_letter
from openpyxl.utils.datetime import to_excel

from btm_ppa.sheet.workbook import CellValue

#: Saved results by tab, then by cell address.
Results = Mapping[str, Mapping[str, CellValue]]


def formula_results(book: openpyxl.Workbook, saved: Path,
                    written: Mapping[str, Set[str]], replaced: Set[str]) -> dict[
                        str, dict[str, CellValue]]:
    """The results ``saved`` holds for the formulas of ``book`` (the same file, loaded
    with formulas) that stay: not in a tab of ``replaced``, not a cell of ``written``."""
    formulas: dict[str, set[tuple[int, int]]] = {}
    for sheet in book.worksheets:
        if sheet.title in replaced:
            continue
        skip = written.get(sheet.title, set())
        found = {(cell.row, cell.column) for row in sheet.iter_rows() for cell in row
                 if cell.data_type == "f" and cell.coordinate not in skip}
        if found:
            formulas[sheet.title] = found
    if not formulas:
        return {}
    values = openpyxl.load_workbook(saved, data_only=True, read_only=True)
    try:
        results: dict[str, dict[str, CellValue]] = {}
        for title, cells in formulas.items():
            if title not in values.sheetnames:
                continue
            rows = values[title].iter_rows(min_row=1, max_row=max(r for r, _ in cells),
                                           min_col=1, max_col=max(c for _, c in cells),
                                           values_only=True)
            kept = {}
            for r, row in enumerate(rows, start=1):
                for c, value in enumerate(row, start=1):
                    if value is not None and (r, c) in cells:
                        kept[f"{get_column_letter(c)}{r}"] = value
            if kept:
                results[title] = kept
        return results
    finally:
        values.close()


def _sheet_members(archive: zipfile.ZipFile) -> dict[str, str]:
    """The zip member holding each tab's cells, by tab name."""
    main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    rel_ns = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    workbook = ET.fromstring(archive.read("xl/workbook.xml"))
    ids = {s.get(f"{rel_ns}id"): s.get("name", "") for s in workbook.iter(f"{main}sheet")}
    members: dict[str, str] = {}
    for rel in ET.fromstring(archive.read("xl/_rels/workbook.xml.rels")):
        if rel.get("Id") in ids:
            target = rel.get("Target", "")
            members[ids[rel.get("Id")]] = (target.lstrip("/") if target.startswith("/")
                                           else str(PurePosixPath("xl") / target))
    return members


_FORMULA_CELL = re.compile(
    r'<c r="([A-Z]{1,3}\d+)"((?: [A-Za-z:]+="[^"]*")*)>(<f(?: [^>]*)?>[^<]*</f>)<v ?/></c>')


def _result_xml(address: str, attrs: str, formula: str, value: CellValue) -> str:
    attrs = re.sub(r' t="[^"]*"', "", attrs)
    if isinstance(value, bool):
        kind, text = "b", "1" if value else "0"
    elif isinstance(value, int | float):
        kind, text = "", repr(float(value)) if isinstance(value, float) else str(value)
    elif isinstance(value, dt.datetime | dt.date | dt.time | dt.timedelta):
        kind, text = "", repr(float(to_excel(value)))
    elif isinstance(value, str) and value in ERROR_CODES:
        kind, text = "e", escape(value)
    else:
        kind, text = "str", escape(str(value))
    t = f' t="{kind}"' if kind else ""
    return f'<c r="{address}"{attrs}{t}>{formula}<v>{text}</v></c>'


def put_back_results(path: Path, cached: Results) -> None:
    """Write the saved results ``cached`` back into the file openpyxl saved at ``path``
    (it writes every formula with an empty result)."""
    with zipfile.ZipFile(path) as archive:
        members = _sheet_members(archive)
        names = set(archive.namelist())
        patched: dict[str, bytes] = {}
        for tab, results in cached.items():
            member = members.get(tab)
            if not results or member is None or member not in names:
                continue
            xml = archive.read(member).decode("utf-8")

            def put_back(match: re.Match[str], results: Mapping[str, CellValue] = results
                         ) -> str:
                address, attrs, formula = match.groups()
                if address not in results:
                    return match.group(0)
                return _result_xml(address, attrs, formula, results[address])

            new = _FORMULA_CELL.sub(put_back, xml)
            if new != xml:
                patched[member] = new.encode("utf-8")
        if not patched:
            return
        items = [(info, archive.read(info.filename)) for info in archive.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info, data in items:
            out.writestr(info, patched.get(info.filename, data))
