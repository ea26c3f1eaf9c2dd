"""From a tab's inputs and a window's prices to what the methods compute with: the
site's fixed and capacity charges and import limit, and the dispatch problem of
greedy/optimal (shared by the refresh and Validate inputs)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from btm_ppa.core import dispatch, periods
from btm_ppa.core.charges import FixedCharges, demand_above_limit
from btm_ppa.core.demand import spread_annual_demand
from btm_ppa.core.simulation import PeriodRates
from btm_ppa.core.units import kw_to_mw, mwh_per_period_to_mw
from btm_ppa.core.vocab import Method, VoltageLevel
from btm_ppa.prices import warehouse as wh
from btm_ppa.reference import charge_tables
from btm_ppa.sheet.hh_data import parse_hh_demand
from btm_ppa.sheet.inputs import RefreshInputs
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
                 simulate: bool = False) -> SiteCharges:
    """Every charge of the window by charging year (typed, or the tables' for each
    period), who pays the fixed ones, and the site import limit."""
    demand, source = (window_demand(layout, inputs, frame, tables or {}) if simulate
                      else (None, ""))
    found = site_rates(layout, inputs, frame, demand_mwh=demand, simulate=simulate)
    days = frame[periods.SETTLEMENT_DATE].nunique()
    fixed = found.stream1_fixed
    notes = [f"fixed charges over {days} days: DUoS £{fixed.duos_gbp:,.2f}, TNUoS residual "
             f"£{fixed.tnuos_gbp:,.2f} (Stream 1)", *found.notes]
    if found.import_limit_mwh is not None:
        site = inputs.site
        notes.append(f"import limit {found.agreed_capacity_kva:,g} kVA x "
                     f"{site.power_factor:g} = {found.import_limit_mwh:g} MWh a period")
    return SiteCharges(fixed, tuple(notes), found.import_limit_mwh, found.stream2_fixed, found,
                       demand, source, found.warnings)


@dataclass(frozen=True)
class Simulation:
    problem: dispatch.DispatchProblem
    price_gbp_per_mwh: np.ndarray  # energy price on the basis, short gaps filled
    rates: PeriodRates
    demand_source: str
    breach: str | None  # where demand alone exceeds the import limit
    band_stand_ins: Mapping[str, str]


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
                      dict(bands.stand_ins))


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
