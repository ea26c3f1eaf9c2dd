"""deploy/deploy.sh: the dry run's commands, a second run that updates instead of
creating, each function's environment, and the locked cloud requirements."""

import hashlib
import json
import os
import re
import shutil
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


SERVICES = {"refresh": "refresh", "ingest_prices": "ingest-prices",
            "scheduled_refresh": "scheduled-refresh", "vlp_register": "vlp-register"}


def _deploy_command(commands: list[str], fn: str) -> str:
    return next(c for c in commands if c.startswith(f"+ gcloud run deploy {SERVICES[fn]} "))


def _dry_run(tmp_path, **settings: str) -> list[str]:
    env = {**os.environ, **SETTINGS, **settings, "STAGE": str(tmp_path / "stage"),
           "PATH": "/usr/bin:/bin"}  # no gcloud or bq on PATH: a real run would fail
    out = subprocess.run(["bash", str(DEPLOY), "--dry-run"], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert not (tmp_path / "stage").exists()  # nothing staged either
    return out.splitlines()


def test_dry_run_shows_a_function_per_service_account_and_least_privilege(tmp_path):
    commands = [c for c in _dry_run(tmp_path) if c.startswith("+ ")]
    accounts = {}
    for fn in SERVICES:
        deploy = _deploy_command(commands, fn)
        for flag in ("--no-allow-unauthenticated", "--base-image=python312", f"--function={fn}",
                     f"--source={tmp_path / 'stage'}", "--project=acme-energy",
                     "--region=europe-west2", "BTM_PPA_FRONT_DOOR=cloud-run",
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
    # refresh writes its run records and a sizing sweep's sizes, table by table, nothing else
    edited = sorted(re.search(r"ON (TABLE `[^`]+`|SCHEMA)", c).group(1) for c in refresh_edits)
    assert edited == ["TABLE `acme-energy.btm_ppa.refresh_runs`",
                      "TABLE `acme-energy.btm_ppa.sizing_results`"]
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
        deploy = _deploy_command(commands, fn)
        assert f"BTM_PPA_ALLOWED_CALLERS=btm-ppa-scheduler@acme-energy.{SA}" in deploy.replace("\\", "")
        assert any(f"run services add-iam-policy-binding {SERVICES[fn]} " in c
                   and "btm-ppa-scheduler" in c and "--role=roles/run.invoker" in c
                   for c in commands)
    invokers = [c for c in commands if "run services add-iam-policy-binding refresh " in c]
    assert {re.search(r"--member=(\S+)", c).group(1) for c in invokers} == {
        f"serviceAccount:btm-ppa-tasks@acme-energy.{SA}", "domain:acme.co.uk", "user:boss@gmail.com"}
    # The add-on's audience is set by the very command that deploys refresh, and only there.
    audiences = [c for c in commands if "custom-audiences" in c]
    assert audiences == [_deploy_command(commands, "refresh")]
    assert "--set-custom-audiences=1234-addon.apps.googleusercontent.com" in audiences[0]
    prices = next(c for c in commands if "mk --table" in c and "system_prices" in c)
    assert "--time_partitioning_field=settlement_date" in prices
    assert "--time_partitioning_type=MONTH" in prices
    assert "--clustering_fields=settlement_date" in prices
    dataset = next(c for c in commands if "mk --dataset" in c)
    assert "--location=europe-west2" in dataset  # beside the functions, in their region
    assert any("function onInstall(e)" in line for line in lines)
    assert any("createAddonMenu()" in line for line in lines)


def test_every_command_names_the_project_and_none_changes_gcloud_config(tmp_path):
    commands = [c for c in _dry_run(tmp_path, ADDON_PROJECT="acme-addon") if c.startswith("+ ")]
    for command in commands:
        assert "gcloud config" not in command
        if command.startswith("+ gcloud "):
            assert re.search(r"--project=acme-energy\b", command) or (
                "gcloud projects add-iam-policy-binding acme-energy " in command) or (
                command == "+ gcloud services enable drive.googleapis.com --project=acme-addon"), command
        elif command.startswith("+ bq "):
            assert command.startswith("+ bq --project_id=acme-energy "), command
    assert "+ gcloud services enable drive.googleapis.com --project=acme-addon" in commands


def test_minimum_instances_on_refresh_only(tmp_path):
    commands = [c for c in _dry_run(tmp_path, MIN_INSTANCES="1") if c.startswith("+ ")]
    assert "--min-instances=1" in _deploy_command(commands, "refresh")
    for fn in ("ingest_prices", "scheduled_refresh", "vlp_register"):
        assert "--min-instances=0" in _deploy_command(commands, fn)


def test_iam_grants_are_retried_while_a_new_account_propagates(tmp_path):
    """On a fresh project a grant to an account made seconds earlier fails ("does not
    exist") until IAM sees it: the deploy tries again with backoff instead of stopping."""
    bin_dir = _fake_tools(tmp_path, exists=False)
    (bin_dir / "gcloud").write_text(f"""#!/bin/bash
echo "gcloud $*" >> {tmp_path}/calls.log
case " $* " in *" describe "*) exit 1 ;; esac
if [[ " $* " == *add-iam-policy-binding* ]]; then
  n=$(cat {tmp_path}/grant-fails 2>/dev/null || echo 0)
  if (( n < 2 )); then echo $((n + 1)) > {tmp_path}/grant-fails
    echo "ERROR: Service account btm-ppa-refresh does not exist." >&2; exit 1; fi
fi
exit 0
""")
    (bin_dir / "sleep").write_text(f"#!/bin/bash\necho \"sleep $*\" >> {tmp_path}/calls.log\n")
    (bin_dir / "sleep").chmod(0o755)
    env = {**os.environ, **SETTINGS, "PROJECT_NUMBER": "123456789012",
           "STAGE": str(tmp_path / "stage"), "ADDON_DIR": str(tmp_path / "addon"),
           "PATH": f"{bin_dir}:/usr/bin:/bin"}
    run = subprocess.run(["bash", str(DEPLOY)], env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr[-2000:]
    calls = (tmp_path / "calls.log").read_text().splitlines()
    first_grant = next(i for i, c in enumerate(calls) if "add-iam-policy-binding" in c)
    assert calls[first_grant + 1] == "sleep 5" and calls[first_grant + 3] == "sleep 10"
    assert calls[first_grant + 4] == calls[first_grant + 2] == calls[first_grant]
    assert "trying again" in run.stderr


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
           "PROJECT_NUMBER": "123456789012",
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
    assert "https://refresh-123456789012.europe-west2.run.app" in (addon / "Config.js").read_text()
    assert json.loads((addon / "appsscript.json").read_text())["urlFetchWhitelist"] == [
        "https://refresh-123456789012.europe-west2.run.app/"]
    assert {p.name for p in addon.iterdir()} >= {"Code.js", "Helpers.js", ".claspignore"}
    # The tracked add-on source is left as it is: the deploy writes only its staged copy.
    assert tracked == {p.name: p.read_bytes() for p in (ROOT / "deploy" / "apps_script").iterdir()
                       if p.is_file()}


def test_print_env_is_what_the_deploy_sets():
    env = {**os.environ, **SETTINGS, "PROJECT_NUMBER": "123456789012"}
    out = subprocess.run(["bash", str(DEPLOY), "--print-env", "refresh"], env=env,
                         capture_output=True, text=True, check=True).stdout
    values = dict(line.split("=", 1) for line in out.splitlines())
    assert values["BTM_PPA_AUDIENCES"] == ("https://refresh-123456789012.europe-west2.run.app,"
                                           "1234-addon.apps.googleusercontent.com")
    assert values["BTM_PPA_FRONT_DOOR"] == "cloud-run"
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


GCLOUD = shutil.which("gcloud")


@pytest.mark.slow
@pytest.mark.skipif(GCLOUD is None, reason="the Google Cloud CLI (gcloud) is not installed here")
def test_every_gcloud_command_of_the_dry_run_parses_with_the_real_cli(tmp_path):
    """Each gcloud command the dry run prints, run by the installed gcloud with an empty
    configuration and no credentials: it must get as far as asking for an account (exit
    1), never stop at its arguments (exit 2, "unrecognized arguments", "invalid choice").
    About 3-6 s a command (gcloud's start-up); 30-odd commands."""
    lines = _dry_run(tmp_path)
    commands = [line[2:] for line in lines if line.startswith("+ gcloud ")]
    assert len(commands) >= 25
    config = tmp_path / "gcloud-config"
    config.mkdir()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path),
           "CLOUDSDK_CONFIG": str(config), "CLOUDSDK_CORE_DISABLE_PROMPTS": "1",
           "CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK": "1"}
    wrong = []
    for command in commands:
        # The dry run prints each command shell-quoted (printf %q): bash reads it back.
        run = subprocess.run(["bash", "-c", command], env=env, capture_output=True, text=True,
                             timeout=120)
        if run.returncode != 1 or "You do not currently have an active account" not in run.stderr:
            wrong.append((command[:120], run.returncode, run.stderr.strip()[:300]))
    assert wrong == []


def test_the_sizing_sweeps_table_is_made_partitioned_and_expiring(tmp_path):
    """sizing_results (the Deal tab's sizes valued by Cloud Tasks) from its schema file,
    daily partitions on valued_at that expire after a week: it never grows without end."""
    [made] = [c.replace("\\", "") for c in _dry_run(tmp_path)
              if c.startswith("+ ") and " mk " in c and "sizing_results" in c]
    for flag in ("--time_partitioning_field=valued_at", "--time_partitioning_type=DAY",
                 "--time_partitioning_expiration=604800", "acme-energy:btm_ppa.sizing_results"):
        assert flag in made, flag
    schema_file = made.split()[-1]
    names = [f["name"] for f in json.loads(Path(schema_file).read_text())]
    assert names == ["digest", "power_kw", "duration_h", "npv_p50_gbp", "seconds", "valued_at"]
