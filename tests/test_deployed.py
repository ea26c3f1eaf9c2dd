"""The functions as deploy/deploy.sh deploys them, called by each caller they really have.

Each function's environment is the one deploy.sh sets (``deploy.sh --print-env FN``: the
same code that writes ``--set-env-vars``), and every request reaches it through Cloud Run's
front door as deploy.sh configures it (``--print-service FN``: URL, custom audiences,
invokers; tests/front_door.py), which checks the token and removes its signature. Only
Google's endpoints are replaced by local
stand-ins the real clients talk to: signed ID tokens (tests/google_tokens.py), the Sheets
API with its per-user quota and grid limits, Drive and tokeninfo for the access check,
Cloud Tasks (which dispatches with the queue's rate, concurrency and retries) and the
BigQuery emulator. The queue's settings come from deploy/config.env too.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import threading
import time
from pathlib import Path

import functions_framework
import pytest
from werkzeug.serving import make_server

from btm_ppa.entrypoints import runtime
from tests.cloud_tasks_standin import CloudTasksStandIn
from tests.conftest import FUNCTION_SOURCE
from tests.drive_standin import DriveStandIn
from tests.elexon_standin import ElexonStandIn
from tests.front_door import FrontDoor
from tests.google_tokens import TokenIssuer
from tests.sheets_standin import SheetsStandIn
from tests.test_sheets_workbook import SHEET_ID, loopback_client

ROOT = Path(__file__).resolve().parents[1]
PROJECT = "my-project"
ADDON = "1234-addon.apps.googleusercontent.com"
SETTINGS = {"PROJECT": PROJECT, "PROJECT_NUMBER": "123456789012",
            "ALLOWED_CALLERS": "@example.com", "ADDON_CLIENT_ID": ADDON}
SCHEDULER, TASKS = (f"btm-ppa-{n}@{PROJECT}.iam.gserviceaccount.com" for n in ("scheduler", "tasks"))
READ_SCOPE = "https://www.googleapis.com/auth/drive.metadata.readonly"
#: The queue's clock and the Sheets quota's minute both run this much faster than real.
TIME_SCALE = 0.004


def deployed_env(function: str) -> dict[str, str]:
    out = subprocess.run(["bash", str(ROOT / "deploy" / "deploy.sh"), "--print-env", function],
                         env={**os.environ, **SETTINGS}, capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def deployed_service(function: str) -> dict[str, str]:
    """The Cloud Run service deploy.sh makes for ``function``: SERVICE, URL,
    CUSTOM_AUDIENCES, INVOKERS."""
    out = subprocess.run(["bash", str(ROOT / "deploy" / "deploy.sh"), "--print-service",
                          function], env={**os.environ, **SETTINGS}, capture_output=True,
                         text=True, check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines())


def url(function: str) -> str:
    return deployed_service(function)["URL"]


def deploy_config() -> dict[str, str]:
    out = subprocess.run(["bash", "-c", f"source {ROOT / 'deploy' / 'config.env'} && set"],
                         env={**os.environ, **SETTINGS}, capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split("=", 1) for line in out.splitlines()
                if line.startswith("QUEUE") and "=" in line)


class Deployment:
    """Stand-ins up, and a way to switch the process to one function's environment."""

    def __init__(self, monkeypatch, issuer, drive, tasks, warehouse) -> None:
        self.monkeypatch, self.issuer, self.drive, self.tasks = monkeypatch, issuer, drive, tasks
        self.warehouse = warehouse
        self.doors: dict[str, FrontDoor] = {}

    def become(self, function: str) -> functions_framework.flask.testing.FlaskClient:
        for name in [n for n in os.environ if n.startswith("BTM_PPA_")]:
            self.monkeypatch.delenv(name)
        for name, value in deployed_env(function).items():
            self.monkeypatch.setenv(name, value)
        # Google's endpoints, here on loopback.
        self.monkeypatch.setenv("BTM_PPA_CERTS_URL", self.issuer.certs_url)
        self.monkeypatch.setenv("BTM_PPA_TASKS_ENDPOINT", self.tasks.endpoint)
        self.monkeypatch.setenv("BTM_PPA_DRIVE_URL", f"{self.drive.url}/drive/v3/files")
        self.monkeypatch.setenv("BTM_PPA_TOKENINFO_URL", f"{self.drive.url}/tokeninfo")
        service = deployed_service(function)
        self.monkeypatch.setenv("K_SERVICE", service["SERVICE"])  # as Cloud Run sets it
        for name in ("tasks", "drive", "runs"):
            runtime.inject(name, None)
        runtime.inject("warehouse", self.warehouse)
        app = functions_framework.create_app(target=function,
                                             source=str(FUNCTION_SOURCE / "main.py"))
        # Every request, from a test or from the Cloud Tasks stand-in, comes in this way.
        door = FrontDoor(app.wsgi_app, url=service["URL"], certs=self.issuer.public_certs,
                         invokers=service["INVOKERS"].split(","),
                         custom_audiences=[a for a in service["CUSTOM_AUDIENCES"].split(",") if a])
        app.wsgi_app = door
        self.doors[function] = door
        return app.test_client()

    def user(self, email: str, token: str | None = None, audience: str = ADDON) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.issuer.token(email=email, audience=audience)}"}
        if token:
            headers["X-User-Access-Token"] = token
        return headers

    def service(self, email: str, function: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.issuer.token(email=email, audience=url(function))}"}


@pytest.fixture
def deployment(monkeypatch, bq_prices):
    with TokenIssuer() as issuer, DriveStandIn() as drive, \
            CloudTasksStandIn(issuer, time_scale=TIME_SCALE) as tasks:
        yield Deployment(monkeypatch, issuer, drive, tasks, bq_prices)
    for name in ("warehouse", "sheets", "elexon", "tasks", "drive", "runs", "registry"):
        runtime.inject(name, None)


@pytest.fixture
def tables(bq_prices):
    """refresh_runs and spreadsheet_registry made from deploy/bigquery/*.json, emptied."""
    from google.cloud import bigquery

    client = bq_prices.client
    for name in ("refresh_runs", "spreadsheet_registry"):
        schema = [bigquery.SchemaField(f["name"], f["type"], mode=f["mode"])
                  for f in json.loads((ROOT / "deploy" / "bigquery" / f"{name}.json").read_text())]
        table_id = f"{bq_prices.dataset}.{name}"
        client.delete_table(table_id, not_found_ok=True)
        client.create_table(bigquery.Table(table_id, schema=schema))
    return client


def _queue(deployment, config) -> str:
    """The queue as deploy.sh creates it (gcloud tasks queues create ... flags)."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import tasks_v2
    from google.protobuf import duration_pb2

    client = tasks_v2.CloudTasksClient(credentials=AnonymousCredentials(), transport="rest",
                                       client_options={"api_endpoint": deployment.tasks.endpoint})
    name = f"projects/{PROJECT}/locations/europe-west2/queues/{config['QUEUE']}"
    seconds = {k: duration_pb2.Duration(seconds=int(config[k].rstrip("s")))
               for k in ("QUEUE_MIN_BACKOFF", "QUEUE_MAX_BACKOFF")}
    client.create_queue(parent=name.rsplit("/queues/", 1)[0], queue=tasks_v2.Queue(
        name=name,
        rate_limits=tasks_v2.RateLimits(
            max_dispatches_per_second=float(config["QUEUE_MAX_DISPATCHES_PER_SECOND"]),
            max_concurrent_dispatches=int(config["QUEUE_MAX_CONCURRENT_DISPATCHES"])),
        retry_config=tasks_v2.RetryConfig(
            max_attempts=int(config["QUEUE_MAX_ATTEMPTS"]),
            min_backoff=seconds["QUEUE_MIN_BACKOFF"], max_backoff=seconds["QUEUE_MAX_BACKOFF"],
            max_doublings=int(config["QUEUE_MAX_DOUBLINGS"]))))
    return name


class Served:
    """A function served on loopback HTTP (Cloud Tasks calls it over the network)."""

    def __init__(self, app) -> None:
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()


def _runs(client, dataset):
    rows = client.query(f"SELECT spreadsheet_id, sheet, trigger, ok, status, caller "
                        f"FROM `{dataset}.refresh_runs`").result()
    return [dict(r.items()) for r in rows]


def test_every_function_lets_in_its_real_callers_only(deployment, example_xlsx):
    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        runtime.inject("sheets", loopback_client(sheets))
        refresh = deployment.become("refresh")
        body = {"spreadsheet_id": SHEET_ID, "validate_only": True}
        assert refresh.post("/", json=body, headers=deployment.user(alice, token)).status_code == 200
        tasks_call = refresh.post("/", json={"spreadsheet_id": SHEET_ID, "trigger": "nightly"},
                                  headers=deployment.service(TASKS, "refresh"))
        assert tasks_call.status_code == 200, tasks_call.get_json()
        assert sheets.value("BESS", "B62") == "OK"
        assert refresh.post("/", json=body, headers=deployment.service(SCHEDULER, "refresh")
                            ).status_code == 403
        # An add-on user's token is for the add-on's client id; the scheduler's for a URL.
        assert refresh.post("/", json=body, headers=deployment.user(alice, token, audience="x")
                            ).status_code == 401
    # The scheduler's three functions: a 400 about the body means the caller was let in.
    for function, bad_body in (("ingest_prices", {"start": "nope"}),
                               ("scheduled_refresh", {"start": "nope"}),
                               ("vlp_register", {"unexpected": 1})):
        client = deployment.become(function)
        let_in = client.post("/", json=bad_body, headers=deployment.service(SCHEDULER, function))
        assert let_in.status_code == 400, (function, let_in.get_json())
        for refused in (deployment.service(TASKS, function), deployment.user(alice, token)):
            assert client.post("/", json=bad_body, headers=refused).status_code in (401, 403)


def test_two_users_two_sheets_each_only_their_own(deployment, example_xlsx):
    sheet_a, sheet_b = SHEET_ID, "B" * 40
    alice, bob = "alice@example.com", "bob@example.com"
    drive = deployment.drive
    a_token = drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    b_token = drive.issue("bob-token", bob, ADDON, (READ_SCOPE,))
    drive.share(sheet_a, alice, "owner")
    drive.share(sheet_b, alice, "reader")
    drive.share(sheet_b, bob, "writer")
    with SheetsStandIn(sheet_a, example_xlsx) as sheets:
        sheets.copy_book(sheet_a, sheet_b)  # both shared with the service account
        runtime.inject("sheets", loopback_client(sheets))
        client = deployment.become("refresh")

        def call(sheet, email, token):
            return client.post("/", json={"spreadsheet_id": sheet},
                               headers=deployment.user(email, token))

        assert call(sheet_a, alice, a_token).status_code == 200
        assert call(sheet_b, bob, b_token).status_code == 200
        refused = call(sheet_a, bob, b_token)
        assert refused.status_code == 403 and "cannot open" in refused.get_json()["error"]["message"]
        view_only = call(sheet_b, alice, a_token)
        assert view_only.status_code == 403
        assert "view but not edit" in view_only.get_json()["error"]["message"]
        assert call(sheet_a, bob, a_token).status_code == 403  # someone else's token
        assert call(sheet_a, alice, None).status_code == 401
        other_app = drive.issue("other-app", alice, "another-client", (READ_SCOPE,))
        assert call(sheet_a, alice, other_app).status_code == 401
        narrow = drive.issue("narrow", alice, ADDON,
                             ("https://www.googleapis.com/auth/spreadsheets.currentonly",))
        assert call(sheet_a, alice, narrow).status_code == 403  # Drive cannot tell: refused
        writes = sheets.count("batchUpdate")
    assert writes == 2  # only the two allowed refreshes wrote


def test_a_menu_refresh_is_queued_at_once_and_written_by_the_task(deployment, example_xlsx,
                                                                  tables):
    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    config = deploy_config()
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        runtime.inject("sheets", loopback_client(sheets))
        client = deployment.become("refresh")
        _queue(deployment, config)
        served = Served(client.application)
        deployment.tasks.routes[url("refresh")] = served.url
        try:
            response = client.post("/", json={"spreadsheet_id": SHEET_ID, "defer": True},
                                   headers=deployment.user(alice, token))
            assert response.status_code == 202, response.get_json()
            assert response.get_json()["status"].startswith("QUEUED")
            assert deployment.tasks.wait_idle(60)
        finally:
            served.close()
        assert sheets.value("BESS", "B62") == "OK"
    (task,) = deployment.tasks.tasks.values()
    assert task.attempts == [200] and task.http["oidcToken"]["serviceAccountEmail"] == TASKS
    (run,) = _runs(tables, deployment.warehouse.dataset)
    assert (run["trigger"], run["ok"], run["caller"]) == ("menu", True, TASKS)


@pytest.mark.slow
def test_nightly_fans_out_500_sheets_through_the_queue_within_the_sheets_quota(
        deployment, example_xlsx, tables, warehouse, tmp_path):
    """The registry (with NULL tabs) and the run records are in BigQuery; prices come from
    the embedded warehouse, which answers a window in 0.01 s where the emulator takes 1 s,
    to keep 500 refreshes to about a minute."""
    from btm_ppa.adapters.run_log import RunLog
    from tests.conftest import set_cells

    config = deploy_config()
    set_cells(example_xlsx, {"B20": dt.date(2023, 4, 1), "B21": dt.date(2023, 4, 30)})
    ids = [f"sheet{i:04d}" + "x" * 24 for i in range(500)]
    clock_minute_s = 60 * TIME_SCALE
    with SheetsStandIn(ids[0], example_xlsx, minute_s=clock_minute_s) as sheets:
        for sid in ids[1:]:
            sheets.copy_book(ids[0], sid)
        sheets.books[ids[7]].tabs["Model"] = sheets.books[ids[7]].tabs.pop("BESS")
        runtime.inject("sheets", loopback_client(sheets))
        # 500 registered (every fifth with a NULL tab: the default), one more disabled.
        rows = [{"spreadsheet_id": sid, "sheet": None if i % 5 == 0 else "BESS",
                 "enabled": True} for i, sid in enumerate(ids)]
        rows.append({"spreadsheet_id": "disabled" + "z" * 30, "sheet": "BESS", "enabled": False})
        assert not tables.insert_rows_json(f"{deployment.warehouse.dataset}.spreadsheet_registry",
                                           rows)
        _queue(deployment, config)
        with ElexonStandIn() as elexon:
            from btm_ppa.adapters.elexon import ElexonClient
            from btm_ppa.adapters.retry import RetryPolicy

            nightly = deployment.become("scheduled_refresh")
            from btm_ppa.adapters.duckdb_warehouse import DuckDbWarehouse

            runtime.inject("registry", deployment.warehouse)
            runtime.inject("warehouse", DuckDbWarehouse(tmp_path / "ingests.duckdb"))
            runtime.inject("elexon", ElexonClient(base_url=elexon.base_url,
                                                  policy=RetryPolicy(base_delay_s=0.01)))
            deployment.tasks.paused = True  # dispatch once refresh's environment is in place
            response = nightly.post("/", json={"start": "2030-01-01", "end": "2030-01-01"},
                                    headers=deployment.service(SCHEDULER, "scheduled_refresh"))
            assert response.status_code == 200, response.get_json()
            assert response.get_json()["queued"] == 500
            again = nightly.post("/", json={"start": "2030-01-01", "end": "2030-01-01"},
                                 headers=deployment.service(SCHEDULER, "scheduled_refresh"))
            assert again.get_json()["queued"] == 0  # a scheduler retry queues nothing twice
        refresh = deployment.become("refresh")
        runtime.inject("warehouse", warehouse)
        runtime.inject("runs", RunLog(tables, deployment.warehouse.dataset))
        served = Served(refresh.application)
        deployment.tasks.routes[url("refresh")] = served.url
        started = time.monotonic()
        deployment.tasks.paused = False
        try:
            assert deployment.tasks.wait_idle(600)
        finally:
            served.close()
        elapsed = time.monotonic() - started
        assert sheets.throttled == 0  # no 429: every minute stayed within 60 reads
        reads = sheets.count("metadata") + sheets.count("batchGet")
        statuses = [sheets.value("BESS", "B62", sid) for sid in ids if sid != ids[7]]
        assert statuses == ["OK"] * 499
    attempts = [t.attempts for t in deployment.tasks.tasks.values()]
    assert len(attempts) == 500 and all(a == [200] for a in attempts)
    assert deployment.tasks.max_running_seen <= int(config["QUEUE_MAX_CONCURRENT_DISPATCHES"])
    rate = float(config["QUEUE_MAX_DISPATCHES_PER_SECOND"])
    assert elapsed >= 499 / rate * TIME_SCALE * 0.95  # never faster than the queue's rate
    # Why it holds however fast refreshes run: no minute held more dispatches than the
    # queue's rate allows, and each refresh reads at most 3 times (the last sheet's tab is
    # missing: 2), so the reads of any minute stay within the quota of 60.
    times = deployment.tasks.dispatch_times
    busiest = max(sum(1 for t in times if start <= t < start + clock_minute_s) for start in times)
    assert busiest <= rate * 60 + 1
    assert reads <= 3 * 500 and (rate * 60 + 1) * 3 <= 60
    runs = _runs(tables, deployment.warehouse.dataset)
    assert len(runs) == 500 and {r["trigger"] for r in runs} == {"nightly"}
    failed = [r for r in runs if not r["ok"]]
    assert [r["spreadsheet_id"] for r in failed] == [ids[7]]
    assert "BESS tab not found" in failed[0]["status"]


def test_a_rate_limited_task_is_answered_503_and_retried_by_the_queue(deployment, example_xlsx,
                                                                      tables):
    from btm_ppa.adapters.retry import RetryPolicy

    config = deploy_config()
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        # The adapter's own retries give up after 3 attempts; the queue's retry then succeeds.
        runtime.inject("sheets", loopback_client(sheets, policy=RetryPolicy(
            max_attempts=3, base_delay_s=0.01, max_delay_s=0.02)))
        client = deployment.become("refresh")
        runtime.inject("runs", None)
        _queue(deployment, config)
        served = Served(client.application)
        deployment.tasks.routes[url("refresh")] = served.url
        sheets.faults.extend([429] * 4)
        try:
            from btm_ppa.adapters.cloud_tasks import TaskQueue, TaskQueueConfig

            TaskQueue(TaskQueueConfig(queue=os.environ["BTM_PPA_TASKS_QUEUE"],
                                      target_url=url("refresh"), service_account=TASKS,
                                      endpoint=deployment.tasks.endpoint)).enqueue(
                {"spreadsheet_id": SHEET_ID, "sheet": "BESS", "trigger": "nightly"})
            assert deployment.tasks.wait_idle(60)
        finally:
            served.close()
        assert sheets.value("BESS", "B62") == "OK"
    (task,) = deployment.tasks.tasks.values()
    assert task.attempts == [503, 200]
    runs = sorted(_runs(tables, deployment.warehouse.dataset), key=lambda r: r["ok"])
    assert [(r["ok"], "rate-limiting" in r["status"]) for r in runs] == [(False, True), (True, False)]


def test_a_burst_of_edits_makes_one_refresh_after_the_last(deployment, example_xlsx, tables,
                                                          monkeypatch):
    """Three edits in one window: one task (the others find its name taken, as Cloud Tasks
    refuses a taken name), run when the window closes, on the last edit's inputs; an edit
    after it queues the next refresh. The window is shortened to 8 s (30 s deployed) to
    keep the test short; the queue's own clock runs faster than real time."""
    from btm_ppa.adapters import cloud_tasks
    from tests.conftest import cell, result_cell

    EDIT_WINDOW_S = 8
    monkeypatch.setattr(cloud_tasks, "EDIT_WINDOW_S", EDIT_WINDOW_S)

    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    config = deploy_config()
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        runtime.inject("sheets", loopback_client(sheets))
        client = deployment.become("refresh")
        _queue(deployment, config)
        served = Served(client.application)
        deployment.tasks.routes[url("refresh")] = served.url
        deployment.tasks.paused = True  # the burst goes in before anything is dispatched
        time.sleep(EDIT_WINDOW_S - time.time() % EDIT_WINDOW_S + 0.05)  # a window opens
        answers = []
        try:
            for price in (120.0, 135.5, 151.25):
                sheets.set_value("BESS", cell("ppa_price_gbp_per_mwh"), price)
                answers.append(client.post("/", json={"spreadsheet_id": SHEET_ID, "defer": True,
                                                      "trigger": "edit"},
                                           headers=deployment.user(alice, token)))
            last_edit = dt.datetime.now(dt.UTC)
            assert [a.status_code for a in answers] == [202, 202, 202]
            assert [a.get_json().get("joined", False) for a in answers] == [False, True, True]
            assert len({a.get_json()["task"].rsplit("/", 1)[-1] for a in answers}) == 1
            deployment.tasks.paused = False
            assert deployment.tasks.wait_idle(60)
            (task,) = deployment.tasks.tasks.values()
            assert task.attempts == [200]
            # scheduled for the end of the window the edits fell in, and held until then
            assert task.schedule_time.timestamp() % EDIT_WINDOW_S == 0
            assert task.schedule_time >= last_edit and task.dispatched_at[0] >= task.not_before
            assert task.name.rsplit("/", 1)[1][:16].isalnum()  # a hash first
            assert sheets.value("BESS", "B62") == "OK"
            assert sheets.value("BESS", result_cell("ppa_revenue_gbp", "stream1")) == pytest.approx(
                sheets.value("BESS", result_cell("volume_mwh", "stream1")) * 151.25, abs=0.01)
            time.sleep(max(0.0, task.schedule_time.timestamp() - time.time()))  # as deployed
            later = client.post("/", json={"spreadsheet_id": SHEET_ID, "defer": True,
                                            "trigger": "edit"},
                                headers=deployment.user(alice, token))
            assert later.status_code == 202 and not later.get_json().get("joined", False)
            assert deployment.tasks.wait_idle(60)
        finally:
            served.close()
    assert len(deployment.tasks.tasks) == 2


def test_the_tasks_standin_frees_a_name_about_an_hour_after_its_task_ran(deployment):
    from google.api_core import exceptions as gexc

    from btm_ppa.adapters.cloud_tasks import TaskQueue, TaskQueueConfig
    from tests import cloud_tasks_standin

    _queue(deployment, deploy_config())
    deployment.become("refresh")
    queue = TaskQueue(TaskQueueConfig(queue=os.environ["BTM_PPA_TASKS_QUEUE"],
                                      target_url="http://127.0.0.1:9/unreachable",
                                      service_account=TASKS, endpoint=deployment.tasks.endpoint))
    deployment.tasks.paused = True
    assert queue.enqueue({"n": 1}, name="abc123-first") is not None
    assert queue.enqueue({"n": 2}, name="abc123-first") is None  # queued: taken
    (task,) = deployment.tasks.tasks.values()
    queue_state = next(iter(deployment.tasks.queues.values()))
    queue_state.pending.clear()
    queue_state.names[task.name] = time.monotonic()  # it has just run
    assert queue.enqueue({"n": 3}, name="abc123-first") is None  # ran a moment ago: taken
    queue_state.names[task.name] = time.monotonic() - (
        cloud_tasks_standin.DEDUP_WINDOW_S + 1) * deployment.tasks.time_scale
    assert queue.enqueue({"n": 4}, name="abc123-first") is not None  # an hour on: free
    assert gexc  # (the client maps 409 to Conflict, which enqueue answers as None)


def test_drive_not_enabled_in_the_add_ons_project_is_a_503_saying_what_to_enable(
        deployment, example_xlsx):
    """The add-on's Cloud project is not the backend's and has not enabled the Drive API:
    Google answers the access check 403 accessNotConfigured, which is the deployment's
    fault, not the user's: 503 naming the API, never "cannot open spreadsheet"."""
    alice = "alice@example.com"
    token = deployment.drive.issue("alice-token", alice, ADDON, (READ_SCOPE,))
    deployment.drive.share(SHEET_ID, alice)
    deployment.drive.api_disabled[ADDON] = "987654321098"
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        runtime.inject("sheets", loopback_client(sheets))
        client = deployment.become("refresh")
        answer = client.post("/", json={"spreadsheet_id": SHEET_ID, "validate_only": True},
                             headers=deployment.user(alice, token))
        assert answer.status_code == 503
        message = answer.get_json()["error"]["message"]
        assert "drive.googleapis.com" in message and "projects/987654321098" in message
        assert "cannot open" not in message
        assert sheets.requests == []
