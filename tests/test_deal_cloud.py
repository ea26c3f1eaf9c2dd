"""The Deal tab on Google Cloud (issue 25): the refresh function, behind Cloud Run's front
door, fills a Google Sheet's BESS rows 50-62 and its Deal tab (cells, charts, heatmap) in
one spreadsheets.batchUpdate, inputs untouched."""

from __future__ import annotations

import pytest

from btm_ppa.entrypoints import runtime
from sheets_layout import load_bess_layout, load_deal_layout
from tests.conftest import result_cell
from tests.sheets_standin import SheetsStandIn
from tests.test_cloud_functions import AUDIENCE, _app, _post, configured, issuer  # noqa: F401
from tests.test_deal import _deal_workbook
from tests.test_sheets_workbook import SHEET_ID, loopback_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _inputs(standin: SheetsStandIn) -> dict:
    """The analyst's cells: the BESS tab's inputs, the Deal tab's inputs and their labels,
    its fade table (F5:G14)."""
    from sheets_layout import Owner

    deal = load_deal_layout()
    cells = [("BESS", s.cell) for s in load_bess_layout().inputs if s.owner is Owner.ANALYST]
    cells += [("Deal", a1) for s in deal.inputs for a1 in (s.cell, s.label_cell)]
    cells += [("Deal", f"{c}{r}") for c in "FG" for r in range(5, 15)]
    return {(tab, a1): standin.value(tab, a1) for tab, a1 in cells}


def test_the_refresh_function_fills_bess_and_the_deal_tab_in_one_write(
        tmp_path, warehouse, configured, issuer):  # noqa: F811
    res = load_deal_layout().results
    path = _deal_workbook(tmp_path, {"B6": 3, "B32": 2})
    with SheetsStandIn(SHEET_ID, path) as standin:
        runtime.inject("sheets", loopback_client(standin, timeout_s=60))
        runtime.inject("warehouse", warehouse)
        before = _inputs(standin)
        assert before[("Deal", "B6")] == 3 and sum(v is not None for v in before.values()) > 40
        response = _post(_app("refresh"), issuer.token(audience=AUDIENCE),
                         {"spreadsheet_id": SHEET_ID})
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["ok"] and body["rows"]["62"]["stream1"] == "OK"
        assert standin.count("batchUpdate") == 1 and standin.count("valuesBatchUpdate") == 0
        assert standin.value("BESS", "B62") == "OK"
        assert standin.value("BESS", result_cell("profit_gbp")) == pytest.approx(
            body["rows"]["59"]["total"])
        assert standin.value("Deal", f"B{res['status_row']}") == "OK"
        assert isinstance(standin.value("Deal", f"C{int(res['summary_header_row']) + 1}"), float)
        titles = sorted(c["title"].split(" ")[0] for c in standin.charts("Deal"))
        assert titles == ["Cumulative", "Net"]
        [heatmap] = standin.rules("Deal")  # the 2 x 2 sizing table's colour scale
        sz = int(res["sizing_header_row"])
        assert heatmap["ranges"][0]["startRowIndex"] == sz and heatmap["ranges"][0][
            "endRowIndex"] == sz + 2
        assert _inputs(standin) == before  # inputs never written
