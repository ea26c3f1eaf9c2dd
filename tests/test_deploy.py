"""deploy/deploy.sh: the dry run's commands, a second run that updates instead of
creating, each function's environment, and the locked cloud requirements."""

import hashlib
import json
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "deploy.sh"
SETTINGS = {"PROJECT": "acme-energy", "REGION": "europe-west2",
            "ADDON_CLIENT_ID": "1234-addon.apps.googleusercontent.com",
            "ALLOWED_CALLERS": "@acme.co.uk,boss@gmail.com"}
SA = "iam.gserviceaccount.com"


def _dry_run(tmp_path) -> list[str]:
    env = {**os.environ, **SETTINGS, "STAGE": str(tmp_path / "stage"),
           "PATH": "/usr/bin:/bin"}  # no gcloud or bq on PATH: a real run would fail
    out = subprocess.run(["bash", str(DEPLOY), "--dry-run"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert not (tmp_path / "stage").exists()  # nothing staged either
    return out.splitlines()


def test_dry_run_shows_a_function_per_service_account_and_least_privilege(tmp_path):
    commands = [c for c in _dry_run(tmp_path) if c.startswith("+ ")]
    accounts = {}
    for fn in ("refresh", "ingest_prices", "scheduled_refresh", "vlp_register"):
        deploy = next(c for c in commands if c.startswith(f"+ gcloud functions deploy {fn} "))
        for flag in ("--gen2", "--trigger-http", "--no-allow-unauthenticated", "--runtime=python312",
                     f"--entry-point={fn}", "--min-instances=0",
                     f"--build-service-account=projects/acme-energy/serviceAccounts/btm-ppa-build@acme-energy.{SA}"):
            assert flag in deploy, (fn, flag)
        accounts[fn] = re.search(r"--service-account=(\S+)", deploy).group(1)
        assert "BTM_PPA_BIGQUERY_DATASET=acme-energy.btm_ppa" in deploy
    assert len(set(accounts.values())) == 4  # one each
    grants = [c.replace("\\", "") for c in commands if "add-iam-policy-binding" in c or " GRANT" in c]

    def role(grant: str) -> str:
        found = re.search(r"--role=(\S+)|GRANT `([^`]+)`", grant)
        return found.group(1) or found.group(2)

    def roles_of(account):
        return {role(c) for c in grants if account in c}

    assert "roles/bigquery.dataViewer" in roles_of(accounts["refresh"])  # refresh reads
    refresh_edits = [c for c in grants if accounts["refresh"] in c and "dataEditor" in c]
    assert len(refresh_edits) == 1 and "ON TABLE `acme-energy.btm_ppa.refresh_runs`" in refresh_edits[0]
    for writer in ("ingest_prices", "scheduled_refresh", "vlp_register"):  # ingestion writes
        assert any(accounts[writer] in c and "dataEditor` ON SCHEMA `acme-energy.btm_ppa`" in c
                   for c in grants)
    assert "roles/cloudtasks.enqueuer" in roles_of(accounts["scheduled_refresh"])  # fan-out
    assert "roles/cloudtasks.enqueuer" not in roles_of(accounts["ingest_prices"])
    # no project-wide data role for anyone
    assert not any("gcloud projects" in c and "bigquery.data" in c for c in grants)


def test_dry_run_shows_the_queue_the_scheduler_and_the_add_on(tmp_path):
    lines = _dry_run(tmp_path)
    commands = [c for c in lines if c.startswith("+ ")]
    queue = next(c for c in commands if "gcloud tasks queues create btm-ppa-refresh" in c)
    for flag in ("--max-dispatches-per-second=0.25", "--max-concurrent-dispatches=2",
                 "--max-attempts=5", "--min-backoff=60s", "--max-backoff=900s"):
        assert flag in queue
    scheduler = next(c for c in commands if "scheduler jobs create http" in c)
    assert f"--oidc-service-account-email=btm-ppa-scheduler@acme-energy.{SA}" in scheduler
    for fn in ("ingest_prices", "scheduled_refresh", "vlp_register"):
        deploy = next(c for c in commands if c.startswith(f"+ gcloud functions deploy {fn} "))
        assert f"BTM_PPA_ALLOWED_CALLERS=btm-ppa-scheduler@acme-energy.{SA}" in deploy.replace("\\", "")
        assert any(f"add-invoker-policy-binding {fn} " in c and "btm-ppa-scheduler" in c
                   for c in commands)
    assert any("--member=domain:acme.co.uk" in c for c in commands)
    assert any("--member=user:boss@gmail.com" in c for c in commands)
    assert any("--add-custom-audiences=1234-addon.apps.googleusercontent.com" in c for c in commands)
    assert any("time_partitioning_field=settlement_date" in c for c in commands)
    assert any("function onInstall(e)" in line for line in lines)
    assert any("createAddonMenu()" in line for line in lines)


def _fake_tools(tmp_path, exists: bool) -> Path:
    """gcloud and bq that log their arguments; describe/show succeed when ``exists``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("gcloud", "bq"):
        script = bin_dir / tool
        script.write_text(f"""#!/bin/bash
echo "{tool} $*" >> {tmp_path}/calls.log
case " $* " in *" describe "*|*" show "*) exit {0 if exists else 1} ;; esac
exit 0
""")
        script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return bin_dir


@pytest.mark.parametrize("exists", [False, True])
def test_a_second_run_updates_what_the_first_created(tmp_path, exists):
    addon = tmp_path / "addon"
    tracked = {p.name: p.read_bytes() for p in (ROOT / "deploy" / "apps_script").iterdir() if p.is_file()}
    env = {**os.environ, **SETTINGS, "STAGE": str(tmp_path / "stage"), "ADDON_DIR": str(addon),
           "PATH": f"{_fake_tools(tmp_path, exists)}:/usr/bin:/bin"}
    subprocess.run(["bash", str(DEPLOY)], env=env, check=True, capture_output=True)
    calls = (tmp_path / "calls.log").read_text().splitlines()
    creates = [c for c in calls if re.search(r" (create|mk) ", c)]
    if exists:  # everything there already: only updates, no create that would fail
        assert creates == []
        assert any(c.startswith("gcloud tasks queues update btm-ppa-refresh") for c in calls)
        assert any(c.startswith("gcloud scheduler jobs update http btm-ppa-nightly") for c in calls)
    else:
        assert sum("iam service-accounts create" in c for c in creates) == 7
        assert any("tasks queues create" in c for c in creates)
    # The staged requirements are the lock plus the compiled programme's wheel, by hash.
    staged = (tmp_path / "stage" / "requirements.txt").read_text()
    lock = (ROOT / "deploy" / "requirements-cloud.txt").read_text()
    assert staged.startswith(lock)
    [wheel] = [line for line in staged[len(lock):].splitlines()
               if line and not line.startswith("#")]
    path, _, digest = wheel.partition(" --hash=sha256:")
    assert hashlib.sha256((tmp_path / "stage" / path).read_bytes()).hexdigest() == digest
    assert "cloudfunctions.net/refresh" in (addon / "Config.js").read_text()
    assert json.loads((addon / "appsscript.json").read_text())["urlFetchWhitelist"] == [
        "https://europe-west2-acme-energy.cloudfunctions.net/"]
    assert {p.name for p in addon.iterdir()} >= {"Code.js", "Helpers.js", ".claspignore"}
    # The tracked add-on source is left as it is: the deploy writes only its staged copy.
    assert tracked == {p.name: p.read_bytes() for p in (ROOT / "deploy" / "apps_script").iterdir()
                       if p.is_file()}


def test_print_env_is_what_the_deploy_sets():
    env = {**os.environ, **SETTINGS}
    out = subprocess.run(["bash", str(DEPLOY), "--print-env", "refresh"], env=env,
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines())
    assert values["BTM_PPA_AUDIENCES"] == ("https://europe-west2-acme-energy.cloudfunctions.net/refresh,"
                                           "1234-addon.apps.googleusercontent.com")
    assert values["BTM_PPA_ALLOWED_CALLERS"].endswith(f",btm-ppa-tasks@acme-energy.{SA}")
    assert values["BTM_PPA_TASKS_QUEUE"] == ("projects/acme-energy/locations/europe-west2/"
                                             "queues/btm-ppa-refresh")


def test_the_cloud_lockfile_pins_with_hashes_and_leaves_out_local_only_libraries():
    text = (ROOT / "deploy" / "requirements-cloud.txt").read_text()
    pins = dict(re.findall(r"^([a-z0-9_.-]+)==(\S+)", text, flags=re.M))
    assert {"functions-framework", "gspread", "google-cloud-bigquery", "google-cloud-tasks",
            "pandas", "highspy"} <= set(pins)
    for local_only in ("openpyxl", "rich", "duckdb", "sqlglot", "pytest", "bqemulator"):
        assert local_only not in pins
    requirements = [b for b in re.split(r"\n(?=\S)", text) if re.match(r"^[a-z0-9]", b)]
    assert requirements and all("--hash=sha256:" in b for b in requirements)


def test_the_deployed_code_imports_nothing_left_out_of_the_lock(tmp_path):
    """Import every module the functions load on the cloud path with the local-only
    libraries made unimportable."""
    script = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('openpyxl', 'rich', 'duckdb', 'sqlglot'):
            raise ImportError('not in the cloud lock: ' + name)
sys.meta_path.insert(0, Block())
sys.path.insert(0, 'functions')
import main
from btm_ppa.entrypoints import http, runtime
from btm_ppa.adapters import sheets_workbook, bigquery_warehouse, cloud_tasks, drive_access, run_log
from btm_ppa.refresh import refresh
from btm_ppa.prices.ingest import ingest_prices
from btm_ppa.register.export import make_register
from btm_ppa.entrypoints.report import outcome_json
print('ok')
"""
    out = subprocess.run([os.sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.stdout.strip() == "ok", out.stderr


def test_importing_the_function_module_loads_no_heavy_library():
    """A cold start imports only what every request needs; pandas, the model, openpyxl,
    BigQuery and Cloud Tasks load on the first request that uses them (figures:
    benchmarks/import_time.py)."""
    script = ("import sys; sys.path.insert(0, 'functions'); import main; "
              "print(' '.join(sorted(m for m in ('pandas', 'numpy', 'openpyxl', 'duckdb', "
              "'google.cloud.bigquery', 'google.cloud.tasks_v2', 'highspy', 'rich', "
              "'btm_ppa.refresh') if m in sys.modules)))")
    out = subprocess.run([os.sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                         text=True, check=True)
    assert out.stdout.strip() == ""
