"""The deal use case: from the BESS tab's site and battery, the Deal tab's terms and the
price years held, to every scenario's cash flows, the ceiling method beside, and the
sizing grid (a process pool over the cores).

A scenario is one full calendar price year held (2017-2024 once the warehouse holds
them); partial years are named in the notes and left out.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from btm_ppa.core import deal as core
from btm_ppa.core import deal_year as dy
from btm_ppa.core import dispatch
from btm_ppa.core.deal import DealResult, DealTerms, Degradation, EndOfLife, Indexation, Indexed
from btm_ppa.core.prices import PriceBasis
from btm_ppa.core.simulation import ChargeRates, PeriodRates
from btm_ppa.errors import InputError, InputErrors, PriceDataError, RefreshTimeoutError
from btm_ppa.prices import warehouse as wh
from btm_ppa.sheet.deal_inputs import DealSheetInputs
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import CellValue
from btm_ppa.simulate import simulation, site_charges
from sheets_layout import BessLayout, DealLayout

log = logging.getLogger(__name__)



#: Methods the Deal tab can run, by name; the ceiling is run beside any other.
CEILING_METHOD = "optimal"


def dispatcher_for(method: str) -> dy.Dispatcher:
    """The schedule maker of a method name (module-level, so a process pool can take it)."""
    if method == "optimal":
        return _optimal
    if method == "greedy":
        return dispatch.greedy_schedule
    raise ValueError(f"unknown dispatch method {method!r}")


def _optimal(problem: dispatch.DispatchProblem) -> dispatch.Schedule:
    return dispatch.optimal_schedule(problem)


@dataclass(frozen=True)
class ScenarioYear:
    """One full price year's dispatch problem at the BESS tab's battery."""

    name: str
    problem: dispatch.DispatchProblem
    price_gbp_per_mwh: np.ndarray
    rates: ChargeRates | PeriodRates
    fixed_charges_gbp: float


@dataclass(frozen=True)
class PriceYears:
    full: tuple[int, ...]
    partial: tuple[str, ...]  # "2016 (from 2016-06-01)"


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


def scenario_years(bess: BessLayout, inputs: RefreshInputs, warehouse: wh.PriceWarehouse,
                   years: Sequence[int]) -> tuple[list[ScenarioYear], list[str]]:
    """Each year's dispatch problem; years with too many missing prices are left out and
    named in the notes."""
    annual_cell = bess.input("annual_demand_mwh").cell
    if inputs.annual_demand_mwh is None:
        raise InputError(annual_cell, None, "the site's annual demand in MWh: the Deal tab "
                         "repeats it over every price year (an HH Data tab covers one window)",
                         "is blank")
    scenarios, notes = [], []
    start_cell, end_cell = bess.input("window_start").cell, bess.input("window_end").cell
    for year in years:
        window = wh.PriceWindow(dt.date(year, 1, 1), dt.date(year, 12, 31), defaulted=False)
        try:
            prices = wh.window_prices(warehouse, window, start_cell, end_cell,
                                      inputs.site.price_basis, bess.input("price_basis").cell)
        except PriceDataError as exc:
            notes.append(f"{year} left out: {exc.message}")
            continue
        try:  # a year whose charges no table holds (and no cell types) is left out
            charges = site_charges(bess, inputs, prices.frame, {}, simulate=True)
        except (InputError, InputErrors) as exc:
            notes.append(f"{year} left out: {exc.message}")
            continue
        sim = simulation(bess, inputs, prices, charges)
        scenarios.append(ScenarioYear(str(year), sim.problem, sim.price_gbp_per_mwh, sim.rates,
                                      charges.fixed.total_gbp))
    return scenarios, notes


def valuation_points(degradation: Degradation) -> tuple[float, ...]:
    """Usable capacities to dispatch at: nameplate, the end-of-life threshold less a
    margin (a last year may end below it), and half way."""
    low = max(0.05, min(0.95, degradation.end_of_life_frac - 0.05))
    return (1.0, round((1.0 + low) / 2, 4), round(low, 4))


def figures_at(scenarios: Sequence[ScenarioYear], method: str, power_kw: float,
               energy_kwh: float, capacities: Sequence[float]
               ) -> dict[str, dict[float, dy.YearFigures]]:
    """Every scenario's figures at each usable capacity for a battery of this size."""
    dispatcher = dispatcher_for(method)
    out = {}
    for s in scenarios:
        problem = dy.sized(s.problem, power_kw / 1000.0, energy_kwh / 1000.0)
        out[s.name] = dy.capacity_points(problem, dispatcher, s.price_gbp_per_mwh, s.rates,
                                           s.fixed_charges_gbp, capacities)
    return out


def _indexed(values: DealSheetInputs, kind_key: str, escalator_key: str) -> Indexed:
    return Indexed(Indexation(values.text(kind_key)), values.number(escalator_key) / 100.0)


def deal_terms(inputs: RefreshInputs, values: DealSheetInputs) -> DealTerms:
    b = inputs.battery
    assert b.export_power_kw and b.duration_h
    return DealTerms(
        term_years=int(values.number("term_years")), first_year=int(values.number("first_year")),
        power_kw=b.export_power_kw, energy_kwh=b.export_power_kw * b.duration_h,
        capex_gbp_per_kw=values.number("capex_gbp_per_kw"),
        capex_gbp_per_kwh=values.number("capex_gbp_per_kwh"),
        ppa_gbp_per_mwh=inputs.ppa_price_gbp_per_mwh,
        vlp_gbp_per_mwh=b.vlp_payment_gbp_per_mwh,
        opex_gbp_per_kw_year=values.number("opex_gbp_per_kw_year"),
        opex_pct_capex_per_year=values.number("opex_pct_capex_per_year"),
        insurance_gbp_per_year=values.number("insurance_gbp_per_year"),
        business_rates_gbp_per_year=values.number("business_rates_gbp_per_year"),
        wear_gbp_per_mwh=values.number("wear_gbp_per_mwh"),
        discount_rate_frac=values.number("discount_rate_pct") / 100.0,
        hurdle_irr_frac=values.number("hurdle_irr_pct") / 100.0,
        site_discount_rate_frac=values.number("site_discount_rate_pct") / 100.0,
        cpi_frac_per_year=values.number("cpi_pct") / 100.0,
        ppa_indexation=_indexed(values, "ppa_indexation", "ppa_escalator_pct"),
        vlp_indexation=_indexed(values, "vlp_indexation", "vlp_escalator_pct"),
        counterfactual_gbp_per_mwh=values.optional("counterfactual_gbp_per_mwh"),
        supplier_margin_gbp_per_mwh=values.number("supplier_margin_gbp_per_mwh"),
        counterfactual_indexation=_indexed(values, "counterfactual_indexation",
                                           "counterfactual_escalator_pct"),
        degradation=Degradation(
            calendar_fade_frac_per_year=values.number("calendar_fade_pct_per_year") / 100.0,
            cycle_fade_frac_per_efc=values.number("cycle_fade_pct_per_efc") / 100.0,
            table=values.fade_table,
            end_of_life_frac=values.number("end_of_life_pct") / 100.0,
            action=EndOfLife(values.text("end_of_life_action")),
            replacement_gbp_per_kwh=values.number("replacement_gbp_per_kwh")))


@dataclass(frozen=True)
class SizingResult:
    powers_kw: tuple[float, ...]
    durations_h: tuple[float, ...]
    npv_p50_gbp: dict[tuple[float, float], float]  # (power kW, duration h) -> P50 NPV
    seconds: float
    workers: int

    @property
    def best(self) -> tuple[float, float]:
        return max(self.npv_p50_gbp, key=lambda k: (self.npv_p50_gbp[k], -k[0], -k[1]))

    def marginal_hour_gbp(self) -> float | None:
        """P50 NPV gained by one more hour at the best size's power (finite difference on
        the grid's neighbouring durations, per hour); None with a single duration."""
        power, duration = self.best
        ds = sorted(self.durations_h)
        if len(ds) < 2:
            return None
        i = ds.index(duration)
        lo, hi = (ds[i], ds[i + 1]) if i + 1 < len(ds) else (ds[i - 1], ds[i])
        return (self.npv_p50_gbp[(power, hi)] - self.npv_p50_gbp[(power, lo)]) / (hi - lo)


def grid_axis(centre: float, low: float | None, high: float | None, steps: int,
              floor: float) -> tuple[float, ...]:
    lo = max(floor, low if low is not None else centre * 0.5)
    hi = high if high is not None else centre * 1.5
    if hi < lo:
        lo, hi = hi, lo
    return tuple(float(round(v, 3)) for v in np.linspace(lo, hi, steps))


_WORKER: dict[str, object] = {}


def _worker_init(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
                 capacities: tuple[float, ...]) -> None:
    _WORKER.update(scenarios=scenarios, method=method, terms=terms, capacities=capacities)


def _size_in_worker(power_kw: float, duration_h: float) -> float:
    return _size_npv((_WORKER["scenarios"], _WORKER["method"], _WORKER["terms"],  # type: ignore[arg-type]
                      power_kw, duration_h, _WORKER["capacities"]))


def _size_npv(args: tuple[Sequence[ScenarioYear], str, DealTerms, float, float,
                          tuple[float, ...]]) -> float:
    scenarios, method, terms, power_kw, duration_h, capacities = args
    sized_terms = core.with_size(terms, power_kw, duration_h)
    points = figures_at(scenarios, method, power_kw, power_kw * duration_h, capacities)
    return core.value_deal(points, sized_terms, band=False).npv["p50"]


def sizing(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
           powers_kw: Sequence[float], durations_h: Sequence[float],
           workers: int | None = None, deadline: float | None = None) -> SizingResult:
    """P50 NPV of every power x duration, in a process pool over the cores."""
    started = time.perf_counter()
    capacities = valuation_points(terms.degradation)
    sizes = [(p, d) for d in durations_h for p in powers_kw]
    jobs = [(scenarios, method, terms, p, d, capacities) for p, d in sizes]
    workers = workers or min(len(sizes), os.cpu_count() or 1)
    if workers <= 1:
        values = [_size_npv(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                 initargs=(scenarios, method, terms, capacities)) as pool:
            futures = [pool.submit(_size_in_worker, p, d) for p, d in sizes]
            values = []
            for f in futures:
                timeout = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    values.append(f.result(timeout=timeout))
                except TimeoutError:
                    for g in futures:
                        g.cancel()
                    raise RefreshTimeoutError(
                        "the sizing sweep did not finish within the refresh's time budget; "
                        "nothing was written (fewer sizing steps in Deal!B32, or raise "
                        "BTM_PPA_DEAL_BUDGET_S)") from None
    return SizingResult(tuple(powers_kw), tuple(durations_h), dict(zip(sizes, values, strict=True)),
                        time.perf_counter() - started, workers)


@dataclass(frozen=True)
class DealOutcome:
    method: str
    result: DealResult
    ceiling: DealResult | None  # the optimal method beside a non-optimal one
    sizing: SizingResult | None
    notes: tuple[str, ...]
    seconds: float


def run_deal(bess: BessLayout, deal_layout: DealLayout, inputs: RefreshInputs,
             values: DealSheetInputs, warehouse: wh.PriceWarehouse,
             tables: Mapping[str, list[list[CellValue]]] | None = None,
             deadline: float | None = None, workers: int | None = None) -> DealOutcome:
    started = time.perf_counter()
    b = inputs.battery
    if not (b.import_power_kw and b.export_power_kw and b.duration_h and b.cycles_per_day):
        first, last = bess.input("import_power_kw").cell, bess.input("cycles_per_day").cell
        raise InputError(first, b.import_power_kw, f"the battery in {first}:{last} (kW, kW, h, "
                         "cycles/day): the Deal tab dispatches it over every price year",
                         "is blank")
    years = held_years(warehouse, inputs.site.price_basis)
    scenarios, notes = scenario_years(bess, inputs, warehouse, years.full)
    if not scenarios:
        raise PriceDataError(
            "the Deal tab needs at least one full calendar year of prices; the warehouse "
            f"({warehouse.description}) holds " + (", ".join(years.partial) or "none"),
            cell=None)
    if years.partial:
        notes.append("partial price years left out: " + ", ".join(years.partial))
    terms = deal_terms(inputs, values)
    method = values.text("method")
    capacities = valuation_points(terms.degradation)
    main = core.value_deal(figures_at(scenarios, method, terms.power_kw, terms.energy_kwh,
                                      capacities), terms)
    ceiling = None
    if method != CEILING_METHOD:
        ceiling = core.value_deal(figures_at(scenarios, CEILING_METHOD, terms.power_kw,
                                             terms.energy_kwh, capacities), terms, band=False)
    steps = int(values.number("sizing_steps"))
    grid = None
    if steps >= 2:
        assert b.export_power_kw and b.duration_h
        powers = grid_axis(b.export_power_kw, values.optional("sizing_power_min_kw"),
                           values.optional("sizing_power_max_kw"), steps, 1.0)
        durations = grid_axis(b.duration_h, values.optional("sizing_duration_min_h"),
                              values.optional("sizing_duration_max_h"), steps, 0.1)
        grid = sizing(scenarios, method, terms, powers, durations, workers, deadline)
    notes.insert(0, f"scenarios: price years {', '.join(s.name for s in scenarios)} "
                 f"({len(scenarios)}), each repeated over the {terms.term_years}-year term; "
                 f"dispatch {method} at usable capacities "
                 f"{', '.join(f'{c:.0%}' for c in capacities)} of nameplate, interpolated")
    return DealOutcome(method, main, ceiling, grid, tuple(notes), time.perf_counter() - started)


def with_battery(inputs: RefreshInputs, power_kw: float, duration_h: float) -> RefreshInputs:
    return replace(inputs, battery=replace(inputs.battery, import_power_kw=power_kw,
                                           export_power_kw=power_kw, duration_h=duration_h))
