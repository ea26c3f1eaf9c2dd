"""Charts of the tabs a refresh writes into a local workbook (openpyxl), from the port's
``ChartSpec``: lines or side-by-side bars over a table's columns, and lines on a
right-hand axis (a price beside MWh)."""

from __future__ import annotations

from openpyxl.chart import BarChart, LineChart, Reference

from btm_ppa.sheet.workbook import ChartSpec


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
