"""Rough edges a newcomer met in the first hour (issue 23): each test failed before the fix."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.results import pennies, pennies_adding_up
from btm_ppa.entrypoints.cli import main
from btm_ppa.entrypoints.report import ExitCode, outcome_json
from btm_ppa.errors import InputError
from btm_ppa.refresh import refresh, validate
from sheets_layout import load_bess_layout
from tests.conftest import (
    before_april_2023,
    cell,
    cell_values,
    result_cell,
    set_cells,
    status_cell,
)


def flat(text: str) -> str:
    return " ".join(text.split())


# ------------------------------------------------ 3. --export-schedule under `sheet` ----
def test_export_schedule_under_the_sheet_method_is_refused_before_anything_is_written(
        example_xlsx, warehouse, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    before = example_xlsx.read_bytes()
    target = tmp_path / "schedule.csv"
    code = main(["refresh", "--workbook", str(example_xlsx), "--export-schedule", str(target)])
    said = flat(capsys.readouterr().err + capsys.readouterr().out)
    assert code == ExitCode.INPUT, said
    assert example_xlsx.read_bytes() == before and not target.exists()
    assert cell("method") in said and "greedy, optimal or realistic" in said and "nothing was written" in said


# ---------------------------------------------------- 5. validation writes nothing ----
def test_validation_writes_nothing_and_says_so(example_xlsx):
    layout = load_bess_layout()
    before = cell_values(example_xlsx)
    clean = validate(XlsxWorkbook(example_xlsx))
    assert clean.ok and outcome_json(clean, layout)["status_written"] is False
    set_cells(example_xlsx, {cell("ppa_price_gbp_per_mwh"): "£1,2x"})
    before = cell_values(example_xlsx)
    wrong = validate(XlsxWorkbook(example_xlsx))
    assert not wrong.ok and cell("ppa_price_gbp_per_mwh") in wrong.status
    assert cell_values(example_xlsx) == before
    assert outcome_json(wrong, layout)["status_written"] is False


def test_a_refresh_answer_says_row_62_was_written(example_xlsx, warehouse):
    layout = load_bess_layout()
    done = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert done.ok and outcome_json(done, layout)["status_written"] is True
    set_cells(example_xlsx, {cell("ppa_price_gbp_per_mwh"): "£1,2x"})
    wrong = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome_json(wrong, layout)["status_written"] is True
    assert cell("ppa_price_gbp_per_mwh") in cell_values(example_xlsx)[status_cell()]


# -------------------------------------------------------- 7. dates in messages ----
@pytest.mark.parametrize("value", [dt.date(2023, 12, 31), dt.datetime(2023, 12, 31)])
def test_a_date_in_a_message_is_an_iso_date_not_a_python_repr(value):
    message = InputError("B21", value, "a date").message
    assert "found 2023-12-31;" in message and "datetime" not in message


def test_a_reversed_window_names_its_dates_as_dates(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("window_start"): dt.datetime(2024, 1, 31),
                             cell("window_end"): dt.datetime(2023, 12, 31)})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and "2023-12-31" in outcome.status, outcome.status
    assert "datetime" not in outcome.status


# ------------------------------------- 8. written money in pennies, energy to the Wh ----
def _decimals(value: float) -> int:
    text = repr(float(value))
    return 0 if "e" in text or "." not in text else len(text.split(".")[1].rstrip("0"))


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200))
def test_pennies_adding_up_re_add_to_the_rounded_total(amounts):
    got = pennies_adding_up(amounts)
    assert all(abs(g - a) < 0.01 + 1e-6 for g, a in zip(got, amounts, strict=True))
    assert all(_decimals(g) <= 2 for g in got)
    assert pennies(sum(Decimal(repr(float(g))) for g in got)) == pennies(math.fsum(amounts))


def test_many_half_pennies_do_not_drift():
    got = pennies_adding_up([39.035] * 1000)  # per-period rounding would add £5.00
    assert round(sum(got), 2) == 39_035.00


def test_a_simulated_refresh_writes_no_float_noise_and_its_export_reconciles_with_row_59(
        example_xlsx, warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    set_cells(example_xlsx, {**before_april_2023(),
                             cell("window_start"): "2023-01-01", cell("window_end"): "2023-01-31",
                             cell("method"): "greedy", cell("duos_fixed_gbp_per_day"): 1.5,
                             cell("tnuos_residual_gbp_per_day"): 20})
    target = tmp_path / "schedule.csv"
    assert main(["refresh", "--workbook", str(example_xlsx), "--export-schedule",
                 str(target)]) == ExitCode.OK
    book = openpyxl.load_workbook(example_xlsx)
    ws = book["BESS"]
    layout = load_bess_layout()
    for block in (layout.non_bess, layout.bess):
        for row in layout.block_rows:
            assert _decimals(ws[block.volume_cell(row).cell].value) <= 6
            assert _decimals(ws[block.cost_cell(row).cell].value) <= 2
        cells = layout.system_buy_cells(block)
        assert _decimals(ws[cells["average"].cell].value) <= 4
        assert _decimals(ws[cells["volume"].cell].value) <= 6
        assert _decimals(ws[cells["cost"].cell].value) <= 2
    for row in book["Dispatch"].iter_rows(min_row=2, values_only=True):
        if isinstance(row[1], int | float):
            assert all(_decimals(v) <= 6 for v in row[1:6]) and _decimals(row[6]) <= 2, row
    text = target.read_text()
    assert not re.search(r"\d\.\d{7,}", text), re.search(r"[\d.]*\d\.\d{7,}", text).group()
    schedule = pd.read_csv(target)
    fixed_gbp = 31 * (1.5 + 20)  # per day, not per period: in row 59, not in the export
    total = ws[result_cell("profit_gbp")].value
    assert abs(math.fsum(schedule["profit_gbp"]) - fixed_gbp - total) <= 0.05


# ------------------------------------------------------------------ 9. lookup ----
def test_lookup_lists_the_tariffs_held_and_says_when_a_rate_is_not(capsys):
    assert main(["lookup", "--area", "_C", "--date", "2025-06-01", "--list-tariffs"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["tariffs_held"]["charging_year"] == "2025/26"
    assert "Domestic Aggregated or CT with Residual" in body["tariffs_held"]["tariffs"]
    assert main(["lookup", "--area", "_G", "--date", "2023-06-01", "--list-tariffs",
                 "--tariff", "Non-Domestic Aggregated or CT Band 1"]) == 0
    captured = capsys.readouterr()
    body = json.loads(captured.out)
    assert body["unit_rates_p_per_kwh"] is None
    assert "2023/24 is held" in body["unit_rates_not_held"] and "2025/26" in body[
        "unit_rates_not_held"]
    assert body["tariffs_held"]["tariffs"] == [] and "2025/26" in body["tariffs_held"]["note"]
    assert "no Electricity North West charging statement for 2023/24" in flat(captured.err)


# ------------------------------------------- 11. no experimental setuptools settings ----
ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("pyproject", [ROOT / "pyproject.toml",
                                       ROOT / "functions" / "dp_kernel" / "pyproject.toml"],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_pyproject_uses_what_setuptools_calls_experimental(pyproject):
    """setuptools warns in every build of `[tool.distutils]` and
    `[tool.setuptools] ext-modules` (still experimental): six warnings in `make demo`."""
    tool = tomllib.loads(pyproject.read_text()).get("tool", {})
    assert "distutils" not in tool
    assert "ext-modules" not in tool.get("setuptools", {})
