"""From a tab's inputs and a window's prices to what the methods compute with: the
site's fixed and capacity charges and import limit, and the dispatch problem of
greedy/optimal (shared by the refresh and Validate inputs)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from btm_ppa.core import dispatch, periods
from btm_ppa.core import forecast as fc
from btm_ppa.core.charges import FixedCharges, demand_above_limit
from btm_ppa.core.demand import spread_annual_demand
from btm_ppa.core.dispatch import daily
from btm_ppa.core.results import ResultTable, result_table, with_fixed_charges
from btm_ppa.core.simulation import PeriodRates, SimulatedValuation, value_schedule
from btm_ppa.core.units import kw_to_mw, mwh_per_period_to_mw
from btm_ppa.core.vocab import Method, VoltageLevel
from btm_ppa.errors import InputError, RefreshTimeoutError
from btm_ppa.prices import warehouse as wh
from btm_ppa.reference import charge_tables
from btm_ppa.sheet.hh_data import parse_hh_demand
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.valuation_tab import DAILY_PF
from btm_ppa.sheet.workbook import CellValue
from btm_ppa.site_rates import SiteRates, site_rates
from sheets_layout import BessLayout


@dataclass(frozen=True)
class SiteCharges:
    fixed: FixedCharges  # Stream 1's fixed, capacity and residual charges
    notes: tuple[str, ...]
    import_limit_mwh: float | None  # per settlement period; None: no agreed capacity
    stream2_fixed: FixedCharges | None = None  # what the battery adds to them
    rates: SiteRates | None = None
    demand_mwh: np.ndarray | None = None
    demand_source: str = ""
    warnings: tuple[str, ...] = ()
    demand_from_hh: bool = False


def window_demand(layout: BessLayout, inputs: RefreshInputs, frame: pd.DataFrame,
                  tables: Mapping[str, list[list[CellValue]]]) -> tuple[np.ndarray, str]:
    """Site demand per settlement period: the HH Data tab, or B23 spread over the
    default load shape."""
    window_cells = f"{layout.input('window_start').cell}:{layout.input('window_end').cell}"
    if layout.hh_data_tab in tables:
        demand = parse_hh_demand(layout.hh_data_tab, tables[layout.hh_data_tab], frame,
                                 window_cells)
        return demand, f"demand from the '{layout.hh_data_tab}' tab"
    assert inputs.annual_demand_mwh is not None  # read_inputs requires it without HH Data
    demand = spread_annual_demand(inputs.annual_demand_mwh, frame, inputs.area.gsp_group_id)
    return demand, (f"demand {inputs.annual_demand_mwh:,.0f} MWh/yr spread over the default "
                    "commercial load shape")


def site_charges(layout: BessLayout, inputs: RefreshInputs, frame: pd.DataFrame,
                 tables: Mapping[str, list[list[CellValue]]] | None = None,
                 simulate: bool = False,
                 demand: tuple[np.ndarray, str] | None = None) -> SiteCharges:
    """Every charge of the window by charging year (typed, or the tables' for each
    period), who pays the fixed ones, and the site import limit. ``demand``: the site's
    demand per period and its source, given (the Deal tab's price years), instead of
    the HH Data tab's or B23's over the window."""
    demand_mwh: np.ndarray | None
    if demand is not None:
        demand_mwh, source = demand
    elif simulate:
        demand_mwh, source = window_demand(layout, inputs, frame, tables or {})
    else:
        demand_mwh, source = None, ""
    found = site_rates(layout, inputs, frame, demand_mwh=demand_mwh, simulate=simulate)
    days = frame[periods.SETTLEMENT_DATE].nunique()
    fixed = found.stream1_fixed
    notes = [f"fixed charges over {days} days: DUoS £{fixed.duos_gbp:,.2f}, TNUoS residual "
             f"£{fixed.tnuos_gbp:,.2f} (Stream 1)", *found.notes]
    if found.import_limit_mwh is not None:
        site = inputs.site
        notes.append(f"import limit {found.agreed_capacity_kva:,g} kVA x "
                     f"{site.power_factor:g} = {found.import_limit_mwh:g} MWh a period")
    return SiteCharges(fixed, tuple(notes), found.import_limit_mwh, found.stream2_fixed, found,
                       demand_mwh, source, found.warnings,
                       simulate and layout.hh_data_tab in (tables or {}))


@dataclass(frozen=True)
class Simulation:
    problem: dispatch.DispatchProblem
    price_gbp_per_mwh: np.ndarray  # energy price on the basis, short gaps filled
    rates: PeriodRates
    demand_source: str
    breach: str | None  # where demand alone exceeds the import limit
    band_stand_ins: Mapping[str, str]
    demand_from_hh_data: bool = False


@dataclass(frozen=True)
class RealisticForecast:
    """What realistic's daily plans know, and how it is described in row 61."""

    costs: daily.CostForecast
    note: str


def realistic_forecast(warehouse: wh.PriceWarehouse, prices: wh.WindowPrices, sim: Simulation,
                       kind: fc.PriceForecast, forecast_cell: str) -> RealisticForecast:
    """realistic's forecast import costs and demand for every daily plan of the window:
    the energy price forecast from the prices held before each decision (``core.forecast``;
    the warehouse's prices from 29 days before the window on), the DUoS bands, rates and
    levies as they are (known in advance), and the demand: the HH Data of the same half
    hour a week before, or the load shape's (known)."""
    frame, problem = prices.frame, sim.problem
    start = prices.window.start
    history = periods.settlement_periods(start - dt.timedelta(days=fc.LOOKBACK_DAYS),
                                         start - dt.timedelta(days=1))
    raw = warehouse.query("system_prices_window", {
        "window_start": history[periods.SETTLEMENT_DATE].iloc[0],
        "window_end": history[periods.SETTLEMENT_DATE].iloc[-1]})
    column = prices.price_column
    if not raw.empty:
        raw = raw.assign(settlement_date=pd.to_datetime(raw["settlement_date"]).dt.date,
                         settlement_period=raw["settlement_period"].astype(np.int64))
        raw = raw.drop_duplicates(["settlement_date", "settlement_period"], keep="last")
        history = history.merge(raw[["settlement_date", "settlement_period", column]].astype(
            {column: "float64"}), on=["settlement_date", "settlement_period"], how="left")
    else:
        history = history.assign(**{column: np.nan})
    both = pd.concat([history, frame], ignore_index=True)
    day = pd.factorize(both[periods.SETTLEMENT_DATE])[0].astype(np.int64)
    slot = both[periods.LOCAL_SLOT].to_numpy(dtype=np.int64)
    weekend = both[periods.IS_WEEKEND].to_numpy(dtype=bool)
    days = int(day[-1]) + 1
    first = days - (int(problem.day_index[-1]) + 1)
    grid = fc.day_grid(day, slot, both[column].to_numpy(dtype=np.float64), weekend, days)
    ahead = None
    if kind is fc.PriceForecast.DAY_AHEAD:
        ahead = _day_ahead_grid(warehouse, prices, days, first, forecast_cell)
    same, after, stood_in = fc.forecast_grids(kind, grid, first, ahead)
    wday, wslot = problem.day_index, slot[len(history):]
    known = sim.rates.import_cost_gbp_per_mwh(np.zeros(problem.periods), problem.band_code)
    demand = None
    wweekend = weekend[len(history):]
    if sim.demand_from_hh_data:
        demand = fc.demand_last_week(problem.demand_mwh, wday, wslot, wweekend)
    costs = daily.forecast_costs(known, fc.per_period(same, wday, wslot),
                                 fc.per_period(after, wday, wslot), demand, kind.value)
    held = int(np.isfinite(grid.values[:first]).any(axis=1).sum())
    note = (f"realistic: a plan a day at 11:00 on D-1 over D and D+1, day D committed, "
            f"settled at outturn prices; price forecast {kind.value} ({_DESCRIBE[kind]}; "
            f"{held} of the {fc.LOOKBACK_DAYS} days before the window held"
            + (f"; {stood_in} days' forecasts partly stood in for by the 28-day profile or "
               "the bands alone" if stood_in else "") + "); demand "
            + ("from HH Data a week before (the first week: its own)" if demand is not None
               else "known (load shape)")
            + f"; energy left at the horizon's end valued at {_TERMINAL}")
    return RealisticForecast(costs, note)


@dataclass(frozen=True)
class DailyArms:
    """The daily plans' schedules by name (the perfect-foresight arm, realistic) and
    realistic's forecast (None where it could not be made)."""

    schedules: dict[str, dispatch.Schedule]
    forecast: RealisticForecast | None


def daily_arms(warehouse: wh.PriceWarehouse, prices: wh.WindowPrices, sim: Simulation,
               inputs: RefreshInputs, layout: BessLayout, wear_gbp_per_mwh: float,
               forecast: RealisticForecast | None, deadline: float | None) -> DailyArms:
    """The daily perfect-foresight arm and realistic (``forecast``, or made here), with
    the wear cost in every plan. Raises DeadlineExceeded past ``deadline``; a forecast
    that cannot be made (e.g. day-ahead prices not held) raises under B22 = realistic and
    otherwise leaves realistic out."""
    problem = sim.problem
    schedules = {DAILY_PF: daily.daily_dispatch(problem, wear_gbp_per_mwh=wear_gbp_per_mwh,
                                                deadline=deadline).schedule}
    if forecast is None:
        try:
            forecast = realistic_forecast(warehouse, prices, sim, inputs.price_forecast,
                                          layout.input("price_forecast").cell)
        except InputError:
            if inputs.method is Method.REALISTIC:
                raise
            return DailyArms(schedules, None)
    schedules[Method.REALISTIC.value] = daily.daily_dispatch(
        problem, forecast.costs, wear_gbp_per_mwh=wear_gbp_per_mwh, deadline=deadline).schedule
    return DailyArms(schedules, forecast)


@dataclass(frozen=True)
class Planned:
    """Every method's schedule by name (optimal missing when not found in time; the daily
    arms when out of time, or realistic's forecast could not be made under another B22),
    optimal's certificate and realistic's forecast."""

    schedules: dict[str, dispatch.Schedule]
    best: dispatch.OptimalResult | None
    forecast: RealisticForecast | None


def plan_schedules(warehouse: wh.PriceWarehouse, prices: wh.WindowPrices, sim: Simulation,
                   inputs: RefreshInputs, layout: BessLayout, deadline: float | None,
                   budget_s: float, budget_env: str) -> Planned:
    """greedy, optimal (the wear cost in its objective), the daily perfect-foresight arm
    and realistic. Out of time (``deadline``, less a reserve for valuing and writing),
    B22's method raises RefreshTimeoutError and the others are left out."""
    problem = sim.problem
    wear = inputs.wear_gbp_per_mwh or 0.0
    forecast: RealisticForecast | None = None
    if inputs.method is Method.REALISTIC:  # before any optimising: a wrong cell fails fast
        forecast = realistic_forecast(warehouse, prices, sim, inputs.price_forecast,
                                      layout.input("price_forecast").cell)
    greedy = dispatch.greedy_schedule(problem)
    best: dispatch.OptimalResult | None = None
    # Keep a little of the budget for valuing and writing the result.
    until = None if deadline is None else deadline - min(1.0, 0.1 * budget_s)
    retry = f"nothing was written (shorten the window B20:B21, or raise {budget_env})"
    try:
        best = dispatch.optimal_dispatch(daily.with_wear(problem, wear), deadline=until)
        if not math.isfinite(best.bound_gbp):  # cut short before even a bound was priced
            best = None
            raise dispatch.DeadlineExceeded
    except dispatch.DeadlineExceeded:
        if inputs.method in (Method.OPTIMAL, Method.REALISTIC):
            raise RefreshTimeoutError(
                f"the refresh did not finish within its {budget_s:g} s budget while finding the "
                f"optimal schedule of {problem.periods:,} settlement periods; {retry}"
            ) from None
    schedules: dict[str, dispatch.Schedule] = {}
    if best is not None:
        schedules[Method.OPTIMAL.value] = best.schedule
    try:
        arms = daily_arms(warehouse, prices, sim, inputs, layout, wear, forecast, until)
    except dispatch.DeadlineExceeded:
        if inputs.method is Method.REALISTIC:
            raise RefreshTimeoutError(
                f"the refresh did not finish within its {budget_s:g} s budget while planning "
                f"the {int(problem.day_index[-1]) + 1:,} days of realistic's daily plans; "
                f"{retry}") from None
        arms = DailyArms({}, None)
    schedules.update(arms.schedules)
    if best is not None and DAILY_PF in schedules:  # a gap left: the daily arm may beat it
        best, taken = daily.better_of(daily.with_wear(problem, wear), best, schedules[DAILY_PF])
        if taken:
            schedules[Method.OPTIMAL.value] = best.schedule
    schedules[Method.GREEDY.value] = greedy
    return Planned(schedules, best, arms.forecast)


def value_all(sim: Simulation, schedules: Mapping[str, dispatch.Schedule], ppa_gbp_per_mwh: float,
              fixed: FixedCharges, wear_gbp_per_mwh: float,
              stream2_fixed: FixedCharges | None = None
              ) -> tuple[dict[str, SimulatedValuation], dict[str, ResultTable],
                         dict[str, daily.ScheduleValue]]:
    """Each schedule settled at the window's (outturn) prices: its blocks and streams, its
    rows 50-60 (fixed charges included), its value over no battery, wear and cycles."""
    valued = {name: value_schedule(sim.problem, s, sim.price_gbp_per_mwh, sim.rates,
                                   ppa_gbp_per_mwh) for name, s in schedules.items()}
    results = {name: with_fixed_charges(result_table(v.valuation.stream1, v.valuation.stream2),
                                        fixed, stream2_fixed) for name, v in valued.items()}
    worth = {name: daily.schedule_value(sim.problem, s, wear_gbp_per_mwh=wear_gbp_per_mwh,
                                        ppa_gbp_per_mwh=ppa_gbp_per_mwh)
             for name, s in schedules.items()}
    return valued, results, worth


_DESCRIBE = {
    fc.PriceForecast.PROFILE_28: "mean by half hour of the 28 days D-29..D-2, weekdays and "
                                 "weekends apart",
    fc.PriceForecast.PROFILE_7: "mean by half hour of the 7 days D-8..D-2",
    fc.PriceForecast.PERSISTENCE_DAY: "the latest whole day known, D-2",
    fc.PriceForecast.PERSISTENCE_WEEK: "the same day a week before",
    fc.PriceForecast.DAY_AHEAD: "N2EX day-ahead price of D; of D for D+1",
}
_TERMINAL = "the cheapest forecast charging cost of the last day / efficiency"


def _day_ahead_grid(warehouse: wh.PriceWarehouse, prices: wh.WindowPrices, days: int,
                    first: int, forecast_cell: str) -> fc.DayGrid:
    """The N2EX day-ahead prices of the window's days and the one before, as a grid (the
    history's numbering: the window's first day is ``first``). Refused by cell where the
    warehouse holds none for the window."""
    window = prices.window
    frame = wh.day_ahead_prices(warehouse, wh.PriceWindow(
        window.start - dt.timedelta(days=1), window.end, False))
    values = frame[wh.DAY_AHEAD_COLUMN].to_numpy(dtype=np.float64)
    if np.isnan(values[(frame[periods.SETTLEMENT_DATE] >= window.start).to_numpy()]).all():
        raise InputError(forecast_cell, fc.PriceForecast.DAY_AHEAD.value,
                         "another forecast (profile 28d, profile 7d, persistence day or "
                         "week), or a window with day-ahead prices",
                         f"needs day-ahead prices, which the warehouse "
                         f"({warehouse.description}) does not hold for {window.start} to "
                         f"{window.end}")
    day = pd.factorize(frame[periods.SETTLEMENT_DATE])[0].astype(np.int64) + first - 1
    return fc.day_grid(day, frame[periods.LOCAL_SLOT].to_numpy(dtype=np.int64), values,
                       frame[periods.IS_WEEKEND].to_numpy(dtype=bool), days)


def simulation(layout: BessLayout, inputs: RefreshInputs, prices: wh.WindowPrices,
               charges: SiteCharges) -> Simulation:
    """The dispatch problem of the window: demand, import cost per MWh (energy x loss
    factor + every per-MWh charge of the period), the battery."""
    frame = prices.frame
    # Short gaps are already filled by wh.window_prices (longer ones refuse the window).
    price = frame[prices.price_column].to_numpy(dtype=np.float64)
    assert charges.rates is not None and charges.demand_mwh is not None
    rates, demand = charges.rates.rates, charges.demand_mwh
    bands = charges.rates.bands
    import_limit_mwh = charges.import_limit_mwh
    b = inputs.battery
    assert b.import_power_kw and b.export_power_kw and b.duration_h and b.cycles_per_day
    battery = dispatch.Battery(
        charge_power_mw=kw_to_mw(b.import_power_kw), discharge_power_mw=kw_to_mw(b.export_power_kw),
        capacity_mwh=kw_to_mw(b.export_power_kw) * b.duration_h, cycles_per_day=b.cycles_per_day,
        round_trip_efficiency_frac=b.round_trip_efficiency_frac)
    day_index = pd.factorize(frame[periods.SETTLEMENT_DATE])[0].astype(np.int64)
    problem = dispatch.DispatchProblem(
        demand_mwh=demand, import_cost_gbp_per_mwh=rates.import_cost_gbp_per_mwh(price),
        band_code=bands.codes, day_index=day_index, vlp_gbp_per_mwh=b.vlp_payment_gbp_per_mwh,
        battery=battery, site_import_limit_mwh=import_limit_mwh)
    breach = None
    if import_limit_mwh is not None and (found := demand_above_limit(demand, import_limit_mwh)):
        breach = found.describe(import_limit_mwh)
    return Simulation(problem, price, rates, charges.demand_source, breach,
                      dict(bands.stand_ins), charges.demand_from_hh)


def peak_import_note(problem: dispatch.DispatchProblem,
                      schedules: Mapping[Method, dispatch.Schedule]) -> str:
    """"peak site import: greedy 1.720 MWh a period (3.44 MW), optimal ..."."""
    parts = []
    for method, schedule in schedules.items():
        peak = float((schedule.grid_to_site_mwh(problem) + schedule.charge_mwh).max())
        parts.append(f"{method.value} {peak:.3f} MWh a period ({mwh_per_period_to_mw(peak):.2f} MW)")
    return "peak site import: " + ", ".join(parts)


def validation_notes(layout: BessLayout, inputs: RefreshInputs, warehouse: wh.PriceWarehouse | None,
                     tables: Mapping[str, list[list[CellValue]]], today: dt.date,
                     deadline: float | None = None) -> list[str]:
    """What Validate inputs adds about the site: the residual band the agreed capacity
    falls in, and the peak import greedy and optimal would plan (when a warehouse is
    given and the battery and demand inputs are there)."""
    notes = []
    site = inputs.site
    if site.tnuos_residual_gbp_per_day and inputs.levies.tnuos_gbp_per_mwh:
        per_day, per_mwh = (layout.input(k).cell for k in ("tnuos_residual_gbp_per_day",
                                                           "tnuos_gbp_per_mwh"))
        notes.append(f"TNUoS is charged both per day ({per_day}) and per MWh ({per_mwh}): "
                     f"since April 2023 the demand residual is per day, so {per_mwh} should "
                     "hold only a remaining per-MWh element (often 0)")
    capacity_cell = layout.input("agreed_import_capacity_kva").cell
    if site.agreed_import_capacity_kva is not None and inputs.voltage in (VoltageLevel.LV,
                                                                          VoltageLevel.HV):
        year = periods.charging_year_of(inputs.window_end or today)
        held = charge_tables.threshold_years()
        at = year if year in held else min(held, key=lambda y: abs(int(y[:4]) - int(year[:4])))
        family = "hv site specific" if inputs.voltage is VoltageLevel.HV else "lv site specific"
        band = charge_tables.residual_band(at, family, site.agreed_import_capacity_kva)
        assert band is not None
        nearest = "" if at == year else f" (nearest held to {year})"
        notes.append(f"{capacity_cell} {site.agreed_import_capacity_kva:,g} kVA falls in "
                     f"{band.describe()}{nearest}")
    b = inputs.battery
    battery_ready = all((b.import_power_kw, b.export_power_kw, b.duration_h, b.cycles_per_day))
    demand_ready = inputs.annual_demand_mwh or layout.hh_data_tab in tables
    if warehouse is None or not battery_ready or not demand_ready:
        first, last = (layout.input(k).cell for k in ("import_power_kw", "cycles_per_day"))
        notes.append(f"peak import not planned: needs the battery ({first}-{last}), demand "
                     "and prices")
        return notes
    start_cell, end_cell = layout.input("window_start").cell, layout.input("window_end").cell
    window = wh.resolve_window(warehouse, inputs.window_start, inputs.window_end, start_cell,
                               end_cell)
    prices = wh.window_prices(warehouse, window, start_cell, end_cell, site.price_basis,
                              layout.input("price_basis").cell)
    charges = site_charges(layout, inputs, prices.frame, tables, simulate=True)
    sim = simulation(layout, inputs, prices, charges)
    schedules = {Method.GREEDY: dispatch.greedy_schedule(sim.problem)}
    try:  # within the refresh's time budget, as a refresh would
        schedules[Method.OPTIMAL] = dispatch.optimal_schedule(sim.problem, deadline=deadline)
    except dispatch.DeadlineExceeded:
        notes.append("optimal not planned within the refresh's time budget")
    notes.append(peak_import_note(sim.problem, schedules))
    if charges.import_limit_mwh is not None:
        notes.append(f"import limit {charges.import_limit_mwh:g} MWh a period")
    if sim.breach:
        notes.append(sim.breach)
    return notes
