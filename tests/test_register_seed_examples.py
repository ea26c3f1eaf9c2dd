"""Seed 000's own usage examples run unchanged against the register.

Seed 000 prints 13 usage examples for ``vlp_battery_units_data.json``: a Python script, a
JavaScript one, six jq lines, four Python analysis snippets and an SQLite import. They are
read from the seed's text here (never copied by hand: tests/seeds holds the seed as the
project received it) and run as printed in a directory where the register built from the
63-record sample sits under the seed's file name: Python with this interpreter, JavaScript
with node, the jq lines with bash and jq. Every figure printed is checked against one
computed here from the sample records themselves. The analysis snippets use ``data``
without loading it, so they run after the seed's own loading lines (the start of its
Python example).
"""

from __future__ import annotations

import ast
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from btm_ppa.reference.files import data_path
from btm_ppa.register.bm_units import parse_bm_units
from btm_ppa.register.document import SEED_UNIT_FIELDS, build_register
from btm_ppa.register.export import JSON_NAME, write_register_files

SEED = Path(__file__).parent / "seeds" / "000_e8c050bbbb0df087.txt"
SAMPLE: list[dict[str, Any]] = json.loads(
    data_path("elexon_bmunits_storage_sample.json").read_text())
NODE, JQ, BASH = shutil.which("node"), shutil.which("jq"), shutil.which("bash")


@dataclass(frozen=True)
class Example:
    name: str  # the heading (or, for a jq line, the comment) above it in the seed
    language: str  # python, javascript or jq
    code: str


def seed_examples(text: str) -> list[Example]:
    """The usage examples: every python and javascript block, and each ``jq`` line of the
    bash blocks (the other bash lines run the seed's own scripts or a web server)."""
    tokens = MarkdownIt().parse(text)
    heading, examples = "", []
    for index, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = tokens[index + 1].content
        elif token.type == "fence" and token.info.strip() in ("python", "javascript"):
            examples.append(Example(heading, token.info.strip(), token.content))
        elif token.type == "fence" and token.info.strip() == "bash":
            comment = ""
            for line in token.content.splitlines():
                if line.startswith("#"):
                    comment = line.lstrip("# ")
                elif line.startswith("jq "):
                    examples.append(Example(comment, "jq", line))
    return examples


EXAMPLES = seed_examples(SEED.read_text(encoding="utf-8"))


def _loading_lines() -> str:
    """The seed's lines that load ``data``: its Python example up to ``json.load``."""
    lines = next(e for e in EXAMPLES if e.name == "Python").code.splitlines()
    end = next(i for i, line in enumerate(lines) if "json.load(" in line)
    return "\n".join(lines[:end + 1]) + "\n"


def run(example: Example, workdir: Path, epilogue: str = "") -> subprocess.CompletedProcess:
    """Run one example as printed, in ``workdir``; ``epilogue`` prints what a snippet
    computes without printing it."""
    if example.language == "python":
        needs_data = "json.load(" not in example.code
        script = workdir / "example.py"
        script.write_text((_loading_lines() if needs_data else "") + example.code + epilogue,
                          encoding="utf-8")
        command = [sys.executable, str(script)]
    elif example.language == "javascript":
        if NODE is None:
            pytest.skip("node is not installed (.ci/run installs it)")
        script = workdir / "example.js"
        script.write_text(example.code, encoding="utf-8")
        command = [NODE, str(script)]
    else:
        if JQ is None or BASH is None:
            pytest.skip("jq is not installed (.ci/run installs it)")
        command = [BASH, "-c", example.code]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=120)


def register_dir(records: list[dict[str, Any]], directory: Path) -> Path:
    """The register of ``records`` under the seed's file name in ``directory``."""
    register = build_register(parse_bm_units(records), "test records")
    write_register_files(register, directory / JSON_NAME)
    return directory


# What the records imply, worked out from the Elexon records alone: every sample record is
# a storage unit; a lead party that registers a secondary unit (type V, id V__) is a VLP.
def mw(record: dict[str, Any]) -> float:
    return float(record["generationCapacity"])


def vlp_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    parties = {r["leadPartyId"] for r in records
               if r["bmUnitType"] == "V" or r["elexonBmUnit"].startswith("V__")}
    return [r for r in records if r["leadPartyId"] in parties]


def direct_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    vlp = vlp_records(records)
    return [r for r in records if r not in vlp]


def json_values(text: str) -> list[Any]:
    """The values jq prints one after another."""
    decoder, values, at = json.JSONDecoder(), [], 0
    while (at := len(text) - len(text[at:].lstrip())) < len(text):
        value, at = decoder.raw_decode(text, at)
        values.append(value)
    return values


def units_named(values: list[Any]) -> list[str]:
    return sorted(v["elexonBmUnit"] for v in values)


def ids_where(key: str, value: str) -> list[str]:
    return sorted(r["elexonBmUnit"] for r in SAMPLE if r[key] == value)


def summary_lines() -> list[str]:
    vlp = vlp_records(SAMPLE)
    return [f"Total battery BMUs: {len(SAMPLE)}",
            f"VLP percentage: {round(100 * len(vlp) / len(SAMPLE), 1)}%",
            f"VLP batteries: {len(vlp)}"]


def check_python(out: subprocess.CompletedProcess, _: Path) -> None:
    tesla = sum(r["leadPartyName"] == "Tesla Motors Limited" for r in SAMPLE)
    vlp_mw = sum(mw(r) for r in vlp_records(SAMPLE))
    assert out.stdout.splitlines() == [*summary_lines(), f"Tesla batteries: {tesla}",
                                       f"Total VLP capacity: {vlp_mw:.0f} MW"]


def check_javascript(out: subprocess.CompletedProcess, _: Path) -> None:
    lines = out.stdout.splitlines()
    assert lines[:3] == summary_lines()
    shown = "\n".join(lines[3:])
    assert shown.startswith("Batteries by region:")
    # node prints the object as a JavaScript literal: name: count, names quoted if needed
    pairs = re.findall(r"(?:'([^']+)'|([A-Za-z_$][\w$]*)): (\d+)", shown)
    assert {quoted or bare: int(n) for quoted, bare, n in pairs} == Counter(
        r["gspGroupName"] or "Unknown" for r in SAMPLE)


def check_total(out: subprocess.CompletedProcess, _: Path) -> None:
    assert json_values(out.stdout) == [len(SAMPLE)]


def check_vlp_operators(out: subprocess.CompletedProcess, _: Path) -> None:
    operators = {r["leadPartyName"] for r in vlp_records(SAMPLE)}
    assert len(operators) <= 10  # all of them are in the top ten
    assert sorted(json_values(out.stdout)) == sorted(operators)


def check_yorkshire(out: subprocess.CompletedProcess, _: Path) -> None:
    assert units_named(json_values(out.stdout)) == ids_where("gspGroupName", "Yorkshire")


def check_tesla(out: subprocess.CompletedProcess, _: Path) -> None:
    assert units_named(json_values(out.stdout)) == ids_where("leadPartyName",
                                                             "Tesla Motors Limited")


def check_count_by_status(out: subprocess.CompletedProcess, _: Path) -> None:
    assert json_values(out.stdout) == [[{"vlp": False, "count": len(direct_records(SAMPLE))},
                                        {"vlp": True, "count": len(vlp_records(SAMPLE))}]]


def check_capacity_by_status(out: subprocess.CompletedProcess, _: Path) -> None:
    [totals] = json_values(out.stdout)
    assert [t["vlp"] for t in totals] == [False, True]
    assert [t["total"] for t in totals] == pytest.approx(
        [sum(mw(r) for r in direct_records(SAMPLE)), sum(mw(r) for r in vlp_records(SAMPLE))])


def check_market_share(out: subprocess.CompletedProcess, _: Path) -> None:
    share = sum(mw(r) for r in vlp_records(SAMPLE)) / sum(mw(r) for r in SAMPLE) * 100
    assert out.stdout.splitlines() == [f"VLP market share: {share:.1f}%"]


def check_regions(out: subprocess.CompletedProcess, _: Path) -> None:
    assert out.stdout.startswith("Top regions: ")
    top = Counter(r["gspGroupName"] for r in SAMPLE if r["gspGroupName"]).most_common(5)
    assert ast.literal_eval(out.stdout.strip().removeprefix("Top regions: ")) == top


def check_portfolios(out: subprocess.CompletedProcess, _: Path) -> None:
    *printed, shown = out.stdout.splitlines()
    assert printed == []  # the snippet prints nothing; the epilogue shows sorted_ops
    ranked = json.loads(shown)
    counts = Counter(r["leadPartyName"] for r in SAMPLE)
    assert len(ranked) == min(10, len(counts))
    for name, portfolio in ranked:
        assert portfolio["count"] == counts[name]
        assert portfolio["capacity"] == pytest.approx(
            sum(mw(r) for r in SAMPLE if r["leadPartyName"] == name))
    shown_counts = [p["count"] for _, p in ranked]
    assert shown_counts == sorted(shown_counts, reverse=True)
    left_out = [n for name, n in counts.items() if name not in dict(ranked)]
    assert min(shown_counts) >= max(left_out, default=0)


def unit_size_check(records: list[dict[str, Any]]) -> Callable[..., None]:
    def check(out: subprocess.CompletedProcess, _: Path) -> None:
        vlp_sizes = [mw(r) for r in vlp_records(records) if mw(r)]
        direct_sizes = [mw(r) for r in direct_records(records) if mw(r)]
        if not vlp_sizes:
            # The snippet averages the VLP units with a capacity; in the sample the only
            # VLP unit is a secondary unit, which registers 0 MW, so Python refuses to
            # average nothing. See test_the_unit_size_example_runs_where_vlp_units_have_capacity.
            assert out.returncode == 1 and out.stdout == ""
            assert "StatisticsError: mean requires at least one data point" in out.stderr
            return
        assert out.stdout.splitlines() == [
            f"VLP avg size: {statistics.mean(vlp_sizes):.1f} MW",
            f"Direct avg size: {statistics.mean(direct_sizes):.1f} MW"]
    return check


def check_database(out: subprocess.CompletedProcess, workdir: Path) -> None:
    assert out.stdout == ""
    with sqlite3.connect(workdir / "vlp_batteries.db") as db:
        rows, vlp, total_mw = db.execute(
            "SELECT COUNT(*), SUM(is_vlp), SUM(generationCapacity) FROM batteries").fetchone()
        keys = {k for (k,) in db.execute("SELECT nationalGridBmUnit FROM batteries")}
        yorkshire = db.execute(
            "SELECT COUNT(*) FROM batteries WHERE gspGroupName = 'Yorkshire'").fetchone()[0]
    assert (rows, vlp) == (len(SAMPLE), len(vlp_records(SAMPLE)))
    assert total_mw == pytest.approx(sum(mw(r) for r in SAMPLE))
    assert keys == {r["nationalGridBmUnit"] for r in SAMPLE}
    assert yorkshire == len(ids_where("gspGroupName", "Yorkshire"))


CHECKS: dict[str, Callable[[subprocess.CompletedProcess, Path], None]] = {
    "Python": check_python,
    "JavaScript": check_javascript,
    "Get total battery count": check_total,
    "List all VLP operators": check_vlp_operators,
    "Get batteries in Yorkshire": check_yorkshire,
    "Count batteries by VLP status": check_count_by_status,
    "Get Tesla batteries": check_tesla,
    "Total capacity by VLP status": check_capacity_by_status,
    "1. Market Share Analysis": check_market_share,
    "2. Regional Distribution": check_regions,
    "3. Operator Portfolio Analysis": check_portfolios,
    "4. Average Unit Size by Operator Type": unit_size_check(SAMPLE),
    "Database Import": check_database,
}
EPILOGUES = {"3. Operator Portfolio Analysis": "\nprint(json.dumps(sorted_ops))\n"}
#: Examples that stop with an error on the sample, and why (see unit_size_check).
FAILS_ON_THE_SAMPLE = {"4. Average Unit Size by Operator Type"}


def test_the_seed_prints_thirteen_usage_examples_and_each_has_a_check():
    assert len(EXAMPLES) == 13
    assert [e.name for e in EXAMPLES] == list(dict.fromkeys(e.name for e in EXAMPLES))
    assert {e.name for e in EXAMPLES} == set(CHECKS)
    assert Counter(e.language for e in EXAMPLES) == {"python": 6, "javascript": 1, "jq": 6}


@pytest.mark.parametrize("example", EXAMPLES, ids=[e.name for e in EXAMPLES])
def test_each_seed_example_runs_unchanged_on_the_sample_register(example, tmp_path):
    workdir = register_dir(SAMPLE, tmp_path)
    out = run(example, workdir, EPILOGUES.get(example.name, ""))
    if example.name not in FAILS_ON_THE_SAMPLE:
        assert out.returncode == 0, out.stderr
        assert out.stderr == ""
    CHECKS[example.name](out, workdir)


def test_the_unit_size_example_runs_where_vlp_units_have_capacity(tmp_path):
    """The sample plus one secondary unit registered by Tesla's lead party: Tesla's 15
    batteries become VLP-operated, and the example prints both averages."""
    secondary = {**SAMPLE[0], "elexonBmUnit": "V__JTESLA001", "nationalGridBmUnit": "TESLA-V1",
                 "leadPartyId": "TESLA", "leadPartyName": "Tesla Motors Limited",
                 "bmUnitName": "Tesla Battery Aggregate", "gspGroupId": "_J",
                 "gspGroupName": "South Eastern"}
    records = [*SAMPLE, secondary]
    example = next(e for e in EXAMPLES if e.name == "4. Average Unit Size by Operator Type")
    out = run(example, register_dir(records, tmp_path))
    assert out.returncode == 0, out.stderr
    unit_size_check(records)(out, tmp_path)
    assert len(vlp_records(records)) == 17  # 15 Tesla units, its V unit and Centrica's


def test_units_have_the_seed_fields_in_its_order_and_types():
    """The entry the seed prints as its example (a fenced json block) against ours."""
    [printed] = [t.content for t in MarkdownIt().parse(SEED.read_text(encoding="utf-8"))
                 if t.type == "fence" and t.info.strip() == "json"]
    seed_entry = json.loads(printed)
    assert tuple(seed_entry) == SEED_UNIT_FIELDS
    register = build_register(parse_bm_units(SAMPLE), "sample")
    for unit in register["battery_units"]:
        assert tuple(unit)[:len(SEED_UNIT_FIELDS)] == SEED_UNIT_FIELDS
        for key, value in seed_entry.items():
            if unit[key] is not None:
                assert type(unit[key]) is type(value), key


def test_the_seed_copy_is_the_shared_seed():
    """tests/seeds holds the seed unchanged (checked where the shared seeds are at hand)."""
    here = Path(__file__).resolve()
    shared = [p / "shared" / "seeds" / SEED.name for p in here.parents
              if (p / "shared" / "seeds" / SEED.name).is_file()]
    if not shared:
        pytest.skip("the project's shared seeds are not beside this checkout")
    assert SEED.read_bytes() == shared[0].read_bytes()
