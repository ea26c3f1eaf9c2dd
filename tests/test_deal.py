"""The deal over its term (issue 25): the pure core against numpy-financial, the fade and
replacements, the PPA price band, and a whole refresh that fills the Deal tab, whose
written cash flows are recomputed independently."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy_financial as npf
import openpyxl
import pytest

from btm_ppa.core import deal as core
from btm_ppa.core import deal_year
from btm_ppa.core.deal import (
    DealTerms,
    Degradation,
    EndOfLife,
    Indexation,
    Indexed,
    YearFigures,
)


def _figures(capacity: float, demand: float = 5_000.0) -> YearFigures:
    """A year whose battery lines scale with usable capacity."""
    return YearFigures(
        demand_mwh=demand, discharge_mwh=900.0 * capacity, charge_mwh=1_060.0 * capacity,
        energy_cost_gbp=400_000.0 - 30_000.0 * capacity, network_cost_gbp=60_000.0,
        levies_cost_gbp=400_000.0 + 5_000.0 * capacity,
        charging_cost_gbp=90_000.0 * capacity, counterfactual_cost_gbp=900_000.0)


def _points(shift: float = 0.0) -> dict[float, YearFigures]:
    out = {}
    for c in (1.0, 0.8, 0.6):
        f = _figures(c)
        out[c] = YearFigures(**{**f.__dict__, "energy_cost_gbp": f.energy_cost_gbp + shift})
    return out


def _terms(**changes) -> DealTerms:
    base = DealTerms(term_years=12, first_year=2026, power_kw=2_500, energy_kwh=5_000,
                     capex_gbp_per_kw=150, capex_gbp_per_kwh=250, ppa_gbp_per_mwh=175,
                     vlp_gbp_per_mwh=15, opex_pct_capex_per_year=1.5,
                     insurance_gbp_per_year=5_000, business_rates_gbp_per_year=3_000,
                     discount_rate_frac=0.08, hurdle_irr_frac=0.10,
                     site_discount_rate_frac=0.06, supplier_margin_gbp_per_mwh=10)
    return DealTerms(**{**base.__dict__, **changes})


@pytest.mark.unit
@pytest.mark.parametrize("flows", [
    [-1_000.0, 300.0, 300.0, 300.0, 300.0, 300.0],
    [-1_625_000.0, 43_048.67, 40_817.13, 250_000.0, 900_000.0, 1_000_000.0],
    [-500.0, -100.0, 400.0, 400.0],
])
def test_npv_irr_and_payback_agree_with_numpy_financial(flows):
    for rate in (0.0, 0.06, 0.1):
        assert core.npv_gbp(rate, flows) == pytest.approx(npf.npv(rate, flows), abs=1e-6)
    assert core.irr_frac(flows) == pytest.approx(npf.irr(flows), abs=1e-9)
    cumulative = np.cumsum(flows)
    t = int(np.argmax(cumulative >= 0))
    assert core.payback_years(flows) == pytest.approx(t - 1 - cumulative[t - 1] / flows[t])


@pytest.mark.unit
def test_irr_and_payback_are_none_when_the_flows_never_pay_back():
    assert core.irr_frac([-1_000.0, -10.0, -10.0]) is None
    assert core.payback_years([-1_000.0, 10.0, 10.0]) is None
    assert core.payback_years([-1_000.0, 10.0, 10.0], 0.08) is None


@pytest.mark.unit
def test_percentiles_put_p90_at_the_cautious_end():
    got = core.percentiles([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    assert got["p90"] == pytest.approx(np.percentile(range(1, 9), 10))
    assert got["p50"] == 4.5 and got["p10"] == pytest.approx(np.percentile(range(1, 9), 90))
    assert got["p90"] < got["p50"] < got["p10"]


@pytest.mark.unit
def test_indexation_compounds_from_the_second_year():
    assert Indexed().factor(5, 0.02) == 1.0
    assert Indexed(Indexation.CPI).factor(1, 0.02) == 1.0
    assert Indexed(Indexation.CPI).factor(3, 0.02) == pytest.approx(1.02 ** 2)
    assert Indexed(Indexation.ESCALATOR, 0.03).factor(4, 0.02) == pytest.approx(1.03 ** 3)


@pytest.mark.unit
def test_capacity_fades_with_cycles_and_time_and_is_replaced_at_end_of_life():
    deg = Degradation(calendar_fade_frac_per_year=0.02, cycle_fade_frac_per_efc=0.0001,
                      end_of_life_frac=0.8, action=EndOfLife.REPLACE,
                      replacement_gbp_per_kwh=120)
    result = core.scenario_cash_flows("x", _points(), _terms(degradation=deg, term_years=15))
    years = result.years[1:]
    caps = [y.usable_capacity_frac for y in years]
    assert caps[1] < caps[0]  # fades
    replaced = [y.year for y in years if y.lines["capex_gbp"] < 0]
    assert replaced and result.replacements == len(replaced)
    for year in replaced:
        assert result.years[year].lines["capex_gbp"] == -120 * 5_000
        assert result.years[year + 1].usable_capacity_frac > caps[year - 1]  # new battery
    assert 15 not in replaced  # never in the last year
    # The year's cycles follow the usable capacity the schedule had.
    for y in years:
        assert y.efc == pytest.approx(900 * y.usable_capacity_frac / 5.0, rel=1e-9)
    # Replaced when the year would end below 80 %: the fade of that year crosses it.
    first = replaced[0]
    y = result.years[first]
    end = y.usable_capacity_frac - 0.02 / 2 - 0.0001 * y.efc / 2
    assert end < 0.8 <= result.years[first - 1].usable_capacity_frac


@pytest.mark.unit
def test_augmentation_pays_only_for_the_capacity_lost():
    deg = Degradation(calendar_fade_frac_per_year=0.03, cycle_fade_frac_per_efc=0.0,
                      end_of_life_frac=0.85, action=EndOfLife.AUGMENT,
                      replacement_gbp_per_kwh=100)
    result = core.scenario_cash_flows("x", _points(), _terms(degradation=deg))
    capex = [y.lines["capex_gbp"] for y in result.years[1:] if y.lines["capex_gbp"] < 0]
    assert capex and all(-c < 100 * 5_000 * 0.2 for c in capex)
    assert capex[0] == pytest.approx(-100 * 5_000 * (1 - (1 - 0.03 * 6)), abs=0.01)


@pytest.mark.unit
def test_a_fade_table_replaces_the_cycle_fade():
    table = ((0.0, 1.0), (1_000.0, 0.9), (3_000.0, 0.7))
    deg = Degradation(calendar_fade_frac_per_year=0.0, cycle_fade_frac_per_efc=0.5, table=table,
                      end_of_life_frac=0.0)
    assert deg.remaining_frac(500.0, 3.0) == pytest.approx(0.95)
    assert deg.remaining_frac(2_000.0, 0.0) == pytest.approx(0.8)


@pytest.mark.unit
def test_cash_flow_lines_follow_the_terms():
    terms = _terms(ppa_indexation=Indexed(Indexation.CPI), cpi_frac_per_year=0.02,
                   degradation=Degradation(calendar_fade_frac_per_year=0.0,
                                           cycle_fade_frac_per_efc=0.0))
    result = core.scenario_cash_flows("x", _points(), terms)
    y0, y1, y3 = result.years[0], result.years[1], result.years[3]
    assert y0.net_gbp == -(150 * 2_500 + 250 * 5_000)
    assert y1.lines["ppa_revenue_gbp"] == 175 * 5_000
    assert y3.lines["ppa_revenue_gbp"] == pytest.approx(175 * 5_000 * 1.02 ** 2, abs=0.01)
    assert y1.lines["vlp_revenue_gbp"] == 15 * 900
    assert y1.lines["opex_gbp"] == -0.015 * (150 * 2_500 + 250 * 5_000)
    assert y3.lines["insurance_and_rates_gbp"] == pytest.approx(-8_000 * 1.02 ** 2, abs=0.01)
    assert y1.net_gbp == pytest.approx(sum(y1.lines.values()), abs=1e-6)
    # The site saves (grid cost 900,000 / 5,000 + margin 10 - PPA 175) per MWh.
    assert y1.site_saving_gbp == pytest.approx((180 + 10 - 175) * 5_000)


@pytest.mark.unit
def test_ppa_band_solves_both_parties_break_even():
    points = {"2018": _points(0.0), "2019": _points(40_000.0), "2020": _points(-25_000.0)}
    terms = _terms()
    result = core.value_deal(points, terms)
    floor = result.band.developer_floor_gbp_per_mwh
    ceiling = result.band.site_ceiling_gbp_per_mwh
    assert floor is not None and ceiling is not None
    at_floor = [core.scenario_cash_flows(n, p, terms, floor) for n, p in points.items()]
    npvs = [npf.npv(terms.hurdle_irr_frac, s.net_gbp) for s in at_floor]
    assert abs(np.median(npvs)) < 100.0  # a penny of PPA price moves it by ~£300
    at_ceiling = [core.scenario_cash_flows(n, p, terms, ceiling) for n, p in points.items()]
    site = [npf.npv(terms.site_discount_rate_frac, [y.site_saving_gbp for y in s.years])
            for s in at_ceiling]
    assert abs(np.median(site)) < 100.0
    # The site's ceiling is its counterfactual supply price (grid cost + margin).
    assert ceiling == pytest.approx(900_000 / 5_000 + 10, abs=0.01)


@pytest.mark.unit
def test_no_band_when_the_developer_never_reaches_its_hurdle():
    terms = _terms(capex_gbp_per_kwh=1e9)
    result = core.value_deal({"2018": _points()}, terms)
    assert result.band.developer_floor_gbp_per_mwh is None and not result.band.exists


@pytest.mark.unit
def test_interpolated_figures_stay_close_to_a_dispatch_at_that_capacity():
    from btm_ppa.core import dispatch
    from btm_ppa.core.simulation import ChargeRates
    from btm_ppa.core.vocab import BANDS

    rng = np.random.default_rng(7)
    n = 48 * 60
    price = 60 + 40 * np.sin(np.arange(n) * 2 * np.pi / 48) + rng.normal(0, 15, n)
    band = np.where((np.arange(n) % 48 >= 32) & (np.arange(n) % 48 < 38), 0, 2).astype(np.int8)
    rates = ChargeRates({b: r for b, r in zip(BANDS, (176.4, 20.5, 1.1), strict=True)},
                        0.0, 4.5, 7.75, 61.9, 11.5)
    problem = dispatch.DispatchProblem(
        demand_mwh=np.full(n, 0.6), import_cost_gbp_per_mwh=rates.import_cost_gbp_per_mwh(price, band),
        band_code=band, day_index=np.arange(n) // 48, vlp_gbp_per_mwh=15.0,
        battery=dispatch.Battery(1.0, 1.0, 2.0, 1.0, 0.85))
    points = deal_year.capacity_points(problem, dispatch.optimal_schedule, price, rates, 100.0)
    b = problem.battery
    at = deal_year.sized(problem, b.discharge_power_mw, b.capacity_mwh * 0.9)
    exact = deal_year.year_figures(at, dispatch.optimal_schedule(at), price, rates, 100.0)
    guess = core.interpolate(points, 0.9)
    assert guess.discharge_mwh == pytest.approx(exact.discharge_mwh, rel=0.02)
    net = lambda f: 15 * f.discharge_mwh - f.energy_cost_gbp - f.network_cost_gbp - f.levies_cost_gbp  # noqa: E731
    assert net(guess) == pytest.approx(net(exact), abs=0.01 * abs(net(exact)) + 50)
    assert exact.counterfactual_cost_gbp == pytest.approx(
        float(problem.import_cost_gbp_per_mwh @ problem.demand_mwh) + 100.0)


# ------------------------------------------------------------ the whole refresh ----

def _deal_workbook(tmp_path: Path, deal_values: dict[str, object],
                   bess_values: dict[str, object] | None = None) -> Path:
    from btm_ppa.sheet.template import build_template
    from tests.conftest import set_cells

    path = build_template(tmp_path / "deal.xlsx", example=True, deal=True)
    set_cells(path, {"B22": "optimal", **(bess_values or {})})
    set_cells(path, deal_values, tab="Deal")
    return path


def _hidden_site(path: Path) -> None:
    """Another site: another DNO area, a 1 MW x 3 h battery, and its demand from an HH
    Data tab (a weekday/weekend, day/night shape with a winter peak) instead of B23."""
    import datetime as dt

    from btm_ppa.core import periods

    frame = periods.settlement_periods(dt.date(2023, 4, 1), dt.date(2024, 3, 31))
    book = openpyxl.load_workbook(path)
    hh = book.create_sheet("HH Data")
    hh.append(["Date", "Settlement period", "Demand (kWh)"])
    for day, sp, slot, weekend in zip(frame["settlement_date"], frame["settlement_period"],
                                      frame["local_half_hour"], frame["is_weekend"], strict=True):
        winter = 1.3 if day.month in (11, 12, 1, 2) else 1.0
        kwh = (250.0 if 14 <= slot < 40 else 90.0) * (0.5 if weekend else 1.0) * winter
        hh.append([day, sp, round(kwh, 1)])
    ws = book["BESS"]
    for address, value in {"B6": None, "B7": "Eastern", "B23": None, "F13": 1000,
                           "F14": 1000, "F15": 3}.items():
        ws[address] = value
    book.save(path)


def _table(ws, header_row: int, last_row: int, columns: int) -> list[list[object]]:
    return [[ws.cell(r, c).value for c in range(1, columns + 1)]
            for r in range(header_row + 1, last_row + 1)]


def _recompute(ws, term: int, method: str) -> list[str]:
    """Every scenario's NPV, IRR and payback from the net cash flows the tab shows, with
    numpy-financial; the percentiles from the per-scenario rows. Returns the scenarios."""
    from sheets_layout import load_deal_layout

    res = load_deal_layout().results
    by_header = int(res["by_year_header_row"])
    names = [v for v in (ws.cell(by_header, c).value for c in range(2, 20))
             if v and str(v)[:4].isdigit()]
    flows = {n: [ws.cell(by_header + 1 + t, 2 + i).value for t in range(term + 1)]
             for i, n in enumerate(names)}
    rate = ws["B14"].value / 100 if ws["B14"].value is not None else 0.08
    sc_header = int(res["scenario_header_row"])
    rows = {r[0]: r for r in _table(ws, sc_header, sc_header + len(names), 11)}
    npvs, irrs = [], []
    for name, cf in flows.items():
        row = rows[name]
        assert row[1] == method
        assert abs(npf.npv(rate, cf) - row[2]) < 0.005, name
        irr = npf.irr(cf)
        if math.isnan(irr):
            assert row[3] is None
        else:
            assert abs(irr - row[3]) < 1e-4, name  # 0.01 percentage point
        cumulative = np.cumsum(cf)
        if (cumulative >= 0).any():
            t = int(np.argmax(cumulative >= 0))
            assert row[4] == pytest.approx(t - 1 - cumulative[t - 1] / cf[t], abs=1e-9)
        else:
            assert row[4] is None
        npvs.append(row[2])
        irrs.append(-1.0 if row[3] is None else row[3])
    summary = int(res["summary_header_row"])
    p10, p50, p90 = (ws.cell(summary + 1, c).value for c in (2, 3, 4))
    assert p50 == pytest.approx(np.percentile(npvs, 50), abs=0.005)
    assert p10 == pytest.approx(np.percentile(npvs, 90), abs=0.005)
    assert p90 == pytest.approx(np.percentile(npvs, 10), abs=0.005)
    assert ws.cell(summary + 2, 3).value == pytest.approx(np.percentile(irrs, 50), abs=1e-9)
    # The cash flow table: its lines add to the net, the net matches its scenario's column.
    cf_header = int(res["cash_flow_header_row"])
    title = ws.cell(int(res["cash_flow_title_row"]), 1).value
    shown = next(n for n in names if f"price year {n}" in title)
    table = _table(ws, cf_header, cf_header + term + 1, 20)
    for t, row in enumerate(table):
        assert row[0] == t
        assert sum(row[5:14]) == pytest.approx(row[14], abs=0.005)
        assert row[14] == pytest.approx(flows[shown][t], abs=0.005)
    assert ws.cell(cf_header + term + 2, 1).value is None  # nothing below the term
    return names


def _ceiling_rows(ws, count: int) -> dict[str, list[object]]:
    from sheets_layout import load_deal_layout

    sc_header = int(load_deal_layout().results["scenario_header_row"])
    rows = _table(ws, sc_header + count, sc_header + 2 * count, 11)
    assert all(r[1] == "ceiling: perfect foresight" for r in rows), rows
    return {r[0]: r for r in rows}


@pytest.mark.e2e
@pytest.mark.slow
def test_refresh_fills_the_deal_tab_and_its_figures_recompute(tmp_path, warehouse):
    """realistic (the default) over every full price year, the ceiling beside it labelled,
    and the figures recomputed independently."""
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from sheets_layout import load_deal_layout

    res = load_deal_layout().results
    path = _deal_workbook(tmp_path, {"B6": 8, "B32": 2, "B29": "augment", "B13": 4})
    outcome = refresh(XlsxWorkbook(path), warehouse, budget_s=600)
    assert outcome.ok, outcome.status
    book = openpyxl.load_workbook(path)
    bess, ws = book["BESS"], book["Deal"]
    assert bess["B62"].value == "OK"
    assert ws.cell(int(res["status_row"]), 2).value == "OK"
    assert ws["B31"].value is None or ws["B31"].value == "realistic"
    names = _recompute(ws, 8, "realistic")
    assert names == [str(y) for y in range(2017, 2025)]  # the eight full price years held
    summary = int(res["summary_header_row"])
    labels = [ws.cell(summary + i, 1).value for i in range(1, 13)]
    assert "realistic" in labels[0]
    ceiling_npv, ceiling_irr = labels[8], labels[9]
    assert "perfect foresight" in ceiling_npv and "perfect foresight" in ceiling_irr
    ceiling = _ceiling_rows(ws, len(names))
    assert sorted(ceiling) == names
    # The PPA band exists as figures; the sizing table: 2 x 2 sizes, the best the highest.
    floor, top = ws.cell(summary + 8, 2).value, ws.cell(summary + 8, 3).value
    assert floor is not None and top is not None
    sz = int(res["sizing_header_row"])
    grid = [[ws.cell(sz + 1 + i, 2 + j).value for j in range(2)] for i in range(2)]
    assert ws.cell(summary + 11, 4).value == max(max(r) for r in grid)
    notes = ws.cell(summary + 12, 5).value
    assert "charges: those of price year 2024" in notes and "B23" in notes
    assert "wear £4.00/MWh" in notes
    assert len(ws._charts) == 2 and ws.conditional_formatting


@pytest.mark.e2e
@pytest.mark.slow
def test_another_site_with_hh_data_recomputes_the_same_way(tmp_path, warehouse):
    """A hidden-style site (another DNO area, size, and demand from its HH Data tab):
    the same independent recompute holds, and the tab says which demand it used."""
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.refresh import refresh
    from sheets_layout import load_deal_layout

    res = load_deal_layout().results
    path = _deal_workbook(tmp_path, {"B6": 5, "B32": 0, "B37": "own"})
    _hidden_site(path)
    outcome = refresh(XlsxWorkbook(path), warehouse, budget_s=600)
    assert outcome.ok, outcome.status
    ws = openpyxl.load_workbook(path)["Deal"]
    summary = int(res["summary_header_row"])
    notes = ws.cell(summary + 12, 5).value
    assert "the 'HH Data' tab's" in notes, notes
    assert "demand from HH Data a week before" in notes  # realistic forecasts it too
    # Own charges: the years before April 2023 have none held for the example's typed
    # cells, so they are left out and named, and the status says so.
    names = _recompute(ws, 5, "realistic")
    assert "2024" in names and "2017" not in names
    assert "LEFT OUT: 2017" in notes
    status = ws.cell(int(res["status_row"]), 2).value
    assert status.startswith("WARNING") and f"percentiles are over {len(names)}" in status
    assert ws.cell(summary + 12, 2).value == len(names)
    assert ws.cell(summary + 12, 3).value == 8
    assert outcome.deal.result.scenarios[0].years[1].discharge_mwh > 0


@pytest.mark.integration
@pytest.mark.slow
def test_realistic_never_beats_its_ceiling_and_wear_cuts_cycles(warehouse):
    """In every scenario year and usable capacity, the ceiling (optimal, perfect foresight)
    is worth at least realistic's schedule, the wear cost in both objectives; a dearer
    wear makes both discharge less."""
    import tempfile

    from btm_ppa import deal as use_case
    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.reference import files as reference
    from btm_ppa.sheet.inputs import read_inputs
    from btm_ppa.sheet.template import build_template
    from sheets_layout import load_bess_layout

    bess = load_bess_layout()
    with tempfile.TemporaryDirectory() as folder:
        path = build_template(Path(folder) / "x.xlsx", example=True)
        snapshot = XlsxWorkbook(path).read(bess.tab_name, bess.read_range)
    inputs = read_inputs(bess, snapshot, reference.read_gsp_groups())
    found = use_case.scenario_years(bess, inputs, warehouse, range(2017, 2025), realistic=True)
    assert [s.name for s in found.years] == [str(y) for y in range(2017, 2025)]
    assert found.left_out == ()

    def net(f: YearFigures, wear: float) -> float:
        return (15.0 - wear) * f.discharge_mwh - f.energy_cost_gbp - f.network_cost_gbp \
            - f.levies_cost_gbp

    for s in found.years:
        real, top = use_case.year_points(s, "realistic", 2500, 5000, (1.0, 0.65), 25.0,
                                         ceiling=True)
        for c in (1.0, 0.65):
            assert net(real[c], 25.0) <= net(top[c], 25.0) + 1.0, (s.name, c)  # £1: watt-hours
            assert real[c].demand_mwh == top[c].demand_mwh
        if s.name in ("2019", "2022", "2024"):
            free, free_top = use_case.year_points(s, "realistic", 2500, 5000, (1.0,), 0.0,
                                                  ceiling=True)
            assert top[1.0].discharge_mwh < free_top[1.0].discharge_mwh, s.name
            assert real[1.0].discharge_mwh < free[1.0].discharge_mwh, s.name
            assert net(free[1.0], 0.0) <= net(free_top[1.0], 0.0) + 1.0, s.name


@pytest.mark.unit
def test_deal_inputs_name_the_cell_and_default_when_blank():
    from btm_ppa.errors import InputErrors, LayoutError
    from btm_ppa.sheet.deal_inputs import read_deal_inputs
    from sheets_layout import load_deal_layout

    layout = load_deal_layout()
    rows: list[list[object]] = [[None] * 8 for _ in range(40)]
    for spec in layout.inputs:
        rows[spec.row - 1][0] = spec.label
    got = read_deal_inputs(layout, rows)
    assert got.number("term_years") == 10 and "term_years" in got.defaulted
    rows[5][1] = 10.5  # B6 term
    rows[17][1] = "sometimes"  # B18 PPA indexation
    with pytest.raises(InputErrors) as info:
        read_deal_inputs(layout, rows)
    assert "Deal!B6" in info.value.message and "Deal!B18" in info.value.message
    rows[5][1], rows[17][1] = None, None
    rows[6][0] = "Something else"
    with pytest.raises(LayoutError, match="Deal!A7"):
        read_deal_inputs(layout, rows)


@pytest.mark.integration
@pytest.mark.slow
def test_a_google_sheet_gets_the_deal_tab_in_the_one_write(tmp_path, warehouse):
    from btm_ppa.adapters.sheets_workbook import SheetsWorkbook
    from btm_ppa.refresh import refresh
    from sheets_layout import load_deal_layout
    from tests.sheets_standin import SheetsStandIn
    from tests.test_sheets_workbook import SA, SHEET_ID, loopback_client

    res = load_deal_layout().results
    path = _deal_workbook(tmp_path, {"B6": 3, "B32": 0, "B31": "optimal"})
    with SheetsStandIn(SHEET_ID, path) as standin:
        outcome = refresh(SheetsWorkbook(SHEET_ID, loopback_client(standin, timeout_s=60), SA),
                          warehouse, budget_s=600)
        assert outcome.ok, outcome.status
        assert standin.count("batchUpdate") == 1  # BESS rows 50-62 and the Deal tab together
        assert standin.value("BESS", "B62") == "OK"
        assert standin.value("Deal", f"B{res['status_row']}") == "OK"
        npv = standin.value("Deal", f"C{int(res['summary_header_row']) + 1}")
        assert isinstance(npv, float)
        assert npv == pytest.approx(outcome.deal.result.npv["p50"])
        assert standin.value("Deal", "B6") == 3  # inputs never written


@pytest.mark.integration
def test_a_sizing_sweep_s_digest_follows_every_input_but_not_the_partial_year(tmp_path):
    """Sizes valued by Cloud Tasks are reused only under the digest they were valued on: a
    BESS input, a Deal input, a fade table row, an HH Data value, the sheet or a full price
    year changes it; the nightly ingest lengthening the partial year does not."""
    import dataclasses

    from btm_ppa.adapters.xlsx_workbook import XlsxWorkbook
    from btm_ppa.deal import inputs_digest
    from btm_ppa.prices.price_years import PriceYears
    from btm_ppa.reference import files as reference
    from btm_ppa.sheet.deal_inputs import read_deal_inputs
    from btm_ppa.sheet.inputs import read_inputs
    from sheets_layout import load_bess_layout, load_deal_layout

    bess, deal = load_bess_layout(), load_deal_layout()
    snap = XlsxWorkbook(_deal_workbook(tmp_path, {"B32": 2})).read(
        bess.tab_name, bess.read_range, optional_tabs=(deal.tab_name,))
    inputs = read_inputs(bess, snap, reference.read_gsp_groups())
    values = read_deal_inputs(deal, snap.tables[deal.tab_name])
    hh = {bess.hh_data_tab: [["Date", "Settlement period", "Demand (kWh)"],
                              [45292, 1, 100.0]]}

    class Held:
        description = "embedded"

    years = PriceYears((2022, 2023), ("2024 (2024-01-01 to 2024-03-31)",))

    def digest(sheet=("S" * 40, "BESS"), i=inputs, v=values, t=hh, y=years):
        return inputs_digest(bess, sheet, i, v, t, y, Held())

    base = digest()
    assert base == digest() and len(base) == 32 and base.isalnum()
    assert digest(y=PriceYears((2022, 2023), ("2024 (2024-01-01 to 2024-04-30)",))) == base
    battery = dataclasses.replace(inputs.battery, vlp_payment_gbp_per_mwh=
                                  inputs.battery.vlp_payment_gbp_per_mwh + 0.01)
    changed = [
        digest(sheet=("S" * 40, "Site B")),
        digest(i=dataclasses.replace(inputs, battery=battery)),
        digest(i=dataclasses.replace(inputs, ppa_price_gbp_per_mwh=150.5)),
        digest(v=dataclasses.replace(values, values={**values.values, "discount_rate_pct": 8.01})),
        digest(v=dataclasses.replace(values, fade_table=((0.0, 1.0), (3000.0, 0.8)))),
        digest(t={bess.hh_data_tab: [hh[bess.hh_data_tab][0], [45292, 1, 100.5]]}),
        digest(y=PriceYears((2022, 2023, 2024), ())),
    ]
    assert base not in changed and len(set(changed)) == len(changed)
