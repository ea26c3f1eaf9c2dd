"""From the deal's results to the Deal tab's cells and charts.

Every backend-owned cell of the tab (rows ``results.first_row``-``results.last_row``,
columns A to ``results.last_column``) is written on every refresh: figures where there are
figures, blank elsewhere, so nothing from an earlier refresh is left behind.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping, Sequence

import numpy as np

from btm_ppa.core.deal import LINES, DealResult, ScenarioResult
from btm_ppa.deal import DealOutcome, Sweep, run_deal
from btm_ppa.prices.warehouse import PriceWarehouse
from btm_ppa.sheet.deal_inputs import read_deal_inputs
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import AnyChart, CellValue, CellWrite, ColorScale, RangeChart
from sheets_layout import BessLayout, DealLayout, column_index, column_letters, load_deal_layout

MONEY = "£#,##0.00;[Red]-£#,##0.00"
MONEY0 = "£#,##0;[Red]-£#,##0"
PCT = "0.00%"
NUM1 = "#,##0.0"
NUM2 = "#,##0.00"
TIME_FORMAT = 'yyyy-mm-dd hh:mm:ss "UTC"'

CASH_FLOW_HEADERS = (
    "Year", "Calendar year", "Usable capacity (mid-year)", "Full cycles", "Discharged (MWh)",
    "PPA revenue (£)", "VLP revenue (£)", "Energy cost (£)", "Network charges (£)",
    "Levies (£)", "Wear (£)", "Opex (£)", "Insurance + rates (£)", "Capex / replacement (£)",
    "Net cash flow (£)", "Cumulative (£)", "Discounted cumulative (£)",
    "Net, P90 of scenarios (£)", "Net, P10 of scenarios (£)", "Site saving (£)")
SCENARIO_HEADERS = (
    "Price year", "Method", "NPV (£)", "Project IRR", "Payback (years)",
    "Discounted payback (years)", "LCOS (£/MWh)", "Site saving NPV (£)", "Replacements",
    "Year-1 net (£)", "Full cycles over the term")
#: Columns of the net-cash-flow-by-scenario table after the scenarios.
BAND_HEADERS = ("P90 (£)", "P50 (£)", "P10 (£)")
MAX_BY_YEAR_SCENARIOS = 12


class _Grid:
    """The backend-owned region as a grid of values and formats."""

    def __init__(self, tab: str, first_row: int, last_row: int, last_column: str) -> None:
        self.tab, self.first_row, self.last_row = tab, first_row, last_row
        self.columns = column_index(last_column)
        self.cells: dict[tuple[int, int], tuple[CellValue, str | None]] = {}

    def put(self, row: int, column: int, value: CellValue, number_format: str | None = None
            ) -> None:
        assert self.first_row <= row <= self.last_row and 1 <= column <= self.columns, (row, column)
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        self.cells[(row, column)] = (value, number_format)

    def row(self, row: int, values: Sequence[CellValue], formats: Sequence[str | None] = (),
            first_column: int = 1) -> None:
        for i, value in enumerate(values):
            self.put(row, first_column + i, value, formats[i] if i < len(formats) else None)

    def writes(self) -> list[CellWrite]:
        out = []
        for r in range(self.first_row, self.last_row + 1):
            for c in range(1, self.columns + 1):
                value, fmt = self.cells.get((r, c), (None, None))
                out.append(CellWrite(f"{column_letters(c)}{r}", value, fmt, tab=self.tab))
        return out


def _or_none(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _percentile_of(values: Sequence[float | None], q: float) -> float | None:
    """A percentile where None counts as 'never' (infinitely late): None if it falls there."""
    v = np.array([math.inf if x is None else x for x in values], dtype=float)
    with np.errstate(invalid="ignore"):
        found = float(np.percentile(v, q))
    return found if math.isfinite(found) else None


def deal_tab_writes(bess: BessLayout, inputs: RefreshInputs, warehouse: PriceWarehouse,
                    tables: Mapping[str, list[list[CellValue]]], now: dt.datetime,
                    deadline: float | None, sweep: Sweep | None = None, sheet: object = None
                    ) -> tuple[DealOutcome, list[CellWrite], list[AnyChart]]:
    """Read the Deal tab (from the refresh's one read), value the deal, and lay out its
    cells and charts for the refresh's one write (``sweep``: the sizing elsewhere, which
    may raise SizingPending; ``sheet`` names the sheet for its digest)."""
    layout = load_deal_layout()
    values = read_deal_inputs(layout, tables[layout.tab_name])
    found = run_deal(bess, layout, inputs, values, warehouse, tables, deadline=deadline,
                     sweep=sweep, sheet=sheet)
    writes, charts = deal_writes(layout, found, now, bess.input("ppa_price_gbp_per_mwh").cell)
    return found, writes, charts


def progress_writes(status: str) -> list[CellWrite]:
    """The Deal tab's status cell alone: a sizing sweep's progress while it runs as tasks."""
    layout = load_deal_layout()
    return [CellWrite(f"B{int(layout.results['status_row'])}", status, tab=layout.tab_name)]


def deal_writes(layout: DealLayout, outcome: DealOutcome, now: dt.datetime,
                ppa_cell: str) -> tuple[list[CellWrite], list[RangeChart | ColorScale]]:
    res = layout.results
    grid = _Grid(layout.tab_name, int(res["first_row"]), int(res["last_row"]),
                 res["last_column"])
    deal = outcome.result
    _summary(grid, int(res["summary_header_row"]), outcome, ppa_cell)
    warnings = [] if not outcome.left_out else [
        f"{len(outcome.left_out)} of the {len(outcome.valued) + len(outcome.left_out)} full "
        f"price years left out (row {int(res['summary_header_row']) + 12}); the percentiles "
        f"are over {len(outcome.valued)}"]
    if outcome.sizing is not None and (gone := outcome.sizing.missing):
        warnings.append(f"{len(gone)} of {len(outcome.sizing.npv_p50_gbp)} sizes not valued "
                        "by the sizing deadline, left blank (" + ", ".join(
                            f"{p:,.0f} kW x {d:g} h" for p, d in gone[:5])
                        + (", ..." if len(gone) > 5 else "") + "); refresh again to value them")
    status = "WARNING: " + "; ".join(warnings) if warnings else "OK"
    grid.row(int(res["status_row"]), ["Status", status, outcome.method,
                                      now.astimezone(dt.UTC).replace(microsecond=0),
                                      f"computed in {outcome.seconds:.1f} s"],
             [None, None, None, TIME_FORMAT, None])
    shown = deal.shown
    cf_title, cf_header = int(res["cash_flow_title_row"]), int(res["cash_flow_header_row"])
    grid.put(cf_title, 1, f"Cash flows of price year {shown.name} ({outcome.method}), the "
             f"scenario nearest the P50 NPV; costs negative; each year's flows at its end")
    grid.row(cf_header, CASH_FLOW_HEADERS)
    last_cf = _cash_flows(grid, cf_header + 1, shown, deal)
    sc_title, sc_header = int(res["scenario_title_row"]), int(res["scenario_header_row"])
    grid.put(sc_title, 1, "Every scenario: one held price year repeated over the term"
             + ("" if outcome.ceiling is None else
                "; below them, the ceiling: perfect foresight (optimal) of each"))
    grid.row(sc_header, SCENARIO_HEADERS)
    row = sc_header + 1
    for result, method in ((deal, outcome.method), (outcome.ceiling, "ceiling: perfect foresight")):
        if result is None:
            continue
        for s in result.scenarios:
            if row > sc_header + int(res["max_scenarios"]):
                break
            _scenario_row(grid, row, s, method)
            row += 1
    by_title, by_header = int(res["by_year_title_row"]), int(res["by_year_header_row"])
    names = [s.name for s in deal.scenarios][:MAX_BY_YEAR_SCENARIOS]
    grid.put(by_title, 1, f"Net cash flow by year and scenario ({outcome.method}, £); the "
             "P10-P90 band across scenarios")
    grid.row(by_header, ["Year", *names, *BAND_HEADERS])
    term = deal.terms.term_years
    for t in range(term + 1):
        values: list[CellValue] = [t]
        values += [s.net_gbp[t] for s in deal.scenarios[:MAX_BY_YEAR_SCENARIOS]]
        values += [deal.net_band["p90"][t], deal.net_band["p50"][t], deal.net_band["p10"][t]]
        grid.row(by_header + 1 + t, values, [None] + [MONEY0] * (len(values) - 1))
    charts: list[RangeChart | ColorScale] = []
    chart_col = res["chart_column"]
    band_first = len(names) + 2
    charts.append(RangeChart(
        tab=layout.tab_name, title="Net cash flow of each operating year (£): P50 bars, the "
        "P90-P10 band as lines (year 0, the capex, left out)",
        anchor=f"{chart_col}{int(res['summary_header_row'])}", kind="bar",
        header_row=by_header, first_row=by_header + 2, last_row=by_header + 1 + term,
        category_column=1, columns=(band_first + 1,), line_columns=(band_first, band_first + 2),
        y_title="£", x_title="year"))
    charts.append(RangeChart(
        tab=layout.tab_name, title=f"Cumulative cash flow, price year {shown.name} (£): payback "
        "where it crosses 0", anchor=f"{chart_col}{int(res['summary_header_row']) + 24}",
        kind="line", header_row=cf_header,
        first_row=cf_header + 1, last_row=last_cf, category_column=1,
        columns=(CASH_FLOW_HEADERS.index("Cumulative (£)") + 1,
                 CASH_FLOW_HEADERS.index("Discounted cumulative (£)") + 1),
        y_title="£", x_title="year"))
    sz_title, sz_header = int(res["sizing_title_row"]), int(res["sizing_header_row"])
    sizing = outcome.sizing
    if sizing is None:
        grid.put(sz_title, 1, "Sizing: not run (Deal!B32 sizing grid steps is 0 or 1)")
    else:
        grid.put(sz_title, 1, f"Sizing: P50 NPV (£) of each power (columns, kW) x duration "
                 f"(rows, h), {outcome.method}; {len(sizing.valued)} sizes valued in "
                 f"{sizing.seconds:.1f} s {sizing.where}".rstrip())
        grid.row(sz_header, ["Duration (h) \\ power (kW)", *sizing.powers_kw],
                 [None] + [NUM1] * len(sizing.powers_kw))
        for i, d in enumerate(sizing.durations_h):
            grid.row(sz_header + 1 + i, [d, *(sizing.npv_p50_gbp[(p, d)] for p in sizing.powers_kw)],
                     [NUM2] + [MONEY0] * len(sizing.powers_kw))
        last = f"{column_letters(1 + len(sizing.powers_kw))}{sz_header + len(sizing.durations_h)}"
        charts.append(ColorScale(layout.tab_name, f"B{sz_header + 1}:{last}"))
    return grid.writes(), charts


def _summary(grid: _Grid, header: int, outcome: DealOutcome, ppa_cell: str) -> None:
    deal = outcome.result
    grid.row(header, ["Results", "P10", "P50", "P90", "Notes"])
    scen = deal.scenarios
    r = header + 1
    grid.row(r, [f"Developer NPV (£), {outcome.method}", deal.npv["p10"], deal.npv["p50"], deal.npv["p90"],
                 f"at the {deal.terms.discount_rate_frac:.2%} discount rate (B14); P90 is "
                 "exceeded in 90 % of scenarios, P10 in 10 %"], [None, MONEY, MONEY, MONEY])
    undefined = sum(s.metrics.irr_frac is None for s in scen)
    grid.row(r + 1, [f"Project IRR, {outcome.method}", deal.irr["p10"], deal.irr["p50"], deal.irr["p90"],
                     "an IRR that does not exist (never pays back) counts as -100 %"
                     f" ({undefined} of {len(scen)} scenarios)" if undefined else
                     "from the net cash flows, year 0 the capex"], [None, PCT, PCT, PCT])
    for offset, label, values in (
            (2, "Simple payback (years)", [s.metrics.payback_years for s in scen]),
            (3, "Discounted payback (years)", [s.metrics.discounted_payback_years for s in scen])):
        got = [_percentile_of(values, q) for q in (10, 50, 90)]  # early payback = good: P10
        grid.row(r + offset, [label, got[0], got[1], got[2],
                              "blank: not within the term"], [None, NUM2, NUM2, NUM2])
    lcos = [s.metrics.lcos_gbp_per_mwh for s in scen]
    got = [_percentile_of(lcos, q) for q in (10, 50, 90)]
    grid.row(r + 4, ["LCOS (£/MWh discharged)", got[0], got[1], got[2],
                     "capex + discounted opex, insurance, rates, wear, replacements and charging "
                     "cost / discounted MWh discharged"], [None, MONEY, MONEY, MONEY])
    grid.row(r + 5, ["Site saving NPV (£)", deal.site_npv["p10"], deal.site_npv["p50"],
                     deal.site_npv["p90"],
                     f"against its counterfactual supply price, at {deal.terms.site_discount_rate_frac:.2%}"
                     " (B16)"], [None, MONEY, MONEY, MONEY])
    first_saving = [s.years[1].site_saving_gbp for s in scen]
    pct = {"p10": float(np.percentile(first_saving, 90)), "p50": float(np.median(first_saving)),
           "p90": float(np.percentile(first_saving, 10))}
    grid.row(r + 6, ["Site saving, year 1 (£)", pct["p10"], pct["p50"], pct["p90"],
                     "counterfactual supply price - PPA price, x demand"],
             [None, MONEY, MONEY, MONEY])
    band = deal.band
    floor, ceiling = band.developer_floor_gbp_per_mwh, band.site_ceiling_gbp_per_mwh
    if band.exists:
        text = (f"both win from £{floor:,.2f} to £{ceiling:,.2f}/MWh; the PPA price typed is "
                f"£{deal.terms.ppa_gbp_per_mwh:,.2f} ({ppa_cell})")
    else:
        text = ("no PPA price suits both: " + ("the developer never reaches its hurdle in "
                "£0-1,000/MWh" if floor is None else "the site never saves" if ceiling is None
                else f"the developer needs £{floor:,.2f}/MWh, above the site's £{ceiling:,.2f}"))
    grid.row(r + 7, ["PPA price band (£/MWh): floor, ceiling, typed", _or_none(floor),
                     _or_none(ceiling), deal.terms.ppa_gbp_per_mwh, text],
             [None, NUM2, NUM2, NUM2])
    c = outcome.ceiling if outcome.ceiling is not None else deal
    beside = ("beside " + outcome.method + ": what no real dispatch beats"
              if outcome.ceiling is not None else
              "the method is optimal: the figures above are the ceiling")
    grid.row(r + 8, ["Ceiling: perfect foresight (optimal), NPV (£)", c.npv["p10"],
                     c.npv["p50"], c.npv["p90"], f"each price year foreseen whole; {beside}"],
             [None, MONEY, MONEY, MONEY])
    grid.row(r + 9, ["Ceiling: perfect foresight (optimal), project IRR", c.irr["p10"],
                     c.irr["p50"], c.irr["p90"], "an IRR that does not exist counts as -100 %"],
             [None, PCT, PCT, PCT])
    sizing = outcome.sizing
    if sizing is not None:
        power, duration = sizing.best
        marginal = sizing.marginal_hour_gbp()
        grid.row(r + 10, ["Best size: power (kW), duration (h), P50 NPV (£)", power, duration,
                          sizing.npv_p50_gbp[(power, duration)],
                          f"{outcome.method}; an extra hour at this power: " + (
                              "n/a" if marginal is None else f"£{marginal:,.0f} of P50 NPV")],
                 [None, NUM1, NUM2, MONEY])
    else:
        grid.row(r + 10, ["Best size", None, None, None, "sizing not run"])
    held = len(outcome.valued) + len(outcome.left_out)
    grid.row(r + 11, ["Price years valued, of the full years held", len(outcome.valued), held,
                      None, "; ".join(outcome.notes)])


def _cash_flows(grid: _Grid, first: int, s: ScenarioResult, deal: DealResult) -> int:
    r = deal.terms.discount_rate_frac
    cumulative = discounted = 0.0
    for y in s.years:
        net = y.net_gbp
        cumulative += net
        discounted += net / (1 + r) ** y.year
        values: list[CellValue] = [
            y.year, y.calendar_year, y.usable_capacity_frac if y.year else None,
            y.efc if y.year else None, y.discharge_mwh if y.year else None,
            *(y.lines[k] for k in LINES), net, round(cumulative, 2), round(discounted, 2),
            deal.net_band["p90"][y.year], deal.net_band["p10"][y.year], y.site_saving_gbp]
        formats = [None, None, PCT, NUM1, NUM1] + [MONEY] * (len(values) - 5)
        grid.row(first + y.year, values, formats)
    return first + len(s.years) - 1


def _scenario_row(grid: _Grid, row: int, s: ScenarioResult, method: str) -> None:
    m = s.metrics
    grid.row(row, [s.name, method, m.npv_gbp, m.irr_frac, m.payback_years,
                   m.discounted_payback_years, m.lcos_gbp_per_mwh, m.site_npv_gbp,
                   s.replacements, s.years[1].net_gbp if len(s.years) > 1 else None,
                   sum(y.efc for y in s.years)],
             [None, None, MONEY, PCT, NUM2, NUM2, MONEY, MONEY, None, MONEY, NUM1])
