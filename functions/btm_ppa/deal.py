"""The deal use case: from the BESS tab's site and battery, the Deal tab's terms and the
price years held, to every scenario's cash flows under the Deal tab's method
(``realistic`` by default), the ceiling (``optimal``, perfect foresight) beside it, and
the sizing grid (a process pool over the cores).

A scenario is one full calendar price year held (``prices.price_years``: 2017-2024 on the
shipped data); partial years, and years that cannot be valued, are named in the notes.
"""

from __future__ import annotations

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
from btm_ppa.core.dispatch import daily
from btm_ppa.errors import InputError, PriceDataError, RefreshTimeoutError
from btm_ppa.prices import warehouse as wh
from btm_ppa.prices.price_years import (  # noqa: F401 (re-exported)
    ChargesFrom,
    PriceYears,
    Scenarios,
    ScenarioYear,
    held_years,
    scenario_years,
)
from btm_ppa.sheet.deal_inputs import DealSheetInputs
from btm_ppa.sheet.inputs import RefreshInputs
from btm_ppa.sheet.workbook import CellValue
from sheets_layout import BessLayout, DealLayout

log = logging.getLogger(__name__)

#: The ceiling: perfect foresight of each price year, run beside any other method.
CEILING_METHOD = "optimal"
#: Methods the Deal tab can run (Deal!B31).
METHODS = ("realistic", "optimal", "greedy")

Points = dict[str, dict[float, dy.YearFigures]]


def schedule_of(method: str, problem: dispatch.DispatchProblem,
                forecast: daily.CostForecast | None, wear_gbp_per_mwh: float
                ) -> dispatch.Schedule:
    """A method's schedule, the wear cost (per MWh discharged) in its objective: optimal
    (perfect foresight of the year), realistic (a plan a day on the year's forecast) or
    greedy (the battery-first rule: it has no objective to put the wear in)."""
    if method == "optimal":
        return dispatch.optimal_dispatch(daily.with_wear(problem, wear_gbp_per_mwh)).schedule
    if method == "realistic":
        if forecast is None:
            raise ValueError("realistic needs the price year's forecast")
        return daily.daily_dispatch(problem, forecast,
                                    wear_gbp_per_mwh=wear_gbp_per_mwh).schedule
    if method == "greedy":
        return dispatch.greedy_schedule(problem)
    raise ValueError(f"unknown dispatch method {method!r}")


def valuation_points(degradation: Degradation) -> tuple[float, ...]:
    """Usable capacities to dispatch at: nameplate, the end-of-life threshold less a
    margin (a last year may end below it), and half way."""
    low = max(0.05, min(0.95, degradation.end_of_life_frac - 0.05))
    return (1.0, round((1.0 + low) / 2, 4), round(low, 4))


def year_points(s: ScenarioYear, method: str, power_kw: float, energy_kwh: float,
                capacities: Sequence[float], wear_gbp_per_mwh: float, ceiling: bool = False
                ) -> tuple[dict[float, dy.YearFigures], dict[float, dy.YearFigures]]:
    """One price year's figures at each usable capacity under ``method``, and under
    optimal (with ``ceiling``; the method's own figures when it is optimal). The ceiling
    is never below the method: where optimal's search left a gap and the method's
    schedule is worth more (wear included), that schedule is the ceiling's."""
    base = dy.sized(s.problem, power_kw / 1000.0, energy_kwh / 1000.0)
    main, top = {}, {}
    for c in capacities:
        faded = dy.sized(base, base.battery.discharge_power_mw, base.battery.capacity_mwh * c)
        schedule = schedule_of(method, faded, s.forecast, wear_gbp_per_mwh)
        main[c] = dy.year_figures(faded, schedule, s.price_gbp_per_mwh, s.rates,
                                  s.fixed_charges_gbp)
        if ceiling and method != CEILING_METHOD:
            worn = daily.with_wear(faded, wear_gbp_per_mwh)
            best, _ = daily.better_of(worn, dispatch.optimal_dispatch(worn), schedule)
            top[c] = dy.year_figures(faded, best.schedule, s.price_gbp_per_mwh, s.rates,
                                     s.fixed_charges_gbp)
    return main, (top if ceiling and method != CEILING_METHOD else main)


def figures_at(scenarios: Sequence[ScenarioYear], method: str, power_kw: float,
               energy_kwh: float, capacities: Sequence[float], wear_gbp_per_mwh: float = 0.0,
               ceiling: bool = False) -> tuple[Points, Points]:
    """Every scenario's figures at each usable capacity for a battery of this size, under
    the method and under optimal beside it (see ``year_points``)."""
    main: Points = {}
    top: Points = {}
    for s in scenarios:
        main[s.name], top[s.name] = year_points(s, method, power_kw, energy_kwh, capacities,
                                                wear_gbp_per_mwh, ceiling)
    return main, top


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
    points, _ = figures_at(scenarios, method, power_kw, power_kw * duration_h, capacities,
                           terms.wear_gbp_per_mwh)
    return core.value_deal(points, sized_terms, band=False).npv["p50"]


def sizing(scenarios: Sequence[ScenarioYear], method: str, terms: DealTerms,
           powers_kw: Sequence[float], durations_h: Sequence[float],
           workers: int | None = None, deadline: float | None = None,
           known: Mapping[tuple[float, float], float] | None = None) -> SizingResult:
    """P50 NPV of every power x duration, in a process pool over the cores (``known``:
    sizes already valued, e.g. the typed one, not valued again)."""
    started = time.perf_counter()
    capacities = valuation_points(terms.degradation)
    sizes = [(p, d) for d in durations_h for p in powers_kw]
    done = {k: v for k, v in (known or {}).items() if k in sizes}
    todo = [k for k in sizes if k not in done]
    jobs = [(scenarios, method, terms, p, d, capacities) for p, d in todo]
    workers = max(1, workers or min(len(todo), os.cpu_count() or 1))
    if workers <= 1:
        values = [_size_npv(j) for j in jobs]
    else:
        with ProcessPoolExecutor(max_workers=workers, initializer=_worker_init,
                                 initargs=(scenarios, method, terms, capacities)) as pool:
            futures = [pool.submit(_size_in_worker, p, d) for p, d in todo]
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
    done.update(zip(todo, values, strict=True))
    return SizingResult(tuple(powers_kw), tuple(durations_h), {k: done[k] for k in sizes},
                        time.perf_counter() - started, workers)


@dataclass(frozen=True)
class DealOutcome:
    method: str
    result: DealResult
    ceiling: DealResult | None  # optimal beside a non-optimal method
    sizing: SizingResult | None
    notes: tuple[str, ...]
    seconds: float
    valued: tuple[str, ...] = ()  # price years valued
    left_out: tuple[tuple[int, str], ...] = ()  # full price years held but not valued, why
    partial: tuple[str, ...] = ()  # partial price years held, left out


def left_out_text(left_out: Sequence[tuple[int, str]]) -> str:
    """"2017-2022: <reason>; 2023: <reason>" (consecutive years with the same reason
    together, the year itself taken out of the reason)."""
    groups: list[tuple[list[int], str]] = []
    for year, why in left_out:
        reason = why.replace(str(year), "<year>")
        if groups and groups[-1][1] == reason and groups[-1][0][-1] == year - 1:
            groups[-1][0].append(year)
        else:
            groups.append(([year], reason))
    parts = []
    for years, reason in groups:
        span = str(years[0]) if len(years) == 1 else f"{years[0]}-{years[-1]}"
        parts.append(f"{span}: {reason.replace('<year>', span if len(years) == 1 else 'each year')}")
    return "; ".join(parts)


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
    method = values.text("method")
    years = held_years(warehouse, inputs.site.price_basis)
    found = scenario_years(bess, inputs, warehouse, years.full, tables,
                           charges_from=ChargesFrom(values.text("charges_from")),
                           realistic=method == "realistic")
    scenarios = found.years
    if not scenarios:
        raise PriceDataError(
            "the Deal tab needs at least one full calendar year of prices it can value; the "
            f"warehouse ({warehouse.description}) holds "
            + ", ".join([str(y) for y in years.full] + list(years.partial) or ["none"])
            + (f"; left out: {left_out_text(found.left_out)}" if found.left_out else ""),
            cell=None)
    terms = deal_terms(inputs, values)
    capacities = valuation_points(terms.degradation)
    wear = terms.wear_gbp_per_mwh
    points, top = figures_at(scenarios, method, terms.power_kw, terms.energy_kwh, capacities,
                             wear, ceiling=True)
    main = core.value_deal(points, terms)
    ceiling = None if method == CEILING_METHOD else core.value_deal(top, terms, band=False)
    steps = int(values.number("sizing_steps"))
    grid = None
    if steps >= 2:
        assert b.export_power_kw and b.duration_h
        powers = grid_axis(b.export_power_kw, values.optional("sizing_power_min_kw"),
                           values.optional("sizing_power_max_kw"), steps, 1.0)
        durations = grid_axis(b.duration_h, values.optional("sizing_duration_min_h"),
                              values.optional("sizing_duration_max_h"), steps, 0.1)
        known = {(b.export_power_kw, b.duration_h): main.npv["p50"]}
        grid = sizing(scenarios, method, terms, powers, durations, workers, deadline, known)
    valued = tuple(s.name for s in scenarios)
    held = len(years.full)
    notes = [f"price years valued: {', '.join(valued)} ({len(valued)} of the {held} full "
             f"years held), each repeated over the {terms.term_years}-year term"]
    if found.left_out:
        notes.append("LEFT OUT: " + left_out_text(found.left_out))
    if years.partial:
        notes.append("partial price years left out: " + ", ".join(years.partial))
    notes += [found.charges_note, found.demand_note,
              f"dispatch {method}" + ("" if method == CEILING_METHOD else
                                      ", with optimal (perfect foresight) beside as the ceiling")
              + f"; wear £{wear:,.2f}/MWh discharged in "
              + ("the ceiling's objective (greedy's rule has none)" if method == "greedy"
                 else "every schedule's objective")
              + f"; at usable capacities {', '.join(f'{c:.0%}' for c in capacities)} of "
              "nameplate, interpolated"]
    if found.forecast_note:
        notes.append(found.forecast_note)
    return DealOutcome(method, main, ceiling, grid, tuple(notes), time.perf_counter() - started,
                       valued, found.left_out, years.partial)


def with_battery(inputs: RefreshInputs, power_kw: float, duration_h: float) -> RefreshInputs:
    return replace(inputs, battery=replace(inputs.battery, import_power_kw=power_kw,
                                           export_power_kw=power_kw, duration_h=duration_h))
