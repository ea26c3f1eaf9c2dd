"""Rows 51-60 of greedy and optimal refreshes recomputed to the penny from the exported
schedule and the charge tables by independent code (tests/independent_charges.py: csv,
decimal and zoneinfo only, none of the package's charge code), on two GSP groups and a
window that crosses 1 April, and on a site of another area with other demand."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import openpyxl
import pytest

from btm_ppa.entrypoints.cli import main
from btm_ppa.entrypoints.report import ExitCode
from tests.conftest import cell, result_cell, set_cells
from tests.independent_charges import recompute

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

#: 2024-03-18 .. 2024-04-14 crosses 1 April 2024: the DUoS statement, BSUoS (14.03 ->
#: 7.63), RO (27.68 -> 31.78) and the TNUoS residual all change with the charging year;
#: 31 March 2024 has 46 periods.
WINDOW = (dt.date(2024, 3, 18), dt.date(2024, 4, 14))
FIT = 11.5  # no table: typed, as the example types it

CASES = {
    # North Western, LV: LV Site Specific Band 4 (the example site)
    "_G LV optimal": dict(area="_G", voltage="LV", kva=1500, method="optimal", window=WINDOW),
    "_G LV greedy": dict(area="_G", voltage="LV", kva=1500, method="greedy", window=WINDOW),
    # London, HV: HV Site Specific Band 3 (its TNUoS residual is not held: B13 typed)
    "_C HV greedy": dict(area="_C", voltage="HV", kva=1600, method="greedy", window=WINDOW,
                         tdr=60.0),
    "_C HV optimal": dict(area="_C", voltage="HV", kva=1600, method="optimal", window=WINDOW,
                          tdr=60.0),
    # A site the example does not describe: South Wales, LV, 12,000 MWh a year, a bigger
    # connection, across 1 April 2025
    "_K LV other demand": dict(area="_K", voltage="LV", kva=2400, method="optimal",
                               window=(dt.date(2025, 3, 24), dt.date(2025, 4, 6)),
                               demand=12_000, cfd=12.0, aahedc=0.45, cca="yes"),
    # Winter: Capacity Market periods (Christmas, Boxing Day and New Year's Day out), the
    # CfD levy of two quarters, a Triad (2024-01-04 SP35) at a typed tariff
    "_C LV winter greedy": dict(area="_C", voltage="LV", kva=800, method="greedy",
                                window=(dt.date(2023, 12, 18), dt.date(2024, 1, 7)),
                                triad=4.5),
}


@pytest.mark.parametrize("case", list(CASES))
def test_rows_51_to_60_recompute_from_the_export_to_the_penny(example_xlsx, warehouse, tmp_path,
                                                               monkeypatch, case):
    c = CASES[case]
    set_cells(example_xlsx, {
        cell("mpan_core"): None, cell("dno_area"): c["area"], cell("voltage_level"): c["voltage"],
        cell("agreed_import_capacity_kva"): c["kva"], cell("method"): c["method"],
        cell("window_start"): c["window"][0], cell("window_end"): c["window"][1],
        cell("fit_gbp_per_mwh"): FIT, cell("tnuos_residual_gbp_per_day"): c.get("tdr"),
        cell("cfd_gbp_per_mwh"): c.get("cfd"),  # blank: the table's rate of each day
        **({cell("aahedc_gbp_per_mwh"): c["aahedc"]} if "aahedc" in c else {}),
        **({cell("triad_gbp_per_kw"): c["triad"]} if "triad" in c else {}),
        **({cell("cca"): c["cca"]} if "cca" in c else {}),
        **({cell("annual_demand_mwh"): c["demand"]} if "demand" in c else {})})
    monkeypatch.setenv("BTM_PPA_WAREHOUSE", str(warehouse.path))
    export = tmp_path / "schedule.csv"
    assert main(["refresh", "--workbook", str(example_xlsx), "--export-schedule",
                 str(export)]) == ExitCode.OK
    ws = openpyxl.load_workbook(example_xlsx)["BESS"]
    assert ws[result_cell("status", "stream1")].value == "OK"
    ppa, vlp = ws[cell("ppa_price_gbp_per_mwh")].value, ws[cell("vlp_payment_gbp_per_mwh")].value
    power_factor = ws[cell("power_factor")].value or 1.0
    typed = {k: ws[cell(key)].value for k, key in (
        ("cfd", "cfd_gbp_per_mwh"), ("cm", "cm_gbp_per_mwh"), ("aahedc", "aahedc_gbp_per_mwh"),
        ("nuclear_rab", "nuclear_rab_gbp_per_mwh"), ("triad", "triad_gbp_per_kw"))
        if ws[cell(key)].value is not None}
    # the example's typed Capacity Market assumption; the CfD levy from the table unless
    # the case types it
    assert typed["cm"] == 80.0 and typed.get("cfd") == c.get("cfd")
    expected = recompute(export, gsp_group=c["area"], voltage=c["voltage"], agreed_kva=c["kva"],
                         power_factor=power_factor, ppa=ppa, vlp=vlp, fit=FIT,
                         tdr_typed=c.get("tdr"), typed=typed, cca="cca" in c)
    got = {row: {col: ws[f"{col}{row}"].value for col in "BCD"} for row in expected}
    for row, columns in expected.items():
        for col, want in columns.items():
            if isinstance(want, Decimal):  # every £ row to the penny, exactly
                assert Decimal(repr(got[row][col])) == want, (case, f"{col}{row}", got, expected)
            else:  # volumes to the watt-hour
                assert got[row][col] == pytest.approx(want, abs=5e-7), (case, f"{col}{row}")
    # every charging year of the window is in row 61
    note = ws[result_cell("prices_used", "notes")].value
    for day in c["window"]:
        first = day.year if day.month >= 4 else day.year - 1
        assert f"{first}/{(first + 1) % 100:02d} (" in note
    assert "TLM 1" in note  # the losses used are stated


@pytest.mark.parametrize(("edits", "address", "what"), [
    # April 2025: no CfD levy rate held (none from January 2025)
    ({"window_start": dt.date(2025, 4, 7), "window_end": dt.date(2025, 4, 13)},
     "cfd_gbp_per_mwh", "2025-04-07 to 2025-04-13"),
    # 2023/24: no AAHEDC rate held
    ({"aahedc_gbp_per_mwh": None}, "aahedc_gbp_per_mwh", "2023/24"),
    # winter working-day 16:00-19:00 periods and no Capacity Market table
    ({"cm_gbp_per_mwh": None}, "cm_gbp_per_mwh", "30 such periods, 2024-01-08 to 2024-01-12"),
    # 2023-12-05 SP35 was a Triad: the locational tariff is not held
    ({"triad_gbp_per_kw": None, "window_start": dt.date(2023, 12, 4),
      "window_end": dt.date(2023, 12, 10)}, "triad_gbp_per_kw", "2023-12-05 SP35"),
])
def test_a_levy_with_no_data_is_an_error_naming_its_cell(example_xlsx, warehouse, edits,
                                                         address, what):
    """A blank cell whose charge no table holds for the window: an error naming the cell,
    the dates and the unit, nothing computed, never a silent £0."""
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh

    base = {"method": "greedy", "window_start": dt.date(2024, 1, 8),
            "window_end": dt.date(2024, 1, 14), "cfd_gbp_per_mwh": None}
    set_cells(example_xlsx, {cell(k): v for k, v in {**base, **edits}.items()})
    outcome = refresh(XlsxWorkbook(example_xlsx), warehouse)
    assert not outcome.ok and cell(address) in outcome.status, outcome.status
    assert what in outcome.status and ("£/MWh" in outcome.status or "£/kW" in outcome.status)
    assert outcome.table is None
