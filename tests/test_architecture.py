"""The package's import rules (pyproject.toml, [tool.importlinter]) hold, and its shape
stays readable: few modules at the top, none over 400 lines."""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

pytestmark = pytest.mark.unit

PACKAGE = Path(__file__).resolve().parents[1] / "functions" / "btm_ppa"


def test_import_contracts_are_kept():
    assert lint_imports(config_filename=str(PACKAGE.parents[1] / "pyproject.toml"), no_cache=True) == 0


def test_at_most_eight_modules_sit_directly_in_the_package():
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 8, top



def test_no_module_is_over_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in PACKAGE.rglob("*.py")
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400}
    assert long == {}
