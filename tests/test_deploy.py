"""deploy/deploy.sh --dry-run prints a complete command list and runs none of it."""

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dry_run_prints_every_command(tmp_path):
    env = {**os.environ, "PROJECT": "acme-energy", "REGION": "europe-west2",
           "APPS_SCRIPT_CLIENT_ID": "1234.apps.googleusercontent.com",
           "ALLOWED_CALLERS": "@acme.co.uk,boss@gmail.com", "STAGE": str(tmp_path / "stage"),
           "PATH": "/usr/bin:/bin"}  # no gcloud or bq on PATH: a real run would fail
    out = subprocess.run(["bash", str(ROOT / "deploy" / "deploy.sh"), "--dry-run"], env=env,
                         capture_output=True, text=True, check=True).stdout
    commands = [line for line in out.splitlines() if line.startswith("+ ")]
    for fn in ("refresh", "ingest_prices", "scheduled_refresh", "vlp_register"):
        deploy = next(c for c in commands if c.startswith(f"+ gcloud functions deploy {fn} "))
        for flag in ("--gen2", "--trigger-http", "--no-allow-unauthenticated",
                     f"--entry-point={fn}", "--service-account=btm-ppa-fn@acme-energy"):
            assert flag in deploy
        assert "BTM_PPA_BIGQUERY_DATASET=acme-energy.btm_ppa" in deploy
        assert f"cloudfunctions.net/{fn}" in deploy
    assert any("time_partitioning_field=settlement_date" in c for c in commands)
    scheduler = next(c for c in commands if "scheduler jobs create http" in c)
    assert "--oidc-service-account-email=btm-ppa-scheduler@acme-energy" in scheduler
    assert any("--member=domain:acme.co.uk" in c for c in commands)
    assert any("--member=user:boss@gmail.com" in c for c in commands)
    assert any("--add-custom-audiences=1234.apps.googleusercontent.com" in c for c in commands)
    assert not (tmp_path / "stage").exists()  # nothing staged either


def test_requirements_are_generated_from_pyproject():
    out = subprocess.run(["python3", str(ROOT / "deploy" / "requirements.py"),
                          str(ROOT / "pyproject.toml")], capture_output=True, text=True,
                         check=True).stdout
    assert "gspread" in out and "functions-framework" in out and "pytest" not in out
