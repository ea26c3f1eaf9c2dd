"""Deploy tier: the staged function source (deploy.sh --stage-only) installed into a fresh
virtualenv from the locked cloud requirements alone (what Cloud Build installs), then a
year solved with the optimal method through the ``refresh`` function, against the loopback
Sheets API and the BigQuery emulator served by this test process.

It installs offline from build/wheelhouse (``make test`` downloads the lock's wheels there
first) or, without one, from the package index; either way only the lock is installed, so
a module the cloud path imports but the lock lacks fails here. About 30-50 s.
"""

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.conftest import set_cells
from tests.sheets_standin import SheetsStandIn
from tests.test_sheets_workbook import SHEET_ID

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.e2e, pytest.mark.deploy, pytest.mark.slow]

CHILD = textwrap.dedent("""
    import json, os, sys
    import requests
    import functions_framework
    from google.auth.credentials import AnonymousCredentials
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud import bigquery
    from google.oauth2.credentials import Credentials

    stage, sheets_port, bq_endpoint, sheet_id = sys.argv[1:5]
    app = functions_framework.create_app(target="refresh", source=os.path.join(stage, "main.py"))
    from btm_ppa.adapters.bigquery_warehouse import BigQueryWarehouse
    from btm_ppa.adapters.sheets_workbook import make_client
    from btm_ppa.entrypoints import runtime

    class Loopback(requests.adapters.HTTPAdapter):
        def send(self, request, **kwargs):
            request.url = request.url.replace("https://sheets.googleapis.com",
                                              "http://127.0.0.1:" + sheets_port)
            return super().send(request, **kwargs)

    credentials = Credentials(token="dummy")
    session = AuthorizedSession(credentials)
    session.mount("https://sheets.googleapis.com", Loopback())
    runtime.inject("sheets", make_client(credentials, session=session))
    client = bigquery.Client(project="test-project", credentials=AnonymousCredentials(),
                             client_options={"api_endpoint": bq_endpoint})
    runtime.inject("warehouse", BigQueryWarehouse(client, "test-project.btm"))
    response = app.test_client().post("/", json={"spreadsheet_id": sheet_id})
    import importlib.util
    from btm_ppa.core.dispatch import value_function
    print(json.dumps({
        "kernel": value_function.DEFAULT_KERNEL,
        "status": response.status_code, "body": response.get_json(),
        "local_only": [m for m in ("openpyxl", "rich", "duckdb", "sqlglot")
                       if importlib.util.find_spec(m) is not None],
        "python": sys.version.split()[0]}))
""")


_STAGING_OUTPUT: list[str] = []  # what deploy.sh --stage-only printed


@pytest.fixture(scope="module")
def cloud_env(tmp_path_factory):
    """The staged source and a virtualenv holding exactly the lock."""
    base = tmp_path_factory.mktemp("deploy_tier")
    stage, venv = base / "stage", base / "venv"
    staged = subprocess.run(["bash", str(ROOT / "deploy" / "deploy.sh"), "--stage-only"],
                            env={**os.environ, "STAGE": str(stage), "PYTHON": sys.executable},
                            check=True, capture_output=True, text=True)
    _STAGING_OUTPUT.append(staged.stdout + staged.stderr)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    wheelhouse = ROOT / "build" / "wheelhouse"
    offline = ["--no-index", "--find-links", str(wheelhouse)] if (wheelhouse / ".stamp").exists() else []
    install = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                              *offline, "--require-hashes", "--no-deps",
                              "-r", "requirements.txt"],
                             cwd=stage, capture_output=True, text=True)  # as the build runs it
    assert install.returncode == 0, install.stderr[-3000:]
    return stage, venv


def test_the_staged_source_solves_a_year_with_only_the_locked_requirements(
        cloud_env, example_xlsx, bq_prices, tmp_path):
    stage, venv = cloud_env
    set_cells(example_xlsx, {"B22": "optimal"})
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    with SheetsStandIn(SHEET_ID, example_xlsx) as sheets:
        sheets.add_tab("Dispatch")  # as the add-on makes it: 1,000 rows x 26 columns
        env = {k: v for k, v in os.environ.items() if not k.startswith("BTM_PPA_")}
        env.update({"BTM_PPA_AUTH": "off", "PYTHONPATH": ""})
        run = subprocess.run([str(venv / "bin" / "python"), str(script), str(stage),
                              str(sheets.port), bq_prices.client._connection.API_BASE_URL,
                              SHEET_ID], cwd=stage, env=env, capture_output=True, text=True,
                             timeout=600)
        assert run.returncode == 0, run.stderr[-3000:]
        result = json.loads(run.stdout.strip().splitlines()[-1])
        assert result["status"] == 200, result["body"]
        assert result["body"]["status"] == "OK" and result["body"]["method"] == "optimal"
        assert sheets.value("BESS", "B62") == "OK"
        assert sheets.value("Dispatch", "A366") is not None  # a year of days, one row each
    assert result["local_only"] == []
    # The compiled programme came with the staged source (its wheel, by hash), not from here.
    assert result["kernel"] == "compiled"


def test_the_staged_source_carries_the_compiled_programme_as_a_manylinux_wheel(cloud_env):
    stage, venv = cloud_env
    assert not (stage / "dp_kernel").exists()
    wheels = sorted((stage / "wheels").glob("btm_ppa_dp-*.whl"))
    assert len(wheels) == 1 and "-abi3-" in wheels[0].name and "manylinux" in wheels[0].name
    pinned = [line for line in (stage / "requirements.txt").read_text().splitlines()
              if line.startswith("./wheels/")]
    assert pinned == [f"./wheels/{wheels[0].name} --hash=sha256:"
                      f"{hashlib.sha256(wheels[0].read_bytes()).hexdigest()}"]
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import btm_ppa_dp; print(btm_ppa_dp.__file__)"],
                           capture_output=True, text=True, check=True, cwd=stage)
    assert str(venv) in where.stdout  # installed from the wheel, not found in the source


def test_building_the_compiled_programme_warns_of_nothing_experimental(cloud_env):
    """The wheel is built by setuptools from functions/dp_kernel: no "experimental"
    configuration warnings (they also filled `make demo`'s output)."""
    output = "".join(_STAGING_OUTPUT)
    assert "experimental" not in output, output[-3000:]
