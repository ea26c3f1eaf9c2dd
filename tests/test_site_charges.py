"""Fixed and capacity charges, the site import limit and the residual band: hand-checked
numbers, and the refresh adding them exactly under every method."""

from __future__ import annotations

import csv
import datetime as dt
from decimal import Decimal

import numpy as np
import openpyxl
import pytest

from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
from btm_ppa.core.charges import (
    DailyCharges,
    demand_above_limit,
    fixed_charges,
    residual_band,
    site_import_limit_mwh,
)
from btm_ppa.core.vocab import VoltageLevel
from btm_ppa.reference.charges import charging_year_days, find_residual_band, site_charges
from btm_ppa.reference.files import read_gsp_groups
from btm_ppa.refresh import refresh, validate
from tests.conftest import cell, set_cells
from tests.independent import DATA

NORTH_WESTERN = next(g for g in read_gsp_groups() if g.gsp_group_id == "_G")
CELLS = {key: cell(key) for key in ("duos_fixed_gbp_per_day", "duos_capacity_p_per_kva_day",
                                    "tnuos_residual_gbp_per_day", "voltage_level",
                                    "agreed_import_capacity_kva")}
BLANK = {"duos_fixed_gbp_per_day": None, "duos_capacity_p_per_kva_day": None,
         "tnuos_residual_gbp_per_day": None}


@pytest.mark.unit
def test_fixed_charges_by_hand():
    # (a + b + c/100 x kVA) x days = (1.50 + 20.00 + 8.35/100 x 1,500) x 365
    #                             = (1.50 + 20.00 + 125.25) x 365 = 146.75 x 365 = 53,563.75
    spans = [DailyCharges(days=365, duos_fixed_gbp_per_day=1.50, duos_capacity_p_per_kva_day=8.35,
                          tnuos_residual_gbp_per_day=20.00)]
    charges = fixed_charges(spans, 1500)
    assert charges.duos_gbp == pytest.approx(126.75 * 365)
    assert charges.tnuos_gbp == pytest.approx(20.00 * 365)
    assert charges.total_gbp == pytest.approx(53_563.75)
    # two charging years: 90 days at one set of rates, 275 at another
    two = fixed_charges([DailyCharges(90, 1.0, 0.0, 2.0), DailyCharges(275, 3.0, 10.0, 0.0)], 200)
    assert two.duos_gbp == pytest.approx(90 * 1.0 + 275 * (3.0 + 0.10 * 200))
    assert two.tnuos_gbp == pytest.approx(180.0)
    # no agreed capacity: nothing to charge capacity on
    assert fixed_charges([DailyCharges(10, 1.0, 50.0, 0.0)], None).duos_gbp == pytest.approx(10.0)


@pytest.mark.unit
def test_import_limit_by_hand():
    assert site_import_limit_mwh(1500, 1.0) == pytest.approx(0.75)  # 1.5 MW for half an hour
    assert site_import_limit_mwh(1000, 0.9) == pytest.approx(0.45)  # 900 kW
    breach = demand_above_limit(np.array([0.2, 0.5, 0.46, 0.45]), 0.45)
    assert breach is not None
    assert (breach.periods, breach.largest_excess_mwh) == (2, pytest.approx(0.05))
    assert breach.total_excess_mwh == pytest.approx(0.06)
    assert "in 2 period(s), by up to 0.050 MWh" in breach.describe(0.45)
    assert demand_above_limit(np.array([0.45, 0.1]), 0.45) is None


@pytest.mark.unit
@pytest.mark.parametrize(("kva", "band"), [(0, 1), (80, 1), (80.5, 2), (150, 2), (231, 3),
                                           (232, 4), (10_000, 4)])
def test_residual_band_upper_bound_inclusive(kva, band):
    thresholds = [(1, 0, 80), (2, 80, 150), (3, 150, 231), (4, 231, float("inf"))]
    assert residual_band(thresholds, kva) == band


@pytest.mark.unit
def test_residual_band_from_the_statement():
    lv = find_residual_band(NORTH_WESTERN, VoltageLevel.LV, 1500, "2025/26")
    assert (lv.band, lv.lower_kva, lv.upper_kva) == (4, 231, float("inf"))
    hv = find_residual_band(NORTH_WESTERN, VoltageLevel.HV, 1500, "2025/26")
    assert (hv.band, hv.lower_kva, hv.upper_kva) == (3, 1000, 1800)
    assert find_residual_band(NORTH_WESTERN, VoltageLevel.HV, 1500, "2023/24") is None


@pytest.mark.unit
def test_charging_year_days():
    assert charging_year_days(dt.date(2023, 1, 1), dt.date(2023, 12, 31)) == {
        "2022/23": 90, "2023/24": 275}
    assert charging_year_days(dt.date(2024, 1, 1), dt.date(2024, 12, 31)) == {
        "2023/24": 91, "2024/25": 275}


def _published(tariff: str, year: str) -> dict[str, str]:
    """The statement row, read with csv alone."""
    with open(DATA / "duos_unit_rates_dno_lv_hv.csv", encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["gsp_group"] == "_G"
                    and r["charging_year"] == year and r["tariff_name"] == tariff)


@pytest.mark.unit
def test_blank_charges_are_looked_up_per_charging_year_and_recalculated_independently():
    tariff = "LV Site Specific Band 4"
    found = site_charges(group=NORTH_WESTERN, voltage=VoltageLevel.LV, tariff=tariff,
                         tariff_cell=cell("duos_tariff"),
                         start=dt.date(2025, 1, 1), end=dt.date(2025, 12, 31),
                         capacity_kva=1500, typed=BLANK, cells=CELLS)
    row = _published(tariff, "2025/26")
    # Independent: 1 Jan-31 Mar 2025 is 2024/25 (no ENWL statement held: zero), the
    # remaining 275 days 2025/26: fixed p/day / 100 + capacity p/kVA/day / 100 x kVA.
    expected_duos = 275 * (float(row["fixed_p_per_mpan_day"]) / 100
                           + float(row["capacity_p_per_kva_day"]) / 100 * 1500)
    charges = fixed_charges(found.spans, 1500)
    assert charges.duos_gbp == pytest.approx(expected_duos)
    assert charges.duos_gbp == pytest.approx(275 * (4.3766 + 125.25))
    assert charges.tnuos_gbp == 0  # no £/day held for LV band 4
    notes = " ".join(found.notes)
    assert (f"{cell('duos_fixed_gbp_per_day')} blank: DUoS fixed looked up 437.66 p/day "
            "(LV Site Specific Band 4, 2025/26)") in notes
    assert "0 for 2024/25 (no Electricity North West statement held)" in notes
    assert "LV residual band 4" in notes


@pytest.mark.unit
def test_typed_charges_win_and_a_small_lv_site_gets_the_band_1_residual():
    typed = dict(BLANK, duos_fixed_gbp_per_day=2.0)
    found = site_charges(group=NORTH_WESTERN, voltage=VoltageLevel.LV, tariff=None,
                         tariff_cell=cell("duos_tariff"),
                         start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 30),
                         capacity_kva=50, typed=typed, cells=CELLS)
    charges = fixed_charges(found.spans, 50)
    assert charges.duos_gbp == pytest.approx(30 * 2.0)
    assert charges.tnuos_gbp == pytest.approx(30 * 3.908)
    assert not any(n.startswith(cell("duos_fixed_gbp_per_day")) for n in found.notes)
    assert (f"{cell('duos_capacity_p_per_kva_day')} blank: DUoS capacity 0 for 2025/26 "
            f"({cell('duos_tariff')} is blank)") in found.notes


# ------------------------------------------------------------------------- refresh ----


A, B, C, KVA = 1.50, 20.00, 8.35, 1500  # £/day DUoS fixed, £/day TNUoS residual, p/kVA/day
ADDED = Decimal("53563.75")  # (1.50 + 20.00 + 8.35 / 100 x 1,500) x 365


def _totals(path, layout, warehouse):
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome


@pytest.mark.integration
@pytest.mark.parametrize("method", ["sheet", "greedy", "optimal"])
def test_fixed_charges_add_exactly_to_a_2023_total(example_xlsx, layout, warehouse, method):
    cell = {k: layout.input(k).cell for k in ("method", "agreed_import_capacity_kva",
                                              "duos_fixed_gbp_per_day",
                                              "tnuos_residual_gbp_per_day",
                                              "duos_capacity_p_per_kva_day")}
    set_cells(example_xlsx, {cell["method"]: method})
    before = _totals(example_xlsx, layout, warehouse).table
    # the capacity sits far above demand: no schedule changes, only the charges
    set_cells(example_xlsx, {cell["duos_fixed_gbp_per_day"]: A,
                             cell["tnuos_residual_gbp_per_day"]: B,
                             cell["duos_capacity_p_per_kva_day"]: C})
    set_cells(example_xlsx, {cell["agreed_import_capacity_kva"]: KVA} if method == "sheet"
              else {cell["agreed_import_capacity_kva"]: 10 * KVA})
    kva = KVA if method == "sheet" else 10 * KVA
    added = Decimal(str(round((A + B + C / 100 * kva) * 365, 2)))
    if method == "sheet":
        assert added == ADDED
    outcome = _totals(example_xlsx, layout, warehouse)
    after = outcome.table
    assert after.stream1.total_cost_gbp - before.stream1.total_cost_gbp == added
    assert after.total.total_cost_gbp - before.total.total_cost_gbp == added
    assert after.stream1.duos_cost_gbp - before.stream1.duos_cost_gbp == Decimal(
        str(round((A + C / 100 * kva) * 365, 2)))
    assert after.stream1.tnuos_bsuos_cost_gbp - before.stream1.tnuos_bsuos_cost_gbp == Decimal(
        str(round(B * 365, 2)))
    assert after.stream2 == before.stream2
    sheet = openpyxl.load_workbook(example_xlsx)["BESS"]
    duos_row, tnuos_row = (layout.result_row(k).row for k in ("duos_cost_gbp",
                                                               "tnuos_bsuos_cost_gbp"))
    assert sheet[f"B{duos_row}"].value == float(after.stream1.duos_cost_gbp)
    assert sheet[f"D{tnuos_row}"].value == float(after.total.tnuos_bsuos_cost_gbp)
    assert "fixed charges over 365 days" in outcome.prices.note()


@pytest.mark.integration
@pytest.mark.parametrize("method", ["greedy", "optimal"])
def test_capacity_1500_kva_at_pf_1_caps_import_at_0_75_mwh(example_xlsx, layout, warehouse,
                                                            method):
    set_cells(example_xlsx, {layout.input("method").cell: method,
                             layout.input("agreed_import_capacity_kva").cell: 1500,
                             layout.input("power_factor").cell: 1})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    imported = outcome.schedule["grid_to_site_mwh"] + outcome.schedule["charge_mwh"]
    assert imported.max() <= 0.75 + 1e-9
    assert (imported > 0.75 - 1e-6).any()  # the limit binds somewhere
    assert "import limit 1,500 kVA x 1 = 0.75 MWh a period" in outcome.prices.note()


@pytest.mark.integration
def test_demand_above_the_limit_is_reported(example_xlsx, layout, warehouse):
    set_cells(example_xlsx, {layout.input("method").cell: "greedy",
                             layout.input("agreed_import_capacity_kva").cell: 800,
                             layout.input("power_factor").cell: 0.5})  # 0.2 MWh a period
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    demand = outcome.schedule["demand_mwh"].to_numpy()
    over = demand > 0.2 + 1e-9
    expected = (f"demand alone exceeds the import limit (0.2 MWh a period) in {over.sum():,} "
                f"period(s), by up to {(demand[over] - 0.2).max():.3f} MWh")
    assert any(w.startswith(expected) for w in outcome.warnings)


@pytest.mark.integration
def test_validate_reports_the_residual_band_of_the_capacity(example_xlsx, layout):
    set_cells(example_xlsx, {layout.input("agreed_import_capacity_kva").cell: 1500})
    outcome = validate(XlsxWorkbook(example_xlsx))  # no warehouse: no planning
    assert outcome.ok, outcome.status
    text = " ".join(outcome.warnings)
    # 2023 is not held: the nearest held statement's thresholds (ENWL, LV with MIC)
    assert (f"{cell('agreed_import_capacity_kva')} 1,500 kVA falls in LV residual band 4 "
            "(231 and above, 2025/26) "
            "(nearest held to 2023/24)") in text
    assert "peak import not planned" in text


@pytest.mark.integration
def test_validate_reports_the_peak_import_each_method_would_plan(example_xlsx, layout,
                                                                warehouse):
    set_cells(example_xlsx, {layout.input("window_start").cell: dt.date(2023, 1, 1),
                             layout.input("window_end").cell: dt.date(2023, 1, 31)})
    outcome = validate(XlsxWorkbook(example_xlsx), warehouse=warehouse)
    assert outcome.ok, outcome.status
    note = next(w for w in outcome.warnings if w.startswith("peak site import"))
    set_cells(example_xlsx, {layout.input("method").cell: "greedy"})
    schedule = refresh(XlsxWorkbook(example_xlsx), warehouse).schedule
    peak = (schedule["grid_to_site_mwh"] + schedule["charge_mwh"]).max()
    assert f"greedy {peak:.3f} MWh a period ({peak * 2:.2f} MW)" in note
    assert "optimal" in note


NEW_INPUTS = ("agreed_import_capacity_kva", "power_factor", "tnuos_residual_gbp_per_day",
              "duos_fixed_gbp_per_day", "duos_capacity_p_per_kva_day", "price_basis")


def test_the_new_inputs_are_on_the_template_and_its_layout_tab(tmp_path, layout):
    from btm_ppa.sheet.template import build_template

    book = openpyxl.load_workbook(build_template(tmp_path / "t.xlsx"))
    listed = {row[0]: row for row in book["Layout"].iter_rows(min_row=2, values_only=True)}
    for key in NEW_INPUTS:
        spec = layout.input(key)
        assert spec.label_matches(book["BESS"][spec.label_cell].value), key
        assert book["BESS"][spec.cell].fill.fgColor.rgb.endswith("FFF2CC"), key  # yellow
        assert listed[spec.cell][2] == spec.label and listed[spec.cell][4] == "analyst"
    assert "kVA" in book["BESS"][layout.input("agreed_import_capacity_kva").label_cell].value


def test_validate_warns_when_tnuos_is_charged_per_day_and_per_mwh(example_xlsx, layout):
    per_day, per_mwh = (layout.input(k).cell for k in ("tnuos_residual_gbp_per_day",
                                                       "tnuos_gbp_per_mwh"))
    set_cells(example_xlsx, {per_day: 20.0, per_mwh: 3.5})
    outcome = validate(XlsxWorkbook(example_xlsx))
    assert any(w.startswith(f"TNUoS is charged both per day ({per_day}) and per MWh ({per_mwh})")
               for w in outcome.warnings)
    set_cells(example_xlsx, {per_mwh: 0})
    assert not any("TNUoS is charged both" in w for w in validate(XlsxWorkbook(example_xlsx)).warnings)


@pytest.mark.integration
def test_the_validate_status_the_add_on_shows_carries_band_and_peak(example_xlsx, layout,
                                                                   warehouse):
    set_cells(example_xlsx, {layout.input("window_start").cell: dt.date(2023, 1, 1),
                             layout.input("window_end").cell: dt.date(2023, 1, 7)})
    outcome = validate(XlsxWorkbook(example_xlsx), warehouse=warehouse)
    assert outcome.status.startswith("VALID:") and "; peak site import: greedy" in outcome.status
