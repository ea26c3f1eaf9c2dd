"""The Deal tab's charts and sizing heatmap on Google Sheets, as requests of the refresh's
one ``spreadsheets.batchUpdate`` (after the cells, so they chart the values written).

- ``RangeChart`` -> ``addChart`` of an ``EmbeddedChart`` with a ``basicChart`` (COLUMN, or
  COMBO when lines go over the bars, or LINE) whose domain and series are ``GridRange``s of
  the tab; the series names come from the header row (``headerCount`` 1: a header row that
  is not next to the data is joined to it as a second source range, as the API allows for
  ranges in order and aligned across the domain and every series).
- ``ColorScale`` -> ``addConditionalFormatRule`` with a ``gradientRule`` (red low, yellow
  the median, green high: the .xlsx heatmap's colours).

Re-run safe: each chart gets a fixed id per (tab, number) and the tab's charts and colour
scales of an earlier refresh are deleted first (``deleteEmbeddedObject`` by the ids we give;
``deleteConditionalFormatRule`` by index for rules carrying our colours exactly), so they are
replaced, never piled up; an analyst's own charts and rules are left alone.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from gspread.utils import a1_range_to_grid_range, a1_to_rowcol

from btm_ppa.sheet.workbook import AnyChart, ColorScale, RangeChart

#: Charts a tab may carry from us (ids for numbers beyond those written are cleared too).
MAX_CHARTS_PER_TAB = 8
CHART_WIDTH_PX, CHART_HEIGHT_PX = 760, 420


def _rgb(hex_colour: str) -> dict[str, float]:
    return {k: int(hex_colour[i:i + 2], 16) / 255 for k, i in (("red", 0), ("green", 2),
                                                                ("blue", 4))}


#: The heatmap's gradient: the .xlsx one (``xlsx_charts``), and our rules' signature.
GRADIENT: dict[str, dict[str, Any]] = {
    "minpoint": {"color": _rgb("F8696B"), "type": "MIN"},
    "midpoint": {"color": _rgb("FFEB84"), "type": "PERCENTILE", "value": "50"},
    "maxpoint": {"color": _rgb("63BE7B"), "type": "MAX"},
}


class Batch(Protocol):  # adapters.sheets_workbook.SheetsBatch
    charts: dict[str, set[int]]

    def add(self, request: Mapping[str, Any]) -> None: ...
    def sheet_id(self, title: str) -> int: ...
    def grow(self, title: str, rows: int, columns: int) -> None: ...


def chart_id(tab: str, number: int) -> int:
    """The fixed id of our ``number``-th chart on ``tab`` (a positive int32)."""
    return zlib.crc32(f"btm-ppa deal chart {number} {tab}".encode()) % 2_000_000_000 + 1


def is_ours(rule: Mapping[str, Any]) -> bool:
    """A conditional format rule we wrote: a gradient with our colours, point for point."""
    gradient = rule.get("gradientRule")
    if not isinstance(gradient, Mapping):
        return False
    for name, want in GRADIENT.items():
        got = gradient.get(name) or {}
        colour = got.get("color") or {}
        if got.get("type") != want["type"] or str(got.get("value", "")) != want.get("value", "") \
                or any(abs(colour.get(k, 0.0) - v) > 1e-3 for k, v in want["color"].items()):
            return False
    return True


def add_charts(batch: Batch, charts: Sequence[AnyChart],
               rules: Mapping[str, Sequence[Mapping[str, Any]]]) -> None:
    """Replace the charts and colour scales of every tab ``charts`` names: delete ours of
    an earlier write (``rules``: each tab's conditional format rules as read), then add."""
    for tab in dict.fromkeys(c.tab for c in charts):
        sheet_id = batch.sheet_id(tab)
        present = batch.charts.setdefault(tab, set())
        for number in range(MAX_CHARTS_PER_TAB):
            if (cid := chart_id(tab, number)) in present:
                batch.add({"deleteEmbeddedObject": {"objectId": cid}})
                present.discard(cid)
        ours = [i for i, rule in enumerate(rules.get(tab, ())) if is_ours(rule)]
        for index in reversed(ours):  # later indexes first: a delete shifts those after it
            batch.add({"deleteConditionalFormatRule": {"sheetId": sheet_id, "index": index}})
        number = 0
        for spec in (c for c in charts if c.tab == tab):
            if isinstance(spec, ColorScale):
                grid = {"sheetId": sheet_id, **a1_range_to_grid_range(spec.cell_range)}
                batch.grow(tab, grid["endRowIndex"], grid["endColumnIndex"])
                batch.add({"addConditionalFormatRule": {"index": 0, "rule": {
                    "ranges": [grid], "gradientRule": GRADIENT}}})
                continue
            cid = chart_id(tab, number)
            number += 1
            row, column = a1_to_rowcol(spec.anchor)
            batch.grow(tab, max(row, spec.last_row), max(column, *spec.columns,
                                                         *spec.line_columns))
            batch.add({"addChart": {"chart": {
                "chartId": cid, "spec": basic_chart(spec, sheet_id),
                "position": {"overlayPosition": {
                    "anchorCell": {"sheetId": sheet_id, "rowIndex": row - 1,
                                   "columnIndex": column - 1},
                    "widthPixels": CHART_WIDTH_PX, "heightPixels": CHART_HEIGHT_PX}}}}})
            present.add(cid)


def basic_chart(spec: RangeChart, sheet_id: int) -> dict[str, Any]:
    """The ``ChartSpec`` of a range chart: bars (COLUMN), with lines over them (COMBO), or
    lines; the header row names the series."""

    def data(column: int) -> dict[str, Any]:
        def rows(first: int, last: int) -> dict[str, Any]:
            return {"sheetId": sheet_id, "startRowIndex": first - 1, "endRowIndex": last,
                    "startColumnIndex": column - 1, "endColumnIndex": column}

        if spec.header_row == spec.first_row - 1:
            sources = [rows(spec.header_row, spec.last_row)]
        else:  # a header apart from the data (the capex year left out between)
            sources = [rows(spec.header_row, spec.header_row), rows(spec.first_row, spec.last_row)]
        return {"sourceRange": {"sources": sources}}

    bars = spec.kind == "bar"
    kind = ("COMBO" if spec.line_columns else "COLUMN") if bars else "LINE"
    series = [{"series": data(c), "targetAxis": "LEFT_AXIS", **({"type": "COLUMN"} if kind ==
                                                                 "COMBO" else {})}
              for c in spec.columns]
    series += [{"series": data(c), "targetAxis": "LEFT_AXIS", "type": "LINE"}
               for c in spec.line_columns]
    return {"title": spec.title, "basicChart": {
        "chartType": kind, "legendPosition": "BOTTOM_LEGEND", "headerCount": 1,
        "axis": [{"position": "BOTTOM_AXIS", "title": spec.x_title},
                 {"position": "LEFT_AXIS", "title": spec.y_title}],
        "domains": [{"domain": data(spec.category_column)}], "series": series}}
