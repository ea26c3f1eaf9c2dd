"""The refresh's time budget: past it the refresh gives up with a clear message in the
status row, the results are not updated (and are marked stale: tests/test_hostile.py); the
budget comes from BTM_PPA_REFRESH_BUDGET_S (20 s by default)."""

import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.errors import RefreshTimeoutError
from btm_ppa.refresh import BUDGET_ENV, DEFAULT_BUDGET_S, refresh, refresh_budget_s
from tests.conftest import before_april_2023, cell, cell_values, result_cell, set_cells


def test_a_refresh_past_its_budget_updates_no_result_and_says_why(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "optimal", cell("window_start"): "2023-01-01",
                             cell("window_end"): "2023-03-31",
                             **before_april_2023()})
    before = cell_values(example_xlsx)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse, budget_s=1e-6)
    assert not outcome.ok
    assert isinstance(outcome.error, RefreshTimeoutError)
    assert "budget" in outcome.status and BUDGET_ENV in outcome.status
    after = cell_values(example_xlsx)
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} <= {
        f"{c}62" for c in "BCD"}  # only the status row: no figure was computed


def test_the_same_refresh_within_its_budget_succeeds(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "greedy", cell("window_start"): "2023-01-01",
                             cell("window_end"): "2023-01-31",
                             **before_april_2023()})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse, budget_s=60)
    assert outcome.ok, outcome.status


@pytest.mark.parametrize(("raw", "expected"), [
    (None, DEFAULT_BUDGET_S), ("", DEFAULT_BUDGET_S), ("7.5", 7.5), ("0", DEFAULT_BUDGET_S),
    ("-3", DEFAULT_BUDGET_S), ("soon", DEFAULT_BUDGET_S), ("inf", DEFAULT_BUDGET_S)])
def test_budget_from_the_environment(monkeypatch, raw, expected):
    if raw is None:
        monkeypatch.delenv(BUDGET_ENV, raising=False)
    else:
        monkeypatch.setenv(BUDGET_ENV, raw)
    assert refresh_budget_s() == expected


def test_a_greedy_refresh_answers_without_the_comparison_when_the_optimum_runs_out(
        example_xlsx, warehouse):
    import openpyxl

    set_cells(example_xlsx, {cell("method"): "greedy", cell("window_start"): "2023-01-01",
                             cell("window_end"): "2023-03-31",
                             **before_april_2023()})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse, budget_s=1e-6)
    assert outcome.ok, outcome.status
    note = openpyxl.load_workbook(example_xlsx)["BESS"][result_cell("prices_used", "notes")].value
    assert "optimal not compared" in note and BUDGET_ENV in note


def test_the_solve_budget_starts_once_the_workbook_is_read(example_xlsx, warehouse, monkeypatch):
    # A slow read (a large HH Data tab, a slow Sheets API) no longer eats the solve's
    # budget: a read of 4 s, then an optimal month within a 3 s budget.
    import time

    set_cells(example_xlsx, {cell("method"): "optimal", cell("window_start"): "2023-01-01",
                             cell("window_end"): "2023-01-31", **before_april_2023()})
    book = XlsxWorkbook(example_xlsx)
    read = book.read

    def slow_read(*args, **kwargs):
        time.sleep(4.0)
        return read(*args, **kwargs)

    monkeypatch.setattr(book, "read", slow_read)
    outcome = refresh(book, warehouse, budget_s=3.0)
    assert outcome.ok, outcome.status


def test_a_read_past_its_own_budget_writes_nothing_and_says_why(example_xlsx, warehouse,
                                                                 monkeypatch):
    from btm_ppa import refresh as refresh_module

    set_cells(example_xlsx, {cell("method"): "greedy", cell("window_start"): "2023-01-01",
                             cell("window_end"): "2023-01-31"})
    before = cell_values(example_xlsx)
    monkeypatch.setattr(refresh_module, "READ_BUDGET_S", 0.0)
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse, budget_s=60)
    assert not outcome.ok and isinstance(outcome.error, RefreshTimeoutError)
    assert "reading the workbook took" in outcome.status
    after = cell_values(example_xlsx)  # only the status row says why (issue 26: a timeout's
    assert {k for k in before.keys() | after.keys()  # row 62, figures kept, marked stale)
            if before.get(k) != after.get(k)} <= {f"{c}62" for c in "BCDE"}
