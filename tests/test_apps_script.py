"""The Apps Script add-on: what clasp would push, a type check against the published Apps
Script types (tsc --checkJs), and its menu, trigger and lock flows under node against a
fake of the services (tests/apps_script). ``make test`` runs ``npm ci`` there first."""

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "deploy" / "apps_script"
NODE_TESTS = ROOT / "tests" / "apps_script"
NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not installed (.ci/run installs it)")


def _glob_regex(pattern: str) -> re.Pattern[str]:
    """A .claspignore pattern (minimatch: ** spans folders, * does not) as a regex."""
    out = re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*\*", ".*")
    return re.compile("^" + out.replace(r"\*", "[^/]*") + "$")


def pushed_files() -> set[str]:
    """What ``clasp push`` uploads from rootDir: script and manifest files not ignored."""
    rules = [line.strip() for line in (SCRIPT / ".claspignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    pushed = set()
    for path in SCRIPT.rglob("*"):
        rel = path.relative_to(SCRIPT).as_posix()
        if not path.is_file() or path.suffix not in (".js", ".gs", ".json", ".html"):
            continue
        ignored = False
        for rule in rules:
            negated = rule.startswith("!")
            if _glob_regex(rule.lstrip("!")).match(rel):
                ignored = not negated
        if not ignored:
            pushed.add(rel)
    return pushed


def test_clasp_pushes_only_the_add_on_and_no_test_code(tmp_path):
    (SCRIPT / "stray.test.js").write_text("require('node:test');\n")  # a file left behind
    try:
        pushed = pushed_files()
    finally:
        (SCRIPT / "stray.test.js").unlink()
    assert pushed == {"appsscript.json", "Config.js", "Helpers.js", "Code.js"}
    for name in pushed - {"appsscript.json"}:
        text = (SCRIPT / name).read_text()
        assert "require(" not in text and "module.exports" not in text, name


def test_manifest_is_an_editor_add_on_with_every_scope_it_uses():
    manifest = json.loads((SCRIPT / "appsscript.json").read_text())
    scopes = set(manifest["oauthScopes"])
    assert "openid" in scopes  # ScriptApp.getIdentityToken()
    assert "https://www.googleapis.com/auth/script.external_request" in scopes  # UrlFetchApp
    assert "https://www.googleapis.com/auth/script.scriptapp" in scopes  # installable triggers
    assert "https://www.googleapis.com/auth/script.container.ui" in scopes  # the add-on menu
    assert "https://www.googleapis.com/auth/spreadsheets.currentonly" in scopes
    # The backend checks the user's access to the file with their token through Drive:
    assert "https://www.googleapis.com/auth/drive.metadata.readonly" in scopes
    assert all(u.startswith("https://") for u in manifest["urlFetchWhitelist"])
    code = (SCRIPT / "Code.js").read_text()
    assert "function onInstall(e)" in code and "createAddonMenu()" in code
    assert "createMenu(" not in code


@needs_node
def test_type_check_against_the_published_apps_script_types():
    tsc = NODE_TESTS / "node_modules" / "typescript" / "bin" / "tsc"
    assert tsc.exists(), "run `npm ci` in tests/apps_script (make test does)"
    result = subprocess.run([NODE, str(tsc), "-p", str(NODE_TESTS / "tsconfig.json")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_node
def test_menu_trigger_and_lock_flows_under_node():
    result = subprocess.run([NODE, "--test", str(NODE_TESTS)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout
    assert int(re.search(r"# pass (\d+)", result.stdout).group(1)) >= 16
