"""The Deal tab's sizing sweep on Google Cloud (issue 25): one Cloud Task per size, gathered
through BigQuery, the sheet written once.

Everything as deployed (tests/test_deployed.py): the refresh function behind Cloud Run's
front door with deploy.sh's environment, the Cloud Tasks stand-in dispatching with the
queue's rate, concurrency and retries and OIDC tokens, the BigQuery emulator holding the
prices and the ``sizing_results`` table made from deploy/bigquery/sizing_results.json,
and the Sheets stand-in with its quota.
"""

from __future__ import annotations

import base64
import json
import shutil
import time

import pytest

from btm_ppa.entrypoints import runtime
from sheets_layout import Owner, load_bess_layout, load_deal_layout
from tests.sheets_standin import SheetsStandIn
from tests.test_deployed import (  # noqa: F401 (fixtures)
    ADDON,
    READ_SCOPE,
    ROOT,
    TASKS,
    Served,
    _queue,
    deploy_config,
    deployment,
    tables,
    url,
)
from tests.test_sheets_workbook import SHEET_ID, loopback_client

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEAL = load_deal_layout()
RES = DEAL.results
STATUS = f"B{int(RES['status_row'])}"
SIZING_HEADER = int(RES["sizing_header_row"])


@pytest.fixture
def sizing_table(tables, deployment):  # noqa: F811
    """sizing_results as deploy.sh makes it (deploy/bigquery/sizing_results.json), empty."""
    from google.cloud import bigquery

    client, dataset = deployment.warehouse.client, deployment.warehouse.dataset
    schema = [bigquery.SchemaField(f["name"], f["type"], mode=f["mode"]) for f in json.loads(
        (ROOT / "deploy" / "bigquery" / "sizing_results.json").read_text())]
    table_id = f"{dataset}.sizing_results"
    client.delete_table(table_id, not_found_ok=True)
    client.create_table(bigquery.Table(table_id, schema=schema))
    return client, table_id


def _rows(sizing_table):
    client, table_id = sizing_table
    return [dict(r.items()) for r in client.query(
        f"SELECT digest, power_kw, duration_h, npv_p50_gbp FROM `{table_id}`").result()]


def _inputs(standin: SheetsStandIn) -> dict:
    cells = [("BESS", s.cell) for s in load_bess_layout().inputs if s.owner is Owner.ANALYST]
    cells += [("Deal", s.cell) for s in DEAL.inputs]
    return {(tab, a1): standin.value(tab, a1) for tab, a1 in cells}


def _grid(standin: SheetsStandIn, n: int) -> dict[tuple[float, float], object]:
    powers = [standin.value("Deal", f"{c}{SIZING_HEADER}") for c in "BCDEFGHIJ"[:n]]
    out = {}
    for i in range(n):
        d = standin.value("Deal", f"A{SIZING_HEADER + 1 + i}")
        for j, p in enumerate(powers):
            out[(p, d)] = standin.value("Deal", f"{'BCDEFGHIJ'[j]}{SIZING_HEADER + 1 + i}")
    return out


def _inline_sizing(path, warehouse):
    """The same workbook refreshed locally: the sweep in a process pool."""
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome.deal.sizing.npv_p50_gbp


def _refresh_as_the_queue(client, dep) -> dict:
    """The refresh task Cloud Tasks runs: it fans the sizing out (202)."""
    response = client.post("/", json={"spreadsheet_id": SHEET_ID},
                           headers=dep.service(TASKS, "refresh"))
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def _until(done, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _workbook(tmp_path, method: str = "optimal"):
    """The example with a Deal tab: a 3-year term, a 2 x 2 sizing grid, ``method`` (Deal!B31;
    the tests of the queue's mechanics use optimal, the quicker); the emulator holds 2023
    whole, whose first quarter needs BSUoS and RO typed (no table before April 2023)."""
    from btm_ppa.sheet.template import build_template
    from tests.conftest import set_cells

    path = build_template(tmp_path / "deal.xlsx", example=True, deal=True)
    set_cells(path, {"B22": "optimal", "F32": 13.41, "F36": 27.68})
    set_cells(path, {"B6": 3, "B32": 2, "B31": method}, tab="Deal")
    return path


def _serve(dep, monkeypatch, deadline_s: float):
    client = dep.become("refresh")
    monkeypatch.setenv("BTM_PPA_SIZING_DEADLINE_S", str(deadline_s))
    _queue(dep, deploy_config())
    served = Served(client.application)
    dep.tasks.routes[url("refresh")] = served.url
    return client, served


def _body(task) -> dict:
    return json.loads(base64.b64decode(task.http["body"]))


def _tasks(dep, kind: str):
    return [t for t in dep.tasks.tasks.values() if kind in _body(t)]


def test_a_menu_refresh_fans_the_sizing_out_and_writes_the_sheet_once_all_are_in(
        deployment, sizing_table, tmp_path, monkeypatch):  # noqa: F811
    """The menu answers 202 at once; the refresh task values the typed size and queues one
    task per other size; each records its size in BigQuery and the progress in the Deal
    tab's status cell; the last queues the gather, which writes BESS rows 50-62, the Deal
    tab and its charts in one batchUpdate, with the same figures as a local sweep."""
    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    path = _workbook(tmp_path, "realistic")  # the Deal tab's default method
    local = tmp_path / "local.xlsx"
    shutil.copy(path, local)
    with SheetsStandIn(SHEET_ID, path) as sheets:
        runtime.inject("sheets", loopback_client(sheets, timeout_s=60))
        before = _inputs(sheets)
        # The deadline gather is a day off: run below, by hand, once the gather has written.
        client, served = _serve(deployment, monkeypatch, deadline_s=86_000)
        deployment.tasks.paused = True  # to look at the sheet between the steps
        try:
            response = client.post("/", json={"spreadsheet_id": SHEET_ID, "defer": True},
                                   headers=deployment.user(alice, token))
            assert response.status_code == 202, response.get_json()
            writes_before = sheets.count("batchUpdate")
            deployment.tasks.paused = False
            _until(lambda: any(t.attempts for t in _tasks(deployment, "sizing")
                               if "final" not in _body(t)["sizing"]), 240)
        finally:
            served.close()
        # The refresh task, the 4 sizes of the 2 x 2 grid (the typed size is not on it),
        # the gather and the deadline gather (not yet due).
        assert len(_tasks(deployment, "size")) == 4
        [deadline] = [t for t in _tasks(deployment, "sizing") if _body(t)["sizing"].get("final")]
        assert deadline.attempts == []
        assert all(t.attempts[-1] in (200, 202) for t in deployment.tasks.tasks.values()
                   if t is not deadline)
        [parent] = [t for t in deployment.tasks.tasks.values()
                    if not {"size", "sizing"} & set(_body(t))]
        assert parent.attempts == [202]  # fanned out: done, as far as Cloud Tasks goes
        assert sheets.value("BESS", "B62") == "OK"
        assert sheets.value("Deal", STATUS) == "OK"
        got = _grid(sheets, 2)
        assert _inputs(sheets) == before  # inputs never written
        progress_and_results = sheets.count("batchUpdate") - writes_before
        # Cloud Tasks delivers at least once: a size task run again after its success
        again = client.post("/", json=_body(_tasks(deployment, "size")[0]),
                            headers=deployment.service(TASKS, "refresh"))
        assert again.status_code == 200 and again.get_json()["status"].startswith("ALREADY SIZED")
        # The deadline gather, every size in: nothing to write (the gather wrote them)
        late = client.post("/", json=_body(deadline), headers=deployment.service(TASKS, "refresh"))
        assert late.status_code == 200 and late.get_json()["status"].startswith(
            "SIZED: all 4 sizes were valued in time")
        assert sheets.count("batchUpdate") - writes_before == progress_and_results
        assert sheets.value("Deal", STATUS) == "OK"
    stored = _rows(sizing_table)
    assert len({r["digest"] for r in stored}) == 1
    assert {(r["power_kw"], r["duration_h"]) for r in stored} == set(got)
    # 1 progress write by the refresh task, 1 per size, the gather
    assert progress_and_results == 1 + 4 + 1
    inline = _inline_sizing(local, deployment.warehouse)
    assert set(inline) == set(got)
    for size, npv in inline.items():
        assert got[size] == pytest.approx(npv, abs=0.005), size  # to the penny


def test_inputs_changed_while_the_sizes_wait_supersede_them_and_nothing_is_written(
        deployment, sizing_table, tmp_path, monkeypatch):  # noqa: F811
    path = _workbook(tmp_path)
    with SheetsStandIn(SHEET_ID, path) as sheets:
        runtime.inject("sheets", loopback_client(sheets, timeout_s=60))
        client, served = _serve(deployment, monkeypatch, deadline_s=60)
        deployment.tasks.paused = True
        try:
            answer = _refresh_as_the_queue(client, deployment)
            assert answer["status"].startswith("SIZING: 0 of 4 sizes valued")
            assert sheets.value("Deal", STATUS).startswith("SIZING: 0 of 4")
            assert sheets.value("BESS", "B62") is None  # the template's: nothing else written
            sheets.set_value("Deal", "B14", 9.5)  # the discount rate, while the sizes wait
            writes = sheets.count("batchUpdate")
            deployment.tasks.paused = False
            assert deployment.tasks.wait_idle(240)
        finally:
            served.close()
        assert sheets.count("batchUpdate") == writes  # superseded: nothing written
        assert sheets.value("BESS", "B62") is None
    assert _rows(sizing_table) == []
    assert all(t.attempts == [200] for t in _tasks(deployment, "size") + _tasks(deployment, "sizing"))


def test_a_size_that_keeps_failing_is_left_blank_by_the_deadline_gather(
        deployment, sizing_table, tmp_path, monkeypatch):  # noqa: F811
    """A size whose task fails every attempt: no gather is queued; the deadline gather
    writes the sizes valued, that one blank, and the Deal tab says so (WARNING)."""
    from btm_ppa.entrypoints import sizing_tasks
    from btm_ppa.errors import WarehouseError

    real = sizing_tasks.value_size
    failing = {}

    def flaky(scenarios, method, terms, power_kw, duration_h):
        if not failing:
            failing["size"] = (power_kw, duration_h)
        if failing["size"] == (power_kw, duration_h):
            raise WarehouseError("BigQuery did not answer (a test's outage)")
        return real(scenarios, method, terms, power_kw, duration_h)

    monkeypatch.setattr(sizing_tasks, "value_size", flaky)
    path = _workbook(tmp_path)
    with SheetsStandIn(SHEET_ID, path) as sheets:
        runtime.inject("sheets", loopback_client(sheets, timeout_s=60))
        client, served = _serve(deployment, monkeypatch, deadline_s=900)
        try:
            _refresh_as_the_queue(client, deployment)
            assert deployment.tasks.wait_idle(240)
        finally:
            served.close()
        status = sheets.value("Deal", STATUS)
        got = _grid(sheets, 2)
        assert sheets.value("BESS", "B62") == "OK"
    p, d = failing["size"]
    assert status.startswith("WARNING: 1 of 4 sizes not valued by the sizing deadline")
    assert f"{p:,.0f} kW x {d:g} h" in status
    assert got[(p, d)] is None and sum(v is not None for v in got.values()) == 3
    [bad] = [t for t in _tasks(deployment, "size") if t.attempts[-1] != 200]
    assert len(bad.attempts) == int(deploy_config()["QUEUE_MAX_ATTEMPTS"])  # retried: 503s
    assert set(bad.attempts) == {503}
    assert [t.attempts for t in _tasks(deployment, "sizing")] == [[200]]  # the deadline's


def test_sizing_calls_are_the_queue_s_alone(deployment, sizing_table, tmp_path):  # noqa: F811
    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    path = _workbook(tmp_path)
    with SheetsStandIn(SHEET_ID, path) as sheets:
        runtime.inject("sheets", loopback_client(sheets))
        client = deployment.become("refresh")
        size = {"digest": "0" * 32, "power_kw": 1000.0, "duration_h": 2.0}
        user = client.post("/", json={"spreadsheet_id": SHEET_ID, "size": size},
                           headers=deployment.user(alice, token))
        assert user.status_code == 403, user.get_json()
        bad = client.post("/", json={"spreadsheet_id": SHEET_ID, "size": {**size, "power_kw": True}},
                          headers=deployment.service(TASKS, "refresh"))
        assert bad.status_code == 400 and '"size"' in bad.get_json()["error"]["message"]
        stale = client.post("/", json={"spreadsheet_id": SHEET_ID, "size": size},
                            headers=deployment.service(TASKS, "refresh"))
        assert stale.status_code == 200 and stale.get_json()["status"].startswith("SUPERSEDED")
        assert sheets.count("batchUpdate") == 0
    assert _rows(sizing_table) == []


def test_a_task_that_fails_after_recording_its_size_still_brings_the_gather(
        deployment, sizing_table, tmp_path, monkeypatch):  # noqa: F811
    """Cloud Tasks retries a task whatever it had done: the one that recorded the last
    size and then could not queue the gather is retried, finds its size recorded, writes
    nothing and queues the gather."""
    from btm_ppa.entrypoints import sizing_tasks
    from btm_ppa.errors import WarehouseError

    real = sizing_tasks._gather_if_complete
    failed = []

    def once(sweep, digest, sizes, stored):
        if all(k in stored for k in sizes) and not failed:
            failed.append(digest)
            raise WarehouseError("Cloud Tasks did not answer (a test's outage)")
        real(sweep, digest, sizes, stored)

    monkeypatch.setattr(sizing_tasks, "_gather_if_complete", once)
    with SheetsStandIn(SHEET_ID, _workbook(tmp_path)) as sheets:
        runtime.inject("sheets", loopback_client(sheets, timeout_s=60))
        client, served = _serve(deployment, monkeypatch, deadline_s=86_000)
        try:
            _refresh_as_the_queue(client, deployment)
            # the deadline gather is far off: wait for the gather's write instead
            _until(lambda: sheets.value("Deal", STATUS) == "OK"
                   and any(t.attempts for t in _tasks(deployment, "sizing")), 120)
        finally:
            served.close()
        assert sheets.value("Deal", STATUS) == "OK" and sheets.value("BESS", "B62") == "OK"
        assert sum(v is not None for v in _grid(sheets, 2).values()) == 4
    [retried] = [t for t in _tasks(deployment, "size") if len(t.attempts) > 1]
    assert retried.attempts == [503, 200] and failed
    assert [t.attempts for t in _tasks(deployment, "sizing") if t.attempts] == [[200]]
