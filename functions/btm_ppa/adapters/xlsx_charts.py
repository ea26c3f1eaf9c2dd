"""Charts of the tabs a refresh writes into a local workbook (openpyxl): from the port's
``ChartSpec`` (lines or side-by-side bars over a table's columns, and lines on a
right-hand axis), and the Deal tab's ``RangeChart``s and colour scale, replaced whole on
every write."""

from __future__ import annotations

from collections.abc import Sequence

import openpyxl
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.utils.cell import get_column_letter

from btm_ppa.sheet.workbook import ChartSpec, ColorScale, RangeChart


def xlsx_chart(sheet, spec: ChartSpec, last: int) -> LineChart | BarChart:
    """A line chart (or side-by-side bars) of the spec's columns, rows 2..last, with the
    secondary columns as lines on a right-hand axis."""
    def series(chart: LineChart | BarChart, columns: tuple[int, ...]) -> None:
        for column in columns:
            chart.add_data(Reference(sheet, min_col=column + 1, min_row=1, max_row=last),
                           titles_from_data=True)
        chart.set_categories(Reference(sheet, min_col=spec.x_column + 1, min_row=2, max_row=last))

    chart: LineChart | BarChart = BarChart() if spec.kind == "COLUMN" else LineChart()
    if isinstance(chart, BarChart):  # bars up and down from 0: the months' names below
        chart.type, chart.grouping, chart.x_axis.tickLblPos = "col", "clustered", "low"
    chart.title, chart.y_axis.title = spec.title, spec.y_title
    chart.height, chart.width = 12, 30
    series(chart, spec.series_columns)
    if spec.label_every:
        chart.x_axis.tickLblSkip = chart.x_axis.tickMarkSkip = spec.label_every
    if spec.x_format:
        chart.x_axis.number_format = spec.x_format
    if spec.secondary_columns:
        right = LineChart()
        series(right, spec.secondary_columns)
        right.y_axis.axId, right.y_axis.title, right.y_axis.crosses = 200, spec.secondary_title, "max"
        chart += right
    return chart


def replace_charts(book: openpyxl.Workbook, charts: Sequence[RangeChart | ColorScale]) -> None:
    """The charts and colour scales of each named tab, replacing what it had."""
    from openpyxl.formatting.formatting import ConditionalFormattingList
    from openpyxl.formatting.rule import ColorScaleRule

    for name in {c.tab for c in charts}:
        book[name]._charts = []
        book[name].conditional_formatting = ConditionalFormattingList()
    for spec in charts:
        sheet = book[spec.tab]
        if isinstance(spec, ColorScale):
            sheet.conditional_formatting.add(spec.cell_range, ColorScaleRule(
                start_type="min", start_color="F8696B", mid_type="percentile", mid_value=50,
                mid_color="FFEB84", end_type="max", end_color="63BE7B"))
            continue
        chart = BarChart() if spec.kind == "bar" else LineChart()
        chart.title, chart.y_axis.title, chart.x_axis.title = spec.title, spec.y_title, spec.x_title
        chart.height, chart.width = 10, 20
        categories = Reference(sheet, min_col=spec.category_column, min_row=spec.first_row,
                               max_row=spec.last_row)
        for column in spec.columns:
            chart.series.append(_series(sheet, spec, column))
        chart.set_categories(categories)
        chart.x_axis.delete = False
        chart.y_axis.delete = False
        chart.x_axis.tickLblPos = "low"  # year labels below the chart, not on the 0 line
        chart.y_axis.numFmt = "£#,##0"
        chart.legend.position = "b"
        if spec.line_columns:
            lines = LineChart()
            for column in spec.line_columns:
                lines.series.append(_series(sheet, spec, column))
            lines.set_categories(categories)
            chart += lines
        sheet.add_chart(chart, spec.anchor)


def _series(sheet, spec: RangeChart, column: int):
    """Rows ``first_row``-``last_row`` of a column, named by its ``header_row`` cell."""
    from openpyxl.chart import Series
    from openpyxl.chart.data_source import StrRef
    from openpyxl.chart.series import SeriesLabel

    values = Reference(sheet, min_col=column, min_row=spec.first_row, max_row=spec.last_row)
    series = Series(values)
    series.tx = SeriesLabel(strRef=StrRef(
        f"'{sheet.title}'!${get_column_letter(column)}${spec.header_row}"))
    series.smooth = False
    return series
