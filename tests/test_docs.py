"""The README and docs/ stay true: every link and section reference resolves, and the
analyst's walk-through quotes the figures a refresh of the worked example prints today."""

from __future__ import annotations

import re
from pathlib import Path

import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.refresh import refresh

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "deploy" / "README.md"]
_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", page.read_text(), re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_link_and_anchor_resolves(page):
    for target in _LINK.findall(page.read_text()):
        if re.match(r"[a-z]+:", target):
            continue  # http(s), mailto: not checked offline
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.name}: link to missing {target}"
        if anchor:
            assert file.suffix == ".md" and anchor in _anchors(file), \
                f"{page.name}: {target}: no such section in {file.relative_to(ROOT)}"


def test_the_readme_has_a_contents_list_and_two_command_quick_start():
    text = (ROOT / "README.md").read_text()
    assert "## Contents" in text and "## An analyst's walk-through" in text
    quick = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    commands = re.search(r"```sh\n(.*?)```", quick, re.S).group(1).strip().splitlines()
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]


_SEE = re.compile(r'see (README|docs/[\w-]+\.md|deploy/README\.md), "([^"]+)"')


def test_section_references_in_code_name_sections_that_exist():
    """A comment such as (see docs/optimiser.md, "Compiled, and the same deployed") points
    at a heading of that page (dp_kernel's pointed at a README section long gone)."""
    seen = 0
    for source in [*ROOT.glob("functions/**/*.py"), *ROOT.glob("functions/**/*.toml"),
                   *ROOT.glob("functions/**/*.c"), *ROOT.glob("tests/**/*.md"),
                   ROOT / "pyproject.toml", ROOT / "Makefile"]:
        for page, section in _SEE.findall(source.read_text(errors="replace")):
            target = ROOT / ("README.md" if page == "README" else page)
            section = " ".join(section.split())
            assert _slug(section) in _anchors(target), f"{source}: {page}, {section!r}"
            seen += 1
    assert seen >= 1


def _walkthrough_rows() -> dict[int, list[str]]:
    text = (ROOT / "README.md").read_text()
    walk = text.split("## An analyst's walk-through", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```\nrow .*?\n(.*?)```", walk, re.S).group(1)
    rows = {}
    for line in block.splitlines():
        number = int(line.split()[0])
        rows[number] = re.findall(r"-?[\d,]+\.\d+|\bOK\b|\bsheet\b", line)
    return rows


def test_the_walkthrough_quotes_what_a_refresh_of_the_example_prints(example_xlsx, warehouse):
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    quoted = _walkthrough_rows()
    assert sorted(quoted) == list(range(51, 63))
    for row in range(51, 62):
        decimals = 3 if row == 51 else 2
        want = [f"{ws[f'{c}{row}'].value:,.{decimals}f}" for c in "BCD"]
        assert quoted[row] == want, f"README row {row}: {quoted[row]} but the refresh gives {want}"
    assert quoted[62] == [ws["B62"].value, ws["C62"].value]
