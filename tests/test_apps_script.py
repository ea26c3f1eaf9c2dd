"""The Apps Script add-on: a syntax check of every file, and its pure helpers under node."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "deploy" / "apps_script"
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs it)")


@pytest.mark.parametrize("name", ["Helpers.js", "Code.js"])
def test_syntax(name):
    subprocess.run([NODE, "--check", str(SCRIPT / name)], check=True)


def test_helpers():
    result = subprocess.run([NODE, "--test", str(SCRIPT / "helpers.test.js")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout


def test_manifest_lists_every_scope_the_script_uses():
    manifest = json.loads((SCRIPT / "appsscript.json").read_text())
    scopes = set(manifest["oauthScopes"])
    assert "openid" in scopes  # ScriptApp.getIdentityToken()
    assert "https://www.googleapis.com/auth/script.external_request" in scopes  # UrlFetchApp
    assert "https://www.googleapis.com/auth/script.scriptapp" in scopes  # installable triggers
    assert any(s.startswith("https://www.googleapis.com/auth/spreadsheets") for s in scopes)
