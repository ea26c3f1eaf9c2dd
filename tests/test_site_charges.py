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
from btm_ppa.reference import charge_tables as tables
from btm_ppa.refresh import refresh, validate
from tests.conftest import cell, set_cells
from tests.independent import ROOT


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
def test_residual_band_from_the_national_thresholds():
    lv = tables.residual_band("2025/26", "lv site specific", 1500)
    assert (lv.band, lv.lower, lv.upper) == (4, 231, float("inf"))
    hv = tables.residual_band("2025/26", "hv site specific", 1500)
    assert (hv.band, hv.lower, hv.upper) == (3, 1000, 1800)
    # 2026/27 re-banded: 1,000 kVA at HV is band 2 (500, 1,100]
    assert tables.residual_band("2026/27", "hv site specific", 1000).band == 2
    # a 5.5 GWh no-MIC site is band 4 (above 25,279 kWh), never "band 1"
    assert tables.residual_band("2023/24", "non-domestic aggregated", 5_500_000).band == 4


#: LPN 2023/24 ('Residual Charging Bands' sheet of chellow-rates@97a0aec
#: 2023/electricity/duos/12/LOND-london-power-networks-schedule-of-charges-and-other-tables-
#: 2023-v1-2.xlsx): London's residual is negative, published as a p/day and three p/kWh
#: components per band; the HV fixed component (-94.80 p/day) cancels the fixed charge.
_LPN_2023_HV_RESIDUAL_RED = {1: -2.3418151996527925, 2: -2.495132284709698,
                             3: -2.5339218980129288, 4: -2.572127806120884}
_LPN_2023_HV_RESIDUAL = (-94.80153596617384, -0.3675904229025454, -0.02587621118365894)


@pytest.mark.unit
def test_london_2023_24_hv_rows_are_the_statements_no_residual_rates_plus_its_residual():
    # No Residual 2.628 / 0.368 / 0.026 p/kWh, 94.8 p/day, as Annex 1 publishes it
    base = tables.duos_tariff("2023/24", "_C", "HV Site Specific No Residual")
    assert (base.red_p_per_kwh, base.amber_p_per_kwh, base.green_p_per_kwh,
            base.fixed_p_per_day) == (2.628, 0.368, 0.026, 94.8)
    fixed, amber, green = _LPN_2023_HV_RESIDUAL
    for band, red in _LPN_2023_HV_RESIDUAL_RED.items():
        row = tables.duos_tariff("2023/24", "_C", f"HV Site Specific Band {band}")
        # each band = No Residual + the band's residual, floored at 0, to 3 d.p.
        assert row.red_p_per_kwh == pytest.approx(round(2.628 + red, 3))
        assert row.amber_p_per_kwh == pytest.approx(max(0.0, round(0.368 + amber, 3)))
        assert row.green_p_per_kwh == pytest.approx(max(0.0, round(0.026 + green, 3)))
        assert row.fixed_p_per_day == pytest.approx(max(0.0, round(94.8 + fixed, 2)))
        assert (row.capacity_p_per_kva_day, row.exceeded_p_per_kva_day) == (7.31, 8.2)
    # so an HV London site of 1,500 kVA (band 3, 1,000-1,800 kVA) pays 0.094 / 0 / 0 p/kWh,
    # no fixed charge and 7.31 p/kVA/day in 2023/24: Annex 1's figures, not a mis-parse
    band = tables.residual_band("2023/24", "hv site specific", 1500)
    assert band.band == 3
    row = tables.duos_tariff("2023/24", "_C", f"hv site specific band {band.band}")
    assert (row.red_p_per_kwh, row.amber_p_per_kwh, row.green_p_per_kwh,
            row.fixed_p_per_day, row.capacity_p_per_kva_day) == (0.094, 0.0, 0.0, 0.0, 7.31)
    # LV Site Specific Band 4: 5.362 - 2.1588 = 3.203 red; 9.69 - 7.556 p/day = 2.14 fixed
    # (the statement rounds the unrounded No Residual charge), as published
    lv = tables.duos_tariff("2023/24", "_C", "LV Site Specific Band 4")
    assert (lv.red_p_per_kwh, lv.amber_p_per_kwh, lv.green_p_per_kwh,
            lv.fixed_p_per_day) == (3.203, 0.195, 0.051, 2.14)
    # 2024/25 London publishes a positive residual in £/year per MPAN, added to the fixed
    # charge: HV band 3 118.65 p/day + £544.108/365 = 267.72 p/day, unit rates unchanged
    hv = tables.duos_tariff("2024/25", "_C", "HV Site Specific Band 3")
    assert (hv.red_p_per_kwh, hv.amber_p_per_kwh, hv.green_p_per_kwh,
            hv.fixed_p_per_day) == (3.318, 0.283, 0.013, 267.72)


@pytest.mark.unit
def test_the_cfd_levy_of_july_to_september_2024_is_the_q3_determination():
    # LCCC's bulletin of 18 March 2024 (EMRS news copy): £11.816/MWh for 1 July-30 September
    for day in (dt.date(2024, 7, 1), dt.date(2024, 8, 15), dt.date(2024, 9, 30)):
        rate = tables.cfd_gbp_per_mwh(day)
        assert (rate.value, rate.confidence) == (11.816, "medium")
    assert tables.cfd_gbp_per_mwh(dt.date(2024, 6, 30)).value == 11.522
    assert tables.cfd_gbp_per_mwh(dt.date(2024, 10, 1)).value == 8.750
    assert tables.cfd_gbp_per_mwh(dt.date(2025, 1, 1)) is None  # 2025 on: not held


@pytest.mark.unit
def test_the_ro_of_2022_23_is_ofgems_obligation_times_buy_out():
    # Ofgem 'ROCs presented and redistribution of buy-out fund 2022-23': 0.491 ROC/MWh (GB)
    # x £52.88/ROC = £25.96408/MWh; 2026/27 is not held (a blank F36 is an error)
    rate = tables.ro_gbp_per_mwh("2022/23")
    assert (rate.value, rate.confidence) == (pytest.approx(0.491 * 52.88), "high")
    assert rate.value == pytest.approx(25.96408)
    assert tables.ro_gbp_per_mwh("2026/27") is None


@pytest.mark.unit
def test_the_tnuos_band_rule_matches_the_statements_mapping():
    mapping = tables.tnuos_mapping()
    checked = 0
    for (_, key), band in mapping.items():
        if tables.tariff_family(key) is None:
            continue
        expected = None if band.startswith("n/a") else band
        assert tables.tdr_band_of(key) == expected, key
        checked += 1
    assert checked == 2 * 21  # 2025/26 and 2026/27, 21 tariffs each


# ------------------------------------------------------------------------- refresh ----


A, B, C, KVA = 1.50, 20.00, 8.35, 1500  # £/day DUoS fixed, £/day TNUoS residual, p/kVA/day
DAYS = 366  # the example's window: charging year 2023/24
ADDED = Decimal("53710.50")  # (1.50 + 20.00 + 8.35 / 100 x 1,500) x 366


def _totals(path, layout, warehouse):
    outcome = refresh(XlsxWorkbook(path), warehouse)
    assert outcome.ok, outcome.status
    return outcome


@pytest.mark.integration
@pytest.mark.parametrize("method", ["sheet", "greedy", "optimal"])
def test_typed_fixed_charges_add_exactly(example_xlsx, layout, warehouse, method):
    cell = {k: layout.input(k).cell for k in ("method", "agreed_import_capacity_kva",
                                              "duos_fixed_gbp_per_day",
                                              "tnuos_residual_gbp_per_day",
                                              "duos_capacity_p_per_kva_day")}
    kva = KVA if method == "sheet" else 10 * KVA  # far above demand: the same schedule
    zero = {cell["duos_fixed_gbp_per_day"]: 0, cell["tnuos_residual_gbp_per_day"]: 0,
            cell["duos_capacity_p_per_kva_day"]: 0, cell["method"]: method,
            cell["agreed_import_capacity_kva"]: kva}
    set_cells(example_xlsx, zero)
    before = _totals(example_xlsx, layout, warehouse).table
    set_cells(example_xlsx, {cell["duos_fixed_gbp_per_day"]: A,
                             cell["tnuos_residual_gbp_per_day"]: B,
                             cell["duos_capacity_p_per_kva_day"]: C})
    added = Decimal(str(round((A + B + C / 100 * kva) * DAYS, 2)))
    if method == "sheet":
        assert added == ADDED
    outcome = _totals(example_xlsx, layout, warehouse)
    after = outcome.table
    assert abs(after.total.total_cost_gbp - before.total.total_cost_gbp - added) <= Decimal(
        "0.01")  # Stream 1 and Stream 2 each rounded to the penny
    assert after.total.tnuos_bsuos_cost_gbp - before.total.tnuos_bsuos_cost_gbp == Decimal(
        str(round(B * DAYS, 2)))
    if method == "sheet":  # no schedule: every fixed charge is Stream 1's
        assert after.stream2 == before.stream2
    else:  # the capacity above the site's own peak is the battery's
        s2 = after.stream2.duos_cost_gbp - before.stream2.duos_cost_gbp
        assert s2 > 0
        baseline = kva - float(s2) / (C / 100 * DAYS)
        peak_kva = outcome.schedule["demand_mwh"].max() * 2000
        assert baseline == pytest.approx(np.ceil(peak_kva - 1e-9), abs=0.01)
    sheet = openpyxl.load_workbook(example_xlsx)["BESS"]
    duos_row, tnuos_row = (layout.result_row(k).row for k in ("duos_cost_gbp",
                                                               "tnuos_bsuos_cost_gbp"))
    assert sheet[f"B{duos_row}"].value == float(after.stream1.duos_cost_gbp)
    assert sheet[f"D{tnuos_row}"].value == float(after.total.tnuos_bsuos_cost_gbp)
    assert f"fixed charges over {DAYS} days" in outcome.prices.note()


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
    assert (f"{cell('agreed_import_capacity_kva')} 1,500 kVA falls in residual band 4 "
            "(LV with MIC (LV Site Specific), above 231 kVA (MIC), 2023/24)") in text
    assert "peak import not planned" in text


@pytest.mark.integration
def test_validate_reports_the_peak_import_each_method_would_plan(example_xlsx, layout,
                                                                warehouse):
    set_cells(example_xlsx, {layout.input("window_start").cell: dt.date(2023, 4, 1),
                             layout.input("window_end").cell: dt.date(2023, 4, 30)})
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
    set_cells(example_xlsx, {layout.input("window_start").cell: dt.date(2023, 4, 1),
                             layout.input("window_end").cell: dt.date(2023, 4, 7)})
    outcome = validate(XlsxWorkbook(example_xlsx), warehouse=warehouse)
    assert outcome.status.startswith("VALID:") and "; peak site import: greedy" in outcome.status


# ------------------------------------------------------- charges by charging year ----
def _row(year: str, group: str, tariff: str) -> dict[str, str]:
    """A statement row, read with csv alone."""
    path = ROOT / "functions/btm_ppa/data/charges/duos_tariffs_lv_hv_2022-23_to_2026-27.csv"
    with open(path, encoding="utf-8") as fh:
        return next(r for r in csv.DictReader(fh) if r["charging_year"] == year
                    and r["gsp_group"] == group and r["tariff_key"] == tariff)


@pytest.mark.integration
def test_a_window_crossing_1_april_takes_each_years_rates_per_period(example_xlsx, layout,
                                                                    warehouse):
    set_cells(example_xlsx, {cell("method"): "greedy", cell("window_start"): dt.date(2023, 3, 1),
                             cell("window_end"): dt.date(2023, 4, 30),
                             cell("bsuos_gbp_per_mwh"): 20.0, cell("ro_gbp_per_mwh"): 25.0,
                             # losses and the EMR levies are the subject of other tests
                             cell("loss_factor"): 1.0, cell("cfd_gbp_per_mwh"): 0.0,
                             cell("aahedc_gbp_per_mwh"): 0.5})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    rows = outcome.schedule
    old, new = (_row(y, "_G", "LV Site Specific Band 4") for y in ("2022/23", "2023/24"))
    red = rows[rows["duos_band"] == "red"]
    march = red[red["settlement_date"] < dt.date(2023, 4, 1)]
    april = red[red["settlement_date"] >= dt.date(2023, 4, 1)]
    # import cost = energy + DUoS + BSUoS (typed) + CCL (table) + RO (typed) + FiT (typed)
    # + AAHEDC (typed); no Capacity Market periods in March-April
    levies = 20.0 + 7.75 + 25.0 + 11.5 + 0.5
    assert (march["import_cost_gbp_per_mwh"] - march["energy_price_gbp_per_mwh"]).to_numpy() \
        == pytest.approx(float(old["red_unit_p_per_kwh"]) * 10 + levies)
    assert (april["import_cost_gbp_per_mwh"] - april["energy_price_gbp_per_mwh"]).to_numpy() \
        == pytest.approx(float(new["red_unit_p_per_kwh"]) * 10 + levies)
    note = outcome.prices.note()
    assert "2022/23 (31 days): LV Site Specific Band 4" in note
    assert "2023/24 (30 days): LV Site Specific Band 4" in note
    # the residual is per day from April 2023 only; 2023/24's LV4 £22.316/day
    fixed_tnuos = 30 * 22.316
    assert f"TNUoS residual £{fixed_tnuos:,.2f}" in note


@pytest.mark.integration
@pytest.mark.parametrize(("edits", "address", "why"), [
    # BSUoS before the fixed tariff (April 2023) is a typed input
    ({"window_start": dt.date(2023, 1, 1), "window_end": dt.date(2023, 1, 31)},
     "bsuos_gbp_per_mwh", "the fixed tariff is held from 2023-04-01"),
    # no DUoS statement before 2022/23
    ({"window_start": dt.date(2018, 1, 1), "window_end": dt.date(2018, 1, 31),
      "bsuos_gbp_per_mwh": 3.0, "ro_gbp_per_mwh": 20.0, "ccl_gbp_per_mwh": 5.83},
     "duos_red_p_per_kwh", "no Electricity North West statement held: 2022/23 to 2026/27"),
    # HV band 3's residual is not held
    ({"voltage_level": "HV"}, "tnuos_residual_gbp_per_day", "band HV3"),
])
def test_a_charge_with_no_data_is_an_error_naming_its_cell(example_xlsx, warehouse, edits,
                                                            address, why):
    set_cells(example_xlsx, {cell(k): v for k, v in edits.items()})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok
    assert outcome.status.startswith("ERROR") and cell(address) in outcome.status
    assert why in outcome.status


@pytest.mark.integration
def test_typed_rates_override_and_far_ones_are_flagged(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("duos_red_p_per_kwh"): 30.0, cell("ro_gbp_per_mwh"): 61.90,
                             cell("ccl_gbp_per_mwh"): 7.0,
                             cell("duos_tariff"): "Non-Domestic Aggregated Band 2"})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok and outcome.status == "OK"
    text = " ".join(outcome.warnings)
    assert (f"{cell('duos_red_p_per_kwh')} typed 30 p/kWh differs from the table's 10.43 p/kWh"
            in text)  # the typed tariff's own rate (Non-Domestic Aggregated Band 2)
    assert f"{cell('ro_gbp_per_mwh')} typed 61.9 £/MWh differs from the table's 27.6757" in text
    assert cell("ccl_gbp_per_mwh") not in text  # within the factor: used, not flagged
    assert (f"{cell('duos_tariff')} 'Non-Domestic Aggregated Band 2' contradicts "
            f"{cell('voltage_level')} LV and 1,500 kVA") in text
    assert "LV Site Specific Band 4" in text


@pytest.mark.integration
def test_a_blank_agreed_capacity_defaults_to_the_sites_own_peak(example_xlsx, warehouse):
    set_cells(example_xlsx, {cell("method"): "greedy", cell("agreed_import_capacity_kva"): None})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert outcome.ok, outcome.status
    peak_kva = int(np.ceil(outcome.schedule["demand_mwh"].max() * 2000 - 1e-9))
    assert (f"{cell('agreed_import_capacity_kva')} blank: agreed capacity taken as the site's "
            f"peak import before the battery, {peak_kva:,} kVA") in outcome.prices.note()
    imported = outcome.schedule["grid_to_site_mwh"] + outcome.schedule["charge_mwh"]
    assert imported.max() <= peak_kva / 2000 + 1e-9
