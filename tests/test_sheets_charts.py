"""The Deal tab's charts and heatmap on Google Sheets (issue 25): in the refresh's one
batchUpdate, replaced (not piled up) on a re-run, an analyst's own left alone; and the
stand-in refusing what the Sheets API reference says Google refuses."""

from __future__ import annotations

import pytest

from btm_ppa.adapters.retry import RetryPolicy
from btm_ppa.adapters.sheets_charts import GRADIENT, chart_id
from btm_ppa.sheet.workbook import CellWrite, ColorScale, RangeChart
from tests.sheets_standin import SheetsStandIn
from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client


@pytest.fixture
def standin(example_xlsx):
    with SheetsStandIn(SHEET_ID, example_xlsx) as server:
        server.add_tab("Deal")
        yield server


def _book(standin):
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook

    book = SheetsWorkbook(SHEET_ID, loopback_client(standin), SA)
    book.read("BESS", "A1:D70", optional_tabs=("Deal",))
    return book


def _charts(sizing: bool = True) -> list:
    """What ``deal_outputs`` makes: net cash flow bars + the P90/P10 lines, the cumulative
    lines, the sizing table's colour scale."""
    out = [RangeChart(tab="Deal", title="Net cash flow", anchor="H40", kind="bar",
                      header_row=120, first_row=122, last_row=130, category_column=1,
                      columns=(11,), line_columns=(10, 12), y_title="£", x_title="year"),
           RangeChart(tab="Deal", title="Cumulative", anchor="H64", kind="line",
                      header_row=70, first_row=71, last_row=79, category_column=1,
                      columns=(16, 17), y_title="£", x_title="year")]
    return out + ([ColorScale("Deal", "B140:F144")] if sizing else [])


def _write(standin, charts, value=1.0):
    _book(standin).write("BESS", [CellWrite("B130", value, tab="Deal")], charts=charts)


def test_the_deal_charts_and_heatmap_go_in_the_one_write(standin):
    _write(standin, _charts())
    assert standin.count("batchUpdate") == 1
    assert standin.value("Deal", "B130") == 1.0
    specs = {c["title"]: c["basicChart"] for c in standin.charts("Deal")}
    bars, lines = specs["Net cash flow"], specs["Cumulative"]
    assert bars["chartType"] == "COMBO" and lines["chartType"] == "LINE"
    assert [s["type"] for s in bars["series"]] == ["COLUMN", "LINE", "LINE"]
    # the bars skip year 0 (row 121): the header cell and the data rows as two sources
    sources = bars["series"][0]["series"]["sourceRange"]["sources"]
    assert [(s["startRowIndex"], s["endRowIndex"]) for s in sources] == [(119, 120), (121, 130)]
    assert sources[0]["startColumnIndex"] == 10  # column K, 0-based
    [rule] = standin.rules("Deal")
    assert rule["gradientRule"] == GRADIENT
    assert rule["ranges"] == [{"sheetId": standin.books[SHEET_ID].ids["Deal"],
                               "startRowIndex": 139, "endRowIndex": 144,
                               "startColumnIndex": 1, "endColumnIndex": 6}]


def test_a_rerun_replaces_our_charts_and_rule_and_keeps_the_analysts(standin):
    deal = standin.books[SHEET_ID].ids["Deal"]
    own_rule = {"ranges": [{"sheetId": deal, "startRowIndex": 0, "endRowIndex": 3,
                            "startColumnIndex": 1, "endColumnIndex": 2}],
                "booleanRule": {"condition": {"type": "NUMBER_GREATER",
                                              "values": [{"userEnteredValue": "5"}]},
                                "format": {"textFormat": {"bold": True}}}}
    loopback_client(standin).http_client.batch_update(SHEET_ID, {"requests": [
        {"addConditionalFormatRule": {"rule": own_rule, "index": 0}},
        {"addChart": {"chart": {"chartId": 4242, "spec": {"title": "mine", "basicChart": {
            "chartType": "LINE"}}, "position": {"overlayPosition": {"anchorCell": {
                "sheetId": deal, "rowIndex": 2, "columnIndex": 2}}}}}}]})
    _write(standin, _charts())
    _write(standin, _charts(), value=2.0)
    assert standin.value("Deal", "B130") == 2.0
    ids = sorted(standin.chart_ids("Deal"))
    assert ids == sorted([4242, chart_id("Deal", 0), chart_id("Deal", 1)])
    rules = standin.rules("Deal")
    assert len(rules) == 2 and sum("gradientRule" in r for r in rules) == 1
    assert own_rule in rules
    _write(standin, _charts(sizing=False), value=3.0)  # sizing not run: its heatmap goes
    assert standin.rules("Deal") == [own_rule]
    assert len(standin.chart_ids("Deal")) == 3


def _deal_id(standin):
    return standin.books[SHEET_ID].ids["Deal"]


def _chart(sheet_id, chart_id_=None, rows=(0, 5), anchor=(0, 0), basic=None):
    basic = basic or {"chartType": "LINE", "headerCount": 1,
                      "domains": [{"domain": {"sourceRange": {"sources": [
                          {"sheetId": sheet_id, "startRowIndex": rows[0], "endRowIndex": rows[1],
                           "startColumnIndex": 0, "endColumnIndex": 1}]}}}],
                      "series": [{"series": {"sourceRange": {"sources": [
                          {"sheetId": sheet_id, "startRowIndex": rows[0], "endRowIndex": rows[1],
                           "startColumnIndex": 1, "endColumnIndex": 2}]}}}]}
    chart = {"spec": {"title": "t", "basicChart": basic}, "position": {"overlayPosition": {
        "anchorCell": {"sheetId": sheet_id, "rowIndex": anchor[0], "columnIndex": anchor[1]}}}}
    if chart_id_ is not None:
        chart["chartId"] = chart_id_
    return {"addChart": {"chart": chart}}


def _rule(sheet_id, rows=(0, 5), **gradient):
    return {"addConditionalFormatRule": {"index": 0, "rule": {
        "ranges": [{"sheetId": sheet_id, "startRowIndex": rows[0], "endRowIndex": rows[1],
                    "startColumnIndex": 1, "endColumnIndex": 3}],
        "gradientRule": {**GRADIENT, **gradient}}}}


@pytest.mark.parametrize("make, message", [
    (lambda d: _chart(d, rows=(990, 1001)), "exceeds grid limits"),
    (lambda d: _chart(d, rows=(5, 5)), "empty or exceeds"),
    (lambda d: _chart(999), "No grid with id"),
    (lambda d: _chart(d, anchor=(1000, 0)), "outside the grid"),
    (lambda d: {"addChart": {"chart": {"spec": {"basicChart": {"chartType": "LINE"}}}}},
     "position"),
    (lambda d: {"addChart": {"chart": {"position": {"sheetId": d}}}}, "spec is required"),
    (lambda d: _chart(d, basic={"chartType": "PIEISH"}), "chart type"),
    (lambda d: _chart(d, basic={"chartType": "LINE", "series": [{"series": {"sourceRange": {
        "sources": [{"sheetId": d, "startRowIndex": 0, "endRowIndex": 4,
                     "startColumnIndex": 0, "endColumnIndex": 2}]}}}]}), "one column or one row"),
    (lambda d: _chart(d, basic={"chartType": "LINE", "domains": [{"domain": {"sourceRange": {
        "sources": [{"sheetId": d, "startRowIndex": 0, "endRowIndex": 4, "startColumnIndex": 0,
                     "endColumnIndex": 1}]}}}], "series": [{"series": {"sourceRange": {
                         "sources": [{"sheetId": d, "startRowIndex": 0, "endRowIndex": 5,
                                      "startColumnIndex": 1, "endColumnIndex": 2}]}}}]}),
     "aligned"),
    (lambda d: {"deleteEmbeddedObject": {"objectId": 31337}}, "No object with id"),
    (lambda d: _rule(d, rows=(995, 1001)), "exceeds grid limits"),
    (lambda d: _rule(d, maxpoint=None), "maxpoint needs a type"),
    (lambda d: _rule(d, minpoint={"type": "NUMBER", "color": {"red": 1}}), "a value with"),
    (lambda d: {"addConditionalFormatRule": {"rule": {"ranges": [
        {"sheetId": d, "startRowIndex": 0, "endRowIndex": 1}]}}}, "exactly one of"),
    (lambda d: {**_rule(d), "addConditionalFormatRule": {
        **_rule(d)["addConditionalFormatRule"], "index": 3}}, "Invalid index"),
    (lambda d: {"deleteConditionalFormatRule": {"sheetId": d, "index": 1}},
     "No conditional format rule"),
])
def test_the_standin_refuses_bad_chart_and_format_requests_and_applies_nothing(
        standin, make, message):
    from gspread.exceptions import APIError

    deal = _deal_id(standin)
    client = loopback_client(standin, policy=RetryPolicy(max_attempts=1))
    before = {"updateCells": {"start": {"sheetId": deal, "rowIndex": 0, "columnIndex": 0},
                              "rows": [{"values": [{"userEnteredValue": {"numberValue": 7}}]}],
                              "fields": "userEnteredValue"}}
    with pytest.raises(APIError, match=message) as refused:
        client.http_client.batch_update(SHEET_ID, {"requests": [before, _rule(deal), make(deal)]})
    assert refused.value.response.status_code == 400
    assert standin.value("Deal", "A1") is None and standin.rules("Deal") == []  # all or nothing


def test_the_standin_keeps_chart_ids_unique_and_frees_a_deleted_one(standin):
    from gspread.exceptions import APIError

    deal = _deal_id(standin)
    client = loopback_client(standin, policy=RetryPolicy(max_attempts=1))
    client.http_client.batch_update(SHEET_ID, {"requests": [_chart(deal, 7)]})
    with pytest.raises(APIError, match="already exists"):
        client.http_client.batch_update(SHEET_ID, {"requests": [_chart(deal, 7)]})
    client.http_client.batch_update(SHEET_ID, {"requests": [
        {"deleteEmbeddedObject": {"objectId": 7}}, _chart(deal, 7)]})
    assert standin.chart_ids("Deal") == [7]
