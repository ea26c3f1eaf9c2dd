"""The Deal tab's scenarios: every full calendar price year held, the charges it is
valued under, the site's demand over it and (for ``realistic``) what its daily plans
forecast. Years that cannot be valued are named with the reason, never dropped silently.

Charges (Deal tab, ``charges_from``):

- ``latest``: every price year under the charges of the latest full price year whose
  charges are all held (or typed on the BESS tab), taken period by period from the same
  calendar month, day type and half hour of that year (``core.deal_year.calendar_index``):
  the energy prices vary by scenario, the charges are the contract's (the latest known).
- ``own``: each price year under its own charging years' charges; a year whose charges no
  table holds and no BESS cell types (before April 2023: BSUoS, RO; DUoS statements held
  from 2022/23) is left out and named.

Demand: the HH Data tab's, when the workbook has one, taken onto each price year by
calendar month, day type and half hour (it must cover all twelve months); otherwise B23's
annual MWh on the default load shape of each year.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from enum import StrEnum

import numpy as np
import pandas as pd

from btm_ppa.core import dispatch, periods
from btm_ppa.core.charges import FixedCharges
from btm_ppa.core.deal_year import calendar_index
from btm_ppa.core.demand import spread_annual_demand
from btm_ppa.core.dispatch import daily
from btm_ppa.core.duos import BandAssignment
from btm_ppa.core.prices import PriceBasis
from btm_ppa.core.simulation import ChargeRates, PeriodRates
from btm_ppa.errors import InputError, InputErrors, PriceDataError
from btm_ppa.prices import warehouse as wh
from btm_ppa.sheet.hh_data import parse_hh_demand
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import CellValue
from btm_ppa.simulate import SiteCharges, realistic_forecast, simulation, site_charges
from sheets_layout import BessLayout


class ChargesFrom(StrEnum):
    LATEST = "latest"
    OWN = "own"


@dataclass(frozen=True)
class ScenarioYear:
    """One full price year's dispatch problem at the BESS tab's battery."""

    name: str
    problem: dispatch.DispatchProblem
    price_gbp_per_mwh: np.ndarray
    rates: ChargeRates | PeriodRates
    fixed_charges_gbp: float
    forecast: daily.CostForecast | None = None  # realistic's, when the method needs it


@dataclass(frozen=True)
class PriceYears:
    full: tuple[int, ...]
    partial: tuple[str, ...]  # "2016 (2016-06-06 to 2016-12-31)"


@dataclass(frozen=True)
class Scenarios:
    years: tuple[ScenarioYear, ...]
    left_out: tuple[tuple[int, str], ...]  # (year, why)
    demand_note: str
    charges_note: str
    forecast_note: str | None


def held_years(warehouse: wh.PriceWarehouse,
               basis: PriceBasis = PriceBasis.SYSTEM_BUY) -> PriceYears:
    """Calendar years the warehouse holds whole on the basis, and those it holds in part."""
    ranges = wh.held_ranges(warehouse, basis)
    if not ranges:
        return PriceYears((), ())
    full, partial = [], []
    for year in range(ranges[0][0].year, ranges[-1][1].year + 1):
        first, last = dt.date(year, 1, 1), dt.date(year, 12, 31)
        if any(a <= first and last <= b for a, b in ranges):
            full.append(year)
            continue
        held = [(max(a, first), min(b, last)) for a, b in ranges if a <= last and b >= first]
        if held:
            partial.append(f"{year} ({', '.join(f'{a} to {b}' for a, b in held)})")
    return PriceYears(tuple(full), tuple(partial))


def _keys(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    month = pd.to_datetime(frame[periods.SETTLEMENT_DATE]).dt.month.to_numpy()
    return (month, frame[periods.IS_WEEKEND].to_numpy(dtype=bool),
            frame[periods.LOCAL_SLOT].to_numpy(dtype=np.int64))


class _Demand:
    """The site's demand over any price year: HH Data taken by calendar, or B23 spread."""

    def __init__(self, bess: BessLayout, inputs: RefreshInputs, warehouse: wh.PriceWarehouse,
                 tables: Mapping[str, list[list[CellValue]]]) -> None:
        self.inputs = inputs
        self.hh: tuple[np.ndarray, tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
        tab = bess.hh_data_tab
        start_cell, end_cell = bess.input("window_start").cell, bess.input("window_end").cell
        if tab in tables:
            window = wh.resolve_window(warehouse, inputs.window_start, inputs.window_end,
                                       start_cell, end_cell)
            frame = periods.settlement_periods(window.start, window.end)
            demand = parse_hh_demand(tab, tables[tab], frame, f"{start_cell}:{end_cell}")
            months = set(pd.to_datetime(frame[periods.SETTLEMENT_DATE]).dt.month)
            if len(months) < 12:
                raise InputError(
                    f"{start_cell}:{end_cell}", f"{window.start} to {window.end}",
                    f"a window covering all twelve calendar months: the Deal tab takes the "
                    f"'{tab}' tab's demand onto every price year by month, day type and half "
                    "hour", f"covers {len(months)} month(s)")
            self.hh = demand, _keys(frame)
            self.note = (f"demand: the '{tab}' tab's {float(demand.sum()):,.0f} MWh over "
                         f"{window.start} to {window.end}, taken onto each price year by "
                         "calendar month, day type and half hour")
        else:
            if inputs.annual_demand_mwh is None:
                raise InputError(bess.input("annual_demand_mwh").cell, None,
                                 f"the site's annual demand in MWh, or an '{tab}' tab: the "
                                 "Deal tab repeats it over every price year", "is blank")
            self.note = (f"demand: {bess.input('annual_demand_mwh').cell} "
                         f"{inputs.annual_demand_mwh:,.0f} MWh/yr on the default commercial "
                         "load shape of each price year")

    @property
    def from_hh(self) -> bool:
        return self.hh is not None

    def over(self, frame: pd.DataFrame) -> tuple[np.ndarray, str]:
        if self.hh is None:
            assert self.inputs.annual_demand_mwh is not None
            return (spread_annual_demand(self.inputs.annual_demand_mwh, frame,
                                         self.inputs.area.gsp_group_id), self.note)
        demand, keys = self.hh
        return demand[calendar_index(*keys, *_keys(frame))], self.note


def _charges_taken(reference: SiteCharges, reference_frame: pd.DataFrame, frame: pd.DataFrame,
                   demand: tuple[np.ndarray, str]) -> SiteCharges:
    """``reference``'s per-period charges taken onto another year's periods by calendar
    month, day type and half hour; its fixed charges by the days."""
    assert reference.rates is not None
    index = calendar_index(*_keys(reference_frame), *_keys(frame))
    rates = reference.rates.rates
    taken = PeriodRates(**{f.name: getattr(rates, f.name)[index] for f in fields(rates)})
    bands = BandAssignment(reference.rates.bands.codes[index], reference.rates.bands.stand_ins)
    ratio = (frame[periods.SETTLEMENT_DATE].nunique()
             / reference_frame[periods.SETTLEMENT_DATE].nunique())
    fixed = FixedCharges(reference.fixed.duos_gbp * ratio, reference.fixed.tnuos_gbp * ratio)
    return replace(reference, fixed=fixed, rates=replace(reference.rates, rates=taken, bands=bands),
                   demand_mwh=demand[0], demand_source=demand[1])


def scenario_years(bess: BessLayout, inputs: RefreshInputs, warehouse: wh.PriceWarehouse,
                   years: Sequence[int], tables: Mapping[str, list[list[CellValue]]] | None = None,
                   *, charges_from: ChargesFrom = ChargesFrom.LATEST,
                   realistic: bool = False) -> Scenarios:
    """Each full price year's dispatch problem (and realistic's forecast); years that
    cannot be valued are left out with the reason."""
    demand = _Demand(bess, inputs, warehouse, tables or {})
    start_cell, end_cell = bess.input("window_start").cell, bess.input("window_end").cell
    left_out: list[tuple[int, str]] = []
    priced: dict[int, wh.WindowPrices] = {}
    for year in years:
        window = wh.PriceWindow(dt.date(year, 1, 1), dt.date(year, 12, 31), defaulted=False)
        try:
            priced[year] = wh.window_prices(warehouse, window, start_cell, end_cell,
                                            inputs.site.price_basis, bess.input("price_basis").cell)
        except PriceDataError as exc:
            left_out.append((year, exc.message))

    def own(year: int) -> SiteCharges:
        frame = priced[year].frame
        return site_charges(bess, inputs, frame, simulate=True, demand=demand.over(frame))

    charges: dict[int, SiteCharges] = {}
    failed: dict[int, str] = {}
    for year in sorted(priced, reverse=True):  # the latest first
        try:
            charges[year] = own(year)
        except (InputError, InputErrors) as exc:
            failed[year] = exc.message
            continue
        if charges_from is ChargesFrom.LATEST:
            break
    if charges_from is ChargesFrom.LATEST and charges:
        (latest, reference), = charges.items()
        ref_frame = priced[latest].frame
        charges = {y: reference if y == latest else
                   _charges_taken(reference, ref_frame, priced[y].frame, demand.over(priced[y].frame))
                   for y in priced}
        charges_note = (f"charges: those of price year {latest} (the latest whose charges are "
                        "all held or typed) in every scenario, by calendar month, day type and "
                        "half hour; the energy prices are each year's own")
        if failed:
            charges_note += ("; later years' own charges are not all held: "
                             + "; ".join(f"{y}: {m}" for y, m in sorted(failed.items())))
    else:
        left_out += sorted(failed.items())
        charges_note = ("charges: each price year's own (charging years by date)"
                        if charges_from is ChargesFrom.OWN else
                        "charges: no price year has all its charges held or typed")
    scenarios, forecast_note = [], None
    for year in sorted(charges):
        sc = charges[year]
        if demand.from_hh:
            sc = replace(sc, demand_from_hh=True)
        sim = simulation(bess, inputs, priced[year], sc)
        forecast = None
        if realistic:
            try:
                found = realistic_forecast(warehouse, priced[year], sim, inputs.price_forecast,
                                           bess.input("price_forecast").cell)
            except InputError as exc:
                left_out.append((year, exc.message))
                continue
            forecast, forecast_note = found.costs, forecast_note or found.note
        scenarios.append(ScenarioYear(str(year), sim.problem, sim.price_gbp_per_mwh, sim.rates,
                                      sc.fixed.total_gbp, forecast))
    return Scenarios(tuple(scenarios), tuple(sorted(left_out)), demand.note, charges_note,
                     forecast_note)
